"""Head-movement models: shapes, baselines with known answers, invariances, learning."""

from __future__ import annotations

import math

import pytest
import torch

from pano.errors import ShapeError
from pano.geometry import lonlat_to_vec, orthodromic_distance, vec_to_lonlat
from pano.models import (
    MODELS,
    ConstantVelocity,
    ContentForecaster,
    NoMotion,
    Seq2SeqForecaster,
    build_model,
)
from pano.models.sphere import exp_map, front_exp, front_log, log_map, unit


def _track(lon0: float, lat0: float, dlon: float, dlat: float, n: int) -> torch.Tensor:
    lon = torch.tensor([lon0 + i * dlon for i in range(n)], dtype=torch.float64)
    lat = torch.tensor([lat0 + i * dlat for i in range(n)], dtype=torch.float64)
    return lonlat_to_vec(lon, lat)


def test_build_model_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown model kind"):
        build_model("transformer")


@pytest.mark.parametrize("kind", ["no_motion", "const_velocity", "seq2seq", "content"])
def test_forecasters_return_unit_vectors(kind: str, device: torch.device) -> None:
    torch.manual_seed(0)
    m = build_model(kind).to(device)
    hist = unit(torch.randn(3, 5, 3, device=device))
    k = len(m.content_steps)
    vp = torch.rand(3, k, m.channels, 32, 32, device=device) if m.needs_viewports else None
    out = m.forecast(hist, vp)
    assert out.shape == (3, 25, 3)
    assert torch.allclose(out.norm(dim=-1), torch.ones(3, 25, device=device), atol=1e-5)


def test_forecast_rejects_bad_shapes() -> None:
    with pytest.raises(ShapeError, match=r"\(B, T_h, 3\)"):
        NoMotion().forecast(torch.zeros(5, 3))
    with pytest.raises(ShapeError, match="needs viewports"):
        ContentForecaster().forecast(unit(torch.randn(2, 5, 3)))
    with pytest.raises(ShapeError, match="viewports must have shape"):
        ContentForecaster().forecast(unit(torch.randn(2, 5, 3)), torch.zeros(2, 3, 3, 32, 32))


def test_no_motion_repeats_last_sample() -> None:
    hist = _track(10, 5, 2, 0, 5)[None]
    out = NoMotion(horizon=4).forecast(hist)
    assert torch.equal(out, hist[:, -1:].expand(1, 4, 3))


def test_const_velocity_crosses_the_seam() -> None:
    # 3 deg/step to the LEFT (lon increasing) from 168 deg: crosses +180 -> -180.
    hist = _track(168, 0, 3, 0, 5)[None]
    out = ConstantVelocity(horizon=6).forecast(hist)
    lon, lat = vec_to_lonlat(out[0])
    expect = torch.tensor([180.0 + 3 * i for i in range(1, 7)], dtype=torch.float64)
    expect = (expect + 180) % 360 - 180
    assert torch.allclose(lon, expect, atol=1e-6)
    assert torch.allclose(lat, torch.zeros(6, dtype=torch.float64), atol=1e-6)


def test_const_velocity_follows_great_circle_over_the_pole() -> None:
    hist = _track(30, 80, 0, 2, 5)[None]  # up the 30 deg meridian: 80, 82, ..., 88
    out = ConstantVelocity(horizon=3).forecast(hist)
    lon, lat = vec_to_lonlat(out[0])
    # 90 is the pole; then down the opposite meridian (30 - 180 = -150).
    assert torch.allclose(lat, torch.tensor([90.0, 88.0, 86.0], dtype=torch.float64), atol=1e-5)
    assert torch.allclose(lon[1:], torch.tensor([-150.0, -150.0], dtype=torch.float64), atol=1e-4)


def test_const_velocity_window_and_damping() -> None:
    hist = _track(0, 0, 2, 0, 5)[None]
    out = ConstantVelocity(horizon=2, window=4, damping=0.5).forecast(hist)
    lon, _ = vec_to_lonlat(out[0])
    assert torch.allclose(lon, torch.tensor([10.0, 11.0], dtype=torch.float64), atol=1e-6)


def test_sphere_maps_round_trip() -> None:
    torch.manual_seed(1)
    p = unit(torch.randn(50, 3, dtype=torch.float64))
    q = unit(torch.randn(50, 3, dtype=torch.float64))
    v = log_map(p, q)
    assert torch.allclose(exp_map(p, v), q, atol=1e-9)
    assert torch.allclose(v.norm(dim=-1), orthodromic_distance(p, q), atol=1e-9)
    off = torch.randn(20, 2, dtype=torch.float64) * 0.5
    assert torch.allclose(front_log(front_exp(off)), off, atol=1e-9)


@pytest.mark.parametrize("kind", ["seq2seq", "content"])
def test_learned_models_start_as_no_motion_and_are_yaw_invariant(kind: str) -> None:
    torch.manual_seed(0)
    m = build_model(kind)
    hist = _track(20, 10, 2, 1, 5)[None].float()
    vp = torch.rand(1, len(m.content_steps), 3, 32, 32) if m.needs_viewports else None
    out = m.forecast(hist, vp)
    if kind == "seq2seq":  # (the content model also blends in its tracker from the start)
        assert torch.allclose(out, hist[:, -1:].expand_as(out), atol=1e-5)
    # Randomise the output layer: forecasts must rotate with the history about the pole.
    torch.nn.init.normal_(m.out.weight, std=0.3)
    out = m.forecast(hist, vp)
    hist2 = _track(20 + 97, 10, 2, 1, 5)[None].float()
    out2 = m.forecast(hist2, vp)
    lon1, lat1 = vec_to_lonlat(out)
    lon2, lat2 = vec_to_lonlat(out2)
    assert torch.allclose(lat1, lat2, atol=1e-3)
    assert torch.allclose((lon2 - lon1 + 180) % 360 - 180, torch.full_like(lon1, 97.0), atol=1e-3)


@pytest.fixture
def one_thread():
    """Small models train fastest on one thread (and do not fight other tests for cores)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_seq2seq_learns_constant_motion_better_than_no_motion(one_thread: None) -> None:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        lon0 = torch.rand(n, generator=g) * 360 - 180
        lat0 = torch.rand(n, generator=g) * 60 - 30
        dlon = torch.randn(n, generator=g) * 2
        dlat = torch.randn(n, generator=g) * 0.5
        i = torch.arange(10, dtype=torch.float32)
        lon = lon0[:, None] + dlon[:, None] * i
        lat = (lat0[:, None] + dlat[:, None] * i).clamp(-85, 85)
        xyz = lonlat_to_vec(lon, lat).float()
        return xyz[:, :5], xyz[:, 5:]

    m = Seq2SeqForecaster(horizon=5, hidden=16)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    for _ in range(60):
        h, f = batch(64)
        loss = (m.forecast(h) - f).norm(dim=-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    h, f = batch(256)
    with torch.no_grad():
        err = orthodromic_distance(m.forecast(h), f).mean()
        base = orthodromic_distance(NoMotion(horizon=5).forecast(h), f).mean()
    assert err < 0.5 * base


def test_models_registry_lists_all_kinds() -> None:
    assert set(MODELS) == {
        "no_motion", "const_velocity", "seq2seq", "content", "saliency", "track", "dhp"
    }  # fmt: skip
    assert math.isclose(ContentForecaster().interp.sum(1).sum().item(), 25.0, abs_tol=1e-5)
