"""Image backbones of the gaze model: a name (and an optional local weights file) -> features.

:func:`build_backbone` returns ``(module, feature_dim)``; the module maps ``(B, 3, S, S)``
float images (``S`` = the configured image size) to ``(B, feature_dim)`` features.

Names pano provides itself (pure torch, no timm needed):

- ``swin_tiny_patch4_window7_224``, ``swin_small_patch4_window7_224``,
  ``swin_base_patch4_window7_224``: :class:`pano.models.gaze_swin.SwinTransformer`, state-dict
  compatible with timm's models of those names (feature_dim 768, 768, 1024).
- ``pano_cnn_small`` (~245k parameters, 128 features) and ``pano_cnn_tiny`` (~25k, 64
  features): five stride-2 conv-BN-ReLU blocks and a global average; for CPU runs and tests.

:class:`EyeCnn` is not a backbone name: it is the optional eye-crop stream of
:class:`~pano.models.gaze_grm.GazeGRM` (``model.eyes: true``), grey ``(B, 1, 36, 60)``
crops -> flattened features.

Any other name is passed to ``timm.create_model(name, pretrained=False, num_classes=0)``
when timm imports (the ``pano[timm]`` extra, with a torchvision that matches the torch).

Weights come only from a local file (``backbone_weights: PATH``): a state dict in
``.pt``/``.pth``/``.bin`` (read with ``torch.load(weights_only=True)``) or ``.safetensors``
(read by :func:`read_safetensors`, pano's reader of the format; no package needed). Wrapping
``model``/``state_dict`` entries are unwrapped, a ``model.``/``module.`` key prefix is
stripped, a classifier ``head.*`` and timm's non-persistent buffers
(``relative_position_index``, ``attn_mask``) are dropped, and the original Microsoft Swin
layout (patch merging at the end of a stage) is renumbered to timm's; the rest must match
exactly. Nothing is ever downloaded at run time: a hub name (``hf-hub:...``, ``timm/...``)
or ``pretrained: true`` is an error that says to pass a local file.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pano.errors import CheckpointError, ConfigError, InputDataError, InputFileNotFoundError
from pano.models.gaze_swin import SWIN_CONFIGS, swin_from_name

__all__ = [
    "PANO_BACKBONES",
    "CnnBackbone",
    "EyeCnn",
    "build_backbone",
    "check_local_weights",
    "clean_state_dict",
    "load_backbone_weights",
    "read_safetensors",
]

#: Small conv backbones: name -> channels of the five stride-2 blocks.
_CNN_CHANNELS: dict[str, tuple[int, ...]] = {
    "pano_cnn_tiny": (8, 16, 32, 64, 64),
    "pano_cnn_small": (16, 32, 64, 128, 128),
}

#: Backbone names pano builds without timm.
PANO_BACKBONES: tuple[str, ...] = tuple(_CNN_CHANNELS) + tuple(SWIN_CONFIGS)

_HUB_PREFIXES = ("hf-hub:", "hf_hub:", "timm/", "http://", "https://")


class CnnBackbone(nn.Module):
    """Five ``conv3x3(stride 2) -> BatchNorm -> ReLU`` blocks, then the spatial mean.

    ``(B, 3, S, S)`` -> ``(B, channels[-1])``; any ``S >= 32`` works.
    """

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for cout in channels:
            layers += [
                nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.num_features = cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> (B, num_features)."""
        return self.features(x).mean(dim=(2, 3))


class EyeCnn(nn.Module):
    """The eye stream: ``conv3x3(stride 2) -> BatchNorm -> ReLU`` blocks, then FLATTENED.

    ``(B, 1, h, w)`` grey eye crops (GazeHub: 36 x 60) -> ``(B, num_features)``. The last
    feature map is flattened rather than averaged, so where the iris sits in the crop (the
    gaze signal) stays a feature; ``num_features = channels[-1] * ceil(h/2^k) * ceil(w/2^k)``
    for ``k = len(channels)`` blocks (36 x 60 with four blocks: 3 x 4 x 64 = 768).
    """

    def __init__(self, size: tuple[int, int], channels: tuple[int, ...] = (16, 32, 64, 64)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        h, w = size
        for cout in channels:
            layers += [
                nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
            cin, h, w = cout, (h + 1) // 2, (w + 1) // 2
        self.features = nn.Sequential(*layers)
        self.num_features = cin * h * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, h, w) -> (B, num_features)."""
        return self.features(x).flatten(1)


def check_local_weights(weights: str | Path | None) -> Path | None:
    """``weights`` as a local path; a hub name is a :class:`ConfigError` (nothing downloads)."""
    if weights is None:
        return None
    text = str(weights)
    if text.startswith(_HUB_PREFIXES) or text.strip().lower() in ("true", "pretrained"):
        raise ConfigError(
            f"backbone_weights {text!r} names a hub or pretrained=True: pano downloads nothing "
            "at run time; download the weights once and pass the local file "
            "(backbone_weights: /path/to/model.safetensors or .pth)"
        )
    return Path(text)


def _timm_error(name: str, err: BaseException) -> ConfigError:
    return ConfigError(
        f"backbone {name!r} needs timm, which is not importable here ({type(err).__name__}: "
        f"{' '.join(str(err).split())[:160]}; with a CPU-only torch, PyPI's torchvision does "
        f"not load); pano provides without timm: {', '.join(PANO_BACKBONES)}"
    )


def build_backbone(
    name: str, weights: str | Path | None = None, img_size: int = 224
) -> tuple[nn.Module, int]:
    """Build the named backbone, load local ``weights`` if given.

    Args:
        name: a name of :data:`PANO_BACKBONES` or any timm model name (timm needed).
        weights: a local state-dict file, or None for random initialisation.
        img_size: input edge in pixels (Swin builds its attention masks for it).

    Returns:
        ``(module, feature_dim)``: ``module(x (B, 3, img_size, img_size)) -> (B, feature_dim)``.

    Raises:
        ConfigError: a hub name as weights, or a timm name where timm does not import.
        InputFileNotFoundError, InputDataError, CheckpointError: see
            :func:`load_backbone_weights`.

    """
    path = check_local_weights(weights)
    module: nn.Module
    if name in _CNN_CHANNELS:
        cnn = CnnBackbone(_CNN_CHANNELS[name])
        module, dim = cnn, cnn.num_features
    elif name in SWIN_CONFIGS:
        swin = swin_from_name(name, img_size=img_size)
        module, dim = swin, swin.num_features
    else:
        try:
            import timm  # optional extra: pano[timm]
        except Exception as err:  # torchvision raises RuntimeError on a mismatched torch
            raise _timm_error(name, err) from None
        try:
            module = timm.create_model(name, pretrained=False, num_classes=0)
        except RuntimeError as err:  # timm's "Unknown model"
            raise ConfigError(f"backbone {name!r}: {err}") from None
        dim = int(getattr(module, "num_features"))  # noqa: B009 - timm's attribute, untyped
    if path is not None:
        load_backbone_weights(module, path)
    return module, dim


# --------------------------------------------------------------------------- weights files

_ST_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a ``.safetensors`` file (little-endian u64 header size, JSON header, raw data).

    Each header entry is ``{"dtype", "shape", "data_offsets": [begin, end]}`` relative to the
    end of the header; ``__metadata__`` is skipped. Raises :class:`InputDataError` on a
    malformed file.
    """
    path = Path(path)
    data = path.read_bytes()
    try:
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
        base = 8 + n
        out: dict[str, torch.Tensor] = {}
        for key, info in header.items():
            if key == "__metadata__":
                continue
            begin, end = info["data_offsets"]
            dtype = _ST_DTYPES[info["dtype"]]
            raw = bytearray(data[base + begin : base + end])
            t = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
            out[key] = t.reshape(info["shape"])
    except (struct.error, ValueError, KeyError, TypeError, RuntimeError) as err:
        raise InputDataError(
            f"{path}: not a readable .safetensors file ({type(err).__name__}: {err}); "
            "pass a safetensors or torch state-dict file"
        ) from None
    return out


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise InputFileNotFoundError(
            f"backbone_weights {path}: no such file; pass a local .pth/.pt/.bin/.safetensors"
        )
    if path.suffix == ".safetensors":
        return read_safetensors(path)
    try:
        obj: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle errors of many kinds; a weights-only load refused code
        raise InputDataError(
            f"backbone_weights {path}: not a torch state-dict file readable with "
            f"weights_only=True ({type(err).__name__}: {' '.join(str(err).split())[:160]})"
        ) from None
    for key in ("model", "state_dict", "model_state_dict", "module"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputDataError(
            f"backbone_weights {path}: holds no state dict (a mapping of names to tensors)"
        )
    return obj


def clean_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip ``model.``/``module.``, drop ``head.*`` and non-persistent Swin buffers."""
    out: dict[str, torch.Tensor] = {}
    for key, val in sd.items():
        k = key
        while k.startswith(("model.", "module.")):
            k = k.split(".", 1)[1]
        if k.startswith("head.") or k.endswith(("relative_position_index", "attn_mask")):
            continue
        out[k] = val
    if "layers.0.downsample.reduction.weight" in out:  # Microsoft's layout -> timm's
        out = {
            re.sub(
                r"^layers\.(\d+)\.downsample", lambda m: f"layers.{int(m[1]) + 1}.downsample", k
            ): v
            for k, v in out.items()
        }
    return out


def load_backbone_weights(module: nn.Module, path: str | Path) -> None:
    """Load a local state-dict file into ``module`` (every parameter must match exactly).

    Raises:
        InputFileNotFoundError: no such file.
        InputDataError: the file holds no readable state dict.
        CheckpointError: names or shapes do not match the backbone.

    """
    path = Path(path)
    sd = clean_state_dict(_read_state_dict(path))
    own = module.state_dict()
    missing = [k for k in own if k not in sd]
    extra = [k for k in sd if k not in own]
    shapes = [k for k in own if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)]
    if missing or extra or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if extra:
            parts.append(f"{len(extra)} unexpected (e.g. {extra[0]})")
        if shapes:
            k = shapes[0]
            parts.append(
                f"{len(shapes)} of another shape (e.g. {k}: file {tuple(sd[k].shape)}, "
                f"model {tuple(own[k].shape)})"
            )
        raise CheckpointError(
            f"backbone_weights {path} does not fit the backbone: {'; '.join(parts)}; pass "
            "weights of the same architecture as the backbone name"
        )
    module.load_state_dict(sd, strict=True)
