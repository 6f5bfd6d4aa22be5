"""The spatial head's learned cell prior (``model.cell_prior``): where the cells are on the
sphere, that it starts as a no-op, that it changes which target the policy prefers, and
that it turns with the view under ``rl.augment``."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from pano.errors import ConfigError, ShapeError
from pano.geometry import lonlat_to_vec
from pano.models.dhp import (
    CELL_PRIORS,
    DHPAgent,
    all_action_rewards,
    dihedral_action_maps,
    dihedral_view,
)
from pano.pipelines.train.config import TrainConfig
from pano.pipelines.train.rl import all_action_policy_loss
from pano.viewport import ViewportSampler

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def _v(lon: list[float], lat: list[float]) -> torch.Tensor:
    return torch.as_tensor(lonlat_to_vec(lon, lat), dtype=torch.float32)


def _agent(prior: str = "latitude_distance", seed: int = 0) -> DHPAgent:
    torch.manual_seed(seed)
    return DHPAgent(
        channels=3, size=42, hidden=8, recurrent=False, head="spatial", cell_prior=prior
    )


class _FixedScore(nn.Module):
    """A score map that ignores the features: ``scores (11, 11)`` for every view."""

    def __init__(self, scores: torch.Tensor) -> None:
        super().__init__()
        self.scores = scores

    def forward(self, early: torch.Tensor) -> torch.Tensor:
        return self.scores.expand(early.shape[0], 1, *self.scores.shape)


@pytest.mark.parametrize(("lon", "lat"), [(0.0, 0.0), (30.0, 40.0), (179.0, -20.0), (-90.0, 80.0)])
def test_cell_features_are_where_the_gnomonic_view_looks(lon: float, lat: float) -> None:
    agent = _agent()
    feats = agent.cell_features(_v([lon], [lat]))[0]  # (2, 11, 11)
    # An 11x11 view of the same FoV has its pixel centres exactly at the cell centres.
    rays = ViewportSampler(fov_deg=(110, 113), size=(11, 11)).pixel_directions(
        torch.tensor([lon]), torch.tensor([lat])
    )[0]
    torch.testing.assert_close(feats[0].double(), rays[..., 2] ** 2, atol=1e-5, rtol=0)
    centre = _v([lon], [lat])[0].double()
    ang = torch.rad2deg(torch.acos((rays @ centre).clamp(-1, 1)))
    torch.testing.assert_close(feats[1].double(), ang / 45.0, atol=1e-3, rtol=0)
    assert float(feats[1, 5, 5]) < 1e-3  # the centre cell is the view centre


def test_zero_prior_leaves_the_agent_unchanged_and_old_checkpoints_load() -> None:
    plain, prior = _agent("none"), _agent("latitude_distance")
    assert "prior_weight" not in plain.state_dict()  # default: nothing new in checkpoints
    missing = prior.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing == ["prior_weight"]
    assert torch.equal(prior.prior_weight, torch.zeros(2))  # type: ignore[arg-type]
    views = torch.rand(3, 3, 42, 42, generator=torch.Generator().manual_seed(1))
    pos = _v([0.0, 50.0, -120.0], [0.0, 60.0, -30.0])
    s = plain.initial_state(3)
    for a, b in zip(plain(views, s), prior(views, s, pos, torch.tensor([0, 3, 6])), strict=True):
        if isinstance(a, torch.Tensor):
            torch.testing.assert_close(a, b)


def test_a_negative_latitude_weight_prefers_the_target_at_the_equator() -> None:
    agent = _agent("latitude")
    scores = torch.zeros(11, 11)
    scores[5, 9] = 6.0  # a target to the right, on the equator (view centre at lat 0)
    scores[1, 5] = 6.0  # the same target above, at ~45 deg latitude
    agent.score = _FixedScore(scores)
    views = torch.rand(1, 3, 42, 42)
    pos = _v([20.0], [0.0])
    feats = agent.cell_features(pos)[0, 0]
    assert float(feats[5, 9]) < 1e-6 and math.degrees(math.asin(float(feats[1, 5]) ** 0.5)) > 40
    with torch.no_grad():
        logits = agent(views, agent.initial_state(1), pos)[0][0]
        torch.testing.assert_close(logits[0], logits[2])  # g = 0: no preference
        agent.prior_weight.fill_(-0.3)  # type: ignore[union-attr]
        logits = agent(views, agent.initial_state(1), pos)[0][0]
    assert float(logits[2]) > float(logits[0]) + 1.0  # right (the equator target) over up
    assert int(logits.argmax()) == 2


@pytest.mark.parametrize("g", range(8))
def test_the_prior_turns_with_the_view_under_augmentation(g: int) -> None:
    # Policy from the prior alone (a constant score): the world move must not depend on the
    # symmetry the view was shown in, once seen actions are mapped back (rl.augment).
    agent = _agent("latitude_distance")
    agent.score = _FixedScore(torch.zeros(11, 11))
    with torch.no_grad():
        agent.prior_weight.copy_(torch.tensor([-0.4, 0.15]))  # type: ignore[union-attr]
    pos = _v([10.0, -150.0, 100.0], [35.0, -50.0, 10.0])
    views = torch.rand(3, 3, 42, 42)
    st = agent.initial_state(3)
    with torch.no_grad():
        base = torch.softmax(agent(views, st, pos)[0], -1)
        sym = torch.full((3,), g)
        seen = torch.softmax(agent(dihedral_view(views, g), st, pos, sym)[0], -1)
    world = seen[:, dihedral_action_maps()[g]]  # world action k is seen as maps[g, k]
    torch.testing.assert_close(world, base, atol=1e-5, rtol=0)
    assert float(base[0, 4]) > float(base[0, 0])  # at lat 35: down (toward the equator)
    if g % 4:  # ... and the features did turn (a pure mirror leaves the no-roll map as is)
        assert not torch.allclose(
            agent.cell_features(pos, sym)[:, 0], agent.cell_features(pos)[:, 0], atol=1e-3
        )


def test_training_moves_the_latitude_weight_toward_the_rewarded_equator() -> None:
    # Subjects at lat 40 all move down (south): the all-action gradient must make the prior
    # favour low-latitude cells (a negative sin^2 lat weight); a constant score, so only
    # the prior can learn.
    agent = _agent("latitude")
    agent.score = _FixedScore(torch.zeros(11, 11))
    pos = _v([0.0, 90.0], [40.0, 45.0])
    now = pos[:, None]
    nxt = _v([0.0, 90.0], [34.0, 39.0])[:, None]
    r = all_action_rewards(pos, torch.tensor([6.0, 6.0]), now, nxt, 41.9)
    assert int(r[0].argmax()) == 4
    opt = torch.optim.Adam([agent.prior_weight], lr=0.01)  # type: ignore[list-item]
    views = torch.rand(2, 3, 42, 42)
    for _ in range(20):
        logits = agent(views, agent.initial_state(2), pos)[0]
        probs = torch.softmax(logits, -1)[:, None]
        z = torch.zeros(2, 1)
        loss = all_action_policy_loss(probs, r[:, None], z, z, z, False, True)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(agent.prior_weight.detach()[0]) < -0.1  # type: ignore[union-attr]


def test_cell_prior_options_and_errors() -> None:
    assert set(CELL_PRIORS) == {"none", "latitude", "latitude_distance"}
    cfg = TrainConfig.model_validate(
        {"model": {"kind": "dhp", "head": "spatial", "cell_prior": "latitude"}}
    )
    assert cfg.model.kind == "dhp" and cfg.model.cell_prior == "latitude"
    assert TrainConfig.model_validate({"model": {"kind": "dhp"}}).model.cell_prior == "none"
    with pytest.raises(ValueError, match=r"needs model\.head: spatial"):
        TrainConfig.model_validate({"model": {"kind": "dhp", "cell_prior": "latitude"}})
    with pytest.raises(ValueError):
        TrainConfig.model_validate({"model": {"kind": "dhp", "cell_prior": "longitude"}})
    with pytest.raises(ConfigError):
        DHPAgent(head="dense", cell_prior="latitude")
    with pytest.raises(ShapeError, match="view centres"):
        _agent()(torch.rand(1, 3, 42, 42), (torch.zeros(1, 8), torch.zeros(1, 8)))
