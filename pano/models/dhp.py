"""Offline-DHP (Xu et al., TPAMI 2018): the agent network, its action geometry and reward.

Agent: 42x42 luma viewport -> 4 conv (32 filters, 3x3, stride 2, ELU) -> 288 features ->
LSTM(288) -> policy logits over 8 directions, state value, step size (softplus).

**Direction convention** (one definition, used by both movement and reward - the original
code mirrors longitude between the two): action ``k`` moves along the tangent direction at
angle ``k * 45°`` measured *clockwise as the viewer sees the viewport*, starting from up:
0 = up, 2 = right (longitude decreasing, since pano's +lon is LEFT), 4 = down, 6 = left.
A subject's movement direction is measured the same way, in the tangent plane at the
subject's position, so "moving in direction k" means the same thing for agent and subject.
Angles between directions wrap with ``360 - d`` (the original used ``d - 180``).

Reward (per env step, agent at ``a`` after its move, subjects ``s`` from step t to t+1):
``mean_s exp(-d_s**2 / (2 sp**2)) * exp(-dtheta_s**2 / (2 st**2))`` with ``d_s`` the
great-circle distance (degrees) from the agent to subject ``s`` at t+1 and ``dtheta_s`` the
angle between the agent's action direction and the subject's direction; ``sp = st = 41.9``
degrees by default. Subjects with a missing sample (NaN) are left out of the mean.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from pano.errors import ConfigError, ShapeError
from pano.fov import DHP_FOV
from pano.geometry import head_to_camera_axes, vec_to_lonlat
from pano.models.sphere import angle_between, exp_map, tangent_basis

N_ACTIONS = 8
SIGMA_DEG = 41.9
#: Cell-prior kinds of the spatial head (:class:`DHPAgent` ``cell_prior``) and their features.
CELL_PRIORS: dict[str, tuple[str, ...]] = {
    "none": (),
    "latitude": ("sin2lat",),
    "latitude_distance": ("sin2lat", "distance"),
}
#: The cell prior's weights enter the scores multiplied by this (Adam moves a parameter by
#: about the learning rate per update, so the prior can reach a few units of score - the
#: scale of a target's lead over the background - within a few hundred updates).
PRIOR_GAIN = 10.0


def direction_vector(p: torch.Tensor, angle_deg: torch.Tensor) -> torch.Tensor:
    """Unit tangent vectors at ``p (..., 3)`` for screen angles ``(...)`` (0 up, 90 right)."""
    up, left = tangent_basis(p)
    a = torch.deg2rad(angle_deg)[..., None]
    return torch.cos(a) * up - torch.sin(a) * left


def movement_angle_deg(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Screen angle (degrees in [0, 360), 0 up, 90 right) of the move from ``p`` to ``q``.

    Measured in the tangent plane at ``p``; NaN when ``p`` or ``q`` is NaN. A zero move
    gives angle 0 (up).
    """
    up, left = tangent_basis(p)
    d = q - p
    ang = torch.rad2deg(torch.atan2(-(d * left).sum(-1), (d * up).sum(-1)))
    return torch.remainder(ang, 360.0)


def wrap_angle_diff_deg(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Absolute difference of angles in degrees wrapped to ``[0, 180]`` (``360 - d`` rule)."""
    d = torch.remainder(a - b, 360.0)
    return torch.where(d > 180.0, 360.0 - d, d)


def move(p: torch.Tensor, action: torch.Tensor, step_deg: torch.Tensor) -> torch.Tensor:
    """Move unit vectors ``p (N, 3)`` by ``step_deg (N,)`` degrees in direction ``action (N,)``."""
    ang = action.to(p.dtype) * (360.0 / N_ACTIONS)
    t = direction_vector(p, ang)
    return exp_map(p, t * torch.deg2rad(step_deg.to(p.dtype))[..., None])


def dhp_reward(
    agent_next: torch.Tensor,
    action: torch.Tensor,
    subj_now: torch.Tensor,
    subj_next: torch.Tensor,
    sigma_pos_deg: float = SIGMA_DEG,
    sigma_dir_deg: float = SIGMA_DEG,
) -> tuple[torch.Tensor, torch.Tensor]:
    """DHP reward of a batch of agents against their videos' subjects.

    Args:
        agent_next: ``(N, 3)`` agent positions after the move.
        action: ``(N,)`` long, the direction taken.
        subj_now, subj_next: ``(N, S, 3)`` subjects at steps t and t+1 (NaN = missing).
        sigma_pos_deg, sigma_dir_deg: the Gaussians' sigmas in degrees.

    Returns:
        ``(reward (N,), weights (N, S))``: the mean reward, and each subject's term (0 for
        missing subjects), which also weights the step-size target.

    """
    if agent_next.ndim != 2 or subj_now.ndim != 3 or subj_now.shape != subj_next.shape:
        raise ShapeError(
            f"dhp_reward: agent (N, 3) and subjects (N, S, 3) expected, got "
            f"{tuple(agent_next.shape)}, {tuple(subj_now.shape)}, {tuple(subj_next.shape)}"
        )
    valid = ~(torch.isnan(subj_now).any(-1) | torch.isnan(subj_next).any(-1))  # (N, S)
    now = torch.where(valid[..., None], subj_now, torch.zeros_like(subj_now) + agent_next[:, None])
    nxt = torch.where(valid[..., None], subj_next, now)
    d = torch.rad2deg(angle_between(agent_next[:, None, :].expand_as(nxt), nxt, eps=0.0))
    subj_dir = movement_angle_deg(now, nxt)
    act_dir = action.to(d.dtype)[:, None] * (360.0 / N_ACTIONS)
    dth = wrap_angle_diff_deg(act_dir, subj_dir)
    terms = torch.exp(-(d**2) / (2 * sigma_pos_deg**2)) * torch.exp(
        -(dth**2) / (2 * sigma_dir_deg**2)
    )
    terms = terms * valid
    n = valid.sum(-1).clamp_min(1)
    return terms.sum(-1) / n, terms


def all_action_rewards(
    pos: torch.Tensor,
    speed: torch.Tensor,
    subj_now: torch.Tensor,
    subj_next: torch.Tensor,
    sigma_deg: float,
) -> torch.Tensor:
    """DHP's reward ``(N, 8)`` of every action from ``pos (N, 3)`` (world action order).

    Each action ``k`` moves ``speed (N,)`` degrees in direction ``k``
    (:func:`move`) and is scored against the subjects ``(N, S, 3)`` at
    steps t and t+1 exactly as the taken action is (:func:`dhp_reward`):
    the reward compares a move with the subjects' moves at that step, so it is known for
    the actions not taken too.

    Returns:
        ``(N, 8)``: column ``k`` is the reward of action ``k``.

    """
    n = pos.shape[0]
    act = torch.arange(N_ACTIONS, device=pos.device).repeat(n)
    p8 = pos.repeat_interleave(N_ACTIONS, 0)
    new = move(p8, act, speed.repeat_interleave(N_ACTIONS, 0))
    r, _ = dhp_reward(
        new,
        act,
        subj_now.repeat_interleave(N_ACTIONS, 0),
        subj_next.repeat_interleave(N_ACTIONS, 0),
        sigma_deg,
        sigma_deg,
    )
    return r.reshape(n, N_ACTIONS)


def subject_speed_target(
    subj_now: torch.Tensor, subj_next: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Reward-weighted mean subject speed ``(N,)`` in degrees per step (step-size target)."""
    valid = ~(torch.isnan(subj_now).any(-1) | torch.isnan(subj_next).any(-1))
    sp = torch.rad2deg(
        angle_between(torch.nan_to_num(subj_now), torch.nan_to_num(subj_next), eps=0.0)
    )
    w = weights * valid
    plain = (sp * valid).sum(-1) / valid.sum(-1).clamp_min(1)
    ws = w.sum(-1)
    return torch.where(ws > 1e-12, (w * sp).sum(-1) / ws.clamp_min(1e-12), plain)


def dihedral_view(views: torch.Tensor, g: int) -> torch.Tensor:
    """Element ``g`` (0-7) of the square's symmetry group applied to ``views (N, C, h, w)``.

    ``g % 4`` quarter turns (``torch.rot90`` over the image axes), then a left/right
    mirror when ``g >= 4``. Rows run down and columns right, as the viewer sees the view.
    """
    x = torch.rot90(views, g % 4, dims=(-2, -1))
    return torch.flip(x, dims=(-1,)) if g >= 4 else x


def dihedral_action_maps() -> torch.Tensor:
    """``(8, 8)`` long: ``maps[g, k]`` = the action seen as ``k`` in view ``dihedral_view(., g)``.

    Action ``k`` points at screen angle ``k * 45`` degrees clockwise from up, i.e. the
    (row, column) offset ``(-cos, sin)``; transforming that offset the way
    :func:`dihedral_view` moves pixels gives the transformed action. Derived by moving a
    marker pixel, so it always agrees with the image transform.
    """
    size = 9
    c = size // 2
    out = torch.zeros(8, N_ACTIONS, dtype=torch.long)
    for g in range(8):
        for k in range(N_ACTIONS):
            a = math.radians(k * 360.0 / N_ACTIONS)
            r, q = c + round(-3 * math.cos(a)), c + round(3 * math.sin(a))
            img = torch.zeros(1, 1, size, size)
            img[0, 0, r, q] = 1.0
            idx = int(dihedral_view(img, g).flatten().argmax())
            r2, q2 = divmod(idx, size)
            ang = math.degrees(math.atan2(q2 - c, -(r2 - c))) % 360.0
            out[g, k] = round(ang / (360.0 / N_ACTIONS)) % N_ACTIONS
    return out


class DHPAgent(nn.Module):
    """The offline-DHP actor-critic network.

    Args:
        channels: input channels (1 = luma, as DHP).
        size: input viewport size (DHP: 42).
        hidden: LSTM width (DHP: 288 = the conv output of a 42x42 input).
        speed_scale: the speed head outputs ``speed_scale * softplus(x)`` degrees per step.
        standardize: subtract each viewport's mean and divide by its std (+0.05) before the
            conv layers, so a target's contrast, not the scene's brightness, drives them.
        recurrent: True (DHP): an LSTM cell between the conv features and the heads.
            False: one feed-forward layer (``hidden`` units, ELU) instead, so the action
            depends on the current view only and the agent cannot learn a video's
            timeline; the state ``(h, c)`` is then passed through unchanged (zeros), so
            callers treat both kinds alike.
        head: ``"dense"`` (DHP): the policy logits are a linear layer of the features.
            ``"spatial"``: after the first two conv layers a 1x1 conv scores every cell of
            the view; the policy's logit for action ``k`` is ``beta`` times the expected
            screen offset, under the softmax of those scores, projected on direction ``k``
            - "move toward what scores high in the view", so the policy depends on where
            things are in the view, not on which video it is (value and step size keep
            the dense path).
        cell_prior: ``"none"`` (default, the head as before), ``"latitude"`` or
            ``"latitude_distance"`` (``head="spatial"`` only): a learned prior added to
            every cell's score before the softmax, ``PRIOR_GAIN * sum_f w_f * feature_f``
            with the weights ``w`` (:attr:`prior_weight`) starting at 0, so an untrained
            agent is unchanged. Features of a cell (its centre's direction on the sphere,
            from the view centre the agent is at): ``sin2lat`` = sin² of its ABSOLUTE
            latitude (0 at the equator, 1 at the poles) and ``distance`` = its angular
            distance from the view centre / 45°. The view alone does not say where it
            is, so without these the policy cannot prefer targets near the equator.
            :meth:`forward` then needs the view centres (and the per-view symmetry used
            by ``rl.augment``, so the feature map is transformed with the view).
        fov_deg: the views' field of view ``(h, v)`` degrees (only the cell prior uses it:
            the cells' directions are those of the gnomonic view).

    """

    def __init__(
        self,
        channels: int = 1,
        size: int = 42,
        hidden: int = 288,
        speed_scale: float = 1.0,
        standardize: bool = False,
        recurrent: bool = True,
        head: str = "dense",
        cell_prior: str = "none",
        fov_deg: tuple[float, float] = DHP_FOV,
    ) -> None:
        super().__init__()
        if head not in ("dense", "spatial"):
            raise ShapeError(f"DHPAgent head must be 'dense' or 'spatial', got {head!r}")
        if cell_prior not in CELL_PRIORS:
            raise ConfigError(
                f"DHPAgent cell_prior must be one of {sorted(CELL_PRIORS)}, got {cell_prior!r}"
            )
        if cell_prior != "none" and head != "spatial":
            raise ConfigError(
                f"model.cell_prior {cell_prior!r} needs model.head: spatial (got {head!r})"
            )
        self.head = head
        self.cell_prior = cell_prior
        layers: list[nn.Module] = []
        c = channels
        for _ in range(4):
            layers += [nn.Conv2d(c, 32, 3, stride=2, padding=1), nn.ELU()]
            c = 32
        self.conv = nn.Sequential(*layers)
        s = size
        for _ in range(4):
            s = (s + 1) // 2
        self.features = 32 * s * s
        self.size = int(size)
        self.channels = int(channels)
        self.hidden = int(hidden)
        self.speed_scale = float(speed_scale)
        self.standardize = bool(standardize)
        self.recurrent = bool(recurrent)
        self.lstm: nn.LSTMCell | None = None
        self.ff: nn.Linear | None = None
        if self.recurrent:
            self.lstm = nn.LSTMCell(self.features, hidden)
        else:
            self.ff = nn.Linear(self.features, hidden)
        self.policy: nn.Linear | None = nn.Linear(hidden, N_ACTIONS)
        self.value = nn.Linear(hidden, 1)
        self.speed = nn.Linear(hidden, 1)
        # Small initial policy logits: start close to uniform (as A3C's normalized init).
        nn.init.normal_(self.policy.weight, std=0.01)
        nn.init.zeros_(self.policy.bias)
        if head != "dense":
            # Only the dense head uses it: an unused parameter breaks DistributedDataParallel.
            # (Built and initialised first all the same, so the other layers' initial
            # weights do not depend on the head.)
            self.policy = None
        if head == "spatial":
            s2 = (((size + 1) // 2) + 1) // 2  # cells after two stride-2 convs
            self.score = nn.Conv2d(32, 1, 1)
            self.beta = nn.Parameter(torch.tensor(1.0))
            # offset of each cell from the view centre in half-views (rows down, cols right)
            r = (torch.arange(s2, dtype=torch.float32) - (s2 - 1) / 2) / (s2 / 2)
            a = torch.deg2rad(torch.arange(N_ACTIONS, dtype=torch.float32) * 360.0 / N_ACTIONS)
            # action k points at (row, col) = (-cos, sin): projection of every cell on it
            proj = (
                -torch.cos(a)[:, None, None] * r[None, :, None]
                + torch.sin(a)[:, None, None] * r[None, None, :]
            )
            self.register_buffer("proj", proj.flatten(1), persistent=False)  # (8, s2*s2)
            self.cells = s2
            # The cells' gnomonic image-plane offsets (right, down) in tan units: the same
            # half-view offsets r as ``proj``, times tan(fov / 2).
            tx = math.tan(math.radians(float(fov_deg[0])) / 2.0)
            ty = math.tan(math.radians(float(fov_deg[1])) / 2.0)
            rows, cols = torch.meshgrid(r * ty, r * tx, indexing="ij")
            self.register_buffer(
                "cell_plane", torch.stack([cols, rows], -1).flatten(0, 1), persistent=False
            )  # (s2*s2, 2): (right, down)
        n_feat = len(CELL_PRIORS[cell_prior])
        self.prior_weight: nn.Parameter | None = None
        if n_feat:
            # Zeros consume no random numbers: the other layers' initial weights are the
            # same as without the prior.
            self.prior_weight = nn.Parameter(torch.zeros(n_feat))

    def initial_state(
        self, n: int, device: torch.device | str = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero LSTM state ``(h, c)`` for ``n`` environments."""
        z = torch.zeros(n, self.hidden, device=device)
        return z, z.clone()

    def cell_features(self, centres: torch.Tensor, sym: torch.Tensor | None = None) -> torch.Tensor:
        """The cell prior's features ``(N, F, s2, s2)`` of views centred on ``centres``.

        Args:
            centres: ``(N, 3)`` unit vectors, the view centres (the agent's positions).
            sym: ``(N,)`` long, the element of :func:`dihedral_view` each view was
                transformed by (``rl.augment``; None = identity). The feature map is
                transformed the same way, so every cell keeps the features of the part
                of the sphere it shows.

        Returns:
            Feature ``f`` (:data:`CELL_PRIORS` order) of cell (row, column) as the agent
            sees the view (rows down, columns right): ``sin2lat`` = sin² of the latitude
            of the cell centre's direction (gnomonic view with no roll, as
            :class:`pano.viewport.ViewportSampler`), ``distance`` = its angle from the
            view centre in units of 45°.

        """
        names = CELL_PRIORS[self.cell_prior]
        if centres.ndim != 2 or centres.shape[-1] != 3:
            raise ShapeError(f"centres must have shape (N, 3), got {tuple(centres.shape)}")
        plane = self.cell_plane
        assert isinstance(plane, torch.Tensor)
        c = centres.to(plane.dtype)
        lon, lat = vec_to_lonlat(c)
        axes = head_to_camera_axes(lon, lat)  # (N, 3, 3): rows right, down, forward
        rays = (
            axes[:, None, 2]
            + plane[None, :, :1] * axes[:, None, 0]
            + plane[None, :, 1:] * axes[:, None, 1]
        )  # (N, cells, 3)
        rays = rays / rays.norm(dim=-1, keepdim=True)
        feats = []
        for name in names:
            if name == "sin2lat":
                feats.append(rays[..., 2] ** 2)
            else:
                cos = (rays * c[:, None, :]).sum(-1).clamp(-1.0, 1.0)
                feats.append(torch.rad2deg(torch.acos(cos)) / 45.0)
        n, s2 = c.shape[0], self.cells
        out = torch.stack(feats, 1).reshape(n, len(names), s2, s2)
        if sym is not None:
            if sym.shape != (n,):
                raise ShapeError(f"sym must have shape ({n},), got {tuple(sym.shape)}")
            res = out.clone()
            for g in range(1, 8):
                m = sym == g
                if bool(m.any()):
                    res[m] = dihedral_view(out[m], g)
            out = res
        return out

    def forward(
        self,
        views: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor],
        centres: torch.Tensor | None = None,
        sym: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One step for a batch of environments.

        Args:
            views: ``(N, C, size, size)`` float in ``[0, 1]``.
            state: ``(h, c)`` each ``(N, hidden)``.
            centres: ``(N, 3)`` unit vectors the views are centred on; needed (and only
                used) with a ``cell_prior``.
            sym: ``(N,)`` long, the symmetry each view was transformed by
                (:meth:`cell_features`); None = none.

        Returns:
            ``(logits (N, 8), value (N,), speed_deg (N,), new_state)``.

        """
        if views.ndim != 4 or views.shape[1] != self.channels:
            raise ShapeError(
                f"views must have shape (N, {self.channels}, h, w), got {tuple(views.shape)}"
            )
        if self.prior_weight is not None and centres is None:
            raise ShapeError(
                f"DHPAgent with cell_prior {self.cell_prior!r} needs the view centres (N, 3)"
            )
        if self.standardize:
            mu = views.mean((1, 2, 3), keepdim=True)
            sd = views.std((1, 2, 3), keepdim=True)
            views = (views - mu) / (sd + 0.05)
        early = self.conv[:4](views)
        x = self.conv[4:](early).flatten(1)
        if self.lstm is not None:
            h, c = self.lstm(x, state)
        else:
            assert self.ff is not None
            h, c = F.elu(self.ff(x)), state[1]
        speed = F.softplus(self.speed(h)).squeeze(-1) * self.speed_scale
        if self.head == "spatial":
            scores = self.score(early).flatten(1)  # (N, cells)
            if self.prior_weight is not None:
                assert centres is not None
                feats = self.cell_features(centres, sym).to(scores.dtype)
                prior = torch.einsum("nfc,f->nc", feats.flatten(2), self.prior_weight)
                scores = scores + PRIOR_GAIN * prior
            w = torch.softmax(scores, -1)  # (N, cells)
            proj = self.proj
            assert isinstance(proj, torch.Tensor)
            logits = 4.0 * self.beta * (w @ proj.T)
        else:
            assert self.policy is not None
            logits = self.policy(h)
        return logits, self.value(h).squeeze(-1), speed, (h, c)
