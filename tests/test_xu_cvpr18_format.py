"""VR-EyeTracking (Xu CVPR'18): layout, bottom-left signs, fps tables, bad input, round trip.

Fixtures are written here from the format's description: ``Gaze_txt_files/<user>/<video>.<...>
.txt``, comma-separated without header, fields (0-based) 1 = frame index, 3-4 = head x, y,
6-7 = gaze x, y as fractions of the panorama from its BOTTOM-LEFT corner; time = frame / fps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pano.errors import InputDataError, InputFileNotFoundError
from pano.geometry import orthodromic_distance, resample_directions, vec_to_lonlat
from pano.stores.formats import get_format
from pano.stores.xu_cvpr18 import read_xu_cvpr18


def write_trace(root: Path, user: str, name: str, rows: list[str]) -> Path:
    path = root / "Gaze_txt_files" / user / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n")
    return path


def line(frame: int, head: tuple[float, float], gaze: tuple[float, float]) -> str:
    return f"{frame - 1},{frame},1,{head[0]},{head[1]},1,{gaze[0]},{gaze[1]}"


def test_reads_head_and_gaze_with_fps_from_csv_yaml_mapping_number(tmp_path: Path) -> None:
    rows = [
        line(1, (0.5, 0.5), (0.5, 0.5)),
        line(2, (0.25, 0.5), (0.5, 0.75)),
        line(4, (0.5, 0.5), (0.5, 0.5)),
    ]
    write_trace(tmp_path, "p001", "001._2017-10-13-10-28_ori_0.txt", rows)
    write_trace(tmp_path, "p002", "001._2017-10-14-11-00_ori_0.txt", rows[:2])
    (tmp_path / "fps.csv").write_text("video,fps\n1,25\n")
    (tmp_path / "fps.yaml").write_text("'001': 25.0\n")
    for fps in (tmp_path / "fps.csv", tmp_path / "fps.yaml", {"001": 25.0}, 25.0):
        ts = read_xu_cvpr18(tmp_path, fps=fps)
        assert ts.video_names() == ["001"] and ts.subjects() == ["p001", "p002"]
        tr = ts.by_video("001")[0]
        np.testing.assert_allclose(tr.t, [0.04, 0.08, 0.16])
        assert tr.head is not None and tr.gaze is not None
        np.testing.assert_allclose(tr.head[0], [1, 0, 0], atol=1e-12)  # centre = front
        assert ts.videos["001"].fps == 25.0
    # The Gaze_txt_files folder itself works as the source too.
    assert len(read_xu_cvpr18(tmp_path / "Gaze_txt_files", fps=25).traces) == 2


def test_landmark_left_and_up_land_left_and_up(tmp_path: Path) -> None:
    """x < 0.5 is the left of the panorama, y > 0.5 above its centre (y from the BOTTOM)."""
    write_trace(tmp_path, "p1", "7.txt", [line(1, (0.25, 0.75), (0.75, 0.25)),
                                           line(2, (0.75, 0.25), (0.25, 0.75))])  # fmt: skip
    tr = read_xu_cvpr18(tmp_path, fps=30).traces[0]
    r = np.sqrt(0.5)
    np.testing.assert_allclose(tr.head[0], [0, r, r], atol=1e-12)  # +y left, +z up
    for vec, lon, lat in ((tr.head, [90, -90], [45, -45]), (tr.gaze, [-90, 90], [-45, 45])):
        got_lon, got_lat = vec_to_lonlat(vec)
        np.testing.assert_allclose(got_lon, lon, atol=1e-9)
        np.testing.assert_allclose(got_lat, lat, atol=1e-9)


def test_repeated_frame_is_a_listed_repair(tmp_path: Path) -> None:
    c = (0.5, 0.5)
    write_trace(tmp_path, "p1", "7.txt", [line(1, c, c), line(1, c, c), line(2, c, c)])
    ts = read_xu_cvpr18(tmp_path, fps=30)
    assert ts.traces[0].t.size == 2 and ts.repairs[0].kind == "drop-duplicate-time"


@pytest.mark.parametrize(
    ("second", "needle"),
    [
        ("1,2,1,0.5,0.5,1,0.5", "line 2 has 7 comma-separated fields"),
        ("1,2,1,0.5,zz,1,0.5,0.5", "line 2, column 5 (head y)"),
        ("1,0,1,0.5,0.5,1,0.5,0.5", "line 2: time goes backwards"),
        ("1,2,1,0.5,0.5,1,1.2,0.5", "line 2, column 7 (gaze x)"),
    ],
    ids=["columns", "number", "backwards", "range"],
)
def test_bad_input_is_one_line_naming_file_and_line(
    tmp_path: Path, second: str, needle: str
) -> None:
    f = write_trace(tmp_path, "p1", "7.txt", ["0,1,1,0.5,0.5,1,0.5,0.5", second])
    with pytest.raises(InputDataError) as err:
        read_xu_cvpr18(tmp_path, fps=30)
    assert str(f) in str(err.value) and needle in str(err.value) and "\n" not in str(err.value)


def test_fps_table_problems_and_folders(tmp_path: Path) -> None:
    write_trace(tmp_path, "p1", "007.x.txt", ["0,1,1,0.5,0.5,1,0.5,0.5", "1,2,1,0.5,0.5,1,0.5,0.5"])
    (tmp_path / "fps.csv").write_text("video,fps\n008,30\n")
    with pytest.raises(InputDataError, match=r"video '007' has no frame rate in .*fps.csv"):
        read_xu_cvpr18(tmp_path, fps=tmp_path / "fps.csv")
    with pytest.raises(InputDataError, match="video '007' has no frame rate"):
        read_xu_cvpr18(tmp_path)
    (tmp_path / "fps.csv").write_text("video,fps\n007,-3\n")
    with pytest.raises(InputDataError, match=r"line 2: fps of video '007' must be a positive"):
        read_xu_cvpr18(tmp_path, fps=tmp_path / "fps.csv")
    with pytest.raises(InputFileNotFoundError, match="fps table not found"):
        read_xu_cvpr18(tmp_path, fps=tmp_path / "none.csv")
    with pytest.raises(InputFileNotFoundError):
        read_xu_cvpr18(tmp_path / "nope", fps=30)
    (tmp_path / "empty" / "Gaze_txt_files").mkdir(parents=True)
    with pytest.raises(InputDataError, match=r"no <user>/<video>\.txt"):
        read_xu_cvpr18(tmp_path / "empty", fps=30)


def test_synthetic_writer_reads_back_to_the_simulated_motion(tmp_path: Path) -> None:
    from pano.synth import simulate_recordings
    from pano.synth.formats import get_synth_format

    sim = simulate_recordings(n_videos=2, n_subjects=2, duration_s=1.0, fps=24.0)
    get_synth_format("xu-cvpr18").write(sim, tmp_path)
    ts = get_format("xu-cvpr18").read(tmp_path, fps=tmp_path / "fps.csv")
    assert len(ts.traces) == 4 and ts.videos["video00"].fps == 24.0
    for rec in sim.recordings:
        (tr,) = [t for t in ts.by_video(rec.video) if t.subject == rec.subject]
        np.testing.assert_allclose(tr.t, np.arange(1, 24) / 24.0, atol=1e-12)
        for got, want in ((tr.head, rec.head), (tr.gaze, rec.gaze)):
            ref = resample_directions(rec.t, want, tr.t)
            assert np.rad2deg(orthodromic_distance(got, ref)).max() < 1e-6  # 1e-10 fractions
