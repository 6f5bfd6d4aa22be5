"""Online-DHP, DHP's reward of every action, rollout heatmaps and the one-step MO scoring."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pano.geometry import lonlat_to_vec
from pano.heatmap_params import HeatmapParams
from pano.heatmaps import heatmaps_for
from pano.models.dhp import SIGMA_DEG, DHPAgent
from pano.models.online_dhp import OnlineDHP, action_rewards
from pano.models.sphere import angle_between

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def _p(lon: float, lat: float) -> torch.Tensor:
    return torch.tensor(lonlat_to_vec(lon, lat), dtype=torch.float64)


def test_action_rewards_on_a_hand_made_step() -> None:
    # The subject moves 5 deg straight up from the front centre.
    pos, nxt = _p(0.0, 0.0)[None], _p(0.0, 5.0)[None]
    r = action_rewards(pos, torch.tensor([5.0], dtype=torch.float64), nxt)[0]
    # Action 0 (up) by 5 deg lands on the subject, in its direction: reward exp(0) * exp(0).
    assert float(r[0]) == pytest.approx(1.0, abs=1e-9)
    # Action 4 (down) ends 10 deg from the subject and is 180 deg off its direction.
    s2 = 2 * SIGMA_DEG**2
    assert float(r[4]) == pytest.approx(
        math.exp(-(10.0**2) / s2) * math.exp(-(180.0**2) / s2), rel=1e-6
    )
    # Action 2 (right): 90 deg off, the distance is the great circle from (-5, 0) to (0, 5).
    d = math.degrees(float(angle_between(_p(-5.0, 0.0), _p(0.0, 5.0))))
    assert float(r[2]) == pytest.approx(
        math.exp(-(d**2) / s2) * math.exp(-(90.0**2) / s2), rel=1e-6
    )
    assert int(r.argmax()) == 0
    # Left/right symmetric around "up".
    assert float(r[1]) == pytest.approx(float(r[7]), rel=1e-9)


def _toy_run(lr: float, steps: int = 30) -> tuple[list[float], OnlineDHP, DHPAgent]:
    """A subject moving right (action 2) by 6 deg every step along the equator."""
    torch.manual_seed(0)
    agent = DHPAgent(size=42, hidden=16, speed_scale=1.0)
    online = OnlineDHP(agent, lr=lr, iters=2)
    view = torch.full((1, 1, 42, 42), 0.5)
    errs = []
    for t in range(steps):
        pos = _p(-6.0 * t, 0.0).float()
        nxt = _p(-6.0 * (t + 1), 0.0).float()
        pred = online.predict(view, pos)
        errs.append(math.degrees(float(angle_between(pred.double(), nxt.double()))))
        online.update(view, pos, nxt)
    return errs, online, agent


def test_online_update_changes_weights_and_improves_the_next_step_error() -> None:
    errs, online, agent = _toy_run(lr=1e-2)
    before = dict(agent.named_parameters())
    changed = [n for n, p in online.net.named_parameters() if not torch.equal(p, before[n])]
    assert "policy.weight" in changed and "speed.weight" in changed
    # The offline agent itself is untouched (each subject adapts a copy).
    torch.manual_seed(0)
    fresh = DHPAgent(size=42, hidden=16, speed_scale=1.0)
    for n, p in fresh.named_parameters():
        assert torch.equal(p, before[n])
    # Untrained: a random direction at ~0.7 deg/step, ~6 deg or more off; adapted: far closer.
    assert np.mean(errs[:3]) > 4.0
    assert np.mean(errs[-5:]) < 1.5
    # No learning (a vanishing rate) keeps the error where it was.
    errs0, _, _ = _toy_run(lr=1e-9)
    assert np.mean(errs0[-5:]) > 4.0


def test_rollout_heatmaps_known_case_and_floor() -> None:
    from pano.pipelines.train.rl import rollout_heatmaps

    hp = HeatmapParams(width=36, height=18, sigma_deg=10.0)
    # Two rollouts on the same point for 2 steps = the heatmap of that one point.
    pos = _p(35.0, 15.0).expand(2, 2, 3).clone()
    maps = rollout_heatmaps(pos, hp)
    one = heatmaps_for(_p(35.0, 15.0).expand(2, 1, 3).clone(), hp)
    torch.testing.assert_close(maps, one)
    assert float(maps.amax()) == pytest.approx(1.0)
    # Its peak pixel is the one centred on lon 35 (left of centre: column 14), lat 15 (row 7).
    r, c = np.unravel_index(int(maps[0].argmax()), maps[0].shape)
    assert (r, c) == (7, 14)
    # A floor w: the map as a mass is (1 - w) m + w / (H W); max-normalised again.
    w = 0.2
    fl = rollout_heatmaps(pos, hp, floor=w)
    m = one[0] / one[0].sum()
    want = (1 - w) * m + w / (18 * 36)
    torch.testing.assert_close(fl[0], want / want.max())
    assert float(fl.min()) > 0.0  # no zero-mass pixel left for KL divergence


def test_mean_overlap_of_one_step_scores_on_a_hand_computed_case() -> None:
    from pano.pipelines.train.online import (
        ONLINE_MODELS,
        OnlineVideoScores,
        online_results,
        summarize_online,
    )

    # Subject 0: offline 10 deg off in longitude at the equator -> (32.75 - 10) / 32.75;
    # online exact -> 1; no-motion 20 deg off -> (32.75 - 20) / 32.75.
    t = 3
    pred = np.full((3, 1, t, 3), np.nan)
    mo = np.full((3, 1, t), np.nan)
    err = np.full((3, 1, t), np.nan)
    mo[:, 0, 1:] = np.array([(32.75 - 10) / 32.75, 1.0, (32.75 - 20) / 32.75])[:, None]
    err[:, 0, 1:] = np.array([10.0, 0.0, 20.0])[:, None]
    from pano.metrics.hm import mean_overlap_dhp

    got = mean_overlap_dhp(lonlat_to_vec(10.0, 0.0), lonlat_to_vec(0.0, 0.0))
    assert float(got) == pytest.approx((32.75 - 10) / 32.75)
    ds = online_results(
        [OnlineVideoScores("V", np.array([7]), pred, mo, err)], {"kind": "online_dhp"}
    )
    assert list(ds["model"].values) == list(ONLINE_MODELS)
    s = summarize_online(ds)
    assert s["mo_offline"] == pytest.approx((32.75 - 10) / 32.75)
    assert s["mo_online"] == pytest.approx(1.0)
    assert s["err_no_motion"] == pytest.approx(20.0)
    assert s["online_beats_offline_share"] == 1.0
