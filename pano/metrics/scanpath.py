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
* :func:`jarodzka360` / :func:`jarodzka360_matched`: the Salient360! comparison
  ("Jarodzka 360"; Rai, Le Callet, Gutierrez 2017; David et al. 2018 toolbox): every
  pair of samples costs the mean of ``position = great-circle angle / pi`` and
  ``direction = angle between the saccades arriving at them / pi`` (``0.5`` for the
  first sample, where there is no saccade); the cheapest monotone path through that
  matrix aligns the scanpaths and the score is the mean cost along it (lower is
  better). Sets of scanpaths are compared by matching predicted to true
  scanpaths one-to-one with the Hungarian algorithm and averaging the matched scores.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from pano.errors import ParameterError, ShapeError
from pano.geometry import orthodromic_distance
from pano.metrics._arrays import to_numpy
from pano.metrics.registry import MULTIMATCH_DIMS, check_metric_names, metrics_of

__all__ = [
    "MULTIMATCH_DIMS",
    "SCANPATH_METRICS",
    "dtw",
    "jarodzka360",
    "jarodzka360_matched",
    "multimatch",
    "scanpath_scores",
]


def _paths(x: Any, name: str) -> np.ndarray:
    a = to_numpy(x)
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
    return _path_tables(cost, lengths=False)[0]


def _path_tables(cost: np.ndarray, lengths: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """DTW tables ``(B, n+1, m+1)``: accumulated cost and (optionally) the path's cell count.

    ``acc[i, j]`` is the cheapest sum of ``cost`` over a monotone path (steps (1,0), (0,1),
    (1,1)) from cell ``(0, 0)`` to ``(i-1, j-1)``, both included. With ``lengths``, the
    second table counts that path's cells; among predecessors of equal cost the diagonal
    wins, then ``(i-1, j)``, then ``(i, j-1)``.
    """
    b, n, m = cost.shape
    acc = np.full((b, n + 1, m + 1), np.inf)
    acc[:, 0, 0] = 0.0
    cells = np.zeros((b, n + 1, m + 1), np.int64) if lengths else None
    for k in range(2, n + m + 1):
        i = np.arange(max(1, k - m), min(n, k - 1) + 1)
        j = k - i
        diag, up, left = acc[:, i - 1, j - 1], acc[:, i - 1, j], acc[:, i, j - 1]
        acc[:, i, j] = cost[:, i - 1, j - 1] + np.minimum(np.minimum(diag, up), left)
        if cells is not None:
            take_diag = (diag <= up) & (diag <= left)
            prev = np.where(
                take_diag,
                cells[:, i - 1, j - 1],
                np.where(up <= left, cells[:, i - 1, j], cells[:, i, j - 1]),
            )
            cells[:, i, j] = prev + 1
    return acc, cells


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


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle (radians) between vectors ``(..., 3)``; NaN where either has zero length."""
    cross = np.linalg.norm(np.cross(u, v), axis=-1)
    dot = (u * v).sum(-1)
    zero = (np.linalg.norm(u, axis=-1) == 0) | (np.linalg.norm(v, axis=-1) == 0)
    return np.where(zero, np.nan, np.arctan2(cross, dot))


def jarodzka360(
    a: Any, b: Any, weights: tuple[float, float] = (1.0, 1.0), block: int = 256
) -> np.ndarray:
    """Salient360!'s "Jarodzka 360" dissimilarity of two scanpaths (module docstring).

    Sample pair ``(i, j)`` costs ``(wp * pos + wd * dir) / (wp + wd)`` with ``pos`` the
    great-circle angle between the samples over pi and ``dir`` the angle between the
    chord vectors ``a[i-1] - a[i]`` and ``b[j-1] - b[j]`` over pi (0.5 where ``i`` or
    ``j`` is 0, or where a chord has zero length: no direction). The scanpaths are aligned
    by the cheapest monotone path from the first to the last pair (steps (1,0), (0,1),
    (1,1)); the result is the mean cost of the path's cells. Equal-cost paths are broken
    towards the diagonal, which can differ from the toolbox's Dijkstra order in exact ties.

    Args:
        a: scanpaths ``(..., n, 3)``; b: ``(..., m, 3)`` unit vectors (leading dims
            broadcast; NaN rows are dropped).
        weights: ``(position, direction)`` weights (the toolbox's default is equal).
        block: pairs processed at once.

    Returns:
        ``(...)`` in ``[0, 1]``, lower is better; NaN where a scanpath has no valid
        sample. Identical scanpaths of ``n`` samples score ``0.5 wd / (wp + wd) / n``
        (only the first pair, which has no saccade, costs anything), as in the toolbox.

    """
    wp, wd = (float(w) for w in weights)
    if wp < 0 or wd < 0 or wp + wd <= 0:
        raise ParameterError(f"weights must be non-negative and not both 0, got {weights!r}")
    pa, pb, lead = _batch(a, b)
    out = np.full(pa.shape[0], np.nan)
    for s in range(0, pa.shape[0], block):
        ca, la = _compact(pa[s : s + block])
        cb, lb = _compact(pb[s : s + block])
        pos = orthodromic_distance(ca[:, :, None], cb[:, None]) / math.pi
        sa = np.zeros_like(ca)
        sb = np.zeros_like(cb)
        sa[:, 1:] = ca[:, :-1] - ca[:, 1:]
        sb[:, 1:] = cb[:, :-1] - cb[:, 1:]
        direction = np.nan_to_num(_angle(sa[:, :, None], sb[:, None]) / math.pi, nan=0.5)
        cost = (wp * pos + wd * direction) / (wp + wd)
        acc, cells = _path_tables(cost)
        assert cells is not None
        rows = np.arange(ca.shape[0])
        total, count = acc[rows, la, lb], cells[rows, la, lb]
        ok = (la > 0) & (lb > 0)
        out[s : s + block] = np.where(ok, total / np.where(ok, count, 1), np.nan)
    return out.reshape(lead)


def jarodzka360_matched(pred: Any, gt: Any, weights: tuple[float, float] = (1.0, 1.0)) -> float:
    """Sets of scanpaths compared one-to-one: Hungarian matching on :func:`jarodzka360`.

    Args:
        pred: ``(R, n, 3)`` predicted scanpaths; gt: ``(M, m, 3)`` true ones.
        weights: as for :func:`jarodzka360`.

    Returns:
        The mean dissimilarity of the ``min(R, M)`` matched pairs (the matching that
        minimises their sum; scanpaths without valid samples take no part); NaN if
        nothing can be matched.

    """
    from scipy.optimize import linear_sum_assignment

    p, g = _paths(pred, "pred"), _paths(gt, "gt")
    cost = jarodzka360(p[:, None], g[None], weights)
    # NaN only where a scanpath has no valid sample: its whole row or column is NaN.
    ok = np.isfinite(cost)
    cost = cost[ok.any(1)][:, ok.any(0)]
    if cost.size == 0:
        return math.nan
    r, c = linear_sum_assignment(cost)
    return float(cost[r, c].mean())


#: Scanpath metric names -> (label, higher is better): a view derived from
#: :data:`pano.metrics.registry.METRICS` for older callers (the MultiMatch ones are ``mm_*``).
SCANPATH_METRICS: dict[str, tuple[str, bool]] = {
    n: (s.label, s.higher_is_better) for n, s in metrics_of("scanpath").items()
}


def scanpath_scores(
    pred: Any, gt: Any, metrics: tuple[str, ...] = tuple(SCANPATH_METRICS)
) -> np.ndarray:
    """Mean scanpath scores of every predicted scanpath against every true one.

    Args:
        pred: ``(R, n, 3)`` predicted scanpaths (e.g. rollouts).
        gt: ``(M, m, 3)`` ground-truth scanpaths (e.g. subjects).

    Returns:
        ``(len(metrics),)``: each metric averaged (NaN-aware) over the ``R x M`` pairs,
        except ``jarodzka360``: the mean over the Hungarian-matched pairs.

    Raises:
        UnknownMetricError: a name that is not a scanpath metric (the message lists them).

    """
    metrics = tuple(check_metric_names(metrics, "scanpath"))
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
        if "jarodzka360" in metrics:
            cols["jarodzka360"] = jarodzka360_matched(p, g)
    return np.array([cols[m] for m in metrics])
