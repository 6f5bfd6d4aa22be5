"""Evaluation-side baselines: saliency priors fitted on training data, HM extrapolations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pano.baselines import (
    constant_velocity_forecast,
    equator_bias_map,
    fcb_map,
    fit_fcb_sigma,
    forecast_targets,
    no_motion_forecast,
    split_half,
    uniform_map,
)
from pano.errors import InputDataError, ShapeError
from pano.geometry import lonlat_to_vec, orthodromic_distance, rotation_matrix


def test_uniform_and_fcb_maps() -> None:
    assert np.all(uniform_map(18, 36) == 1.0)
    m = fcb_map(180, 360, 20.0)
    assert m.shape == (180, 360) and m.max() == 1.0
    r, c = np.unravel_index(np.argmax(m), m.shape)
    assert r in (89, 90) and c in (179, 180)  # the front centre (lon 0, lat 0)
    np.testing.assert_allclose(m, m[:, ::-1])  # symmetric left/right
    # Pixel (89, 200) is lon -20.5, lat 0.5; the max sits at lon 0.5, lat 0.5.
    d = np.rad2deg(orthodromic_distance(lonlat_to_vec(-20.5, 0.5), np.array([1.0, 0, 0])))
    d0 = np.rad2deg(orthodromic_distance(lonlat_to_vec(0.5, 0.5), np.array([1.0, 0, 0])))
    assert m[89, 200] == pytest.approx(math.exp(-(d**2 - d0**2) / (2 * 20.0**2)), rel=1e-9)


def _sample_fcb(rng: np.random.Generator, sigma_deg: float, n: int) -> np.ndarray:
    """Rejection-sample directions from the density exp(-d^2 / 2 s^2) on the sphere."""
    out = []
    s = math.radians(sigma_deg)
    while sum(len(o) for o in out) < n:
        v = rng.normal(size=(20000, 3))
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        d = orthodromic_distance(v, np.array([1.0, 0, 0]))
        out.append(v[rng.random(len(v)) < np.exp(-(d**2) / (2 * s * s))])
    return np.concatenate(out)[:n]


@pytest.mark.parametrize("sigma", [15.0, 40.0])
def test_fit_fcb_sigma_recovers_the_width(sigma: float) -> None:
    pts = _sample_fcb(np.random.default_rng(0), sigma, 6000)
    pts[:5] = np.nan  # ignored
    assert fit_fcb_sigma(pts) == pytest.approx(sigma, rel=0.05)
    with pytest.raises(InputDataError):
        fit_fcb_sigma(np.full((3, 3), np.nan))


def test_equator_bias_fitted_on_latitudes() -> None:
    rng = np.random.default_rng(1)
    lat = np.concatenate([rng.normal(10.0, 3.0, 5000), [np.nan]])
    m = equator_bias_map(lat, 90, 180, sigma_deg=7.0)
    assert m.shape == (90, 180) and m.max() == 1.0
    np.testing.assert_array_equal(m, np.repeat(m[:, :1], 180, axis=1))  # latitude only
    peak_lat = 90 - 2 * (np.argmax(m[:, 0]) + 0.5)
    assert abs(peak_lat - 10.0) <= 2.0
    with pytest.raises(InputDataError):
        equator_bias_map([np.nan], 90, 180, 7.0)


def test_split_half() -> None:
    a, b = split_half(9, seed=3)
    assert len(a) == 4 and len(b) == 5
    assert sorted(np.concatenate([a, b]).tolist()) == list(range(9))
    a2, b2 = split_half(9, seed=3)
    assert a.tolist() == a2.tolist() and b.tolist() == b2.tolist()
    with pytest.raises(InputDataError):
        split_half(1, 0)


def _great_circle(n: int, step_deg: float) -> np.ndarray:
    """Directions moving at constant speed along a tilted great circle."""
    t = np.deg2rad(step_deg) * np.arange(n)
    base = np.stack([np.cos(t), np.sin(t), np.zeros(n)], -1)
    return base @ rotation_matrix(0.0, 30.0, 20.0).T  # type: ignore[no-any-return]


def test_hm_baselines_exact_on_constant_motion() -> None:
    x = np.stack([_great_circle(40, 3.0), _great_circle(40, 0.0)])  # moving, still
    origins = np.array([1, 5, 20])
    truth = forecast_targets(x, origins, 10)
    assert truth.shape == (2, 3, 10, 3)
    cv = constant_velocity_forecast(x, origins, 10)
    err_cv = np.rad2deg(orthodromic_distance(cv, truth))
    np.testing.assert_allclose(err_cv, 0.0, atol=1e-9)
    nm = no_motion_forecast(x, origins, 10)
    err_nm = np.rad2deg(orthodromic_distance(nm, truth))
    np.testing.assert_allclose(
        err_nm[0], np.broadcast_to(3.0 * np.arange(1, 11), (3, 10)), atol=1e-9
    )
    np.testing.assert_allclose(err_nm[1], 0.0, atol=1e-12)


def test_hm_baselines_nan_and_bounds() -> None:
    x = _great_circle(10, 2.0)
    x[4] = np.nan
    truth = forecast_targets(x, [0, 5, 8], 3)
    assert np.isnan(truth[2, 1:]).all() and np.isfinite(truth[2, 0]).all()  # runs past the end
    cv = constant_velocity_forecast(x, [0, 5, 8], 3)
    assert np.isnan(cv[0]).all()  # no previous sample at origin 0
    assert np.isnan(cv[1]).all()  # previous sample missing
    assert np.isfinite(cv[2]).all()
    with pytest.raises(ShapeError):
        no_motion_forecast(x, [10], 3)
    v = lonlat_to_vec(np.array([0.0, 0.0]), np.array([0.0, 0.0]))
    np.testing.assert_allclose(constant_velocity_forecast(v, [1], 2)[0], v[:1].repeat(2, 0))
