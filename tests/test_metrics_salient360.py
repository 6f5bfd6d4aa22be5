"""The ``salient360`` metric profile against the Salient360! toolbox's formulas.

The toolbox (github.com/David-Ef/salient360Toolbox, MIT) computes its saliency metrics in
``Salient360Toolbox/comparison/saliencyMetrics.py``. It is not installable here (not on the
package index; it needs numba, statsmodels, scikit-image, numpy-quaternion), so this file
writes each formula out again from the toolbox's description - ``tb_*`` below, plain loops
and NumPy, nothing from pano - and checks the profile against them on small maps drawn from
a few levels (many ties), with W = 2H as the toolbox requires. Hand-computed values pin the
formulas themselves on 1x6 and 4x2 maps.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from pano.metrics import Fixations, auc_judd, cc, get_profile, kld, nss, sim
from pano.metrics.auc import _sampled_roc

TB_EPS = np.finfo(float).eps  # the toolbox's EPSILON


def sine_rows(h: int, w: int) -> np.ndarray:
    """The toolbox's SineWeightMap: sin(linspace(0, pi, H)) repeated over the columns."""
    return np.repeat(np.sin(np.linspace(0.0, np.pi, h))[:, None], w, axis=1)


def tb_range(x: np.ndarray) -> np.ndarray:
    return (x - x.min()) / (x.max() - x.min())


def tb_auc_judd(smap: np.ndarray, fmap: np.ndarray) -> float:
    """AUC_Judd(jitter=False): binary map (> 0.5), min-max, one threshold per fixated pixel."""
    s = tb_range(np.array(smap, dtype=float)).ravel()
    f = (np.asarray(fmap) > 0.5).ravel()
    s_fix = s[f]
    n_fix, n_pix = len(s_fix), len(s)
    thresholds = sorted(s_fix, reverse=True)
    tp, fp = [0.0], [0.0]
    for k, t in enumerate(thresholds):
        above = int(np.sum(s >= t))
        tp.append((k + 1) / n_fix)
        fp.append((above - k - 1) / (n_pix - n_fix))
    tp.append(1.0)
    fp.append(1.0)
    return sum((fp[i + 1] - fp[i]) * (tp[i] + tp[i + 1]) / 2 for i in range(len(tp) - 1))


def tb_nss(smap: np.ndarray, fmap: np.ndarray) -> float:
    s = (smap - smap.mean()) / smap.std()  # np.std: ddof 0
    return float(s[np.asarray(fmap) > 0.5].mean())


def tb_cc(m1: np.ndarray, m2: np.ndarray) -> float:
    """z-score each map, then the weighted Pearson of statsmodels' DescrStatsW.corrcoef."""
    a = ((m1 - m1.mean()) / m1.std()).ravel()
    b = ((m2 - m2.mean()) / m2.std()).ravel()
    w = sine_rows(*m1.shape).ravel()
    ma, mb = (w * a).sum() / w.sum(), (w * b).sum() / w.sum()
    cov = (w * (a - ma) * (b - mb)).sum() / w.sum()
    va, vb = (w * (a - ma) ** 2).sum() / w.sum(), (w * (b - mb) ** 2).sum() / w.sum()
    return float(cov / math.sqrt(va * vb))


def tb_kld(p: np.ndarray, q: np.ndarray) -> float:
    """KLD(p, q): weight IN PLACE (the toolbox's side effect), sum-normalise, KL(p || q)."""
    w = sine_rows(*p.shape)
    p *= w
    q *= w
    p = p / p.sum()
    q = q / q.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sum(np.where(p != 0, p * np.log((p + TB_EPS) / (q + TB_EPS)), 0)))


def tb_sim(m1: np.ndarray, m2: np.ndarray) -> float:
    """SIM: weight IN PLACE, then min-max, then sum-normalise, then the intersection."""
    w = sine_rows(*m1.shape)
    m1 *= w
    m2 *= w
    a, b = tb_range(m1), tb_range(m2)
    return float(np.minimum(a / a.sum(), b / b.sum()).sum())


# ---------------------------------------------------------------------------
# Hand-computed values
# ---------------------------------------------------------------------------

# A 1x6 map with ties: pixels 1, 2 (fixated) and 3 (not) share 0.7; 4, 5 share 0.4.
ROW = np.array([[0.9, 0.7, 0.7, 0.7, 0.4, 0.4]])
FIX3 = Fixations.from_pixels([[0, 0, 0, 0]], [[0, 1, 2, 0]], 1, 6)  # pixel 0 twice
FMAP3 = np.array([[2, 1, 1, 0, 0, 0]])


def test_auc_judd_hand_value_ties_not_grouped() -> None:
    # Thresholds 1, .6, .6 (min-max): TPR 1/3, 2/3, 1; #{S >= t} 1, 4, 4 so
    # FPR (1-1)/3, (4-2)/3, (4-3)/3. Trapezoids: 0 + 1/3 - 5/18 + 2/3 = 13/18.
    assert tb_auc_judd(ROW, FMAP3) == pytest.approx(13 / 18, abs=1e-15)
    assert float(auc_judd(ROW, FIX3, "salient360")) == pytest.approx(13 / 18, abs=1e-15)
    # The grouped rule (pysaliency; the other profiles without jitter) gives 8/9.
    grouped = dataclasses.replace(get_profile("mit"), judd_jitter=0.0)
    assert float(auc_judd(ROW, FIX3, grouped)) == pytest.approx(8 / 9, abs=1e-15)
    # Nothing random: no seed changes it.
    assert float(auc_judd(ROW, FIX3, "salient360", seeds=[12345])) == pytest.approx(13 / 18)


def test_nss_hand_value_np_std_binary_fixations() -> None:
    # In tenths: 9, 7, 7, 7, 4, 4; mean 19/3, population variance 29/9. Fixated pixels
    # 0, 1, 2 (pixel 0 twice counts once): mean deviation 4/3, NSS = 4 / sqrt(29).
    assert tb_nss(ROW, FMAP3) == pytest.approx(4 / math.sqrt(29), abs=1e-12)
    assert float(nss(ROW, FIX3, "salient360")) == pytest.approx(4 / math.sqrt(29), abs=1e-12)
    assert float(nss(ROW, FIX3, "mit")) != pytest.approx(4 / math.sqrt(29), abs=1e-3)  # ddof 1


# 4 x 2 maps: sin(linspace(0, pi, 4)) = 0, sqrt(3)/2, sqrt(3)/2, ~1.2e-16 per row.
G42 = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
P42 = np.array([[1.0, 1.0], [2.0, 2.0], [1.0, 1.0], [1.0, 1.0]])


def test_cc_hand_value_sine_weighted() -> None:
    # Row 0 weighs 0 and row 3 ~1.2e-16, rows 1-2 equally: CC is the plain Pearson of
    # rows 1-2, (1, 2, 3, 4) against the tied (0, 0, 1, 1): cov 2, variances 5 and 1 ->
    # 2 / sqrt(5). Rows 0 and 3 (7s and -3s) do not count; unweighted they would.
    p = np.array([[7.0, 7.0], [1.0, 2.0], [3.0, 4.0], [-3.0, -3.0]])
    g = np.array([[7.0, -3.0], [0.0, 0.0], [1.0, 1.0], [-3.0, 7.0]])
    assert tb_cc(p, g) == pytest.approx(2 / math.sqrt(5), abs=1e-12)
    assert float(cc(p, g, "salient360")) == pytest.approx(2 / math.sqrt(5), abs=1e-12)
    assert abs(float(cc(p, g, "mit")) - 2 / math.sqrt(5)) > 0.1


def test_sim_hand_value_weights_before_min_max() -> None:
    # P*w: rows 0, 1.73, 0.87, ~0 -> min-max 0, 1, 1/2, ~0 -> sum 3 -> masses 1/3, 1/6.
    # G: mass 1/2 on each pixel of row 1. SIM = 2 * min(1/3, 1/2) = 2/3.
    assert tb_sim(P42.copy(), G42.copy()) == pytest.approx(2 / 3, abs=1e-12)
    assert float(sim(P42, G42, "salient360")) == pytest.approx(2 / 3, abs=1e-12)
    # Min-max BEFORE weighting (the MIT order) would give row 1 alone: SIM = 1.
    assert float(sim(P42, G42, "mit")) == pytest.approx(1.0, abs=1e-12)


def test_kld_hand_value_and_its_eps() -> None:
    # G: 1/2 on (1, 0) and (2, 1); P: 1 on (1, 0) only. KL(G || P) in the toolbox's form:
    # 1/2 log((1/2 + eps) / (1 + eps)) + 1/2 log((1/2 + eps) / eps), eps = float64 eps.
    g = np.zeros((4, 2))
    g[1, 0] = g[2, 1] = 1.0
    p = np.zeros((4, 2))
    p[1, 0] = 1.0
    e = TB_EPS
    want = 0.5 * math.log((0.5 + e) / (1 + e)) + 0.5 * math.log((0.5 + e) / e)
    assert tb_kld(g.copy(), p.copy()) == pytest.approx(want, rel=1e-14)
    assert float(kld(p, g, "salient360")) == pytest.approx(want, rel=1e-14)
    # MIT's form and eps (2.2204e-16) differ in the 5th digit here.
    assert abs(float(kld(p, g, "mit")) - want) > 1e-6


def test_constant_and_empty_maps_are_nan_as_in_the_toolbox() -> None:
    const = np.full((4, 8), 0.3)
    other = np.arange(32.0).reshape(4, 8)
    fix = Fixations.from_pixels([[1, 2]], [[3, 4]], 4, 8)
    assert math.isnan(float(cc(const, other, "salient360")))
    assert math.isnan(float(nss(const, fix, "salient360")))
    assert math.isnan(float(auc_judd(const, fix, "salient360")))
    assert math.isnan(float(kld(other, np.zeros((4, 8)), "salient360")))
    assert math.isnan(float(sim(np.zeros((4, 8)), other, "salient360")))
    assert float(cc(const, other, "sphere")) == 0.0  # pano's own convention


def test_borji_top_threshold_is_exclusive() -> None:
    # pos = 1, .95; one split of negatives 1, 0. MIT's grid includes t = 1:
    # (0,0) (.5,.5) (.5,1) (1,1) -> 0.625. The toolbox's np.r_[0:1:0.1] stops at .9:
    # (0,0) (.5,1) (1,1) -> 0.75.
    pos, neg = np.array([1.0, 0.95]), np.array([[1.0, 0.0]])
    assert _sampled_roc(pos, neg, 0.1, "inclusive") == pytest.approx(0.625, abs=1e-15)
    assert _sampled_roc(pos, neg, 0.1, "exclusive") == pytest.approx(0.75, abs=1e-15)
    assert get_profile("salient360").borji_top == "exclusive"


# ---------------------------------------------------------------------------
# Against the written-out formulas on random maps with ties
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_profile_matches_the_toolbox_formulas_on_tied_maps(seed: int) -> None:
    rng = np.random.default_rng(seed)
    h = int(rng.integers(3, 7))
    w = 2 * h  # the toolbox's weight map is H x 2H
    levels = int(rng.integers(2, 5))
    pred = rng.integers(0, levels + 1, (h, w)).astype(float)
    gt = rng.integers(0, levels + 1, (h, w)).astype(float) + rng.random((h, w)) * (seed % 2)
    if np.ptp(pred) == 0:
        pred[0, 0] += 1.0
    n = int(rng.integers(1, h * w // 2))
    rows, cols = rng.integers(0, h, n), rng.integers(0, w, n)
    rows, cols = np.append(rows, rows[:2]), np.append(cols, cols[:2])  # repeated fixations
    fix = Fixations.from_pixels(rows[None], cols[None], h, w)
    fmap = np.zeros((h, w))
    np.add.at(fmap, (rows, cols), 1)
    if fmap.astype(bool).all():
        pytest.skip("every pixel fixated")
    before = pred.copy(), gt.copy()
    assert float(auc_judd(pred, fix, "salient360")) == pytest.approx(
        tb_auc_judd(pred, fmap), abs=1e-12
    )
    assert float(nss(pred, fix, "salient360")) == pytest.approx(tb_nss(pred, fmap), abs=1e-12)
    assert float(cc(pred, gt, "salient360")) == pytest.approx(tb_cc(pred, gt), abs=1e-12)
    assert float(sim(pred, gt, "salient360")) == pytest.approx(
        tb_sim(pred.copy(), gt.copy()), abs=1e-12
    )
    # pano's kld(pred, gt) is the toolbox's KLD(gt, pred): KL of the ground truth from P.
    assert float(kld(pred, gt, "salient360")) == pytest.approx(
        tb_kld(gt.copy(), pred.copy()), abs=1e-12
    )
    # pano never writes into its inputs (the toolbox's KLD and SIM do), so a second
    # call gives the same numbers.
    np.testing.assert_array_equal(pred, before[0])
    np.testing.assert_array_equal(gt, before[1])
    assert float(kld(pred, gt, "salient360")) == float(kld(pred, gt, "salient360"))


def test_the_toolbox_side_effect_that_pano_does_not_reproduce() -> None:
    # Called twice on the same arrays, the toolbox's KLD re-weights them again: the
    # second number differs (H = 6: rows of unequal weight). This is what the docs call
    # a toolbox bug.
    rng = np.random.default_rng(3)
    p, q = rng.random((6, 12)), rng.random((6, 12))
    first = tb_kld(p, q)
    second = tb_kld(p, q)
    assert first != pytest.approx(second, abs=1e-6)
    p2, q2 = rng.random((6, 12)), rng.random((6, 12))
    assert float(kld(q2, p2, "salient360")) == float(kld(q2, p2, "salient360"))
