"""Rendering synthetic equirectangular frames (RGB or planar yuv420p) of moving discs.

Frames are ``(H, W, 3)`` uint8 RGB arrays in pano's ERP convention (column 0 at the left
edge, +lon to the LEFT, row 0 at the top; see :mod:`pano.geometry`). Everything drawn on
the sphere is computed per pixel from great-circle distances, so a disc stays a disc near
the poles and wraps across the ±180° seam.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from pano.errors import ParameterError, ShapeError
from pano.geometry import erp_grid_lonlat
from pano.synth.barcode import barcode_size, encode_barcode
from pano.video.writer import rgb_to_yuv, yuv420p_planes


@lru_cache(maxsize=8)
def _grid_trig(width: int, height: int) -> tuple[np.ndarray, ...]:
    """cos/sin of the pixel-centre lon ``(W,)`` and lat ``(H,)`` of a ``W x H`` ERP grid."""
    lon, lat = erp_grid_lonlat(width, height)
    lo, la = np.deg2rad(lon), np.deg2rad(lat)
    return (
        np.cos(lo).astype(np.float32), np.sin(lo).astype(np.float32),
        np.cos(la).astype(np.float32), np.sin(la).astype(np.float32),
    )  # fmt: skip


def erp_unit_vectors(width: int, height: int, dtype: type = np.float32) -> np.ndarray:
    """Unit vectors of the pixel centres of a ``W x H`` ERP grid, shape ``(H, W, 3)``."""
    clo, slo, cla, sla = _grid_trig(width, height)
    v: np.ndarray = np.empty((height, width, 3), dtype=dtype)
    v[..., 0] = cla[:, None] * clo[None, :]
    v[..., 1] = cla[:, None] * slo[None, :]
    v[..., 2] = sla[:, None]
    return v


def paint_marker(
    frame: np.ndarray,
    lon: float,
    lat: float,
    radius_deg: float,
    color: float | Sequence[float] = 255,
) -> np.ndarray:
    """Paint a disc of angular radius ``radius_deg`` centred at pano ``(lon, lat)`` (in place).

    Every pixel whose centre lies within ``radius_deg`` (great-circle distance) of the
    point is set to ``color``; pixels on the rim are blended over about one pixel so the
    edge is anti-aliased. Near a pole the disc covers whole rows (it looks right on the
    sphere); a disc on the ±180° seam appears on both edges of the image.

    Args:
        frame: ``(H, W, C)`` or ``(H, W)`` uint8 or float ERP image, any ``W x H``.
        lon, lat: centre in degrees, pano convention (lon positive LEFT, lat positive UP).
        radius_deg: angular radius in degrees (> 0).
        color: a grey level or one value per channel.

    Returns:
        ``frame``.

    """
    if not isinstance(frame, np.ndarray) or frame.ndim not in (2, 3):
        raise ShapeError("paint_marker: frame must be a (H, W[, C]) numpy array")
    if not radius_deg > 0:
        raise ParameterError(f"paint_marker: radius_deg must be > 0, got {radius_deg}")
    h, w = frame.shape[:2]
    pix = 180.0 / h
    lat_hi = min(90.0, lat + radius_deg + pix)
    lat_lo = max(-90.0, lat - radius_deg - pix)
    r0 = max(0, math.floor((90.0 - lat_hi) / pix))
    r1 = min(h, math.ceil((90.0 - lat_lo) / pix))
    if r1 <= r0:
        return frame
    clo, slo, cla, sla = _grid_trig(w, h)
    # Columns: all of them when the disc reaches a pole, else the disc's lon extent
    # (taken modulo W, so a disc on the seam covers both image edges).
    reach = radius_deg + pix
    if abs(lat) + reach >= 89.0:
        cols = np.arange(w)
    else:
        half = math.degrees(
            math.asin(min(1.0, math.sin(math.radians(reach)) / math.cos(math.radians(lat))))
        )
        x_c = (180.0 - lon) / 360.0 * w
        c0 = math.floor(x_c - half / 360.0 * w) - 1
        n_cols = min(w, math.ceil(2.0 * half / 360.0 * w) + 3)
        cols = (c0 + np.arange(n_cols)) % w
    lo, la = math.radians(lon), math.radians(lat)
    # cos of the great-circle distance from every pixel of the box to the centre.
    cos_dlon = clo[cols] * np.float32(math.cos(lo)) + slo[cols] * np.float32(math.sin(lo))
    dot = cla[r0:r1, None] * np.float32(math.cos(la)) * cos_dlon[None, :] + (
        sla[r0:r1, None] * np.float32(math.sin(la))
    )
    dist = np.rad2deg(np.arccos(np.clip(dot, -1.0, 1.0)))
    alpha = np.clip((radius_deg - dist) / pix + 0.5, 0.0, 1.0)
    rows, ci = np.nonzero(alpha)
    if rows.size == 0:
        return frame
    cols = cols[ci]
    a = alpha[rows, ci]
    rows = rows + r0
    col = np.asarray(color, dtype=np.float32)
    old = frame[rows, cols].astype(np.float32)
    if frame.ndim == 3:
        a = a[:, None]
        col = np.broadcast_to(col, (frame.shape[2],))
    new = old * (1.0 - a) + col * a
    if frame.dtype == np.uint8:
        new = np.clip(np.rint(new), 0, 255)
    frame[rows, cols] = new.astype(frame.dtype)
    return frame


def make_background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A textured, seamless ERP background ``(H, W, 3)`` uint8, muted so targets stand out.

    A sky-to-ground colour gradient, a dozen soft coloured blobs (von Mises bumps) and a
    few plane waves on the sphere: smooth everywhere, continuous across the seam and at
    the poles, never flat. Levels stay in ``[16, 190]`` (targets are bright and saturated).
    """
    v = erp_unit_vectors(width, height)
    z = v[..., 2]
    top = rng.uniform(60, 150, 3).astype(np.float32)
    bottom = rng.uniform(40, 120, 3).astype(np.float32)
    t = np.clip((z + 1.0) / 2.0, 0.0, 1.0)[..., None]
    img = bottom * (1.0 - t) + top * t
    for _ in range(12):
        m = rng.normal(size=3)
        m /= np.linalg.norm(m)
        kappa = np.float32(rng.uniform(3.0, 25.0))
        bump = np.exp(kappa * ((v @ m.astype(np.float32)) - 1.0))
        img += bump[..., None] * rng.uniform(-45, 45, 3).astype(np.float32)
    for _ in range(6):
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        f = np.float32(rng.uniform(4.0, 18.0))
        wave = np.sin(f * (v @ d.astype(np.float32)) + np.float32(rng.uniform(0, 2 * np.pi)))
        img += wave[..., None] * np.float32(rng.uniform(6, 16))
    return np.clip(np.rint(img), 16, 190).astype(np.uint8)


def render_frame(
    background: np.ndarray,
    targets_lonlat: np.ndarray | Sequence[tuple[float, float]],
    radii_deg: Sequence[float],
    colors: Sequence[Sequence[float]],
    index: int | None = None,
) -> np.ndarray:
    """One frame: a copy of ``background`` with the targets' discs and the barcode.

    Args:
        background: ``(H, W, 3)`` uint8 ERP image (not modified).
        targets_lonlat: ``(T, 2)`` pano ``(lon, lat)`` degrees of each target.
        radii_deg: ``(T,)`` angular radii.
        colors: ``(T, 3)`` RGB colours.
        index: frame index to write as a barcode (see :mod:`pano.synth.barcode`);
            ``None`` writes none.

    """
    frame = background.copy()
    for (lon, lat), r, c in zip(
        np.asarray(targets_lonlat, dtype=np.float64), radii_deg, colors, strict=True
    ):
        paint_marker(frame, float(lon), float(lat), float(r), c)
    if index is not None:
        encode_barcode(frame, index)
    return frame


def render_frame_yuv420p(
    background_yuv: np.ndarray,
    targets_lonlat: np.ndarray | Sequence[tuple[float, float]],
    radii_deg: Sequence[float],
    colors: Sequence[Sequence[float]],
    index: int | None = None,
) -> np.ndarray:
    """:func:`render_frame` drawn straight into yuv420p planes (no per-frame RGB conversion).

    Args:
        background_yuv: ``(3H/2, W)`` uint8 yuv420p background (see
            :func:`pano.video.writer.rgb_to_yuv420p`).
        targets_lonlat, radii_deg, colors, index: as for :func:`render_frame` (RGB colours).

    Returns:
        A new ``(3H/2, W)`` uint8 yuv420p frame for ``make_video(..., pix_fmt="yuv420p")``.
        Discs are painted on the full-resolution luma plane and the half-resolution chroma
        planes; the barcode area is neutral grey in chroma.

    """
    frame = background_yuv.copy()
    y, u, v = yuv420p_planes(frame)
    for (lon, lat), r, c in zip(
        np.asarray(targets_lonlat, dtype=np.float64), radii_deg, colors, strict=True
    ):
        cy, cu, cv = rgb_to_yuv(c)
        paint_marker(y, float(lon), float(lat), float(r), cy)
        paint_marker(u, float(lon), float(lat), float(r), cu)
        paint_marker(v, float(lon), float(lat), float(r), cv)
    if index is not None:
        encode_barcode(y, index)
        bh, bw = barcode_size(y.shape[1])
        u[: bh // 2, : bw // 2] = 128
        v[: bh // 2, : bw // 2] = 128
    return frame
