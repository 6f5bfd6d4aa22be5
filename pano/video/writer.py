"""Writing frames as H.264 mp4 files (PyAV/libx264), and the yuv420p layout it accepts.

The counterpart of the decoders in :mod:`pano.video`: frames are ``(H, W, 3)`` uint8 RGB
arrays, or ``(3H/2, W)`` uint8 planar yuv420p arrays (PyAV's layout: Y rows, then U, then
V; see :func:`rgb_to_yuv420p`) that are passed to the encoder without conversion. Colour
conversion is BT.601 limited range, FFmpeg's default for untagged SD/HD H.264.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from pano.errors import ParameterError, ShapeError, UnknownNameError, VideoError

#: x264 speed presets accepted by :func:`make_video` (fastest first).
X264Preset = Literal[
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
]
X264_PRESETS: tuple[str, ...] = get_args(X264Preset)

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
        raise UnknownNameError(
            f"make_video: unknown x264 preset {preset!r}; use one of {X264_PRESETS}"
        )
    if callable(frames):
        if n_frames is None:
            raise ParameterError("make_video: n_frames is required when frames is a function")
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
