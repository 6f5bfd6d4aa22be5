"""Baselines every evaluation shows beside a model, as pure functions on arrays.

These are the *evaluation-side* computations (no training loop, no store access):
the eval pipeline builds them from ground truth - fitted parameters only ever from
the TRAIN split - and scores them with exactly the same metric code as the models.

Saliency (maps on pano's ERP grid, ``(H, W)``, max-normalised):

* :func:`uniform_map` - uniform on the sphere (a constant ERP map);
* :func:`fcb_map` - front-centre bias: a great-circle Gaussian around lon 0, lat 0,
  its width from :func:`fit_fcb_sigma` (maximum likelihood on training head points);
* :func:`equator_bias_map` - a latitude-only density fitted on training head points;
* :func:`split_half` - the inter-observer split used for the upper bound (one half of
  the subjects' heatmap predicts the other half).

Head motion (unit vectors ``(..., T, 3)`` on a regular time grid, e.g. 5 Hz):

* :func:`no_motion_forecast` - the last observed direction, held;
* :func:`constant_velocity_forecast` - keep rotating about the last observed axis at
  the last observed angular speed (exact rotation on the sphere);
* :func:`forecast_targets` - the true future directions the forecasts are scored on.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pano.errors import InputDataError, ParameterError, ShapeError
from pano.geometry import erp_grid_lonlat, lonlat_to_vec, orthodromic_distance

#: The baselines ``pano eval`` scores, by name, in display order: saliency maps ...
SALIENCY_BASELINES = ("uniform", "fcb", "equator", "inter_observer")
#: ... and head-movement forecasts.
HM_BASELINES = ("no_motion", "constant_velocity")
#: Every baseline name (``pano eval --baselines``).
ALL_BASELINES = SALIENCY_BASELINES + HM_BASELINES
#: Baselines that also produce scanpaths (the other half of the subjects).
SCANPATH_BASELINES = ("inter_observer",)

# ---------------------------------------------------------------------------
# Saliency baselines
# ---------------------------------------------------------------------------


def uniform_map(height: int, width: int) -> np.ndarray:
    """Uniform density on the sphere: a constant ERP map ``(H, W)`` of ones.

    (An ERP pixel's solid angle is what makes a constant map uniform on the sphere; the
    sphere-weighted metrics take that into account.)
    """
    return np.ones((height, width))


def _grid_vectors(height: int, width: int) -> np.ndarray:
    lon, lat = erp_grid_lonlat(width, height)
    lo, la = np.meshgrid(lon, lat)
    return lonlat_to_vec(lo, la)


def fcb_map(height: int, width: int, sigma_deg: float) -> np.ndarray:
    """Front-centre bias ``exp(-d^2 / (2 sigma^2))``, ``d`` = great-circle angle to (0, 0).

    Returns:
        ``(H, W)`` float64, max 1 at the front centre (pixel-centre grid).

    """
    if not sigma_deg > 0:
        raise ParameterError(f"fcb_map: sigma_deg must be > 0, got {sigma_deg}")
    d = np.rad2deg(orthodromic_distance(_grid_vectors(height, width), np.array([1.0, 0.0, 0.0])))
    m = np.exp(-(d * d) / (2.0 * sigma_deg**2))
    return m / m.max()


def fit_fcb_sigma(vectors: Any, bounds_deg: tuple[float, float] = (2.0, 180.0)) -> float:
    """Maximum-likelihood width (degrees) of a front-centred great-circle Gaussian.

    The density on the sphere is ``exp(-d^2 / 2 s^2) / Z(s)`` with ``d`` the angle to
    the front centre and ``Z(s) = 2 pi int_0^pi exp(-t^2 / 2 s^2) sin t dt``.

    Args:
        vectors: training head directions ``(..., 3)``; NaN rows are ignored.

    Raises:
        InputDataError: no valid direction to fit on.

    """
    from scipy.optimize import minimize_scalar

    v = np.asarray(vectors, dtype=np.float64).reshape(-1, 3)
    v = v[np.isfinite(v).all(1)]
    if v.shape[0] == 0:
        raise InputDataError("fit_fcb_sigma: no valid training direction to fit the FCB width on")
    d = orthodromic_distance(v, np.array([1.0, 0.0, 0.0]))
    mean_d2 = float(np.mean(d * d))
    t = np.linspace(0.0, math.pi, 4001)

    def nll(s: float) -> float:
        z = 2.0 * math.pi * np.trapezoid(np.exp(-(t * t) / (2 * s * s)) * np.sin(t), t)
        return mean_d2 / (2 * s * s) + math.log(z)

    lo, hi = (math.radians(b) for b in bounds_deg)
    res = minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-6})
    return float(math.degrees(res.x))


def equator_bias_map(
    lat_deg: Any, height: int, width: int, sigma_deg: float, bin_deg: float = 0.5
) -> np.ndarray:
    """A latitude-only density fitted on training head latitudes.

    Each training point contributes the longitude-average of a great-circle Gaussian
    (``sigma_deg``, as the ground-truth heatmaps) centred on it - i.e. the map is the
    longitude-average of the training points' summed heatmap. Latitudes are binned to
    ``bin_deg`` first (exact up to that binning).

    Args:
        lat_deg: training latitudes in degrees (any shape; NaN ignored).

    Returns:
        ``(H, W)`` float64 map, constant along each row, max 1.

    Raises:
        InputDataError: no valid latitude.

    """
    lat = np.asarray(lat_deg, dtype=np.float64).ravel()
    lat = lat[np.isfinite(lat)]
    if lat.size == 0:
        raise InputDataError("equator_bias_map: no valid training latitude to fit on")
    edges = np.arange(-90.0, 90.0 + bin_deg / 2, bin_deg)
    counts, _ = np.histogram(np.clip(lat, -90.0, 90.0), bins=edges)
    centres = 0.5 * (edges[:-1] + edges[1:])
    used = counts > 0
    src = lonlat_to_vec(np.zeros(int(used.sum())), centres[used])  # (B, 3)
    grid = _grid_vectors(height, width)  # (H, W, 3)
    profile = np.zeros(height)
    inv = 1.0 / (2.0 * sigma_deg**2)
    for b in range(src.shape[0]):
        d = np.rad2deg(orthodromic_distance(grid, src[b]))
        profile += counts[used][b] * np.exp(-(d * d) * inv).mean(axis=1)
    out = np.broadcast_to(profile[:, None], (height, width)).copy()
    return out / out.max()


def split_half(n_subjects: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of subject indices into two halves (sizes differ by <= 1)."""
    if n_subjects < 2:
        raise InputDataError(
            f"the inter-observer baseline needs >= 2 subjects, the data has {n_subjects}"
        )
    perm = np.random.default_rng(seed).permutation(n_subjects)
    half = n_subjects // 2
    return np.sort(perm[:half]), np.sort(perm[half:])


# ---------------------------------------------------------------------------
# Head-motion baselines
# ---------------------------------------------------------------------------


def _check_series(xyz: Any, origins: Any, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(xyz, dtype=np.float64)
    o = np.asarray(origins, dtype=np.int64)
    if x.ndim < 2 or x.shape[-1] != 3:
        raise ShapeError(f"xyz must be direction series (..., T, 3), got {x.shape}")
    if o.ndim != 1 or (o.size and (o.min() < 0 or o.max() >= x.shape[-2])):
        raise ShapeError(f"origins must be indices in [0, {x.shape[-2]}), got {o}")
    if horizon < 1:
        raise ParameterError(f"horizon must be >= 1, got {horizon}")
    return x, o


def forecast_targets(xyz: Any, origins: Any, horizon: int) -> np.ndarray:
    """True future directions ``x[o + h]`` for ``h = 1..H``: ``(..., O, H, 3)``.

    NaN where ``o + h`` runs past the end of the series (or the sample is missing).
    """
    x, o = _check_series(xyz, origins, horizon)
    t = x.shape[-2]
    idx = o[:, None] + np.arange(1, horizon + 1)[None, :]  # (O, H)
    out = x[..., np.minimum(idx, t - 1), :]
    out[..., idx >= t, :] = np.nan
    return out


def no_motion_forecast(xyz: Any, origins: Any, horizon: int) -> np.ndarray:
    """Hold the direction observed at each origin: ``(..., O, H, 3)``."""
    x, o = _check_series(xyz, origins, horizon)
    last = x[..., o, :]  # (..., O, 3)
    return np.repeat(last[..., None, :], horizon, axis=-2)


def constant_velocity_forecast(xyz: Any, origins: Any, horizon: int) -> np.ndarray:
    """Constant angular velocity: rotate on at the last observed rate, ``(..., O, H, 3)``.

    With ``u = x[o-1]`` and ``v = x[o]``, the step is the rotation taking ``u`` to ``v``
    about ``k = u x v / |u x v|`` by ``w = angle(u, v)``; the forecast at ``h`` is ``v``
    rotated about ``k`` by ``h w`` (Rodrigues; ``v`` is perpendicular to ``k``). No
    motion (``w = 0``) holds ``v``; origin 0 (no previous sample) or a missing sample
    gives NaN.
    """
    x, o = _check_series(xyz, origins, horizon)
    v = x[..., o, :]
    u = x[..., np.maximum(o - 1, 0), :].copy()
    u[..., o == 0, :] = np.nan
    k = np.cross(u, v)
    kn = np.linalg.norm(k, axis=-1, keepdims=True)
    w = orthodromic_distance(u, v)[..., None]  # (..., O, 1)
    still = ~(kn > 1e-15)
    k = np.where(still, 0.0, k / np.where(still, 1.0, kn))
    ang = w[..., None, :] * np.arange(1, horizon + 1)[:, None]  # (..., O, H, 1)
    kxv = np.cross(k, v)[..., None, :]
    out = v[..., None, :] * np.cos(ang) + kxv * np.sin(ang)
    out = np.where(still[..., None, :], v[..., None, :], out)
    bad = ~np.isfinite(u).all(-1) | ~np.isfinite(v).all(-1)
    out[bad] = np.nan
    return out
