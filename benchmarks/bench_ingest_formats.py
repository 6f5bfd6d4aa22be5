"""Benchmark: trace-ingest throughput per raw format vs a pandas/NumPy loop in TRACK's style.

    python benchmarks/bench_ingest_formats.py [--quick] [--out results.json]

The same simulated heads (:func:`pano.synth.simulate_recordings`, 60 Hz) are written as
PVS-HM raw txt traces and as Fan NOSSDAV'17 orientation CSVs (30 fps). For each format, in
one run, traces per second of:

* **pano read + convert + resample**: the format's reader (``pano.stores.formats``) to
  canonical unit vectors, then :func:`pano.geometry.resample_directions` onto a 0.2 s grid;
* **pano ingest**: the whole ``pano ingest <format> SRC STORE --workers 0 --device cpu``
  (reader, 5 Hz resampling, 360x180 heatmaps every 10 frames, Zarr store, checks);
* **TRACK-style loop**: a plain pandas/NumPy reimplementation of the per-trace loop of
  TRACK's ``Read_Dataset.py`` scripts (Rondon et al.; the Xu_PAMI_18 one read with the
  search tools): per trace file, ``pandas.read_table`` with a regex separator on the python
  engine (the txt file read twice, once for the intervals, once for the angles, as TRACK
  does; the Fan CSV with ``pandas.read_csv``), angles -> TRACK's sphere -> the rotation from
  ``(1, 0, 0)`` to each direction, scipy ``Slerp`` onto ``arange(t0, t_end + 0.1, 0.2)``
  (first time moved to 0 when later than 0.1 s, last grid time clipped to the last sample,
  as TRACK's ``interpolate_quaternions``), rotate ``(1, 0, 0)`` back to ``x, y, z``. The
  per-sample rotations are vectorised with scipy (TRACK builds a pyquaternion per sample
  in a Python loop, slower still), so this is the loop's best case; "+ write" adds TRACK's
  ``pandas.DataFrame.to_csv`` of each sampled trace.

The TRACK-style output is checked against pano's (great-circle difference at the 0.2 s
steps; it slerps rotations, pano slerps directions, so they differ by a hair).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.transform import Rotation, Slerp

from pano.geometry import orthodromic_distance, resample_directions, track_to_vec

RATE_S = 0.2  # TRACK's sampling period


# ---------------------------------------------------------------------------
# The TRACK-style per-trace loop
# ---------------------------------------------------------------------------


def _track_sphere(lon_deg: np.ndarray, lat_deg: np.ndarray) -> np.ndarray:
    """TRACK's PVS-HM sphere: theta = rad(lon + 180), phi = rad(90 - lat) -> (N, 3)."""
    theta, phi = np.radians(lon_deg + 180.0), np.radians(90.0 - lat_deg)
    return np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], 1)


def _track_resample(t: np.ndarray, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotations from (1, 0, 0) to ``xyz``, slerped onto TRACK's 0.2 s grid, applied back."""
    ex = np.array([1.0, 0.0, 0.0])
    axis = np.cross(ex, xyz)
    norm = np.linalg.norm(axis, axis=1, keepdims=True)
    angle = np.arccos(np.clip(xyz @ ex, -1.0, 1.0))[:, None]
    axis = np.where(norm > 1e-12, axis / np.where(norm > 1e-12, norm, 1.0), [0.0, 0.0, 1.0])
    rots = Rotation.from_rotvec(axis * angle)
    if t[0] > RATE_S / 2:  # TRACK: start the trace at 0 s with its first rotation
        t = np.r_[0.0, t]
        rots = Rotation.concatenate([rots[0], rots])
    grid = np.arange(t[0], t[-1] + RATE_S / 2, RATE_S)
    grid[-1] = min(t[-1], grid[-1])
    return grid, Slerp(t, rots)(grid).apply(ex)


def track_loop_pvs_txt(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One PVS-HM txt trace: (grid (N,), TRACK xyz (N, 3))."""
    rates = pd.read_table(path, header=None, sep=r"\s+", engine="python")[[0]].iloc[:-1]
    t = np.cumsum(rates.to_numpy()[:, 0]) / 1000.0
    angles = pd.read_table(path, header=None, sep=r"\s+", engine="python")[[1, 2]].iloc[:-1]
    lat, lon = angles.to_numpy().T
    return _track_resample(t, _track_sphere(lon, lat))


def track_loop_fan(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One Fan NOSSDAV'17 orientation CSV (users 01-20 pitch up, 21-50 pitch down)."""
    df = pd.read_csv(path, skipinitialspace=True)
    t = (df["no. frames"].to_numpy() - 1) / 30.0
    user = int(path.stem.split("_user")[1].split("_")[0])
    sign = 1.0 if user <= 20 else -1.0
    lon, lat = -df["cal. yaw"].to_numpy(), sign * df["cal. pitch"].to_numpy()
    return _track_resample(t, _track_sphere(lon, lat))


def run_track_loop(
    files: list[Path], one: Callable[[Path], tuple[np.ndarray, np.ndarray]], out: Path | None
) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    results = {}
    for f in files:
        grid, xyz = one(f)
        results[(f.parent.name, f.stem)] = (grid, xyz)
        if out is not None:
            d = out / f.parent.name
            d.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(np.c_[grid, xyz]).to_csv(d / f.stem, header=False, index=False)
    return results


# ---------------------------------------------------------------------------
# pano
# ---------------------------------------------------------------------------


def pano_read_resample(fmt: str, src: Path) -> dict[tuple[str, str], tuple[np.ndarray, Any]]:
    from pano.stores.formats import get_format

    ts = get_format(fmt).read(src)
    out = {}
    for tr in ts.traces:
        grid = np.arange(0.0, tr.t[-1] + 1e-9, RATE_S)
        out[(tr.video, tr.subject)] = (grid, resample_directions(tr.t, tr.head, grid))
    return out


def pano_ingest(fmt: str, src: Path, store: Path) -> None:
    import contextlib
    import io

    from pano.cli.app import main

    with contextlib.redirect_stdout(io.StringIO()):  # the ingest summary
        code = main(["-q", "ingest", fmt, str(src), str(store), "--workers", "0", "--device", "cpu",
                     "--overwrite"])  # fmt: skip
    if code != 0:
        raise SystemExit(f"pano ingest {fmt} failed ({code})")


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, res = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn()
        best = min(best, time.perf_counter() - t0)
    return best, res


def _agreement(pano: dict[Any, Any], track: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Largest great-circle difference (deg) between pano and the TRACK-style loop."""
    worst = 0.0
    pano_items = sorted(pano.items())
    for (_, (g1, v1)), (g2, x2) in zip(pano_items, track, strict=True):
        n = min(g1.size, g2.size) - 1  # TRACK clips its last grid time to the last sample
        ok = np.isfinite(v1[:n]).all(1)
        d = np.rad2deg(orthodromic_distance(v1[:n][ok], track_to_vec(x2[:n][ok])))
        worst = max(worst, float(d.max()))
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small data (a smoke run)")
    ap.add_argument("--out", type=Path, help="write the figures as JSON")
    args = ap.parse_args()
    from pano.synth import simulate_recordings
    from pano.synth.formats import get_synth_format

    n_videos, n_subjects, seconds = (2, 4, 10.0) if args.quick else (4, 20, 30.0)
    repeat = 1 if args.quick else 2
    sim = simulate_recordings(
        n_videos=n_videos, n_subjects=n_subjects, duration_s=seconds, rate_hz=60.0, gaze=False
    )
    n_traces = len(sim.recordings)
    rows: list[dict[str, Any]] = []
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        for fmt, pattern, one in (
            ("pvs-hm-txt", "*/*.txt", track_loop_pvs_txt),
            ("fan-nossdav17", "sensory/orientation/*.csv", track_loop_fan),
        ):
            src = tmp / fmt
            get_synth_format(fmt).write(sim, src)
            files = sorted(src.glob(pattern))
            samples = sum(len(f.read_bytes().splitlines()) for f in files)
            t_pano, pano_res = _best(lambda fmt=fmt, src=src: pano_read_resample(fmt, src), repeat)
            t_ingest, _ = _best(
                lambda fmt=fmt, src=src: pano_ingest(fmt, src, tmp / f"{fmt}.zarr"), repeat
            )
            t_track, track_res = _best(
                lambda files=files, one=one: run_track_loop(files, one, None), repeat
            )
            t_track_w, _ = _best(
                lambda files=files, one=one, d=tmp / f"{fmt}-track": run_track_loop(files, one, d),
                repeat,
            )
            # pair the TRACK-style results with pano's (video, subject) keys
            if fmt == "pvs-hm-txt":
                keyed = {(f.stem, f.parent.name): track_res[(f.parent.name, f.stem)]
                         for f in files}  # fmt: skip
            else:
                keyed = {}
                for f in files:
                    video, user = f.stem.split("_user")[0], "user" + f.stem.split("_user")[1][:2]
                    keyed[(video, user)] = track_res[(f.parent.name, f.stem)]
            common = sorted(set(keyed) & set(pano_res))
            diff = _agreement({k: pano_res[k] for k in common}, [keyed[k] for k in common])
            for what, sec in (
                ("pano read + convert + resample", t_pano),
                ("pano ingest (store, 5 Hz, heatmaps)", t_ingest),
                ("TRACK-style pandas/NumPy loop", t_track),
                ("TRACK-style loop + CSV write", t_track_w),
            ):
                rows.append({"format": fmt, "path": what, "seconds": sec,
                             "traces_per_s": n_traces / sec, "raw_lines": samples})  # fmt: skip
            rows.append({"format": fmt, "path": "max pano vs TRACK-style difference (deg)",
                         "value": diff, "pairs_compared": len(common)})  # fmt: skip
    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs, {platform.python_version()}",
        "load_before": [round(x, 2) for x in load],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "data": f"{n_videos} videos x {n_subjects} subjects x {seconds:g} s at 60 Hz "
        f"({n_traces} traces per format)",
        "repeat": f"best of {repeat}",
        "rows": rows,
    }
    print(f"{result['machine']}; load {result['load_before']} -> {result['load_after']}")
    print(f"data: {result['data']}, {result['repeat']}")
    for r in rows:
        if "seconds" in r:
            print(f"{r['format']:<14} {r['path']:<38} {r['seconds']:8.2f} s "
                  f"{r['traces_per_s']:9.1f} traces/s")  # fmt: skip
        else:
            print(
                f"{r['format']:<14} {r['path']:<38} {r['value']:.3g} ({r['pairs_compared']} traces)"
            )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
