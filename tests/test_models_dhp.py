"""DHP agent, action geometry and reward: one direction convention for moving and rewarding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pano.geometry import lonlat_to_vec, orthodromic_distance, vec_to_lonlat
from pano.models import DHPAgent
from pano.models.dhp import (
    dhp_reward,
    move,
    movement_angle_deg,
    subject_speed_target,
    wrap_angle_diff_deg,
)

# Positions over the sphere, including the ±180° seam and high latitudes.
LONLAT = [(0, 0), (179.5, 0), (-179.5, 10), (90, -40), (-120, 70), (45, -75), (180, 30)]


def _p(lon: float, lat: float) -> torch.Tensor:
    t = torch.tensor([[float(lon), float(lat)]], dtype=torch.float64)
    return lonlat_to_vec(t[:, 0], t[:, 1])


def test_agent_shapes_and_state() -> None:
    agent = DHPAgent()
    assert agent.features == 288
    state = agent.initial_state(5)
    logits, value, speed, (h, c) = agent(torch.rand(5, 1, 42, 42), state)
    assert logits.shape == (5, 8) and value.shape == (5,) and speed.shape == (5,)
    assert h.shape == (5, 288) and c.shape == (5, 288)
    assert (speed > 0).all()


def test_action_directions_are_screen_directions() -> None:
    p = _p(0, 0)
    lon_lat = {}
    for k in range(8):
        q = move(p, torch.tensor([k]), torch.tensor([5.0]))
        lon, lat = vec_to_lonlat(q)
        lon_lat[k] = (lon.item(), lat.item())
    assert lon_lat[0][1] == pytest.approx(5.0) and abs(lon_lat[0][0]) < 1e-9  # up
    assert lon_lat[4][1] == pytest.approx(-5.0)  # down
    # 2 = RIGHT on screen = longitude decreasing (pano's +lon is LEFT); 6 = LEFT.
    assert lon_lat[2][0] == pytest.approx(-5.0) and abs(lon_lat[2][1]) < 1e-9
    assert lon_lat[6][0] == pytest.approx(5.0)
    assert lon_lat[1][0] < 0 < lon_lat[1][1]  # up-right


@pytest.mark.parametrize(("lon", "lat"), LONLAT)
@pytest.mark.parametrize("k", range(8))
def test_moving_in_direction_k_approaches_a_subject_moving_in_direction_k(
    lon: float, lat: float, k: int
) -> None:
    p = _p(lon, lat)
    step = torch.tensor([6.0], dtype=torch.float64)
    subj_next = move(p, torch.tensor([k]), step)  # the subject moves from p in direction k
    # The subject's measured direction is k * 45 degrees.
    ang = movement_angle_deg(p, subj_next)
    assert wrap_angle_diff_deg(ang, torch.tensor([k * 45.0], dtype=torch.float64)).item() < 1e-6
    # An agent at p: moving in direction k reduces its distance to the subject's new place
    # (to ~0), every other direction is worse, and direction k earns the highest reward.
    d0 = orthodromic_distance(p, subj_next)
    rewards = []
    for a in range(8):
        agent = move(p, torch.tensor([a]), step)
        d = orthodromic_distance(agent, subj_next)
        if a == k:
            assert d.item() < 1e-6 < d0.item()
        else:
            assert d.item() > 1e-3
        r, _ = dhp_reward(agent, torch.tensor([a]), p[:, None], subj_next[:, None])
        rewards.append(r.item())
    assert max(range(8), key=lambda a: rewards[a]) == k
    assert rewards[k] == pytest.approx(1.0)


@pytest.mark.parametrize(("lon", "lat"), LONLAT)
@pytest.mark.parametrize("k", range(8))
def test_chasing_a_subject_ahead_in_direction_k(lon: float, lat: float, k: int) -> None:
    # A subject 20 deg away in direction k of the agent: a small move in direction k brings
    # the agent closer; the opposite move takes it away.
    p = _p(lon, lat)
    target = move(p, torch.tensor([k]), torch.tensor([20.0], dtype=torch.float64))
    d0 = orthodromic_distance(p, target).item()
    toward = move(p, torch.tensor([k]), torch.tensor([5.0], dtype=torch.float64))
    away = move(p, torch.tensor([(k + 4) % 8]), torch.tensor([5.0], dtype=torch.float64))
    d_toward = orthodromic_distance(toward, target).item()
    assert d_toward < d0 < orthodromic_distance(away, target).item()


def test_wrap_uses_360_minus_d() -> None:
    a = torch.tensor([350.0, 10.0, 0.0, 90.0])
    b = torch.tensor([10.0, 350.0, 180.0, 315.0])
    assert torch.allclose(wrap_angle_diff_deg(a, b), torch.tensor([20.0, 20.0, 180.0, 135.0]))


def test_reward_skips_missing_subjects_and_weights_speed() -> None:
    p = _p(0, 0)
    s_next = move(p, torch.tensor([2]), torch.tensor([4.0], dtype=torch.float64))
    now = torch.stack([p, p, torch.full_like(p, float("nan"))], 1)  # (1, 3, 3)
    nxt = torch.stack([s_next, s_next, s_next], 1)
    r, w = dhp_reward(s_next, torch.tensor([2]), now, nxt)
    assert r.item() == pytest.approx(1.0)
    assert w[0, 2].item() == 0.0
    assert subject_speed_target(now, nxt, w).item() == pytest.approx(4.0)


def test_reward_decays_with_sigma() -> None:
    p = _p(0, 0)
    far = _p(41.9, 0)
    # Subject standing still (direction "up"=0), agent 41.9 deg away moving up: exp(-1/2).
    r, _ = dhp_reward(far, torch.tensor([0]), p[:, None], p[:, None])
    assert r.item() == pytest.approx(float(torch.exp(torch.tensor(-0.5))), rel=1e-6)


@pytest.mark.parametrize("g", range(8))
def test_dihedral_augmentation_maps_seen_actions_back_to_world_moves(g: int) -> None:
    from pano.models.dhp import dihedral_action_maps, dihedral_view

    maps = dihedral_action_maps()
    inverse = torch.argsort(maps, dim=1)
    for k in range(8):
        # A marker 10 px from the centre of a 42x42 view in screen direction k (0 up, 2 right).
        a = np.radians(45.0 * k)
        view = torch.zeros(1, 1, 42, 42)
        view[0, 0, round(20.5 - 10 * np.cos(a)), round(20.5 + 10 * np.sin(a))] = 1.0
        seen = dihedral_view(view, g)
        r, c = divmod(int(seen.flatten().argmax()), 42)
        ang = np.degrees(np.arctan2(c - 20.5, -(r - 20.5))) % 360.0
        seen_k = round(ang / 45.0) % 8
        assert seen_k == int(maps[g, k])  # the agent sees the marker in direction maps[g, k]
        assert int(inverse[g, seen_k]) == k  # ... and moving "there" moves toward it in the world
    if g == 0:
        assert torch.equal(dihedral_view(view, 0), view)
