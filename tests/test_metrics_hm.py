"""Head-movement metrics: distances, DHP and spherical overlap, tiles; scanpath metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pano.errors import ParameterError
from pano.geometry import lonlat_to_vec, rotation_matrix
from pano.metrics.hm import (
    HM_METRICS,
    hm_scores,
    mean_overlap_dhp,
    orthodromic_deg,
    tile_scores,
    tile_sets,
    viewport_area,
    viewport_intersection_area,
    viewport_overlap,
    viewport_planes,
)
from pano.metrics.scanpath import (
    MULTIMATCH_DIMS,
    dtw,
    jarodzka360,
    jarodzka360_matched,
    multimatch,
    scanpath_scores,
)


def _v(lon: float | np.ndarray, lat: float | np.ndarray) -> np.ndarray:
    return lonlat_to_vec(np.asarray(lon, float), np.asarray(lat, float))


def test_orthodromic_known_values_and_seam() -> None:
    assert float(orthodromic_deg(_v(0, 0), _v(90, 0))) == pytest.approx(90.0)
    assert float(orthodromic_deg(_v(179, 0), _v(-179, 0))) == pytest.approx(2.0)
    assert float(orthodromic_deg(_v(0, 90), _v(123, 90))) == pytest.approx(0.0, abs=1e-9)
    assert float(orthodromic_deg(torch.tensor(_v(0, 0)), _v(0, -45))) == pytest.approx(45.0)
    assert np.isnan(orthodromic_deg(np.full(3, np.nan), _v(0, 0)))


def test_mean_overlap_dhp() -> None:
    w, h = 32.75, 0.75 * 32.75
    assert float(mean_overlap_dhp(_v(10, 20), _v(10, 20))) == 1.0
    assert float(mean_overlap_dhp(_v(0, 0), _v(w / 2, 0))) == pytest.approx(0.5)
    assert float(mean_overlap_dhp(_v(0, 0), _v(0, h / 4))) == pytest.approx(0.75)
    # Wraps at the seam: 2 degrees apart across +-180.
    assert float(mean_overlap_dhp(_v(179, 0), _v(-179, 0))) == pytest.approx((w - 2) / w)
    assert float(mean_overlap_dhp(_v(0, 0), _v(90, 0))) == 0.0


def test_viewport_area_and_self_intersection() -> None:
    for fov in [(110.0, 113.0), (90.0, 90.0), (60.0, 30.0)]:
        v = _v(np.array([0.0, 37.0, -170.0, 10.0]), np.array([0.0, 60.0, -20.0, 89.0]))
        np.testing.assert_allclose(
            viewport_intersection_area(v, v, fov), viewport_area(fov), rtol=1e-12
        )
    # A 90x90 viewport is one face of a cube: 4 pi / 6.
    assert viewport_area((90.0, 90.0)) == pytest.approx(4 * math.pi / 6)


def test_viewport_intersection_matches_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    d = rng.normal(size=(400_000, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    pairs = [
        ((20.0, 30.0), (70.0, 60.0)),
        ((175.0, 0.0), (-150.0, 10.0)),
        ((0.0, 80.0), (120.0, 75.0)),
    ]
    for (lo1, la1), (lo2, la2) in pairs:
        a, b = _v(lo1, la1), _v(lo2, la2)
        ina = (d @ viewport_planes(a[None])[0].T >= 0).all(1)
        inb = (d @ viewport_planes(b[None])[0].T >= 0).all(1)
        mc = (ina & inb).mean() * 4 * math.pi
        exact = float(viewport_intersection_area(a, b))
        assert exact == pytest.approx(mc, abs=4 * math.sqrt(mc * 4 * math.pi / d.shape[0]) + 1e-3)
        assert exact == pytest.approx(float(viewport_intersection_area(b, a)), rel=1e-9)


def test_viewport_overlap_mo_and_iou() -> None:
    mo, iou = viewport_overlap(_v(0, 0), _v(0, 0))
    assert float(mo) == pytest.approx(1.0, abs=1e-12) and float(iou) == pytest.approx(
        1.0, abs=1e-12
    )
    mo, iou = viewport_overlap(_v(0, 0), _v(180, 0))
    assert (float(mo), float(iou)) == (0.0, 0.0)
    mo, iou = viewport_overlap(_v(0, 0), _v(30, 0))
    assert 0 < float(iou) < float(mo) < 1
    # Rotation about the polar axis changes nothing.
    mo2, iou2 = viewport_overlap(_v(100, 0), _v(130, 0))
    assert float(mo2) == pytest.approx(float(mo), abs=1e-12)
    assert float(iou2) == pytest.approx(float(iou), abs=1e-12)


def test_tile_sets_exact_against_dense_sampling() -> None:
    tiles = (6, 4)
    rng = np.random.default_rng(1)
    centres = _v(rng.uniform(-180, 180, 40), np.degrees(np.arcsin(rng.uniform(-1, 1, 40))))
    exact = tile_sets(centres, tiles)
    # Dense samples strictly inside each tile.
    m, n, k = tiles[0], tiles[1], 40
    lon = 180 - 360 * (np.arange(m * k) + 0.5) / (m * k)
    lat = 90 - 180 * (np.arange(n * k) + 0.5) / (n * k)
    lo, la = np.meshgrid(lon, lat)
    pts = _v(lo, la).reshape(-1, 3)
    tile_id = ((np.arange(n * k)[:, None] // k) * m + (np.arange(m * k)[None, :] // k)).ravel()
    for c in range(centres.shape[0]):
        inside = (pts @ viewport_planes(centres[c][None])[0].T >= 0).all(1)
        sampled = np.zeros(m * n, bool)
        sampled[np.unique(tile_id[inside])] = True
        assert not np.any(sampled & ~exact[c]), "a sampled-touched tile missing from the exact set"
        # The exact set may add tiles the sampling missed only through thin slivers.
        assert (exact[c] & ~sampled).sum() <= 2


def test_tile_sets_landmarks_and_scores() -> None:
    t = tile_sets(_v(0, 0), (6, 4)).reshape(4, 6)
    # Front viewport (110 x 113): lon +-55 -> columns 2, 3; lat +-56.5 -> all four rows.
    assert t[:, 2:4].all() and not t[:, [0, 1, 4, 5]].any()
    north = tile_sets(_v(0, 90), (6, 4)).reshape(4, 6)
    assert north[0].all() and not north[2:].any()
    assert not tile_sets(np.full(3, np.nan)).any()
    iou, prec, rec = tile_scores(np.array([1, 1, 0, 0], bool), np.array([0, 1, 1, 0], bool))
    assert (float(iou), float(prec), float(rec)) == (1 / 3, 0.5, 0.5)


def test_hm_scores_shapes_and_nan() -> None:
    rng = np.random.default_rng(2)
    gt = _v(rng.uniform(-180, 180, (3, 5)), rng.uniform(-60, 60, (3, 5)))
    pred = gt.copy()
    pred[0, 0] = np.nan
    s = hm_scores(pred, gt)
    assert s.shape == (3, 5, len(HM_METRICS))
    assert np.isnan(s[0, 0]).all()
    good = s[1:]
    np.testing.assert_allclose(good[..., 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(good[..., 1:], 1.0, atol=1e-9)


# ---------------------------------------------------------------------------
# Scanpaths
# ---------------------------------------------------------------------------


def ref_dtw(a: np.ndarray, b: np.ndarray) -> float:
    a = a[np.isfinite(a).all(1)]
    b = b[np.isfinite(b).all(1)]
    n, m = len(a), len(b)
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            c = math.degrees(
                math.atan2(np.linalg.norm(np.cross(a[i - 1], b[j - 1])), a[i - 1] @ b[j - 1])
            )
            acc[i, j] = c + min(acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
    return float(acc[n, m])


def _walk(rng: np.random.Generator, shape: tuple[int, ...], n: int) -> np.ndarray:
    lon = np.cumsum(rng.normal(0, 8, (*shape, n)), -1)
    lat = np.clip(np.cumsum(rng.normal(0, 4, (*shape, n)), -1), -80, 80)
    return _v(lon, lat)


def test_dtw_matches_literal_reference_with_missing_samples() -> None:
    rng = np.random.default_rng(3)
    a, b = _walk(rng, (4,), 12), _walk(rng, (4,), 9)
    a[1, 3] = np.nan
    b[2, [0, 5]] = np.nan
    got = dtw(a, b)
    for k in range(4):
        assert got[k] == pytest.approx(ref_dtw(a[k], b[k]), abs=1e-9)
    np.testing.assert_allclose(dtw(a, a), 0.0, atol=1e-12)
    np.testing.assert_allclose(dtw(a[:, None], b[None]), dtw(b[None], a[:, None]), atol=1e-9)
    assert np.isnan(dtw(np.full((3, 3), np.nan), b[0]))


def test_dtw_and_multimatch_rotation_invariance() -> None:
    rng = np.random.default_rng(4)
    a, b = _walk(rng, (3,), 10), _walk(rng, (3,), 10)
    rot = rotation_matrix(37.0, 20.0, 10.0)
    np.testing.assert_allclose(dtw(a @ rot.T, b @ rot.T), dtw(a, b), atol=1e-9)
    yaw = rotation_matrix(80.0, 0.0, 0.0)
    np.testing.assert_allclose(multimatch(a @ yaw.T, b @ yaw.T), multimatch(a, b), atol=1e-9)


def test_multimatch_identity_and_shift() -> None:
    rng = np.random.default_rng(5)
    a = _walk(rng, (2,), 15)
    np.testing.assert_allclose(multimatch(a, a), 1.0, atol=1e-12)
    shifted = a @ rotation_matrix(30.0, 0.0, 0.0).T  # same shape, 30 deg further left
    mm = multimatch(a, shifted)
    np.testing.assert_allclose(mm[:, :3], 1.0, atol=1e-9)  # vector, direction, length
    np.testing.assert_allclose(mm[:, 3], 1.0 - 30.0 / 180.0, atol=0.05)  # position
    assert MULTIMATCH_DIMS == ("vector", "direction", "length", "position")
    assert np.isnan(multimatch(a[0, :1], a[1])).all()  # one sample: no saccade


def test_scanpath_scores_average_pairs() -> None:
    rng = np.random.default_rng(6)
    pred, gt = _walk(rng, (2,), 8), _walk(rng, (3,), 8)
    s = scanpath_scores(pred, gt, ("dtw_deg", "dtw_deg_per_step", "mm_position"))
    assert s[0] == pytest.approx(float(np.mean(dtw(pred[:, None], gt[None]))))
    assert s[1] == pytest.approx(s[0] / 8)
    assert 0 <= s[2] <= 1


def _jarodzka_brute_force(a: np.ndarray, b: np.ndarray) -> float:
    """Literal Jarodzka-360: pair costs by loops, every monotone path enumerated."""
    n, m = len(a), len(b)

    def angle(u: np.ndarray, v: np.ndarray) -> float:
        return math.acos(
            max(-1.0, min(1.0, float(u @ v) / (np.linalg.norm(u) * np.linalg.norm(v))))
        )

    cost = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            pos = angle(a[i], b[j]) / math.pi
            d = 0.5 if i == 0 or j == 0 else angle(a[i - 1] - a[i], b[j - 1] - b[j]) / math.pi
            cost[i, j] = (pos + d) / 2
    best = (math.inf, 0)

    def walk(i: int, j: int, total: float, cells: int) -> None:
        nonlocal best
        total, cells = total + cost[i, j], cells + 1
        if (i, j) == (n - 1, m - 1):
            best = min(best, (total, cells))  # the cheapest path (no exact ties here)
            return
        for di, dj in ((1, 1), (1, 0), (0, 1)):
            if i + di < n and j + dj < m:
                walk(i + di, j + dj, total, cells)

    walk(0, 0, 0.0, 0)
    return best[0] / best[1]


def test_jarodzka360_matches_a_literal_reference() -> None:
    rng = np.random.default_rng(7)
    for n, m in ((1, 1), (2, 5), (5, 3), (6, 6)):
        a, b = _walk(rng, (), n), _walk(rng, (), m)
        assert jarodzka360(a, b) == pytest.approx(_jarodzka_brute_force(a, b), abs=1e-12)
    # Broadcasting, NaN rows dropped, rotation invariance.
    a, b = _walk(rng, (3,), 7), _walk(rng, (4,), 9)
    full = jarodzka360(a[:, None], b[None])
    assert full.shape == (3, 4)
    assert full[1, 2] == pytest.approx(jarodzka360(a[1], b[2]))
    holes = b.copy()
    holes[2, 4] = np.nan
    assert jarodzka360(a[0], holes[2]) == pytest.approx(
        _jarodzka_brute_force(a[0], np.delete(b[2], 4, axis=0)), abs=1e-12
    )
    rot = rotation_matrix(37.0, 20.0, 10.0)
    np.testing.assert_allclose(jarodzka360(a @ rot.T, b[:3] @ rot.T), jarodzka360(a, b[:3]))
    assert np.isnan(jarodzka360(np.full((4, 3), np.nan), b[0]))


def test_jarodzka360_identity_and_hungarian_matching() -> None:
    rng = np.random.default_rng(8)
    gt = _walk(rng, (4,), 10)
    # Identical scanpaths: only the first pair (no saccade yet) costs (0 + 0.5) / 2.
    np.testing.assert_allclose(jarodzka360(gt, gt), 0.25 / 10, atol=1e-12)
    assert jarodzka360(gt[0], gt[0], weights=(1.0, 0.0)) == pytest.approx(0.0, abs=1e-12)
    # A shuffled copy of the set is matched back to itself; unmatched pairs cost more.
    pred = gt[[2, 0, 3, 1]]
    assert jarodzka360_matched(pred, gt) == pytest.approx(0.025, abs=1e-12)
    assert float(np.mean(jarodzka360(pred[:, None], gt[None]))) > 0.1
    # More predictions than subjects: the best min(R, M) pairs count.
    extra = np.concatenate([_walk(rng, (3,), 10), gt[:2]])
    assert jarodzka360_matched(extra, gt[:2]) == pytest.approx(0.025, abs=1e-12)
    # A subject without any valid sample takes no part (the others still match).
    holes = np.concatenate([gt, np.full((1, 10, 3), np.nan)])
    assert jarodzka360_matched(pred, holes) == pytest.approx(0.025, abs=1e-12)
    assert math.isnan(jarodzka360_matched(pred, np.full((2, 10, 3), np.nan)))
    s = scanpath_scores(pred, gt, ("jarodzka360", "dtw_deg"))
    assert s[0] == pytest.approx(0.025, abs=1e-12) and s[1] > 0
    with pytest.raises(ParameterError, match="weights"):  # a value, not a shape (issue 11)
        jarodzka360(gt, gt, weights=(0.0, 0.0))
