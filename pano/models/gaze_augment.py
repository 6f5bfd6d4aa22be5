"""Training augmentations of face crops (kornia), label-consistent.

:func:`augment_batch` takes ``images (B, 3, H, W)`` float in ``[0, 1]`` and their labels
``angles (B, 2)`` = GazeHub ``[yaw, pitch]`` radians, and returns both augmented:

- photometric (label unchanged): kornia ``ColorJitter`` (brightness, contrast, saturation,
  hue) and optional Gaussian noise;
- geometric, small (label unchanged, approximately): kornia ``RandomAffine`` with translation
  and scale only. No in-plane rotation: rotating the image about the optical axis rotates the
  gaze about the camera z axis, so it would have to rotate the label too;
- horizontal flip (off by default): the image is mirrored left-right AND ``yaw -> -yaw``
  (pitch unchanged), i.e. gaze x -> -x in camera axes, so image and label stay consistent.

:func:`augment_eyes` does the same for the grey eye crops ``(B, 2, h, w)`` of a model with
``eyes: true``: a small per-crop translation and scale (``eye_translate``, ``eye_scale``:
where the crop's box falls on the eye varies between persons) and a per-crop brightness and
contrast change (``eye_jitter``). Labels are unchanged (the flip is face-only: a model with
eyes refuses ``hflip_p > 0``, which would have to swap and mirror the crops too).

Test-time mirroring (``predict_hflip`` of ``pano train-gaze``, ``--hflip`` of ``pano
gaze-infer``): :func:`predict_gaze` predicts a batch with or without it, the one place
where the model's prediction and its mirror's (:func:`mirror_inputs`) are combined.

Randomness comes from torch's global generator (kornia's convention): seed it with
``torch.manual_seed`` for reproducible batches. Works on any device; inputs stay on theirs.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from pydantic import Field
from torch import nn

from pano.config import PanoConfig
from pano.errors import ShapeError
from pano.geometry import camvec_to_gazehub, gazehub_to_camvec
from pano.models.gaze_ensemble import GazeEnsemble, combine_gaze

__all__ = [
    "GazeAugmentConfig",
    "GazePrediction",
    "augment_batch",
    "augment_eyes",
    "mirror_inputs",
    "predict_gaze",
]


class GazeAugmentConfig(PanoConfig):
    """Augmentation strengths (the ``augment`` section of a gaze training config)."""

    enabled: bool = True
    brightness: float = Field(0.2, ge=0.0)
    contrast: float = Field(0.2, ge=0.0)
    saturation: float = Field(0.2, ge=0.0)
    hue: float = Field(0.02, ge=0.0, le=0.5)
    jitter_p: float = Field(0.8, ge=0.0, le=1.0, description="probability of colour jitter")
    translate: float = Field(0.05, ge=0.0, lt=0.5, description="max shift, fraction of size")
    scale: float = Field(0.05, ge=0.0, lt=0.5, description="max zoom in/out, fraction")
    affine_p: float = Field(0.5, ge=0.0, le=1.0)
    noise_std: float = Field(0.0, ge=0.0, description="Gaussian pixel noise (0..1 units)")
    hflip_p: float = Field(
        0.0, ge=0.0, le=1.0, description="mirror probability (the yaw label is negated)"
    )
    eye_translate: float = Field(
        0.0, ge=0.0, lt=0.5, description="eye crops: max shift, fraction of the crop size"
    )
    eye_scale: float = Field(0.0, ge=0.0, lt=0.5, description="eye crops: max zoom, fraction")
    eye_jitter: float = Field(
        0.0, ge=0.0, lt=1.0, description="eye crops: max relative contrast change and shift"
    )


def mirror_inputs(
    faces: torch.Tensor, eyes: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The mirror images of a batch of faces (and their eye crops).

    ``faces (B, 3, H, W)`` flipped left-right and, when given, ``eyes (B, 2, h, w)`` (left,
    right) swapped AND each flipped left-right.
    A mirrored face of gaze ``(x, y, z)`` (camera axes x right, y down, z forward) has gaze
    ``(-x, y, z)``, i.e. ``[yaw, pitch] -> [-yaw, pitch]``: negate the prediction's x to map
    it back. The image-left eye of the mirror is the original's image-right eye flipped,
    which is how GazeHub mirrors its ``right`` samples.
    """
    if faces.ndim != 4:
        raise ShapeError(f"mirror_inputs: faces must be (B, 3, H, W), got {tuple(faces.shape)}")
    if eyes is not None and (eyes.ndim != 4 or eyes.shape[1] != 2):
        raise ShapeError(f"mirror_inputs: eyes must be (B, 2, h, w), got {tuple(eyes.shape)}")
    return faces.flip(-1), None if eyes is None else eyes.flip(1).flip(-1)


class GazePrediction(NamedTuple):
    """:func:`predict_gaze`'s result for ``B`` faces (float64, radians, GazeHub conventions)."""

    angles: torch.Tensor  #: (B, 2) [yaw, pitch] radians
    sigma: torch.Tensor  #: (B, 2) the model's [yaw, pitch] spread, radians
    vector: torch.Tensor  #: (B, 3) unit gaze of ``angles``, camera x right / y down / z forward


@torch.no_grad()
def predict_gaze(
    model: nn.Module,
    faces: torch.Tensor,
    eyes: torch.Tensor | None = None,
    hflip: bool = False,
    amp: bool = False,
) -> GazePrediction:
    """The gaze of a batch of faces, optionally with test-time mirroring.

    Args:
        model: a gaze model (:class:`~pano.models.gaze_grm.GazeGRM` or anything called as
            ``model(faces, eyes)`` that returns ``.angles (B, 2)`` and ``.sigma (B, 2)``,
            GazeHub ``[yaw, pitch]`` radians); it is called as it is (put it in eval mode).
            A :class:`~pano.models.gaze_ensemble.GazeEnsemble`: every member is predicted
            as one model (with ``hflip`` if asked) and the results combined by
            :func:`~pano.models.gaze_ensemble.combine_gaze`.
        faces: ``(B, 3, S, S)`` float RGB in ``[0, 1]`` on the model's device.
        eyes: ``(B, 2, h, w)`` grey eye crops in ``[0, 1]`` (left = the eye on the image's
            left, right) for a model with ``eyes: true``, else None.
        hflip: mirror test-time augmentation: the gaze is the normalised sum of the model's
            unit vector for the input and, x negated, its unit vector for the mirrored input
            (:func:`mirror_inputs`: face flipped left-right, eye crops swapped and each
            flipped); yaw and pitch are that vector's, sigma the mean of the two sigmas.
        amp: run the model under CUDA float16 autocast (a no-op elsewhere).

    Returns:
        :class:`GazePrediction`: ``angles (B, 2)`` and ``sigma (B, 2)`` float64 radians, and
        ``vector (B, 3)`` float64 unit vectors of ``angles`` in GazeHub camera axes (x right,
        y down, z forward; ``(-cos p sin y, -sin p, -cos p cos y)``, :func:`~pano.geometry.
        gazehub_to_camvec`), on the model's device. In a normalised face image these axes
        are the normalised camera's.

    Raises:
        ShapeError: ``faces`` is not ``(B, 3, H, W)`` or ``eyes`` not ``(B, 2, h, w)``.

    """
    if faces.ndim != 4 or faces.shape[1] != 3:
        raise ShapeError(f"predict_gaze: faces must be (B, 3, S, S), got {tuple(faces.shape)}")
    if eyes is not None and (eyes.ndim != 4 or eyes.shape[:2] != (faces.shape[0], 2)):
        raise ShapeError(
            f"predict_gaze: eyes must be ({faces.shape[0]}, 2, h, w), got {tuple(eyes.shape)}"
        )
    if isinstance(model, GazeEnsemble):  # each member as one model, then on the sphere
        got = [predict_gaze(m, faces, eyes, hflip, amp) for m in model.members]
        angles, sigma, _ = combine_gaze([g.vector for g in got], [g.sigma for g in got])
        return GazePrediction(angles, sigma, gazehub_to_camvec(angles[:, 0], angles[:, 1]))
    with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
        out = model(faces, eyes)
    angles, sigma = out.angles.float().double(), out.sigma.float().double()
    if hflip:
        with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
            mir = model(*mirror_inputs(faces, eyes))
        # The mirror's yaw negated = its vector's x negated; sum the unit vectors.
        v = gazehub_to_camvec(angles[:, 0], angles[:, 1]) + gazehub_to_camvec(
            -mir.angles[:, 0].double(), mir.angles[:, 1].double()
        )
        yaw, pitch = camvec_to_gazehub(v / v.norm(dim=1, keepdim=True))
        angles = torch.stack([yaw, pitch], 1)
        sigma = (sigma + mir.sigma.double()) / 2
    return GazePrediction(angles, sigma, gazehub_to_camvec(angles[:, 0], angles[:, 1]))


def augment_eyes(eyes: torch.Tensor, cfg: GazeAugmentConfig | None = None) -> torch.Tensor:
    """Augment grey eye crops ``(B, 2, h, w)`` in ``[0, 1]`` (labels unchanged); same shape.

    Each crop independently: kornia ``RandomAffine`` with translation ``eye_translate`` and
    scale ``1 +- eye_scale`` (border padding), then ``(x - 0.5) * g + 0.5 + o`` with ``g`` in
    ``1 +- eye_jitter`` and ``o`` in ``+-eye_jitter``, clamped to ``[0, 1]``. Randomness from
    torch's global generator.
    """
    import kornia.augmentation as K

    cfg = cfg or GazeAugmentConfig()
    if eyes.ndim != 4 or eyes.shape[1] != 2:
        raise ShapeError(f"augment_eyes: eyes must be (B, 2, h, w), got {tuple(eyes.shape)}")
    if not cfg.enabled or eyes.shape[0] == 0:
        return eyes
    z = eyes.reshape(-1, 1, *eyes.shape[-2:])
    if cfg.eye_translate or cfg.eye_scale:
        affine = K.RandomAffine(
            degrees=0.0,
            translate=(cfg.eye_translate, cfg.eye_translate),
            scale=(1.0 - cfg.eye_scale, 1.0 + cfg.eye_scale),
            padding_mode="border",
            p=1.0,
        )
        z = affine(z)
    if cfg.eye_jitter > 0:
        n = z.shape[0]
        gain = 1.0 + cfg.eye_jitter * (2 * torch.rand(n, 1, 1, 1, device=z.device) - 1)
        off = cfg.eye_jitter * (2 * torch.rand(n, 1, 1, 1, device=z.device) - 1)
        z = (z - 0.5) * gain + 0.5 + off
    return z.clamp(0.0, 1.0).reshape(eyes.shape)


def augment_batch(
    images: torch.Tensor, angles: torch.Tensor, cfg: GazeAugmentConfig | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment a batch; returns new ``(images (B, 3, H, W) in [0, 1], angles (B, 2))``."""
    import kornia.augmentation as K

    cfg = cfg or GazeAugmentConfig()
    if images.ndim != 4 or images.shape[1] != 3:
        raise ShapeError(f"augment_batch: images must be (B, 3, H, W), got {tuple(images.shape)}")
    if angles.shape != (images.shape[0], 2):
        raise ShapeError(
            f"augment_batch: angles must be (B, 2) = [yaw, pitch], got {tuple(angles.shape)}"
        )
    if not cfg.enabled or images.shape[0] == 0:
        return images, angles
    x = images
    if cfg.jitter_p > 0 and (cfg.brightness or cfg.contrast or cfg.saturation or cfg.hue):
        jitter = K.ColorJitter(
            cfg.brightness, cfg.contrast, cfg.saturation, cfg.hue, p=cfg.jitter_p
        )
        x = jitter(x)
    if cfg.affine_p > 0 and (cfg.translate or cfg.scale):
        affine = K.RandomAffine(
            degrees=0.0,
            translate=(cfg.translate, cfg.translate),
            scale=(1.0 - cfg.scale, 1.0 + cfg.scale),
            padding_mode="border",
            p=cfg.affine_p,
        )
        x = affine(x)
    if cfg.noise_std > 0:
        x = x + cfg.noise_std * torch.randn_like(x)
    out_angles = angles.clone()
    if cfg.hflip_p > 0:
        flip = torch.rand(x.shape[0], device=x.device) < cfg.hflip_p
        if bool(flip.any()):
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            out_angles[flip, 0] = -out_angles[flip, 0]
    return x.clamp(0.0, 1.0), out_angles
