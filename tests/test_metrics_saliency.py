"""Saliency metrics: identities, sphere invariances and agreement with literal references.

The ``ref_*`` functions below are deliberately literal transcriptions of the MIT saliency
benchmark's MATLAB code (cvzoya/saliency: CC.m, NSS.m, KLdiv.m, similarity.m, AUC_Judd.m,
AUC_Borji.m, AUC_shuffled.m) and of pysaliency 0.2.22's conventions - loops and plain
NumPy, one statement per MATLAB line where possible - so that a disagreement points at
pano, not at a clever reference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pano.geometry import erp_row_solid_angle, lonlat_to_vec
from pano.heatmaps import sphere_heatmaps
from pano.metrics.profiles import MIT_EPS, PROFILES, get_profile
from pano.metrics.saliency import (
    SALIENCY_METRICS,
    Fixations,
    MetricInputError,
    auc,
    auc_borji,
    auc_judd,
    cc,
    information_gain,
    kld,
    nss,
    saliency_scores,
    sauc,
    sim,
    stable_seed,
)

H, W = 18, 36
EPS = MIT_EPS


def _maps(rng: np.random.Generator, f: int = 3, h: int = H, w: int = W) -> np.ndarray:
    return rng.random((f, h, w)) ** 3


def _fix(rng: np.random.Generator, f: int = 3, n: int = 12, h: int = H, w: int = W) -> Fixations:
    rows = rng.integers(0, h, (f, n))
    cols = rng.integers(0, w, (f, n))
    rows[:, 1] = rows[:, 0]  # a duplicate fixation in every frame
    cols[:, 1] = cols[:, 0]
    valid = np.ones((f, n), bool)
    valid[0, -1] = False  # a missing subject
    return Fixations.from_pixels(rows, cols, h, w, valid)


def _binary(fix: Fixations, i: int) -> np.ndarray:
    m = np.zeros((fix.height, fix.width))
    m.ravel()[fix.frame(i)] = 1.0
    return m


# ---------------------------------------------------------------------------
# Literal references (MIT MATLAB code, pysaliency)
# ---------------------------------------------------------------------------


def ref_mit_cc(s: np.ndarray, g: np.ndarray) -> float:
    map1 = (s - s.mean()) / s.std(ddof=1)
    map2 = (g - g.mean()) / g.std(ddof=1)
    a = map1 - map1.mean()
    b = map2 - map2.mean()
    return float((a * b).sum() / math.sqrt((a * a).sum() * (b * b).sum()))  # corr2


def ref_mit_nss(s: np.ndarray, fixation_map: np.ndarray) -> float:
    smap = (s - s.mean()) / s.std(ddof=1)
    return float(smap[fixation_map.astype(bool)].mean())


def ref_mit_kl(s: np.ndarray, g: np.ndarray) -> float:
    map1 = s / s.sum()
    map2 = g / g.sum()
    total = 0.0
    for i in range(s.shape[0]):
        for j in range(s.shape[1]):
            total += map2[i, j] * math.log(EPS + map2[i, j] / (map1[i, j] + EPS))
    return total


def ref_mit_sim(s: np.ndarray, g: np.ndarray) -> float:
    map1 = (s - s.min()) / (s.max() - s.min())
    map1 = map1 / map1.sum()
    map2 = (g - g.min()) / (g.max() - g.min())
    map2 = map2 / map2.sum()
    return float(np.minimum(map1, map2).sum())


def ref_mit_auc_judd(s: np.ndarray, fixation_map: np.ndarray, noise: np.ndarray) -> float:
    s = s + noise  # MATLAB: saliencyMap + rand(size(saliencyMap)) / 10000000
    s = (s - s.min()) / (s.max() - s.min())
    S = s.ravel()
    F = fixation_map.ravel()
    Sth = S[F > 0]
    nfix = len(Sth)
    npix = len(S)
    allthreshes = sorted(Sth, reverse=True)
    tp = np.zeros(nfix + 2)
    fp = np.zeros(nfix + 2)
    tp[-1] = 1
    fp[-1] = 1
    for i in range(1, nfix + 1):
        thresh = allthreshes[i - 1]
        aboveth = int((S >= thresh).sum())
        tp[i] = i / nfix
        fp[i] = (aboveth - i) / (npix - nfix)
    return float(np.trapezoid(tp, fp))


def _roc_splits(sth: np.ndarray, randfix: np.ndarray, step: float, nneg: int) -> float:
    aucs = []
    for s in range(randfix.shape[0]):
        curfix = randfix[s]
        top = max(np.concatenate([sth, curfix]))
        allthreshes = [k * step for k in range(math.floor(top / step + 1e-9) + 1)][::-1]
        tp = np.zeros(len(allthreshes) + 2)
        fp = np.zeros(len(allthreshes) + 2)
        tp[-1] = 1
        fp[-1] = 1
        for i, thresh in enumerate(allthreshes, start=1):
            tp[i] = (sth >= thresh).sum() / len(sth)
            fp[i] = (curfix >= thresh).sum() / nneg
        aucs.append(np.trapezoid(tp, fp))
    return float(np.mean(aucs))


def ref_mit_auc_borji(s: np.ndarray, fixation_map: np.ndarray, r: np.ndarray, step: float) -> float:
    s = (s - s.min()) / (s.max() - s.min())
    S = s.ravel()
    Sth = S[fixation_map.ravel() > 0]
    randfix = S[r]  # r: (Nsplits, Nfixations) random pixel indices
    return _roc_splits(Sth, randfix, step, len(Sth))


def ref_mit_auc_shuffled(
    s: np.ndarray,
    fixation_map: np.ndarray,
    other_map: np.ndarray,
    seed: int,
    nsplits: int,
    step: float,
) -> float:
    s = (s - s.min()) / (s.max() - s.min())
    S = s.ravel()
    F = fixation_map.ravel()
    Oth = other_map.ravel()
    Sth = S[F > 0]
    nfix = len(Sth)
    ind = np.nonzero(Oth > 0)[0]
    nfix_oth = min(nfix, len(ind))
    rng = np.random.default_rng(seed)
    randfix = np.zeros((nsplits, nfix_oth))
    for i in range(nsplits):
        randind = rng.permutation(ind)
        randfix[i] = S[randind[:nfix_oth]]
    return _roc_splits(Sth, randfix, step, nfix_oth)


def ref_tue_nss(s: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> float:
    values = (s[ys, xs] - s.mean()) / s.std()
    return float(values.mean())


def ref_tue_sim(s: np.ndarray, g: np.ndarray) -> float:
    d1 = s / s.sum()
    d2 = g / g.sum()
    return float(np.min([d1, d2], axis=0).sum())


def ref_exact_auc(
    s: np.ndarray, ys: np.ndarray, xs: np.ndarray, weights: np.ndarray | None = None
) -> float:
    neg = s.ravel()
    w = np.ones_like(neg) if weights is None else weights.ravel()
    out = []
    for y, x in zip(ys, xs, strict=True):
        pos = s[y, x]
        out.append((w[neg < pos].sum() + 0.5 * w[neg == pos].sum()) / w.sum())
    return float(np.mean(out))


# ---------------------------------------------------------------------------
# Identities
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("profile", list(PROFILES))
def test_identities(profile: str) -> None:
    rng = np.random.default_rng(0)
    p = _maps(rng)
    np.testing.assert_allclose(cc(p, p, profile), 1.0, atol=1e-12)
    np.testing.assert_allclose(kld(p, p, profile), 0.0, atol=1e-12)
    np.testing.assert_allclose(sim(p, p, profile), 1.0, atol=1e-12)
    fix = _fix(rng)
    const = np.full((3, H, W), 0.25)
    assert np.all(auc(const, fix, profile) == 0.5)
    # A constant map: NSS 0, except salient360 (its toolbox divides by a zero std: NaN).
    np.testing.assert_array_equal(nss(const, fix, profile), get_profile(profile).nss_constant)
    expected_const_cc = get_profile(profile).cc_constant
    got = cc(const, p, profile)
    assert np.all(np.isnan(got)) if math.isnan(expected_const_cc) else np.all(got == 0.0)
    # A map equal to itself gains nothing over itself.
    np.testing.assert_allclose(information_gain(p, fix, p, profile), 0.0, atol=1e-12)


def test_single_frame_and_torch_inputs() -> None:
    rng = np.random.default_rng(1)
    p, g = _maps(rng, 1)[0], _maps(rng, 1)[0]
    assert np.ndim(cc(p, g)) == 0
    assert float(cc(torch.from_numpy(p), torch.from_numpy(g))) == pytest.approx(float(cc(p, g)))


def test_better_prediction_scores_better() -> None:
    rng = np.random.default_rng(2)
    pts = lonlat_to_vec(rng.uniform(-40, 40, (2, 20)), rng.uniform(-20, 20, (2, 20)))
    gt = sphere_heatmaps(torch.as_tensor(pts), W, H, sigma_deg=20).numpy()
    fix = Fixations.from_vectors(pts, H, W)
    noisy = gt + rng.random(gt.shape) * 0.5
    flat = np.ones_like(gt)
    for name in ("cc", "sim", "nss", "auc", "auc_judd", "auc_borji"):
        s_good = saliency_scores(noisy, [name], gt=gt, fixations=fix)[:, 0]
        s_flat = saliency_scores(flat, [name], gt=gt, fixations=fix)[:, 0]
        assert np.all(s_good > s_flat), name
    assert np.all(kld(noisy, gt) < kld(flat, gt))


# ---------------------------------------------------------------------------
# Agreement with the references
# ---------------------------------------------------------------------------


def test_mit_profile_matches_literal_matlab() -> None:
    rng = np.random.default_rng(3)
    p, g = _maps(rng), _maps(rng)
    fix = _fix(rng)
    seeds = [11, 12, 13]
    judd = auc_judd(p, fix, "mit", seeds)
    borji = auc_borji(p, fix, "mit", seeds)
    prof = get_profile("mit")
    for i in range(3):
        fmap = _binary(fix, i)
        assert cc(p, g, "mit")[i] == pytest.approx(ref_mit_cc(p[i], g[i]), abs=1e-12)
        assert nss(p, fix, "mit")[i] == pytest.approx(ref_mit_nss(p[i], fmap), abs=1e-12)
        assert kld(p, g, "mit")[i] == pytest.approx(ref_mit_kl(p[i], g[i]), abs=1e-10)
        assert sim(p, g, "mit")[i] == pytest.approx(ref_mit_sim(p[i], g[i]), abs=1e-12)
        noise = np.random.default_rng(seeds[i]).random(H * W).reshape(H, W) * 1e-7
        assert judd[i] == pytest.approx(ref_mit_auc_judd(p[i], fmap, noise), abs=1e-12)
        nfix = int(fmap.sum())
        r = np.random.default_rng(seeds[i]).integers(0, H * W, size=(prof.borji_splits, nfix))
        assert borji[i] == pytest.approx(
            ref_mit_auc_borji(p[i], fmap, r, prof.borji_step), abs=1e-12
        )


def test_mit_shuffled_auc_matches_literal_matlab() -> None:
    rng = np.random.default_rng(4)
    p = _maps(rng)
    fix = _fix(rng)
    other = _fix(rng, n=40)
    seeds = [5, 6, 7]
    got = sauc(p, fix, other, "mit", seeds)
    for i in range(3):
        ref = ref_mit_auc_shuffled(p[i], _binary(fix, i), _binary(other, i), seeds[i], 100, 0.1)
        assert got[i] == pytest.approx(ref, abs=1e-12)


def test_tuebingen_profile_matches_literal_pysaliency_conventions() -> None:
    rng = np.random.default_rng(5)
    p, g = _maps(rng), _maps(rng)
    fix = _fix(rng)
    other = _fix(rng, n=30)
    for i in range(3):
        ys, xs = fix.rows[i][fix.valid[i]], fix.cols[i][fix.valid[i]]
        assert nss(p, fix, "tuebingen")[i] == pytest.approx(ref_tue_nss(p[i], ys, xs), abs=1e-12)
        assert sim(p, g, "tuebingen")[i] == pytest.approx(ref_tue_sim(p[i], g[i]), abs=1e-12)
        assert auc(p, fix, "tuebingen")[i] == pytest.approx(ref_exact_auc(p[i], ys, xs), abs=1e-12)
        oy, ox = other.rows[i][other.valid[i]], other.cols[i][other.valid[i]]
        neg = p[i][oy, ox]
        ref = np.mean([(neg < v).mean() + 0.5 * (neg == v).mean() for v in p[i][ys, xs]])
        assert sauc(p, fix, other, "tuebingen")[i] == pytest.approx(ref, abs=1e-12)
    # Borji under tuebingen is the exact limit.
    np.testing.assert_array_equal(auc_borji(p, fix, "tuebingen"), auc(p, fix, "tuebingen"))


def test_sphere_profile_matches_solid_angle_definitions() -> None:
    rng = np.random.default_rng(6)
    p, g = _maps(rng), _maps(rng)
    fix = _fix(rng)
    w = np.broadcast_to(erp_row_solid_angle(W, H)[:, None], (H, W))
    for i in range(3):
        wn = w / w.sum()
        mp, mg = (wn * p[i]).sum(), (wn * g[i]).sum()
        cov = (wn * (p[i] - mp) * (g[i] - mg)).sum()
        ref_cc = cov / math.sqrt((wn * (p[i] - mp) ** 2).sum() * (wn * (g[i] - mg) ** 2).sum())
        assert cc(p, g)[i] == pytest.approx(ref_cc, abs=1e-12)
        pm = p[i] * w / (p[i] * w).sum()
        gm = g[i] * w / (g[i] * w).sum()
        assert kld(p, g)[i] == pytest.approx(
            float((gm * np.log(EPS + gm / (pm + EPS))).sum()), abs=1e-12
        )
        assert sim(p, g)[i] == pytest.approx(float(np.minimum(pm, gm).sum()), abs=1e-12)
        ys, xs = fix.rows[i][fix.valid[i]], fix.cols[i][fix.valid[i]]
        assert auc(p, fix)[i] == pytest.approx(ref_exact_auc(p[i], ys, xs, w), abs=1e-12)
        sd = math.sqrt((wn * (p[i] - mp) ** 2).sum())
        assert nss(p, fix)[i] == pytest.approx(float(((p[i][ys, xs] - mp) / sd).mean()), abs=1e-12)


def test_salient360_weights_are_sin_rows() -> None:
    rng = np.random.default_rng(7)
    p, g = _maps(rng, 1)[0], _maps(rng, 1)[0]
    w = np.sin(np.linspace(0, math.pi, H))[:, None] * np.ones((1, W))
    wn = w / w.sum()
    mp, mg = (wn * p).sum(), (wn * g).sum()
    ref = (wn * (p - mp) * (g - mg)).sum() / math.sqrt(
        (wn * (p - mp) ** 2).sum() * (wn * (g - mg) ** 2).sum()
    )
    assert float(cc(p, g, "salient360")) == pytest.approx(ref, abs=1e-12)


def test_dhp_cc_on_dhp_style_maps() -> None:
    """DHP's CC: plain Pearson on 360x180 maps built with DHP's recipe (sigma 7, max 1)."""
    rng = np.random.default_rng(8)
    pts = lonlat_to_vec(rng.uniform(-180, 180, (2, 58)), rng.uniform(-60, 60, (2, 58)))
    maps = sphere_heatmaps(torch.as_tensor(pts), 360, 180, 7.0, "max", "dhp").numpy()
    a, b = maps[0], maps[1]

    def dhp_cc(gt: np.ndarray, pred: np.ndarray) -> float:  # DHP's calc_cc_score
        fm = gt - np.mean(gt)
        if np.max(fm) > 0:
            fm = fm / np.std(fm)
        sm = pred - np.mean(pred)
        if np.max(sm) > 0:
            sm = sm / np.std(sm)
        return float(np.corrcoef(sm.reshape(-1), fm.reshape(-1))[0][1])

    assert float(cc(b, a, "dhp")) == pytest.approx(dhp_cc(a, b), abs=1e-12)
    # Unweighted and sphere-weighted CC differ on such maps (the poles are over-counted).
    assert abs(float(cc(b, a, "dhp")) - float(cc(b, a, "sphere"))) > 1e-4


# ---------------------------------------------------------------------------
# Sphere invariances, seeds, inputs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shift", [1, 7, W - 3])
def test_sphere_metrics_invariant_to_rotation_about_the_pole(shift: int) -> None:
    rng = np.random.default_rng(10)
    p, g = _maps(rng), _maps(rng)
    fix, other = _fix(rng), _fix(rng, n=30)

    def roll_fix(f: Fixations) -> Fixations:
        return Fixations.from_pixels(f.rows, (f.cols + shift) % W, H, W, f.valid)

    names = ["cc", "kld", "sim", "nss", "auc", "sauc", "ig"]
    base = np.roll(_maps(np.random.default_rng(11)), 0, axis=2)
    a = saliency_scores(p, names, gt=g, fixations=fix, other=other, baseline=base)
    b = saliency_scores(
        np.roll(p, shift, 2),
        names,
        gt=np.roll(g, shift, 2),
        fixations=roll_fix(fix),
        other=roll_fix(other),
        baseline=np.roll(base, shift, 2),
    )
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # Jittered AUC-Judd: equal up to the 1e-7 jitter's effect on near-ties.
    ja = auc_judd(p, fix, "sphere", [1, 2, 3])
    jb = auc_judd(np.roll(p, shift, 2), roll_fix(fix), "sphere", [1, 2, 3])
    np.testing.assert_allclose(ja, jb, atol=1e-3)


def test_random_variants_are_deterministic() -> None:
    rng = np.random.default_rng(12)
    p = _maps(rng)
    fix, other = _fix(rng), _fix(rng, n=30)
    keys = [(0, "A380", s) for s in range(3)]
    names = ["auc_judd", "auc_borji", "sauc"]
    a = saliency_scores(p, names, fixations=fix, other=other, seed_keys=keys, profile="mit")
    b = saliency_scores(p, names, fixations=fix, other=other, seed_keys=keys, profile="mit")
    np.testing.assert_array_equal(a, b)
    c = saliency_scores(
        p,
        names,
        fixations=fix,
        other=other,
        seed_keys=[(1, "A380", s) for s in range(3)],
        profile="mit",
    )
    assert not np.array_equal(a[:, 1], c[:, 1])
    assert stable_seed(0, "A380", 3, "auc_borji") == stable_seed(0, "A380", 3, "auc_borji")
    assert stable_seed(0, "A380", 3, "auc_borji") != stable_seed(0, "A380", 4, "auc_borji")


def test_density_is_not_fixations() -> None:
    rng = np.random.default_rng(13)
    p, g = _maps(rng), _maps(rng)
    with pytest.raises(MetricInputError, match="needs fixations"):
        nss(p, g)  # type: ignore[arg-type]
    with pytest.raises(MetricInputError, match="needs fixations"):
        auc(p, g)  # type: ignore[arg-type]
    with pytest.raises(MetricInputError, match="needs ground-truth fixations"):
        saliency_scores(p, ["nss"], gt=g)
    with pytest.raises(MetricInputError, match="density map"):
        cc(p, _fix(rng))  # type: ignore[arg-type]
    with pytest.raises(MetricInputError, match="unknown saliency metric"):
        saliency_scores(p, ["nope"], gt=g)


def test_fixations_from_lonlat_and_nan() -> None:
    ll = np.array([[[0.5, 0.5], [179.9, 89.9], [-179.9, -90.0], [np.nan, 0.0]]])
    f = Fixations.from_lonlat(ll, 180, 360)
    assert f.valid.tolist() == [[True, True, True, False]]
    assert (f.rows[0, :3].tolist(), f.cols[0, :3].tolist()) == ([89, 0, 179], [179, 0, 359])
    rng = np.random.default_rng(14)
    p = rng.random((1, 180, 360))
    empty = Fixations.from_lonlat(np.full((1, 3, 2), np.nan), 180, 360)
    assert np.isnan(nss(p, empty)[0]) and np.isnan(auc(p, empty)[0])


def test_registry_is_complete() -> None:
    assert set(SALIENCY_METRICS) == {
        "cc",
        "kld",
        "sim",
        "nss",
        "auc",
        "auc_judd",
        "auc_borji",
        "sauc",
        "ig",
    }
    assert all(p.to_attrs()["name"] == name for name, p in PROFILES.items())
