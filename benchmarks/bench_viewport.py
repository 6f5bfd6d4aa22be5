"""Viewports/s: pano vs py360convert.e2p vs pytorch360convert.e2p, on the same frame.

Cases (issue "Viewport engine and GPU-first video streaming"):

* ``58x224``: 58 viewports of 224x224, FoV 90x90, bilinear, RGB, from a 1920x960 frame;
* ``dhp42``: 58 DHP observations of 42x42, FoV 110x113, bicubic, luma.

All methods render the same views (the other libraries one view per call: neither takes a
batch of different orientations; pano one batched call). Conventions are mapped and
checked: py360convert ``u_deg`` is +right (= -yaw), ``v_deg`` +up (= pitch);
pytorch360convert ``h_deg`` +right, ``v_deg`` +up. The "diff" column is the mean absolute
difference to pano's non-anti-aliased output (0..1 scale) on the first views, a guard that
the libraries really render the same views.

Run: ``python benchmarks/bench_viewport.py [--quick] [--threads N]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch


def machine() -> str:
    cpu = platform.processor() or "cpu"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {len(os.sched_getaffinity(0))} usable cores, torch {torch.__version__} "
        f"(default {torch.get_num_threads()} threads), python {platform.python_version()}"
    )


def make_frame(width: int, height: int) -> np.ndarray:
    from pano.synth import make_background

    return make_background(width, height, np.random.default_rng(0))


def interleaved(fns: dict[str, Callable[[], object]], reps: int) -> dict[str, tuple[float, float]]:
    """Median (wall seconds, process CPU seconds) per call of each function, timed round-robin.

    Round-robin spreads a shared machine's noise over all methods alike; the CPU time (all
    threads of this process) is what a method costs regardless of other processes.
    """
    for fn in fns.values():
        fn()  # warm-up
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            times[k].append((time.perf_counter() - w0, time.process_time() - c0))
    return {
        k: (statistics.median(t[0] for t in v), statistics.median(t[1] for t in v))
        for k, v in times.items()
    }


def run_case(
    name: str, frame: np.ndarray, quick: bool
) -> list[tuple[str, float, float, float, float]]:
    import py360convert
    import pytorch360convert

    from pano.fov import DHP_FOV
    from pano.viewport import DHP_SIZE, ViewportSampler

    n = 58
    rng = np.random.default_rng(1)
    yaw = rng.uniform(-180, 180, n)
    pitch = np.clip(rng.normal(0, 25, n), -85, 85)
    if name == "dhp42":
        fov, (h, w), mode = DHP_FOV, DHP_SIZE, "bicubic"
        img = (frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(
            np.uint8
        )
        t_img = torch.from_numpy(img)  # (H, W) luma
    else:
        fov, (h, w), mode = (90.0, 90.0), (224, 224), "bilinear"
        img = frame
        t_img = torch.from_numpy(frame).permute(2, 0, 1)  # (3, H, W) view of the same HWC array
    t_float = t_img.float() / 255.0
    t_chw = t_float[None] if t_float.ndim == 2 else t_float
    sub = 4 if quick else 8  # the slow libraries render this many views per timing
    reps = 3 if quick else 9
    yaw_t, pitch_t = torch.tensor(yaw), torch.tensor(pitch)
    # Exactly torch's thread count (--threads), not pano's thread policy, which would use
    # fewer threads on a busy machine (benchmarks/bench_threads.py compares the two).
    n_thr = torch.get_num_threads()
    pano_aa = ViewportSampler(fov, (h, w), mode=mode, threads=n_thr)
    pano_raw = ViewportSampler(fov, (h, w), mode=mode, antialias=False, threads=n_thr)

    def py360(k: int) -> np.ndarray:
        return py360convert.e2p(img, fov, float(-yaw[k]), float(pitch[k]), (h, w), mode=mode)

    def pt360(k: int) -> torch.Tensor:
        return pytorch360convert.e2p(
            t_chw, fov, float(-yaw[k]), float(pitch[k]), (h, w), mode=mode, channels_first=True
        )

    ref = pano_raw(t_img, yaw_t, pitch_t)  # (n, C, h, w) in [0, 1]

    def fresh(sampler: ViewportSampler, out: torch.Tensor | None = None) -> torch.Tensor:
        sampler._last = None  # a new frame each time: the per-frame preparation is included
        return sampler(t_img, yaw_t, pitch_t, out=out)

    buf = torch.empty_like(ref)  # a result buffer reused across calls (out=)

    def diff(views: list[np.ndarray]) -> float:
        errs = []
        for k, v in enumerate(views):
            a = np.asarray(v, dtype=np.float32)
            a = a / 255.0 if a.max() > 1.5 else a
            if a.ndim == 3 and a.shape[-1] in (1, 3) and a.shape[0] == h:
                a = a.transpose(2, 0, 1)
            a = a.reshape(ref.shape[1:])
            errs.append(float(np.abs(a - ref[k].numpy()).mean()))
        return float(np.mean(errs))

    t = interleaved(
        {
            "aa": lambda: fresh(pano_aa),
            "aa_out": lambda: fresh(pano_aa, buf),
            "raw": lambda: fresh(pano_raw),
            "py": lambda: [py360(k) for k in range(sub)],
            "pt": lambda: [pt360(k) for k in range(sub)],
        },
        reps,
    )
    per = {"aa": n, "aa_out": n, "raw": n, "py": sub, "pt": sub}  # views per timed call
    pt_views = [pt360(k) for k in range(4)]
    diffs = {"aa": 0.0, "aa_out": 0.0, "raw": 0.0, "py": diff([py360(k) for k in range(4)])}
    diffs["pt"] = diff([v.numpy() for v in pt_views])
    names = {"aa": "pano (antialias)", "aa_out": "pano (antialias, out=)",
             "raw": "pano (no antialias)", "py": "py360convert.e2p",
             "pt": "pytorch360convert.e2p"}  # fmt: skip
    rows = [
        (names[k], per[k] / t[k][0], per[k] / t[k][1], t[k][0] / per[k] * n * 1e3, diffs[k])
        for k in ("aa", "aa_out", "raw", "py", "pt")
    ]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    ap.add_argument("--width", type=int, default=1920, help="ERP width (height = width/2)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    frame = make_frame(args.width, args.width // 2)
    print(f"machine: {machine()}")
    print(f"frame: {args.width}x{args.width // 2} RGB uint8 (pano.synth.make_background)")
    print(f"load average at start: {os.getloadavg()[0]:.1f}\n")
    for case, title in (("58x224", "58 viewports 224x224, FoV 90x90, bilinear, RGB"),
                        ("dhp42", "58 DHP views 42x42, FoV 110x113, bicubic, luma")):  # fmt: skip
        rows = run_case(case, frame, args.quick)
        base = next(r for r in rows if r[0] == "py360convert.e2p")
        print(f"== {title}")
        print(
            f"{'method':<24} {'views/s':>9} {'ms/58 views':>12} {'x py360':>8} "
            f"{'views/CPU-s':>12} {'x py360':>8} {'diff':>6}"
        )
        for name, vps, vpc, ms, d in rows:
            print(
                f"{name:<24} {vps:>9.0f} {ms:>12.1f} {vps / base[1]:>8.1f} "
                f"{vpc:>12.0f} {vpc / base[2]:>8.1f} {d:>6.3f}"
            )
        print()


if __name__ == "__main__":
    main()
