"""Metrics: saliency maps (under named profiles), head-movement forecasts and scanpaths.

Modules: :mod:`.registry` (every metric's :class:`MetricSpec`: kind, label, unit,
better direction, inputs), :mod:`.profiles` (the toolbox conventions, one
:class:`Profile` per :data:`ProfileName`), :mod:`.fixations` (:class:`Fixations`),
:mod:`.saliency` (CC, KLD, SIM, NSS, IG and :func:`saliency_scores`), :mod:`.auc` (the
AUC family), :mod:`.hm` (head-movement forecasts) and :mod:`.scanpath` (scanpaths).
The names below are the public ones; ``docs/eval.md`` describes the definitions.
"""

from pano.errors import MetricInputError, UnknownMetricError
from pano.metrics._arrays import stable_seed
from pano.metrics.auc import auc, auc_borji, auc_judd, sauc
from pano.metrics.fixations import Fixations
from pano.metrics.hm import hm_scores
from pano.metrics.profiles import (
    DEFAULT_PROFILE,
    PROFILE_NAMES,
    PROFILES,
    Profile,
    ProfileName,
    get_profile,
)
from pano.metrics.registry import (
    METRIC_KINDS,
    METRICS,
    MetricKind,
    MetricSpec,
    get_metric,
    metric_names,
    metrics_of,
)
from pano.metrics.saliency import cc, information_gain, kld, nss, saliency_scores, sim
from pano.metrics.scanpath import scanpath_scores

__all__ = [
    "DEFAULT_PROFILE",
    "METRICS",
    "METRIC_KINDS",
    "PROFILES",
    "PROFILE_NAMES",
    "Fixations",
    "MetricInputError",
    "MetricKind",
    "MetricSpec",
    "Profile",
    "ProfileName",
    "UnknownMetricError",
    "auc",
    "auc_borji",
    "auc_judd",
    "cc",
    "get_metric",
    "get_profile",
    "hm_scores",
    "information_gain",
    "kld",
    "metric_names",
    "metrics_of",
    "nss",
    "saliency_scores",
    "sauc",
    "scanpath_scores",
    "sim",
    "stable_seed",
]
