"""Scanpath similarity on the sphere: exact DTW and a MultiMatch-style comparison.

Scanpaths are sequences of unit vectors ``(..., n, 3)`` in pano's frame (NumPy or
torch; computed in float64 NumPy). Rows containing NaN (missing samples) are dropped
before comparing, so two scanpaths may have different valid lengths. Leading
dimensions broadcast: ``dtw(pred[:, None], gt[None])`` compares every rollout with
every subject.

* :func:`dtw`: dynamic time warping with the orthodromic (great-circle) ground
  distance - the exact O(n m) recursion (steps (1,0), (0,1), (1,1)), no FastDTW
  approximation - in degrees.
* :func:`multimatch`: MultiMatch (Jarodzka et al. 2010; Dewhurst et al. 2012,
  ``multimatch_gaze``) carried over to the sphere: saccades become tangent-plane
  vectors at their start (amplitude = great-circle angle, direction = initial
  bearing), the alignment is the cheapest monotone path through the matrix of saccade
  vector differences, and over the aligned pairs the medians give
  ``vector = 1 - median|v - u| / 2 pi``, ``direction = 1 - median(angle) / pi``,
  ``length = 1 - median|a - b| / pi`` and ``position = 1 - median(great-circle
  distance of the start points) / pi``. Head scanpaths sampled on a fixed step grid
  carry no fixation durations, so the duration dimension is NaN and dropped; no
  simplification (saccade merging) is applied.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from pano.errors import ShapeError
from pano.geometry import orthodromic_distance

#: MultiMatch dimensions reported (duration is dropped: fixed-step scanpaths).
MULTIMATCH_DIMS = ("vector", "direction", "length", "position")


def _paths(x: Any, name: str) -> np.ndarray:
    if type(x).__module__.startswith("torch"):
        a = x.detach().to("cpu").double().numpy()
    else:
        a = np.asarray(x, dtype=np.float64)
    if a.ndim < 2 or a.shape[-1] != 3:
        raise ShapeError(f"{name} must be scanpaths of unit vectors (..., n, 3), got {a.shape}")
    return a


def _compact(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move valid rows of ``(B, n, 3)`` to the front; return them and the valid counts."""
    valid = np.isfinite(a).all(-1)
    order = np.argsort(~valid, axis=1, kind="stable")
    out = np.take_along_axis(a, order[..., None], axis=1)
    return np.nan_to_num(out), valid.sum(1)


def _batch(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    pa, pb = _paths(a, "a"), _paths(b, "b")
    lead = np.broadcast_shapes(pa.shape[:-2], pb.shape[:-2])
    pa = np.broadcast_to(pa, (*lead, *pa.shape[-2:])).reshape(-1, *pa.shape[-2:])
    pb = np.broadcast_to(pb, (*lead, *pb.shape[-2:])).reshape(-1, *pb.shape[-2:])
    return pa, pb, lead


def _dtw_table(cost: np.ndarray) -> np.ndarray:
    """Accumulated-cost table ``(B, n+1, m+1)`` of the DTW recursion, by anti-diagonals."""
    b, n, m = cost.shape
    acc = np.full((b, n + 1, m + 1), np.inf)
    acc[:, 0, 0] = 0.0
    for k in range(2, n + m + 1):
        i = np.arange(max(1, k - m), min(n, k - 1) + 1)
        j = k - i
        best = np.minimum(np.minimum(acc[:, i - 1, j - 1], acc[:, i - 1, j]), acc[:, i, j - 1])
        acc[:, i, j] = cost[:, i - 1, j - 1] + best
    return acc


def _pair_cost(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Orthodromic distance matrix ``(B, n, m)`` in radians."""
    return orthodromic_distance(a[:, :, None, :], b[:, None, :, :])


def dtw(a: Any, b: Any, block: int = 256) -> np.ndarray:
    """Exact DTW distance between scanpaths with the orthodromic ground distance.

    Args:
        a: scanpaths ``(..., n, 3)``; b: scanpaths ``(..., m, 3)`` (leading dims broadcast).
        block: pairs processed at once (bounds memory to ``block * n * m`` floats).

    Returns:
        ``(...)`` total accumulated great-circle distance along the optimal warping path,
        in **degrees** (0 for identical scanpaths). NaN where either scanpath has no
        valid sample.

    """
    pa, pb, lead = _batch(a, b)
    out = np.full(pa.shape[0], np.nan)
    for s in range(0, pa.shape[0], block):
        ca, la = _compact(pa[s : s + block])
        cb, lb = _compact(pb[s : s + block])
        acc = _dtw_table(_pair_cost(ca, cb))
        val = acc[np.arange(ca.shape[0]), la, lb]
        out[s : s + block] = np.where((la > 0) & (lb > 0), np.rad2deg(val), np.nan)
    return out.reshape(lead)


def _saccades(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Saccade start points, tangent vectors, amplitudes and bearings of compact scanpaths.

    Returns ``start (B, n-1, 3)``, ``vec (B, n-1, 2)`` (amplitude * (cos, sin) bearing
    in the local east/north frame), ``amp (B, n-1)`` radians, ``bearing (B, n-1)``.
    """
    a, c = p[:, :-1], p[:, 1:]
    amp = orthodromic_distance(a, c)
    zaxis = np.array([0.0, 0.0, 1.0])
    east = np.cross(np.broadcast_to(zaxis, a.shape), a)
    en = np.linalg.norm(east, axis=-1, keepdims=True)
    east = np.where(en > 1e-12, east / np.where(en > 1e-12, en, 1.0), np.array([0.0, 1.0, 0.0]))
    north = np.cross(a, east)
    t = c - (a * c).sum(-1, keepdims=True) * a
    bearing = np.arctan2((t * north).sum(-1), (t * east).sum(-1))
    vec = amp[..., None] * np.stack([np.cos(bearing), np.sin(bearing)], -1)
    return a, vec, amp, bearing


def multimatch(a: Any, b: Any, block: int = 256) -> np.ndarray:
    """MultiMatch-style similarity on the sphere (see the module docstring).

    Args:
        a, b: scanpaths ``(..., n, 3)`` and ``(..., m, 3)`` (leading dims broadcast).

    Returns:
        ``(..., 4)`` similarities in ``[0, 1]`` (1 = identical) for
        :data:`MULTIMATCH_DIMS` = (vector, direction, length, position); NaN where a
        scanpath has fewer than 2 valid samples (no saccade).

    """
    pa, pb, lead = _batch(a, b)
    out = np.full((pa.shape[0], len(MULTIMATCH_DIMS)), np.nan)
    for s in range(0, pa.shape[0], block):
        ca, la = _compact(pa[s : s + block])
        cb, lb = _compact(pb[s : s + block])
        if ca.shape[1] < 2 or cb.shape[1] < 2:
            continue
        sa, va, aa, ba = _saccades(ca)
        sb, vb, ab, bb = _saccades(cb)
        na, nb = la - 1, lb - 1  # saccade counts
        diff = np.linalg.norm(va[:, :, None] - vb[:, None], axis=-1)  # (B, n-1, m-1)
        acc = _dtw_table(diff)
        rows = np.arange(ca.shape[0])
        i, j = np.maximum(na, 0), np.maximum(nb, 0)
        ok = (na > 0) & (nb > 0)
        steps = ca.shape[1] + cb.shape[1]
        pi_ = np.full((ca.shape[0], steps), -1)
        pj_ = np.full((ca.shape[0], steps), -1)
        active = ok.copy()
        for k in range(steps):
            if not active.any():
                break
            pi_[active, k] = i[active] - 1
            pj_[active, k] = j[active] - 1
            diag = acc[rows, i - 1, j - 1]
            up = acc[rows, i - 1, j]
            left = acc[rows, i, j - 1]
            move_diag = (diag <= up) & (diag <= left)
            move_up = ~move_diag & (up <= left)
            ni = np.where(move_diag | move_up, i - 1, i)
            nj = np.where(move_diag | ~move_up, j - 1, j)
            done = (ni == 0) | (nj == 0)
            i, j = np.where(active, ni, i), np.where(active, nj, j)
            active &= ~done
        use = pi_ >= 0
        ii, jj = np.maximum(pi_, 0), np.maximum(pj_, 0)
        r2 = rows[:, None]
        dvec = np.linalg.norm(va[r2, ii] - vb[r2, jj], axis=-1) / (2.0 * math.pi)
        dang = np.abs(ba[r2, ii] - bb[r2, jj]) % (2.0 * math.pi)
        ddir = np.minimum(dang, 2.0 * math.pi - dang) / math.pi
        dlen = np.abs(aa[r2, ii] - ab[r2, jj]) / math.pi
        dpos = orthodromic_distance(sa[r2, ii], sb[r2, jj]) / math.pi
        for d, arr in enumerate((dvec, ddir, dlen, dpos)):
            vals = np.where(use, arr, np.nan)
            med = np.full(vals.shape[0], np.nan)
            if ok.any():
                med[ok] = np.nanmedian(vals[ok], axis=1)
            out[s : s + block, d] = 1.0 - med
    return out.reshape(*lead, len(MULTIMATCH_DIMS))


#: Scanpath metric names (the MultiMatch ones prefixed ``mm_``), label, higher-is-better.
SCANPATH_METRICS: dict[str, tuple[str, bool]] = {
    "dtw_deg": ("DTW, orthodromic (deg, total)", False),
    "dtw_deg_per_step": ("DTW / ground-truth length (deg)", False),
    **{f"mm_{d}": (f"MultiMatch {d}", True) for d in MULTIMATCH_DIMS},
}


def scanpath_scores(
    pred: Any, gt: Any, metrics: tuple[str, ...] = tuple(SCANPATH_METRICS)
) -> np.ndarray:
    """Mean scanpath scores of every predicted scanpath against every true one.

    Args:
        pred: ``(R, n, 3)`` predicted scanpaths (e.g. rollouts).
        gt: ``(M, m, 3)`` ground-truth scanpaths (e.g. subjects).

    Returns:
        ``(len(metrics),)``: each metric averaged (NaN-aware) over the ``R x M`` pairs.

    """
    for name in metrics:
        if name not in SCANPATH_METRICS:
            raise ShapeError(f"unknown scanpath metric {name!r}: use {', '.join(SCANPATH_METRICS)}")
    p, g = _paths(pred, "pred"), _paths(gt, "gt")
    if p.ndim != 3 or g.ndim != 3:
        raise ShapeError(f"pred and gt must be (R, n, 3) and (M, m, 3), got {p.shape}, {g.shape}")
    cols: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN means: NaN, on purpose
        if {"dtw_deg", "dtw_deg_per_step"} & set(metrics):
            d = dtw(p[:, None], g[None])
            glen = np.isfinite(g).all(-1).sum(-1).astype(np.float64)
            cols["dtw_deg"] = float(np.nanmean(d))
            per = d / np.where(glen > 0, glen, np.nan)[None, :]
            cols["dtw_deg_per_step"] = float(np.nanmean(per))
        if any(m.startswith("mm_") for m in metrics):
            mm = np.nanmean(multimatch(p[:, None], g[None]).reshape(-1, 4), axis=0)
            for k, dname in enumerate(MULTIMATCH_DIMS):
                cols[f"mm_{dname}"] = float(mm[k])
    return np.array([cols[m] for m in metrics])
