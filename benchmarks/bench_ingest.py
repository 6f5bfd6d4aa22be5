"""Benchmark of `pano ingest pvs-hm`: heatmap speed vs DHP's per-pixel loop, store size vs YUV.

    python benchmarks/bench_ingest.py [--quick] [--out results.json]

1. Heatmaps per second at PVS-HM size (58 subjects, 360x180, sigma 7 deg, max-normalised):
   pano's torch kernel (CPU float64, and CUDA when present), the first version of the
   kernel (whole-map einsum, for the record), and the naive per-pixel formula the way DHP
   computes it (a Python loop over pixels: pure-Python haversine per subject, and numpy
   over subjects per pixel). The naive loops are timed on a band of rows and extrapolated.
2. End-to-end ingest of synthetic PVS-HM-size data (58 subjects, 2 HM samples per frame,
   30 fps) in-process and on a LocalCluster, with the store's bytes next to the raw
   yuv420p bytes (W * H * 1.5 * frames) the same videos need - and would need at PVS-HM's
   3840x1920, which is what DHP's remap pipeline reads from disk.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch


def _points(n_maps: int, n_subj: int = 58, seed: int = 0) -> torch.Tensor:
    from pano.geometry import lonlat_to_vec

    rng = np.random.default_rng(seed)
    lon = rng.uniform(-180, 180, (n_maps, n_subj))
    lat = np.clip(rng.normal(0, 25, (n_maps, n_subj)), -89, 89)
    return torch.as_tensor(lonlat_to_vec(lon, lat))


def _einsum_v0(points: torch.Tensor, width: int, height: int, sigma: float) -> torch.Tensor:
    """The kernel as first written: whole maps at once (for the before/after figure)."""
    from pano.heatmaps import grid_vectors

    grid = grid_vectors(width, height, dtype=points.dtype, device=points.device).reshape(-1, 3)
    out = []
    for i in range(0, points.shape[0], 16):
        dot = torch.einsum("cnk,pk->cnp", points[i : i + 16], grid).clamp_(-1.0, 1.0)
        d = torch.rad2deg(torch.arccos(dot))
        out.append(torch.exp(-(d * d) / (2 * sigma**2)).sum(1))
    o = torch.cat(out).reshape(-1, height, width)
    return o / o.amax(dim=(1, 2), keepdim=True)


def _naive_python(
    lons: np.ndarray, lats: np.ndarray, rows: range, width: int, height: int, sigma: float
) -> np.ndarray:
    out = np.zeros((len(rows), width))
    pts = [(math.radians(a), math.radians(b)) for a, b in zip(lats, lons, strict=True)]
    for j, y in enumerate(rows):
        plat = math.radians(90.0 - (y + 0.5) * 180.0 / height)
        for x in range(width):
            plon = math.radians(180.0 - (x + 0.5) * 360.0 / width)
            v = 0.0
            for la, lo in pts:
                h = (
                    math.sin((la - plat) / 2) ** 2
                    + math.cos(la) * math.cos(plat) * math.sin((lo - plon) / 2) ** 2
                )
                d = math.degrees(2 * math.asin(min(1.0, math.sqrt(h))))
                v += math.exp(-d * d / (2 * sigma * sigma))
            out[j, x] = v
    return out


def _naive_numpy(
    lons: np.ndarray, lats: np.ndarray, rows: range, width: int, height: int, sigma: float
) -> np.ndarray:
    out = np.zeros((len(rows), width))
    la, lo = np.radians(lats), np.radians(lons)
    for j, y in enumerate(rows):
        plat = math.radians(90.0 - (y + 0.5) * 180.0 / height)
        for x in range(width):
            plon = math.radians(180.0 - (x + 0.5) * 360.0 / width)
            h = (
                np.sin((la - plat) / 2) ** 2
                + np.cos(la) * math.cos(plat) * np.sin((lo - plon) / 2) ** 2
            )
            d = np.degrees(2 * np.arcsin(np.minimum(1.0, np.sqrt(h))))
            out[j, x] = np.exp(-d * d / (2 * sigma * sigma)).sum()
    return out


def _best(fn: Any, repeats: int) -> float:
    """Fastest of ``repeats`` runs, in seconds (the machine is shared: the minimum is the
    least disturbed run)."""
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_heatmaps(quick: bool) -> dict[str, Any]:
    from pano.heatmaps import sphere_heatmaps as _policy_heatmaps
    from pano.threads import hot_loop_threads

    def sphere_heatmaps(*args: Any, **kwargs: Any) -> torch.Tensor:
        # Exactly torch's thread count, not pano's thread policy (which uses fewer threads
        # on a busy machine; benchmarks/bench_threads.py compares the two).
        with hot_loop_threads(torch.get_num_threads()):
            return _policy_heatmaps(*args, **kwargs)

    w, h, sigma = 360, 180, 7.0
    n = 16 if quick else 64
    reps = 3
    pts = _points(n)
    res: dict[str, Any] = {"subjects": 58, "size": f"{w}x{h}", "sigma_deg": sigma, "maps": n}
    sphere_heatmaps(pts[:2], w, h, sigma)  # warm-up
    maps = sphere_heatmaps(pts, w, h, sigma)
    res["pano_cpu_maps_per_s"] = n / _best(lambda: sphere_heatmaps(pts, w, h, sigma), reps)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in an ingest Dask worker (one thread per process)
    try:
        res["pano_cpu_1thread_maps_per_s"] = n / _best(
            lambda: sphere_heatmaps(pts, w, h, sigma), reps
        )
    finally:
        torch.set_num_threads(threads)
    res["pano_v0_einsum_cpu_maps_per_s"] = n / _best(lambda: _einsum_v0(pts, w, h, sigma), reps)
    res["v0_max_abs_diff"] = float((_einsum_v0(pts, w, h, sigma) - maps).abs().max())
    if torch.cuda.is_available():
        g = pts.cuda()
        sphere_heatmaps(g[:2], w, h, sigma)

        def run_cuda() -> None:
            for _ in range(10):
                sphere_heatmaps(g, w, h, sigma)
            torch.cuda.synchronize()

        res["pano_cuda_float64_maps_per_s"] = 10 * n / _best(run_cuda, reps)
        res["cuda_max_abs_diff"] = float((sphere_heatmaps(g, w, h, sigma).cpu() - maps).abs().max())
        res["cuda_device"] = torch.cuda.get_device_name()
    p0 = pts[0].numpy()
    lon = np.degrees(np.arctan2(p0[:, 1], p0[:, 0]))
    lat = np.degrees(np.arcsin(p0[:, 2]))
    rows = range(0, 4 if quick else 18)
    band = _naive_python(lon, lat, rows, w, h, sigma)
    band_np = _naive_numpy(lon, lat, rows, w, h, sigma)
    frac = len(rows) / h
    res["naive_python_maps_per_s"] = frac / _best(
        lambda: _naive_python(lon, lat, rows, w, h, sigma), 1
    )
    res["naive_numpy_maps_per_s"] = frac / _best(
        lambda: _naive_numpy(lon, lat, rows, w, h, sigma), 1
    )
    unnorm = sphere_heatmaps(pts[:1], w, h, sigma, normalize="none")[0, : len(rows)].numpy()
    res["naive_max_abs_diff"] = float(
        max(np.abs(band - unnorm).max(), np.abs(band_np - unnorm).max())
    )
    res["naive_rows_timed"] = len(rows)
    return res


def bench_ingest(quick: bool, workers: int) -> dict[str, Any]:
    from pano.pipelines.ingest import IngestConfig, ingest_pvs_hm
    from pano.synth import EM_FILE, HM_FILE, SynthConfig, write_synthetic_dataset

    videos, seconds = (2, 20.0) if quick else (4, 60.0)
    res: dict[str, Any] = {"videos": videos, "seconds_per_video": seconds, "subjects": 58}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "data"
        t = time.perf_counter()
        man = write_synthetic_dataset(
            d, SynthConfig(videos=videos, subjects=58, seconds=seconds, width=256)
        )
        res["synth_s"] = time.perf_counter() - t
        frames = sum(v.n_frames for v in man.videos)
        w, h = man.videos[0].width, man.videos[0].height
        res["frames"] = frames
        res["video_size"] = f"{w}x{h}"
        res["mp4_bytes"] = sum((d / v.file).stat().st_size for v in man.videos)
        res["yuv420p_bytes_same_videos"] = int(w * h * 1.5 * frames)
        res["yuv420p_bytes_at_3840x1920"] = int(3840 * 1920 * 1.5 * frames)
        for label, nw in (("in_process", 0), (f"dask_{workers}_workers", workers)):
            store = Path(tmp) / f"{label}.zarr"
            cfg = IngestConfig(
                videos=d, hm=d / HM_FILE, em=d / EM_FILE, store=str(store), workers=nw
            )
            t = time.perf_counter()
            s = ingest_pvs_hm(cfg)
            res[f"ingest_{label}_s"] = time.perf_counter() - t
            res["store_bytes"] = s.store_bytes
            res["heatmaps"] = sum(v.n_steps for v in s.videos)
        from pano.stores import open_store

        ds = open_store(Path(tmp) / "in_process.zarr")["videos/A380"].dataset
        enc = ds["heatmap"].encoding
        res["heatmap_raw_bytes_per_video"] = int(ds["heatmap"].size * 4)
        res["heatmap_chunks"] = str(enc.get("chunks"))
        res["store_bytes_per_video"] = res["store_bytes"] / videos
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster workers for the Dask run")
    ap.add_argument("--out", type=Path, help="write the results as JSON")
    args = ap.parse_args()
    res = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads)",
        "load": " ".join(f"{v:.1f}" for v in os.getloadavg()),
        "heatmaps": bench_heatmaps(args.quick),
        "ingest": bench_ingest(args.quick, args.workers),
    }
    hm, ing = res["heatmaps"], res["ingest"]
    lines = [
        f"machine: {res['machine']}, load average {res['load']}",
        f"heatmaps/s at 58 subjects, 360x180, sigma 7 (maps timed: {hm['maps']}, best of 3):",
        f"  pano torch CPU float64      {hm['pano_cpu_maps_per_s']:10.2f}",
        f"  pano torch CPU, 1 thread    {hm['pano_cpu_1thread_maps_per_s']:10.2f}",
        f"  pano v0 whole-map einsum    {hm['pano_v0_einsum_cpu_maps_per_s']:10.2f}"
        f"  (max diff {hm['v0_max_abs_diff']:.1e})",
    ]
    if "pano_cuda_float64_maps_per_s" in hm:
        lines.append(
            f"  pano torch CUDA float64     {hm['pano_cuda_float64_maps_per_s']:10.2f}"
            f"  ({hm['cuda_device']})"
        )
    lines += [
        f"  naive per-pixel Python      {hm['naive_python_maps_per_s']:10.4f}"
        f"  (extrapolated from {hm['naive_rows_timed']} rows)",
        f"  naive per-pixel numpy       {hm['naive_numpy_maps_per_s']:10.4f}"
        f"  (max diff vs pano {hm['naive_max_abs_diff']:.1e})",
        f"ingest: {ing['videos']} videos x {ing['seconds_per_video']:g} s x 58 subjects, "
        f"{ing['frames']} frames, {ing['heatmaps']} heatmaps",
    ]
    lines += [f"  {k[7:]:<20} {ing[k]:8.1f} s" for k in ing if k.startswith("ingest_")]
    mib = 2**20
    lines += [
        f"  store                {ing['store_bytes'] / mib:8.2f} MiB "
        f"({ing['store_bytes_per_video'] / mib:.2f} MiB/video)",
        f"  mp4 ({ing['video_size']})        {ing['mp4_bytes'] / mib:8.2f} MiB",
        f"  yuv420p same videos  {ing['yuv420p_bytes_same_videos'] / mib:8.2f} MiB",
        f"  yuv420p at 3840x1920 {ing['yuv420p_bytes_at_3840x1920'] / mib:8.0f} MiB",
    ]
    print("\n".join(lines))
    if args.out:
        args.out.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
