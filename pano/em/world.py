"""Gaze in the world from head orientation and eye-in-head directions.

Event detection runs on **gaze in the world**: where a source logs the head's orientation
and, separately, where the eyes point inside the head (an HMD's eye tracker), the world
gaze of sample ``i`` is ``R_head[i] @ eye[i]``.

Frames and signs (the same as :mod:`pano.rotations`, ``docs/conventions.md``):

* **world**: pano's canonical frame, ``+x`` = front centre of the panorama, ``+y`` = the
  viewer's LEFT, ``+z`` = up; lon positive LEFT, lat positive UP, degrees.
* **head**: the same axes carried by the head: ``+x`` = straight ahead out of the face,
  ``+y`` = the head's left, ``+z`` = the top of the head. An eye-in-head direction is a
  vector in this frame: ``(1, 0, 0)`` looks straight ahead, ``lonlat_to_vec(10, 0)`` is
  10 degrees to the head's LEFT, ``lonlat_to_vec(0, -10)`` 10 degrees below straight ahead.
* **head orientation**: unit quaternions ``(w, x, y, z)`` (real part first) of the active
  rotation head -> world (``v_world = R @ v_head``), or yaw/pitch/roll in degrees through
  :func:`pano.rotations.ypr_to_quaternion` (yaw: turn LEFT positive; pitch: look UP
  positive; roll about the viewing axis, positive takes the head's left axis up). So a
  head turned 90 degrees left with the eyes 10 degrees right of straight ahead looks at
  lon 80 in the world.

Missing samples (blinks, tracking loss) are rows of NaN; they stay NaN. All rotations go
through :mod:`pano.rotations` (kornia); inputs and outputs here are NumPy float64.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from pano.errors import InputDataError, ShapeError
from pano.geometry import normalize

__all__ = ["EyeChoice", "combine_eyes", "world_gaze", "world_gaze_ypr"]

#: Which eye-in-head direction to use: the left eye, the right eye, or their mean.
EyeChoice = Literal["left", "right", "mean"]


def _vectors(name: str, v: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``v (N, 3)`` as float64 with NaN rows for missing samples, and the missing mask.

    Raises:
        ShapeError: not ``(N, 3)``.
        InputDataError: a non-missing vector of zero length (a tracker's "no data" that
            should have been NaN).

    """
    arr = np.asarray(v, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ShapeError(f"{what}: {name} must have shape (N, 3), got {arr.shape}")
    missing = ~np.all(np.isfinite(arr), axis=1)
    arr = arr.copy()
    arr[missing] = np.nan
    norm = np.linalg.norm(np.where(missing[:, None], 1.0, arr), axis=1)
    zero = np.nonzero(norm < 1e-9)[0]
    if zero.size:
        raise InputDataError(
            f"{what}: {name} vector of zero length at sample {int(zero[0])}; "
            "mark missing samples as NaN, not (0, 0, 0)"
        )
    return arr / norm[:, None], missing


def combine_eyes(
    left: Any | None = None,
    right: Any | None = None,
    eye: EyeChoice = "mean",
    single_eye_ok: bool = False,
    what: str = "eyes",
) -> np.ndarray:
    """The eye-in-head direction to use: one eye, or the mean of both.

    Args:
        left, right: ``(N, 3)`` eye-in-head directions of each eye (head frame, see the
            module docstring; any positive length), NaN rows where that eye is missing.
        eye: ``"left"``, ``"right"`` or ``"mean"`` (the normalised sum of the two unit
            vectors: the direction halfway between them).
        single_eye_ok: for ``"mean"``, where only one eye is valid use it (default False:
            the sample is missing unless both eyes are valid).
        what: name used in error messages.

    Returns:
        ``(N, 3)`` float64 unit vectors in the head frame, NaN rows for missing samples.

    Raises:
        ShapeError: shapes differ or are not ``(N, 3)``; the chosen eye is not given.
        InputDataError: a zero-length eye vector (name and sample in the message).

    """
    if eye not in ("left", "right", "mean"):
        raise ShapeError(f"{what}: eye must be 'left', 'right' or 'mean', not {eye!r}")
    if eye == "mean" and single_eye_ok and (left is None) != (right is None):
        eye = "left" if right is None else "right"  # only one eye was recorded
    if eye == "left":
        if left is None:
            raise ShapeError(f"{what}: eye='left' but no left-eye directions were given")
        return _vectors("left eye", left, what)[0]
    if eye == "right":
        if right is None:
            raise ShapeError(f"{what}: eye='right' but no right-eye directions were given")
        return _vectors("right eye", right, what)[0]
    if left is None or right is None:
        raise ShapeError(f"{what}: eye='mean' needs both eyes (or single_eye_ok=True)")
    lv, lm = _vectors("left eye", left, what)
    rv, rm = _vectors("right eye", right, what)
    if lv.shape != rv.shape:
        raise ShapeError(f"{what}: left eye {lv.shape} and right eye {rv.shape} differ")
    both = ~lm & ~rm
    out = np.full(lv.shape, np.nan)
    summed = lv[both] + rv[both]
    opposite = np.linalg.norm(summed, axis=1) < 1e-9
    if opposite.any():
        i = int(np.nonzero(both)[0][np.nonzero(opposite)[0][0]])
        raise InputDataError(
            f"{what}: the left and right eye point in opposite directions at sample {i}; "
            "their mean is undefined (check the eye data's axes)"
        )
    out[both] = normalize(summed)
    if single_eye_ok:
        only_l, only_r = ~lm & rm, lm & ~rm
        out[only_l] = lv[only_l]
        out[only_r] = rv[only_r]
    return out


def world_gaze(head_q: Any, eye_in_head: Any, what: str = "gaze") -> np.ndarray:
    """World gaze ``R_head @ eye`` from head quaternions and eye-in-head directions.

    Args:
        head_q: ``(N, 4)`` head orientation quaternions ``(w, x, y, z)``, head -> world
            (:mod:`pano.rotations`); any non-zero length (normalised); NaN rows missing.
        eye_in_head: ``(N, 3)`` eye-in-head directions in the head frame (e.g. from
            :func:`combine_eyes`); NaN rows missing.
        what: name used in error messages.

    Returns:
        ``(N, 3)`` float64 unit vectors in pano's world frame (+x front, +y left, +z up);
        NaN where the head or the eye sample is missing.

    Raises:
        ShapeError: not ``(N, 4)`` and ``(N, 3)`` of the same ``N``.
        InputDataError: a zero-length quaternion or eye vector (the sample is named).

    """
    from pano.rotations import rotate_vectors

    q = np.asarray(head_q, dtype=np.float64)
    if q.ndim != 2 or q.shape[1] != 4:
        raise ShapeError(f"{what}: head quaternions must have shape (N, 4), got {q.shape}")
    eye, eye_missing = _vectors("eye-in-head", eye_in_head, what)
    if eye.shape[0] != q.shape[0]:
        raise ShapeError(
            f"{what}: {q.shape[0]} head samples but {eye.shape[0]} eye samples; they must match"
        )
    q_missing = ~np.all(np.isfinite(q), axis=1)
    q_norm = np.linalg.norm(np.where(q_missing[:, None], 1.0, q), axis=1)
    zero = np.nonzero(~q_missing & (q_norm < 1e-9))[0]
    if zero.size:
        raise InputDataError(
            f"{what}: head quaternion of zero length at sample {int(zero[0])}; "
            "mark missing samples as NaN"
        )
    missing = q_missing | eye_missing
    safe_q = np.where(missing[:, None], np.array([1.0, 0.0, 0.0, 0.0]), q)
    safe_e = np.where(missing[:, None], np.array([1.0, 0.0, 0.0]), eye)
    out = rotate_vectors(safe_q, safe_e).cpu().numpy().astype(np.float64)
    out = normalize(out)
    out[missing] = np.nan
    return np.asarray(out)


def world_gaze_ypr(
    yaw: Any, pitch: Any, roll: Any, eye_in_head: Any, what: str = "gaze"
) -> np.ndarray:
    """:func:`world_gaze` with the head given as yaw/pitch/roll in degrees, each ``(N,)``.

    Signs: yaw turn LEFT positive, pitch look UP positive, roll positive takes the head's
    left axis up (:func:`pano.rotations.ypr_to_quaternion`). NaN angles are missing samples.
    """
    from pano.rotations import ypr_to_quaternion

    y = np.asarray(yaw, dtype=np.float64)
    p = np.asarray(pitch, dtype=np.float64)
    r = np.asarray(roll, dtype=np.float64)
    if not (y.ndim == p.ndim == r.ndim == 1 and y.shape == p.shape == r.shape):
        raise ShapeError(
            f"{what}: yaw, pitch, roll must be (N,) each, got {y.shape}, {p.shape}, {r.shape}"
        )
    missing = ~(np.isfinite(y) & np.isfinite(p) & np.isfinite(r))
    q = ypr_to_quaternion(np.where(missing, 0, y), np.where(missing, 0, p), np.where(missing, 0, r))
    qn = q.cpu().numpy().astype(np.float64)
    qn[missing] = np.nan
    return world_gaze(qn, eye_in_head, what)
