"""Normalisation warps/s: pano (kornia, batched) vs a per-image ``cv2.warpPerspective`` loop.

Both warp the SAME images (synthetic 1280x720 RGB uint8 camera frames, the size of most
MPIIFaceGaze images) with the SAME matrices ``W = C_norm S R C_cam^-1`` (GazeHub's virtual
camera: 600 mm, focal 960 px, 224x224) from :func:`pano.gaze.normalize.normalisation_transform`,
bilinear, uint8 in and uint8 out. pano's path is :func:`pano.gaze.normalize.warp_uint8_hwc`
(one kornia ``warp_perspective`` call per batch, on ``--device``); OpenCV's is the loop
GazeHub's ``data_processing_mpii.py`` runs (one call per image, CPU). The timings are
interleaved (round-robin) medians of wall and process CPU time; "max |diff|" is the
largest absolute difference between the two outputs over all pixels of all images (grey
levels, 0..255), a guard that they compute the same warp.

Run: ``python benchmarks/bench_gaze_normalise.py [--device auto|cpu|cuda] [--batch 64]
[--reps 7]``. On a CUDA machine the same script times the GPU (images already on the device;
a second line includes the host -> device copy of the frames).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np
import torch

from pano.device import resolve_device
from pano.gaze.normalize import (
    NormalisationParams,
    head_rotation_from_rotvec,
    normalisation_transform,
    warp_uint8_hwc,
)


def machine() -> str:
    cpu = platform.processor() or "cpu"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()
    return (
        f"{cpu}, {len(os.sched_getaffinity(0))} usable cores, load average "
        f"{load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), OpenCV {cv2.__version__} "
        f"({cv2.getNumThreads()} threads), python {platform.python_version()}"
    )


def frames(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` textured 720x1280 RGB uint8 frames (smoothed noise, so bilinear weights matter)."""
    base = rng.integers(0, 256, size=(n, 180, 320, 3), dtype=np.uint8)
    return np.stack(
        [
            cv2.GaussianBlur(cv2.resize(b, (1280, 720), interpolation=cv2.INTER_CUBIC), (5, 5), 1.5)
            for b in base
        ]
    )


def matrices(n: int, rng: np.random.Generator, params: NormalisationParams) -> torch.Tensor:
    """Warps of ``n`` faces 450-750 mm away, up to ~15 deg off axis, heads turned up to ~0.3 rad."""
    cam = torch.tensor([[1000.0, 0, 640.0], [0, 1000.0, 360.0], [0, 0, 1.0]], dtype=torch.float64)
    z = rng.uniform(450, 750, n)
    fc = np.stack([rng.uniform(-0.25, 0.25, n) * z, rng.uniform(-0.15, 0.15, n) * z, z], axis=1)
    rot = rng.normal(0, 0.15, (n, 3))
    hrot = head_rotation_from_rotvec(torch.from_numpy(rot))
    return normalisation_transform(torch.from_numpy(fc), hrot, cam, params).warp


def interleaved(fns: dict[str, Callable[[], object]], reps: int) -> dict[str, tuple[float, float]]:
    """Median (wall s, process CPU s) per call of each function, round-robin after a warm-up.

    The CPU time (all threads of this process) is what a method costs whatever else runs on a
    shared machine.
    """
    for fn in fns.values():
        fn()
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            times[k].append((time.perf_counter() - w0, time.process_time() - c0))
    return {
        k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v))
        for k, v in times.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    dev = resolve_device(args.device)
    params = NormalisationParams()
    rng = np.random.default_rng(0)
    imgs = frames(args.batch, rng)
    warp = matrices(args.batch, rng, params)
    warp_np = warp.numpy()
    size = (params.width_px, params.height_px)
    host = torch.from_numpy(imgs)
    on_dev = host.to(dev)
    warp_dev = warp.to(dev)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    def kornia_batched() -> torch.Tensor:
        out = warp_uint8_hwc(on_dev, warp_dev, params)
        sync()
        return out

    def kornia_with_copy() -> torch.Tensor:
        out = warp_uint8_hwc(host.to(dev, non_blocking=False), warp_dev, params)
        sync()
        return out

    def opencv_loop() -> list[np.ndarray]:
        return [
            cv2.warpPerspective(imgs[i], warp_np[i], size, flags=cv2.INTER_LINEAR)
            for i in range(args.batch)
        ]

    fns: dict[str, Callable[[], object]] = {"kornia": kornia_batched, "opencv": opencv_loop}
    if dev.type == "cuda":
        fns["kornia+copy"] = kornia_with_copy
    t = interleaved(fns, args.reps)
    ours = kornia_batched().cpu().numpy()
    ref = np.stack(opencv_loop())
    diff = np.abs(ours.astype(np.int16) - ref.astype(np.int16))
    print(f"machine: {machine()}")
    print(f"device: {dev}; batch {args.batch} frames 1280x720 -> 224x224, {args.reps} reps")
    print(f"{'method':<28}{'wall s/batch':>13}{'warps/s':>9}{'CPU s/batch':>13}")
    labels = {
        "kornia": f"pano kornia batched ({dev.type})",
        "kornia+copy": "pano kornia + H2D copy",
        "opencv": "cv2.warpPerspective loop",
    }
    for k, (sec, cpu) in t.items():
        print(f"{labels[k]:<28}{sec:>13.4f}{args.batch / sec:>9.0f}{cpu:>13.4f}")
    print(
        f"max |diff| {int(diff.max())} grey levels; mean {diff.mean():.3f}; "
        f"pixels differing by > 1: {100.0 * (diff > 1).mean():.3f}%"
    )


if __name__ == "__main__":
    main()
