"""Nguyen MM'18 pickle: restricted unpickler, PanoSalNet axes landmarks, segments, bad input.

Fixtures are pickled here from the format's description (``d['360net'][video]`` with
``'timestamp'`` and ``'headpos'``, vectors in PanoSalNet's axes: ``theta = atan2(-z, x)``
grows to the right on the frame with the front centre at 180, ``phi = asin(y)`` is -90 at
the top), never with pano's writer.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from pano.errors import InputDataError, InputFileNotFoundError
from pano.geometry import orthodromic_distance, vec_to_lonlat
from pano.stores.nguyen_mm18 import read_nguyen_mm18
from pano.synth import simulate_recordings
from pano.synth.formats import get_synth_format


def panosalnet_vec(theta_deg: float, phi_deg: float) -> list[float]:
    """A head vector with PanoSalNet's angles (theta = atan2(-z, x), phi = asin(y))."""
    th, ph = np.deg2rad(theta_deg), np.deg2rad(phi_deg)
    return [float(np.cos(ph) * np.cos(th)), float(np.sin(ph)), float(-np.cos(ph) * np.sin(th))]


def write_pickle(path: Path, videos: dict[str, dict[str, object]], protocol: int = 2) -> Path:
    path.write_bytes(pickle.dumps({"360net": videos}, protocol=protocol))
    return path


def test_landmark_left_and_up_land_left_and_up(tmp_path: Path) -> None:
    heads = [[panosalnet_vec(180, 0), panosalnet_vec(90, 0), panosalnet_vec(180, -30)]]
    path = write_pickle(tmp_path / "d", {"3": {"timestamp": [0.0, 0.063, 0.126], "headpos": heads}})
    ts = read_nguyen_mm18(path)
    lon, lat = vec_to_lonlat(ts.traces[0].head)
    # front centre (theta 180), left of centre (theta 90, frame column 0.25), up (phi -30)
    np.testing.assert_allclose(lon, [0.0, 90.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(lat, [0.0, 0.0, 30.0], atol=1e-9)
    assert ts.traces[0].subject == "0" and ts.videos["3"].width == 2560
    assert ts.repairs == []


def test_numpy_arrays_as_in_the_real_file_are_admitted(tmp_path: Path) -> None:
    t = np.arange(4) * 0.063
    head = np.array([panosalnet_vec(180 - 10 * k, 5) for k in range(4)])
    videos = {"0": {"timestamp": t, "headpos": [head, head], "salient": np.zeros((4, 9, 16))}}
    for protocol in (2, 4):
        ts = read_nguyen_mm18(write_pickle(tmp_path / f"p{protocol}", videos, protocol))
        assert ts.subjects() == ["0", "1"]
        np.testing.assert_allclose(vec_to_lonlat(ts.traces[1].head)[0], [0, 10, 20, 30], atol=1e-9)


class _Hostile:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_hostile_pickle_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = {"360net": {"0": {"timestamp": [0.0, 1.0], "headpos": [_Hostile(marker)]}}}
    path = tmp_path / "evil"
    path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(InputDataError) as err:
        read_nguyen_mm18(path)
    text = str(err.value)
    assert "refused" in text and "system" in text and str(path) in text
    assert not marker.exists()


def test_object_arrays_are_refused(tmp_path: Path) -> None:
    arr = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], dtype=object)
    path = write_pickle(tmp_path / "obj", {"0": {"timestamp": [0.0, 1.0], "headpos": [arr]}}, 4)
    with pytest.raises(InputDataError, match="object dtype"):
        read_nguyen_mm18(path)


def test_concatenated_segments_split_or_sorted(tmp_path: Path) -> None:
    t = [5.0, 5.1, 5.2, 2.0, 2.1, 2.2]
    heads = [[panosalnet_vec(180 - k, 0) for k in range(6)]]
    path = write_pickle(tmp_path / "seg", {"2": {"timestamp": t, "headpos": heads}})
    ts = read_nguyen_mm18(path)
    assert ts.subjects() == ["0-seg1", "0-seg2"]
    seg2 = ts.by_video("2")[1]
    np.testing.assert_allclose(seg2.t, [2.0, 2.1, 2.2])
    assert ts.repairs[0].kind == "split-segments" and "sample 3" in ts.repairs[0].detail
    sorted_ts = read_nguyen_mm18(path, segments="sort", rebase=True)
    tr = sorted_ts.traces[0]
    np.testing.assert_allclose(tr.t, [0.0, 0.1, 0.2, 3.0, 3.1, 3.2])
    np.testing.assert_allclose(vec_to_lonlat(tr.head)[0], [3, 4, 5, 0, 1, 2], atol=1e-9)
    assert {r.kind for r in sorted_ts.repairs} == {"sort-segments", "rebase-time"}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"timestamp": [0.0, 1.0], "headpos": [[[1, 0, 0], [0, 1]]]}, "not numbers"),
        ({"timestamp": [0.0, 1.0], "headpos": [[[1, 0], [0, 1]]]}, "expected (N, 3)"),
        ({"timestamp": [0.0, 1.0], "headpos": [[[2, 0, 0], [0, 1, 0]]]}, "sample 0"),
        ({"timestamp": [0.0, 1.0, 2.0], "headpos": [[[1, 0, 0], [0, 1, 0]]]}, "2 samples"),
        ({"timestamp": [0.0, float("nan")], "headpos": []}, "not a finite number"),
        ({"timestamp": [0.0, 1.0]}, "needs keys"),
    ],
)
def test_bad_content_is_one_line(tmp_path: Path, entry: dict[str, object], message: str) -> None:
    path = write_pickle(tmp_path / "bad", {"7": entry})
    with pytest.raises(InputDataError) as err:
        read_nguyen_mm18(path)
    assert message in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_or_garbled_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileNotFoundError):
        read_nguyen_mm18(tmp_path / "nope")
    with pytest.raises(InputFileNotFoundError, match="salient_ds_dict_w16_h9"):
        read_nguyen_mm18(tmp_path)
    (tmp_path / "junk").write_bytes(b"\x80\x02not a pickle")
    with pytest.raises(InputDataError, match="not a readable"):
        read_nguyen_mm18(tmp_path / "junk")


def test_synthetic_pickle_reads_back_to_the_simulation(tmp_path: Path) -> None:
    sim = simulate_recordings(n_videos=2, n_subjects=2, duration_s=1.0, rate_hz=16.0, gaze=False)
    (path,) = get_synth_format("nguyen-mm18").write(sim, tmp_path)
    ts = read_nguyen_mm18(tmp_path)
    assert ts.video_names() == ["video00", "video01"] and path.name == "salient_ds_dict_w16_h9"
    for video in ts.video_names():
        for rec, tr in zip(sim.of(video), ts.by_video(video), strict=True):
            np.testing.assert_array_equal(tr.t, rec.t)
            assert orthodromic_distance(rec.head, tr.head).max() < 1e-12


def _rotate(q_wxyz: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Hamilton rotation of ``v`` by ``q`` (as pyquaternion's ``Quaternion.rotate``)."""
    w, r = q_wxyz[0], q_wxyz[1:]
    return v + 2 * np.cross(r, np.cross(r, v) + w * v)


def test_agrees_with_wu_reading_of_the_same_unity_quaternion(tmp_path: Path) -> None:
    """PanoSalNet built headpos from Wu MMSys'17's Unity quaternions (get_qlist.py:
    ``Quaternion([w, -x, y, -z]).rotate([0, 0, 1])``); both readers must agree."""
    from pano.stores.wu_mmsys17 import read_wu_mmsys17

    rng = np.random.default_rng(3)
    q_xyzw = rng.normal(size=(5, 4))
    q_xyzw /= np.linalg.norm(q_xyzw, axis=1, keepdims=True)
    headpos = [
        _rotate(np.array([w, -x, y, -z]), np.array([0.0, 0.0, 1.0])).tolist()
        for x, y, z, w in q_xyzw
    ]
    t = [0.1 * k for k in range(5)]
    nguyen = read_nguyen_mm18(
        write_pickle(tmp_path / "p", {"0": {"timestamp": t, "headpos": [headpos]}})
    )
    folder = tmp_path / "wu" / "Experiment_1" / "u"
    folder.mkdir(parents=True)
    rows = ["Timestamp,PlaybackTime,UnitQuaternion.x,UnitQuaternion.y,UnitQuaternion.z,"
            "UnitQuaternion.w,HmdPosition.x,HmdPosition.y,HmdPosition.z"]  # fmt: skip
    rows += [
        f"-,{tk},{x!r},{y!r},{z!r},{w!r},0,0,0"
        for tk, (x, y, z, w) in zip(t, q_xyzw.tolist(), strict=True)
    ]
    (folder / "video_0.csv").write_text("\n".join(rows) + "\n")
    wu = read_wu_mmsys17(tmp_path / "wu")
    assert orthodromic_distance(nguyen.traces[0].head, wu.traces[0].head).max() < 1e-12
