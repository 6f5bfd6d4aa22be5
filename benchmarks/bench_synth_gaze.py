"""Rendering speed of ``pano synth-gaze``: both layouts, supersampling and torch threads.

Rows, all in one run on the same persons (seed 0): the GazeHub layout (224 x 224 faces
through the normalised camera, plus eye crops) and the raw MPIIFaceGaze layout (full
camera images, ``--size``), each with one ray per pixel and with 2 x 2 rays on and next to
the eye openings (the default), each with ``threads=1`` (the default) and torch's default
thread count. Per row, per image: render ms (wall time of the ray casting alone), total ms
(wall time with simulation, head-pose fitting, normalisation, eye crops and JPEG writing)
and CPU ms (the process's CPU time over all its threads: on a loaded machine the wall
times mostly measure how much of a core the process got; the CPU time does not).

Run: ``python benchmarks/bench_synth_gaze.py [--samples 24] [--size 640x480]``. Figures are
in ``docs/benchmarks.md``; on a shared machine the load (printed) moves them a lot.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from pano.synth.gaze_layouts import GazeSynthConfig, write_synthetic_gaze


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=24, help="images per row")
    ap.add_argument("--size", default="640x480", help="raw image size WIDTHxHEIGHT")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, default threads {torch.get_num_threads()}, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    head = ("layout", "rays/pixel", "threads", "render ms/img", "total ms/img", "CPU ms/img")
    print(f"{head[0]:<18}{head[1]:>12}{head[2]:>9}{head[3]:>15}{head[4]:>14}{head[5]:>12}")
    for layout in ("gazehub", "mpiifacegaze-raw"):
        for ss in (1, 2):
            for threads in (1, 0):
                cfg = GazeSynthConfig(
                    layout=layout, persons=1, samples_per_person=args.samples, seed=0,
                    raw_width=w, raw_height=h, supersample=ss, threads=threads,
                )  # fmt: skip
                with tempfile.TemporaryDirectory() as tmp:
                    t0, c0 = time.perf_counter(), time.process_time()
                    res = write_synthetic_gaze(Path(tmp), cfg)
                    total, cpu = time.perf_counter() - t0, time.process_time() - c0
                n = res.images
                rays = "1" if ss == 1 else f"{ss}x{ss} eyes"
                label = layout if layout == "gazehub" else f"raw {w}x{h}"
                thr = str(threads or torch.get_num_threads())
                print(f"{label:<18}{rays:>12}{thr:>9}{1000 * res.render_s / n:>15.1f}"
                      f"{1000 * total / n:>14.1f}{1000 * cpu / n:>12.1f}")  # fmt: skip
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
