"""The gaze model (backbones, GRM head), its loss and its augmentations."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from pano.config import load_config
from pano.errors import CheckpointError, ConfigError, InputDataError, InputFileNotFoundError
from pano.geometry import gazehub_to_camvec
from pano.models.gaze_augment import GazeAugmentConfig, augment_batch, predict_gaze
from pano.models.gaze_backbones import (
    PANO_BACKBONES,
    build_backbone,
    load_backbone_weights,
    read_safetensors,
)
from pano.models.gaze_grm import GazeModelConfig, GazeOutput, build_gaze_model
from pano.models.gaze_loss import GazeLossConfig, gaze_loss, pinball_loss
from pano.models.gaze_swin import SwinTransformer

SMALL = GazeModelConfig(backbone="pano_cnn_tiny", image_size=32, hidden=16, dropout=0.0)


# ---------------------------------------------------------------- backbones


@pytest.mark.parametrize(
    "name,dim,lo,hi", [("pano_cnn_small", 128, 100e3, 300e3), ("pano_cnn_tiny", 64, 1e3, 100e3)]
)
def test_cnn_backbones_size_and_output(name: str, dim: int, lo: float, hi: float) -> None:
    module, d = build_backbone(name, img_size=64)
    assert d == dim
    n = sum(p.numel() for p in module.parameters())
    assert lo < n < hi
    assert module(torch.rand(2, 3, 64, 64)).shape == (2, dim)


def test_unknown_name_without_timm_is_one_clear_line() -> None:
    try:
        import timm  # noqa: F401
    except Exception:
        pass
    else:  # pragma: no cover - only where timm imports
        pytest.skip("timm imports here")
    with pytest.raises(ConfigError, match="not importable") as info:
        build_backbone("resnet18")
    msg = str(info.value)
    assert "\n" not in msg and "pano_cnn_small" in msg and "swin_base_patch4_window7_224" in msg


@pytest.mark.parametrize(
    "weights", ["hf-hub:timm/swin_base_patch4_window7_224", "timm/swin_base", "true"]
)
def test_hub_names_are_refused(weights: str) -> None:
    with pytest.raises(ConfigError, match="downloads nothing"):
        build_backbone("pano_cnn_tiny", weights)
    with pytest.raises(ConfigError, match="downloads nothing"):
        load_config(GazeModelConfig, overrides={"backbone_weights": weights})


def test_pretrained_true_is_refused() -> None:
    with pytest.raises(ConfigError, match="downloads nothing"):
        load_config(GazeModelConfig, overrides={"pretrained": True})


def _write_safetensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Written from the format's description: u64 LE header size, JSON header, raw bytes."""
    names = {torch.float32: "F32", torch.int64: "I64"}
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    blobs, off = [], 0
    for k, t in tensors.items():
        raw = t.contiguous().numpy().tobytes()
        header[k] = {
            "dtype": names[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [off, off + len(raw)],
        }
        blobs.append(raw)
        off += len(raw)
    head = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(head)) + head + b"".join(blobs))


def test_weights_from_pt_and_safetensors_with_prefix_and_head(tmp_path: Path) -> None:
    src, _ = build_backbone("pano_cnn_tiny")
    sd = {f"module.{k}": v for k, v in src.state_dict().items()}
    sd["head.fc.weight"] = torch.zeros(10, 64)
    torch.save({"model": sd}, tmp_path / "w.pth")
    _write_safetensors(
        tmp_path / "w.safetensors", {f"model.{k}": v for k, v in src.state_dict().items()}
    )
    x = torch.rand(2, 3, 32, 32)
    src.eval()
    for name in ("w.pth", "w.safetensors"):
        dst, _ = build_backbone("pano_cnn_tiny", tmp_path / name)
        dst.eval()
        torch.testing.assert_close(dst(x), src(x))
    back = read_safetensors(tmp_path / "w.safetensors")
    assert set(back) == {f"model.{k}" for k in src.state_dict()}


def test_microsoft_swin_layout_is_renumbered(tmp_path: Path) -> None:
    """Original Swin checkpoints put patch merging at the END of stage i (timm: start of i+1)."""
    torch.manual_seed(0)
    kw = dict(img_size=32, embed_dim=8, depths=(1, 1, 1), num_heads=(1, 1, 1), window_size=2)
    src = SwinTransformer(**kw)  # type: ignore[arg-type]
    sd = {}
    for k, v in src.state_dict().items():
        for i in (1, 2):
            k = k.replace(f"layers.{i}.downsample", f"layers.{i - 1}.downsample")
        sd[k] = v
    assert "layers.0.downsample.reduction.weight" in sd
    sd["layers.0.blocks.0.attn.relative_position_index"] = torch.zeros(4, 4, dtype=torch.long)
    sd["head.weight"] = torch.zeros(10, 32)
    torch.save(sd, tmp_path / "ms.pth")
    dst = SwinTransformer(**kw)  # type: ignore[arg-type]
    load_backbone_weights(dst, tmp_path / "ms.pth")
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k


def test_bad_weight_files(tmp_path: Path) -> None:
    with pytest.raises(InputFileNotFoundError, match="no such file"):
        build_backbone("pano_cnn_tiny", tmp_path / "absent.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a pickle")
    with pytest.raises(InputDataError, match="weights_only"):
        build_backbone("pano_cnn_tiny", tmp_path / "junk.pth")
    (tmp_path / "junk.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{bad}")
    with pytest.raises(InputDataError, match="safetensors"):
        build_backbone("pano_cnn_tiny", tmp_path / "junk.safetensors")
    other, _ = build_backbone("pano_cnn_small")
    torch.save(other.state_dict(), tmp_path / "other.pth")
    tiny, _ = build_backbone("pano_cnn_tiny")
    with pytest.raises(CheckpointError, match="another shape"):
        load_backbone_weights(tiny, tmp_path / "other.pth")


# ---------------------------------------------------------------- model


def test_config_from_yaml(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("backbone: pano_cnn_small\ndropout: 0.1\nimage_size: 64\n")
    cfg = load_config(GazeModelConfig, tmp_path / "m.yaml")
    assert (cfg.backbone, cfg.dropout, cfg.image_size, cfg.hidden) == (
        "pano_cnn_small",
        0.1,
        64,
        1024,
    )
    assert GazeModelConfig().backbone == "swin_base_patch4_window7_224"
    assert set(PANO_BACKBONES) >= {"pano_cnn_small", "swin_base_patch4_window7_224"}


def test_output_shapes_ranges_and_vector() -> None:
    torch.manual_seed(0)
    model = build_gaze_model(SMALL).eval()
    # Push the head to saturation so the range limits are exercised.
    with torch.no_grad():
        model.out.weight.mul_(200.0)
        out = model(torch.rand(16, 3, 32, 32))
    assert (
        out.angles.shape == (16, 2) and out.sigma.shape == (16, 2) and out.vector.shape == (16, 3)
    )
    assert out.yaw.abs().max() <= math.pi and out.pitch.abs().max() <= math.pi / 2
    assert (out.sigma >= 0).all() and (out.sigma <= math.pi).all()
    torch.testing.assert_close(out.vector.norm(dim=1), torch.ones(16))
    torch.testing.assert_close(out.vector, gazehub_to_camvec(out.yaw, out.pitch))


def test_zero_head_looks_into_the_camera() -> None:
    """Landmark: raw outputs 0 -> yaw = pitch = 0 -> gaze (0, 0, -1); sigma = pi/2."""
    model = build_gaze_model(SMALL).eval()
    with torch.no_grad():
        model.out.weight.zero_()
        model.out.bias.zero_()
        out = model(torch.rand(2, 3, 32, 32))
    torch.testing.assert_close(out.vector, torch.tensor([[0.0, 0.0, -1.0]] * 2))
    torch.testing.assert_close(out.sigma, torch.full((2, 2), math.pi / 2))


def test_shared_sigma_expands_one_value() -> None:
    model = build_gaze_model(SMALL.model_copy(update={"shared_sigma": True})).eval()
    assert model.out.out_features == 3
    with torch.no_grad():
        out = model(torch.rand(3, 3, 32, 32))
    assert torch.equal(out.sigma[:, 0], out.sigma[:, 1])


# ---------------------------------------------------------------- loss


def test_loss_hand_computed_two_samples() -> None:
    pred = torch.tensor([[0.1, -0.2], [0.0, 0.3]])
    target = torch.tensor([[0.3, -0.2], [-0.1, 0.1]])
    sigma = torch.tensor([[0.1, 0.2], [0.05, 0.1]])
    # e_lo = t - p + s, e_hi = t - p - s (elementwise), q = 0.1
    e_lo = np.array([[0.3, 0.2], [-0.05, -0.1]])
    e_hi = np.array([[0.1, -0.2], [-0.15, -0.3]])
    lo = np.maximum(0.1 * e_lo, -0.9 * e_lo).mean()
    hi = np.maximum(0.9 * e_hi, -0.1 * e_hi).mean()
    # by hand: lo = (0.03 + 0.02 + 0.045 + 0.09) / 4 = 0.04625
    #          hi = (0.09 + 0.02 + 0.015 + 0.03) / 4 = 0.03875
    assert lo == pytest.approx(0.04625) and hi == pytest.approx(0.03875)
    mse = (0.04 + 0 + 0.01 + 0.04) / 4
    bias = (0.0 + 0.4 + 0.05 + 0.2) / 4
    loss, parts = gaze_loss(pred, target, sigma)
    assert parts["pinball"] == pytest.approx(0.085, abs=1e-6)
    assert parts["mse"] == pytest.approx(mse, abs=1e-6)
    assert parts["bias"] == pytest.approx(bias, abs=1e-6)
    assert float(loss) == pytest.approx(0.085 + 0.8 * mse + 0.1 * bias, abs=1e-6)
    cfg = GazeLossConfig(w_pinball=0.0, w_mse=1.0, w_bias=0.0)
    assert float(gaze_loss(pred, target, sigma, cfg)[0]) == pytest.approx(mse, abs=1e-6)


def test_loss_zero_gradient_at_the_label_and_minimal_sigma() -> None:
    target = torch.tensor([[0.2, -0.1], [-0.4, 0.3]])
    pred = target.clone().requires_grad_(True)
    sigma = torch.full((2, 2), 0.3, requires_grad=True)
    cfg = GazeLossConfig(w_bias=0.0)
    loss, parts = gaze_loss(pred, target, sigma, cfg)
    loss.backward()
    assert pred.grad is not None and sigma.grad is not None
    torch.testing.assert_close(pred.grad, torch.zeros(2, 2))  # quantile terms cancel; MSE 0
    assert parts["pinball"] == pytest.approx(2 * 0.1 * 0.3)  # 2 q s
    assert (sigma.grad > 0).all()  # shrinking sigma lowers it: minimal at sigma -> 0
    # Away from the label the gradient pushes the prediction towards it.
    pred2 = (target + 0.5).requires_grad_(True)
    pinball_loss(pred2, target, sigma.detach()).backward()
    assert pred2.grad is not None and (pred2.grad > 0).all()


def test_a_few_steps_reduce_the_loss() -> None:
    torch.manual_seed(0)
    model = build_gaze_model(SMALL)
    x = torch.rand(8, 3, 32, 32)
    target = torch.rand(8, 2) * 0.6 - 0.3
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        out = model(x)
        loss, _ = gaze_loss(out.angles, target, out.sigma)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


# ---------------------------------------------------------------- augmentation


def test_augment_keeps_range_and_labels_and_flip_negates_yaw() -> None:
    torch.manual_seed(0)
    x = torch.rand(6, 3, 32, 32)
    ang = torch.tensor([[0.3, 0.1]] * 6)
    y, a = augment_batch(x, ang)
    assert y.shape == x.shape and 0.0 <= float(y.min()) and float(y.max()) <= 1.0
    assert not torch.equal(y, x) and torch.equal(a, ang)
    only_flip = GazeAugmentConfig(jitter_p=0.0, affine_p=0.0, hflip_p=1.0)
    y, a = augment_batch(x, ang, only_flip)
    torch.testing.assert_close(y, x.flip(-1))
    torch.testing.assert_close(a, torch.tensor([[-0.3, 0.1]] * 6))
    # mirrored image <-> mirrored gaze: x component of the vector changes sign
    torch.testing.assert_close(
        gazehub_to_camvec(a[:, 0], a[:, 1]) * torch.tensor([-1.0, 1.0, 1.0]),
        gazehub_to_camvec(ang[:, 0], ang[:, 1]),
    )
    y, a = augment_batch(x, ang, GazeAugmentConfig(enabled=False))
    assert y is x and a is ang



def _asym(t: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B,): mean of the left half minus mean of the right half."""
    w = t.shape[-1] // 2
    return t[..., :w].mean((1, 2, 3)) - t[..., -w:].mean((1, 2, 3))


class _ToyGaze(torch.nn.Module):
    """A model with a known output: ``yaw = A + B asym(face) + K (mean eye0 - mean eye1)
    + K2 (asym(eye0) + asym(eye1))``, ``pitch = C``, ``sigma = (S0 + S1 asym(face), S2)``."""

    A, B, K, K2, C, S0, S1, S2 = 0.3, 0.5, 0.4, 0.7, 0.2, 0.1, 0.05, 0.2

    def forward(self, x: torch.Tensor, eyes: torch.Tensor | None = None) -> GazeOutput:
        yaw = self.A + self.B * _asym(x)
        if eyes is not None:
            e0, e1 = eyes[:, :1], eyes[:, 1:]
            yaw = yaw + self.K * (e0.mean((1, 2, 3)) - e1.mean((1, 2, 3)))
            yaw = yaw + self.K2 * (_asym(e0) + _asym(e1))
        pitch = torch.full_like(yaw, self.C)
        sigma = torch.stack([self.S0 + self.S1 * _asym(x), torch.full_like(yaw, self.S2)], 1)
        return GazeOutput(torch.stack([yaw, pitch], 1), sigma, gazehub_to_camvec(yaw, pitch))


def test_predict_gaze_hflip_matches_the_hand_computed_mirror_combination() -> None:
    """Mirroring negates every left/right-odd term of the toy's yaw, and the mirror's yaw is
    negated back: the two yaws are ``A + m`` and ``-A + m`` (m = the odd terms) at the same
    pitch C, whose normalised vector sum has yaw m (the constant bias A cancels) and pitch
    atan2(sin C, cos C cos A); sigma is the mean of the two (asym terms cancel)."""
    from pano.errors import ShapeError

    toy = _ToyGaze()
    g = torch.Generator().manual_seed(0)
    faces, eyes = torch.rand(5, 3, 16, 16, generator=g), torch.rand(5, 2, 6, 10, generator=g)
    e0, e1 = eyes[:, :1].double(), eyes[:, 1:].double()
    m = (
        toy.B * _asym(faces.double())
        + toy.K * (e0.mean((1, 2, 3)) - e1.mean((1, 2, 3)))
        + toy.K2 * (_asym(e0) + _asym(e1))
    )
    assert float(m.abs().min()) > 1e-3  # the odd terms are not trivially zero
    pitch = math.atan2(math.sin(toy.C), math.cos(toy.C) * math.cos(toy.A))
    got = predict_gaze(toy, faces, eyes, hflip=True)
    assert got.angles.dtype == got.sigma.dtype == got.vector.dtype == torch.float64
    assert got.angles.shape == got.sigma.shape == (5, 2) and got.vector.shape == (5, 3)
    torch.testing.assert_close(got.angles[:, 0], m, atol=1e-6, rtol=0)
    torch.testing.assert_close(got.angles[:, 1], torch.full((5,), pitch, dtype=torch.float64),
                               atol=1e-6, rtol=0)  # fmt: skip
    torch.testing.assert_close(got.sigma, torch.tensor([[toy.S0, toy.S2]] * 5, dtype=torch.float64),
                               atol=1e-6, rtol=0)  # fmt: skip
    torch.testing.assert_close(got.vector, gazehub_to_camvec(got.angles[:, 0], got.angles[:, 1]))
    # without hflip: the model's own output, in float64
    plain = predict_gaze(toy, faces, eyes)
    torch.testing.assert_close(plain.angles[:, 0], toy.A + m, atol=1e-6, rtol=0)
    assert plain.angles.dtype == torch.float64
    assert float((plain.angles[:, 0] - got.angles[:, 0] - toy.A).abs().max()) < 1e-6
    # a face-only call mirrors the face alone
    face_only = predict_gaze(toy, faces, hflip=True)
    torch.testing.assert_close(face_only.angles[:, 0], toy.B * _asym(faces.double()),
                               atol=1e-6, rtol=0)  # fmt: skip
    with pytest.raises(ShapeError, match="faces must be"):
        predict_gaze(toy, faces[0])
    with pytest.raises(ShapeError, match="eyes must be"):
        predict_gaze(toy, faces, eyes[:3])

def test_eye_stream_needs_eye_crops_and_changes_the_output() -> None:
    from pano.errors import ShapeError

    cfg = GazeModelConfig(backbone="pano_cnn_tiny", image_size=32, hidden=16, eyes=True)
    model = build_gaze_model(cfg).eval()
    # 36 x 60 crops after four stride-2 blocks: 3 x 4 x 64 flattened, per eye
    assert model.feature_dim == 64 + 2 * 64 * 3 * 4
    face = torch.rand(3, 3, 32, 32)
    eyes = torch.rand(3, 2, 36, 60)
    out = model(face, eyes)
    assert out.angles.shape == (3, 2) and out.vector.shape == (3, 3)
    with torch.no_grad():
        moved = model(face, eyes.flip(-1)).angles  # the eye pixels reach the output
    assert not torch.allclose(moved, out.angles)
    with pytest.raises(ShapeError, match="needs eye crops"):
        model(face)
    with pytest.raises(ShapeError, match="needs eye crops"):
        model(face, torch.rand(3, 2, 30, 60))
    plain = build_gaze_model(GazeModelConfig(backbone="pano_cnn_tiny", image_size=32)).eval()
    with pytest.raises(ShapeError, match="without eyes"):
        plain(face, eyes)


def test_eye_augment_keeps_shape_range_and_is_off_by_default() -> None:
    from pano.models.gaze_augment import augment_eyes

    eyes = torch.rand(4, 2, 36, 60)
    assert torch.equal(augment_eyes(eyes), eyes)  # every eye augmentation is 0 by default
    torch.manual_seed(0)
    cfg = GazeAugmentConfig(eye_translate=0.05, eye_scale=0.05, eye_jitter=0.2)
    out = augment_eyes(eyes, cfg)
    assert out.shape == eyes.shape and out.min() >= 0 and out.max() <= 1
    assert not torch.allclose(out, eyes)
    assert torch.equal(augment_eyes(eyes, GazeAugmentConfig(enabled=False, eye_jitter=0.2)), eyes)
