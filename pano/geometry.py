"""Sphere conventions: the one canonical representation and every conversion to it.

The canonical representation is a **unit vector** in pano's world frame, which is
right-handed:

* ``+x`` points to the **front centre** of the panorama (the centre of the
  equirectangular image; PVS-HM lon 0, lat 0);
* ``+y`` points to the viewer's **left** (PVS-HM lon +90);
* ``+z`` points **up** (lat +90, the north pole).

Angles named ``lon``/``lat`` are pano's (= PVS-HM's) convention unless a function
says otherwise: **degrees**, origin at the front centre, longitude **positive to
the LEFT** in ``[-180, 180]``, latitude **positive UP** in ``[-90, 90]``. So
``lon = atan2(y, x)`` and ``lat = asin(z)``.

Equirectangular (ERP) images have column 0 at the left edge and row 0 at the top.
Pixel *centres* sit at half-integers: column ``i`` covers ``x in [i, i+1)`` with its
centre at ``i + 0.5``. Because +lon is LEFT, ``lon = 180 - 360 * x / W`` and
``lat = 90 - 180 * y / H`` (continuous pixel coordinates ``x, y``).

Every other data set's convention converts through unit vectors (never by renaming
angles): TRACK's ``(theta, phi)`` colatitude vectors, Salient360!'s normalised
``[0, 1]`` image coordinates, VR-EyeTracking's bottom-left fractions and GazeHub's
``[yaw, pitch]`` camera-frame gaze.

Functions accept NumPy arrays or torch tensors (same type out); leading dimensions
broadcast. Use float64 where precision matters (distances of a few arc-seconds).
"""

from __future__ import annotations

import math
from typing import Any, TypeAlias

import numpy as np

from pano.errors import ParameterError, ShapeError

#: numpy.ndarray or torch.Tensor (functions return the type they are given).
ArrayT: TypeAlias = Any

#: Human-readable statement of the canonical frame, written into every store.
CANONICAL_FRAME = {
    "representation": "unit vector",
    "frame": "right-handed; +x front centre (lon 0, lat 0), +y left (lon +90), +z up",
    "units": "degrees",
    "lon": "positive to the LEFT, [-180, 180], lon = atan2(y, x)",
    "lat": "positive UP, [-90, 90], lat = asin(z)",
    "origin": "front centre = centre of the equirectangular image",
    "erp_pixels": "column 0 at the left edge, row 0 at the top, pixel centres at i + 0.5; "
    "lon = 180 - 360 x / W, lat = 90 - 180 y / H",
}


def _xp(x: Any) -> Any:
    """Return the array namespace (numpy or torch) of ``x``."""
    if type(x).__module__.startswith("torch"):
        import torch

        return torch
    return np


def _asarray(x: Any) -> Any:
    if type(x).__module__.startswith("torch"):
        return x
    return np.asarray(x, dtype=np.float64) if not isinstance(x, np.ndarray) else x


def _stack(xp: Any, parts: list[Any]) -> Any:
    return xp.stack(parts, -1)


def _broadcast_like(first: Any, *others: Any) -> tuple[Any, ...]:
    """Convert ``others`` to the array type/dtype/device of ``first`` and broadcast all."""
    if type(first).__module__.startswith("torch"):
        import torch

        parts = [first] + [
            torch.as_tensor(o, dtype=first.dtype, device=first.device) for o in others
        ]
        return tuple(torch.broadcast_tensors(*parts))
    return tuple(np.broadcast_arrays(*[np.asarray(p, dtype=np.float64) for p in (first, *others)]))


# ---------------------------------------------------------------------------
# lon/lat (pano = PVS-HM convention) <-> unit vectors
# ---------------------------------------------------------------------------


def lonlat_to_vec(lon: ArrayT, lat: ArrayT) -> ArrayT:
    """Convert pano/PVS-HM angles to unit vectors.

    Args:
        lon: longitude in degrees, positive LEFT, origin front centre. Shape ``(...)``.
        lat: latitude in degrees, positive UP. Shape ``(...)``.

    Returns:
        Unit vectors ``(..., 3)`` in the canonical frame (x front, y left, z up).
        NaN angles give NaN vectors.

    """
    lon, lat = _asarray(lon), _asarray(lat)
    xp = _xp(lon)
    lo, la = xp.deg2rad(lon), xp.deg2rad(lat)
    cl = xp.cos(la)
    # ``0 * lo`` makes z NaN too when only lon is NaN: a half-missing sample is missing.
    return _stack(xp, [cl * xp.cos(lo), cl * xp.sin(lo), xp.sin(la) + 0.0 * lo])


def vec_to_lonlat(vec: ArrayT) -> tuple[ArrayT, ArrayT]:
    """Convert vectors ``(..., 3)`` (need not be unit length) to ``(lon, lat)`` degrees.

    Returns:
        ``lon`` in ``[-180, 180]`` positive LEFT and ``lat`` in ``[-90, 90]`` positive UP,
        each of shape ``(...)``. At the poles ``lon`` is ``atan2(y, x)`` of the tiny
        horizontal residue (0 for an exact pole).

    """
    vec = _asarray(vec)
    xp = _xp(vec)
    x, y, z = vec[..., 0], vec[..., 1], vec[..., 2]
    lon = xp.rad2deg(xp.arctan2(y, x))
    lat = xp.rad2deg(xp.arctan2(z, xp.sqrt(x * x + y * y)))
    return lon, lat


def normalize(vec: ArrayT, eps: float = 1e-12) -> ArrayT:
    """Scale vectors ``(..., 3)`` to unit length (zero vectors stay zero)."""
    vec = _asarray(vec)
    xp = _xp(vec)
    n = xp.sqrt((vec * vec).sum(-1))[..., None]
    return vec / xp.clip(n, eps, None) if xp is np else vec / n.clamp_min(eps)


# ---------------------------------------------------------------------------
# Equirectangular pixels
# ---------------------------------------------------------------------------


def erp_to_lonlat(x: ArrayT, y: ArrayT, width: int, height: int) -> tuple[ArrayT, ArrayT]:
    """Continuous ERP pixel coordinates -> pano ``(lon, lat)`` in degrees.

    Args:
        x: column coordinate, 0 = left edge of column 0, ``width`` = right edge of the last
            column; the centre of column ``i`` is ``i + 0.5``.
        y: row coordinate, 0 = top edge (north pole), ``height`` = bottom edge.
        width, height: frame size ``W x H`` in pixels.

    Returns:
        ``lon = 180 - 360 x / W`` (positive LEFT: the left half of the image has lon > 0)
        and ``lat = 90 - 180 y / H``.

    """
    x, y = _asarray(x), _asarray(y)
    return 180.0 - 360.0 * x / width, 90.0 - 180.0 * y / height


def lonlat_to_erp(lon: ArrayT, lat: ArrayT, width: int, height: int) -> tuple[ArrayT, ArrayT]:
    """Pano ``(lon, lat)`` degrees -> continuous ERP pixel coordinates ``(x, y)``.

    Inverse of :func:`erp_to_lonlat`; ``x`` is wrapped into ``[0, W)``.
    """
    lon, lat = _asarray(lon), _asarray(lat)
    x = ((180.0 - lon) / 360.0 * width) % width
    y = (90.0 - lat) / 180.0 * height
    return x, y


def erp_to_vec(x: ArrayT, y: ArrayT, width: int, height: int) -> ArrayT:
    """Continuous ERP pixel coordinates -> unit vectors ``(..., 3)`` (see :func:`erp_to_lonlat`)."""
    return lonlat_to_vec(*erp_to_lonlat(x, y, width, height))


def vec_to_erp(vec: ArrayT, width: int, height: int) -> tuple[ArrayT, ArrayT]:
    """Unit vectors ``(..., 3)`` -> continuous ERP pixel coordinates ``(x, y)``."""
    return lonlat_to_erp(*vec_to_lonlat(vec), width, height)


def erp_grid_lonlat(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates of a ``W x H`` ERP grid, float64 degrees.

    Returns:
        ``lon`` of shape ``(W,)`` (from ``180 - 180/W`` at column 0 down to ``-180 + 180/W``,
        i.e. decreasing to the right) and ``lat`` of shape ``(H,)`` (from ``90 - 90/H`` at
        row 0 down to ``-90 + 90/H``).

    """
    lon, _ = erp_to_lonlat(np.arange(width) + 0.5, np.zeros(width), width, height)
    _, lat = erp_to_lonlat(np.zeros(height), np.arange(height) + 0.5, width, height)
    return lon, lat


def erp_row_solid_angle(width: int, height: int) -> np.ndarray:
    """Solid angle in steradians of one pixel in each row of a ``W x H`` ERP grid.

    ``dOmega_i = (2 pi / W) * (sin(lat_top_i) - sin(lat_bottom_i))``, shape ``(H,)``.
    The whole grid sums to ``4 pi`` exactly (up to rounding).
    """
    edges = np.deg2rad(90.0 - 180.0 * np.arange(height + 1) / height)
    return (2.0 * math.pi / width) * (np.sin(edges[:-1]) - np.sin(edges[1:]))


# ---------------------------------------------------------------------------
# Distances
# ---------------------------------------------------------------------------


def orthodromic_distance(u: ArrayT, v: ArrayT) -> ArrayT:
    """Great-circle angle between vectors ``(..., 3)`` in **radians**, ``[0, pi]``.

    Computed as ``atan2(|u x v|, u . v)``, which keeps full precision near 0 and pi
    (``arccos`` of the dot product does not). Inputs need not be unit length; NaN in
    either gives NaN. Use float64 inputs for sub-arc-second accuracy.
    """
    u, v = _asarray(u), _asarray(v)
    xp = _xp(u)
    cross = xp.linalg.cross(u, v) if xp is not np else np.cross(u, v)
    return xp.arctan2(xp.sqrt((cross * cross).sum(-1)), (u * v).sum(-1))


def orthodromic_distance_deg(lon1: ArrayT, lat1: ArrayT, lon2: ArrayT, lat2: ArrayT) -> ArrayT:
    """Great-circle angle in **degrees** between pano ``(lon, lat)`` points (degrees)."""
    xp = _xp(_asarray(lon1))
    return xp.rad2deg(orthodromic_distance(lonlat_to_vec(lon1, lat1), lonlat_to_vec(lon2, lat2)))


# ---------------------------------------------------------------------------
# Rotations and head orientation
# ---------------------------------------------------------------------------


def rotation_matrix(yaw: ArrayT, pitch: ArrayT, roll: ArrayT | float = 0.0) -> ArrayT:
    """Head orientation -> rotation matrix ``(..., 3, 3)`` from camera to world frame.

    The head/camera frame uses the same axes as the world frame when the head looks at
    the front centre: camera ``+x`` = viewing direction, ``+y`` = the viewer's left,
    ``+z`` = the top of the head. ``R = Rz(yaw) @ Ry(-pitch) @ Rx(roll)``:

    * ``yaw`` degrees: turn LEFT positive (= the lon of the viewing direction);
    * ``pitch`` degrees: look UP positive (= the lat of the viewing direction);
    * ``roll`` degrees: rotation about the viewing axis, right-handed (positive takes
      the head's left axis up, i.e. the head tilts towards the viewer's right shoulder).

    The columns of ``R`` are the camera's forward, left and up axes in world
    coordinates; ``R @ [1, 0, 0] == lonlat_to_vec(yaw, pitch)``.

    Computed by kornia through the quaternion (:func:`pano.rotations.ypr_to_matrix`, which
    also converts to and from quaternions); NumPy in, NumPy out (float64). A NaN angle
    gives an all-NaN matrix.
    """
    from pano.rotations import ypr_to_matrix

    yaw_a, pitch_a, roll_a = _broadcast_like(yaw, pitch, roll)
    if _xp(yaw_a) is np:
        import torch

        parts = [torch.from_numpy(np.array(a, dtype=np.float64)) for a in (yaw_a, pitch_a, roll_a)]
        return ypr_to_matrix(*parts).numpy()
    return ypr_to_matrix(yaw_a, pitch_a, roll_a)


def rotation_to_yaw_pitch_roll(rot: ArrayT) -> tuple[ArrayT, ArrayT, ArrayT]:
    """Inverse of :func:`rotation_matrix`: ``(..., 3, 3)`` -> ``(yaw, pitch, roll)`` degrees."""
    rot = _asarray(rot)
    xp = _xp(rot)
    fwd = rot[..., :, 0]
    yaw, pitch = vec_to_lonlat(fwd)
    # roll: angle of the camera's left axis relative to the un-rolled left axis.
    r0 = rotation_matrix(yaw, pitch, 0.0)
    left0, up0 = r0[..., :, 1], r0[..., :, 2]
    left = rot[..., :, 1]
    roll = xp.rad2deg(xp.arctan2((left * up0).sum(-1), (left * left0).sum(-1)))
    return yaw, pitch, roll


def head_to_camera_axes(yaw: ArrayT, pitch: ArrayT, roll: ArrayT | float = 0.0) -> ArrayT:
    """Viewport camera axes for a head orientation, as image-oriented unit vectors.

    Returns ``(..., 3, 3)`` whose rows are, in world coordinates, the viewport image's
    ``right`` (+u, column index increasing), ``down`` (+v, row index increasing) and
    ``forward`` (optical axis) directions. A ray through normalised image coordinates
    ``(a, b)`` (right, down) is ``forward + a * right + b * down``.
    """
    rot = rotation_matrix(yaw, pitch, roll)
    fwd, left, up = rot[..., :, 0], rot[..., :, 1], rot[..., :, 2]
    xp = _xp(rot)
    return xp.stack([-left, -up, fwd], -2)


# ---------------------------------------------------------------------------
# Resampling of timestamped direction series
# ---------------------------------------------------------------------------


def slerp(u: np.ndarray, v: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical linear interpolation between unit vectors.

    Args:
        u, v: unit vectors ``(..., 3)``.
        t: fraction ``(...)`` in ``[0, 1]``; 0 gives ``u``, 1 gives ``v``.

    Returns:
        Unit vectors ``(..., 3)`` on the shorter great-circle arc from ``u`` to ``v``
        (so an arc across the ±180° seam goes across it, never the long way round).
        Antipodal pairs have no unique arc; they are interpolated through the
        direction perpendicular to ``u`` in the ``u``-``z`` plane (or ``u``-``x``).

    """
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[..., None]
    omega = orthodromic_distance(u, v)[..., None]
    small = omega < 1e-9
    # Direction of travel: component of v orthogonal to u.
    w = v - (u * v).sum(-1, keepdims=True) * u
    wn = np.linalg.norm(w, axis=-1, keepdims=True)
    anti = (wn < 1e-12) & ~small
    if np.any(anti):
        alt = np.where(np.abs(u[..., 2:3]) < 0.9, np.array([0.0, 0.0, 1.0]), np.array([1.0, 0, 0]))
        alt = alt - (u * alt).sum(-1, keepdims=True) * u
        w = np.where(anti, alt, w)
        wn = np.linalg.norm(w, axis=-1, keepdims=True)
    w = w / np.maximum(wn, 1e-300)
    ang = t * omega
    out = np.cos(ang) * u + np.sin(ang) * w
    out = np.where(small, u * (1 - t) + v * t, out)
    return normalize(out)


def resample_directions(times: np.ndarray, vecs: np.ndarray, new_times: np.ndarray) -> np.ndarray:
    """Resample a timestamped direction series by slerp (e.g. to a fixed 5 Hz grid).

    Args:
        times: sample times ``(T,)`` in seconds, strictly increasing.
        vecs: unit vectors ``(T, 3)`` or ``(..., T, 3)``; rows with NaN are missing.
        new_times: target times ``(N,)`` in seconds.

    Returns:
        ``(..., N, 3)`` unit vectors. A target time outside ``[times[0], times[-1]]`` or
        whose bracketing samples include a NaN gives NaN (never extrapolated or bridged).
        Interpolation follows the shorter great-circle arc, so it never wraps the wrong
        way at ±180° longitude.

    """
    times = np.asarray(times, dtype=np.float64)
    vecs = np.asarray(vecs, dtype=np.float64)
    new_times = np.asarray(new_times, dtype=np.float64)
    if times.ndim != 1 or vecs.shape[-2] != times.shape[0] or vecs.shape[-1] != 3:
        raise ShapeError(
            f"resample_directions: times {times.shape} and vecs {vecs.shape} "
            "must be (T,) and (..., T, 3)"
        )
    if times.size < 2 or np.any(np.diff(times) <= 0):
        raise ParameterError("resample_directions: times must hold >= 2 strictly increasing values")
    idx = np.searchsorted(times, new_times, side="right") - 1
    inside = (new_times >= times[0]) & (new_times <= times[-1])
    idx = np.clip(idx, 0, times.size - 2)
    t0, t1 = times[idx], times[idx + 1]
    frac = np.clip((new_times - t0) / (t1 - t0), 0.0, 1.0)
    u = vecs[..., idx, :]
    v = vecs[..., idx + 1, :]
    out = slerp(u, v, np.broadcast_to(frac, u.shape[:-1]))
    # Exactly-on-sample times take that sample (v may be NaN at frac==0).
    out = np.where((frac == 0.0)[..., None], u, out)
    out[..., ~inside, :] = np.nan
    return out


# ---------------------------------------------------------------------------
# Other data sets' conventions
# ---------------------------------------------------------------------------


def track_to_vec(track_xyz: ArrayT) -> ArrayT:
    """TRACK benchmark vectors -> pano unit vectors.

    TRACK's sphere: ``theta`` = longitude in ``[0, 2 pi)``, ``phi`` = colatitude from the
    north pole, ``(x, y, z) = (cos theta sin phi, sin theta sin phi, cos phi)``, and for
    PVS-HM ``theta = rad(lon + 180)``, ``phi = rad(90 - lat)``. So pano's
    ``lon = deg(theta) - 180`` and ``lat = 90 - deg(phi)``; equivalently pano
    ``(x, y, z) = (-x_T, -y_T, z_T)``.
    """
    t = _asarray(track_xyz)
    xp = _xp(t)
    return _stack(xp, [-t[..., 0], -t[..., 1], t[..., 2]])


def vec_to_track(vec: ArrayT) -> ArrayT:
    """Pano unit vectors -> TRACK benchmark vectors (inverse of :func:`track_to_vec`)."""
    return track_to_vec(vec)  # the map (x, y, z) -> (-x, -y, z) is its own inverse


def track_thetaphi_to_vec(theta: ArrayT, phi: ArrayT) -> ArrayT:
    """TRACK ``(theta, phi)`` in **radians** (lon in [0, 2 pi), colatitude) -> pano vectors."""
    theta, phi = _asarray(theta), _asarray(phi)
    xp = _xp(theta)
    return lonlat_to_vec(xp.rad2deg(theta) - 180.0, 90.0 - xp.rad2deg(phi))


def salient360_to_vec(u: ArrayT, v: ArrayT) -> ArrayT:
    """Salient360! normalised image coordinates -> pano unit vectors.

    ``u`` in ``[0, 1]`` is the fraction of the ERP width from the LEFT edge, ``v`` in
    ``[0, 1]`` the fraction of the height from the TOP edge (north pole). The image is the
    same ERP image pano uses, so ``lon = 180 - 360 u`` (positive left), ``lat = 90 - 180 v``.
    """
    return erp_to_vec(u, v, 1, 1)


def vec_to_salient360(vec: ArrayT) -> tuple[ArrayT, ArrayT]:
    """Pano unit vectors -> Salient360! ``(u, v)`` in ``[0, 1]`` (left/top origin)."""
    return vec_to_erp(vec, 1, 1)


def bottomleft_to_vec(fx: ArrayT, fy: ArrayT) -> ArrayT:
    """VR-EyeTracking fractions of the panorama from the BOTTOM-LEFT corner -> pano vectors.

    ``fx`` in ``[0, 1]`` from the left edge, ``fy`` in ``[0, 1]`` from the BOTTOM edge
    (south pole), so ``v = 1 - fy`` in image (top-origin) terms.
    """
    fy = _asarray(fy)
    return erp_to_vec(fx, 1.0 - fy, 1, 1)


def vec_to_bottomleft(vec: ArrayT) -> tuple[ArrayT, ArrayT]:
    """Pano unit vectors -> VR-EyeTracking bottom-left fractions ``(fx, fy)``."""
    fx, v = vec_to_erp(vec, 1, 1)
    return fx, 1.0 - v


def gazehub_to_camvec(yaw: ArrayT, pitch: ArrayT) -> ArrayT:
    """GazeHub ``2DGaze = [yaw, pitch]`` in **radians** -> 3-D gaze in GazeHub camera axes.

    GazeHub's camera axes: ``x`` right, ``y`` down, ``z`` forward (out of the camera);
    ``g = (-cos(p) sin(y), -sin(p), -cos(p) cos(y))`` (a face looking into the camera
    has ``g = (0, 0, -1)``). Note the angle order: yaw first.
    """
    yaw, pitch = _asarray(yaw), _asarray(pitch)
    xp = _xp(yaw)
    cp = xp.cos(pitch)
    return _stack(xp, [-cp * xp.sin(yaw), -xp.sin(pitch), -cp * xp.cos(yaw)])


def camvec_to_gazehub(g: ArrayT) -> tuple[ArrayT, ArrayT]:
    """GazeHub camera-axes gaze vectors ``(..., 3)`` -> ``(yaw, pitch)`` radians.

    ``yaw = atan2(-x, -z)``, ``pitch = asin(-y)`` (on the normalised vector).
    """
    g = normalize(_asarray(g))
    xp = _xp(g)
    return xp.arctan2(-g[..., 0], -g[..., 2]), xp.arcsin(xp.clip(-g[..., 1], -1.0, 1.0))


def gazehub_camvec_to_pano_camera(g: ArrayT) -> ArrayT:
    """GazeHub camera axes (x right, y down, z fwd) -> pano camera axes (x fwd, y left, z up)."""
    g = _asarray(g)
    xp = _xp(g)
    return _stack(xp, [g[..., 2], -g[..., 0], -g[..., 1]])
