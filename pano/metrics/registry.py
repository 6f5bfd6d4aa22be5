"""The one metric registry: every metric pano scores, with what it needs and how to read it.

:data:`METRICS` maps a metric name to its :class:`MetricSpec`. The scoring functions
(:func:`pano.metrics.saliency.saliency_scores`, :func:`pano.metrics.hm.hm_scores`,
:func:`pano.metrics.scanpath.scanpath_scores`) accept exactly the names of their kind,
the evaluation config validates ``metrics`` against it, and tables/plots take labels,
units and the better direction from it. The order is the display order (and the order
of the ``metric`` coordinate of a results dataset).

The old per-kind dictionaries (``SALIENCY_METRICS``, ``HM_METRICS``,
``SCANPATH_METRICS``) are views derived from this one.

>>> METRICS["kld"].higher_is_better, METRICS["kld"].unit
(False, 'nats')
>>> metric_names("hm")[:2]
['orthodromic_deg', 'mo_dhp']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from pano.errors import UnknownMetricError, UnknownNameError

MetricKind = Literal["saliency", "hm", "scanpath"]
#: The metric kinds, in display order.
METRIC_KINDS: tuple[MetricKind, ...] = get_args(MetricKind)

#: What a metric scores: ``density`` (a predicted map against a ground-truth density
#: map), ``fixations`` (a predicted map against fixated pixels, :class:`Fixations`),
#: ``directions`` (forecast unit vectors against true ones), ``scanpaths`` (sets of
#: predicted scanpaths against true ones).
Needs = Literal["density", "fixations", "directions", "scanpaths"]

#: MultiMatch dimensions reported (duration is dropped: fixed-step scanpaths).
MULTIMATCH_DIMS = ("vector", "direction", "length", "position")


@dataclass(frozen=True)
class MetricSpec:
    """What one metric needs and how to read its value.

    Attributes:
        name: the registry key (column / ``metric`` coordinate name).
        kind: ``saliency``, ``hm`` or ``scanpath``: which scoring function computes it.
        needs: its ground-truth input (see :data:`Needs`).
        label: short human label for tables (may already carry the unit, e.g. ``IG (bits)``).
        unit: unit of the value (``deg``, ``bits``, ``nats``; ``""`` when unitless).
        higher_is_better: the direction in which a model is better.
        seeded: a random variant: the value depends on a per-frame seed (fixed by
            :func:`pano.metrics.saliency.stable_seed`).
        description: one line on the definition (``docs/eval.md`` has the details).

    """

    name: str
    kind: MetricKind
    needs: Needs
    label: str
    unit: str = ""
    higher_is_better: bool = True
    seeded: bool = False
    description: str = ""

    @property
    def needs_fixations(self) -> bool:
        """True for metrics scored against fixated pixels (NSS, the AUCs, IG)."""
        return self.needs == "fixations"

    @property
    def axis_label(self) -> str:
        """Label for a plot axis: the label with its unit, and the better direction."""
        text = self.label
        if self.unit and f"({self.unit}" not in text and f"{self.unit})" not in text:
            text = f"{text} ({self.unit})"
        return f"{text} {'↑' if self.higher_is_better else '↓'}"


_SPECS: tuple[MetricSpec, ...] = (
    # Saliency maps (pano.metrics.saliency, pano.metrics.auc).
    MetricSpec("cc", "saliency", "density", "CC", description="Pearson correlation of the maps"),
    MetricSpec(
        "kld",
        "saliency",
        "density",
        "KLD",
        unit="nats",
        higher_is_better=False,
        description="KL(ground truth || prediction) of the maps as masses",
    ),
    MetricSpec("sim", "saliency", "density", "SIM", description="histogram intersection"),
    MetricSpec("nss", "saliency", "fixations", "NSS", description="mean z-score at fixations"),
    MetricSpec("auc", "saliency", "fixations", "AUC (exact)", description="exact rank AUC"),
    MetricSpec(
        "auc_judd",
        "saliency",
        "fixations",
        "AUC-Judd",
        seeded=True,
        description="thresholds at the fixated values, jittered",
    ),
    MetricSpec(
        "auc_borji",
        "saliency",
        "fixations",
        "AUC-Borji",
        seeded=True,
        description="fixations against random pixels",
    ),
    MetricSpec(
        "sauc",
        "saliency",
        "fixations",
        "sAUC",
        seeded=True,
        description="fixations against other frames' fixations",
    ),
    MetricSpec(
        "ig",
        "saliency",
        "fixations",
        "IG (bits)",
        unit="bits",
        description="information gain over a baseline, per fixation",
    ),
    # Head-movement forecasts (pano.metrics.hm).
    MetricSpec(
        "orthodromic_deg",
        "hm",
        "directions",
        "orthodromic distance (deg)",
        unit="deg",
        higher_is_better=False,
        description="great-circle angle between forecast and truth",
    ),
    MetricSpec(
        "mo_dhp", "hm", "directions", "mean overlap, DHP boxes", description="DHP's ERP boxes"
    ),
    MetricSpec(
        "mo_sphere", "hm", "directions", "mean overlap, sphere", description="exact viewports"
    ),
    MetricSpec(
        "iou_sphere", "hm", "directions", "viewport IoU, sphere", description="exact viewports"
    ),
    MetricSpec(
        "tile_iou", "hm", "directions", "tile IoU", description="IoU of the overlapped tiles"
    ),
    MetricSpec("tile_precision", "hm", "directions", "tile precision"),
    MetricSpec("tile_recall", "hm", "directions", "tile recall"),
    # Scanpaths (pano.metrics.scanpath).
    MetricSpec(
        "dtw_deg",
        "scanpath",
        "scanpaths",
        "DTW, orthodromic (deg, total)",
        unit="deg",
        higher_is_better=False,
        description="total great-circle cost of the DTW alignment",
    ),
    MetricSpec(
        "dtw_deg_per_step",
        "scanpath",
        "scanpaths",
        "DTW / ground-truth length (deg)",
        unit="deg",
        higher_is_better=False,
        description="DTW over the true scanpath's sample count",
    ),
    *(
        MetricSpec(
            f"mm_{d}", "scanpath", "scanpaths", f"MultiMatch {d}", description="1 = identical"
        )
        for d in MULTIMATCH_DIMS
    ),
    MetricSpec(
        "jarodzka360",
        "scanpath",
        "scanpaths",
        "Jarodzka-360 (Salient360!), Hungarian-matched",
        higher_is_better=False,
        description="Salient360!'s scanpath dissimilarity, one-to-one matched",
    ),
)

#: Every metric by name, in display order (saliency, then hm, then scanpath).
METRICS: dict[str, MetricSpec] = {s.name: s for s in _SPECS}
if len(METRICS) != len(_SPECS):  # pragma: no cover - a programming error caught at import
    raise RuntimeError("pano.metrics.registry: a metric name is defined twice")


def metrics_of(kind: MetricKind) -> dict[str, MetricSpec]:
    """The metrics of one kind, by name, in display order."""
    if kind not in METRIC_KINDS:
        raise UnknownNameError(f"unknown metric kind {kind!r}: use {', '.join(METRIC_KINDS)}")
    return {n: s for n, s in METRICS.items() if s.kind == kind}


def metric_names(kind: MetricKind | None = None) -> list[str]:
    """Metric names (of one kind, or all), in display order."""
    return list(METRICS if kind is None else metrics_of(kind))


def get_metric(name: str, kind: MetricKind | None = None) -> MetricSpec:
    """The spec of ``name`` (of the given kind, if any).

    Raises:
        UnknownMetricError: not a metric (of that kind); the message lists the valid names.

    """
    spec = METRICS.get(name)
    if spec is None or (kind is not None and spec.kind != kind):
        what = "metric" if kind is None else f"{kind} metric"
        raise UnknownMetricError(f"unknown {what} {name!r}: use {', '.join(metric_names(kind))}")
    return spec


def check_metric_names(names: Iterable[str], kind: MetricKind | None = None) -> list[str]:
    """Return ``names`` as a list after checking each one (see :func:`get_metric`)."""
    out = list(names)
    for name in out:
        get_metric(name, kind)
    return out
