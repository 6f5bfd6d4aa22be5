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
from pano.models.gaze_backbones import EyeCnn, build_backbone, check_local_weights

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
    eyes: bool = Field(
        False,
        description="also read both eye crops (the data set's left/right arrays, grey) through "
        "a shared small CNN whose features join the backbone's before the GRM head; needs a "
        "data set with eye crops (GazeHub's MPIIFaceGaze/EYEDIAP layouts)",
    )
    eye_size: tuple[int, int] = Field(
        (36, 60), description="eye crop (height, width) in pixels (GazeHub: 36 x 60)"
    )

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
    """Backbone (+ eye stream) + GRM head. ``forward((B, 3, S, S) in [0, 1]) -> GazeOutput``.

    With ``cfg.eyes`` the model also takes ``eyes (B, 2, h, w)`` (left, right grey crops in
    ``[0, 1]``, ``(h, w) = cfg.eye_size``): each eye goes through one shared
    :class:`~pano.models.gaze_backbones.EyeCnn` and the two eye feature vectors are
    concatenated to the backbone's face features; the GRM head is unchanged.
    """

    def __init__(self, cfg: GazeModelConfig, load_weights: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        weights = cfg.backbone_weights if load_weights else None
        self.backbone, feat = build_backbone(cfg.backbone, weights, img_size=cfg.image_size)
        self.eye_net: EyeCnn | None = None
        if cfg.eyes:
            self.eye_net = EyeCnn(cfg.eye_size)
            feat += 2 * self.eye_net.num_features
        self.feature_dim = feat
        self.head = nn.Sequential(
            nn.BatchNorm1d(feat),
            nn.LeakyReLU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(feat, cfg.hidden),
            nn.LeakyReLU(),
        )
        self.out = nn.Linear(cfg.hidden, 3 if cfg.shared_sigma else 4)

    def forward(self, x: torch.Tensor, eyes: torch.Tensor | None = None) -> GazeOutput:
        """Faces (B, 3, S, S) float in [0, 1] [+ eyes (B, 2, h, w)] -> :class:`GazeOutput`.

        Outputs are float32 radians. ``eyes`` is required when the model was built with
        ``eyes: true`` and refused otherwise.
        """
        s = self.cfg.image_size
        if x.ndim != 4 or x.shape[1] != 3 or tuple(x.shape[-2:]) != (s, s):
            raise ShapeError(f"gaze model input must be (B, 3, {s}, {s}), got {tuple(x.shape)}")
        feats = self.backbone(x)
        if self.eye_net is not None:
            h, w = self.cfg.eye_size
            if eyes is None or tuple(eyes.shape) != (x.shape[0], 2, h, w):
                got = None if eyes is None else tuple(eyes.shape)
                raise ShapeError(
                    f"this gaze model (eyes: true) needs eye crops (B, 2, {h}, {w}) beside the "
                    f"faces, got {got}"
                )
            b = x.shape[0]
            e = self.eye_net(eyes.reshape(2 * b, 1, h, w)).reshape(b, -1)
            feats = torch.cat([feats, e], 1)
        elif eyes is not None:
            raise ShapeError("this gaze model was built without eyes: pass faces only")
        raw = self.out(self.head(feats)).float()
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
