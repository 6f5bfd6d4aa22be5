"""Thread policy vs torch's default thread count, side by side, idle and under a load.

pano's CPU hot loops run under a thread policy (``pano.threads``): at most torch's thread
count, fewer when other processes keep the cores busy. This script renders the same
viewports (and heatmaps) with

* ``default``: torch's default thread count, forced (what pano did before the policy);
* ``policy``: pano's thread policy (what pano does now, no ``PANO_THREADS`` set);
* ``1 thread``: forced to one thread,

timed round-robin (the order rotating each round), first as the machine is, then with
``--load`` busy-loop processes started by this script (bounded: each stops by itself after
``--warm + 3 * --seconds`` plus a margin, and is terminated when the script ends). The load
average needs time to see the new load (it is a 1-minute average), so the loaded
measurement starts after ``--warm`` seconds.

Run: ``python benchmarks/bench_threads.py [--load N] [--warm 60] [--seconds 30]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch


def busy(deadline: float) -> None:
    """Spin until ``deadline`` (time.time()), like a CPU-bound job of another user."""
    x = 0
    while time.time() < deadline:
        x += 1


def cases() -> dict[str, tuple[Callable[[str], object], int, str]]:
    """name -> (fn(mode) rendering one batch, items per call, unit)."""
    from pano.fov import DHP_FOV
    from pano.geometry import lonlat_to_vec
    from pano.heatmaps import sphere_heatmaps
    from pano.synth import make_background
    from pano.threads import hot_loop_threads
    from pano.viewport import DHP_SIZE, ViewportSampler

    default = torch.get_num_threads()
    forced = {"default": default, "policy": None, "1 thread": 1}
    rng = np.random.default_rng(1)
    frame = make_background(1920, 960, np.random.default_rng(0))
    rgb = torch.from_numpy(frame).permute(2, 0, 1)
    luma = torch.from_numpy(
        (frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.uint8)
    )
    yaw = torch.tensor(rng.uniform(-180, 180, 58))
    pitch = torch.tensor(np.clip(rng.normal(0, 25, 58), -85, 85))
    big = {m: ViewportSampler((90.0, 90.0), (224, 224), threads=n) for m, n in forced.items()}
    dhp = {
        m: ViewportSampler(DHP_FOV, DHP_SIZE, mode="bicubic", threads=n) for m, n in forced.items()
    }
    bufs = {m: torch.empty(58, 3, 224, 224) for m in forced}
    pts = torch.from_numpy(
        lonlat_to_vec(rng.uniform(-180, 180, (8, 58)), np.clip(rng.normal(0, 20, (8, 58)), -89, 89))
    )

    def views(samplers: dict[str, ViewportSampler], img: torch.Tensor, use_out: bool):
        def fn(mode: str) -> object:
            s = samplers[mode]
            s._last = None  # a new frame each call: preparing it is part of the work
            return s(img, yaw, pitch, out=bufs[mode] if use_out else None)

        return fn

    def heat(mode: str) -> object:
        with hot_loop_threads(forced[mode]):
            return sphere_heatmaps(pts, 360, 180, 7.0)

    return {
        "58 views 224x224 RGB (out=)": (views(big, rgb, True), 58, "views/s"),
        "58 DHP views 42x42 luma": (views(dhp, luma, False), 58, "views/s"),
        "sphere_heatmaps 8 x 360x180, 58 pts": (heat, 8, "maps/s"),
    }


def measure(seconds: float) -> dict[str, dict[str, float]]:
    """Median items/s per case and mode, round-robin over the modes for ``seconds``."""
    from pano.threads import policy_threads

    fns = cases()
    modes = ("default", "policy", "1 thread")
    times: dict[tuple[str, str], list[float]] = {(c, m): [] for c in fns for m in modes}
    for fn, _, _ in fns.values():
        for m in modes:
            fn(m)  # warm-up
    chosen = []
    t_end = time.monotonic() + seconds
    k = 0
    while time.monotonic() < t_end or min(len(v) for v in times.values()) < 3:
        chosen.append(policy_threads())
        # The order rotates each round: a run right after a 2-thread run shares the cores
        # with torch's worker thread while it still spins, so no mode always goes there.
        order = modes[k % 3 :] + modes[: k % 3]
        k += 1
        for c, (fn, _, _) in fns.items():
            for m in order:
                t0 = time.perf_counter()
                fn(m)
                times[(c, m)].append(time.perf_counter() - t0)
    out: dict[str, dict[str, float]] = {}
    for c, (_, n, _) in fns.items():
        out[c] = {m: n / statistics.median(times[(c, m)]) for m in modes}
    out["_policy_threads"] = {str(k): chosen.count(k) / len(chosen) for k in sorted(set(chosen))}
    out["_rounds"] = {"n": float(min(len(v) for v in times.values()))}
    return out


def report(title: str, res: dict[str, dict[str, float]], units: dict[str, str]) -> None:
    load = os.getloadavg()
    print(f"== {title} (load average now {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
    picks = ", ".join(f"{k} thread(s) {v:.0%}" for k, v in res["_policy_threads"].items())
    print(f"policy chose: {picks}; {int(res['_rounds']['n'])} rounds")
    print(f"{'case':<38} {'default':>9} {'policy':>9} {'1 thread':>9}  unit   policy/default")
    for c, r in res.items():
        if c.startswith("_"):
            continue
        print(
            f"{c:<38} {r['default']:>9.0f} {r['policy']:>9.0f} {r['1 thread']:>9.0f}  "
            f"{units[c]:<7}{r['policy'] / r['default']:>6.2f}x"
        )
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cores = len(os.sched_getaffinity(0))
    ap.add_argument("--load", type=int, default=cores + 1, help="busy-loop processes to start")
    ap.add_argument("--warm", type=float, default=60.0, help="seconds of load before measuring")
    ap.add_argument("--seconds", type=float, default=30.0, help="seconds per measurement")
    ap.add_argument("--no-idle", action="store_true", help="skip the measurement without load")
    args = ap.parse_args()
    os.environ.pop("PANO_THREADS", None)
    from bench_viewport import machine

    print(f"machine: {machine()}")
    units = {"58 views 224x224 RGB (out=)": "views/s", "58 DHP views 42x42 luma": "views/s",
             "sphere_heatmaps 8 x 360x180, 58 pts": "maps/s"}  # fmt: skip
    if not args.no_idle:
        report("as the machine is (no load added)", measure(args.seconds), units)
    deadline = time.time() + args.warm + 3 * args.seconds + 30.0  # the loops stop by themselves
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=busy, args=(deadline,), daemon=True) for _ in range(args.load)]
    for p in procs:
        p.start()
    try:
        print(f"started {args.load} busy-loop processes; waiting {args.warm:.0f} s for the load")
        time.sleep(args.warm)
        report(f"with {args.load} busy-loop processes", measure(args.seconds), units)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.join(5)


if __name__ == "__main__":
    main()
