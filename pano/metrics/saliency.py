"""Saliency-map metrics on equirectangular maps, batched over frames, under named profiles.

Conventions (see :mod:`pano.metrics.profiles` and ``docs/eval.md``):

* A **map** is an ERP array ``(F, H, W)`` (or ``(H, W)`` for one frame): F frames,
  row 0 at the north pole, column 0 at the left edge (pano's ERP convention,
  :mod:`pano.geometry`). NumPy arrays and torch tensors are accepted; everything is
  computed in float64 NumPy and returned as a float64 NumPy array ``(F,)`` (a 0-d
  array for a single ``(H, W)`` frame).
* **Density** inputs (``pred``, ``gt``: CC, KLD, SIM) and **fixation** inputs
  (:class:`Fixations`: NSS, the AUCs, information gain) are different types. A metric
  that needs fixations raises :class:`MetricInputError` when handed a map.
* Every random variant (AUC-Judd's jitter, AUC-Borji's and the MIT shuffled AUC's
  splits) draws from ``numpy.random.default_rng(seed)`` with one seed per frame;
  :func:`stable_seed` derives seeds from ``(video, frame, metric)`` so a score never
  changes between runs, machines or worker counts.
* A frame whose prediction contains NaN, or that has no valid fixation, scores NaN.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from pano.errors import PanoError, ShapeError
from pano.geometry import lonlat_to_erp, vec_to_erp
from pano.metrics.profiles import Profile, get_profile


class MetricInputError(PanoError, TypeError):
    """A metric got the wrong kind of input (e.g. a density map where fixations are needed)."""


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


def _to_numpy(x: Any) -> np.ndarray:
    if type(x).__module__.startswith("torch"):
        return x.detach().to("cpu").double().numpy()
    return np.asarray(x, dtype=np.float64)


def _as_maps(x: Any, name: str) -> tuple[np.ndarray, bool]:
    """Return ``(F, H, W)`` float64 maps and whether the input was a single ``(H, W)`` map."""
    if isinstance(x, Fixations):
        raise MetricInputError(
            f"{name} must be a saliency/density map (F, H, W), got Fixations; "
            "pass fixations only to NSS, AUC and IG"
        )
    a = _to_numpy(x)
    if a.ndim == 2:
        return a[None], True
    if a.ndim != 3:
        raise ShapeError(f"{name} must have shape (F, H, W) or (H, W), got {a.shape}")
    return a, False


def _out(values: np.ndarray, single: bool) -> np.ndarray:
    return values[0] if single else values


def stable_seed(*parts: object) -> int:
    """A 63-bit seed from a stable hash of ``parts`` (e.g. ``(seed, video, frame, metric)``).

    Unlike ``hash()``, the value is the same in every process and Python version.
    """
    text = "\x1f".join(repr(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1


def _frame_seeds(seeds: int | Sequence[int] | np.ndarray | None, n: int, metric: str) -> list[int]:
    if seeds is None:
        return [stable_seed("frame", i, metric) for i in range(n)]
    if isinstance(seeds, (int, np.integer)):
        return [stable_seed(int(seeds), i, metric) for i in range(n)]
    out = [int(s) for s in np.asarray(seeds).ravel()]
    if len(out) != n:
        raise ShapeError(f"seeds must hold one seed per frame ({n}), got {len(out)}")
    return out


@dataclass(frozen=True)
class Fixations:
    """Fixated pixels per frame: the positive samples of NSS, the AUCs and IG.

    Attributes:
        rows, cols: ``(F, N)`` int64 pixel indices (row 0 = top, column 0 = left edge).
        valid: ``(F, N)`` bool; False marks a missing sample (e.g. a subject with NaN).
        height, width: the map grid the indices refer to.

    Ground-truth fixations of PVS-HM are the subjects' head points of each step
    (the store's ``scanpath``), each mapped to the grid pixel that contains it.

    """

    rows: np.ndarray
    cols: np.ndarray
    valid: np.ndarray
    height: int
    width: int

    def __post_init__(self) -> None:
        if not (self.rows.shape == self.cols.shape == self.valid.shape) or self.rows.ndim != 2:
            raise ShapeError(
                f"Fixations rows/cols/valid must share one (F, N) shape, got "
                f"{self.rows.shape}, {self.cols.shape}, {self.valid.shape}"
            )
        ok = self.valid
        if np.any((self.rows[ok] < 0) | (self.rows[ok] >= self.height)) or np.any(
            (self.cols[ok] < 0) | (self.cols[ok] >= self.width)
        ):
            raise ShapeError(f"Fixations outside the {self.width}x{self.height} grid")

    @classmethod
    def from_pixels(
        cls, rows: Any, cols: Any, height: int, width: int, valid: Any | None = None
    ) -> Fixations:
        """Fixations from integer pixel indices ``(F, N)`` (``valid`` defaults to all True)."""
        r = np.asarray(rows, dtype=np.int64)
        c = np.asarray(cols, dtype=np.int64)
        if r.ndim == 1:
            r, c = r[None], c[None]
        v = np.ones(r.shape, bool) if valid is None else np.asarray(valid, bool).reshape(r.shape)
        r = np.where(v, r, 0)
        c = np.where(v, c, 0)
        return cls(r, c, v, int(height), int(width))

    @classmethod
    def _from_xy(cls, x: np.ndarray, y: np.ndarray, height: int, width: int) -> Fixations:
        valid = np.isfinite(x) & np.isfinite(y)
        xs = np.where(valid, x, 0.0)
        ys = np.where(valid, y, 0.0)
        cols = np.floor(xs).astype(np.int64) % width
        rows = np.clip(np.floor(ys).astype(np.int64), 0, height - 1)
        return cls.from_pixels(rows, cols, height, width, valid)

    @classmethod
    def from_lonlat(cls, lonlat: Any, height: int, width: int) -> Fixations:
        """Fixations from pano ``(lon, lat)`` degrees ``(F, N, 2)`` (NaN = missing).

        Each point goes to the pixel that contains it (``floor`` of the continuous ERP
        coordinate; the south-pole edge ``lat = -90`` goes to the last row).
        """
        ll = _to_numpy(lonlat)
        if ll.ndim == 2:
            ll = ll[None]
        if ll.ndim != 3 or ll.shape[-1] != 2:
            raise ShapeError(f"lonlat must have shape (F, N, 2), got {ll.shape}")
        x, y = lonlat_to_erp(ll[..., 0], ll[..., 1], width, height)
        return cls._from_xy(np.asarray(x), np.asarray(y), height, width)

    @classmethod
    def from_vectors(cls, vec: Any, height: int, width: int) -> Fixations:
        """Fixations from unit vectors ``(F, N, 3)`` in pano's frame (NaN = missing)."""
        v = _to_numpy(vec)
        if v.ndim == 2:
            v = v[None]
        if v.ndim != 3 or v.shape[-1] != 3:
            raise ShapeError(f"vectors must have shape (F, N, 3), got {v.shape}")
        x, y = vec_to_erp(v, width, height)
        return cls._from_xy(np.asarray(x), np.asarray(y), height, width)

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def frame(self, i: int, duplicates: str = "count") -> np.ndarray:
        """Flat pixel indices of frame ``i``'s valid fixations (unique ones if ``'once'``)."""
        flat = self.rows[i][self.valid[i]] * self.width + self.cols[i][self.valid[i]]
        return np.unique(flat) if duplicates == "once" else flat

    def counts(self) -> np.ndarray:
        """Fixation counts per pixel, ``(F, H, W)`` int64."""
        out = np.zeros((len(self), self.height * self.width), np.int64)
        for i in range(len(self)):
            np.add.at(out[i], self.frame(i), 1)
        return out.reshape(len(self), self.height, self.width)

    def select(self, idx: Any) -> Fixations:
        """A subset of frames (``idx`` indexes the leading dimension)."""
        return Fixations(self.rows[idx], self.cols[idx], self.valid[idx], self.height, self.width)


def _need_fixations(fix: Any, metric: str, maps: np.ndarray) -> Fixations:
    if not isinstance(fix, Fixations):
        shape = getattr(fix, "shape", None)
        raise MetricInputError(
            f"{metric} needs fixations (pano.metrics.Fixations), got "
            f"{type(fix).__name__}{'' if shape is None else ' of shape ' + str(tuple(shape))}: "
            "a density map is not a set of fixations; build them with "
            "Fixations.from_lonlat(scanpath, H, W)"
        )
    if len(fix) != maps.shape[0] or (fix.height, fix.width) != maps.shape[1:]:
        raise ShapeError(
            f"{metric}: fixations are for {len(fix)} frames on {fix.width}x{fix.height}, "
            f"the maps are {maps.shape[0]} frames of {maps.shape[2]}x{maps.shape[1]}"
        )
    return fix


def _check_pair(p: np.ndarray, g: np.ndarray, metric: str) -> None:
    if p.shape != g.shape:
        raise ShapeError(f"{metric}: prediction {p.shape} and ground truth {g.shape} differ")


def _pixel_weights(row_w: np.ndarray, width: int) -> np.ndarray:
    return np.repeat(row_w, width)  # (H*W,), row-major like a flattened map


def _masses(m: np.ndarray, row_w: np.ndarray) -> np.ndarray:
    """Maps ``(F, H, W)`` -> probability masses ``m w / sum(m w)`` (shifted up if negative).

    A map that sums to 0 becomes the area-weighted uniform distribution.
    """
    mn = m.min(axis=(1, 2))
    if (mn < 0).any():
        m = m - np.minimum(mn, 0.0)[:, None, None]
    mw = m if np.all(row_w == row_w[0]) else m * row_w[None, :, None]
    tot = mw.sum(axis=(1, 2))
    empty = ~(tot > 0)
    if empty.any():
        mw = np.array(mw)
        mw[empty] = row_w[:, None]
        tot[empty] = row_w.sum() * m.shape[2]
    return mw / tot[:, None, None]


def _minmax(m: np.ndarray) -> np.ndarray:
    """Each frame scaled to ``[0, 1]`` (a constant frame becomes 0)."""
    lo = m.min(axis=(1, 2))
    span = m.max(axis=(1, 2)) - lo
    out = m - lo[:, None, None]
    out /= np.where(span > 0, span, 1.0)[:, None, None]
    out[~(span > 0)] = 0.0
    return out


def _nan_frames(*maps: np.ndarray) -> np.ndarray:
    """Frames with a NaN (or inf) anywhere in any of the maps (one pass, no full temporary)."""
    bad = np.zeros(maps[0].shape[0], bool)
    for m in maps:
        bad |= ~np.isfinite(m.reshape(m.shape[0], -1).sum(axis=1))
    return bad


@lru_cache(maxsize=32)
def _pixel_weight_pair(kind: str, height: int, width: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Flat per-pixel weights summing to 1 and their square roots; None when all are equal."""
    from pano.metrics.profiles import _row_weights

    row_w = _row_weights(kind, height, width)
    if np.all(row_w == row_w[0]):
        return None
    pw = np.repeat(row_w, width)
    pw = pw / pw.sum()
    sw = np.sqrt(pw)
    pw.setflags(write=False)
    sw.setflags(write=False)
    return pw, sw


def _moments(
    m: np.ndarray, weights: tuple[np.ndarray, np.ndarray] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted mean ``(F,)``, population variance ``(F,)`` and scaled centred maps ``(F, N)``.

    The centred flat maps are multiplied by ``sqrt(w)`` (left unscaled when unweighted), so
    a weighted covariance is ``einsum(d1, d2) / _n(d1, weights)``. A NaN anywhere in a
    frame makes its mean NaN (the callers' NaN test).
    """
    flat = m.reshape(m.shape[0], -1)
    mean = flat.mean(axis=1) if weights is None else flat @ weights[0]
    d = flat - mean[:, None]
    if weights is not None:
        d *= weights[1]
    return mean, np.einsum("fi,fi->f", d, d) / _n(d, weights), d


def _n(d: np.ndarray, weights: tuple[np.ndarray, np.ndarray] | None) -> int:
    return d.shape[1] if weights is None else 1


def _constant(m: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Frames whose map is exactly constant.

    ``min == max`` is checked only where the variance is at rounding level (cheap), so a
    constant map is never mistaken for one with tiny noise, nor the reverse.
    """
    out = np.zeros(m.shape[0], bool)
    cand = np.nonzero(~(var > 1e-24 * np.maximum(mean * mean, 1e-300)))[0]
    for i in cand:
        out[i] = bool(np.ptp(m[i]) == 0)
    return out


# ---------------------------------------------------------------------------
# Distribution-based metrics: CC, KLD, SIM
# ---------------------------------------------------------------------------


def cc(pred: Any, gt: Any, profile: str | Profile = "sphere") -> np.ndarray:
    """Pearson linear correlation coefficient between maps, per frame.

    ``sphere`` and ``salient360`` weigh each pixel (solid angle / sin row); the others
    are plain Pearson (z-scoring first, as MIT does, does not change it). A constant
    map scores ``profile.cc_constant`` (0, or NaN for ``mit``).

    Args:
        pred, gt: maps ``(F, H, W)`` or ``(H, W)``.

    Returns:
        ``(F,)`` in ``[-1, 1]``.

    """
    prof = get_profile(profile)
    p, single = _as_maps(pred, "pred")
    g, _ = _as_maps(gt, "gt")
    _check_pair(p, g, "cc")
    _, h, w = p.shape
    wts = _pixel_weight_pair(prof.weights, h, w)
    mp, vp, dp = _moments(p, wts)
    mg, vg, dg = _moments(g, wts)
    cov = np.einsum("fi,fi->f", dp, dg) / _n(dp, wts)
    const = _constant(p, mp, vp) | _constant(g, mg, vg)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = cov / np.sqrt(vp * vg)
    out = np.where(const, prof.cc_constant, np.clip(out, -1.0, 1.0))
    out[~np.isfinite(mp) | ~np.isfinite(mg)] = np.nan
    return _out(out, single)


def kld(pred: Any, gt: Any, profile: str | Profile = "sphere") -> np.ndarray:
    """KL divergence of the prediction from the ground truth, ``KL(G || P)``, in nats.

    Both maps become probability masses (``m w / sum(m w)`` with the profile's pixel
    weights, ``w = 1`` when unweighted; negative maps are shifted up first), then
    ``sum G log(eps + G / (P + eps))`` with ``eps = 2.2204e-16`` (MIT / pysaliency
    ``MIT_KLDiv``). 0 for identical maps; lower is better.
    """
    prof = get_profile(profile)
    p, single = _as_maps(pred, "pred")
    g, _ = _as_maps(gt, "gt")
    _check_pair(p, g, "kld")
    rw = prof.row_weights(p.shape[1], p.shape[2])
    pm, gm = _masses(p, rw), _masses(g, rw)
    eps = prof.eps
    out = (gm * np.log(eps + gm / (pm + eps))).sum(axis=(1, 2))
    out[_nan_frames(p, g)] = np.nan
    return _out(out, single)


def sim(pred: Any, gt: Any, profile: str | Profile = "sphere") -> np.ndarray:
    """Similarity (histogram intersection) ``sum min(P, G)`` of the two maps as masses.

    MIT-style profiles min-max each map first (``sim_minmax``); all then normalise to
    masses with the profile's pixel weights. 1 for identical maps, in ``[0, 1]``.
    """
    prof = get_profile(profile)
    p, single = _as_maps(pred, "pred")
    g, _ = _as_maps(gt, "gt")
    _check_pair(p, g, "sim")
    bad = _nan_frames(p, g)
    if prof.sim_minmax:
        p, g = _minmax(p), _minmax(g)
    rw = prof.row_weights(p.shape[1], p.shape[2])
    out = np.minimum(_masses(p, rw), _masses(g, rw)).sum(axis=(1, 2))
    out[bad] = np.nan
    return _out(out, single)


# ---------------------------------------------------------------------------
# Fixation-based metrics: NSS, AUCs, IG
# ---------------------------------------------------------------------------


def nss(pred: Any, fixations: Fixations, profile: str | Profile = "sphere") -> np.ndarray:
    """Normalised scanpath saliency: the z-scored prediction averaged over fixations.

    ``sphere``: solid-angle weighted mean and standard deviation, each fixation counts
    (duplicates too). ``mit``/``dhp``/``salient360``: ``std`` with ``N - 1``, mean over
    the binary fixation map (a pixel fixated twice counts once). ``tuebingen``:
    ``np.std`` (``N``), per fixation. A constant map is not divided (scores 0).
    """
    prof = get_profile(profile)
    p, single = _as_maps(pred, "pred")
    fix = _need_fixations(fixations, "nss", p)
    f, h, w = p.shape
    wts = _pixel_weight_pair(prof.weights, h, w) if prof.nss_weighted else None
    mu, var, _ = _moments(p, wts)
    if prof.nss_ddof and wts is None:
        n = h * w
        var = var * n / (n - prof.nss_ddof)
    sd = np.sqrt(var)
    const = _constant(p, mu, var)  # exactly constant: z = 0, not rounding noise
    flat = p.reshape(f, -1)
    out = np.full(f, np.nan)
    for i in range(f):
        idx = fix.frame(i, prof.fixation_duplicates)
        if idx.size:
            out[i] = 0.0 if const[i] else ((flat[i, idx] - mu[i]) / sd[i]).mean()
    out[~np.isfinite(mu)] = np.nan
    return _out(out, single)


def _rank_auc(pos: np.ndarray, neg_sorted: np.ndarray, neg_cumw: np.ndarray | None) -> np.ndarray:
    """Per-positive AUC against sorted negatives: P(neg < pos) + P(neg == pos) / 2.

    ``neg_cumw`` = ``concat([0], cumsum(weights of neg_sorted))`` or None (unit weights).
    """
    lo = np.searchsorted(neg_sorted, pos, side="left")
    hi = np.searchsorted(neg_sorted, pos, side="right")
    if neg_cumw is None:
        return (lo + 0.5 * (hi - lo)) / neg_sorted.size
    return (neg_cumw[lo] + 0.5 * (neg_cumw[hi] - neg_cumw[lo])) / neg_cumw[-1]


def auc(pred: Any, fixations: Fixations, profile: str | Profile = "sphere") -> np.ndarray:
    """Exact AUC: every pixel is a negative, ties count 1/2, averaged over fixations.

    The ``sphere`` profile weighs each negative pixel by its solid angle (so this is the
    probability that a fixation outranks a uniformly random direction on the sphere).
    A constant map scores 0.5 exactly. This is pysaliency's ``AUC(nonfixations='uniform')``.
    """
    prof = get_profile(profile)
    p, single = _as_maps(pred, "pred")
    fix = _need_fixations(fixations, "auc", p)
    f, h, w = p.shape
    pw = _pixel_weights(prof.auc_row_weights(h, w), w) if prof.auc_weighted else None
    out = np.full(f, np.nan)
    flat = p.reshape(f, -1)
    for i in range(f):
        idx = fix.frame(i, prof.fixation_duplicates)
        if not idx.size:
            continue
        if pw is None:
            neg, cw = np.sort(flat[i]), None
        else:
            order = np.argsort(flat[i])  # ties need no order: only tie boundaries are read
            neg, cw = flat[i][order], np.concatenate([[0.0], np.cumsum(pw[order])])
        out[i] = _rank_auc(flat[i][idx], neg, cw).mean()
    out[_nan_frames(p)] = np.nan
    return _out(out, single)


def auc_judd(
    pred: Any,
    fixations: Fixations,
    profile: str | Profile = "sphere",
    seeds: int | Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """AUC-Judd as the MIT benchmark computes it, with seeded jitter.

    ``S = P + jitter * U[0, 1)`` (seeded per frame), min-max normalised; thresholds are
    the fixated values in descending order; the true-positive rate at the ``i``-th
    threshold is ``i / N_fix``, the false-positive rate the share of NON-fixated pixels
    at or above it (area-weighted under ``sphere``); trapezoid rule with end points
    (0, 0) and (1, 1).
    """
    prof = get_profile(profile)
    p, single = _as_maps(pred, "pred")
    fix = _need_fixations(fixations, "auc_judd", p)
    f, h, w = p.shape
    pw = _pixel_weights(prof.auc_row_weights(h, w), w) if prof.auc_weighted else None
    out = np.full(f, np.nan)
    bad = _nan_frames(p)
    for i, seed in enumerate(_frame_seeds(seeds, f, "auc_judd")):
        idx = fix.frame(i, prof.fixation_duplicates)
        if not idx.size or bad[i]:
            continue
        s = p[i].ravel()
        if prof.judd_jitter:
            s = s + np.random.default_rng(seed).random(s.size) * prof.judd_jitter
        s = _minmax(s.reshape(1, h, w)).ravel()
        th = np.sort(s[idx])[::-1]
        ufix = np.unique(idx)
        fv = s[ufix]
        if pw is None:  # counts: "aboveth - i" of the MIT code
            above = s.size - np.searchsorted(np.sort(s), th, side="left").astype(np.float64)
            fix_above = ufix.size - np.searchsorted(np.sort(fv), th, side="left")
            neg_total = float(s.size - ufix.size)
        else:  # areas (ties need no order: only the tie boundaries are read)
            order = np.argsort(s)
            cw = np.concatenate([[0.0], np.cumsum(pw[order])])
            above = cw[-1] - cw[np.searchsorted(s[order], th, side="left")]
            fo = np.argsort(fv)
            fcw = np.concatenate([[0.0], np.cumsum(pw[ufix][fo])])
            fix_above = fcw[-1] - fcw[np.searchsorted(fv[fo], th, side="left")]
            neg_total = cw[-1] - fcw[-1]
        n = th.size
        tp = np.concatenate([[0.0], np.arange(1, n + 1) / n, [1.0]])
        fp = np.concatenate(
            [[0.0], (above - fix_above) / neg_total if neg_total > 0 else np.zeros(n), [1.0]]
        )
        out[i] = np.trapezoid(tp, fp)
    return _out(out, single)


def _sampled_roc(pos: np.ndarray, neg: np.ndarray, step: float) -> float:
    """MIT's thresholded ROC area for one split: thresholds ``max..0`` in steps of ``step``.

    ``pos`` and ``neg`` are min-max normalised values; ``neg`` has shape ``(splits, K)``.
    Thresholds above ``max(pos, neg)`` give the point (0, 0) again and add no area, so
    the grid ``0, step, ..., 1`` reproduces MIT's per-split grid ``0:step:max``.
    Returns the mean area over the splits.
    """
    k = int(np.floor(1.0 / step + 1e-9))
    th = (np.arange(k, -1, -1) * step)[None, :]  # descending, (1, T)
    tp = (pos[None, :, None] >= th[:, None, :]).sum(1) / pos.size  # (1, T)
    fp = (neg[:, :, None] >= th[:, None, :]).sum(1) / neg.shape[1]  # (splits, T)
    ones = np.ones((fp.shape[0], 1))
    zeros = np.zeros((fp.shape[0], 1))
    tp_all = np.concatenate([zeros, np.broadcast_to(tp, fp.shape), ones], axis=1)
    fp_all = np.concatenate([zeros, fp, ones], axis=1)
    return float(np.trapezoid(tp_all, fp_all, axis=1).mean())


def auc_borji(
    pred: Any,
    fixations: Fixations,
    profile: str | Profile = "sphere",
    seeds: int | Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """AUC-Borji: fixations against random pixels, MIT's thresholded ROC, mean over splits.

    ``borji='sampled'`` profiles draw ``splits`` sets of ``N_fix`` random pixels (with
    replacement; uniformly on the sphere, i.e. by solid angle, under ``sphere``; per
    pixel otherwise), seeded per frame, and use thresholds ``max..0`` in steps of
    ``borji_step`` on the min-max normalised map. ``borji='exact'`` (``tuebingen``) is the
    limit of infinitely many samples and thresholds: :func:`auc`.
    """
    prof = get_profile(profile)
    if prof.borji == "exact":
        return auc(pred, fixations, prof)
    p, single = _as_maps(pred, "pred")
    fix = _need_fixations(fixations, "auc_borji", p)
    f, h, w = p.shape
    pw = _pixel_weights(prof.auc_row_weights(h, w), w)
    cdf = np.cumsum(pw) / pw.sum()
    out = np.full(f, np.nan)
    bad = _nan_frames(p)
    s_all = _minmax(p).reshape(f, -1)
    for i, seed in enumerate(_frame_seeds(seeds, f, "auc_borji")):
        idx = fix.frame(i, prof.fixation_duplicates)
        if not idx.size or bad[i]:
            continue
        rng = np.random.default_rng(seed)
        if prof.auc_weighted:
            r = np.searchsorted(cdf, rng.random((prof.borji_splits, idx.size)), side="right")
            r = np.minimum(r, cdf.size - 1)
        else:
            r = rng.integers(0, h * w, size=(prof.borji_splits, idx.size))
        out[i] = _sampled_roc(s_all[i][idx], s_all[i][r], prof.borji_step)
    return _out(out, single)


def sauc(
    pred: Any,
    fixations: Fixations,
    other: Fixations,
    profile: str | Profile = "sphere",
    seeds: int | Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """Shuffled AUC: fixations against fixations of OTHER frames/videos (centre-bias free).

    Args:
        other: for each frame, the negative fixations ``(F, M)`` - e.g. the pooled
            fixations of 10 other videos' frames. Never include the frame's own.

    ``sauc='exact'`` (``sphere``, ``tuebingen``): every other fixation is a negative
    (duplicates count), per-fixation rank AUC, ties 1/2 - deterministic.
    ``sauc='sampled'`` (MIT): negatives = the binary union of the other fixations;
    ``splits`` random subsets of ``min(N_fix, |union|)`` of them, thresholded ROC
    (step ``sauc_step``) on the min-max normalised map, mean over the splits.

    """
    prof = get_profile(profile)
    p, single = _as_maps(pred, "pred")
    fix = _need_fixations(fixations, "sauc", p)
    oth = _need_fixations(other, "sauc (other fixations)", p)
    f = p.shape[0]
    out = np.full(f, np.nan)
    bad = _nan_frames(p)
    s_all = _minmax(p).reshape(f, -1)
    flat = p.reshape(f, -1)
    for i, seed in enumerate(_frame_seeds(seeds, f, "sauc")):
        idx = fix.frame(i, prof.fixation_duplicates)
        if bad[i] or not idx.size:
            continue
        if prof.sauc == "exact":
            neg = np.sort(flat[i][oth.frame(i, "count")])
            if neg.size:
                out[i] = _rank_auc(flat[i][idx], neg, None).mean()
            continue
        union = oth.frame(i, "once")
        if not union.size:
            continue
        k = min(idx.size, union.size)
        rng = np.random.default_rng(seed)
        picks = np.stack([rng.permutation(union)[:k] for _ in range(prof.sauc_splits)])
        out[i] = _sampled_roc(s_all[i][idx], s_all[i][picks], prof.sauc_step)
    return _out(out, single)


def information_gain(
    pred: Any, fixations: Fixations, baseline: Any, profile: str | Profile = "sphere"
) -> np.ndarray:
    """Information gain over a baseline, in bits per fixation.

    Both maps become probability masses with the profile's pixel weights; the score is
    the mean over fixations of ``log2(eps + P(f)) - log2(eps + B(f))``. With equal
    weights in both, the weights cancel in the ratio, so this is the log density ratio.

    Args:
        baseline: baseline map ``(F, H, W)`` or ``(H, W)`` (broadcast to every frame),
            e.g. the equator bias fitted on the training split.

    """
    prof = get_profile(profile)
    p, single = _as_maps(pred, "pred")
    fix = _need_fixations(fixations, "information_gain", p)
    b, _ = _as_maps(baseline, "baseline")
    if b.shape[0] == 1 and p.shape[0] > 1:
        b = np.broadcast_to(b, p.shape)
    _check_pair(p, b, "information_gain")
    f, h, w = p.shape
    rw = prof.row_weights(h, w)
    lp = np.log2(prof.eps + _masses(p, rw)).reshape(f, -1)
    lb = np.log2(prof.eps + _masses(np.array(b), rw)).reshape(f, -1)
    out = np.full(f, np.nan)
    for i in range(f):
        idx = fix.frame(i, prof.fixation_duplicates)
        if idx.size:
            out[i] = (lp[i, idx] - lb[i, idx]).mean()
    out[_nan_frames(p, b)] = np.nan
    return _out(out, single)


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricSpec:
    """What a saliency metric needs and how to read it."""

    name: str
    fn: Callable[..., np.ndarray]
    needs: str  # "density" (pred + gt map) or "fixations"
    seeded: bool = False
    higher_is_better: bool = True
    label: str = ""


SALIENCY_METRICS: dict[str, MetricSpec] = {
    "cc": MetricSpec("cc", cc, "density", label="CC"),
    "kld": MetricSpec("kld", kld, "density", higher_is_better=False, label="KLD (nats)"),
    "sim": MetricSpec("sim", sim, "density", label="SIM"),
    "nss": MetricSpec("nss", nss, "fixations", label="NSS"),
    "auc": MetricSpec("auc", auc, "fixations", label="AUC (exact)"),
    "auc_judd": MetricSpec("auc_judd", auc_judd, "fixations", seeded=True, label="AUC-Judd"),
    "auc_borji": MetricSpec("auc_borji", auc_borji, "fixations", seeded=True, label="AUC-Borji"),
    "sauc": MetricSpec("sauc", sauc, "fixations", seeded=True, label="sAUC"),
    "ig": MetricSpec("ig", information_gain, "fixations", label="IG (bits)"),
}


def saliency_scores(
    pred: Any,
    metrics: Sequence[str],
    *,
    gt: Any | None = None,
    fixations: Fixations | None = None,
    other: Fixations | None = None,
    baseline: Any | None = None,
    profile: str | Profile = "sphere",
    seed_keys: Sequence[tuple[object, ...]] | None = None,
) -> np.ndarray:
    """Several saliency metrics at once, ``(F, len(metrics))`` float64.

    Args:
        pred: predicted maps ``(F, H, W)``.
        metrics: names from :data:`SALIENCY_METRICS`.
        gt: ground-truth density maps (CC, KLD, SIM).
        fixations: ground-truth fixations (NSS, AUCs, IG).
        other: other frames' fixations (``sauc``).
        baseline: baseline map for ``ig`` (default: uniform on the sphere).
        seed_keys: per frame, a tuple such as ``(seed, video, step)``; a seeded metric
            uses ``stable_seed(*key, metric)``.

    """
    p, single = _as_maps(pred, "pred")
    cols = []
    for name in metrics:
        spec = SALIENCY_METRICS.get(name)
        if spec is None:
            raise MetricInputError(
                f"unknown saliency metric {name!r}: use {', '.join(SALIENCY_METRICS)}"
            )
        if spec.needs == "density":
            if gt is None:
                raise MetricInputError(f"{name} needs a ground-truth density map (gt=...)")
            cols.append(spec.fn(p, gt, profile))
            continue
        if fixations is None:
            raise MetricInputError(
                f"{name} needs ground-truth fixations (fixations=Fixations...), not a density map"
            )
        seeds = None if seed_keys is None else [stable_seed(*k, name) for k in seed_keys]
        if name == "sauc":
            if other is None:
                raise MetricInputError("sauc needs other frames' fixations (other=Fixations...)")
            cols.append(sauc(p, fixations, other, profile, seeds))
        elif name == "ig":
            base = np.ones(p.shape[1:]) if baseline is None else baseline
            cols.append(information_gain(p, fixations, base, profile))
        elif spec.seeded:
            cols.append(spec.fn(p, fixations, profile, seeds))
        else:
            cols.append(spec.fn(p, fixations, profile))
    out = np.stack(cols, axis=-1) if cols else np.zeros((p.shape[0], 0))
    return out[0] if single else out
