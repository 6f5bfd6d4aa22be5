"""TEMPORARY stand-in for gaze-model's modules (deleted once they land on main).

Mirrors their interface: ``build_gaze_model(cfg) -> GazeGRM`` whose forward gives a
``GazeOutput(angles (B, 2), sigma (B, 2), vector (B, 3))``, ``gaze_loss(pred, target,
sigma, cfg) -> (loss, parts)`` and ``augment_batch(images, angles, cfg)``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import torch
from pydantic import Field
from torch import nn

from pano.config import PanoConfig
from pano.geometry import gazehub_to_camvec


class GazeModelConfig(PanoConfig):
    """Stand-in model config."""

    backbone: str = "pano_cnn_small"
    backbone_weights: Path | None = None
    dropout: float = Field(0.5, ge=0, lt=1)
    hidden: int = Field(64, ge=1)
    image_size: int = Field(224, ge=8)


class GazeLossConfig(PanoConfig):
    """Stand-in loss weights."""

    quantile: float = 0.1
    w_pinball: float = 1.0
    w_mse: float = 0.8
    w_bias: float = 0.1


class GazeAugmentConfig(PanoConfig):
    """Stand-in augmentation."""

    enabled: bool = True
    brightness: float = 0.2


class GazeOutput(NamedTuple):
    """Stand-in output."""

    angles: torch.Tensor
    sigma: torch.Tensor
    vector: torch.Tensor


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
            nn.Linear(cfg.hidden, 4),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> GazeOutput:
        o = self.head(self.features(x)).float()
        yaw, pitch = math.pi * torch.tanh(o[:, 0]), math.pi / 2 * torch.tanh(o[:, 1])
        return GazeOutput(
            torch.stack([yaw, pitch], 1),
            math.pi * torch.sigmoid(o[:, 2:]),
            gazehub_to_camvec(yaw, pitch),
        )


def build_gaze_model(cfg: GazeModelConfig, load_weights: bool = True) -> nn.Module:
    """Stand-in builder."""
    return _Net(cfg)


def gaze_loss(
    pred: torch.Tensor, target: torch.Tensor, sigma: torch.Tensor, cfg: GazeLossConfig
) -> tuple[torch.Tensor, dict[str, float]]:
    """Stand-in mixed loss."""
    q = cfg.quantile
    lo, hi = pred - sigma, pred + sigma
    pin = torch.maximum(q * (target - lo), (q - 1) * (target - lo)) + torch.maximum(
        (1 - q) * (target - hi), -q * (target - hi)
    )
    mse = ((pred - target) ** 2).mean()
    bias = (pred - sigma).abs().mean()
    loss = cfg.w_pinball * pin.mean() + cfg.w_mse * mse + cfg.w_bias * bias
    return loss, {
        "pinball": float(pin.mean().detach()),
        "mse": float(mse.detach()),
        "bias": float(bias.detach()),
    }


def augment_batch(
    images: torch.Tensor, angles: torch.Tensor, cfg: GazeAugmentConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stand-in brightness jitter (torch's global RNG)."""
    if not cfg.enabled:
        return images, angles
    g = 1 + cfg.brightness * (2 * torch.rand(images.shape[0]) - 1)
    return (images * g.to(images.device)[:, None, None, None]).clamp(0, 1), angles
