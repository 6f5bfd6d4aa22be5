"""A frame-index barcode that survives H.264 compression.

Layout (top-left corner of the frame, block size ``b`` pixels, see :func:`barcode_block`):
two rows of 11 square blocks, each black (0) or white (255)::

    row 0:  W B d0 d1 ... d7  p0
    row 1:  B W d8 d9 ... d15 p1

``W B / B W`` is a fixed guard pattern (a 2x2 checker), ``d0..d15`` the frame index in
binary (``d0`` least significant), ``p0``/``p1`` even-parity bits of each row's eight
data bits. Indices ``0 .. 65535`` fit. Blocks are at least 8x8 pixels and aligned to the
8-pixel grid of the codec, so they survive lossy compression and ``yuv420p`` chroma
subsampling (all blocks are grey levels; only luma carries them).

Decoding reads the mean of each block's interior (a 1/4 margin is ignored), thresholds at
the midpoint of the guard blocks' levels, and checks guard and parity bits; a frame
without a readable barcode raises :class:`pano.errors.VideoError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pano.errors import ParameterError, ShapeError, VideoError

N_BITS = 16
MAX_INDEX = (1 << N_BITS) - 1
ROWS, COLS = 2, 11


def barcode_block(width: int) -> int:
    """Block size in pixels of the barcode for frames ``width`` pixels wide.

    ``max(8, 8 * (width // 1280))``: 8 px up to 2559 px wide, 24 px at 3840.
    """
    return max(8, 8 * (width // 1280))


def barcode_size(width: int) -> tuple[int, int]:
    """``(height, width)`` in pixels of the barcode area for frames ``width`` wide."""
    b = barcode_block(width)
    return ROWS * b, COLS * b


def _bits(index: int) -> np.ndarray:
    """The 2x11 block pattern (0/1) of ``index``."""
    data = [(index >> k) & 1 for k in range(N_BITS)]
    lo, hi = data[:8], data[8:]
    row0 = [1, 0, *lo, sum(lo) % 2]
    row1 = [0, 1, *hi, sum(hi) % 2]
    return np.array([row0, row1], dtype=np.uint8)


def encode_barcode(frame: np.ndarray, index: int) -> np.ndarray:
    """Paint the barcode of ``index`` into the top-left corner of ``frame`` (in place).

    Args:
        frame: ``(H, W, C)`` or ``(H, W)`` uint8 image (any channel count; every channel
            gets the same grey level).
        index: frame index, ``0 <= index <= 65535``.

    Returns:
        ``frame`` (modified in place).

    """
    if not isinstance(frame, np.ndarray) or frame.ndim not in (2, 3) or frame.dtype != np.uint8:
        raise ShapeError("encode_barcode: frame must be a (H, W[, C]) uint8 numpy array")
    if not 0 <= int(index) <= MAX_INDEX:
        raise ParameterError(f"encode_barcode: index {index} outside 0..{MAX_INDEX}")
    h, w = frame.shape[:2]
    b = barcode_block(w)
    bh, bw = ROWS * b, COLS * b
    if bh > h or bw > w:
        raise ShapeError(
            f"encode_barcode: a {w}x{h} frame is too small for the {bw}x{bh} px barcode"
        )
    blocks = np.kron(_bits(int(index)), np.ones((b, b), dtype=np.uint8)) * np.uint8(255)
    if frame.ndim == 3:
        frame[:bh, :bw, :] = blocks[:, :, None]
    else:
        frame[:bh, :bw] = blocks
    return frame


def _to_luma(frame: Any) -> np.ndarray:
    """Any supported frame -> ``(H, W)`` float64 luma on a 0..255 scale."""
    if type(frame).__module__.startswith("torch"):
        t = frame.detach().cpu()
        if t.ndim == 3:  # (C, H, W)
            t = t.float().mean(0)
        elif t.ndim != 2:
            raise ShapeError(
                f"decode_barcode: tensor must be (C, H, W) or (H, W), got {tuple(t.shape)}"
            )
        arr = t.double().numpy()
        is_float = frame.is_floating_point()
    else:
        arr = np.asarray(frame)
        is_float = np.issubdtype(arr.dtype, np.floating)
        if arr.ndim == 3:  # (H, W, C)
            arr = arr.astype(np.float64).mean(-1)
        elif arr.ndim != 2:
            raise ShapeError(f"decode_barcode: array must be (H, W, C) or (H, W), got {arr.shape}")
        arr = arr.astype(np.float64)
    if is_float and arr.size and np.nanmax(arr) <= 1.5:
        arr = arr * 255.0  # floats in [0, 1]
    return arr


def decode_barcode(frame: Any) -> int:
    """Read the frame index written by :func:`encode_barcode`.

    Args:
        frame: the whole frame at its original resolution, as a numpy ``(H, W, 3)`` RGB or
            ``(H, W)`` luma array (uint8 or float), or a torch tensor ``(C, H, W)`` /
            ``(H, W)`` (uint8 0..255 or float; floats whose maximum is <= 1.5 are taken as
            0..1).

    Returns:
        The frame index.

    Raises:
        VideoError: no valid barcode (guard or parity check failed).

    """
    luma = _to_luma(frame)
    h, w = luma.shape
    b = barcode_block(w)
    if ROWS * b > h or COLS * b > w:
        raise VideoError(f"decode_barcode: a {w}x{h} frame is too small to hold a barcode")
    m = b // 4
    cells = luma[: ROWS * b, : COLS * b].reshape(ROWS, b, COLS, b)[:, m : b - m, :, m : b - m]
    level = cells.mean(axis=(1, 3))  # (ROWS, COLS)
    white = (level[0, 0] + level[1, 1]) / 2
    black = (level[0, 1] + level[1, 0]) / 2
    if not white - black > 64:
        raise VideoError(
            f"decode_barcode: no barcode found (guard contrast {white - black:.0f} of 255)"
        )
    bits = (level > (white + black) / 2).astype(np.int64)
    lo, hi = bits[0, 2:10], bits[1, 2:10]
    if (
        bits[0, 0] != 1 or bits[0, 1] != 0 or bits[1, 0] != 0 or bits[1, 1] != 1
        or lo.sum() % 2 != bits[0, 10] or hi.sum() % 2 != bits[1, 10]
    ):  # fmt: skip
        raise VideoError("decode_barcode: barcode guard or parity check failed")
    data = np.concatenate([lo, hi])
    return int((data << np.arange(N_BITS)).sum())
