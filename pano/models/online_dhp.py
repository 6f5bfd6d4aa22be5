"""Online-DHP (Xu et al., TPAMI 2018, Sec. 5): per-subject online adaptation of the DHP agent.

For one subject watching one video, :class:`OnlineDHP` predicts the subject's next head
direction one ground-truth step ahead and then, when the subject's true direction at that
step arrives, updates its own copy of the network on that step before predicting the next
one. Its position is reset to the subject's true direction every step (the paper's
protocol: the prediction is always from the true current position).

One step ``t -> t+1`` (positions are pano unit vectors, x front, y left, z up):

1. :meth:`OnlineDHP.predict`: the agent sees the viewport centred on the subject's true
   direction ``p_t`` (rendered by the caller from frame ``t``), takes the most probable of
   the 8 directions (greedy) and moves by its predicted step size
   (:func:`pano.models.dhp.move`): the prediction of ``p_{t+1}``.
2. :meth:`OnlineDHP.update` with the true ``p_{t+1}``: DHP's reward of every action against
   this one subject (:func:`pano.models.dhp.dhp_reward` with ``S = 1``; all 8 are known
   once the truth has arrived) gives the policy loss ``-sum_a pi(a) r_a`` (the expected
   reward, the all-action form of the policy gradient), the step-size head is regressed on
   the subject's true step (``0.5 * MSE``, DHP's speed loss); ``iters`` Adam steps on that
   one step, the LSTM state carried over (detached) as in truncated BPTT.

The offline agent's weights are never changed: each subject gets a deep copy.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from pano.errors import ShapeError
from pano.models.dhp import SIGMA_DEG, DHPAgent, all_action_rewards, move
from pano.models.sphere import angle_between


def action_rewards(
    pos: torch.Tensor, step_deg: torch.Tensor, nxt: torch.Tensor, sigma_deg: float = SIGMA_DEG
) -> torch.Tensor:
    """DHP reward ``(N, 8)`` of each of the 8 actions from ``pos (N, 3)`` against one subject.

    The subject moves from ``pos`` (its true current direction) to ``nxt (N, 3)``; each
    action moves ``step_deg (N,)`` degrees.
    """
    if pos.shape != nxt.shape or pos.ndim != 2:
        raise ShapeError(
            f"pos and nxt must both be (N, 3), got {tuple(pos.shape)}, {tuple(nxt.shape)}"
        )
    return all_action_rewards(pos, step_deg, pos[:, None], nxt[:, None], sigma_deg)


class OnlineDHP:
    """One subject's online-adapted copy of a trained :class:`DHPAgent`.

    Args:
        agent: the offline agent (copied; its weights are not changed).
        lr: Adam learning rate of the online updates.
        iters: gradient steps per arriving true step.
        window: the last ``window`` observed steps of the subject are replayed as one
            batch in every update (each from the LSTM state it was seen with): fine-tuning
            on the subject's own recent trajectory, not only on the newest step.
        speed_coef: weight of the step-size loss (DHP: 0.5).
        sigma_deg: the reward's Gaussians (DHP: 41.9 degrees).

    """

    def __init__(
        self,
        agent: DHPAgent,
        lr: float = 1e-3,
        iters: int = 1,
        window: int = 1,
        speed_coef: float = 0.5,
        sigma_deg: float = SIGMA_DEG,
    ) -> None:
        self.net = copy.deepcopy(agent)
        self.net.train()
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.iters = int(iters)
        self.window = max(1, int(window))
        self._buf: list[tuple[torch.Tensor, ...]] = []
        self.speed_coef = float(speed_coef)
        self.sigma = float(sigma_deg)
        dev = next(self.net.parameters()).device
        self.state = self.net.initial_state(1, dev)
        self._prev_state = self.state

    @torch.no_grad()
    def predict(self, view: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Greedy next direction ``(3,)`` from the true position ``pos (3,)`` and its view.

        Args:
            view: ``(1, C, size, size)`` viewport centred on ``pos`` at this step's frame.

        """
        self._prev_state = self.state
        logits, _, speed, self.state = self.net(view, self.state, pos[None].to(view.dtype))
        action = logits.argmax(-1)
        return move(pos[None].to(logits.dtype), action, speed)[0]

    def update(self, view: torch.Tensor, pos: torch.Tensor, nxt: torch.Tensor) -> float:
        """Adapt on the step just observed (``pos -> nxt``, the subject's true directions).

        ``view`` is the viewport :meth:`predict` saw; the LSTM starts from the state before
        that prediction. Returns the last loss.
        """
        p = pos[None].to(view.dtype)
        q = nxt[None].to(view.dtype)
        true_step = torch.rad2deg(angle_between(p, q, eps=0.0))
        rew = action_rewards(p, true_step, q, self.sigma)  # (1, 8)
        h0 = (self._prev_state[0].detach(), self._prev_state[1].detach())
        self._buf.append((view, h0[0], h0[1], rew, true_step, p))
        self._buf = self._buf[-self.window :]
        views = torch.cat([b[0] for b in self._buf])
        hs = (torch.cat([b[1] for b in self._buf]), torch.cat([b[2] for b in self._buf]))
        rews = torch.cat([b[3] for b in self._buf])
        steps = torch.cat([b[4] for b in self._buf])
        centres = torch.cat([b[5] for b in self._buf])
        loss_v = 0.0
        for _ in range(self.iters):
            logits, _, speed, _ = self.net(views, hs, centres)
            pol = -(torch.softmax(logits, -1) * rews).sum(-1).mean()
            spd = 0.5 * F.mse_loss(speed, steps)
            loss = pol + self.speed_coef * spd
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            loss_v = float(loss.detach())
        with torch.no_grad():  # the state after this step, with the adapted weights
            _, _, _, new = self.net(view, h0, p)
        self.state = (new[0].detach(), new[1].detach())
        return loss_v
