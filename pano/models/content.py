"""Content-aware forecaster (TRACK-like): a viewport encoder beside the position LSTM.

Inputs are the history (as for :class:`Seq2SeqForecaster`) and ``K`` viewports, all centred
on the *origin* direction (no roll), showing the video frames at horizon steps
``content_steps`` (0 = the origin's frame, 25 = 5 s later). The video is known in advance,
so looking at future frames is fair (TRACK does the same with saliency maps).

The encoder is a small CNN ending in ``keypoints`` spatial-softmax maps: each map yields
the expected image position of what it detects, converted through the gnomonic camera to
head-frame tangent angles (the same frame the position decoder works in), plus how peaked
the map is. Per-view features are interpolated to every horizon step and fed to the
decoder at that step, so "the target will be there at step h" is one linear map away.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from pano.errors import ParameterError, ShapeError
from pano.fov import CONTENT_FOV, FoV, FoVLike
from pano.models.seq2seq import Seq2SeqForecaster
from pano.models.sphere import front_log, unit


def interpolation_matrix(content_steps: tuple[int, ...], horizon: int) -> torch.Tensor:
    """``(horizon, K)`` weights that linearly interpolate per-view features to steps 1..H."""
    steps = torch.tensor(content_steps, dtype=torch.float64)
    w = torch.zeros(horizon, len(content_steps), dtype=torch.float64)
    for i, h in enumerate(range(1, horizon + 1)):
        if h <= steps[0]:
            w[i, 0] = 1.0
        elif h >= steps[-1]:
            w[i, -1] = 1.0
        else:
            j = int(torch.searchsorted(steps, torch.tensor(float(h)), right=True)) - 1
            f = (h - steps[j]) / (steps[j + 1] - steps[j])
            w[i, j], w[i, j + 1] = 1.0 - f, f
    return w.float()


class ViewportKeypoints(nn.Module):
    """Saliency CNN + spatial softmax over a sequence of views of one camera.

    Input ``(B, K, C, h, w)``: ``K`` views, all centred on the origin direction, of frames
    ordered in time. A small CNN (local colour/contrast detectors - it must generalise
    from a few training videos to unseen backgrounds) maps each view to ``keypoints + 1``
    logit maps. The first ``keypoints`` maps are free spatial-softmax keypoints; the last
    one is a *tracker*: its softmax is multiplied by a Gaussian prior centred where the
    tracker was in the previous view (the view centre - the head - for the first view),
    with a learned width per view, so it follows the salient thing nearest the head
    through time. Each map yields its expected image position converted through the
    gnomonic camera to head-frame tangent angles (left, up), times ``scale``, and its
    peak log-probability relative to uniform (how sure it is).

    Output: ``(B, K, 3 * (keypoints + 1))``.
    """

    def __init__(
        self,
        channels: int,
        keypoints: int,
        fov_deg: FoVLike,
        scale: float,
        width: int = 8,
        views: int = 1,
    ) -> None:
        super().__init__()
        # RGB views get a colour-saturation channel (max - min over RGB): salient things in
        # video are often saturated, and it is invariant to the channel order.
        self.add_saturation = channels == 3
        self.net = nn.Sequential(
            nn.Conv2d(channels + int(self.add_saturation), width, 3, stride=2, padding=1),
            nn.ELU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ELU(),
            nn.Conv2d(width, keypoints + 1, 1),
        )
        self.log_temp = nn.Parameter(torch.zeros(()))
        # Prior width per view, in normalised image units ([-1, 1] across the view).
        self.log_sigma = nn.Parameter(torch.full((views,), math.log(0.35)))
        fov = FoV.parse(fov_deg, "fov_deg")
        self.tan_half = (
            math.tan(math.radians(fov.h_deg) / 2),
            math.tan(math.radians(fov.v_deg) / 2),
        )
        self.scale = scale
        self.keypoints = keypoints

    def _features(
        self, prob: torch.Tensor, u: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``prob (N, k, h, w)`` -> ``(N, k, 3)`` and the expected ``(u, v)``."""
        n, k, hh, ww = prob.shape
        eu = (prob.sum(2) * u).sum(-1)  # (N, k)
        ev = (prob.sum(3) * v).sum(-1)
        a, b = eu * self.tan_half[0], ev * self.tan_half[1]
        # Gnomonic ray forward + a * right + b * down, in the head frame (x fwd, y left, z up).
        ray = unit(torch.stack([torch.ones_like(a), -a, -b], -1))
        off = front_log(ray) * self.scale  # (N, k, 2)
        peak = torch.log(prob.reshape(n, k, hh * ww).amax(-1) * (hh * ww)).unsqueeze(-1) / 4.0
        return torch.cat([off, peak], -1), eu, ev

    def forward(self, views: torch.Tensor) -> torch.Tensor:
        """Encode ``(B, K, C, h, w)`` views (values in [0, 1])."""
        b, k_views = views.shape[:2]
        x = views.flatten(0, 1)
        if self.add_saturation:
            x = torch.cat([x, x.amax(1, keepdim=True) - x.amin(1, keepdim=True)], 1)
        logits = self.net(x * 2.0 - 1.0) * torch.exp(self.log_temp)
        hh, ww = logits.shape[-2:]  # the maps are half the views' resolution
        logits = logits.reshape(b, k_views, self.keypoints + 1, hh, ww)
        u = (torch.arange(ww, dtype=views.dtype, device=views.device) + 0.5) / ww * 2 - 1
        v = (torch.arange(hh, dtype=views.dtype, device=views.device) + 0.5) / hh * 2 - 1
        free = torch.softmax(logits[:, :, :-1].flatten(3), -1).reshape(
            b * k_views, self.keypoints, hh, ww
        )
        free_feats, _, _ = self._features(free, u, v)
        free_feats = free_feats.reshape(b, k_views, 3 * self.keypoints)
        # The tracker, chained through the views.
        cu = torch.zeros(b, dtype=views.dtype, device=views.device)
        cv = torch.zeros_like(cu)
        track = []
        sig = torch.exp(self.log_sigma)
        for i in range(k_views):
            s = sig[min(i, len(sig) - 1)]
            d2 = (u[None, None, :] - cu[:, None, None]) ** 2 + (
                v[None, :, None] - cv[:, None, None]
            ) ** 2
            lg = logits[:, i, -1] - d2 / (2 * s * s)
            prob = torch.softmax(lg.flatten(1), -1).reshape(b, 1, hh, ww)
            f, eu, ev = self._features(prob, u, v)
            track.append(f.reshape(b, -1))
            cu, cv = eu[:, 0], ev[:, 0]
        return torch.cat([free_feats, torch.stack(track, 1)], -1)


class ContentForecaster(Seq2SeqForecaster):
    """Position LSTM + viewport keypoint encoder (see the module docstring).

    Args:
        history, horizon, hidden, layers, scale, dropout: as :class:`Seq2SeqForecaster`.
        content_steps: horizon steps whose frames the viewports show (0 = origin frame).
        fov_deg: ``(horizontal, vertical)`` field of view of the viewports, degrees (anything
            :meth:`pano.fov.FoV.parse` reads; each angle in ``(0, 180)``).
        size: ``(h, w)`` viewport size in pixels.
        channels: 1 (luma) or 3 (RGB).
        keypoints: spatial-softmax maps.
        encoder_width: channels of the viewport CNN's hidden layers.

    """

    needs_viewports = True

    def __init__(
        self,
        history: int = 5,
        horizon: int = 25,
        hidden: int = 64,
        layers: int = 1,
        scale: float = 10.0,
        dropout: float = 0.0,
        content_steps: tuple[int, ...] | list[int] = (0, 5, 10, 15, 20, 25),
        fov_deg: FoVLike = CONTENT_FOV,
        size: tuple[int, int] | list[int] = (32, 32),
        channels: int = 3,
        keypoints: int = 4,
        encoder_width: int = 8,
    ) -> None:
        steps = tuple(int(s) for s in content_steps)
        if not steps or list(steps) != sorted(set(steps)) or steps[0] < 0:
            raise ParameterError(f"content_steps must be increasing non-negative ints, got {steps}")
        super().__init__(
            history, horizon, hidden, layers, scale, dropout, context_dim=3 * (keypoints + 1) * 2
        )
        self.content_steps = steps
        self.fov_deg = FoV.parse(fov_deg, "fov_deg")
        self.size = (int(size[0]), int(size[1]))
        self.channels = int(channels)
        self.encoder_views = ViewportKeypoints(
            channels, keypoints, self.fov_deg, self.scale, encoder_width, views=len(steps)
        )
        self.register_buffer("interp", interpolation_matrix(steps, horizon), persistent=False)
        self.gate_bias = nn.Parameter(torch.full((horizon,), -1.5))
        self.gate_peak = nn.Parameter(torch.zeros(()))

    def forecast(
        self, history_xyz: torch.Tensor, viewports: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(B, T_h, 3)`` + viewports ``(B, K, C, h, w)`` -> ``(B, H, 3)``."""
        k = len(self.content_steps)
        if viewports is None:
            raise ShapeError("ContentForecaster.forecast needs viewports (B, K, C, h, w)")
        if viewports.ndim != 5 or viewports.shape[1] != k or viewports.shape[2] != self.channels:
            raise ShapeError(
                f"viewports must have shape (B, {k}, {self.channels}, h, w), "
                f"got {tuple(viewports.shape)}"
            )
        feats = self.encoder_views(viewports.to(history_xyz.dtype))  # (B, K, F)
        per_step = torch.einsum("hk,bkd->bhd", self.interp.to(feats.dtype), feats)
        # Also give each step the view-to-view change (where the content is heading).
        delta = torch.diff(per_step, dim=1, prepend=per_step[:, :1])
        # Direct path: the tracker's position at each step, blended in with a learned,
        # confidence-dependent weight per horizon step (starts small: ~no-motion + LSTM).
        trk = per_step[..., -3:]  # (B, H, 3): left, up (scaled), peak
        w = torch.sigmoid(self.gate_bias[None, :, None] + self.gate_peak * trk[..., 2:3])
        return self._decode(
            history_xyz, torch.cat([per_step, delta], -1), blend=(trk[..., :2] / self.scale, w)
        )
