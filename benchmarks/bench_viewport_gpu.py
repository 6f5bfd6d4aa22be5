"""GPU viewport and streaming throughput (runs on the CPU too, as a smoke test with a note).

Sampler (CUDA events, median of repetitions, frames already on the device):

* 58 viewports 224x224 (FoV 90, bilinear) from one 1920x960 and one 3840x1920 frame,
  anti-aliased and not, float32 and float16 frames;
* the same from a batch of 8 frames (464 viewports, ``frame_index``);
* 58 DHP views 42x42 (luma, bicubic, FoV 110x113);
* including the upload of the uint8 frame from pinned host memory.

Streaming (``--stream``): decode-only vs ``stream_viewports`` (decode + 58 viewports per
frame) frames/s on a synthetic H.264 clip, with the backend ``auto`` picks (torchcodec /
NVDEC when it imports with CUDA, else PyAV with pinned copies) and with PyAV.

The physical ceiling for comparison (docs/benchmarks.md): one NVDEC engine decodes about
770 fps of 1080p H.264, about 217 fps of 3840x1920 - far below what the sampler renders,
so a streaming pipeline on a GPU should be decode-bound (stream/decode close to 1).

Run: ``python benchmarks/bench_viewport_gpu.py [--quick] [--stream] [--width 3840]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch


def timed(fn: Callable[[], object], device: torch.device, reps: int) -> float:
    """Median seconds per call (CUDA events on a GPU, perf_counter on the CPU)."""
    fn()
    out = []
    for _ in range(reps):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            out.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return statistics.median(out)


def _width_rows(width: int, device: torch.device, reps: int) -> list[tuple[str, int, float]]:
    from pano.synth import make_background
    from pano.viewport import ViewportSampler

    rng = np.random.default_rng(1)
    n = 58
    yaw = torch.tensor(rng.uniform(-180, 180, n), device=device)
    pitch = torch.tensor(np.clip(rng.normal(0, 25, n), -85, 85), device=device)
    host = torch.from_numpy(make_background(width, width // 2, rng)).permute(2, 0, 1).contiguous()
    frame = host.to(device)
    f32 = frame.float() / 255.0
    pinned = host.pin_memory() if device.type == "cuda" else host
    aa, raw, dhp = (
        ViewportSampler(),
        ViewportSampler(antialias=False),
        ViewportSampler(remap_compat=True),
    )
    batch = frame[None].expand(8, -1, -1, -1).clone()
    idx = torch.arange(8, device=device).repeat_interleave(n)
    yaw8, pitch8 = yaw.repeat(8), pitch.repeat(8)

    def fresh(
        s: ViewportSampler, x: torch.Tensor, *more: torch.Tensor, **kw: torch.Tensor
    ) -> torch.Tensor:
        s._last = None  # time the per-frame preparation too (a new frame every call)
        return s(x, *(more or (yaw, pitch)), **kw)

    size = f"{width}x{width // 2}"
    cases: list[tuple[str, int, Callable[[], object]]] = [
        (f"{size} u8, 58x224 antialias", n, lambda: fresh(aa, frame)),
        (f"{size} u8, 58x224 no antialias", n, lambda: fresh(raw, frame)),
        (f"{size} f32, 58x224 antialias", n, lambda: fresh(aa, f32)),
        (f"{size} f16, 58x224 antialias", n, lambda: fresh(aa, f32.half())),
        (
            f"{size} u8 + pinned H2D, 58x224",
            n,
            lambda: fresh(aa, pinned.to(device, non_blocking=True)),
        ),
        (
            f"{size} u8 x8 frames, 464x224",
            8 * n,
            lambda: fresh(aa, batch, yaw8, pitch8, frame_index=idx),
        ),
        (f"{size} luma, 58 DHP 42x42", n, lambda: fresh(dhp, frame[:1])),
    ]
    return [(name, views, timed(fn, device, reps)) for name, views, fn in cases]


def sampler_rows(device: torch.device, reps: int) -> list[tuple[str, int, float]]:
    return [row for width in (1920, 3840) for row in _width_rows(width, device, reps)]


def stream_rows(device: torch.device, width: int, seconds: float) -> list[str]:
    from bench_streaming import build, fps_of

    from pano.stores import read_video_attrs, resolve_video_path, stream_viewports
    from pano.stores.reader import read_root_attrs
    from pano.video import open_video

    tmp = Path(tempfile.mkdtemp(prefix="pano-gpu-bench-"))
    lines = []
    try:
        store, data, video = build(tmp, seconds, width)
        va = read_video_attrs(store, video)
        path = resolve_video_path(store, read_root_attrs(store), va.video.path, data)
        for backend in ("auto", "pyav"):

            def decode(backend: str = backend) -> int:
                with open_video(path, backend=backend, device=device) as dec:
                    n = sum(1 for _ in dec.iter_frames())
                if device.type == "cuda":
                    torch.cuda.synchronize()
                return n

            def stream(backend: str = backend) -> int:
                n = sum(1 for _ in stream_viewports(store, video, backend=backend, device=device))
                if device.type == "cuda":
                    torch.cuda.synchronize()
                return n

            with open_video(path, backend=backend, device=device) as dec:
                chosen = f"{dec.backend} ({dec.reason})"
            d, s = fps_of(decode, 2), fps_of(stream, 2)
            lines.append(
                f"{backend:<6} -> {chosen}\n       decode {d:8.1f} fps   "
                f"stream (58x224) {s:8.1f} fps   ratio {s / d:4.2f}"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return lines


def main() -> None:
    from bench_viewport import machine

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--stream", action="store_true", help="also measure decode and streaming")
    ap.add_argument("--width", type=int, default=1920, help="clip width for --stream")
    ap.add_argument("--seconds", type=float, default=4.0, help="clip length for --stream")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"machine: {machine()}")
    if device.type == "cuda":
        print(f"gpu: {torch.cuda.get_device_name(device)}")
    else:
        print("NOTE: no CUDA device - a CPU smoke test (1 repetition); these are NOT GPU numbers.")
    print()
    reps = 1 if device.type == "cpu" else (5 if args.quick else 30)
    print(f"{'case':<34} {'views/s':>11} {'frames/s':>10} {'ms/call':>9}")
    for name, n, sec in sampler_rows(device, reps):
        print(f"{name:<34} {n / sec:>11.0f} {n / 58 / sec:>10.1f} {sec * 1e3:>9.2f}")
    if args.stream:
        print()
        for line in stream_rows(device, args.width, 2.0 if args.quick else args.seconds):
            print(line)


if __name__ == "__main__":
    main()
