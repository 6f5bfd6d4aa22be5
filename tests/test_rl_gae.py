"""pano's generalized advantage estimation (the DHP actor-critic's advantages)."""

from __future__ import annotations

import pytest
import torch

from pano.errors import ShapeError
from pano.pipelines.train.rl import generalized_advantage_estimate


def _textbook(
    reward: list[float],
    value: list[float],
    next_value: list[float],
    done: list[bool],
    gamma: float,
    lam: float,
) -> list[float]:
    """A_t = sum_l (gamma lam)^l delta_{t+l}, summed to the end of the episode or rollout."""
    n = len(reward)
    delta = [reward[t] + gamma * (0.0 if done[t] else next_value[t]) - value[t] for t in range(n)]
    out = []
    for t in range(n):
        a, k = 0.0, t
        while k < n:
            a += (gamma * lam) ** (k - t) * delta[k]
            if done[k]:
                break
            k += 1
        out.append(a)
    return out


def test_hand_computed_values() -> None:
    # gamma = lam = 0.5, values 1, bootstrap value 4 after the last step:
    # delta = [1 + .5 - 1, 2 + .5 - 1, 3 + .5 * 4 - 1] = [0.5, 1.5, 4]
    # A_2 = 4, A_1 = 1.5 + .25 * 4 = 2.5, A_0 = 0.5 + .25 * 2.5 = 1.125.
    r = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    v = torch.ones(1, 3, dtype=torch.float64)
    nv = torch.tensor([[1.0, 1.0, 4.0]], dtype=torch.float64)
    not_done = torch.zeros(1, 3, dtype=torch.bool)
    adv, ret = generalized_advantage_estimate(r, v, nv, not_done, 0.5, 0.5)
    assert adv.tolist() == [[1.125, 2.5, 4.0]]
    assert ret.tolist() == [[2.125, 3.5, 5.0]]
    # The episode ends with step 1: it neither bootstraps nor sees step 2.
    # delta_1 = 2 + 0 - 1 = 1, A_1 = 1, A_0 = 0.5 + .25 * 1 = 0.75; A_2 unchanged.
    done = torch.tensor([[False, True, False]])
    adv, _ = generalized_advantage_estimate(r, v, nv, done, 0.5, 0.5)
    assert adv.tolist() == [[0.75, 1.0, 4.0]]


def test_matches_the_textbook_sum_on_random_rollouts() -> None:
    gen = torch.Generator().manual_seed(3)
    for trial in range(50):
        n_env, steps = 3, int(torch.randint(1, 12, (1,), generator=gen))
        r = torch.randn(n_env, steps, generator=gen, dtype=torch.float64)
        v = torch.randn(n_env, steps, generator=gen, dtype=torch.float64)
        nv = torch.randn(n_env, steps, generator=gen, dtype=torch.float64)
        d = torch.rand(n_env, steps, generator=gen) < 0.25
        gamma, lam = (0.99, 1.0) if trial % 2 else (0.9, 0.7)
        adv, ret = generalized_advantage_estimate(r, v, nv, d, gamma, lam)
        for e in range(n_env):
            want = _textbook(
                r[e].tolist(), v[e].tolist(), nv[e].tolist(), d[e].tolist(), gamma, lam
            )
            torch.testing.assert_close(adv[e], torch.tensor(want, dtype=torch.float64))
        torch.testing.assert_close(ret, adv + v)


def test_lambda_limits() -> None:
    gen = torch.Generator().manual_seed(5)
    r, v, nv = (torch.randn(2, 6, generator=gen, dtype=torch.float64) for _ in range(3))
    d = torch.zeros(2, 6, dtype=torch.bool)
    # lam = 0: the one-step TD error.
    adv, _ = generalized_advantage_estimate(r, v, nv, d, 0.9, 0.0)
    torch.testing.assert_close(adv, r + 0.9 * nv - v)
    # lam = 1: the discounted return (bootstrapped by the last next_value) minus the value,
    # when next_value is the next step's value inside the rollout (as in training).
    nv = torch.cat([v[:, 1:], nv[:, -1:]], 1)
    adv, ret = generalized_advantage_estimate(r, v, nv, d, 0.9, 1.0)
    g = nv[:, -1]
    for t in reversed(range(6)):
        g = r[:, t] + 0.9 * g
        torch.testing.assert_close(ret[:, t], g)


def test_dtype_kept_and_shapes_checked() -> None:
    r = torch.ones(4, 5)
    adv, ret = generalized_advantage_estimate(r, r, r, torch.zeros(4, 5, dtype=torch.bool), 0.99, 1)
    assert adv.dtype == ret.dtype == torch.float32 and adv.shape == (4, 5)
    with pytest.raises(ShapeError, match="one shape"):
        generalized_advantage_estimate(r, r[:, :4], r, torch.zeros(4, 5, dtype=torch.bool), 0.9, 1)
