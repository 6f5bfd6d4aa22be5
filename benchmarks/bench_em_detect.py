"""Accuracy of EM event detection against the synthetic generator's true events.

The generator (:func:`pano.synth.gaze.simulate_gaze_events`) knows every sample's true event
(fixation or saccade). Gaze is simulated exactly as ``pano synth`` does (same targets, heads
and gaze streams, the generator's default 60 Hz: ``fps 30 x samples_per_frame 2``), without
the NaN samples ``pano synth`` adds, and labelled by :func:`pano.em.detect_events`.

Scores per method and threshold (all subjects and videos pooled):

* ``kappa``: per-sample Cohen's kappa of "fixation" vs "not fixation";
* ``onset`` / ``offset``: median absolute error in ms of the start / end of each true
  fixation against the detected fixation that overlaps it most (true fixations with no
  overlapping detection count as misses, not in these medians);
* ``F1``: event F1 of fixations; a detected fixation matches a true one when they overlap
  by at least half of the longer one (one-to-one);
* ``n_det / n_true``: detected and true fixation counts.

Rows: pano's I-VT and I-DT over ranges of thresholds, smoothing and resampling, and the
Salient360! toolbox's pipeline (``EmParams.preset("salient360")``) over thresholds, all in
one run. Run: ``python benchmarks/bench_em_detect.py [--videos N] [--seconds S]``. Figures
are in ``docs/em.md``. Deterministic (fixed seed); no wall-time measurements.
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np

from pano.em import EmEvent, EmParams, detect_events
from pano.synth.gaze import TRUE_FIXATION, simulate_gaze_events
from pano.synth.heads import simulate_heads
from pano.synth.targets import default_target_specs, simulate_targets


def simulate(videos: int, seconds: float, rate: float, subjects: int, seed: int):
    """Yield ``(times, gaze (S, N, 3), truth (S, N))`` per video, as ``pano synth`` makes them."""
    dt = 1.0 / rate
    n = round(seconds * rate)
    for v in range(videos):
        rng = {
            k: np.random.default_rng([seed, v, i])
            for i, k in enumerate(("targets", "background", "heads", "gaze", "hm_nan", "em_nan"))
        }
        specs = default_target_specs(v, rng["targets"])
        targets = simulate_targets(specs, n, dt, rng["targets"])
        heads, attention = simulate_heads(targets, dt, subjects, rng["heads"])
        gaze, truth = simulate_gaze_events(heads, targets, attention, dt, rng["gaze"])
        yield np.arange(n) * dt, gaze, truth


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    e = np.nonzero(np.diff(m))[0]
    return list(zip(e[0::2].tolist(), e[1::2].tolist(), strict=True))


def kappa(truth: np.ndarray, pred: np.ndarray) -> float:
    """Cohen's kappa of two boolean label arrays."""
    po = float(np.mean(truth == pred))
    pt, pp = float(truth.mean()), float(pred.mean())
    pe = pt * pp + (1 - pt) * (1 - pp)
    return (po - pe) / (1 - pe) if pe < 1 else 1.0


def event_scores(truth: np.ndarray, pred: np.ndarray) -> tuple[list[int], list[int], int, int, int]:
    """Onset/offset errors (samples), matched count, true count, detected count."""
    tr, dr = _runs(truth), _runs(pred)
    on, off = [], []
    used: set[int] = set()
    matched = 0
    for a, b in tr:
        best, bi = 0, -1
        for k, (c, d) in enumerate(dr):
            if d <= a:
                continue
            if c >= b:
                break
            ov = min(b, d) - max(a, c)
            if ov > best:
                best, bi = ov, k
        if bi < 0:
            continue
        c, d = dr[bi]
        on.append(abs(c - a))
        off.append(abs(d - b))
        if bi not in used and best >= 0.5 * max(b - a, d - c):
            used.add(bi)
            matched += 1
    return on, off, matched, len(tr), len(dr)


def score(params: EmParams, data: list, dt: float) -> dict[str, float]:
    t_all, p_all = [], []
    on, off = [], []
    matched = n_true = n_det = 0
    for times, gaze, truth in data:
        for s in range(gaze.shape[0]):
            res = detect_events(times, gaze[s], params)
            tf = truth[s] == TRUE_FIXATION
            # Back onto the input's samples (nearest detection sample) when resampled.
            idx = np.searchsorted(res.times, times)
            idx = np.clip(idx, 1, res.times.size - 1)
            idx -= (times - res.times[idx - 1]) < (res.times[idx] - times)
            pf = res.events[idx] == int(EmEvent.FIXATION)
            t_all.append(tf)
            p_all.append(pf)
            o, f, m, nt, nd = event_scores(tf, pf)
            on += o
            off += f
            matched, n_true, n_det = matched + m, n_true + nt, n_det + nd
    prec = matched / max(n_det, 1)
    rec = matched / max(n_true, 1)
    return {
        "kappa": kappa(np.concatenate(t_all), np.concatenate(p_all)),
        "onset_ms": float(np.median(on)) * dt * 1000 if on else float("nan"),
        "offset_ms": float(np.median(off)) * dt * 1000 if off else float("nan"),
        "f1": 2 * prec * rec / max(prec + rec, 1e-12),
        "n_det": n_det,
        "n_true": n_true,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--subjects", type=int, default=8)
    ap.add_argument("--rate", type=float, default=60.0, help="sample rate, Hz (synth: 60)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    data = list(simulate(args.videos, args.seconds, args.rate, args.subjects, args.seed))
    dt = 1.0 / args.rate
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}; {args.videos} videos x {args.subjects} subjects "
        f"x {args.seconds:g} s at {args.rate:g} Hz, seed {args.seed}"
    )
    native = {"resample_hz": None}
    rows: list[tuple[str, EmParams]] = [("ivt defaults (90 Hz)", EmParams())]
    rows += [
        (f"ivt {v:g} deg/s", EmParams(velocity_threshold_deg_s=v))
        for v in (30, 50, 80, 100, 150, 200)
    ]
    rows += [("ivt 120, no smoothing", EmParams(savgol_window=0))]
    rows += [(f"ivt 120, {hz:g} Hz resampled", EmParams(resample_hz=hz)) for hz in (120.0, 240.0)]
    rows += [("ivt 120, native rate", EmParams(**native))]  # the defaults before 90 Hz
    rows += [("ivt 120, native, no smoothing", EmParams(savgol_window=0, **native))]
    rows += [("idt defaults (2 deg, 90 Hz)", EmParams(method="idt"))]
    rows += [
        (f"idt {d:g} deg", EmParams(method="idt", dispersion_deg=d)) for d in (0.5, 1.0, 3.0, 5.0)
    ]
    rows += [("idt 2, no smoothing", EmParams(method="idt", savgol_window=0))]
    rows += [("idt 2, native rate", EmParams(method="idt", **native))]
    rows += [("salient360 preset", EmParams.preset("salient360"))]
    rows += [
        (f"salient360 {v:g} deg/s", EmParams.preset("salient360", velocity_threshold_deg_s=v))
        for v in (50, 80, 100, 150)
    ]
    rows += [
        (
            "salient360 CLI defaults",  # no resampling, no filter
            EmParams.preset("salient360", resample_hz=None, savgol_window=0),
        )
    ]
    print(f"| {'method':31} | kappa | onset ms | offset ms | event F1 | detected / true |")
    print(f"|{'-' * 33}|-------|----------|-----------|----------|-----------------|")
    for name, p in rows:
        r = score(p, data, dt)
        print(
            f"| {name:31} | {r['kappa']:.3f} | {r['onset_ms']:8.1f} | {r['offset_ms']:9.1f} "
            f"| {r['f1']:8.3f} | {r['n_det']:6d} / {r['n_true']:6d} |"
        )


if __name__ == "__main__":
    main()
