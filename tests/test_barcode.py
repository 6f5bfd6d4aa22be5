"""The frame-index barcode: exact round trips in memory and through real H.264 mp4 files."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch

from pano.errors import ShapeError, VideoError
from pano.synth import (
    barcode_block,
    barcode_size,
    decode_barcode,
    encode_barcode,
    make_background,
    render_frame,
    render_frame_yuv420p,
)
from pano.video.writer import make_video, rgb_to_yuv420p, yuv420p_planes


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


def test_rgb_to_yuv420p_matches_ffmpeg() -> None:
    rgb = make_background(128, 64, np.random.default_rng(2))
    ref = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p").to_ndarray()
    mine = rgb_to_yuv420p(rgb)
    assert mine.shape == (96, 128) and np.abs(mine.astype(int) - ref).max() <= 1
    y, u, v = yuv420p_planes(mine)
    assert y.shape == (64, 128) and u.shape == v.shape == (32, 64)
    with pytest.raises(ShapeError):
        rgb_to_yuv420p(np.zeros((63, 128, 3), np.uint8))


def test_yuv_rendering_matches_rgb_rendering(tmp_path: Path) -> None:
    """The yuv420p fast path draws what render_frame draws (up to chroma subsampling)."""
    rgb_bg = make_background(256, 128, np.random.default_rng(3))
    targets, radii, colors = (
        [(175.0, 5.0), (10.0, -30.0)],
        [12.0, 9.0],
        [(255, 40, 40), (40, 255, 60)],
    )
    rgb = render_frame(rgb_bg, targets, radii, colors, 9)
    yuv = render_frame_yuv420p(rgb_to_yuv420p(rgb_bg), targets, radii, colors, 9)
    back = av.VideoFrame.from_ndarray(yuv, format="yuv420p").to_ndarray(format="rgb24")
    diff = np.abs(back.astype(int) - rgb)
    assert np.median(diff) <= 2 and np.percentile(diff, 99) < 40
    assert decode_barcode(back) == 9
    path = tmp_path / "yuv.mp4"
    make_video(path, [yuv] * 3, 25.0, pix_fmt="yuv420p")
    assert _decode_all(path) == [9, 9, 9]


def test_make_video_rejects_bad_input(tmp_path: Path) -> None:
    frame = np.zeros((64, 128, 3), np.uint8)
    with pytest.raises(ValueError, match="n_frames"):
        make_video(tmp_path / "a.mp4", lambda i: frame)
    with pytest.raises(ValueError, match="preset"):
        make_video(tmp_path / "a.mp4", [frame], preset="warp")
    with pytest.raises(ShapeError, match="even"):
        make_video(tmp_path / "a.mp4", [np.zeros((63, 128, 3), np.uint8)])
    with pytest.raises(ShapeError, match="expected"):
        make_video(tmp_path / "a.mp4", [frame, np.zeros((32, 64, 3), np.uint8)])
    with pytest.raises(ShapeError):
        make_video(tmp_path / "a.mp4", [frame], pix_fmt="yuv420p")
    with pytest.raises(VideoError, match="no frames"):
        make_video(tmp_path / "a.mp4", [])
