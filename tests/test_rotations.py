"""Head rotations through kornia (pano.rotations): conventions, quaternions, and the same
numbers as the written-out matrix product pano used before."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from pano import geometry as g
from pano import rotations as rot
from pano.errors import ShapeError

angles = st.floats(-180.0, 180.0, allow_nan=False)
pitches = st.floats(-90.0, 90.0, allow_nan=False)


def old_rotation_matrix(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """pano's previous hand-written ``Rz(yaw) @ Ry(-pitch) @ Rx(roll)`` (degrees)."""
    a, b, c = np.deg2rad(yaw), np.deg2rad(pitch), np.deg2rad(roll)
    ca, sa, cb, sb, cc, sc = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(c), np.sin(c)
    col0 = [ca * cb, sa * cb, sb]
    col1 = [-sa * cc - ca * sb * sc, ca * cc - sa * sb * sc, cb * sc]
    col2 = [sa * sc - ca * sb * cc, -ca * sc - sa * sb * cc, cb * cc]
    return np.stack([np.stack([col0[i], col1[i], col2[i]], -1) for i in range(3)], -2)


def _random_angles(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yaw = np.concatenate([rng.uniform(-180, 180, n), [180.0, -180.0, 0.0, 90.0, 179.999]])
    pitch = np.concatenate([rng.uniform(-90, 90, n), [90.0, -90.0, 0.0, 89.9999, -45.0]])
    roll = np.concatenate([rng.uniform(-180, 180, n), [0.0, 30.0, 180.0, -90.0, 1e-9]])
    return yaw, pitch, roll


def test_rotation_matrix_equals_the_old_formula() -> None:
    yaw, pitch, roll = _random_angles(2000)
    want = old_rotation_matrix(yaw, pitch, roll)
    got = g.rotation_matrix(yaw, pitch, roll)
    assert isinstance(got, np.ndarray) and got.dtype == np.float64 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=4e-15)
    t = g.rotation_matrix(torch.tensor(yaw), torch.tensor(pitch), torch.tensor(roll))
    assert t.dtype == torch.float64
    np.testing.assert_allclose(t.numpy(), want, rtol=0, atol=4e-15)
    t32 = g.rotation_matrix(
        torch.tensor(yaw, dtype=torch.float32), torch.tensor(pitch, dtype=torch.float32), 5.0
    )
    assert t32.dtype == torch.float32
    np.testing.assert_allclose(t32.numpy(), old_rotation_matrix(yaw, pitch, 5.0), atol=2e-6)
    # Scalars give one (3, 3) matrix, broadcasting works as before.
    assert g.rotation_matrix(10.0, 20.0).shape == (3, 3)
    assert g.rotation_matrix(yaw[:4], 20.0, 0.0).shape == (4, 3, 3)
    assert np.isnan(g.rotation_matrix(np.nan, 0.0)).all()


@given(angles, pitches, angles)
def test_old_formula_property(yaw: float, pitch: float, roll: float) -> None:
    np.testing.assert_allclose(
        g.rotation_matrix(yaw, pitch, roll), old_rotation_matrix(yaw, pitch, roll), atol=4e-15
    )


def test_viewports_render_as_with_the_old_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    import pano.viewport as vp
    from pano.synth import make_background

    frame = torch.from_numpy(make_background(256, 128, np.random.default_rng(0))).permute(2, 0, 1)
    yaw, pitch, roll = (a[:40] for a in _random_angles(35, seed=1))
    sampler = vp.ViewportSampler((90.0, 70.0), (24, 32))
    new = sampler(frame, yaw, pitch, roll)
    dirs_new = sampler.pixel_directions(yaw, pitch, roll)

    def old_axes(y: torch.Tensor, p: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        m = torch.from_numpy(old_rotation_matrix(y.numpy(), p.numpy(), r.numpy()))
        return torch.stack([-m[..., :, 1], -m[..., :, 2], m[..., :, 0]], -2)

    monkeypatch.setattr(vp, "head_to_camera_axes", old_axes)
    sampler._rays.clear()
    old = sampler(frame, yaw, pitch, roll)
    torch.testing.assert_close(
        sampler.pixel_directions(yaw, pitch, roll), dirs_new, atol=1e-14, rtol=0
    )
    torch.testing.assert_close(new, old, atol=1e-5, rtol=0)


def test_landmarks() -> None:
    s = math.sqrt(0.5)
    # Turning left 90 degrees is +90 degrees about +z: (cos 45, 0, 0, sin 45).
    torch.testing.assert_close(
        rot.ypr_to_quaternion(90.0, 0.0), torch.tensor([s, 0, 0, s], dtype=torch.float64)
    )
    # Looking up 90 degrees turns +x to +z: a rotation of -90 degrees about +y.
    torch.testing.assert_close(
        rot.ypr_to_quaternion(0.0, 90.0), torch.tensor([s, 0, -s, 0], dtype=torch.float64)
    )
    q = rot.ypr_to_quaternion(
        torch.tensor([90.0, 0.0, 0.0]),
        torch.tensor([0.0, 90.0, 0.0]),
        torch.tensor([0.0, 0.0, 90.0]),
    )
    assert q.dtype == torch.float32 and q.shape == (3, 4)
    x, y, z = torch.eye(3, dtype=torch.float32)
    out = rot.rotate_vectors(q, torch.stack([x, x, y]))
    # yaw 90: forward -> left (+y); pitch 90: forward -> up; roll 90: the left axis -> up.
    torch.testing.assert_close(out, torch.stack([y, z, z]), atol=1e-6, rtol=0)


@given(angles, st.floats(-89.0, 89.0), angles)
def test_quaternion_round_trips(yaw: float, pitch: float, roll: float) -> None:
    q = rot.ypr_to_quaternion(yaw, pitch, roll)
    torch.testing.assert_close(q.norm(), torch.tensor(1.0, dtype=torch.float64))
    m = rot.quaternion_to_matrix(q)
    np.testing.assert_allclose(m.numpy(), g.rotation_matrix(yaw, pitch, roll), atol=1e-15)
    np.testing.assert_allclose(rot.ypr_to_matrix(yaw, pitch, roll).numpy(), m.numpy(), atol=0)
    # Back to angles: the same rotation (yaw/roll of +-180 may come back as -+180).
    back = rot.quaternion_to_ypr(q)
    np.testing.assert_allclose(rot.ypr_to_matrix(*back).numpy(), m.numpy(), atol=1e-12)
    assert float(back[1]) == pytest.approx(pitch, abs=1e-9)
    # Matrix -> quaternion gives q or -q.
    q2 = rot.matrix_to_quaternion(m)
    assert min(float((q2 - q).abs().max()), float((q2 + q).abs().max())) < 1e-12


def test_composition_and_gaze() -> None:
    rng = np.random.default_rng(4)
    ya, pa, ra = (torch.tensor(rng.uniform(-80, 80, 50)) for _ in range(3))
    yb, pb, rb = (torch.tensor(rng.uniform(-80, 80, 50)) for _ in range(3))
    qa, qb = rot.ypr_to_quaternion(ya, pa, ra), rot.ypr_to_quaternion(yb, pb, rb)
    ma, mb = rot.quaternion_to_matrix(qa), rot.quaternion_to_matrix(qb)
    torch.testing.assert_close(rot.quaternion_to_matrix(rot.quaternion_multiply(qa, qb)), ma @ mb)
    # The conjugate undoes the rotation.
    ident = rot.quaternion_multiply(rot.quaternion_conjugate(qa), qa)
    torch.testing.assert_close(
        ident, torch.tensor([1.0, 0, 0, 0], dtype=torch.float64).expand(50, 4)
    )
    # Gaze = R_head x eye-in-head: head turned 30 left, eyes 10 further left and 20 up
    # (eye-in-head direction in the head frame) -> world lon 40, lat 20 (no roll, no pitch).
    head = rot.ypr_to_quaternion(30.0, 0.0)
    eye = torch.from_numpy(g.lonlat_to_vec(10.0, 20.0))
    lon, lat = g.vec_to_lonlat(rot.rotate_vectors(head, eye))
    assert float(lon) == pytest.approx(40.0) and float(lat) == pytest.approx(20.0)
    # The same as composing orientations: world eye orientation = q_head * q_eye.
    q_eye = rot.quaternion_multiply(head, rot.ypr_to_quaternion(10.0, 20.0))
    torch.testing.assert_close(
        rot.rotate_vectors(q_eye, torch.tensor([1.0, 0, 0])), rot.rotate_vectors(head, eye)
    )


def test_gimbal_lock_keeps_the_rotation() -> None:
    q = rot.ypr_to_quaternion(40.0, 90.0, 25.0)
    yaw, pitch, roll = rot.quaternion_to_ypr(q)
    assert float(pitch) == pytest.approx(90.0) and float(roll) == 0.0
    torch.testing.assert_close(rot.ypr_to_matrix(yaw, pitch, roll), rot.quaternion_to_matrix(q))


def test_bad_shapes_raise_shape_error() -> None:
    with pytest.raises(ShapeError, match=r"\(\.\.\., 4\)"):
        rot.quaternion_to_matrix(torch.zeros(3))
    with pytest.raises(ShapeError, match=r"\(\.\.\., 3, 3\)"):
        rot.matrix_to_quaternion(torch.zeros(3, 4))
    with pytest.raises(ShapeError, match=r"\(\.\.\., 3\)"):
        rot.rotate_vectors(torch.tensor([1.0, 0, 0, 0]), torch.zeros(4))
