"""Training throughput of ``pano train-hm`` versus DHP's remap-per-step way of making observations.

Measures, on synthetic data (``pano.synth``, PVS-HM format):

1. **pano batched env steps/s** - the DHP environment as pano runs it: N agents, each step
   renders all N 42x42 luma viewports with ONE ViewportSampler call on decoded frames held
   in memory, runs the agent on the batch, moves every agent and scores it against all
   subjects. Reported for inference-only stepping and for full actor-critic training
   updates (forward + backward + Adam), for several N.
2. **DHP-style env steps/s** - the original pipeline's structure, emulated in the same run:
   per step the parent spawns a fresh Python process that opens the video, seeks and
   decodes one frame, cuts one 42x42 viewport (gnomonic, bicubic-free nearest lookup in
   NumPy), writes it to a temporary file, and exits; the parent reads the file back. (DHP
   spawns a C++ ``remap`` binary that reads a raw YUV frame from disk; a Python child is a
   generous stand-in for process start-up + decode + one view.)
3. **supervised samples/s** - windows per second through a training step of the
   position-only and content-aware forecasters (content: viewports rendered on the fly).

Usage::

    python benchmarks/bench_train.py --quick            # ~1 minute on 2 CPU cores
    python benchmarks/bench_train.py --device cuda      # GPU variant
    python benchmarks/bench_train.py --data DIR         # reuse a synthetic data folder

Prints a Markdown table and writes JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

CHILD = r"""
import sys, numpy as np, av
path, out = sys.argv[1], sys.argv[5]
frame, lon, lat = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
with av.open(path) as c:
    s = c.streams.video[0]
    fps = float(s.average_rate)
    c.seek(int(frame / fps / s.time_base), stream=s, backward=True, any_frame=False)
    img = None
    for f in c.decode(s):
        if f.pts is None or round(float(f.pts * s.time_base) * fps) >= frame:
            img = f.to_ndarray(format="gray")
            break
H, W = img.shape
n, fx, fy = 42, np.radians(110), np.radians(113)
u = ((np.arange(n) + .5) - n / 2) / (n / 2) * np.tan(fx / 2)
v = ((np.arange(n) + .5) - n / 2) / (n / 2) * np.tan(fy / 2)
a, b = np.meshgrid(u, v)
ray = np.stack([np.ones_like(a), -a, -b], -1)
ray /= np.linalg.norm(ray, axis=-1, keepdims=True)
yw, pt = np.radians(lon), np.radians(lat)
R = np.array([[np.cos(yw) * np.cos(pt), -np.sin(yw), -np.cos(yw) * np.sin(pt)],
              [np.sin(yw) * np.cos(pt), np.cos(yw), -np.sin(yw) * np.sin(pt)],
              [np.sin(pt), 0, np.cos(pt)]])
w = ray @ R.T
lo = np.degrees(np.arctan2(w[..., 1], w[..., 0]))
la = np.degrees(np.arcsin(np.clip(w[..., 2], -1, 1)))
x = np.clip(((180 - lo) / 360 * W).astype(int), 0, W - 1)
y = np.clip(((90 - la) / 180 * H).astype(int), 0, H - 1)
np.save(out, img[y, x].astype(np.float32) / 255.0)
"""


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def make_data(folder: Path, quick: bool) -> tuple[Path, Path]:
    """Synthetic PVS-HM data + an ingested store in ``folder`` (reused if present)."""
    from pano.pipelines.ingest import IngestConfig, ingest_pvs_hm
    from pano.synth import SynthConfig, write_synthetic_dataset

    raw, store = folder / "raw", folder / "store.zarr"
    if not (store / "zarr.json").exists():
        cfg = SynthConfig(videos=6, subjects=12, seconds=4 if quick else 10, em=False)
        if not (raw / "manifest.json").exists():
            write_synthetic_dataset(raw, cfg)
        ingest_pvs_hm(
            IngestConfig(videos=raw, hm=raw / "FULLdata_per_video_frame.mat", store=str(store),
                         workers=0, device="cpu")
        )  # fmt: skip
    return raw, store


def bench_pano_env(store: Path, dev: torch.device, n_envs: list[int], steps: int) -> list[dict]:
    """Batched env steps/s (inference) and training env steps/s, for each N."""
    from pano.config import load_config
    from pano.pipelines.train.config import TrainConfig
    from pano.pipelines.train.data import load_store_data
    from pano.pipelines.train.dist import DistInfo
    from pano.pipelines.train.rl import DHPTask

    cfgs = Path(__file__).resolve().parents[1] / "pipelines" / "configs" / "dhp.yaml"
    rows = []
    for n in n_envs:
        cfg = load_config(TrainConfig, cfgs, [f"rl.envs={n}", "rl.rollout=10", "data.val_videos=0"])
        data = load_store_data(str(store), cfg, need_video=True)
        task = DHPTask(cfg, data, DistInfo(device=dev))
        gen = torch.Generator().manual_seed(0)
        opt = torch.optim.Adam(task.model.parameters(), lr=1e-4)
        # Warm-up (decoder caches, sampler rays, allocator).
        loss, _ = task.loss(task.model, 0, gen)
        loss.backward()
        _sync(dev)
        updates = max(1, steps // cfg.rl.rollout)
        t0 = time.perf_counter()
        for u in range(updates):
            loss, _ = task.loss(task.model, u, gen)
            opt.zero_grad()
            loss.backward()
            opt.step()
        _sync(dev)
        train_sps = updates * cfg.rl.rollout * n / (time.perf_counter() - t0)
        # Inference-only stepping (what rollouts for predictions do).
        from pano.pipelines.train.rl import rollout_video

        v = data.train[0]
        t0 = time.perf_counter()
        reps = max(1, steps // max(1, len(v.step_frame) - 1))
        for _ in range(reps):
            rollout_video(task.model, task.sampler, task.bank, v, n, gen, dev)
        _sync(dev)
        infer_sps = reps * (len(v.step_frame) - 1) * n / (time.perf_counter() - t0)
        rows.append({"envs": n, "train_env_steps_s": train_sps, "rollout_env_steps_s": infer_sps})
    return rows


def bench_dhp_style(raw: Path, steps: int) -> dict:
    """Steps/s of the remap-per-step emulation (one child process per step)."""
    video = sorted(raw.glob("*.mp4"))[0]
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "view.npy"
        t0 = time.perf_counter()
        for i in range(steps):
            args = [
                str(video),
                str(10 * (i % 10)),
                f"{rng.uniform(-180, 180):.1f}",
                f"{rng.uniform(-60, 60):.1f}",
                str(out),
            ]
            subprocess.run(
                [sys.executable, "-c", CHILD, *args],
                check=True,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
            )
            view = np.load(out)
            assert view.shape == (42, 42)
        secs = time.perf_counter() - t0
    return {"env_steps_s": steps / secs, "ms_per_step": 1000 * secs / steps}


def bench_supervised(store: Path, dev: torch.device, steps: int) -> list[dict]:
    """Training windows/s of the position-only and the content-aware forecasters."""
    from pano.config import load_config
    from pano.pipelines.train.config import TrainConfig
    from pano.pipelines.train.data import load_store_data
    from pano.pipelines.train.dist import DistInfo
    from pano.pipelines.train.supervised import SupervisedTask

    root = Path(__file__).resolve().parents[1] / "pipelines" / "configs"
    rows = []
    for name in ("pos_only", "content"):
        sets = ["data.val_videos=0", "data.horizon=15"]
        if name == "content":
            sets.append("model.content_steps=[0,3,6,9,12,15]")
        cfg = load_config(TrainConfig, root / f"{name}.yaml", sets)
        data = load_store_data(str(store), cfg, need_video=name == "content")
        task = SupervisedTask(cfg, data, DistInfo(device=dev))
        opt = torch.optim.Adam(task.model.parameters(), lr=1e-3)
        gen = torch.Generator().manual_seed(0)
        loss, _ = task.loss(task.model, 0, gen)
        loss.backward()
        _sync(dev)
        t0 = time.perf_counter()
        for u in range(steps):
            loss, _ = task.loss(task.model, u, gen)
            opt.zero_grad()
            loss.backward()
            opt.step()
        _sync(dev)
        rows.append(
            {"model": name, "samples_s": steps * task.batch_local / (time.perf_counter() - t0)}
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short videos, fewer steps (~1 minute)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (GPU variant)")
    ap.add_argument(
        "--data", type=Path, default=None, help="folder for (or with) the synthetic data"
    )
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    from pano.device import resolve_device

    dev = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    folder = args.data or Path(tempfile.mkdtemp(prefix="pano-bench-train-"))
    raw, store = make_data(folder, args.quick)
    envs = [1, 16, 58] if args.quick else [1, 16, 58, 256]
    steps = 40 if args.quick else 200
    res = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, device {dev}"
        + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else ""),
        "pano_env": bench_pano_env(store, dev, envs, steps),
        "dhp_style": bench_dhp_style(raw, 10 if args.quick else 30),
        "supervised": bench_supervised(store, dev, 10 if args.quick else 50),
    }
    base = res["dhp_style"]["env_steps_s"]
    print(f"machine: {res['machine']}\n")
    print("| DHP environment | env steps/s | x DHP-style |")
    print("|---|---:|---:|")
    print(f"| DHP-style: process + decode + 1 view per step | {base:.1f} | 1.0 |")
    for r in res["pano_env"]:
        print(f"| pano, {r['envs']} envs, rollout (no grad) | {r['rollout_env_steps_s']:.0f} | "
              f"{r['rollout_env_steps_s'] / base:.0f} |")  # fmt: skip
        print(f"| pano, {r['envs']} envs, training (fwd+bwd+Adam) | {r['train_env_steps_s']:.0f} | "
              f"{r['train_env_steps_s'] / base:.0f} |")  # fmt: skip
    print("\n| supervised model | training samples/s |\n|---|---:|")
    for r in res["supervised"]:
        print(f"| {r['model']} | {r['samples_s']:.0f} |")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
