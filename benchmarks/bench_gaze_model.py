"""Gaze model throughput: training and inference images/s per backbone, side by side.

For each backbone (default ``pano_cnn_small``, ``swin_tiny_patch4_window7_224``,
``swin_base_patch4_window7_224``) the full DGE-GM model (:class:`pano.models.gaze_grm.GazeGRM`,
hidden 1024) runs on random 224x224 faces in [0, 1]:

- inference: ``model.eval()``, ``torch.inference_mode()``, one forward per batch;
- training: one optimiser step per batch = kornia augmentations
  (:func:`pano.models.gaze_augment.augment_batch`, default strengths) + forward + the mixed
  loss (:func:`pano.models.gaze_loss.gaze_loss`) + backward + AdamW step.

On CUDA both use AMP (``torch.autocast`` float16, a ``GradScaler`` for training), as
``pano train-gaze`` does there; on the CPU float32. Each figure is the median over
``--reps`` timed batches after ``--warmup`` untimed ones, the backbones interleaved
round-robin so a change of machine load hits all of them alike; the machine line gives the
load average before and after. Run::

    python benchmarks/bench_gaze_model.py [--device auto|cpu|cuda] [--batch N] [--reps 5]

(the same script on a lent GPU machine: ``--device cuda``; batch 64 by default there, 8 on CPU).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch

from pano.device import resolve_device
from pano.models.gaze_augment import augment_batch
from pano.models.gaze_grm import GazeModelConfig, build_gaze_model
from pano.models.gaze_loss import gaze_loss

DEFAULT = ["pano_cnn_small", "swin_tiny_patch4_window7_224", "swin_base_patch4_window7_224"]


def machine(dev: torch.device) -> str:
    """One line: CPU or GPU, cores, load, torch."""
    cpu = platform.processor() or "cpu"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = f", GPU {torch.cuda.get_device_name(dev)}" if dev.type == "cuda" else ""
    load = os.getloadavg()
    return (
        f"{cpu}{gpu}, {len(os.sched_getaffinity(0))} usable cores, load average "
        f"{load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), python {platform.python_version()}"
    )


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def make_steps(name: str, dev: torch.device, batch: int) -> tuple[Callable[[], None], ...]:
    """(inference step, training step) closures of one backbone on random data."""
    torch.manual_seed(0)
    cfg = GazeModelConfig(backbone=name, image_size=224, dropout=0.5)
    model = build_gaze_model(cfg).to(dev)
    x = torch.rand(batch, 3, 224, 224, device=dev)
    y = (torch.rand(batch, 2, device=dev) - 0.5) * 0.8
    amp = dev.type == "cuda"
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)

    def infer() -> None:
        model.eval()
        with torch.inference_mode(), torch.autocast(dev.type, torch.float16, enabled=amp):
            model(x)

    def train() -> None:
        model.train()
        xa, ya = augment_batch(x, y)
        with torch.autocast(dev.type, torch.float16, enabled=amp):
            out = model(xa)
        loss, _ = gaze_loss(out.angles, ya, out.sigma)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    return infer, train


def main() -> None:
    """Time every backbone and print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", type=int, default=None, help="[64 on CUDA, 8 on CPU]")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--backbones", default=",".join(DEFAULT))
    ap.add_argument("--verbose", action="store_true", help="print every timed batch")
    args = ap.parse_args()
    dev = resolve_device(args.device)
    batch = args.batch or (64 if dev.type == "cuda" else 8)
    names = [n for n in args.backbones.split(",") if n]
    print(machine(dev), flush=True)
    steps = {n: make_steps(n, dev, batch) for n in names}
    params = {}
    for n in names:
        m = build_gaze_model(GazeModelConfig(backbone=n))
        params[n] = sum(p.numel() for p in m.parameters()) / 1e6
    times: dict[tuple[str, str], list[float]] = {(n, k): [] for n in names for k in ("inf", "tr")}
    for rep in range(args.warmup + args.reps):
        for n in names:  # interleaved: load changes hit every backbone alike
            for k, fn in zip(("inf", "tr"), steps[n], strict=True):
                _sync(dev)
                t0 = time.perf_counter()
                fn()
                _sync(dev)
                dt = time.perf_counter() - t0
                if rep >= args.warmup:
                    times[(n, k)].append(dt)
                if args.verbose:
                    print(f"  rep {rep} {n} {k}: {dt:.2f} s", flush=True)
    amp = "AMP float16" if dev.type == "cuda" else "float32"
    print(f"\ndevice {dev}, batch {batch}, {amp}, median of {args.reps} batches\n")
    print("| backbone | params (M) | inference s/batch | img/s | training s/batch | img/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for n in names:
        ti = statistics.median(times[(n, "inf")])
        tt = statistics.median(times[(n, "tr")])
        row = (
            f"| {n} | {params[n]:.2f} | {ti:.3g} | {batch / ti:.3g} | {tt:.3g} | {batch / tt:.3g} |"
        )
        print(row)
    print("\n" + machine(dev))


if __name__ == "__main__":
    main()
