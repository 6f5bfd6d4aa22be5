"""Offline-DHP training: an actor-critic over many environments stepped as ONE batch.

DHP ran one A3C worker process per training video, each spawning the ``remap`` binary once
per step to cut a single 42x42 viewport from a raw YUV file. Here all environments of a
rank live in tensors: every env step renders all agents' viewports with one
:class:`pano.viewport.ViewportSampler` call on the in-memory :class:`FrameBank`
(``frame_index`` picks each agent's frame), runs the agent once on the batch, samples the
8-way action, moves every agent on the sphere and scores every agent against all subjects
of its video at once (:func:`pano.models.dhp.dhp_reward`).

An update collects ``rl.rollout`` steps from every environment (truncated BPTT: the LSTM
state is carried over and detached between updates, as A3C does), estimates advantages
with generalized advantage estimation (:func:`generalized_advantage_estimate`, pano's own
few lines) and applies
``loss = policy + value_coef * value + speed_coef * speed - entropy_coef * entropy``
(DHP: 0.5, 0.5, 0.01). Under DDP each rank runs ``rl.envs / world`` environments and
gradients are averaged.

An episode is one pass over a video's ground-truth steps (``step_frame``), starting at a
random subject's first sample; the agent is reset (LSTM state zero) at each new episode.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pano.errors import ConfigError, InputDataError, ShapeError, StoreError
from pano.geometry import vec_to_lonlat
from pano.models.dhp import (
    DHPAgent,
    all_action_rewards,
    dhp_reward,
    dihedral_action_maps,
    dihedral_view,
    move,
    subject_speed_target,
)
from pano.pipelines.train.config import DHPModel, TrainConfig
from pano.pipelines.train.data import (
    FrameBank,
    StoreData,
    VideoData,
    random_channel_orders,
    reorder_channels,
)
from pano.pipelines.train.dist import DistInfo


def make_agent(cfg: TrainConfig) -> DHPAgent:
    """Build the DHP agent from ``cfg.model``."""
    m = cfg.model
    assert isinstance(m, DHPModel)
    return DHPAgent(
        channels=m.frames * (3 if m.color else 1),
        size=m.size,
        hidden=m.hidden,
        speed_scale=m.speed_scale,
        standardize=m.standardize,
        recurrent=m.recurrent,
        head=m.head,
        cell_prior=m.cell_prior,
        fov_deg=(m.fov_deg.h_deg, m.fov_deg.v_deg),
    )


def luma_only(cfg: TrainConfig) -> bool:
    """Whether the DHP agent of ``cfg`` sees luma (DHP) rather than RGB (``model.color``)."""
    return not (isinstance(cfg.model, DHPModel) and cfg.model.color)


def make_sampler(cfg: TrainConfig) -> Any:
    """The agent's viewport sampler (``size`` x ``size``, DHP's FoV by default)."""
    from pano.viewport import ViewportSampler

    m = cfg.model
    assert isinstance(m, DHPModel)
    return ViewportSampler(
        fov_deg=m.fov_deg, size=(m.size, m.size), mode="bilinear", antialias=True
    )


class EnvTables:
    """Per-video ground truth as padded tensors, so envs index them in one gather.

    ``subj[v, t]`` are the subjects' unit vectors ``(S_max, 3)`` at step ``t`` of video
    ``v`` (NaN = missing or padding); ``rows[v, t]`` is the bank row of that step's frame;
    ``n_steps[v]`` the number of steps.
    """

    def __init__(self, videos: list[VideoData], bank: FrameBank, device: torch.device) -> None:
        n_v = len(videos)
        t_max = max(len(v.step_frame) for v in videos)
        s_max = max(v.scan_xyz.shape[1] for v in videos)
        subj = np.full((n_v, t_max, s_max, 3), np.nan, dtype=np.float32)
        rows = np.zeros((n_v, t_max), dtype=np.int64)
        for i, v in enumerate(videos):
            t, s = v.scan_xyz.shape[:2]
            subj[i, :t, :s] = v.scan_xyz
            rows[i, :t] = bank.rows(v, v.step_frame)
        self.subj = torch.from_numpy(subj).to(device)
        self.rows = torch.from_numpy(rows).to(device)
        self.n_steps = torch.tensor([len(v.step_frame) for v in videos], device=device)
        if int(self.n_steps.min()) < 2:
            raise StoreError("a DHP video needs at least 2 ground-truth steps")

    def start_positions(self, video: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """A random valid subject's step-0 direction for each env ``(N, 3)``."""
        first = self.subj[video, 0]  # (N, S, 3)
        ok = ~torch.isnan(first).any(-1)
        w = ok.float().cpu() + 1e-12
        pick = torch.multinomial(w, 1, generator=gen).squeeze(1).to(video.device)
        pos = first[torch.arange(len(video), device=video.device), pick]
        front = torch.tensor([1.0, 0.0, 0.0], device=pos.device).expand_as(pos)
        return torch.where(torch.isnan(pos), front, pos)


def render(sampler: Any, bank: FrameBank, pos: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Viewports ``(N, 1, s, s)`` centred on ``pos (N, 3)`` from bank rows ``rows (N,)``."""
    lon, lat = vec_to_lonlat(pos.double())
    return sampler(bank.frames, lon, lat, frame_index=rows)


def observe(
    sampler: Any,
    bank: FrameBank,
    pos: torch.Tensor,
    rows: torch.Tensor,
    prev_rows: torch.Tensor | None = None,
) -> torch.Tensor:
    """The agent's observation ``(N, C, s, s)`` at ``pos (N, 3)``.

    ``C = 1``: the view of bank rows ``rows (N,)`` (DHP). With ``prev_rows (N,)``
    (``model.frames: 2``), ``C = 2``: channel 0 the current frame, channel 1 the previous
    step's frame seen from the SAME direction, rendered in one sampler call - what moved
    between the two steps shows as a difference of the channels.
    """
    if prev_rows is None:
        return render(sampler, bank, pos, rows)
    n = pos.shape[0]
    both = render(sampler, bank, torch.cat([pos, pos]), torch.cat([rows, prev_rows]))
    return torch.cat([both[:n], both[n:]], 1)


class DHPTask:
    """Actor-critic training of :class:`DHPAgent` (see the module docstring)."""

    higher_is_better = True

    def __init__(self, cfg: TrainConfig, data: StoreData, info: DistInfo) -> None:
        self.cfg = cfg
        self.data = data
        self.info = info
        self.model = make_agent(cfg).to(info.device)
        self.videos = data.train
        self.val_videos = data.val
        every = self.videos + self.val_videos
        self.bank = FrameBank(
            every,
            [v.step_frame for v in every],
            cfg.data.frame_width,
            gray=luma_only(cfg),
            device=info.device,
            backend=cfg.data.decode_backend,
        )
        self.tables = EnvTables(self.videos, self.bank, info.device)
        self.sampler = make_sampler(cfg)
        self.n_envs = max(1, cfg.rl.envs // info.world)
        assert isinstance(cfg.model, DHPModel)
        self.frames = cfg.model.frames
        self._val_heatmaps: dict[str, torch.Tensor] = {}
        # seen action = maps[g, world action]; world action = inverse[g, seen action]
        self._sym_inverse = torch.argsort(dihedral_action_maps(), dim=1).to(info.device)
        self.env: dict[str, torch.Tensor] | None = None

    # ------------------------------------------------------------------ environments

    def _reset(self, mask: torch.Tensor, gen: torch.Generator) -> None:
        env = self.env
        assert env is not None
        n = int(mask.sum())
        if n == 0:
            return
        dev = self.info.device
        vid = torch.randint(len(self.videos), (n,), generator=gen).to(dev)
        # Out of place: the old tensors may still be part of the autograd graph.
        video = env["video"].clone()
        video[mask] = vid
        pos = env["pos"].clone()
        pos[mask] = self.tables.start_positions(vid, gen)
        env["video"], env["pos"] = video, pos
        g = torch.randint(8, (n,), generator=gen).to(dev) if self.cfg.rl.augment else 0
        sym = env.get("g", torch.zeros_like(env["t"])).clone()
        sym[mask] = g
        env["g"] = sym
        if self.cfg.rl.color_augment:  # drawn only when on: other configs keep their draws
            order = env["order"].clone()
            order[mask] = random_channel_orders(n, gen).to(dev)
            env["order"] = order
        env["t"] = torch.where(mask, torch.zeros_like(env["t"]), env["t"])
        m = mask[:, None]
        env["h"] = env["h"].masked_fill(m, 0.0)
        env["c"] = env["c"].masked_fill(m, 0.0)

    def _ensure_env(self, gen: torch.Generator) -> None:
        if self.env is not None:
            return
        n, dev, hid = self.n_envs, self.info.device, self.model.hidden
        self.env = {
            "video": torch.zeros(n, dtype=torch.long, device=dev),
            "t": torch.zeros(n, dtype=torch.long, device=dev),
            "pos": torch.zeros(n, 3, device=dev),
            "h": torch.zeros(n, hid, device=dev),
            "c": torch.zeros(n, hid, device=dev),
            "g": torch.zeros(n, dtype=torch.long, device=dev),
            "order": torch.arange(3, device=dev).repeat(n, 1),
        }
        self._reset(torch.ones(n, dtype=torch.bool, device=dev), gen)

    def _observe(self) -> torch.Tensor:
        """Every env's observation at its position and step (:func:`observe`)."""
        env = self.env
        assert env is not None
        tab = self.tables
        rows = tab.rows[env["video"], env["t"]]
        prev = None
        if self.frames == 2:
            prev = tab.rows[env["video"], (env["t"] - 1).clamp_min(0)]
        return observe(self.sampler, self.bank, env["pos"], rows, prev)

    def _augment(self, views: torch.Tensor) -> torch.Tensor:
        """Each env's views under its episode's symmetry ``env["g"]`` and colour order.

        ``rl.augment``: the symmetry of the square ``env["g"]``; ``rl.color_augment``: the
        RGB channel order ``env["order"]`` (each off: identity).
        """
        env = self.env
        assert env is not None
        if self.cfg.rl.color_augment:
            views = reorder_channels(views, env["order"])
        if not self.cfg.rl.augment:
            return views
        out = views.clone()
        for g in range(1, 8):
            m = env["g"] == g
            if bool(m.any()):
                out[m] = dihedral_view(views[m], g)
        return out

    # ------------------------------------------------------------------ one update

    def loss(
        self, module: nn.Module, update: int, gen: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Collect ``rl.rollout`` steps from every env and return the actor-critic loss."""
        rl = self.cfg.rl
        self._ensure_env(gen)
        env = self.env
        assert env is not None
        tab = self.tables
        state = (env["h"].detach(), env["c"].detach())
        logps, ents, values, speeds, speed_tgt, rewards, dones = [], [], [], [], [], [], []
        all_actions = rl.policy_gradient == "all_actions"
        probs: list[torch.Tensor] = []
        r_seen: list[torch.Tensor] = []
        for _ in range(rl.rollout):
            views = self._augment(self._observe())
            logits, value, speed, state = module(views, state, env["pos"], env["g"])
            dist = torch.distributions.Categorical(logits=logits)
            u = torch.rand(logits.shape[0], generator=gen).to(logits.device)
            seen = torch.searchsorted(torch.cumsum(dist.probs.detach(), -1), u[:, None]).squeeze(1)
            seen = seen.clamp_max(logits.shape[1] - 1)
            action = self._sym_inverse[env["g"], seen]  # the move in the world
            with torch.no_grad():
                new_pos = move(env["pos"], action, speed.detach())
                now = tab.subj[env["video"], env["t"]]
                nxt = tab.subj[env["video"], env["t"] + 1]
                r, w = dhp_reward(new_pos, action, now, nxt, rl.sigma_deg, rl.sigma_deg)
                target = subject_speed_target(now, nxt, w)
                if all_actions:  # every action's reward, in the order the agent sees them
                    r_world = all_action_rewards(env["pos"], speed.detach(), now, nxt, rl.sigma_deg)
                    r_seen.append(torch.gather(r_world, 1, self._sym_inverse[env["g"]]))
            if all_actions:
                probs.append(dist.probs)
            logps.append(dist.log_prob(seen))
            ents.append(dist.entropy())
            values.append(value)
            speeds.append(speed)
            speed_tgt.append(target)
            rewards.append(r)
            env["pos"] = new_pos
            env["t"] = env["t"] + 1
            done = env["t"] >= tab.n_steps[env["video"]] - 1
            dones.append(done)
            if bool(done.any()):
                keep = (~done).to(state[0].dtype)[:, None]
                state = (state[0] * keep, state[1] * keep)  # new episodes start from zero
                self._reset(done, gen)
        with torch.no_grad():
            _, boot, _, _ = module(self._augment(self._observe()), state, env["pos"], env["g"])
        env["h"], env["c"] = state[0].detach(), state[1].detach()
        v = torch.stack(values, 1)  # (N, T)
        rew = torch.stack(rewards, 1)
        don = torch.stack(dones, 1)
        next_v = torch.cat([v[:, 1:].detach(), boot[:, None]], 1)
        adv, ret = generalized_advantage_estimate(
            rew, v.detach(), next_v, don, rl.gamma, rl.gae_lambda
        )
        logp = torch.stack(logps, 1)
        ent = torch.stack(ents, 1)
        adv = adv.detach()
        if all_actions:
            pol_loss = all_action_policy_loss(
                torch.stack(probs, 1), torch.stack(r_seen, 1), logp, adv, rew,
                rl.gamma > 0, rl.normalize_advantage,
            )  # fmt: skip
        else:
            if rl.normalize_advantage:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            pol_loss = -(logp * adv).mean()
        val_loss = 0.5 * F.mse_loss(v, ret.detach())
        spd = torch.stack(speeds, 1)
        spd_loss = 0.5 * F.mse_loss(spd, torch.stack(speed_tgt, 1))
        loss = (
            pol_loss
            + rl.value_coef * val_loss
            + rl.speed_coef * spd_loss
            - rl.entropy_coef * ent.mean()
        )
        return loss, {
            "train/reward": float(rew.mean()),
            "train/policy_loss": float(pol_loss.detach()),
            "train/value_loss": float(val_loss.detach()),
            "train/speed_loss": float(spd_loss.detach()),
            "train/entropy": float(ent.mean().detach()),
            "train/speed_deg": float(spd.mean().detach()),
        }

    # ------------------------------------------------------------------ rollouts / validation

    @torch.no_grad()
    def rollouts(
        self, model: DHPAgent, video: VideoData, n: int, gen: torch.Generator
    ) -> torch.Tensor:
        """``n`` stochastic rollouts over ``video``: positions ``(steps, n, 3)`` (float64).

        The policy as trained (temperature 1): validation does not depend on ``predict.*``
        beyond ``floor``, so the prediction-time options never change which checkpoint
        is chosen.
        """
        return rollout_video(model, self.sampler, self.bank, video, n, gen, self.info.device)

    def validate(self, model: nn.Module) -> tuple[float | None, dict[str, float]]:
        """Mean heatmap CC of stochastic rollouts on the validation videos (higher is better)."""
        if not self.val_videos:
            return None, {}
        assert isinstance(model, DHPAgent)
        hp = self.data.root_attrs.heatmap  # the store's (predict.sigma_deg checked against it)
        gen = torch.Generator().manual_seed(self.cfg.seed + 104729)
        ccs = []
        for v in self.val_videos:
            if v.name not in self._val_heatmaps:
                from pano.stores import open_video

                gt = open_video(self.data.location, v.name)["heatmap"].values
                self._val_heatmaps[v.name] = torch.from_numpy(np.asarray(gt, dtype=np.float64))
            pos = self.rollouts(model, v, self.cfg.rl.val_rollouts, gen)
            pred = rollout_heatmaps(pos, hp, self.cfg.predict.floor)
            ccs.append(float(pearson_cc(pred, self._val_heatmaps[v.name]).mean()))
        cc = float(np.mean(ccs))
        return cc, {"val/heatmap_cc": cc}

    def extra_state(self) -> dict[str, Any]:
        """The environments' state (gathered from every rank by the trainer)."""
        if self.env is None:
            return {}
        return {k: t.detach().cpu().clone() for k, t in self.env.items()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`extra_state` (this rank's slice)."""
        if state:
            self.env = {k: t.to(self.info.device) for k, t in state.items()}
            self.env.setdefault("g", torch.zeros_like(self.env["t"]))
            # A checkpoint from before rl.color_augment: every episode in the true colours.
            self.env.setdefault(
                "order", torch.arange(3, device=self.info.device).repeat(len(self.env["t"]), 1)
            )


def all_action_policy_loss(
    probs: torch.Tensor,
    rewards: torch.Tensor,
    logp: torch.Tensor,
    advantage: torch.Tensor,
    taken_reward: torch.Tensor,
    future: bool,
    normalize: bool,
) -> torch.Tensor:
    """The expected ("all-action") policy-gradient loss over rollouts.

    ``-mean_{env,t} sum_a pi(a|s_t) (r(s_t, a) - rbar_t)`` with ``rbar_t = sum_a pi(a|s_t)
    r(s_t, a)`` (detached; it does not change the gradient, sum_a grad pi = 0), i.e. the
    exact gradient of the expected immediate reward instead of A3C's one-sample estimate
    ``log pi(a_t) * A_t``. With ``future`` (gamma > 0) the part of the GAE advantage that
    the immediate rewards do not explain, ``A_t - (r_t - rbar_t)``, is added as a sampled
    term ``-log pi(a_t) * (A_t - r_t + rbar_t)`` (known for the taken action only).

    Args:
        probs: ``(N, T, 8)`` the policy (with gradient).
        rewards: ``(N, T, 8)`` every action's immediate reward, in the policy's order.
        logp: ``(N, T)`` log-probability of the taken action (with gradient).
        advantage: ``(N, T)`` GAE advantage of the taken action (detached).
        taken_reward: ``(N, T)`` reward of the taken action.
        future: add the sampled future term.
        normalize: divide by the standard deviation of ``r - rbar`` over the update, so
            the step size does not depend on the reward's scale.

    """
    rbar = (probs.detach() * rewards).sum(-1, keepdim=True)
    adv_all = rewards - rbar
    scale = adv_all.std() + 1e-8 if normalize else torch.ones((), device=probs.device)
    loss = -((probs * adv_all).sum(-1) / scale).mean()
    if future:
        fut = advantage - (taken_reward - rbar.squeeze(-1))
        loss = loss - (logp * fut / scale).mean()
    return loss


def generalized_advantage_estimate(
    reward: torch.Tensor,
    value: torch.Tensor,
    next_value: torch.Tensor,
    done: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized advantage estimation (Schulman et al., ICLR 2016) over rollouts.

    Time is the LAST dimension: every tensor has shape ``(..., T)`` (e.g. ``(N envs, T
    steps)``), ``done`` is bool. With ``m_t = 1 - done_t`` (``done_t``: the episode ended
    with the step ``t``, so nothing after it belongs to the same episode)::

        delta_t = reward_t + gamma * m_t * next_value_t - value_t
        A_t     = delta_t + gamma * lam * m_t * A_{t+1},      A_T = 0
        return_t = A_t + value_t                           (the critic's target)

    ``next_value_t`` is the value of the state after step ``t``: ``value_{t+1}`` inside
    the rollout and a bootstrap value ``V(s_T)`` for the last step, so a rollout cut off
    before its episode ends (truncated BPTT) is continued by the critic, while a ``done``
    step neither bootstraps nor looks past the end of its episode. Equivalently ``A_t =
    sum_l (gamma lam)^l delta_{t+l}`` summed up to the end of the episode or the rollout.
    ``lam = 1`` gives the discounted return minus ``value``, ``lam = 0`` the one-step TD
    error. The arithmetic (order of operations, float32 factors) is the same as TorchRL's
    ``generalized_advantage_estimate`` with ``terminated = done``, which pano used before.

    Returns:
        ``(advantage, returns)``, each ``(..., T)`` in ``value``'s dtype. No gradient
        flows through the recursion's inputs other than as given (pass detached values).

    Raises:
        ShapeError: the four tensors do not share one shape ``(..., T)``.

    """
    shapes = {tuple(t.shape) for t in (reward, value, next_value, done)}
    if len(shapes) != 1 or reward.ndim < 1:
        raise ShapeError(
            "generalized_advantage_estimate: reward, value, next_value and done must share "
            f"one shape (..., T); got {sorted(shapes)}"
        )
    keep = (~done.bool()).to(value.dtype)
    delta = reward + (gamma * keep) * next_value - value
    discount = (lam * gamma) * keep
    advantage = torch.empty_like(delta)
    prev = torch.zeros_like(delta[..., 0])
    for t in reversed(range(delta.shape[-1])):
        prev = advantage[..., t] = delta[..., t] + prev * discount[..., t]
    return advantage, advantage + value


def rollout_heatmaps(
    pos: torch.Tensor,
    params: Any,
    floor: float = 0.0,
    prior: torch.Tensor | None = None,
    kernel_deg: float | None = None,
) -> torch.Tensor:
    """Heatmaps ``(steps, H, W)`` of rollout positions ``pos (steps, n, 3)``.

    The rollouts are summed with :func:`pano.heatmaps.heatmaps_for` and the store's
    heatmap parameters (sigma, grid, normalisation); with ``floor > 0`` each map is then
    mixed with a uniform density on the sphere holding ``floor`` of its mass (the map as a
    probability mass ``m / sum(m)`` under the store's pixel grid - a constant map is
    uniform on the sphere in pano's solid-angle weighting) and brought back to the
    store's normalisation. A finite number of rollouts leaves most of the sphere at
    exactly zero, which KL divergence scores as ``log(1 / eps)`` ~ 36 nats per unit of
    ground-truth mass there; the floor is the prior for "somewhere else". CC, NSS and the
    AUCs are unchanged by a uniform floor (affine in each map). ``prior``: an ``(H, W)``
    probability mass on the store's grid (sums to 1, e.g. :func:`latitude_prior`) that the
    floor is spread by instead of uniformly (then CC and the AUCs do depend on it).
    ``kernel_deg``: the great-circle Gaussian width (degrees) of each rollout point, a
    density-estimation bandwidth for the few rollouts (None = the store's ``sigma_deg``,
    the ground truth's kernel); grid and normalisation stay the store's.
    """
    from pano.heatmaps import heatmaps_for

    if kernel_deg is not None and kernel_deg != params.sigma_deg:
        params = type(params)(**{**params.model_dump(), "sigma_deg": float(kernel_deg)})
    maps = heatmaps_for(pos, params)
    if floor <= 0.0:
        return maps
    h, w = maps.shape[-2:]
    m = maps / maps.sum((-2, -1), keepdim=True).clamp_min(1e-300)
    base = torch.full((h, w), 1.0 / (h * w), dtype=m.dtype) if prior is None else prior
    if base.shape != (h, w):
        raise ShapeError(f"rollout_heatmaps: prior {tuple(base.shape)} != map grid {(h, w)}")
    m = (1.0 - floor) * m + floor * base.to(m)
    if params.normalize == "max":
        return m / m.amax((-2, -1), keepdim=True)
    if params.normalize == "sum":
        return m
    return m * maps.sum((-2, -1), keepdim=True)


def latitude_prior(location: str, videos: list[str], params: Any) -> torch.Tensor:
    """The equator-bias density of ``videos``' head latitudes as a floor prior ``(H, W)``.

    :func:`pano.baselines.equator_bias_map` (the ``equator`` baseline of ``pano eval``:
    longitude-averaged great-circle Gaussians with the store's ``sigma_deg`` at every head
    sample's latitude, degrees, +UP) fitted on ``videos`` (pass TRAINING videos only),
    normalised to a probability mass summing to 1 over the store's heatmap grid.

    Raises:
        InputDataError: the videos have no valid head latitude.

    """
    from pano.baselines import equator_bias_map
    from pano.stores import open_root, read_video_array

    root = open_root(location)
    lat = [
        np.asarray(read_video_array(root, v, "scanpath"), dtype=np.float64)[..., 1].ravel()
        for v in videos
    ]
    m = equator_bias_map(
        np.concatenate(lat) if lat else np.zeros(0),
        params.height,
        params.width,
        params.sigma_deg,
    )
    return torch.from_numpy(m / m.sum())


def lonlat_prior(
    location: str, videos: list[str], params: Any, sigma_deg: float | None = None
) -> torch.Tensor:
    """The head-direction density of ``videos`` on the sphere as a prior ``(H, W)``.

    Every valid head point of the videos' ground-truth step grid (``scanpath``: every
    subject at every step) contributes a great-circle Gaussian of ``sigma_deg`` (None =
    the store's, the ground truth's kernel) on the store's grid; the sum is normalised to
    a probability mass summing to 1. Unlike :func:`latitude_prior` it keeps the
    longitude (the front-centre bias of where the subjects start and look). Pass
    TRAINING videos only.

    Raises:
        InputDataError: the videos have no valid head point.

    """
    from pano.geometry import lonlat_to_vec
    from pano.heatmaps import heatmaps_for
    from pano.stores import open_root, read_video_array

    root = open_root(location)
    ll = [
        np.asarray(read_video_array(root, v, "scanpath"), dtype=np.float64).reshape(-1, 2)
        for v in videos
    ]
    pts = np.concatenate(ll) if ll else np.zeros((0, 2))
    pts = pts[np.isfinite(pts).all(1)]
    if not len(pts):
        raise InputDataError(f"lonlat_prior: no valid head point in {videos} to fit the prior on")
    sigma = params.sigma_deg if sigma_deg is None else float(sigma_deg)
    hp = type(params)(**{**params.model_dump(), "sigma_deg": sigma, "normalize": "sum"})
    xyz = torch.from_numpy(np.asarray(lonlat_to_vec(pts[:, 0], pts[:, 1]), dtype=np.float64))
    m = heatmaps_for(xyz[None], hp)[0]
    return m / m.sum()


def head_prior(
    location: str, videos: list[str], params: Any, kind: str, sigma_deg: float | None = None
) -> torch.Tensor:
    """The prior ``(H, W)`` (a probability mass) named by ``predict.floor_prior``.

    ``latitude``: :func:`latitude_prior`; ``lonlat``: :func:`lonlat_prior` (``sigma_deg``
    its kernel); ``uniform``: constant on the grid (uniform on the sphere in pano's
    solid-angle weighting). Fitted on ``videos`` (TRAINING videos only).

    Raises:
        ConfigError: an unknown ``kind``.

    """
    if kind == "latitude":
        return latitude_prior(location, videos, params)
    if kind == "lonlat":
        return lonlat_prior(location, videos, params, sigma_deg)
    if kind == "uniform":
        return torch.full(
            (params.height, params.width), 1.0 / (params.height * params.width), dtype=torch.float64
        )
    raise ConfigError(f"predict.floor_prior {kind!r}: use uniform, latitude or lonlat")


def pearson_cc(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Plain (unweighted, DHP) Pearson CC per map of ``(S, H, W)`` stacks ``(S,)``."""
    p = pred.flatten(1).double()
    g = gt.flatten(1).double()
    p = p - p.mean(1, keepdim=True)
    g = g - g.mean(1, keepdim=True)
    den = (p.norm(dim=1) * g.norm(dim=1)).clamp_min(1e-300)
    return (p * g).sum(1) / den


def sample_action(logits: torch.Tensor, u: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Actions ``(N,)`` drawn from ``softmax(logits (N, A) / temperature)`` by inverse CDF.

    ``u (N,)`` are uniform draws in ``[0, 1)``; ``temperature`` < 1 sharpens the policy
    (toward its most likely action), > 1 flattens it (toward uniform).
    """
    probs = torch.softmax(logits / temperature, -1)
    cdf = torch.cumsum(probs, -1)
    return torch.searchsorted(cdf, u[:, None]).squeeze(1).clamp_max(logits.shape[-1] - 1)


@torch.no_grad()
def rollout_video(
    model: DHPAgent,
    sampler: Any,
    bank: FrameBank,
    video: VideoData,
    n: int,
    gen: torch.Generator,
    device: torch.device,
    temperature: float = 1.0,
) -> torch.Tensor:
    """``n`` stochastic rollouts of ``model`` over ``video`` as one batch: ``(steps, n, 3)``.

    Each rollout starts at a random subject's first sample (DHP's test protocol), samples
    its direction from the policy (its logits divided by ``temperature``: < 1 sharper,
    > 1 broader; 1 = the policy as trained) and moves by the predicted step size.
    """
    was = model.training
    model.eval()
    steps = len(video.step_frame)
    scan = torch.from_numpy(video.scan_xyz).float().to(device)  # (T, S, 3)
    first = scan[0]
    ok = ~torch.isnan(first).any(-1)
    if not bool(ok.any()):
        first = torch.tensor([[1.0, 0.0, 0.0]], device=device)
        ok = torch.ones(1, dtype=torch.bool, device=device)
    pick = torch.multinomial(ok.float().cpu(), n, replacement=True, generator=gen).to(device)
    pos = first[pick]
    rows = torch.from_numpy(bank.rows(video, video.step_frame)).to(device)
    state = model.initial_state(n, device)
    out = torch.empty(steps, n, 3, dtype=torch.float64)
    out[0] = pos.double().cpu()
    two = model.channels != bank.channels  # model.frames: 2
    for t in range(steps - 1):
        prev = rows[max(t - 1, 0)].expand(n) if two else None
        views = observe(sampler, bank, pos, rows[t].expand(n), prev)
        logits, _, speed, state = model(views, state, pos)
        u = torch.rand(n, generator=gen).to(device)
        action = sample_action(logits, u, temperature)
        pos = move(pos, action, speed)
        out[t + 1] = pos.double().cpu()
    model.train(was)
    return out
