"""Head rotations: yaw/pitch/roll, rotation matrices and quaternions, computed by kornia.

Conventions (the same as :func:`pano.geometry.rotation_matrix`; see ``docs/conventions.md``):

* **Frames.** pano's world frame is right-handed: ``+x`` = front centre of the panorama,
  ``+y`` = the viewer's LEFT, ``+z`` = up. A head (camera) frame has the same axes when the
  head looks at the front centre: ``+x`` = viewing direction, ``+y`` = the head's left,
  ``+z`` = the top of the head.
* **What a rotation means.** Rotations are active and map head-frame column vectors to
  world coordinates: ``v_world = R @ v_head``. The columns of ``R`` are the head's forward,
  left and up axes in world coordinates, so ``R @ [1, 0, 0]`` is the viewing direction.
  Rotations compose right to left: an eye-in-head direction ``e`` (head frame, e.g.
  ``pano.geometry.lonlat_to_vec(eye_yaw, eye_pitch)``) is seen in the world along
  ``R_head @ e`` (:func:`rotate_vectors`), and ``R_world_eye = R_head @ R_eye_in_head``
  (:func:`quaternion_multiply`).
* **Angles** are in **degrees** (kornia works in radians; the conversion is made here).
  ``yaw``: turn LEFT positive, a rotation about world ``+z`` (= the lon of the viewing
  direction); ``pitch``: look UP positive (= the lat of the viewing direction), a rotation
  by ``-pitch`` about the turned head's ``+y`` (left) axis; ``roll``: about the viewing
  axis, right-handed (positive takes the head's left axis up, i.e. tilts the head towards
  the viewer's right shoulder).
* **Order.** ``R = Rz(yaw) @ Ry(-pitch) @ Rx(roll)``: intrinsic z-y'-x'' (turn, then look
  up or down, then tilt about the new viewing axis). This is kornia's
  :func:`~kornia.geometry.conversions.quaternion_from_euler` ``(roll, pitch_k, yaw)`` with
  ``pitch_k = -pitch``: kornia's pitch turns ``+x`` towards ``-z`` (down); pano's turns it up.
* **Quaternions** are ``(w, x, y, z)``, **real part first** (kornia's layout), of unit
  norm, Hamilton product: ``quaternion_to_matrix(quaternion_multiply(a, b)) ==
  quaternion_to_matrix(a) @ quaternion_to_matrix(b)``. ``q`` and ``-q`` are the same
  rotation; pano does not canonicalise the sign. Note the layouts of data sets: many HMD
  logs store ``(x, y, z, w)`` and use other axes (e.g. Unity: left-handed, ``+y`` up,
  ``+z`` forward); convert their axes into pano's frame before using these functions.

Inputs are torch tensors or anything :func:`torch.as_tensor` accepts (NumPy arrays and
numbers become float64); leading dimensions broadcast; outputs are float tensors on the
first input's device. Use float64 where precision matters: the quaternion route agrees
with the written-out matrix product to ~1e-16 in float64.
"""

from __future__ import annotations

from typing import Any

import torch
from kornia.geometry.conversions import (
    euler_from_quaternion,
    quaternion_from_euler,
    quaternion_to_rotation_matrix,
    rotation_matrix_to_quaternion,
)
from kornia.geometry.quaternion import Quaternion

from pano.errors import ShapeError

__all__ = [
    "matrix_to_quaternion",
    "quaternion_conjugate",
    "quaternion_multiply",
    "quaternion_to_matrix",
    "quaternion_to_ypr",
    "rotate_vectors",
    "ypr_to_matrix",
    "ypr_to_quaternion",
]


def _float(x: Any, like: torch.Tensor | None = None) -> torch.Tensor:
    """``x`` as a floating tensor: float64 unless it already is a floating tensor."""
    if isinstance(x, torch.Tensor) and x.is_floating_point():
        t = x
    elif isinstance(x, torch.Tensor):
        t = x.to(torch.float64)
    else:
        t = torch.as_tensor(x, dtype=torch.float64)
    if like is not None:
        t = t.to(device=like.device, dtype=like.dtype)
    return t


def _last_dim(t: torch.Tensor, n: int, name: str, what: str) -> None:
    if t.ndim < 1 or t.shape[-1] != n:
        raise ShapeError(f"{name} must have shape (..., {n}) ({what}), got {tuple(t.shape)}")


def ypr_to_quaternion(yaw: Any, pitch: Any, roll: Any = 0.0) -> torch.Tensor:
    """Head orientation in degrees -> unit quaternions ``(..., 4)`` ``(w, x, y, z)``.

    Args:
        yaw: degrees, turn LEFT positive (lon of the viewing direction). Shape ``(...)``.
        pitch: degrees, look UP positive (lat of the viewing direction).
        roll: degrees about the viewing axis, positive tilts towards the right shoulder.

    Returns:
        The rotation ``Rz(yaw) Ry(-pitch) Rx(roll)`` (head -> world, see the module
        docstring) as quaternions of the broadcast shape ``(..., 4)``, dtype of ``yaw``
        (float64 for non-tensor input).

    """
    y = _float(yaw)
    p, r = _float(pitch, like=y), _float(roll, like=y)
    y, p, r = torch.broadcast_tensors(y, p, r)
    w, x, yy, z = quaternion_from_euler(torch.deg2rad(r), -torch.deg2rad(p), torch.deg2rad(y))
    return torch.stack((w, x, yy, z), -1)


def quaternion_to_ypr(q: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Quaternions ``(..., 4)`` ``(w, x, y, z)`` -> ``(yaw, pitch, roll)`` degrees, each ``(...)``.

    Inverse of :func:`ypr_to_quaternion`: ``yaw`` and ``roll`` in ``[-180, 180]``, ``pitch``
    in ``[-90, 90]``. At ``pitch = ±90`` (looking straight up or down) yaw and roll turn
    about the same axis and only their difference (up) or sum (down) is determined: the
    result then has ``roll = 0`` and that combination in ``yaw`` (kornia's gimbal-lock
    rule, applied within ``2 sqrt(eps)`` of the pole). Quaternions need not be unit length.
    """
    qt = _float(q)
    _last_dim(qt, 4, "q", "quaternions (w, x, y, z)")
    roll, pitch_k, yaw = euler_from_quaternion(*qt.unbind(-1))
    return torch.rad2deg(yaw), -torch.rad2deg(pitch_k), torch.rad2deg(roll)


def quaternion_to_matrix(q: Any) -> torch.Tensor:
    """Quaternions ``(..., 4)`` ``(w, x, y, z)`` -> rotation matrices ``(..., 3, 3)``.

    The matrix maps head-frame column vectors to the world (module docstring). The input
    is normalised first, so any non-zero scale of a quaternion gives the same matrix.
    """
    qt = _float(q)
    _last_dim(qt, 4, "q", "quaternions (w, x, y, z)")
    return quaternion_to_rotation_matrix(qt)


def matrix_to_quaternion(rot: Any) -> torch.Tensor:
    """Rotation matrices ``(..., 3, 3)`` -> quaternions ``(..., 4)`` ``(w, x, y, z)``.

    Inverse of :func:`quaternion_to_matrix` up to the sign of the quaternion (not
    canonicalised; kornia's :func:`~kornia.geometry.conversions.rotation_matrix_to_quaternion`).
    The input is not checked for being a rotation.
    """
    r = _float(rot)
    if r.ndim < 2 or tuple(r.shape[-2:]) != (3, 3):
        raise ShapeError(f"rot must have shape (..., 3, 3), got {tuple(r.shape)}")
    return rotation_matrix_to_quaternion(r)


def ypr_to_matrix(yaw: Any, pitch: Any, roll: Any = 0.0) -> torch.Tensor:
    """Head orientation in degrees -> rotation matrices ``(..., 3, 3)`` (head -> world).

    ``Rz(yaw) @ Ry(-pitch) @ Rx(roll)`` through the quaternion (:func:`ypr_to_quaternion`,
    :func:`quaternion_to_matrix`); columns = the head's forward, left and up axes.
    """
    return quaternion_to_matrix(ypr_to_quaternion(yaw, pitch, roll))


def quaternion_multiply(a: Any, b: Any) -> torch.Tensor:
    """Hamilton product ``a * b`` of quaternions ``(..., 4)``: the rotation ``R(a) @ R(b)``.

    E.g. the world orientation of the eye is ``quaternion_multiply(q_head, q_eye_in_head)``.
    Shapes broadcast; ``b`` takes ``a``'s dtype and device.
    """
    at = _float(a)
    bt = _float(b, like=at)
    _last_dim(at, 4, "a", "quaternions (w, x, y, z)")
    _last_dim(bt, 4, "b", "quaternions (w, x, y, z)")
    at, bt = torch.broadcast_tensors(at, bt)
    return (Quaternion(at) * Quaternion(bt)).data


def quaternion_conjugate(q: Any) -> torch.Tensor:
    """Conjugate ``(w, -x, -y, -z)`` of quaternions ``(..., 4)`` (inverse of a unit one).

    E.g. the eye-in-head orientation from world gaze and head orientation is
    ``quaternion_multiply(quaternion_conjugate(q_head), q_world_eye)``.
    """
    qt = _float(q)
    _last_dim(qt, 4, "q", "quaternions (w, x, y, z)")
    return Quaternion(qt).conj().data


def rotate_vectors(q: Any, vec: Any) -> torch.Tensor:
    """Rotate vectors ``(..., 3)`` by quaternions ``(..., 4)``: ``R(q) @ vec`` (shapes broadcast).

    With a head quaternion (head -> world) and an eye-in-head direction in the head frame
    (``+x`` forward, ``+y`` left, ``+z`` up), the result is the gaze direction in the world
    frame. Lengths are kept (unit in, unit out).
    """
    rot = quaternion_to_matrix(q)
    v = _float(vec, like=rot)
    _last_dim(v, 3, "vec", "vectors (x, y, z)")
    return (rot @ v[..., None])[..., 0]
