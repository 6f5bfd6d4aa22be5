"""One metric registry, one profile-name list, and the metric errors (issue 11)."""

from __future__ import annotations

import doctest
import importlib
from typing import get_args

import numpy as np
import pytest

import pano.errors as errors
from pano.errors import (
    MetricInputError,
    PanoError,
    ParameterError,
    UnknownMetricError,
    UnknownNameError,
)
from pano.geometry import lonlat_to_vec
from pano.metrics import (
    METRIC_KINDS,
    METRICS,
    PROFILE_NAMES,
    PROFILES,
    Fixations,
    Profile,
    ProfileName,
    get_metric,
    get_profile,
    metric_names,
    metrics_of,
)
from pano.metrics.hm import HM_METRICS, hm_scores, tile_sets
from pano.metrics.saliency import SALIENCY_METRICS, saliency_scores
from pano.metrics.scanpath import MULTIMATCH_DIMS, SCANPATH_METRICS, scanpath_scores


def test_registry_kinds_names_and_order() -> None:
    assert METRIC_KINDS == ("saliency", "hm", "scanpath")
    assert metric_names("saliency") == [
        "cc",
        "kld",
        "sim",
        "nss",
        "auc",
        "auc_judd",
        "auc_borji",
        "sauc",
        "ig",
    ]
    assert metric_names("hm") == [
        "orthodromic_deg",
        "mo_dhp",
        "mo_sphere",
        "iou_sphere",
        "tile_iou",
        "tile_precision",
        "tile_recall",
    ]
    assert metric_names("scanpath") == [
        "dtw_deg",
        "dtw_deg_per_step",
        *(f"mm_{d}" for d in MULTIMATCH_DIMS),
        "jarodzka360",
    ]
    assert metric_names() == metric_names("saliency") + metric_names("hm") + metric_names(
        "scanpath"
    )
    assert all(name == spec.name for name, spec in METRICS.items())


def test_specs_say_how_to_read_each_value() -> None:
    lower = {n for n, s in METRICS.items() if not s.higher_is_better}
    assert lower == {"kld", "orthodromic_deg", "dtw_deg", "dtw_deg_per_step", "jarodzka360"}
    assert {n for n, s in METRICS.items() if s.seeded} == {"auc_judd", "auc_borji", "sauc"}
    assert {n for n, s in METRICS.items() if s.needs_fixations} == {
        "nss",
        "auc",
        "auc_judd",
        "auc_borji",
        "sauc",
        "ig",
    }
    assert get_metric("orthodromic_deg").unit == "deg"
    assert get_metric("orthodromic_deg").axis_label == "orthodromic distance (deg) ↓"
    assert get_metric("kld").axis_label == "KLD (nats) ↓"
    assert get_metric("cc").axis_label == "CC ↑"
    assert all(s.label for s in METRICS.values())


def test_old_registries_are_views_of_the_one() -> None:
    assert SALIENCY_METRICS == metrics_of("saliency")
    assert SALIENCY_METRICS["ig"].label == "IG (bits)"
    for view, kind in ((HM_METRICS, "hm"), (SCANPATH_METRICS, "scanpath")):
        assert view == {n: (s.label, s.higher_is_better) for n, s in metrics_of(kind).items()}


def test_every_registered_metric_is_scored() -> None:
    rng = np.random.default_rng(0)
    p, g = rng.random((2, 6, 12)), rng.random((2, 6, 12))
    fix = Fixations.from_pixels(rng.integers(0, 6, (2, 5)), rng.integers(0, 12, (2, 5)), 6, 12)
    sal = saliency_scores(p, metric_names("saliency"), gt=g, fixations=fix, other=fix)
    assert sal.shape == (2, 9) and np.isfinite(sal).all()
    v = lonlat_to_vec(rng.uniform(-180, 180, (4, 3)), rng.uniform(-60, 60, (4, 3)))
    hm = hm_scores(v[:2], v[2:], metric_names("hm"))
    assert hm.shape == (2, 3, 7) and np.isfinite(hm).all()
    sp = scanpath_scores(v[:2], v[2:], tuple(metric_names("scanpath")))
    assert sp.shape == (7,) and np.isfinite(sp).all()


def test_unknown_metric_names_list_the_valid_ones() -> None:
    rng = np.random.default_rng(1)
    p = rng.random((1, 4, 8))
    with pytest.raises(UnknownMetricError, match="unknown saliency metric 'nope': use cc, kld"):
        saliency_scores(p, ["nope"], gt=p)
    v = lonlat_to_vec(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(UnknownMetricError, match="unknown hm metric 'cc': use orthodromic_deg"):
        hm_scores(v, v, ["cc"])
    with pytest.raises(UnknownMetricError, match="unknown scanpath metric 'x': use dtw_deg"):
        scanpath_scores(v, v, ("x",))
    with pytest.raises(UnknownMetricError, match=r"unknown metric 'x': use cc, .*, jarodzka360"):
        get_metric("x")
    err = UnknownMetricError("x")
    # A name error (ValueError) that callers who caught MetricInputError still catch.
    assert isinstance(err, UnknownNameError) and isinstance(err, ValueError)
    assert isinstance(err, MetricInputError) and isinstance(err, PanoError)


def test_one_profile_name_list() -> None:
    assert PROFILE_NAMES == get_args(ProfileName) == tuple(PROFILES)
    assert PROFILE_NAMES[0] == "sphere"
    from pano.pipelines.eval import EvalConfig

    desc = EvalConfig.model_fields["profile"].description or ""
    assert all(name in desc for name in PROFILE_NAMES)
    with pytest.raises(
        UnknownNameError, match="unknown metric profile 'matlab': use one of sphere"
    ):
        get_profile("matlab")


def test_profile_and_fixation_options_are_checked() -> None:
    with pytest.raises(UnknownNameError, match="weights must be one of solid_angle"):
        Profile(name="x", weights="area")  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError, match="fixation_duplicates"):
        Profile(name="x", weights="none", fixation_duplicates="twice")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="borji_splits must be >= 1"):
        Profile(name="x", weights="none", borji_splits=0)
    with pytest.raises(ParameterError, match="sauc_step"):
        Profile(name="x", weights="none", sauc_step=0.0)
    fix = Fixations.from_pixels([[0, 1]], [[0, 1]], 2, 2)
    with pytest.raises(UnknownNameError, match="'count' or 'once'"):
        fix.frame(0, "twice")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="tiles must be two positive counts"):
        tile_sets(np.array([1.0, 0.0, 0.0]), tiles=(0, 4))


def test_metric_input_error_lives_in_pano_errors() -> None:
    import pano.metrics
    import pano.metrics.saliency

    assert pano.metrics.MetricInputError is errors.MetricInputError
    assert pano.metrics.saliency.MetricInputError is errors.MetricInputError
    assert issubclass(MetricInputError, PanoError) and issubclass(MetricInputError, TypeError)


@pytest.mark.parametrize("module", ["pano.metrics.registry", "pano.metrics.auc"])
def test_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
