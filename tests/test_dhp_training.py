"""DHP training pieces: every action's reward, the all-action policy gradient, the
feed-forward agent and the two-frame observation."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from pano.errors import ShapeError
from pano.geometry import lonlat_to_vec
from pano.models.dhp import DHPAgent, all_action_rewards, dhp_reward, move
from pano.pipelines.train.config import TrainConfig
from pano.pipelines.train.rl import all_action_policy_loss, observe, render

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def _v(lon: list[float], lat: list[float]) -> torch.Tensor:
    return torch.as_tensor(lonlat_to_vec(lon, lat), dtype=torch.float64)


def test_all_action_rewards_equal_the_reward_of_each_action_taken() -> None:
    gen = torch.Generator().manual_seed(3)
    pos = _v([0.0, 179.0, -60.0], [0.0, 20.0, 70.0])
    speed = torch.tensor([5.0, 12.0, 3.0], dtype=torch.float64)
    lon = torch.rand(3, 4, generator=gen, dtype=torch.float64) * 360 - 180
    lat = torch.rand(3, 4, generator=gen, dtype=torch.float64) * 120 - 60
    now = _v(lon.flatten().tolist(), lat.flatten().tolist()).reshape(3, 4, 3)
    nxt = _v((lon + 4).flatten().tolist(), (lat - 3).flatten().tolist()).reshape(3, 4, 3)
    now[1, 2] = float("nan")  # a missing subject is left out, as in dhp_reward
    r = all_action_rewards(pos, speed, now, nxt, 41.9)
    assert r.shape == (3, 8)
    for k in range(8):
        a = torch.full((3,), k)
        want, _ = dhp_reward(move(pos, a, speed), a, now, nxt, 41.9, 41.9)
        torch.testing.assert_close(r[:, k], want)


def test_all_action_loss_is_the_exact_gradient_of_the_expected_reward() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 8, generator=gen, dtype=torch.float64, requires_grad=True)
    rewards = torch.rand(2, 3, 8, generator=gen, dtype=torch.float64)
    probs = torch.softmax(logits, -1)
    zeros = torch.zeros(2, 3, dtype=torch.float64)
    loss = all_action_policy_loss(probs, rewards, zeros, zeros, zeros, False, False)
    (grad,) = torch.autograd.grad(loss, logits)
    # d/dlogit_b of -mean sum_a pi_a r_a = -pi_b (r_b - sum_a pi_a r_a) / (N T)
    p = probs.detach()
    want = -p * (rewards - (p * rewards).sum(-1, keepdim=True)) / 6
    torch.testing.assert_close(grad, want)
    # The sampled A3C estimator -log pi(a) (r_a - rbar) has the same expectation.
    sampled = torch.zeros_like(want)
    for a in range(8):
        logp = torch.log_softmax(logits, -1)[..., a]
        adv = rewards[..., a] - (p * rewards).sum(-1)
        (g,) = torch.autograd.grad(-(logp * adv).mean(), logits)
        sampled += p[..., a : a + 1] * g
    torch.testing.assert_close(sampled, want)
    # Normalised: divided by the std of r - rbar; the future term uses the taken action only.
    loss_n = all_action_policy_loss(probs, rewards, zeros, zeros, zeros, False, True)
    scale = (rewards - (p * rewards).sum(-1, keepdim=True)).std()
    torch.testing.assert_close(loss_n, loss / scale)
    logp = torch.log_softmax(logits, -1)[..., 0]
    adv = torch.full((2, 3), 0.5, dtype=torch.float64)
    taken = rewards[..., 0]
    loss_f = all_action_policy_loss(probs, rewards, logp, adv, taken, True, False)
    fut = adv - (taken - (p * rewards).sum(-1))
    torch.testing.assert_close(loss_f, loss - (logp * fut).mean())


def test_feed_forward_agent_ignores_and_passes_the_state() -> None:
    torch.manual_seed(0)
    agent = DHPAgent(channels=2, size=42, hidden=16, recurrent=False)
    assert agent.lstm is None and agent.ff is not None
    views = torch.rand(3, 2, 42, 42)
    s0 = agent.initial_state(3)
    s1 = (torch.randn(3, 16), torch.randn(3, 16))
    out0, out1 = agent(views, s0), agent(views, s1)
    torch.testing.assert_close(out0[0], out1[0])
    torch.testing.assert_close(out0[2], out1[2])
    assert out1[3][1] is s1[1]
    assert DHPAgent(hidden=16).lstm is not None  # DHP's recurrent agent stays the default


def test_two_frame_observation_shows_the_previous_frame_from_the_same_direction() -> None:
    from pano.viewport import ViewportSampler

    gen = torch.Generator().manual_seed(1)
    bank = SimpleNamespace(frames=torch.rand(4, 1, 32, 64, generator=gen))
    sampler = ViewportSampler(fov_deg=(110, 113), size=(42, 42), mode="bilinear", antialias=True)
    pos = _v([10.0, -150.0], [5.0, -30.0]).float()
    rows, prev = torch.tensor([3, 1]), torch.tensor([2, 0])
    obs = observe(sampler, bank, pos, rows, prev)  # type: ignore[arg-type]
    assert obs.shape == (2, 2, 42, 42)
    torch.testing.assert_close(obs[:, :1], render(sampler, bank, pos, rows))  # type: ignore[arg-type]
    torch.testing.assert_close(obs[:, 1:], render(sampler, bank, pos, prev))  # type: ignore[arg-type]
    one = observe(sampler, bank, pos, rows)  # type: ignore[arg-type]
    assert one.shape == (2, 1, 42, 42)


def test_config_accepts_gamma_zero_and_the_new_options() -> None:
    cfg = TrainConfig.model_validate(
        {
            "model": {"kind": "dhp", "frames": 2, "recurrent": False},
            "rl": {"gamma": 0.0, "policy_gradient": "all_actions"},
        }
    )
    assert cfg.rl.gamma == 0.0 and cfg.model.kind == "dhp"
    with pytest.raises(ValueError):
        TrainConfig.model_validate({"rl": {"policy_gradient": "sampled_twice"}})
    with pytest.raises(ValueError):
        TrainConfig.model_validate({"model": {"kind": "dhp", "frames": 3}})


@pytest.mark.parametrize(
    ("row", "col", "action"), [(8, 32, 1), (20, 36, 2), (36, 20, 4), (8, 20, 0)]
)
def test_spatial_head_moves_toward_what_scores_high_in_the_view(
    row: int, col: int, action: int
) -> None:
    agent = DHPAgent(channels=1, size=42, hidden=8, recurrent=False, head="spatial")
    with torch.no_grad():  # two conv layers that pass the input through, a score = its value
        for conv in (agent.conv[0], agent.conv[2]):
            conv.weight.zero_()
            conv.bias.zero_()
        agent.conv[0].weight[:, 0, 1, 1] = 1.0
        agent.conv[2].weight[:, :, 1, 1] = torch.eye(32)
        agent.score.weight.fill_(1.0)
    view = torch.zeros(1, 1, 42, 42)
    view[0, 0, row, col] = 5.0  # a bright dot (0 up, 2 right, 4 down as the viewer sees it)
    logits = agent(view, agent.initial_state(1))[0]
    assert int(logits.argmax()) == action
    with pytest.raises(ShapeError):
        DHPAgent(head="round")
