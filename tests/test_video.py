"""Video decoding: frame accuracy (barcodes) per CPU backend, backend choice, errors, prefetch."""

from __future__ import annotations

import logging
import pickle
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from pano.errors import ConfigError, ShapeError, VideoError
from pano.probe import VideoInfo
from pano.synth import decode_barcode
from pano.testing import barcode_frame, write_barcode_video
from pano.video import Prefetcher, available_backends, choose_backend, open_video
from pano.video import select as video_select

W, H, N = 256, 128, 40
N_HEVC = 24
CPU_BACKENDS = [b for b in ("pyav", "decord") if available_backends()[b][0]]


def _frame(i: int) -> np.ndarray:
    return barcode_frame(i, W, H)


@pytest.fixture(scope="module")
def h264(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    return write_barcode_video(path, N, W, H, fps=30.0, gop=8)


@pytest.fixture(scope="module")
def hevc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HEVC with open GOPs and B-frames: the case decord mis-seeks."""
    import av

    path = tmp_path_factory.mktemp("video") / "open_gop.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx265", rate=30)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.options = {"x265-params": "keyint=8:min-keyint=8:open-gop=1:bframes=4:log-level=error"}
        for i in range(N_HEVC):
            for p in s.encode(av.VideoFrame.from_ndarray(_frame(i), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def _indices(frames: torch.Tensor) -> list[int]:
    return [decode_barcode(f) for f in frames]


@pytest.mark.parametrize("gray", [False, True], ids=["rgb", "gray"])
@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_reads_are_frame_accurate(h264: Path, backend: str, gray: bool) -> None:
    with open_video(h264, backend=backend, device="cpu", gray=gray) as dec:
        assert len(dec) == N and dec.size == (H, W) and dec.fps == pytest.approx(30.0)
        frames = list(dec.iter_frames())
        assert _indices(torch.stack(frames)) == list(range(N))
        assert frames[0].shape == ((1 if gray else 3), H, W) and frames[0].dtype == torch.uint8
        order = [33, 5, 5, 39, 0, 17, 18, 19, 9, 2]  # random order, repeats, backwards jumps
        out = dec.read(order)
        assert out.shape == (len(order), 1 if gray else 3, H, W)
        assert _indices(out) == order
        assert _indices(dec.read(range(20, 28))) == list(range(20, 28))  # a clip
        assert _indices(torch.stack(list(dec.iter_frames(11, 30, 6)))) == [11, 17, 23, 29]
        assert _indices(torch.stack(list(dec.iter_frames(35)))) == list(range(35, N))
        assert dec.read([]).shape == (0, 1 if gray else 3, H, W)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_backends_agree(h264: Path, backend: str) -> None:
    with (
        open_video(h264, backend="pyav", device="cpu") as ref,
        open_video(h264, backend=backend, device="cpu") as dec,
    ):
        a, b = ref.read([3, 30]).float(), dec.read([3, 30]).float()
        assert (a - b).abs().mean() < 2.0  # same frames; colour conversion may differ slightly


def test_coded_luma_is_the_y_plane_with_its_levels(h264: Path) -> None:
    import av

    with (
        open_video(h264, backend="pyav", device="cpu", gray=True) as full,
        open_video(h264, backend="pyav", device="cpu", gray=True, luma="coded") as coded,
    ):
        f, c = full.read([0, 5]), coded.read([0, 5])
        assert (full.luma, full.luma_levels) == ("full", (0, 255))
        assert (coded.luma, coded.luma_levels) == ("coded", (16, 235))  # limited range
    with av.open(str(h264)) as container:
        frame = next(container.decode(video=0))
        plane = frame.planes[0]
        y = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : frame.width]
    assert torch.equal(c[0, 0], torch.from_numpy(y.copy()))
    # FFmpeg's full-range luma is the coded Y through (y - 16) * 255 / 219, rounded.
    lut = np.clip(np.floor((np.arange(256) - 16) * 255 / 219 + 0.5), 0, 255).astype(np.uint8)
    assert torch.equal(f, torch.from_numpy(lut[c.numpy()]))
    with open_video(h264, backend="pyav", device="cpu", gray=False, luma="coded") as rgb:
        assert rgb.read([0]).shape[1] == 3  # luma= only concerns gray frames
    with pytest.raises(ConfigError, match="luma must be"):
        open_video(h264, backend="pyav", device="cpu", gray=True, luma="tv")


def test_pyav_exact_on_hevc_open_gop(hevc: Path) -> None:
    rng = np.random.default_rng(0)
    order = rng.permutation(N_HEVC).tolist()
    with open_video(hevc, backend="pyav", device="cpu") as dec:
        assert dec.info.codec == "hevc"
        assert [decode_barcode(dec.read([i])[0]) for i in order[:10]] == order[:10]
        assert _indices(dec.read(order)) == order


def test_auto_never_picks_decord_for_hevc_or_av1(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pretend a CUDA machine whose decord build has CUDA but whose torchcodec is missing.
    monkeypatch.setattr(video_select, "torchcodec_status", lambda: (False, "not installed"))
    monkeypatch.setattr(video_select, "decord_has_cuda", lambda path: True)
    cuda = torch.device("cuda")
    for codec in ("hevc", "av1", "libdav1d"):
        info = VideoInfo(fps=30.0, n_frames=10, width=W, height=H, codec=codec, duration_s=1 / 3)
        assert choose_backend(info, cuda, "x.mp4")[0] == "pyav"
        assert choose_backend(info, torch.device("cpu"), "x.mp4")[0] == "pyav"
    info = VideoInfo(fps=30.0, n_frames=10, width=W, height=H, codec="h264", duration_s=1 / 3)
    assert choose_backend(info, cuda, "x.mp4")[0] == "decord"
    monkeypatch.setattr(video_select, "torchcodec_status", lambda: (True, "ok"))
    assert choose_backend(info, cuda, "x.mp4")[0] == "torchcodec"
    big = VideoInfo(fps=30.0, n_frames=10, width=7680, height=3840, codec="h264", duration_s=1 / 3)
    assert choose_backend(big, cuda, "x.mp4")[0] == "decord"  # NVDEC H.264 stops at 4096


def test_auto_logs_its_choice(h264: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="pano.video"):
        dec = open_video(h264, device="cpu")
    assert dec.backend == "pyav" and "fastest" in dec.reason
    assert any("clip.mp4: decoding with pyav on cpu" in r.getMessage() for r in caplog.records)
    dec.close()


def test_read_to_device(h264: Path, device: torch.device) -> None:
    with open_video(h264, backend="pyav", device=device) as dec:
        out = dec.read([4, 1])
        assert out.device.type == device.type and _indices(out) == [4, 1]
        first = next(iter(dec.iter_frames(7)))
        assert first.device.type == device.type and decode_barcode(first) == 7


def test_errors_name_the_file(tmp_path: Path, h264: Path) -> None:
    with pytest.raises(VideoError, match=r"missing\.mp4"):
        open_video(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(VideoError, match=r"junk\.mp4"):
        open_video(junk)
    with pytest.raises(ConfigError, match="unknown video backend"):
        open_video(h264, backend="ffmpeg-cli")
    if not available_backends()["torchcodec"][0]:
        with pytest.raises(VideoError, match=r"torchcodec.*unavailable"):
            open_video(h264, backend="torchcodec", device="cpu")
    dec = open_video(h264, device="cpu")
    with pytest.raises(ShapeError, match=r"\[0, 40\)"):
        dec.read([0, 40])
    with pytest.raises(ShapeError, match="integers"):
        dec.read(np.array([1.5]))
    with pytest.raises(TypeError, match="open the video inside each worker"):
        pickle.dumps(dec)
    dec.close()
    with pytest.raises(VideoError, match="closed"):
        dec.read([0])


def test_truncated_file_raises_or_stops_early(tmp_path: Path, h264: Path) -> None:
    cut = tmp_path / "cut.mp4"
    data = h264.read_bytes()
    cut.write_bytes(data[: len(data) // 2])  # moov atom (at the end) is gone
    with pytest.raises(VideoError, match=r"cut\.mp4"):
        open_video(cut)


# ---------------------------------------------------------------------------- prefetcher


def test_prefetcher_order_and_bound() -> None:
    produced: list[int] = []

    def gen():  # type: ignore[no-untyped-def]
        for i in range(50):
            produced.append(i)
            yield i

    with Prefetcher(gen(), depth=3) as pf:
        first = next(pf)
        time.sleep(0.2)
        assert len(produced) <= 1 + 3 + 1  # consumed + queued + one blocked in put
        assert [first, *pf] == list(range(50))


def test_prefetcher_propagates_exceptions() -> None:
    def gen():  # type: ignore[no-untyped-def]
        yield 1
        raise VideoError("boom.mp4: bad frame")

    pf = Prefetcher(gen(), depth=2)
    assert next(pf) == 1
    with pytest.raises(VideoError, match="boom"):
        next(pf)
    with pytest.raises(StopIteration):
        next(pf)


def test_prefetcher_close_stops_the_producer() -> None:
    closed = threading.Event()

    def gen():  # type: ignore[no-untyped-def]
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    pf = Prefetcher(gen(), depth=2)
    assert next(pf) == 0
    pf.close()
    assert closed.wait(5.0)
    assert not pf._thread.is_alive()
    with pytest.raises(StopIteration):
        next(pf)
    with pytest.raises(ValueError, match="depth"):
        Prefetcher([], depth=0)
