"""Saliency-driven forecasters: the saliency of the frame at every horizon step, tracked.

Both models here take, besides the history, one **saliency map per step** ``k = 0 .. H``
(0 = the origin sample's frame, ``k`` = the frame shown ``k / rate`` seconds later: the
video is known in advance, as in TRACK). The maps are equirectangular (ERP) in the world
frame, ``(B, H + 1, h, w)``, non-negative; row 0 is the north pole, column 0 is lon
``+180 - 180 / w`` (pano's ERP convention, :func:`pano.geometry.erp_grid_lonlat`). They come
from the frames (:func:`frame_saliency`) or, as TRACK's ablation, from the ground truth
(every subject's head at that time: an **upper bound**, not a forecast).

:class:`SaliencyTracker` follows the salient thing nearest the head through the maps: at
step 0 the posterior of "where is the salient thing" is the saliency times a von
Mises-Fisher prior centred on the head (origin sample); at step ``k`` the prior is centred
on the tracker's step ``k - 1`` position. Positions are the posterior's mean direction, so
nothing breaks at the ±180° seam or the poles. The tracker's path, in the head frame of the
origin (tangent angles left, up; radians), is what the forecasters see.

Several trackers may run, seeded at the head and ``s`` steps ahead of it along its last
increment (``seeds``): a pursuing head lags its target by 0.3-0.75 s.

Both forecasters output, per horizon step ``k`` (head-frame tangent offsets, radians),
``w_k * tracker_k + lstm_k``: ``tracker_k`` is the trackers' path lagged by a learned mix of
0..``max_lag`` steps and mixed over the seeds by learned, confidence-dependent weights;
``w_k`` is a learned, confidence-dependent trust (starting near 1); ``lstm_k`` is the
decoder's correction (zero-initialised). So an untrained model follows the salient thing
nearest the head, and training learns when and how much to depart from it.

* :class:`SaliencyForecaster` (``saliency``): the position-only seq2seq LSTM whose decoder
  gets the trackers' features at every step.
* :class:`TrackForecaster` (``track``, TRACK-like): separate recurrent branches - the
  position encoder/decoder and a saliency LSTM over the trackers' features - fused by a
  third LSTM that emits the increments.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from pano.errors import ParameterError, ShapeError
from pano.geometry import erp_grid_lonlat, erp_row_solid_angle, lonlat_to_vec
from pano.models.seq2seq import Seq2SeqForecaster, history_features
from pano.models.sphere import from_frame, front_exp, front_log, to_frame, unit

#: Gain of the mixing parameters (trust per step, lag mix, seed mix): their effective
#: learning rate is this times the optimiser's.
MIX_GAIN = 50.0

#: What the trusted tracker path is mixed with: ``none`` (forecast = w * tracker + correction)
#: or ``velocity`` (forecast = (1 - w) * the head's own damped motion + w * tracker +
#: correction, w starting as a ramp over the horizon).
BASES = ("none", "velocity")

#: ``base="velocity"``: the motion term starts as constant velocity damped by this per step.
VELOCITY_DAMPING = 0.1

#: ``base="velocity"``: trust in the tracker starts at ``k / TRUST_RAMP`` at step ``k``.
TRUST_RAMP = 15.0

#: Per-step tracker features fed to the decoders: offset (left, up), increment (left, up),
#: confidence, and the step-0 offset (left, up).
TRACK_FEATURES = 7


def frame_saliency(frames: torch.Tensor) -> torch.Tensor:
    """Content saliency of RGB frames: colour saturation times brightness, ``(N, h, w)``.

    A bottom-up stand-in for a learned saliency model (TRACK uses PanoSalNet): a pixel is
    salient when it is both saturated (``max - min`` over RGB) and bright (``max``). It is
    computed from the frames alone - no head data - so it is an honest input.

    Args:
        frames: ``(N, 3, h, w)`` float RGB in ``[0, 1]``.

    Returns:
        ``(N, h, w)`` float in ``[0, 1]``.

    Raises:
        ShapeError: ``frames`` is not ``(N, 3, h, w)``.

    """
    if frames.ndim != 4 or frames.shape[1] != 3:
        raise ShapeError(f"frames must have shape (N, 3, h, w), got {tuple(frames.shape)}")
    mx = frames.amax(1)
    mn = frames.amin(1)
    return (mx - mn) * mx


def scale_latitude(xyz: torch.Tensor, gain: torch.Tensor | float) -> torch.Tensor:
    """Unit vectors ``(..., 3)`` with their latitude multiplied by ``gain``, longitude kept.

    Latitude = ``atan2(z, hypot(x, y))`` (radians, positive up, canonical frame); differentiable
    in ``gain``. A vector at a pole keeps an arbitrary longitude (x, y both ~0 give +x).
    """
    horiz = xyz[..., :2]
    rho = horiz.norm(dim=-1, keepdim=True)
    lat = torch.atan2(xyz[..., 2:3], rho) * gain
    dirn = torch.where(rho > 1e-9, horiz / rho.clamp_min(1e-9), torch.zeros_like(horiz))
    dirn = torch.where(
        rho > 1e-9, dirn, torch.tensor([1.0, 0.0], dtype=xyz.dtype, device=xyz.device)
    )
    return torch.cat([dirn * torch.cos(lat), torch.sin(lat)], -1)


def erp_pixel_vectors(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors ``(h * w, 3)`` of an ERP grid's pixel centres and their solid angles (sr)."""
    lon, lat = erp_grid_lonlat(width, height)
    vec = lonlat_to_vec(lon[None, :], lat[:, None]).reshape(-1, 3)
    area = np.repeat(erp_row_solid_angle(width, height), width)
    return vec, area


def gt_saliency(heads: np.ndarray, height: int, width: int, sigma_deg: float) -> np.ndarray:
    """Ground-truth saliency: a Gaussian of great-circle distance around every valid head.

    Args:
        heads: ``(S, T, 3)`` unit vectors (NaN = missing) - every subject at every sample.
        height, width: ERP grid size.
        sigma_deg: Gaussian width in degrees (the store's heatmap sigma).

    Returns:
        ``(T, height, width)`` float32, each map's maximum scaled to 1 (all-zero where no
        subject is valid). Includes the subject being predicted: an **upper bound** input.

    """
    vec, _ = erp_pixel_vectors(height, width)
    t_n = heads.shape[1]
    out = np.zeros((t_n, height * width), dtype=np.float64)
    s2 = 2.0 * math.radians(sigma_deg) ** 2
    for t in range(t_n):
        h = heads[:, t]
        h = h[~np.isnan(h).any(-1)]
        if not len(h):
            continue
        ang = np.arccos(np.clip(vec @ h.T, -1.0, 1.0))  # (P, S)
        m = np.exp(-(ang**2) / s2).sum(1)
        out[t] = m / m.max()
    return out.reshape(t_n, height, width).astype(np.float32)


class SaliencyTracker(nn.Module):
    """Follow the salient thing nearest the head through per-step ERP saliency maps.

    Not trained (no parameters, no gradient): its widths are fixed, so its cost is one
    forward pass per window. At step 0 the prior is a von Mises-Fisher bump of width
    ``start_sigma_deg`` around the head; at step ``k`` one of width ``sigma_deg`` around the
    tracker's step ``k - 1`` position (the synthetic targets move at most 8 deg per 0.2 s).

    Args:
        size: ``(h, w)`` of the maps.
        start_sigma_deg: width of the step-0 prior around the head (degrees).
        sigma_deg: width of the step-to-step prior (degrees).
        sharpness: the map enters as ``saliency ** sharpness`` (after scaling its maximum
            to 1): above 1, small bright things outweigh large, dimmer regions.

    """

    pix: torch.Tensor
    log_area: torch.Tensor

    def __init__(
        self,
        size: tuple[int, int],
        start_sigma_deg: float = 25.0,
        sigma_deg: float = 15.0,
        sharpness: float = 1.0,
    ) -> None:
        super().__init__()
        if not sharpness > 0:
            raise ParameterError(f"sharpness must be > 0, got {sharpness}")
        self.sharpness = float(sharpness)
        vec, area = erp_pixel_vectors(*size)
        self.size = (int(size[0]), int(size[1]))
        self.register_buffer("pix", torch.from_numpy(vec).float(), persistent=False)
        self.register_buffer("log_area", torch.from_numpy(np.log(area)).float(), persistent=False)
        self.kappa = (math.radians(start_sigma_deg) ** -2, math.radians(sigma_deg) ** -2)

    @torch.no_grad()
    def forward(
        self, saliency: torch.Tensor, start: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Track through ``saliency (B, K, h, w)`` from unit vectors ``start (B, 3)``.

        Returns:
            ``(centres (B, K, 3) unit vectors, confidence (B, K))``: the confidence is the log
            of the map's mass under the prior (``<= 0``; 0 = all saliency at the prior's peak).

        """
        if tuple(saliency.shape[2:]) != self.size:
            raise ShapeError(f"saliency maps must be {self.size}, got {tuple(saliency.shape[2:])}")
        p = saliency.flatten(2).to(start.dtype)
        p = p / p.amax(-1, keepdim=True).clamp_min(1e-6)
        logp = self.sharpness * torch.log(p + 1e-3) + self.log_area
        logp = logp - torch.logsumexp(logp, -1, keepdim=True)
        pix = self.pix.to(start.dtype)
        c = start
        centres, conf = [], []
        for i in range(saliency.shape[1]):
            lw = logp[:, i] + self.kappa[min(i, 1)] * (c @ pix.T - 1.0)  # (B, P)
            c = unit(torch.softmax(lw, -1) @ pix)
            centres.append(c)
            conf.append(torch.logsumexp(lw, -1))
        return torch.stack(centres, 1), torch.stack(conf, 1)


class _SaliencyBase(Seq2SeqForecaster):
    """Shared parts: the trackers, their head-frame features and the lagged, trusted path."""

    needs_viewports = True
    input_kind = "saliency"

    def __init__(
        self,
        history: int,
        horizon: int,
        hidden: int,
        layers: int,
        scale: float,
        dropout: float,
        saliency_size: tuple[int, int] | list[int],
        context_dim: int,
        max_lag: int = 4,
        seeds: tuple[float, ...] | list[float] = (0.0,),
        sharpness: float = 1.0,
        base: str = "none",
    ) -> None:
        super().__init__(history, horizon, hidden, layers, scale, dropout, context_dim=context_dim)
        if base not in BASES:
            raise ParameterError(f"base must be one of {BASES}, got {base!r}")
        self.base = base
        self.seeds = tuple(float(x) for x in seeds)
        if not self.seeds:
            raise ParameterError("seeds must name at least one tracker start")
        # The few mixing parameters below enter the forward pass times MIX_GAIN, which
        # multiplies their learning rate: they must move in the few tens of updates
        # before the LSTMs overfit the training videos.
        self.seed_bias = nn.Parameter(torch.zeros(len(self.seeds)))
        self.seed_conf = nn.Parameter(torch.zeros(()))
        self.content_steps = tuple(range(horizon + 1))
        self.saliency_size = (int(saliency_size[0]), int(saliency_size[1]))
        self.tracker = SaliencyTracker(self.saliency_size, sharpness=sharpness)
        # World latitude of the tracked target times (1 + MIX_GAIN * lat_gain): heads pitch
        # less than what they look at (equator bias); starts at 1 (the target's latitude).
        self.lat_gain = nn.Parameter(torch.zeros(()))
        if max_lag < 0:
            raise ParameterError(f"max_lag must be >= 0, got {max_lag}")
        self.max_lag = int(max_lag)
        # Weights of the tracker at steps k, k-1, .., k-max_lag (the head lags its target).
        self.lag_logits = nn.Parameter(torch.zeros(max_lag + 1))
        if base == "velocity":
            # The head's own motion: per-step multiples of its last 5 Hz increment, starting as
            # constant velocity damped by VELOCITY_DAMPING per step.
            r = 1.0 - VELOCITY_DAMPING
            k = torch.arange(1, horizon + 1, dtype=torch.float32)
            self.vel_gain = nn.Parameter((1.0 - r**k) / (1.0 - r) / MIX_GAIN)
            # Trust in the tracker per step starts as a ramp k / TRUST_RAMP (clipped to
            # 0.02 .. 0.98): the head's motion first, the tracked target later.
            w0 = (k / TRUST_RAMP).clamp(0.02, 0.98)
            self.gate_bias = nn.Parameter(torch.log(w0 / (1.0 - w0)) / MIX_GAIN)
        else:
            # Trust in the tracker per step: starts near 1, so an untrained model follows it.
            self.gate_bias = nn.Parameter(torch.full((horizon,), 3.0 / MIX_GAIN))
        self.gate_conf = nn.Parameter(torch.zeros(()))

    def check_saliency(self, saliency: torch.Tensor | None) -> torch.Tensor:
        """Raise :class:`ShapeError` unless ``saliency`` is ``(B, H + 1, h, w)``."""
        want = (self.horizon + 1, *self.saliency_size)
        if saliency is None:
            raise ShapeError(
                f"{type(self).__name__} needs saliency maps (B, {', '.join(map(str, want))})"
            )
        if saliency.ndim != 4 or tuple(saliency.shape[1:]) != want:
            raise ShapeError(
                f"saliency must have shape (B, {', '.join(map(str, want))}), "
                f"got {tuple(saliency.shape)}"
            )
        return saliency

    def track_features(
        self, history_xyz: torch.Tensor, saliency: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Tracker features per horizon step and the direct path.

        One tracker per seed: seed ``s`` starts ``s`` steps ahead of the head along its last
        5 Hz increment (0 = at the head; a pursuing head lags its target).

        Returns:
            ``(rot, feats (B, H, 7 * S), (target (B, H, 2) radians, trust (B, H, 1)))``: the
            forecast's offsets are ``trust * target`` plus the decoder's correction. With
            ``base="velocity"`` the returned target is already ``(1 - w) * motion + w *
            tracker`` and the returned trust is 1.

        """
        rot, hf = history_features(history_xyz, self.scale)
        b, n_s, k = history_xyz.shape[0], len(self.seeds), self.horizon + 1
        step = hf[:, -1, 2:4] / self.scale  # last increment, radians (left, up)
        starts = [from_frame(rot, front_exp(step * s)[:, None])[:, 0] for s in self.seeds]
        centres, conf = self.tracker(saliency.repeat(n_s, 1, 1, 1), torch.cat(starts, 0))
        centres = centres.reshape(n_s, b, k, 3).transpose(0, 1)  # (B, S, K, 3)
        centres = scale_latitude(centres, 1.0 + MIX_GAIN * self.lat_gain)
        conf = conf.reshape(n_s, b, k).transpose(0, 1)  # (B, S, K)
        off = front_log(to_frame(rot, centres))  # (B, S, K, 2) radians, head frame of origin
        inc = torch.diff(off, dim=2)  # (B, S, H, 2)
        o = off[:, :, 1:]
        c = conf[:, :, 1:, None] / 4.0
        first = off[:, :, :1].expand(-1, -1, self.horizon, -1)
        feats = torch.cat([o * self.scale, inc * self.scale, c, first * self.scale], -1)
        feats = feats.permute(0, 2, 1, 3).reshape(b, self.horizon, n_s * TRACK_FEATURES)
        # Lagged direct path per tracker: sum_j a_j * tracker(k - j), indices clipped at 0.
        g = MIX_GAIN
        a = torch.softmax(g * self.lag_logits, 0)
        steps = torch.arange(1, k, device=off.device)
        target = torch.zeros_like(o)
        for j in range(self.max_lag + 1):
            target = target + a[j] * off[:, :, (steps - j).clamp_min(0)]
        # Trackers mixed by learned, confidence-dependent weights (B, S, H, 1).
        ws = torch.softmax(g * (self.seed_bias[None, :, None, None] + self.seed_conf * c), 1)
        target = (ws * target).sum(1)
        cw = (ws * c).sum(1)
        w = torch.sigmoid(g * (self.gate_bias[None, :, None] + self.gate_conf * cw))
        if self.base == "velocity":
            # (1 - w) x the head's own motion + w x the tracked target (B, H, 2).
            vel = g * self.vel_gain[None, :, None] * step[:, None, :]
            return rot, feats, (vel + w * (target - vel), torch.ones_like(w))
        return rot, feats, (target, w)


class SaliencyForecaster(_SaliencyBase):
    """Content-aware forecaster: the seq2seq decoder gets the saliency tracker at every step.

    Args:
        history, horizon, hidden, layers, scale, dropout: as :class:`Seq2SeqForecaster`.
        saliency_size: ``(h, w)`` of the ERP saliency maps.
        max_lag: how many steps back the direct path may look at the tracker.
        seeds: tracker starts, in steps ahead of the head along its last increment.
        sharpness: the tracker weighs ``saliency ** sharpness``.
        base: ``none`` or ``velocity`` (mix the tracker with the head's own motion; see
            :data:`BASES`).

    """

    def __init__(
        self,
        history: int = 5,
        horizon: int = 25,
        hidden: int = 64,
        layers: int = 1,
        scale: float = 10.0,
        dropout: float = 0.0,
        saliency_size: tuple[int, int] | list[int] = (24, 48),
        max_lag: int = 4,
        seeds: tuple[float, ...] | list[float] = (0.0,),
        sharpness: float = 1.0,
        base: str = "none",
    ) -> None:
        n = TRACK_FEATURES * max(1, len(seeds))
        super().__init__(
            history,
            horizon,
            hidden,
            layers,
            scale,
            dropout,
            saliency_size,
            n,
            max_lag,
            seeds,
            sharpness,
            base,
        )

    def forecast(
        self, history_xyz: torch.Tensor, viewports: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(B, T_h, 3)`` + saliency ``(B, H + 1, h, w)`` (as ``viewports``) -> ``(B, H, 3)``."""
        sal = self.check_saliency(viewports)
        _, feats, anchor = self.track_features(history_xyz, sal)
        return self._decode(history_xyz, feats, anchor=anchor)


class TrackForecaster(_SaliencyBase):
    """TRACK-like: position and saliency in separate recurrent branches, fused by a third LSTM.

    Position branch: the seq2seq encoder over the head-frame history and an LSTM cell fed
    its own previous increment (as :class:`Seq2SeqForecaster`). Saliency branch: an LSTM over
    the tracker features of steps ``1 .. H``. Fusion: an LSTM cell over both branches'
    outputs emits the tangent increment of each step (zero-initialised: untrained = no-motion).

    Args:
        history, horizon, hidden, layers, scale, dropout: as :class:`Seq2SeqForecaster`.
        saliency_size: ``(h, w)`` of the ERP saliency maps.
        saliency_hidden: width of the saliency LSTM.
        max_lag: how many steps back the direct path may look at the tracker.
        seeds: tracker starts, in steps ahead of the head along its last increment.
        sharpness: the tracker weighs ``saliency ** sharpness``.
        base: ``none`` or ``velocity`` (mix the tracker with the head's own motion; see
            :data:`BASES`).

    """

    def __init__(
        self,
        history: int = 5,
        horizon: int = 25,
        hidden: int = 64,
        layers: int = 1,
        scale: float = 10.0,
        dropout: float = 0.0,
        saliency_size: tuple[int, int] | list[int] = (24, 48),
        saliency_hidden: int = 32,
        max_lag: int = 4,
        seeds: tuple[float, ...] | list[float] = (0.0,),
        sharpness: float = 1.0,
        base: str = "none",
    ) -> None:
        super().__init__(
            history,
            horizon,
            hidden,
            layers,
            scale,
            dropout,
            saliency_size,
            0,
            max_lag,
            seeds,
            sharpness,
            base,
        )
        n = TRACK_FEATURES * len(self.seeds)
        self.sal_lstm = nn.LSTM(n, saliency_hidden, batch_first=True)
        self.fuse = nn.LSTMCell(hidden + saliency_hidden, hidden)

    def forecast(
        self, history_xyz: torch.Tensor, viewports: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(B, T_h, 3)`` + saliency ``(B, H + 1, h, w)`` (as ``viewports``) -> ``(B, H, 3)``."""
        self.check_history(history_xyz)
        sal = self.check_saliency(viewports)
        rot, feats, (target, w) = self.track_features(history_xyz, sal)
        sal_out, _ = self.sal_lstm(feats)  # (B, H, hs)
        _, hfeats = history_features(history_xyz, self.scale)
        enc_out, (h_n, c_n) = self.encoder(hfeats)
        h, c = h_n[-1], c_n[-1]
        hf, cf = h, c
        summary = enc_out[:, -1]
        prev = hfeats[:, -1, 2:4]
        b = history_xyz.shape[0]
        pos = torch.zeros(b, 2, dtype=hfeats.dtype, device=hfeats.device)
        outs = []
        for k in range(self.horizon):
            t = torch.full((b, 1), (k + 1) / self.horizon, dtype=hfeats.dtype, device=hfeats.device)
            h, c = self.decoder(self.drop(torch.cat([prev, t, summary], -1)), (h, c))
            hf, cf = self.fuse(torch.cat([h, sal_out[:, k]], -1), (hf, cf))
            step = self.out(hf)
            pos = pos + step / self.scale
            outs.append(pos)
            prev = step
        offsets = torch.stack(outs, 1)
        offsets = offsets + w * target
        return from_frame(rot, front_exp(offsets))
