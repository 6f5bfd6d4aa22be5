"""Eye-movement ground truth per step: fixation maps (counts) and eye saliency heatmaps.

Given each subject's fixation list (:class:`pano.em.Fixations`) and the ground-truth step
times of a video (the same step grid as the head heatmaps), a fixation is **active** at
step time ``t`` when ``start_s <= t < start_s + duration_s``; a subject has at most one
active fixation at a time (its fixations do not overlap).

* :func:`active_fixation_points` - ``(S, M, 3)`` the centre of each subject's active
  fixation at each step (NaN when none is active);
* :func:`fixation_maps` - ``(S, H, W)`` int32: per ERP pixel, the number of active
  fixations whose centre falls in it (one count per subject at most);
* :func:`eye_heatmaps` - ``(S, H, W)`` the active fixations blurred by a great-circle
  Gaussian (:func:`pano.heatmaps.heatmaps_for` with the store's heatmap parameters and the
  eye sigma, ~2 degrees by default).

The ERP grid is pano's (:mod:`pano.heatmap_params`): column 0 at the LEFT edge (lon
+180), +lon to the LEFT, row 0 at the top (lat +90), degrees.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pano.em.detect import Fixations
from pano.geometry import lonlat_to_erp, vec_to_lonlat
from pano.heatmap_params import HeatmapParams

__all__ = [
    "EYE_SIGMA_DEG",
    "active_fixation_points",
    "eye_heatmap_params",
    "eye_heatmaps",
    "fixation_maps",
    "lonlat_to_pixel",
]

#: Default Gaussian sigma of eye saliency maps, degrees (the eye's ~2 deg foveal field;
#: pano's reference notes: "eye ~2 deg, head ~3.34 deg").
EYE_SIGMA_DEG = 2.0


def lonlat_to_pixel(
    lon: np.ndarray, lat: np.ndarray, params: HeatmapParams
) -> tuple[np.ndarray, np.ndarray]:
    """The ERP pixel ``(row, col)`` (int64) of directions in degrees, on ``params``' grid.

    ``pixel="centre"``: the pixel whose area holds the direction (``col = floor((180 -
    lon) / 360 * W) mod W``, ``row = floor((90 - lat) / 180 * H)``, lat -90 in the last
    row). ``pixel="dhp"``: the nearest of DHP's integer sample positions (``lon = 180 - x
    * 360 / W``, ``lat = 90 - y * 180 / H``). Inputs must be finite.
    """
    x, y = lonlat_to_erp(np.asarray(lon, np.float64), np.asarray(lat, np.float64),
                         params.width, params.height)  # fmt: skip
    if params.pixel == "dhp":
        col = np.floor(x + 0.5).astype(np.int64) % params.width
        row = np.floor(y + 0.5).astype(np.int64)
    else:
        col = np.floor(x).astype(np.int64) % params.width
        row = np.floor(y).astype(np.int64)
    return np.clip(row, 0, params.height - 1), col


def active_fixation_points(fixations: Sequence[Fixations], step_time: np.ndarray) -> np.ndarray:
    """Centres of the fixation each subject holds at each step.

    Args:
        fixations: one :class:`Fixations` per subject (``M`` of them).
        step_time: ``(S,)`` seconds of the steps.

    Returns:
        ``(S, M, 3)`` float64 unit vectors (pano's frame), NaN where the subject holds no
        fixation at that step.

    """
    t = np.asarray(step_time, dtype=np.float64)
    out = np.full((t.size, len(fixations), 3), np.nan)
    for m, f in enumerate(fixations):
        if len(f) == 0:
            continue
        # the last fixation starting at or before t; active if t is before its end
        k = np.searchsorted(f.start_s, t, side="right") - 1
        ok = k >= 0
        kk = np.where(ok, k, 0)
        ok &= t < f.start_s[kk] + f.duration_s[kk] - 1e-12
        out[ok, m] = f.vec[kk[ok]]
    return out


def fixation_maps(points: np.ndarray, params: HeatmapParams) -> np.ndarray:
    """Counts per ERP pixel of the given fixation centres, one map per step.

    Args:
        points: ``(S, M, 3)`` unit vectors (e.g. :func:`active_fixation_points`), NaN rows
            ignored.
        params: the grid (``width``, ``height``, ``pixel``); sigma and normalisation are
            not used.

    Returns:
        ``(S, H, W)`` int32 counts.

    """
    pts = np.asarray(points, dtype=np.float64)
    s = pts.shape[0]
    out = np.zeros((s, params.height, params.width), dtype=np.int32)
    valid = np.all(np.isfinite(pts), axis=-1)
    si, _ = np.nonzero(valid)
    if si.size:
        lon, lat = vec_to_lonlat(pts[valid])
        row, col = lonlat_to_pixel(np.asarray(lon), np.asarray(lat), params)
        np.add.at(out, (si, row, col), 1)
    return out


def eye_heatmap_params(heatmap: HeatmapParams, sigma_deg: float = EYE_SIGMA_DEG) -> HeatmapParams:
    """The store's heatmap parameters with the eye's sigma (same grid, normalisation, steps)."""
    return HeatmapParams(**{**heatmap.model_dump(), "sigma_deg": float(sigma_deg)})


def eye_heatmaps(points: np.ndarray, params: HeatmapParams, device: Any = "cpu") -> np.ndarray:
    """Eye saliency maps ``(S, H, W)`` float32 of fixation centres ``(S, M, 3)`` (NaN ignored).

    :func:`pano.heatmaps.heatmaps_for` with ``params`` (use :func:`eye_heatmap_params`),
    computed in float64 in torch on ``device`` and returned as float32. A step without
    any active fixation gives an all-zero map.
    """
    import torch

    from pano.heatmaps import heatmaps_for

    pts = torch.as_tensor(np.asarray(points, dtype=np.float64), device=device)
    return heatmaps_for(pts, params).to(torch.float32).cpu().numpy()
