"""EM ground truth (pano.em.maps) on hand-made fixation lists: which pixels get counted."""

from __future__ import annotations

import math

import numpy as np
import torch

from pano.em import Fixations
from pano.em.maps import (
    active_fixation_points,
    eye_heatmap_params,
    eye_heatmaps,
    fixation_maps,
    lonlat_to_pixel,
)
from pano.heatmap_params import HeatmapParams

GRID = HeatmapParams(width=36, height=18)  # 10-degree pixels


def unit(lon: float, lat: float) -> np.ndarray:
    lo, la = math.radians(lon), math.radians(lat)
    return np.array([math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)])


def fixations(rows: list[tuple[float, float, float, float]]) -> Fixations:
    """rows: (start_s, duration_s, lon, lat)."""
    n = len(rows)
    return Fixations(
        first=np.arange(n, dtype=np.int64),
        last=np.arange(n, dtype=np.int64),
        start_s=np.array([r[0] for r in rows], float),
        duration_s=np.array([r[1] for r in rows], float),
        vec=np.array([unit(r[2], r[3]) for r in rows]).reshape(-1, 3),
        lon=np.array([r[2] for r in rows], float),
        lat=np.array([r[3] for r in rows], float),
    )


# subject 0: lon +43 (LEFT of front) lat +7 during [0.1, 0.4); lon -103 lat -53 during [0.5, 0.9)
# subject 1: lon +43 lat +7 during [0.3, 0.6); nothing after
SUBJECTS = [
    fixations([(0.1, 0.3, 43.0, 7.0), (0.5, 0.4, -103.0, -53.0)]),
    fixations([(0.3, 0.3, 43.0, 7.0)]),
]
STEP_TIME = np.array([0.0, 0.1, 0.35, 0.5, 0.6, 0.95])
# By hand: col = floor((180 - lon) / 10), row = floor((90 - lat) / 10).
P1 = (8, 13)  # lon 43 -> col 13.7 -> 13 (left half: +lon is LEFT); lat 7 -> row 8.3 -> 8
P2 = (14, 28)  # lon -103 -> col 28.3 -> 28; lat -53 -> row 14.3 -> 14


def test_active_fixations_by_hand() -> None:
    pts = active_fixation_points(SUBJECTS, STEP_TIME)
    active = ~np.isnan(pts[..., 0])
    # step 0.0: none; 0.1: s0 (start inclusive); 0.35: s0 and s1; 0.5: s0's 2nd and s1;
    # 0.6: s0's 2nd only (s1's ended at 0.6, end exclusive); 0.95: none (s0's ended at 0.9)
    np.testing.assert_array_equal(active, [[0, 0], [1, 0], [1, 1], [1, 1], [1, 0], [0, 0]])
    np.testing.assert_allclose(pts[3, 0], unit(-103.0, -53.0), atol=1e-15)


def test_fixation_counts_land_in_hand_computed_pixels() -> None:
    maps = fixation_maps(active_fixation_points(SUBJECTS, STEP_TIME), GRID)
    assert maps.shape == (6, 18, 36) and maps.dtype == np.int32
    np.testing.assert_array_equal(maps.reshape(6, -1).sum(1), [0, 1, 2, 2, 1, 0])
    assert maps[1][P1] == 1
    assert maps[2][P1] == 2  # both subjects fixate the same pixel
    assert maps[3][P1] == 1 and maps[3][P2] == 1
    assert maps[4][P2] == 1
    assert P1[1] < 18  # lon +43 is in the LEFT half of the ERP image


def test_pixel_rules_centre_and_dhp() -> None:
    row, col = lonlat_to_pixel(np.array([45.0, -100.0, 179.99, -180.0, 0.0]),
                               np.array([5.0, -50.0, 90.0, -90.0, 0.0]), GRID)  # fmt: skip
    np.testing.assert_array_equal(row, [8, 14, 0, 17, 9])
    np.testing.assert_array_equal(col, [13, 28, 0, 0, 18])
    dhp = HeatmapParams(width=36, height=18, pixel="dhp")  # samples at lon 180 - 10 x
    row, col = lonlat_to_pixel(np.array([44.0, -176.0]), np.array([4.0, -89.0]), dhp)
    np.testing.assert_array_equal(col, [14, 0])  # lon 44 -> x 13.6 -> 14; -176 -> 35.6 -> 0
    np.testing.assert_array_equal(row, [9, 17])  # lat 4 -> 8.6 -> 9; -89 -> 17.9 -> clipped


def test_eye_heatmaps_peak_at_the_fixations() -> None:
    eye = eye_heatmap_params(GRID, 2.0)
    assert eye.sigma_deg == 2.0 and eye.width == 36 and eye.normalize == GRID.normalize
    pts = active_fixation_points(SUBJECTS, STEP_TIME)
    maps = eye_heatmaps(pts, eye)
    assert maps.shape == (6, 18, 36) and maps.dtype == np.float32
    assert not maps[0].any() and not maps[5].any()  # no active fixation: all zero
    for s, px in ((1, P1), (2, P1), (4, P2)):
        assert np.unravel_index(np.argmax(maps[s]), maps[s].shape) == px
        assert maps[s].max() == 1.0  # max-normalised like the store's head heatmaps
    from pano.heatmaps import heatmaps_for

    want = heatmaps_for(torch.as_tensor(pts), eye).to(torch.float32).numpy()
    np.testing.assert_array_equal(maps, want)
