"""Rendering synthetic equirectangular frames and writing them as H.264 mp4 files.

Frames are ``(H, W, 3)`` uint8 RGB arrays in pano's ERP convention (column 0 at the left
edge, +lon to the LEFT, row 0 at the top; see :mod:`pano.geometry`). Everything drawn on
the sphere is computed per pixel from great-circle distances, so a disc stays a disc near
the poles and wraps across the ±180° seam.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from pano.errors import ShapeError, VideoError
from pano.geometry import erp_grid_lonlat
from pano.testing.barcode import barcode_size, encode_barcode

#: x264 speed presets accepted by :func:`make_video` (fastest first).
X264Preset = Literal[
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
]
X264_PRESETS: tuple[str, ...] = get_args(X264Preset)


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
        raise ValueError(f"paint_marker: radius_deg must be > 0, got {radius_deg}")
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
        index: frame index to write as a barcode (see :mod:`pano.testing.barcode`);
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


# BT.601 limited-range RGB -> YCbCr, FFmpeg's default for untagged SD/HD H.264.
_YUV = np.array(
    [
        [0.256788, 0.504129, 0.097906],
        [-0.148223, -0.290993, 0.439216],
        [0.439216, -0.367788, -0.071427],
    ],
    dtype=np.float32,
)
_YUV_OFFSET = np.array([16.0, 128.0, 128.0], dtype=np.float32)


def rgb_to_yuv(color: Sequence[float]) -> tuple[float, float, float]:
    """One RGB colour (0-255) -> ``(Y, U, V)`` (BT.601, limited range)."""
    y, u, v = _YUV @ np.asarray(color, dtype=np.float32) + _YUV_OFFSET
    return float(y), float(u), float(v)


def rgb_to_yuv420p(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB -> ``(3H/2, W)`` uint8 planar yuv420p (PyAV's array layout).

    BT.601 limited range (FFmpeg's default), chroma = mean of each 2x2 block. ``H`` and
    ``W`` must be even. Rows ``[0, H)`` hold Y, then U (``H/2 x W/2`` flattened into
    ``H/4`` rows of ``W``), then V.
    """
    h, w = rgb.shape[:2]
    if rgb.ndim != 3 or rgb.shape[2] != 3 or h % 2 or w % 2:
        raise ShapeError(f"rgb_to_yuv420p: need (H, W, 3) with even H, W; got {rgb.shape}")
    x = rgb.astype(np.float32)
    out = np.empty((h * 3 // 2, w), dtype=np.uint8)
    out[:h] = np.clip(np.rint(x @ _YUV[0] + _YUV_OFFSET[0]), 0, 255)
    mean = x.reshape(h // 2, 2, w // 2, 2, 3).mean(axis=(1, 3))
    for k, rows in ((1, slice(h, h + h // 4)), (2, slice(h + h // 4, None))):
        plane = np.clip(np.rint(mean @ _YUV[k] + _YUV_OFFSET[k]), 0, 255)
        out[rows] = plane.reshape(h // 4, w)
    return out


def yuv420p_planes(yuv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views ``(Y (H, W), U (H/2, W/2), V (H/2, W/2))`` of a ``(3H/2, W)`` yuv420p array."""
    h, w = yuv.shape[0] * 2 // 3, yuv.shape[1]
    q = h + h // 4
    return yuv[:h], yuv[h:q].reshape(h // 2, w // 2), yuv[q:].reshape(h // 2, w // 2)


def render_frame_yuv420p(
    background_yuv: np.ndarray,
    targets_lonlat: np.ndarray | Sequence[tuple[float, float]],
    radii_deg: Sequence[float],
    colors: Sequence[Sequence[float]],
    index: int | None = None,
) -> np.ndarray:
    """:func:`render_frame` drawn straight into yuv420p planes (no per-frame RGB conversion).

    Args:
        background_yuv: ``(3H/2, W)`` uint8 yuv420p background (see :func:`rgb_to_yuv420p`).
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


def _rate(fps: float) -> Fraction:
    """Frame rate as a fraction; NTSC-style rates (29.97, 59.94, 23.976) become n*1000/1001."""
    ntsc = round(fps * 1.001)
    if abs(fps * 1.001 - ntsc) < 1e-3 and abs(fps - ntsc) > 1e-3:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(fps).limit_denominator(1000)


def make_video(
    path: str | Path,
    frames: Iterable[np.ndarray] | Callable[[int], np.ndarray],
    fps: float = 30.0,
    *,
    n_frames: int | None = None,
    crf: int = 18,
    preset: str = "veryfast",
    gop: int | None = None,
    pix_fmt: Literal["rgb24", "yuv420p"] = "rgb24",
) -> int:
    """Write frames as an H.264 (libx264, yuv420p) mp4 with PyAV.

    Args:
        path: output ``.mp4`` path (overwritten).
        frames: an iterable of ``(H, W, 3)`` uint8 RGB frames, or a function
            ``index -> frame`` (then ``n_frames`` is required). ``W`` and ``H`` must be even.
        fps: frame rate (29.97-style rates are written as 30000/1001).
        crf: x264 constant rate factor (0 = lossless, 18 = visually lossless, 51 = worst).
        preset: x264 speed preset (see :data:`X264_PRESETS`).
        gop: key-frame interval in frames (default: about one per second).
        pix_fmt: ``"rgb24"``: frames are ``(H, W, 3)`` RGB; ``"yuv420p"``: frames are
            ``(3H/2, W)`` planar arrays (see :func:`rgb_to_yuv420p`), passed to the
            encoder without conversion (faster).

    Returns:
        The number of frames written.

    """
    import av

    if preset not in X264_PRESETS:
        raise ValueError(f"make_video: unknown x264 preset {preset!r}; use one of {X264_PRESETS}")
    if callable(frames):
        if n_frames is None:
            raise ValueError("make_video: n_frames is required when frames is a function")
        fn = frames
        source: Iterable[np.ndarray] = (fn(i) for i in range(n_frames))
    else:
        source = frames
    rate = _rate(fps)
    count = 0
    with av.open(str(path), mode="w") as container:
        stream = None
        for frame in source:
            if pix_fmt == "rgb24":
                ok = frame.ndim == 3 and frame.shape[2] == 3
                h, w = frame.shape[:2]
            else:
                ok = frame.ndim == 2 and frame.shape[0] % 3 == 0
                h, w = frame.shape[0] * 2 // 3, frame.shape[1]
            if not ok or frame.dtype != np.uint8:
                want = "(H, W, 3)" if pix_fmt == "rgb24" else "(3H/2, W)"
                raise ShapeError(
                    f"make_video: {pix_fmt} frames must be {want} uint8, got {frame.shape}"
                )
            if stream is None:
                if h % 2 or w % 2:
                    raise ShapeError(
                        f"make_video: width and height must be even for yuv420p, got {w}x{h}"
                    )
                stream = container.add_stream("libx264", rate=rate)
                stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
                stream.options = {
                    "crf": str(crf), "preset": preset,
                    "g": str(gop if gop is not None else max(1, round(fps))),
                }  # fmt: skip
            elif (h, w) != (stream.height, stream.width):
                size = (stream.height, stream.width)
                raise ShapeError(f"make_video: frame {count} is {(h, w)}, expected {size}")
            vf = av.VideoFrame.from_ndarray(frame, format=pix_fmt)
            for packet in stream.encode(vf):
                container.mux(packet)
            count += 1
        if stream is None:
            raise VideoError(f"make_video: no frames given for {path}")
        for packet in stream.encode():
            container.mux(packet)
    return count
