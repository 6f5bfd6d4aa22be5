"""TEMPORARY stand-in for gaze-model's modules (deleted once they land on main).

Interface assumed: ``GazeModelConfig`` (pydantic), ``build_gaze_model(cfg) -> nn.Module``
whose forward gives ``(yaw, pitch, sigma)`` radians, ``GazeLossConfig`` and
``gaze_loss(yaw, pitch, sigma, t_yaw, t_pitch, cfg) -> Tensor``, and
``GazeAugmentConfig`` / ``augment(x, cfg, gen)``.
"""

from __future__ import annotations

import math

import torch
from pydantic import Field
from torch import nn

from pano.config import PanoConfig


class GazeModelConfig(PanoConfig):
    """Stand-in model config."""

    backbone: str = "pano_cnn_small"
    backbone_weights: str | None = None
    dropout: float = Field(0.5, ge=0, lt=1)
    hidden: int = Field(64, ge=1)


class GazeLossConfig(PanoConfig):
    """Stand-in loss weights."""

    pinball: float = 1.0
    mse: float = 0.8
    bias: float = 0.1


class GazeAugmentConfig(PanoConfig):
    """Stand-in augmentation."""

    enabled: bool = True
    brightness: float = 0.2


class _Net(nn.Module):
    def __init__(self, cfg: GazeModelConfig) -> None:
        super().__init__()
        w = 16
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
        )  # fmt: skip
        self.head = nn.Sequential(
            nn.Linear(32 * w, cfg.hidden), nn.LeakyReLU(), nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, 3),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        o = self.head(self.features(x))
        return (
            math.pi * torch.tanh(o[:, 0]),
            math.pi / 2 * torch.tanh(o[:, 1]),
            math.pi * torch.sigmoid(o[:, 2]),
        )


def build_gaze_model(cfg: GazeModelConfig) -> nn.Module:
    """Stand-in builder."""
    return _Net(cfg)


def gaze_loss(
    yaw: torch.Tensor,
    pitch: torch.Tensor,
    sigma: torch.Tensor,
    t_yaw: torch.Tensor,
    t_pitch: torch.Tensor,
    cfg: GazeLossConfig,
) -> torch.Tensor:
    """Stand-in mixed loss."""
    pred = torch.stack([yaw, pitch], 1)
    tgt = torch.stack([t_yaw, t_pitch], 1)
    s = sigma[:, None]
    lo, hi = pred - s, pred + s
    pin = torch.maximum(0.1 * (tgt - lo), (0.1 - 1) * (tgt - lo)) + torch.maximum(
        0.9 * (tgt - hi), (0.9 - 1) * (tgt - hi)
    )
    mse = ((pred - tgt) ** 2).mean()
    return cfg.pinball * pin.mean() + cfg.mse * mse + cfg.bias * (pred - s).abs().mean()


def augment(x: torch.Tensor, cfg: GazeAugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Stand-in brightness jitter."""
    if not cfg.enabled:
        return x
    g = 1 + cfg.brightness * (2 * torch.rand(x.shape[0], generator=gen) - 1)
    return (x * g.to(x.device)[:, None, None, None]).clamp(0, 1)
