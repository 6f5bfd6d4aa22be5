"""The AUC family against a brute-force, threshold-by-threshold ROC (ties, repeated fixations).

The reference below walks the thresholds one by one in plain Python: at each threshold
``t`` the true-positive rate is the share of ALL fixations (a pixel fixated twice counts
twice where the profile's duplicates ``count``) with a value ``>= t``, the false-positive
rate the share (or area) of the negatives ``>= t``; the area is the trapezoid sum over
the points ``(0, 0), ..., (1, 1)``. Maps are drawn from a few levels so that ties between
pixels are common, and fixation lists repeat pixels.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pano.geometry import erp_row_solid_angle
from pano.metrics import PROFILE_NAMES, Fixations, auc, auc_borji, auc_judd, get_profile, sauc


def ref_roc_area(
    pos: list[float], neg: list[float], thresholds: list[float], neg_w: list[float] | None = None
) -> float:
    """Area under the ROC through (0, 0), one point per threshold (descending), (1, 1)."""
    weights = [1.0] * len(neg) if neg_w is None else neg_w
    total = sum(weights)
    xs, ys = [0.0], [0.0]
    for t in thresholds:
        ys.append(sum(1 for v in pos if v >= t) / len(pos))
        xs.append(sum(w for v, w in zip(neg, weights, strict=True) if v >= t) / total)
    xs.append(1.0)
    ys.append(1.0)
    return sum((xs[k + 1] - xs[k]) * (ys[k + 1] + ys[k]) / 2 for k in range(len(xs) - 1))


def _area_weights(profile: str, h: int, w: int) -> list[float]:
    """Per-pixel negative weights of a profile's AUCs: solid angle (sphere) or 1."""
    if profile == "sphere":
        return [float(erp_row_solid_angle(w, h)[r]) for r in range(h) for _ in range(w)]
    return [1.0] * (h * w)


def _fixated(profile: str, pixels: list[int]) -> list[int]:
    dup = get_profile(profile).fixation_duplicates
    return sorted(set(pixels)) if dup == "once" else list(pixels)


def ref_auc_judd(s: np.ndarray, pixels: list[int], profile: str) -> float:
    """Thresholds = the distinct fixated values; negatives = the non-fixated pixels."""
    flat = [float(v) for v in s.ravel()]
    fixed = _fixated(profile, pixels)
    pos = [flat[i] for i in fixed]
    weights = _area_weights(profile, *s.shape)
    neg_idx = [i for i in range(len(flat)) if i not in set(pixels)]
    return ref_roc_area(
        pos,
        [flat[i] for i in neg_idx],
        sorted(set(pos), reverse=True),
        [weights[i] for i in neg_idx],
    )


def ref_exact_auc(s: np.ndarray, pixels: list[int], profile: str) -> float:
    """Every distinct value a threshold; every pixel a negative (area-weighted under sphere)."""
    flat = [float(v) for v in s.ravel()]
    pos = [flat[i] for i in _fixated(profile, pixels)]
    return ref_roc_area(
        pos, flat, sorted(set(flat), reverse=True), _area_weights(profile, *s.shape)
    )


def _jittered(m: np.ndarray, profile: str, seed: int) -> np.ndarray:
    """What AUC-Judd thresholds: the map plus the profile's seeded jitter, min-max scaled."""
    prof = get_profile(profile)
    s = m.ravel() + np.random.default_rng(seed).random(m.size) * prof.judd_jitter
    span = s.max() - s.min()
    s = (s - s.min()) / span if span > 0 else np.zeros_like(s)
    return s.reshape(m.shape)


def _no_jitter(profile: str):
    return dataclasses.replace(get_profile(profile), judd_jitter=0.0)


# ---------------------------------------------------------------------------
# The case of issue 11
# ---------------------------------------------------------------------------

ROW = np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4]])
#: Pixel 0 fixated once, pixel 2 twice.
TWICE = Fixations.from_pixels([[0, 0, 0]], [[0, 2, 2]], 1, 6)


@pytest.mark.parametrize("profile", ["sphere", "tuebingen"])
def test_auc_judd_repeated_fixation_enters_at_one_threshold(profile: str) -> None:
    # Thresholds .9 and .7: TPR 1/3 then 3/3, FPR 0 then 1/4 (pixel 1 of the 4 unfixated):
    # area 1/4 * (1/3 + 1) / 2 + 3/4 = 11/12 (pysaliency: 0.9167); the old rule gave 0.875.
    assert get_profile(profile).fixation_duplicates == "count"
    assert float(auc_judd(ROW, TWICE, profile)) == pytest.approx(11 / 12, abs=1e-12)
    assert float(auc_judd(ROW, TWICE, _no_jitter(profile))) == pytest.approx(11 / 12, abs=1e-12)


@pytest.mark.parametrize("profile", ["dhp", "mit", "salient360"])
def test_auc_judd_once_profiles_see_the_pixel_once(profile: str) -> None:
    # Binary fixation map: TPR 1/2 then 1 at the same FPRs -> 1/4 * 3/4 + 3/4 = 15/16.
    assert float(auc_judd(ROW, TWICE, profile)) == pytest.approx(15 / 16, abs=1e-12)


def test_other_aucs_on_the_issue_case() -> None:
    # Exact AUC: per fixation P(neg < pos) + P(neg == pos) / 2 over all 6 pixels.
    per_fix = [5.5 / 6, 3.5 / 6, 3.5 / 6]
    assert float(auc(ROW, TWICE, "tuebingen")) == pytest.approx(np.mean(per_fix), abs=1e-12)
    assert float(auc_borji(ROW, TWICE, "tuebingen")) == float(auc(ROW, TWICE, "tuebingen"))
    other = Fixations.from_pixels([[0, 0, 0]], [[1, 3, 3]], 1, 6)  # .8 once, .6 twice
    want = np.mean([1.0, 2 / 3, 2 / 3])  # .9 beats all three; .7 beats the two .6
    assert float(sauc(ROW, TWICE, other, "tuebingen")) == pytest.approx(want, abs=1e-12)


# ---------------------------------------------------------------------------
# Brute force on random maps with ties and repeated fixations
# ---------------------------------------------------------------------------


@st.composite
def tied_cases(draw: st.DrawFn) -> tuple[np.ndarray, list[int]]:
    """A small map drawn from a few levels (many ties) and fixations that repeat pixels."""
    h, w = draw(st.integers(1, 4)), draw(st.integers(2, 6))
    levels = draw(st.integers(1, 4))
    vals = draw(st.lists(st.integers(0, levels), min_size=h * w, max_size=h * w))
    pixels = draw(st.lists(st.integers(0, h * w - 1), min_size=1, max_size=9))
    pixels += draw(st.lists(st.sampled_from(pixels), max_size=4))  # repeats
    assume(len(set(pixels)) < h * w)  # some pixel is a negative
    return np.array(vals, dtype=np.float64).reshape(h, w) / levels, pixels


def _fix_of(pixels: list[int], h: int, w: int) -> Fixations:
    p = np.array(pixels)
    return Fixations.from_pixels(p // w, p % w, h, w)


@given(case=tied_cases(), profile=st.sampled_from(PROFILE_NAMES))
def test_auc_judd_matches_threshold_by_threshold_roc(
    case: tuple[np.ndarray, list[int]], profile: str
) -> None:
    m, pixels = case
    fix = _fix_of(pixels, *m.shape)
    if get_profile(profile).judd_ties == "sequential":
        # salient360: no jitter, ties not grouped - its own rule, checked against the
        # toolbox's formula in tests/test_metrics_salient360.py.
        return
    # Without jitter every tie stays a tie.
    got = float(auc_judd(m, fix, _no_jitter(profile)))
    span = m.max() - m.min()
    s = (m - m.min()) / span if span > 0 else np.zeros_like(m)
    assert got == pytest.approx(ref_auc_judd(s, pixels, profile), abs=1e-12)
    # With the profile's seeded jitter: the ROC of the jittered map (a repeated pixel
    # still shares one value; distinct pixels no longer tie).
    jit = float(auc_judd(m, fix, profile, seeds=[17]))
    assert jit == pytest.approx(ref_auc_judd(_jittered(m, profile, 17), pixels, profile), abs=1e-9)


@given(case=tied_cases(), profile=st.sampled_from(PROFILE_NAMES))
def test_exact_auc_matches_threshold_by_threshold_roc(
    case: tuple[np.ndarray, list[int]], profile: str
) -> None:
    m, pixels = case
    fix = _fix_of(pixels, *m.shape)
    assert float(auc(m, fix, profile)) == pytest.approx(
        ref_exact_auc(m, pixels, profile), abs=1e-12
    )
    if get_profile(profile).borji == "exact":
        assert float(auc_borji(m, fix, profile)) == float(auc(m, fix, profile))


@given(case=tied_cases(), others=st.lists(st.integers(0, 23), min_size=1, max_size=12))
def test_exact_sauc_matches_threshold_by_threshold_roc(
    case: tuple[np.ndarray, list[int]], others: list[int]
) -> None:
    m, pixels = case
    h, w = m.shape
    others = [o % (h * w) for o in others]
    flat = [float(v) for v in m.ravel()]
    for profile in ("sphere", "tuebingen"):  # sauc='exact': every other fixation counts
        assert get_profile(profile).sauc == "exact"
        pos = [flat[i] for i in pixels]
        neg = [flat[i] for i in others]
        want = ref_roc_area(pos, neg, sorted(set(pos + neg), reverse=True))
        got = float(sauc(m, _fix_of(pixels, h, w), _fix_of(others, h, w), profile))
        assert got == pytest.approx(want, abs=1e-12)


@given(case=tied_cases(), seed=st.integers(0, 2**32))
def test_sampled_borji_counts_repeated_fixations(
    case: tuple[np.ndarray, list[int]], seed: int
) -> None:
    """``sphere``'s sampled AUC-Borji: MIT's threshold grid, area-uniform negatives."""
    m, pixels = case
    h, w = m.shape
    prof = get_profile("sphere")
    got = float(auc_borji(m, _fix_of(pixels, h, w), "sphere", seeds=[seed]))
    span = m.max() - m.min()
    s = ((m - m.min()) / span if span > 0 else np.zeros_like(m)).ravel()
    cdf = np.cumsum(_area_weights("sphere", h, w))
    cdf /= cdf[-1]
    u = np.random.default_rng(seed).random((prof.borji_splits, len(pixels)))
    draws = np.minimum(np.searchsorted(cdf, u, side="right"), h * w - 1)
    pos = [float(s[i]) for i in pixels]
    areas = []
    for split in draws:
        neg = [float(s[i]) for i in split]
        top = max(pos + neg)
        grid = [k * prof.borji_step for k in range(math.floor(top / prof.borji_step + 1e-9) + 1)]
        areas.append(ref_roc_area(pos, neg, grid[::-1]))
    assert got == pytest.approx(float(np.mean(areas)), abs=1e-12)
