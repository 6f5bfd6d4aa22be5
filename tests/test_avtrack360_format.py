"""AVTrack360 per-subject JSON: landmark signs (as the README states them), bad input, round trip.

Fixtures are written here from the data set's README: ``{"data": [{"filename", "hmd",
"pitch_yaw_roll_data_hmd": [{"pitch", "roll", "sec", "yaw"}]}]}``; "pitching the head up
results in a negative pitch value, turning the head left leads to a negative yaw value".
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pano.errors import InputDataError, InputFileNotFoundError
from pano.geometry import orthodromic_distance, vec_to_lonlat
from pano.stores.avtrack360 import read_avtrack360
from pano.synth import simulate_recordings
from pano.synth.formats import get_synth_format


def write_subject(root: Path, subject: str, entries: list[tuple[str, list[tuple]]]) -> Path:
    folder = root / "Head_rotation"
    folder.mkdir(parents=True, exist_ok=True)
    doc = {
        "data": [
            {
                "filename": name,
                "hmd": "vive",
                "pitch_yaw_roll_data_hmd": [
                    {"pitch": p, "roll": r, "sec": s, "yaw": y} for s, y, p, r in rows
                ],
            }
            for name, rows in entries
        ]
    }
    path = folder / f"{subject}.json"
    path.write_text(json.dumps(doc))
    return path


def test_landmark_left_and_up_land_left_and_up(tmp_path: Path) -> None:
    rows = [(0.1, 0, 0, 0), (0.2, -30, 0, 0), (0.3, 0, -20, 0), (0.4, 0, 0, 15)]
    write_subject(tmp_path, "7", [("2.mp4", rows)])
    ts = read_avtrack360(tmp_path)
    lon, lat = vec_to_lonlat(ts.traces[0].head)
    np.testing.assert_allclose(lon[:3], [0.0, 30.0, 0.0], atol=1e-9)  # yaw -30 = left
    np.testing.assert_allclose(lat[:3], [0.0, 0.0, 20.0], atol=1e-9)  # pitch -20 = up
    np.testing.assert_allclose([lon[3], lat[3]], [0.0, 0.0], atol=1e-9)  # roll: same direction
    tr = ts.traces[0]
    assert (tr.video, tr.subject) == ("2", "7") and "NEGATIVE pitch" in ts.convention.signs


def test_second_viewing_and_duplicates(tmp_path: Path) -> None:
    rows = [(0.1, 0, 0, 0), (0.2, 1, 0, 0), (0.2, 1, 0, 0), (0.3, 2, 0, 0)]
    write_subject(tmp_path, "4", [("1.mp4", rows), ("1.mp4", rows[:2])])
    (tmp_path / "Head_rotation" / "merged.json").write_text(json.dumps({"merged_data": []}))
    ts = read_avtrack360(tmp_path)
    assert ts.subjects() == ["4", "4-2"] and len(ts.traces[0].t) == 3
    assert [r.kind for r in ts.repairs] == ["drop-duplicate-time"]
    assert len(ts.files) == 1


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([(0.1, 0, 0, 0), (0.2, "a", 0, 0)], "'yaw' is 'a', not a number"),
        ([(0.1, 0, 0, 0), (0.05, 0, 0, 0)], "time goes backwards"),
        ([(0.1, 0, 0, 0), (0.2, 0, 120, 0)], "outside [-90, 90]"),
        ([(0.1, 0, 0, 0), (0.2, 190, 0, 0)], "outside [-180, 180]"),
    ],
)
def test_bad_samples_name_file_and_row(tmp_path: Path, rows: list[tuple], message: str) -> None:
    path = write_subject(tmp_path, "9", [("3.mp4", rows)])
    with pytest.raises(InputDataError) as err:
        read_avtrack360(tmp_path)
    assert message in str(err.value) and str(path) in str(err.value)
    assert "[1] (row 2)" in str(err.value) and "\n" not in str(err.value)


def test_missing_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(InputFileNotFoundError):
        read_avtrack360(tmp_path / "none")
    with pytest.raises(InputFileNotFoundError, match=r"no <subject>\.json"):
        read_avtrack360(tmp_path)
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(InputDataError, match="not a readable JSON"):
        read_avtrack360(tmp_path)


def test_synthetic_json_reads_back_within_whole_degrees(tmp_path: Path) -> None:
    sim = simulate_recordings(n_videos=2, n_subjects=2, duration_s=2.0, rate_hz=60.0, gaze=False)
    files = get_synth_format("avtrack360").write(sim, tmp_path)
    assert sorted(f.name for f in files) == ["u00.json", "u01.json"]
    ts = read_avtrack360(tmp_path)
    assert ts.video_names() == ["video00", "video01"]
    for video in ts.video_names():
        for rec, tr in zip(sim.of(video), ts.by_video(video), strict=True):
            idx = np.searchsorted(rec.t, tr.t - 1e-6)
            np.testing.assert_allclose(tr.t, rec.t[idx], atol=5e-4)
            assert np.allclose(np.diff(tr.t), 0.1, atol=1e-3)  # ~10 Hz
            # whole degrees: each angle within 0.5 deg -> under 0.71 deg on the sphere
            err = np.rad2deg(orthodromic_distance(rec.head[idx], tr.head))
            assert err.max() < 0.71
