"""Fan NOSSDAV'17 orientation files: landmarks, repairs, bad input, synthetic round trip.

Fixtures are written here from the format's description (header, ``", "`` separator,
frame numbers from 1 at 30 fps, yaw positive RIGHT, pitch positive DOWN for users 21-50
and flipped for users 01-20), never with pano's writer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pano.errors import InputDataError, InputFileNotFoundError
from pano.geometry import orthodromic_distance, resample_directions, vec_to_lonlat
from pano.stores.fan_nossdav17 import read_fan_nossdav17
from pano.stores.formats import get_format
from pano.synth import simulate_recordings
from pano.synth.formats import get_synth_format

HEADER = (
    "no. frames, raw x, raw y, raw z, raw yaw, raw pitch, raw roll, cal. yaw, cal. pitch, cal. roll"
)


def write_trace(root: Path, video: str, user: str, rows: list[tuple[int, float, float]]) -> Path:
    folder = root / "sensory" / "orientation"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{video}_{user}_orientation.csv"
    lines = [HEADER] + [f"{f:05d}, 0.1, 0.2, 0.3, {y}, {p}, 1.5, {y}, {p}, 1.5" for f, y, p in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_landmark_left_and_up_land_left_and_up(tmp_path: Path) -> None:
    # user21 (unflipped): looking left = negative yaw, looking up = negative pitch.
    write_trace(tmp_path, "coaster", "user21", [(1, 0, 0), (2, -30, 0), (3, 0, -20), (4, 90, 0)])
    # user05 (flipped pitch): looking up = POSITIVE pitch in the file.
    write_trace(tmp_path, "coaster", "user05", [(1, 0, 0), (2, 0, 20)])
    ts = read_fan_nossdav17(tmp_path)
    by = {tr.subject: tr for tr in ts.traces}
    lon, lat = vec_to_lonlat(by["user21"].head)
    np.testing.assert_allclose(lon[:2], [0.0, 30.0], atol=1e-9)  # left = pano lon > 0
    np.testing.assert_allclose(lat[2], 20.0, atol=1e-9)  # up = pano lat > 0
    np.testing.assert_allclose(lon[3], -90.0, atol=1e-9)  # yaw +90 = viewer's right
    np.testing.assert_allclose(by["user21"].t, [0, 1 / 30, 2 / 30, 3 / 30])
    _, lat5 = vec_to_lonlat(by["user05"].head)
    np.testing.assert_allclose(lat5[1], 20.0, atol=1e-9)
    kinds = [r.kind for r in ts.repairs]
    assert kinds == ["flip-pitch"] and "user05" in ts.repairs[0].detail
    assert ts.convention.dataset == "fan-nossdav17" and ts.videos["coaster"].fps == 30.0


def test_pitch_beyond_90_goes_over_the_pole(tmp_path: Path) -> None:
    write_trace(tmp_path, "ride", "user30", [(1, 0, -100), (2, 0, 0)])
    head = read_fan_nossdav17(tmp_path).traces[0].head
    lon, lat = vec_to_lonlat(head[0])
    assert lat == pytest.approx(80.0) and abs(lon) == pytest.approx(180.0)


def test_broken_trace_dropped_and_flipped_users_can_be_dropped(tmp_path: Path) -> None:
    write_trace(tmp_path, "sport", "user17", [(1, 0, 0), (2, 1, 1)])
    write_trace(tmp_path, "sport", "user02", [(1, 0, 0), (2, 1, 1)])
    write_trace(tmp_path, "sport", "user40", [(1, 0, 0), (2, 1, 1)])
    ts = read_fan_nossdav17(tmp_path)
    assert ts.subjects() == ["user02", "user40"]
    drop = [r for r in ts.repairs if r.kind == "drop-trace"]
    assert drop[0].subject == "user17" and drop[0].video == "sport"
    only = read_fan_nossdav17(tmp_path, pitch_repair="drop")
    assert only.subjects() == ["user40"]
    assert any("pitch_repair='drop'" in r.detail for r in only.repairs)
    assert read_fan_nossdav17(tmp_path, drop_broken=False).subjects() == [
        "user02", "user17", "user40"
    ]  # fmt: skip


def test_format_table_entry_reads(tmp_path: Path) -> None:
    write_trace(tmp_path, "panel", "user33", [(1, 10, 5), (2, 11, 5)])
    ts = get_format("fan-nossdav17").read(tmp_path)
    assert ts.video_names() == ["panel"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("00002, 0.1, 0.2, 0.3, 1, 2, 0, 1, 2", "has 9 fields, expected 10"),
        ("00002, 0.1, 0.2, 0.3, 1, 2, 0, abc, 2, 0", "'abc' is not a number"),
        ("00000, 0.1, 0.2, 0.3, 1, 2, 0, 1, 2, 0", "time goes backwards"),
        ("00002, 0.1, 0.2, 0.3, 1, 2, 0, 200, 2, 0", "outside [-180, 180]"),
    ],
)
def test_bad_rows_name_file_and_row(tmp_path: Path, row: str, message: str) -> None:
    path = write_trace(tmp_path, "game", "user44", [(1, 0, 0)])
    path.write_text(path.read_text() + row + "\n")
    with pytest.raises(InputDataError) as err:
        read_fan_nossdav17(tmp_path)
    text = str(err.value)
    assert message in text and str(path) in text and "row 2 (line 3)" in text
    assert "\n" not in text


def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(InputFileNotFoundError, match="not found"):
        read_fan_nossdav17(tmp_path / "nowhere")
    with pytest.raises(InputFileNotFoundError, match=r"orientation\.csv"):
        read_fan_nossdav17(tmp_path)


def test_synthetic_files_read_back_to_the_simulation(tmp_path: Path) -> None:
    sim = simulate_recordings(n_videos=1, n_subjects=2, duration_s=2.0, rate_hz=60.0, gaze=False)
    files = get_synth_format("fan-nossdav17").write(sim, tmp_path)
    assert [f.name for f in files] == [
        "video00_user01_orientation.csv", "video00_user02_orientation.csv"
    ]  # fmt: skip
    ts = read_fan_nossdav17(tmp_path)
    assert any(r.kind == "flip-pitch" for r in ts.repairs)  # users 01-02 written flipped
    for rec, tr in zip(sim.of("video00"), ts.by_video("video00"), strict=True):
        want = resample_directions(rec.t, rec.head, tr.t)
        err = orthodromic_distance(want, tr.head)
        assert tr.t[-1] == pytest.approx(rec.t[-1], abs=1 / 30)
        assert np.nanmax(err) < 1e-7  # 6 decimals of a degree


def test_generator_spacing_quirk_is_read(tmp_path: Path) -> None:
    # The data set's generator writes " ," after raw x ("00001, 0.1 ,0.2, 0.3, ...").
    folder = tmp_path / "sensory" / "orientation"
    folder.mkdir(parents=True)
    rows = [
        "00001, 0.1 ,0.2, 0.3, 5, 6, 0, 12.5, -7.25, 0",
        "00002, 0.1 ,0.2, 0.3, 5, 6, 0, 13, -7, 0",
    ]
    (folder / "drive_user22_orientation.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    lon, lat = vec_to_lonlat(read_fan_nossdav17(tmp_path).traces[0].head)
    np.testing.assert_allclose([lon[0], lat[0]], [-12.5, 7.25], atol=1e-9)
