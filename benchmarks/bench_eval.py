"""Benchmark of `pano eval`: throughput on PVS-HM-size data, and metric kernels vs a reference.

    python benchmarks/bench_eval.py [--quick] [--out results.json]

1. Evaluation throughput (saliency steps per second, every model of a step counted once)
   on a synthetic store of PVS-HM size - 58 subjects, 360x180 ground-truth heatmaps
   (sigma 7 deg), DHP's step grid - with all baselines and all metrics under the
   ``sphere`` profile: in-process, and on a LocalCluster of 1 and 2 Dask workers. The
   HM-forecast and scanpath tasks run in the same pass; the steps/s figure divides the
   whole pass by the saliency steps.
2. Per-metric kernel speed on the same maps (360x180, 58 fixations per frame): pano's
   batched functions vs a reference - pysaliency 0.2.22 when it is importable (its pure
   metric modules), else the literal transcription of the MIT MATLAB formulas that the
   tests compare against (``tests/test_metrics_saliency.py``, one frame at a time).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _build_store(tmp: Path, seconds: float) -> str:
    from pano.pipelines.ingest import IngestConfig, ingest_pvs_hm
    from pano.synth import HM_FILE, SynthConfig, write_synthetic_dataset

    data = tmp / "data"
    # Video frames are not read by eval: small frames keep the set-up short.
    synth = SynthConfig(videos=6, subjects=58, seconds=seconds, width=128, em=False)
    write_synthetic_dataset(data, synth, workers=2)
    store = str(tmp / "pvs.zarr")
    cfg = IngestConfig(videos=data, hm=data / HM_FILE, store=store, workers=0, device="cpu")  # type: ignore[arg-type]
    ingest_pvs_hm(cfg)
    return store


#: (workers, baselines) runs of the throughput table.
RUNS: list[tuple[int, str]] = [
    (0, "all"),
    (1, "all"),
    (2, "all"),
    (2, "uniform,fcb,equator,no_motion,constant_velocity"),  # without inter-observer maps
]


def bench_throughput(store: str, runs: list[tuple[int, str]]) -> list[dict[str, Any]]:
    from pano.pipelines.eval import EvalConfig, evaluate

    rows = []
    for w, baselines in runs:
        cfg = EvalConfig.model_validate(
            {"store": store, "workers": w, "write_store": False, "baselines": baselines}
        )
        t0 = time.perf_counter()
        res = evaluate(cfg)
        total = time.perf_counter() - t0
        rows.append(
            {
                "workers": w,
                "baselines": baselines,
                "mode": "in-process" if w == 0 else f"LocalCluster({w})",
                "saliency_steps": res.steps,
                "models": int(res.dataset.sizes["model"]),
                "compute_s": round(res.seconds, 2),
                "total_s": round(total, 2),
                "steps_per_s": round(res.steps_per_s, 2),
            }
        )
        print(rows[-1], flush=True)
    return rows


def _reference_module() -> Any:
    path = ROOT / "tests" / "test_metrics_saliency.py"
    spec = importlib.util.spec_from_file_location("_mit_reference", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _pysaliency() -> tuple[Any, Any] | None:
    try:
        ref = _reference_module()
        return ref._pysaliency_metrics()  # type: ignore[no-any-return]
    except BaseException:  # pytest.skip raises a BaseException subclass
        return None


def _time(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_kernels(frames: int, repeat: int) -> list[dict[str, Any]]:
    import torch

    from pano.geometry import lonlat_to_vec
    from pano.heatmaps import sphere_heatmaps
    from pano.metrics import saliency as S

    rng = np.random.default_rng(0)
    h, w = 180, 360
    pts = lonlat_to_vec(
        rng.uniform(-180, 180, (2 * frames, 58)), rng.normal(0, 25, (2 * frames, 58)).clip(-89, 89)
    )
    maps = sphere_heatmaps(torch.as_tensor(pts), w, h, 7.0).numpy()
    p, g = maps[:frames], maps[frames:]
    fix = S.Fixations.from_vectors(pts[frames:], h, w)
    ref = _reference_module()
    pys = _pysaliency()
    rows: list[dict[str, Any]] = []

    def add(metric: str, profile: str, pano_fn: Any, ref_name: str, ref_fn: Any) -> None:
        t_pano = _time(pano_fn, repeat) / frames
        t_ref = (
            _time(ref_fn, 1 if "literal" in ref_name and metric in ("KLD",) else repeat) / frames
        )
        rows.append(
            {
                "metric": metric, "profile": profile, "reference": ref_name,
                "pano_ms_per_frame": round(1e3 * t_pano, 3),
                "reference_ms_per_frame": round(1e3 * t_ref, 3),
                "speedup": round(t_ref / t_pano, 1),
            }
        )  # fmt: skip
        print(rows[-1], flush=True)

    def per_frame(fn: Any) -> Any:
        return lambda: [fn(i) for i in range(frames)]

    def fmap(i: int) -> np.ndarray:
        m = np.zeros((h, w))
        m.ravel()[fix.frame(i)] = 1.0
        return m

    fmaps = [fmap(i) for i in range(frames)]
    ys = [fix.rows[i][fix.valid[i]] for i in range(frames)]
    xs = [fix.cols[i][fix.valid[i]] for i in range(frames)]
    lit = "MIT MATLAB, literal numpy"
    add(
        "CC", "mit", lambda: S.cc(p, g, "mit"), lit, per_frame(lambda i: ref.ref_mit_cc(p[i], g[i]))
    )
    add(
        "NSS",
        "mit",
        lambda: S.nss(p, fix, "mit"),
        lit,
        per_frame(lambda i: ref.ref_mit_nss(p[i], fmaps[i])),
    )
    add(
        "SIM",
        "mit",
        lambda: S.sim(p, g, "mit"),
        lit,
        per_frame(lambda i: ref.ref_mit_sim(p[i], g[i])),
    )
    kf = max(1, frames // 8)  # the literal KLD is a pixel loop: time a few frames
    add(
        "KLD", "mit", lambda: S.kld(p, g, "mit"), lit,
        lambda: [ref.ref_mit_kl(p[i % kf], g[i % kf]) for i in range(frames)],
    )  # fmt: skip
    noise = [np.random.default_rng(i).random(h * w).reshape(h, w) * 1e-7 for i in range(frames)]
    add(
        "AUC-Judd", "mit", lambda: S.auc_judd(p, fix, "mit", list(range(frames))), lit,
        per_frame(lambda i: ref.ref_mit_auc_judd(p[i], fmaps[i], noise[i])),
    )  # fmt: skip
    add(
        "AUC exact", "tuebingen", lambda: S.auc(p, fix, "tuebingen"), "per-fixation loop, literal",
        per_frame(lambda i: ref.ref_exact_auc(p[i], ys[i], xs[i])),
    )  # fmt: skip
    if pys is not None:
        M, N = pys
        add(
            "CC",
            "tuebingen",
            lambda: S.cc(p, g, "tuebingen"),
            "pysaliency 0.2.22",
            per_frame(lambda i: M.CC(p[i], g[i])),
        )
        add(
            "NSS",
            "tuebingen",
            lambda: S.nss(p, fix, "tuebingen"),
            "pysaliency 0.2.22",
            per_frame(lambda i: M.NSS(p[i], xs[i], ys[i])),
        )
        add(
            "SIM",
            "tuebingen",
            lambda: S.sim(p, g, "tuebingen"),
            "pysaliency 0.2.22",
            per_frame(lambda i: M.SIM(p[i], g[i])),
        )
        add(
            "KLD",
            "tuebingen",
            lambda: S.kld(p, g, "tuebingen"),
            "pysaliency 0.2.22",
            per_frame(lambda i: M.MIT_KLDiv(p[i], g[i])),
        )
        N.general_rocs_per_positive_numba(p[0][ys[0], xs[0]], p[0].ravel())  # JIT warm-up
        rocs = N.general_rocs_per_positive_numba
        add(
            "AUC exact", "tuebingen", lambda: S.auc(p, fix, "tuebingen"),
            "pysaliency 0.2.22 (numba)",
            per_frame(lambda i: rocs(p[i][ys[i], xs[i]], p[i].ravel())),
        )  # fmt: skip
    for name in ("cc", "nss", "auc", "auc_borji", "sauc"):
        t = _time(lambda n=name: S.saliency_scores(p, [n], gt=g, fixations=fix, other=fix), repeat)
        rows.append({"metric": name, "profile": "sphere", "reference": "-",
                     "pano_ms_per_frame": round(1e3 * t / frames, 3),
                     "reference_ms_per_frame": None, "speedup": None})  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter videos, fewer repeats")
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    ap.add_argument("--store", help="use this existing store instead of building one")
    ap.add_argument("--keep", type=Path, help="build the store in this folder and keep it")
    ap.add_argument("--runs", help="only these RUNS rows, e.g. 0,3 (default: all)")
    ap.add_argument("--no-kernels", action="store_true", help="skip the kernel comparison")
    args = ap.parse_args()
    seconds = 12.0 if args.quick else 30.0
    frames = 16 if args.quick else 64
    repeat = 2 if args.quick else 3
    info = {
        "machine": platform.platform(),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_avg_start": os.getloadavg(),
        "quick": args.quick,
    }
    runs = RUNS if not args.runs else [RUNS[int(i)] for i in args.runs.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store
        if store is None:
            t0 = time.perf_counter()
            store = _build_store(args.keep or Path(tmp), seconds)
            info["store_build_s"] = round(time.perf_counter() - t0, 1)
        thr = bench_throughput(store, runs)
    kern = [] if args.no_kernels else bench_kernels(frames, repeat)
    info["load_avg_end"] = os.getloadavg()
    result = {"info": info, "throughput": thr, "kernels": kern}
    print(json.dumps(info))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
