"""Wu MMSys'17 Unity-quaternion logs: the assumed alignment pinned, repairs, bad input.

Fixtures are written here from the format's description (``Experiment_1/<user>/video_<n>.csv``,
header ``Timestamp, PlaybackTime, UnitQuaternion.x/.y/.z/.w, HmdPosition.x/.y/.z``; Unity's
left-handed frame, +x right, +y up, +z forward; a rotation by ``a`` about +y is written
``(0, sin(a/2), 0, cos(a/2))`` and turns +z towards +x, i.e. right, for ``a > 0``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pano.errors import InputDataError, InputFileNotFoundError
from pano.geometry import orthodromic_distance, vec_to_lonlat
from pano.stores.wu_mmsys17 import read_wu_mmsys17
from pano.synth import simulate_recordings
from pano.synth.formats import get_synth_format

HEADER = (
    "Timestamp,PlaybackTime,UnitQuaternion.x,UnitQuaternion.y,UnitQuaternion.z,"
    "UnitQuaternion.w,HmdPosition.x,HmdPosition.y,HmdPosition.z"
)


def about(axis: str, deg: float) -> tuple[float, float, float, float]:
    """Unity quaternion (x, y, z, w) of a rotation by ``deg`` about a Unity axis."""
    h = np.deg2rad(deg) / 2
    v = {"x": (1, 0, 0), "y": (0, 1, 0), "z": (0, 0, 1)}[axis]
    s = float(np.sin(h))
    return (v[0] * s, v[1] * s, v[2] * s, float(np.cos(h)))


def write_log(root: Path, user: str, video: str, rows: list[tuple[float, tuple]]) -> Path:
    folder = root / "Experiment_1" / user
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"video_{video}.csv"
    lines = [HEADER] + [
        f"2016-11-17 01:51:{50 + i * 0.01:05.2f},{t},{q[0]},{q[1]},{q[2]},{q[3]},0.1,1.7,0.0"
        for i, (t, q) in enumerate(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_landmark_assumed_alignment_left_and_up(tmp_path: Path) -> None:
    rows = [
        (0.00, (0.0, 0.0, 0.0, 1.0)),  # identity: looking along Unity +z
        (0.01, about("y", -30)),  # head turned 30 deg LEFT
        (0.02, about("x", -20)),  # head pitched 20 deg UP (LH: +x rotation tilts down)
        (0.03, about("y", -90)),  # looking along Unity -x
    ]
    write_log(tmp_path, "1", "0", rows)
    ts = read_wu_mmsys17(tmp_path)
    lon, lat = vec_to_lonlat(ts.traces[0].head)
    # The assumption pinned (PanoSalNet and DVMS): Unity +z is pano lon -90, Unity -x is
    # the ERP front centre; turning left raises lon, looking up raises lat.
    np.testing.assert_allclose(lon, [-90.0, -60.0, -90.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(lat, [0.0, 0.0, 20.0, 0.0], atol=1e-9)
    assert lon[1] > lon[0] and lat[2] > 0
    tr = ts.traces[0]
    assert (tr.video, tr.subject) == ("0", "1")
    assert "ASSUMED" in ts.convention.erp_alignment


def test_two_experiments_get_prefixed_videos(tmp_path: Path) -> None:
    write_log(tmp_path, "1", "0", [(0.0, (0, 0, 0, 1)), (0.1, (0, 0, 0, 1))])
    other = tmp_path / "Experiment_2" / "1"
    other.mkdir(parents=True)
    (other / "video_0.csv").write_text((tmp_path / "Experiment_1/1/video_0.csv").read_text())
    assert read_wu_mmsys17(tmp_path).video_names() == ["e1-0", "e2-0"]


def test_restart_and_repeated_times_are_repaired(tmp_path: Path) -> None:
    q = (0.0, 0.0, 0.0, 1.0)
    write_log(tmp_path, "3", "4", [(88.2, q), (88.3, q), (0.0, q), (0.01, q), (0.01, q), (0.02, q)])
    ts = read_wu_mmsys17(tmp_path)
    np.testing.assert_allclose(ts.traces[0].t, [0.0, 0.01, 0.02])
    assert [r.kind for r in ts.repairs] == ["drop-leading-rows", "drop-duplicate-time"]
    assert "first 2 rows" in ts.repairs[0].detail


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("x,1.5,0,0,0,2,0,0,0", "has length 2, not 1"),
        ("x,1.5,0,0,0,1,0,0", "has 8 fields, expected 9"),
        ("x,1.5,0,zero,0,1,0,0,0", "'zero' is not a number"),
        ("x,0.8,0,0,0,1,0,0,0", "time goes backwards"),
    ],
)
def test_bad_rows_name_file_and_row(tmp_path: Path, row: str, message: str) -> None:
    path = write_log(tmp_path, "2", "1", [(0.9, (0, 0, 0, 1)), (1.0, (0, 0, 0, 1))])
    path.write_text(path.read_text() + row + "\n")
    with pytest.raises(InputDataError) as err:
        read_wu_mmsys17(tmp_path)
    assert message in str(err.value) and str(path) in str(err.value)
    assert "row 3 (line 4)" in str(err.value) and "\n" not in str(err.value)


def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(InputFileNotFoundError):
        read_wu_mmsys17(tmp_path / "absent")
    with pytest.raises(InputFileNotFoundError, match=r"no <user>/video_<n>\.csv"):
        read_wu_mmsys17(tmp_path)


def test_synthetic_logs_read_back_to_the_simulation(tmp_path: Path) -> None:
    sim = simulate_recordings(n_videos=1, n_subjects=2, duration_s=1.0, rate_hz=30.0, gaze=False)
    files = get_synth_format("wu-mmsys17").write(sim, tmp_path)
    assert files[0].relative_to(tmp_path).as_posix() == "Experiment_1/u00/video_video00.csv"
    ts = read_wu_mmsys17(tmp_path)
    for rec, tr in zip(sim.of("video00"), ts.by_video("video00"), strict=True):
        np.testing.assert_allclose(tr.t, rec.t, atol=5e-7)
        assert orthodromic_distance(rec.head, tr.head).max() < 1e-7  # 9-decimal quaternions
