"""Gaze in the world (pano.em.world) from a raw head + eye log written by this test.

The log is a plain CSV built here with NumPy (hand-written quaternions and cos/sin eye
vectors, not pano's writers or rotations): 100 Hz, 1 s, three fixations joined by
saccades, a blink, both eyes with a small vergence. Expected world directions, labels
and fixations are computed by hand below.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from pano.em import EmEvent, EmParams, detect_events
from pano.em.world import combine_eyes, world_gaze, world_gaze_ypr
from pano.errors import InputDataError, PanoError, ShapeError

DT = 0.01
N = 100
C45, S45 = math.cos(math.radians(45)), math.sin(math.radians(45))
C15, S15 = math.cos(math.radians(15)), math.sin(math.radians(15))
#: (w, x, y, z) head -> world, written out by hand:
Q_YAW90 = (C45, 0.0, 0.0, S45)  # rotation +90 deg about +z: head turned 90 deg LEFT
Q_PITCH30 = (C15, 0.0, -S15, 0.0)  # rotation -30 deg about +y: head looks 30 deg UP
Q_ROLL90 = (C45, S45, 0.0, 0.0)  # rotation +90 deg about +x: head's left axis points up
HEADER = "t,head_w,head_x,head_y,head_z,left_x,left_y,left_z,right_x,right_y,right_z"


def eye(lon: float, lat: float) -> list[float]:
    """Direction in the head frame (+x ahead, +y head's left, +z top), degrees."""
    lo, la = math.radians(lon), math.radians(lat)
    return [math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)]


def write_log(path: Path) -> None:
    """Samples 0-29: head yaw 90 left, eyes 10 deg right (vergence +-0.5 deg) -> world lon 80.
    30, 31: saccade (eyes 40, 70 deg right). 32-61: head pitch 30 up, eyes 10 deg down ->
    world lat 20. 62, 63: saccade (eyes 13.33, 16.67 down). 64-99: head roll 90, eyes 10 deg
    LEFT of the head -> world lat +10 straight ahead; blink (NaN eyes) at 80-82.
    """
    rows = []
    for i in range(N):
        if i < 30:
            q, lon_l, lon_r, lat = Q_YAW90, -9.5, -10.5, 0.0
        elif i < 32:
            q, lon_l, lon_r, lat = Q_YAW90, -40.0 - 30 * (i - 30), -40.0 - 30 * (i - 30), 0.0
        elif i < 62:
            q, lon_l, lon_r, lat = Q_PITCH30, 0.0, 0.0, -10.0
        elif i < 64:
            q, lon_l, lon_r, lat = Q_PITCH30, 0.0, 0.0, -10.0 - 10.0 * (i - 61) / 3
        else:
            q, lon_l, lon_r, lat = Q_ROLL90, 10.5, 9.5, 0.0
        left, right = eye(lon_l, lat), eye(lon_r, lat)
        if 80 <= i < 83:
            left = right = [math.nan] * 3
        rows.append([i * DT, *q, *left, *right])
    np.savetxt(path, np.array(rows), delimiter=",", header=HEADER, comments="", fmt="%.17g")


def read_log(path: Path) -> dict[str, np.ndarray]:
    data = np.genfromtxt(path, delimiter=",", names=True)
    return {
        "t": data["t"],
        "q": np.stack([data[f"head_{c}"] for c in "wxyz"], -1),
        "left": np.stack([data[f"left_{c}"] for c in "xyz"], -1),
        "right": np.stack([data[f"right_{c}"] for c in "xyz"], -1),
    }


def lonlat(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.degrees(np.arctan2(v[..., 1], v[..., 0])), np.degrees(np.arcsin(v[..., 2]))


@pytest.fixture
def log(tmp_path: Path) -> dict[str, np.ndarray]:
    path = tmp_path / "head_eye.csv"
    write_log(path)
    return read_log(path)


def test_world_gaze_signs_by_hand(log: dict[str, np.ndarray]) -> None:
    g = world_gaze(log["q"], combine_eyes(log["left"], log["right"]))
    lon, lat = lonlat(g)
    # head 90 deg left + eyes 10 deg right = 80 deg left (the vergence +-0.5 averages out)
    np.testing.assert_allclose(lon[:30], 80.0, atol=1e-9)
    np.testing.assert_allclose(lat[:30], 0.0, atol=1e-9)
    np.testing.assert_allclose(lon[30:32], [50.0, 20.0], atol=1e-9)
    # head 30 deg up + eyes 10 deg down = 20 deg up, straight ahead
    np.testing.assert_allclose(lon[32:62], 0.0, atol=1e-9)
    np.testing.assert_allclose(lat[32:62], 20.0, atol=1e-9)
    # roll 90 (left axis up) + eyes 10 deg to the head's left = 10 deg UP in the world
    ok = np.r_[64:80, 83:100]
    np.testing.assert_allclose(lat[ok], 10.0, atol=1e-9)
    np.testing.assert_allclose(lon[ok], 0.0, atol=1e-9)
    assert np.isnan(g[80:83]).all() and not np.isnan(g[ok]).any()
    np.testing.assert_allclose(np.linalg.norm(g[ok], axis=1), 1.0, atol=1e-12)


def test_ypr_route_equals_quaternion_route(log: dict[str, np.ndarray]) -> None:
    n = len(log["t"])
    yaw, pitch, roll = np.zeros(n), np.zeros(n), np.zeros(n)
    yaw[:32], pitch[32:64], roll[64:] = 90.0, 30.0, 90.0
    e = combine_eyes(log["left"], log["right"])
    a = world_gaze_ypr(yaw, pitch, roll, e)
    b = world_gaze(log["q"], e)
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_fixations_of_the_log_by_hand(log: dict[str, np.ndarray]) -> None:
    g = world_gaze(log["q"], combine_eyes(log["left"], log["right"]))
    params = EmParams(
        resample_hz=None, savgol_window=0, velocity_threshold_deg_s=100.0, min_fixation_s=0.08
    )
    res = detect_events(log["t"], g, params, what="head+eye log")
    ev = res.events
    fix, sac, blink, unk = (
        int(x) for x in (EmEvent.FIXATION, EmEvent.SACCADE, EmEvent.BLINK, EmEvent.UNKNOWN)
    )
    assert (ev[0:30] == fix).all()
    assert (ev[30:33] == sac).all()  # two intermediate samples and the arrival
    assert (ev[33:62] == fix).all()
    assert (ev[62:65] == sac).all()
    assert (ev[65:80] == fix).all()
    assert (ev[80:83] == blink).all()
    assert ev[83] == fix  # NaN speed after the blink (unknown) joined by the merge
    assert (ev[84:] == fix).all() and unk not in ev
    f = res.fixations
    assert len(f) == 3
    np.testing.assert_array_equal(f.first, [0, 33, 65])
    np.testing.assert_array_equal(f.last, [29, 61, 99])
    np.testing.assert_allclose(f.start_s, [0.0, 0.33, 0.65], atol=1e-12)
    np.testing.assert_allclose(f.duration_s, [0.30, 0.29, 0.35], atol=1e-12)
    np.testing.assert_allclose(f.lon, [80.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(f.lat, [0.0, 20.0, 10.0], atol=1e-9)


def test_eye_choice_and_single_eye(log: dict[str, np.ndarray]) -> None:
    left, right = log["left"].copy(), log["right"].copy()
    lon_l = lonlat(combine_eyes(left, right, eye="left"))[0]
    assert lon_l[0] == pytest.approx(-9.5)
    right[5] = np.nan  # the right eye lost at sample 5
    assert np.isnan(combine_eyes(left, right)[5]).all()
    kept = combine_eyes(left, right, single_eye_ok=True)
    assert lonlat(kept)[0][5] == pytest.approx(-9.5)
    assert lonlat(combine_eyes(None, right, single_eye_ok=True))[0][0] == pytest.approx(-10.5)


def test_bad_head_eye_input_one_line(log: dict[str, np.ndarray]) -> None:
    e = combine_eyes(log["left"], log["right"])
    bad = e.copy()
    bad[7] = 0.0
    with pytest.raises(InputDataError, match="zero length at sample 7"):
        world_gaze(log["q"], bad, what="log.csv")
    q = log["q"].copy()
    q[3] = 0.0
    with pytest.raises(InputDataError, match="quaternion of zero length at sample 3"):
        world_gaze(q, e)
    with pytest.raises(ShapeError):
        world_gaze(log["q"][:10], e)
    with pytest.raises(PanoError, match="needs both eyes"):
        combine_eyes(log["left"], None)
