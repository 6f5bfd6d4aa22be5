"""The frame-index barcode: exact round trips in memory and through real H.264 mp4 files."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch

from pano.errors import ShapeError, VideoError
from pano.testing import (
    barcode_block,
    barcode_size,
    decode_barcode,
    encode_barcode,
    make_background,
    make_video,
    render_frame,
)


@pytest.mark.parametrize("width", [128, 640, 1280, 3840])
def test_round_trip_in_memory(width: int) -> None:
    rng = np.random.default_rng(width)
    tile = rng.integers(0, 256, (64, 128, 3), dtype=np.uint8)
    frame = np.tile(tile, (width // 128, width // 128, 1))[: width // 2]
    for index in (0, 1, 2, 255, 256, 4097, 65535):
        assert decode_barcode(encode_barcode(frame, index)) == index


def test_block_size_and_area() -> None:
    assert barcode_block(640) == 8
    assert barcode_block(3840) == 24
    assert barcode_size(128) == (16, 88)
    for w in (128, 640, 1920, 3840, 7680):
        bh, bw = barcode_size(w)
        assert bh <= w // 2 and bw <= w and barcode_block(w) >= 8


def test_decode_accepts_luma_and_tensors() -> None:
    frame = np.full((64, 128, 3), 90, dtype=np.uint8)
    encode_barcode(frame, 1234)
    luma = frame.mean(-1).astype(np.uint8)
    chw_u8 = torch.from_numpy(frame).permute(2, 0, 1).contiguous()
    assert decode_barcode(luma) == 1234
    assert decode_barcode(luma.astype(np.float32) / 255.0) == 1234
    assert decode_barcode(chw_u8) == 1234
    assert decode_barcode(chw_u8.float() / 255.0) == 1234
    assert decode_barcode(chw_u8.float()) == 1234
    assert decode_barcode(torch.from_numpy(luma)) == 1234


def test_encode_grey_frame_in_place() -> None:
    frame = np.zeros((64, 128), dtype=np.uint8)
    out = encode_barcode(frame, 7)
    assert out is frame and decode_barcode(frame) == 7


def test_bad_inputs() -> None:
    frame = np.zeros((64, 128, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="outside"):
        encode_barcode(frame, 65536)
    with pytest.raises(ValueError, match="outside"):
        encode_barcode(frame, -1)
    with pytest.raises(ShapeError):
        encode_barcode(frame.astype(np.float32), 1)
    with pytest.raises(ShapeError, match="too small"):
        encode_barcode(np.zeros((8, 64, 3), np.uint8), 1)
    with pytest.raises(VideoError, match="no barcode"):
        decode_barcode(np.full((64, 128, 3), 128, np.uint8))
    corrupted = encode_barcode(frame.copy(), 5)
    corrupted[0:8, 16:24] = 255 - corrupted[0:8, 16:24]  # flip data bit 0: parity fails
    with pytest.raises(VideoError, match="parity"):
        decode_barcode(corrupted)
    with pytest.raises(ShapeError):
        decode_barcode(np.zeros((2, 3, 4, 5)))


def _decode_all(path: Path) -> list[int]:
    with av.open(str(path)) as c:
        return [decode_barcode(f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]


@pytest.mark.parametrize("crf", [18, 40])
def test_round_trip_through_h264(tmp_path: Path, crf: int) -> None:
    """Every frame of a real H.264 mp4 (textured, moving discs, B-frames) decodes exactly."""
    bg = make_background(128, 64, np.random.default_rng(0))
    n = 75
    path = tmp_path / "clip.mp4"

    def frame(i: int) -> np.ndarray:
        return render_frame(
            bg,
            [(i * 4.0 - 150, 10.0), (-i * 3.0, 80.0)],
            [10, 8],
            [(255, 40, 40), (40, 255, 60)],
            i,
        )

    assert make_video(path, frame, 30.0, n_frames=n, crf=crf, preset="medium") == n
    assert _decode_all(path) == list(range(n))


def test_round_trip_large_indices_and_seek(tmp_path: Path) -> None:
    """Indices above 255 (both barcode rows) and frames read after a seek decode exactly."""
    bg = make_background(256, 128, np.random.default_rng(1))
    start = 60000
    frames = (render_frame(bg, [], [], [], start + i) for i in range(40))
    path = tmp_path / "clip.mp4"
    make_video(path, frames, 29.97, crf=23, gop=10)
    assert _decode_all(path) == list(range(start, start + 40))
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert s.average_rate is not None and abs(float(s.average_rate) - 29.97) < 1e-3
        c.seek(int(25 / float(s.average_rate) / s.time_base), stream=s, backward=True)
        first = next(c.decode(video=0))
        got = decode_barcode(first.to_ndarray(format="rgb24")) - start
        expect = round(float(first.pts * s.time_base) * float(s.average_rate))
        assert got == expect and got <= 25
