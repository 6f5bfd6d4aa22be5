"""The AUC family of saliency metrics: exact AUC, AUC-Judd, AUC-Borji and shuffled AUC.

Inputs and conventions as in :mod:`pano.metrics.saliency`: predicted maps ``(F, H, W)``
(or ``(H, W)``) against :class:`~pano.metrics.fixations.Fixations`, under a named
:class:`~pano.metrics.profiles.Profile`; results are float64 ``(F,)``. Fixated pixels
are the positives. Whether a pixel fixated twice counts twice is the profile's
``fixation_duplicates`` (``count``: ``sphere``, ``tuebingen``; ``once``: the others).

Every curve is a threshold-by-threshold ROC: at a threshold ``t`` the true-positive
rate is the share of fixations (duplicates included where they count) whose value is
``>= t``, the false-positive rate the share (or area) of negatives ``>= t``. Tied values
therefore move together: a pixel fixated twice adds one point, at the full height of
its two fixations (AUC-Judd's tie rule, as pysaliency computes it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pano.metrics._arrays import frame_seeds, minmax, nan_frames, pixel_weights, unbatch
from pano.metrics.fixations import Fixations, as_maps, need_fixations
from pano.metrics.profiles import Profile, get_profile


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
    p, single = as_maps(pred, "pred")
    fix = need_fixations(fixations, "auc", p)
    f, h, w = p.shape
    pw = pixel_weights(prof.auc_row_weights(h, w), w) if prof.auc_weighted else None
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
    out[nan_frames(p)] = np.nan
    return unbatch(out, single)


def auc_judd(
    pred: Any,
    fixations: Fixations,
    profile: str | Profile = "sphere",
    seeds: int | Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """AUC-Judd as the MIT benchmark computes it, with seeded jitter.

    ``S = P + jitter * U[0, 1)`` (seeded per frame), min-max normalised. The thresholds
    are the **distinct** fixated values of ``S``, in descending order; at a threshold
    ``t`` the true-positive rate is the share of fixations with ``S >= t`` (every
    fixation counts, a pixel fixated twice twice, under profiles whose duplicates
    ``count``), the false-positive rate the share of NON-fixated pixels with ``S >= t``
    (area-weighted under ``sphere``); trapezoid rule with end points (0, 0) and (1, 1).

    Tie rule: fixations that share a value (a pixel fixated twice, or equal values
    without jitter) enter the curve together, at one threshold, as pysaliency's
    ``AUC_Judd`` does. With distinct fixated values (the MIT code's jittered case) the
    ``i``-th threshold has the MIT code's ``i / N_fix``.

    ``judd_ties="sequential"`` (``salient360``, its toolbox's ``AUC_Judd`` with its default
    ``jitter=False``): one threshold per fixation, ties NOT grouped; the ``k``-th largest
    fixated value ``t_k`` (k = 1..N_fix) gives TPR ``k / N_fix`` and FPR
    ``(#{S >= t_k} - k) / (N - N_fix)`` (N pixels), so tied fixations enter one by one
    and tied non-fixated pixels all at the first of them. A constant map (the toolbox
    divides by zero in its min-max) and a map whose every pixel is fixated score NaN.

    >>> fix = Fixations.from_pixels([[0, 0, 0]], [[0, 2, 2]], 1, 6)  # pixel 2 twice
    >>> round(float(auc_judd(np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4]]), fix)), 4)
    0.9167
    """
    prof = get_profile(profile)
    p, single = as_maps(pred, "pred")
    fix = need_fixations(fixations, "auc_judd", p)
    f, h, w = p.shape
    pw = pixel_weights(prof.auc_row_weights(h, w), w) if prof.auc_weighted else None
    out = np.full(f, np.nan)
    bad = nan_frames(p)
    for i, seed in enumerate(frame_seeds(seeds, f, "auc_judd")):
        idx = fix.frame(i, prof.fixation_duplicates)
        if not idx.size or bad[i]:
            continue
        s = p[i].ravel()
        if prof.judd_jitter:
            s = s + np.random.default_rng(seed).random(s.size) * prof.judd_jitter
        if prof.judd_ties == "sequential":
            out[i] = _judd_sequential(s, idx)
            continue
        s = minmax(s.reshape(1, h, w)).ravel()
        pos = np.sort(s[idx])  # every fixation's value, ascending
        th = np.unique(pos)[::-1]  # the distinct fixated values, descending
        tp_th = (pos.size - np.searchsorted(pos, th, side="left")) / pos.size
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
        tp = np.concatenate([[0.0], tp_th, [1.0]])
        fp = np.concatenate(
            [[0.0], (above - fix_above) / neg_total if neg_total > 0 else np.zeros(th.size), [1.0]]
        )
        out[i] = np.trapezoid(tp, fp)
    return unbatch(out, single)


def _judd_sequential(s: np.ndarray, idx: np.ndarray) -> float:
    """AUC-Judd with one threshold per fixation, ties not grouped (see :func:`auc_judd`).

    Args:
        s: ``(N,)`` map values (flat); min-max normalised here.
        idx: ``(N_fix,)`` flat indices of the fixated pixels.

    """
    lo, hi = s.min(), s.max()
    if not hi > lo or idx.size >= s.size:
        return float("nan")
    s = (s - lo) / (hi - lo)
    th = np.sort(s[idx])[::-1]  # every fixated value, descending, ties kept
    k = np.arange(1, th.size + 1)
    above = s.size - np.searchsorted(np.sort(s), th, side="left")  # #{S >= t_k}
    tp = np.concatenate([[0.0], k / th.size, [1.0]])
    fp = np.concatenate([[0.0], (above - k) / (s.size - th.size), [1.0]])
    return float(np.trapezoid(tp, fp))


def _sampled_roc(pos: np.ndarray, neg: np.ndarray, step: float, top: str = "inclusive") -> float:
    """MIT's thresholded ROC area for one split: thresholds ``max..0`` in steps of ``step``.

    ``pos`` and ``neg`` are min-max normalised values; ``neg`` has shape ``(splits, K)``.
    Thresholds above ``max(pos, neg)`` give the point (0, 0) again and add no area, so
    the grid ``0, step, ..., 1`` reproduces MIT's per-split grid ``0:step:max``.
    ``top="exclusive"`` drops the thresholds at or above each split's max, as the
    Salient360! toolbox's ``np.r_[0:max:step]`` does (``ceil(max / step)`` thresholds).
    Returns the mean area over the splits.
    """
    k = int(np.floor(1.0 / step + 1e-9))
    th = (np.arange(k, -1, -1) * step)[None, :]  # descending, (1, T)
    tp = (pos[None, :, None] >= th[:, None, :]).sum(1) / pos.size  # (1, T)
    fp = (neg[:, :, None] >= th[:, None, :]).sum(1) / neg.shape[1]  # (splits, T)
    tp = np.broadcast_to(tp, fp.shape)
    if top == "exclusive":
        top_val = np.maximum(pos.max(), neg.max(axis=1))  # (splits,)
        n_th = np.ceil(top_val / step)  # thresholds 0, step, ... below index n_th
        keep = np.arange(k, -1, -1)[None, :] < n_th[:, None]
        tp, fp = np.where(keep, tp, 0.0), np.where(keep, fp, 0.0)
    ones = np.ones((fp.shape[0], 1))
    zeros = np.zeros((fp.shape[0], 1))
    tp_all = np.concatenate([zeros, tp, ones], axis=1)
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
    p, single = as_maps(pred, "pred")
    fix = need_fixations(fixations, "auc_borji", p)
    f, h, w = p.shape
    pw = pixel_weights(prof.auc_row_weights(h, w), w)
    cdf = np.cumsum(pw) / pw.sum()
    out = np.full(f, np.nan)
    bad = nan_frames(p)
    s_all = minmax(p).reshape(f, -1)
    for i, seed in enumerate(frame_seeds(seeds, f, "auc_borji")):
        idx = fix.frame(i, prof.fixation_duplicates)
        if not idx.size or bad[i]:
            continue
        rng = np.random.default_rng(seed)
        if prof.auc_weighted:
            r = np.searchsorted(cdf, rng.random((prof.borji_splits, idx.size)), side="right")
            r = np.minimum(r, cdf.size - 1)
        else:
            r = rng.integers(0, h * w, size=(prof.borji_splits, idx.size))
        out[i] = _sampled_roc(s_all[i][idx], s_all[i][r], prof.borji_step, prof.borji_top)
    return unbatch(out, single)


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
    p, single = as_maps(pred, "pred")
    fix = need_fixations(fixations, "sauc", p)
    oth = need_fixations(other, "sauc (other fixations)", p)
    f = p.shape[0]
    out = np.full(f, np.nan)
    bad = nan_frames(p)
    s_all = minmax(p).reshape(f, -1)
    flat = p.reshape(f, -1)
    for i, seed in enumerate(frame_seeds(seeds, f, "sauc")):
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
    return unbatch(out, single)
