"""DGE-GM's gaze model: a backbone, the "GRM" regression head, yaw/pitch/sigma outputs.

Conventions (GazeHub's, :func:`pano.geometry.gazehub_to_camvec`):

- input: face crops ``(B, 3, S, S)`` float RGB in ``[0, 1]`` (``S`` = ``image_size``; no
  ImageNet mean/std: the first BatchNorm/LayerNorm of the backbone sees raw [0, 1] values,
  as DGE-GM feeds them).
- output angles in **radians**, GazeHub's ``[yaw, pitch]`` order: ``yaw = pi * tanh`` in
  (-pi, pi), ``pitch = pi/2 * tanh`` in (-pi/2, pi/2); ``sigma = pi * sigmoid`` in (0, pi),
  one per angle (``(B, 2)``; DGE-GM/Gaze360 predict one sigma shared by both angles, which
  ``shared_sigma: true`` restores).
- ``vector``: the unit gaze in GazeHub camera axes (x right, y down, z forward out of the
  camera): ``(-cos p sin y, -sin p, -cos p cos y)``; yaw = pitch = 0 is ``(0, 0, -1)``,
  looking into the camera. In a normalised face image that is the normalised camera's frame.

Head (DGE-GM): ``features -> BatchNorm1d -> LeakyReLU -> Dropout(p) -> Linear(feat, hidden)
-> LeakyReLU -> Linear(hidden, 4 or 3)`` (yaw, pitch, sigma(s) pre-activations).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import torch
from pydantic import Field, field_validator
from torch import nn

from pano.config import PanoConfig
from pano.errors import ConfigError, ShapeError
from pano.geometry import gazehub_to_camvec
from pano.models.gaze_backbones import build_backbone, check_local_weights

__all__ = ["GazeGRM", "GazeModelConfig", "GazeOutput", "build_gaze_model"]


class GazeModelConfig(PanoConfig):
    """The gaze model's configuration (the ``model`` section of a gaze training config).

    Loadable on its own with ``pano.config.load_config(GazeModelConfig, "model.yaml")``.
    """

    backbone: str = Field(
        "swin_base_patch4_window7_224",
        description="a pano backbone (pano_cnn_tiny, pano_cnn_small, swin_{tiny,small,base}_"
        "patch4_window7_224) or any timm name (timm needed)",
    )
    backbone_weights: Path | None = Field(
        None, description="local state-dict file (.pth/.pt/.bin/.safetensors); never a hub name"
    )
    pretrained: bool = Field(
        False, description="must stay false: nothing is downloaded; use backbone_weights"
    )
    dropout: float = Field(0.5, ge=0.0, lt=1.0, description="DGE-GM: 0.5 MPII, 0.1 Gaze360")
    hidden: int = Field(1024, ge=1, description="width of the head's hidden layer")
    image_size: int = Field(224, ge=32, description="input edge in pixels")
    shared_sigma: bool = Field(False, description="one sigma for both angles (Gaze360/DGE-GM)")

    @field_validator("backbone_weights", mode="before")
    @classmethod
    def _local_only(cls, v: object) -> object:
        if v is None or v == "":
            return None
        return check_local_weights(str(v))

    @field_validator("pretrained")
    @classmethod
    def _no_download(cls, v: bool) -> bool:
        if v:
            raise ConfigError(
                "pretrained: true would download weights; pano downloads nothing at run time: "
                "download them once and set backbone_weights: /path/to/file"
            )
        return v


class GazeOutput(NamedTuple):
    """The model's outputs for a batch of ``B`` faces (radians; GazeHub conventions)."""

    angles: torch.Tensor  #: (B, 2) [yaw, pitch]
    sigma: torch.Tensor  #: (B, 2) per-angle spread (0, pi)
    vector: torch.Tensor  #: (B, 3) unit gaze, camera x right / y down / z forward

    @property
    def yaw(self) -> torch.Tensor:
        """(B,) yaw, positive = the face looks to the camera's left (gaze x < 0)."""
        return self.angles[:, 0]

    @property
    def pitch(self) -> torch.Tensor:
        """(B,) pitch, positive = looking up (gaze y < 0, y pointing down)."""
        return self.angles[:, 1]


class GazeGRM(nn.Module):
    """Backbone + GRM head. ``forward((B, 3, S, S) in [0, 1]) -> GazeOutput``."""

    def __init__(self, cfg: GazeModelConfig, load_weights: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        weights = cfg.backbone_weights if load_weights else None
        self.backbone, feat = build_backbone(cfg.backbone, weights, img_size=cfg.image_size)
        self.feature_dim = feat
        self.head = nn.Sequential(
            nn.BatchNorm1d(feat),
            nn.LeakyReLU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(feat, cfg.hidden),
            nn.LeakyReLU(),
        )
        self.out = nn.Linear(cfg.hidden, 3 if cfg.shared_sigma else 4)

    def forward(self, x: torch.Tensor) -> GazeOutput:
        """Faces (B, 3, S, S) float in [0, 1] -> :class:`GazeOutput` (float32, radians)."""
        s = self.cfg.image_size
        if x.ndim != 4 or x.shape[1] != 3 or tuple(x.shape[-2:]) != (s, s):
            raise ShapeError(f"gaze model input must be (B, 3, {s}, {s}), got {tuple(x.shape)}")
        raw = self.out(self.head(self.backbone(x))).float()
        yaw = math.pi * torch.tanh(raw[:, 0])
        pitch = (math.pi / 2) * torch.tanh(raw[:, 1])
        sigma = math.pi * torch.sigmoid(raw[:, 2:])
        if sigma.shape[1] == 1:
            sigma = sigma.expand(-1, 2)
        return GazeOutput(torch.stack([yaw, pitch], 1), sigma, gazehub_to_camvec(yaw, pitch))


def build_gaze_model(cfg: GazeModelConfig, load_weights: bool = True) -> GazeGRM:
    """The model ``cfg`` describes.

    ``load_weights=False`` skips ``backbone_weights`` (used when a trained checkpoint's full
    state dict is loaded next).
    """
    return GazeGRM(cfg, load_weights=load_weights)
