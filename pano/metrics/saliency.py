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

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pano.errors import MetricInputError
from pano.metrics._arrays import (
    check_pair,
    constant_frames,
    masses,
    minmax,
    moments,
    n_of,
    nan_frames,
    pixel_weight_pair,
    stable_seed,
    unbatch,
)
from pano.metrics.auc import auc, auc_borji, auc_judd, sauc
from pano.metrics.fixations import Fixations, as_maps, need_fixations
from pano.metrics.profiles import Profile, get_profile
from pano.metrics.registry import MetricSpec, get_metric, metrics_of

__all__ = [
    "SALIENCY_METRICS",
    "Fixations",
    "MetricInputError",
    "MetricSpec",
    "auc",
    "auc_borji",
    "auc_judd",
    "cc",
    "information_gain",
    "kld",
    "nss",
    "saliency_scores",
    "sauc",
    "sim",
    "stable_seed",
]


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
    p, single = as_maps(pred, "pred")
    g, _ = as_maps(gt, "gt")
    check_pair(p, g, "cc")
    _, h, w = p.shape
    wts = pixel_weight_pair(prof.weights, h, w)
    mp, vp, dp = moments(p, wts)
    mg, vg, dg = moments(g, wts)
    cov = np.einsum("fi,fi->f", dp, dg) / n_of(dp, wts)
    const = constant_frames(p, mp, vp) | constant_frames(g, mg, vg)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = cov / np.sqrt(vp * vg)
    out = np.where(const, prof.cc_constant, np.clip(out, -1.0, 1.0))
    out[~np.isfinite(mp) | ~np.isfinite(mg)] = np.nan
    return unbatch(out, single)


def kld(pred: Any, gt: Any, profile: str | Profile = "sphere") -> np.ndarray:
    """KL divergence of the prediction from the ground truth, ``KL(G || P)``, in nats.

    Both maps become probability masses (``m w / sum(m w)`` with the profile's pixel
    weights, ``w = 1`` when unweighted; negative maps are shifted up first), then
    ``sum G log(eps + G / (P + eps))`` with ``eps = 2.2204e-16`` (MIT / pysaliency
    ``MIT_KLDiv``). 0 for identical maps; lower is better.

    ``kld_form="salient360"`` is the Salient360! toolbox's ``KLD(p, q)`` called as
    ``KLD(gt, pred)`` (its first argument is the reference distribution):
    ``sum_{G != 0} G log((G + eps) / (P + eps))`` of ``m w / sum(m w)`` with NumPy's
    float64 eps, no shift of negative values, NaN for a map that sums to 0.
    """
    prof = get_profile(profile)
    p, single = as_maps(pred, "pred")
    g, _ = as_maps(gt, "gt")
    check_pair(p, g, "kld")
    rw = prof.row_weights(p.shape[1], p.shape[2])
    eps = prof.eps
    if prof.kld_form == "salient360":
        with np.errstate(invalid="ignore", divide="ignore"):
            pm, gm = _sum_normalised(p * rw[None, :, None]), _sum_normalised(g * rw[None, :, None])
            terms = np.where(gm != 0, gm * np.log((gm + eps) / (pm + eps)), 0.0)
        out = terms.sum(axis=(1, 2))
    else:
        pm, gm = masses(p, rw), masses(g, rw)
        out = (gm * np.log(eps + gm / (pm + eps))).sum(axis=(1, 2))
    out[nan_frames(p, g)] = np.nan
    return unbatch(out, single)


def _sum_normalised(m: np.ndarray) -> np.ndarray:
    """``m / m.sum()`` per frame, as is (a map summing to 0 becomes NaN or inf)."""
    return m / m.sum(axis=(1, 2))[:, None, None]


def sim(pred: Any, gt: Any, profile: str | Profile = "sphere") -> np.ndarray:
    """Similarity (histogram intersection) ``sum min(P, G)`` of the two maps as masses.

    MIT-style profiles min-max each map first (``sim_minmax``); all then normalise to
    masses with the profile's pixel weights. 1 for identical maps, in ``[0, 1]``.
    ``sim_weight_first`` (``salient360``, its toolbox's order): each map is multiplied by
    the pixel weights, THEN min-max normalised, then divided by its sum (NaN for an
    all-zero map).
    """
    prof = get_profile(profile)
    p, single = as_maps(pred, "pred")
    g, _ = as_maps(gt, "gt")
    check_pair(p, g, "sim")
    bad = nan_frames(p, g)
    rw = prof.row_weights(p.shape[1], p.shape[2])
    if prof.sim_weight_first:
        with np.errstate(invalid="ignore", divide="ignore"):
            pm = _sum_normalised(_minmax_nan(p * rw[None, :, None]))
            gm = _sum_normalised(_minmax_nan(g * rw[None, :, None]))
    else:
        if prof.sim_minmax:
            p, g = minmax(p), minmax(g)
        pm, gm = masses(p, rw), masses(g, rw)
    out = np.minimum(pm, gm).sum(axis=(1, 2))
    out[bad] = np.nan
    return unbatch(out, single)


def _minmax_nan(m: np.ndarray) -> np.ndarray:
    """``(m - min) / (max - min)`` per frame, as is (a constant frame becomes NaN)."""
    lo = m.min(axis=(1, 2))[:, None, None]
    return (m - lo) / (m.max(axis=(1, 2))[:, None, None] - lo)


# ---------------------------------------------------------------------------
# Fixation-based metrics: NSS, AUCs, IG
# ---------------------------------------------------------------------------


def nss(pred: Any, fixations: Fixations, profile: str | Profile = "sphere") -> np.ndarray:
    """Normalised scanpath saliency: the z-scored prediction averaged over fixations.

    ``sphere``: solid-angle weighted mean and standard deviation, each fixation counts
    (duplicates too). ``mit``/``dhp``: ``std`` with ``N - 1``, mean over the binary
    fixation map (a pixel fixated twice counts once); ``salient360`` the same with
    ``np.std`` (``N``). ``tuebingen``: ``np.std`` (``N``), per fixation. A constant map is
    not divided: it scores ``profile.nss_constant`` (0; NaN for ``salient360``, whose
    toolbox divides by a zero standard deviation).
    """
    prof = get_profile(profile)
    p, single = as_maps(pred, "pred")
    fix = need_fixations(fixations, "nss", p)
    f, h, w = p.shape
    wts = pixel_weight_pair(prof.weights, h, w) if prof.nss_weighted else None
    mu, var, _ = moments(p, wts)
    if prof.nss_ddof and wts is None:
        n = h * w
        var = var * n / (n - prof.nss_ddof)
    sd = np.sqrt(var)
    const = constant_frames(p, mu, var)  # exactly constant: z = 0, not rounding noise
    flat = p.reshape(f, -1)
    out = np.full(f, np.nan)
    for i in range(f):
        idx = fix.frame(i, prof.fixation_duplicates)
        if idx.size:
            out[i] = prof.nss_constant if const[i] else ((flat[i, idx] - mu[i]) / sd[i]).mean()
    out[~np.isfinite(mu)] = np.nan
    return unbatch(out, single)


def information_gain(
    pred: Any, fixations: Fixations, baseline: Any, profile: str | Profile = "sphere"
) -> np.ndarray:
    """Information gain over a baseline, in bits per fixation.

    Both maps become probability masses with the profile's fixation-metric pixel weights
    (:meth:`Profile.auc_row_weights`: solid angle under ``sphere``, none otherwise, as
    the Salient360! toolbox's ``InfoGain``); the score is the mean over fixations of
    ``log2(eps + P(f)) - log2(eps + B(f))``. With equal weights in both, the weights
    cancel in the ratio, so this is the log density ratio.

    Args:
        baseline: baseline map ``(F, H, W)`` or ``(H, W)`` (broadcast to every frame),
            e.g. the equator bias fitted on the training split.

    """
    prof = get_profile(profile)
    p, single = as_maps(pred, "pred")
    fix = need_fixations(fixations, "information_gain", p)
    b, _ = as_maps(baseline, "baseline")
    if b.shape[0] == 1 and p.shape[0] > 1:
        b = np.broadcast_to(b, p.shape)
    check_pair(p, b, "information_gain")
    f, h, w = p.shape
    rw = prof.auc_row_weights(h, w)
    lp = np.log2(prof.eps + masses(p, rw)).reshape(f, -1)
    lb = np.log2(prof.eps + masses(np.array(b), rw)).reshape(f, -1)
    out = np.full(f, np.nan)
    for i in range(f):
        idx = fix.frame(i, prof.fixation_duplicates)
        if idx.size:
            out[i] = (lp[i, idx] - lb[i, idx]).mean()
    out[nan_frames(p, b)] = np.nan
    return unbatch(out, single)


# ---------------------------------------------------------------------------
# Several at once (names and their specs: pano.metrics.registry)
# ---------------------------------------------------------------------------

#: The saliency metrics of :data:`pano.metrics.registry.METRICS`, by name (a derived view).
SALIENCY_METRICS: dict[str, MetricSpec] = metrics_of("saliency")

_DENSITY_FNS: dict[str, Callable[[Any, Any, str | Profile], np.ndarray]] = {
    "cc": cc,
    "kld": kld,
    "sim": sim,
}
_FIXATION_FNS: dict[str, Callable[[Any, Fixations, str | Profile], np.ndarray]] = {
    "nss": nss,
    "auc": auc,
}
_SEEDED_FNS: dict[str, Callable[..., np.ndarray]] = {
    "auc_judd": auc_judd,
    "auc_borji": auc_borji,
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
        metrics: saliency metric names of :data:`pano.metrics.registry.METRICS`.
        gt: ground-truth density maps (CC, KLD, SIM).
        fixations: ground-truth fixations (NSS, AUCs, IG).
        other: other frames' fixations (``sauc``).
        baseline: baseline map for ``ig`` (default: uniform on the sphere).
        seed_keys: per frame, a tuple such as ``(seed, video, step)``; a seeded metric
            uses ``stable_seed(*key, metric)``.

    Raises:
        UnknownMetricError: a name that is not a saliency metric (the message lists them).
        MetricInputError: a metric's input is missing or of the wrong kind.

    """
    specs = [get_metric(name, "saliency") for name in metrics]
    p, single = as_maps(pred, "pred")
    cols = []
    for spec in specs:
        name = spec.name
        if spec.needs == "density":
            if gt is None:
                raise MetricInputError(f"{name} needs a ground-truth density map (gt=...)")
            cols.append(_DENSITY_FNS[name](p, gt, profile))
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
            cols.append(_SEEDED_FNS[name](p, fixations, profile, seeds))
        else:
            cols.append(_FIXATION_FNS[name](p, fixations, profile))
    out = np.stack(cols, axis=-1) if cols else np.zeros((p.shape[0], 0))
    return out[0] if single else out
