"""Head-movement forecast metrics: orthodromic distance, viewport overlap, tiles.

Every function takes **unit vectors** ``(..., 3)`` in pano's frame (x front, y left,
z up; :mod:`pano.geometry`), NumPy or torch (computed in float64 NumPy, returned as
NumPy), with any leading shape - typically ``(subject, origin, horizon)``. A NaN in
either input gives NaN.

Viewports (``fov``: a :class:`pano.fov.FoV`, full ``(horizontal, vertical)`` angles in
degrees, or anything :meth:`pano.fov.FoV.parse` reads; default DHP's 110x113) are pinhole
(gnomonic) viewports with zero roll: the set of directions ``d`` with ``d . f > 0``,
``|d . r| <= tan(fov_x / 2) d . f`` and ``|d . u| <= tan(fov_y / 2) d . f`` for the
viewport's forward/right/up axes - i.e. the rays within FoV/2 in its tangent frame.
Such a viewport is a convex spherical quadrilateral bounded by four great circles, so
intersections are computed **exactly**: polygon clipping on the sphere
(Sutherland-Hodgman with great-circle planes) and areas by the Van Oosterom-Strackee
triangle formula. Tiles are likewise exact (viewport ∩ longitude lune, then the
polygon's latitude range).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from pano.errors import ParameterError, ShapeError
from pano.fov import DHP_FOV, FoV, FoVLike
from pano.geometry import head_to_camera_axes, orthodromic_distance, vec_to_lonlat
from pano.metrics._arrays import to_numpy
from pano.metrics.registry import check_metric_names, metrics_of

#: DHP's mean-overlap box: width 32.75 deg of longitude, height 0.75 x width.
DHP_BOX_WIDTH_DEG = 32.75
DHP_BOX_ASPECT = 0.75
#: Default streaming tile grid (columns in longitude, rows in latitude).
DEFAULT_TILES = (6, 4)


def _vec(x: Any, name: str) -> np.ndarray:
    a = to_numpy(x)
    if a.shape[-1:] != (3,):
        raise ShapeError(f"{name} must be unit vectors (..., 3), got shape {a.shape}")
    return a


def _pair(pred: Any, gt: Any) -> tuple[np.ndarray, np.ndarray]:
    p, g = _vec(pred, "pred"), _vec(gt, "gt")
    try:
        p, g = np.broadcast_arrays(p, g)
    except ValueError:
        raise ShapeError(f"pred {p.shape} and gt {g.shape} do not broadcast") from None
    return p, g


# ---------------------------------------------------------------------------
# Distances and DHP's rectangle overlap
# ---------------------------------------------------------------------------


def orthodromic_deg(pred: Any, gt: Any) -> np.ndarray:
    """Great-circle angle between predicted and true directions, in degrees, ``[0, 180]``.

    ``atan2(|u x v|, u . v)`` in float64 (:func:`pano.geometry.orthodromic_distance`).
    """
    p, g = _pair(pred, gt)
    return np.rad2deg(orthodromic_distance(p, g))


def mean_overlap_dhp(
    pred: Any,
    gt: Any,
    box_width_deg: float = DHP_BOX_WIDTH_DEG,
    aspect: float = DHP_BOX_ASPECT,
) -> np.ndarray:
    """DHP's mean overlap: axis-aligned ERP boxes, intersection over ONE box's area.

    Each direction is the centre of a box ``box_width_deg`` wide in longitude and
    ``aspect * box_width_deg`` high in latitude (DHP: ``W * 32.75 / 360`` by
    ``0.75 x`` that in pixels of a 2:1 map, i.e. degrees). Boxes wrap horizontally at
    ±180° and do not wrap at the poles; the score is ``intersection / box area`` (what
    DHP's code computes; its paper says union). In ``[0, 1]``.
    """
    p, g = _pair(pred, gt)
    lon1, lat1 = vec_to_lonlat(p)
    lon2, lat2 = vec_to_lonlat(g)
    bw, bh = float(box_width_deg), float(aspect) * float(box_width_deg)
    dlon = np.abs(lon1 - lon2) % 360.0
    dlon = np.minimum(dlon, 360.0 - dlon)
    ox = np.clip(bw - dlon, 0.0, bw)
    oy = np.clip(bh - np.abs(lat1 - lat2), 0.0, bh)
    return ox * oy / (bw * bh)


# ---------------------------------------------------------------------------
# Exact spherical polygons
# ---------------------------------------------------------------------------


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n > 0, n, 1.0)


def viewport_frame(vec: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forward, right and up unit axes ``(..., 3)`` of zero-roll viewports centred on ``vec``."""
    lon, lat = vec_to_lonlat(vec)
    axes = head_to_camera_axes(lon, lat, 0.0)  # rows: right, down, forward
    return axes[..., 2, :], axes[..., 0, :], -axes[..., 1, :]


def _tan_half(fov: FoVLike) -> tuple[float, float]:
    f = FoV.parse(fov, "fov")
    return math.tan(math.radians(f.h_deg) / 2), math.tan(math.radians(f.v_deg) / 2)


def viewport_planes(vec: np.ndarray, fov: FoVLike = DHP_FOV) -> np.ndarray:
    """Inward normals ``(..., 4, 3)`` of the four great circles bounding each viewport.

    A direction ``d`` is inside iff ``n . d >= 0`` for all four normals.
    """
    f, r, u = viewport_frame(vec)
    tx, ty = _tan_half(fov)
    return np.stack([tx * f - r, tx * f + r, ty * f - u, ty * f + u], axis=-2)


def viewport_corners(vec: np.ndarray, fov: FoVLike = DHP_FOV) -> np.ndarray:
    """Corner directions ``(..., 4, 3)`` of each viewport, in cyclic order."""
    f, r, u = viewport_frame(vec)
    tx, ty = _tan_half(fov)
    corners = [f + a * tx * r + b * ty * u for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    return _unit(np.stack(corners, axis=-2))


def viewport_area(fov: FoVLike = DHP_FOV) -> float:
    """Solid angle (sr) of a pinhole viewport: ``4 asin(sin(a/2) sin(b/2))``."""
    f = FoV.parse(fov, "fov")
    a, b = math.radians(f.h_deg), math.radians(f.v_deg)
    return 4.0 * math.asin(math.sin(a / 2) * math.sin(b / 2))


def _clip(
    verts: np.ndarray, count: np.ndarray, normal: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Clip convex spherical polygons ``(B, K, 3)`` by the half-spaces ``normal . x >= 0``."""
    b, k, _ = verts.shape
    idx = np.arange(k)[None, :]
    valid = idx < count[:, None]
    nxt = (idx + 1) % np.maximum(count, 1)[:, None]
    v1 = np.take_along_axis(verts, nxt[..., None], axis=1)
    s0 = np.einsum("bkc,bc->bk", verts, normal)
    s1 = np.einsum("bkc,bc->bk", v1, normal)
    in0, in1 = s0 >= 0, s1 >= 0
    cross = valid & (in0 != in1)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(cross, s0 / np.where(cross, s0 - s1, 1.0), 0.0)
    p = _unit(verts + t[..., None] * (v1 - verts))
    cand = np.stack([verts, p], axis=2).reshape(b, 2 * k, 3)
    mask = np.stack([valid & in0, cross], axis=2).reshape(b, 2 * k)
    order = np.argsort(~mask, axis=1, kind="stable")
    new_count = mask.sum(1)
    kmax = max(int(new_count.max(initial=0)), 1)
    new = np.take_along_axis(cand, order[:, :kmax, None], axis=1)
    return new, new_count


def _polygon_area(verts: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Solid angle of convex spherical polygons ``(B, K, 3)`` (fan triangulation)."""
    b, k, _ = verts.shape
    if k < 3:
        return np.zeros(b)
    a = verts[:, :1]
    v1, v2 = verts[:, 1:-1], verts[:, 2:]
    det = np.abs(np.einsum("bkc,bkc->bk", np.broadcast_to(a, v1.shape), np.cross(v1, v2)))
    den = 1.0 + (a * v1).sum(-1) + (v1 * v2).sum(-1) + (v2 * a).sum(-1)
    tri = 2.0 * np.arctan2(det, den)
    use = (np.arange(1, k - 1)[None, :] + 1) < count[:, None]
    return np.where(use, tri, 0.0).sum(1)


def viewport_intersection_area(pred: Any, gt: Any, fov: FoVLike = DHP_FOV) -> np.ndarray:
    """Exact solid angle (sr) of the intersection of the two viewports, shape ``(...)``."""
    fov = FoV.parse(fov, "fov")
    p, g = _pair(pred, gt)
    shape = p.shape[:-1]
    p2, g2 = p.reshape(-1, 3), g.reshape(-1, 3)
    ok = np.isfinite(p2).all(-1) & np.isfinite(g2).all(-1)
    out = np.full(p2.shape[0], np.nan)
    if ok.any():
        verts = viewport_corners(p2[ok], fov)
        count = np.full(verts.shape[0], 4)
        planes = viewport_planes(g2[ok], fov)
        for j in range(4):
            verts, count = _clip(verts, count, planes[:, j])
        out[ok] = _polygon_area(verts, count)
    return out.reshape(shape)


def viewport_overlap(pred: Any, gt: Any, fov: FoVLike = DHP_FOV) -> tuple[np.ndarray, np.ndarray]:
    """Spherical mean overlap and IoU of the predicted and true viewports.

    Returns:
        ``(mo, iou)``: ``mo = |Vp ∩ Vg| / |Vg|`` and ``iou = |Vp ∩ Vg| / |Vp ∪ Vg|``,
        areas in solid angle (exact), each of shape ``(...)``, in ``[0, 1]``.

    """
    inter = viewport_intersection_area(pred, gt, fov)
    area = viewport_area(fov)
    mo = np.clip(inter / area, 0.0, 1.0)
    iou = np.clip(inter / (2.0 * area - inter), 0.0, 1.0)
    return mo, iou


# ---------------------------------------------------------------------------
# Tiles
# ---------------------------------------------------------------------------


def _z_range(
    verts: np.ndarray, count: np.ndarray, normals: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of ``z`` over convex spherical polygons (vertices, arcs, poles)."""
    k = verts.shape[1]
    idx = np.arange(k)[None, :]
    valid = idx < count[:, None]
    nxt = (idx + 1) % np.maximum(count, 1)[:, None]
    v1 = np.take_along_axis(verts, nxt[..., None], axis=1)
    z = verts[..., 2]
    zmax = np.where(valid, z, -np.inf).max(1)
    zmin = np.where(valid, z, np.inf).min(1)
    # Interior extrema of each arc a -> c: z(t) = a_z cos t + w_z sin t, t in [0, theta].
    dot = np.clip((verts * v1).sum(-1), -1.0, 1.0)
    theta = np.arccos(dot)
    w = _unit(v1 - dot[..., None] * verts)
    amp = np.hypot(verts[..., 2], w[..., 2])
    tmax = np.arctan2(w[..., 2], verts[..., 2])
    tmin = np.where(tmax > 0, tmax - math.pi, tmax + math.pi)
    arc_max = valid & (tmax > 0) & (tmax < theta)
    arc_min = valid & (tmin > 0) & (tmin < theta)
    zmax = np.maximum(zmax, np.where(arc_max, amp, -np.inf).max(1))
    zmin = np.minimum(zmin, np.where(arc_min, -amp, np.inf).min(1))
    # A pole inside the polygon (= inside every bounding half-space) is its extremum.
    zmax = np.where((normals[..., 2] >= 0).all(1), 1.0, zmax)
    zmin = np.where((normals[..., 2] <= 0).all(1), -1.0, zmin)
    return zmin, zmax


def tile_sets(
    vec: Any,
    tiles: Sequence[int] = DEFAULT_TILES,
    fov: FoVLike = DHP_FOV,
    block: int = 8192,
) -> np.ndarray:
    """Which tiles of an ``m x n`` ERP grid each viewport overlaps (with positive area).

    Args:
        vec: viewport centres ``(..., 3)``.
        tiles: ``(m, n)`` = columns in longitude, rows in latitude. Tile ``(i, j)``
            (row ``i`` from the top, column ``j`` from the left edge, lon 180 at the left
            as in pano's ERP) covers lat ``[90 - 180 (i+1)/n, 90 - 180 i/n]`` and lon
            ``[180 - 360 (j+1)/m, 180 - 360 j/m]``.

    Returns:
        bool ``(..., n * m)`` in row-major tile order (all False for a NaN centre).
        Exact: each viewport is clipped to each column's longitude lune and the
        clipped polygon's latitude range is compared with the rows.

    """
    v = _vec(vec, "vec")
    fov = FoV.parse(fov, "fov")
    m, n = int(tiles[0]), int(tiles[1])
    if m < 1 or n < 1:
        raise ParameterError(f"tiles must be two positive counts (m, n), got {tuple(tiles)}")
    shape = v.shape[:-1]
    flat = v.reshape(-1, 3)
    out = np.zeros((flat.shape[0], n, m), bool)
    ok = np.isfinite(flat).all(-1)
    lat_edges = np.sin(np.deg2rad(90.0 - 180.0 * np.arange(n + 1) / n))  # descending
    z_hi, z_lo = lat_edges[:-1], lat_edges[1:]
    ids = np.nonzero(ok)[0]
    for s in range(0, ids.size, block):
        sel = ids[s : s + block]
        corners = viewport_corners(flat[sel], fov)
        planes = viewport_planes(flat[sel], fov)
        bsz = sel.size
        for j in range(m):
            verts, count = corners, np.full(bsz, 4)
            normals = planes
            if m > 1:
                hi = math.radians(180.0 - 360.0 * j / m)
                lo = math.radians(180.0 - 360.0 * (j + 1) / m)
                n_lo = np.array([-math.sin(lo), math.cos(lo), 0.0])
                n_hi = np.array([math.sin(hi), -math.cos(hi), 0.0])
                for nv in (n_lo, n_hi):
                    verts, count = _clip(verts, count, np.broadcast_to(nv, (bsz, 3)))
                normals = np.concatenate(
                    [planes, np.broadcast_to(np.stack([n_lo, n_hi]), (bsz, 2, 3))], axis=1
                )
            area = _polygon_area(verts, count)
            zmin, zmax = _z_range(verts, count, normals)
            hit = (
                (area > 1e-12)[:, None]
                & (zmax[:, None] > z_lo[None])
                & (zmin[:, None] < z_hi[None])
            )
            out[sel, :, j] = hit
    return out.reshape(*shape, n * m)


def tile_scores(
    pred_tiles: np.ndarray, gt_tiles: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU, precision and recall of predicted vs true tile sets ``(..., T)`` bool.

    ``precision = |P ∩ G| / |P|``, ``recall = |P ∩ G| / |G|``, ``iou = |P ∩ G| / |P ∪ G|``;
    NaN where the denominator is 0 (e.g. a NaN viewport selects no tile).
    """
    p, g = np.broadcast_arrays(np.asarray(pred_tiles, bool), np.asarray(gt_tiles, bool))
    inter = (p & g).sum(-1).astype(np.float64)
    union = (p | g).sum(-1)
    npred, ngt = p.sum(-1), g.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, np.nan)
        prec = np.where(npred > 0, inter / npred, np.nan)
        rec = np.where(ngt > 0, inter / ngt, np.nan)
    return iou, prec, rec


# ---------------------------------------------------------------------------
# Several at once
# ---------------------------------------------------------------------------

#: HM metric names -> (label, higher is better): a view derived from
#: :data:`pano.metrics.registry.METRICS` for older callers (the registry has units too).
HM_METRICS: dict[str, tuple[str, bool]] = {
    n: (s.label, s.higher_is_better) for n, s in metrics_of("hm").items()
}


def hm_scores(
    pred: Any,
    gt: Any,
    metrics: Sequence[str] = tuple(HM_METRICS),
    fov: FoVLike = DHP_FOV,
    tiles: Sequence[int] = DEFAULT_TILES,
    box_width_deg: float = DHP_BOX_WIDTH_DEG,
    gt_tiles: np.ndarray | None = None,
) -> np.ndarray:
    """Several HM metrics of predicted vs true directions, shape ``(..., len(metrics))``.

    Args:
        pred, gt: unit vectors ``(..., 3)`` (broadcast together).
        gt_tiles: optional precomputed :func:`tile_sets` of ``gt`` (saves work when the
            same truth is scored against many predictions).

    NaN where either direction is NaN.

    Raises:
        UnknownMetricError: a name that is not an HM metric (the message lists them).
        ParameterError: ``fov`` is not a field of view in ``(0, 180)`` degrees.

    """
    metrics = check_metric_names(metrics, "hm")
    fov = FoV.parse(fov, "fov")
    p, g = _pair(pred, gt)
    bad = ~(np.isfinite(p).all(-1) & np.isfinite(g).all(-1))
    cols: dict[str, np.ndarray] = {}
    if "orthodromic_deg" in metrics:
        cols["orthodromic_deg"] = orthodromic_deg(p, g)
    if "mo_dhp" in metrics:
        cols["mo_dhp"] = mean_overlap_dhp(p, g, box_width_deg)
    if {"mo_sphere", "iou_sphere"} & set(metrics):
        cols["mo_sphere"], cols["iou_sphere"] = viewport_overlap(p, g, fov)
    if {"tile_iou", "tile_precision", "tile_recall"} & set(metrics):
        tp = tile_sets(p, tiles, fov)
        tg = tile_sets(g, tiles, fov) if gt_tiles is None else np.broadcast_to(gt_tiles, tp.shape)
        cols["tile_iou"], cols["tile_precision"], cols["tile_recall"] = tile_scores(tp, tg)
    out = (
        np.stack([cols[name] for name in metrics], axis=-1)
        if metrics
        else np.zeros((*p.shape[:-1], 0))
    )
    out[bad] = np.nan
    return out
