"""pano's Swin Transformer is timm's: a timm state dict loads strictly and gives timm's features.

The fixtures were written by timm 1.0.31 (``tests/data/make_swin_fixture.py``, which needs
timm; timm does not import here): a tiny timm ``SwinTransformer`` with a shifted-window stage
and a patch-merging stage, its input and features; and the (name, shape) list of timm's
``swin_base_patch4_window7_224``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pano.errors import ShapeError
from pano.models.gaze_swin import SWIN_CONFIGS, SwinTransformer, swin_from_name

DATA = Path(__file__).resolve().parent / "data"


def _tiny() -> SwinTransformer:
    return SwinTransformer(
        img_size=32, patch_size=4, embed_dim=16, depths=(2, 2), num_heads=(1, 2), window_size=4
    )


def test_timm_state_dict_loads_strictly_and_matches_timm_features() -> None:
    fx = torch.load(DATA / "swin_tiny_timm.pt", weights_only=True)
    assert fx["timm_version"].startswith("1.0")
    model = _tiny().eval()
    assert set(model.state_dict()) == set(fx["state_dict"])
    model.load_state_dict(fx["state_dict"], strict=True)
    with torch.no_grad():
        tokens = model.forward_features(fx["input"])
        pooled = model(fx["input"])
    assert tokens.shape == fx["tokens"].shape == (2, 4, 4, 32)
    torch.testing.assert_close(tokens, fx["tokens"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pooled, fx["pooled"], atol=1e-5, rtol=1e-5)


def test_untrained_model_differs_from_timm_features() -> None:
    """The comparison above can fail: random weights give other features."""
    fx = torch.load(DATA / "swin_tiny_timm.pt", weights_only=True)
    torch.manual_seed(3)
    with torch.no_grad():
        pooled = _tiny().eval()(fx["input"])
    assert (pooled - fx["pooled"]).abs().max() > 1e-2


def test_shifted_block_has_the_timm_mask_and_last_stage_no_shift() -> None:
    model = _tiny()
    b0, b1 = model.layers[0].blocks  # 8x8 tokens, window 4: second block shifted by 2
    assert b0.shift == (0, 0) and b0.attn_mask is None
    assert b1.shift == (2, 2) and b1.attn_mask.shape == (4, 16, 16)
    assert set(b1.attn_mask.unique().tolist()) == {0.0, -100.0}
    last = model.layers[1].blocks[1]  # 4x4 tokens = one window: no shift (timm clamps)
    assert last.shift == (0, 0) and last.window == (4, 4)


def test_swin_base_names_and_shapes_equal_timms() -> None:
    ref = json.loads((DATA / "swin_base_timm_params.json").read_text(encoding="utf-8"))
    with torch.device("meta"):  # shapes only: no memory, no initialisation time
        model = swin_from_name("swin_base_patch4_window7_224")
    mine = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    assert mine == ref["params"]
    assert len(mine) == 327


@pytest.mark.parametrize(
    "name,dim,blocks",
    [
        ("swin_tiny_patch4_window7_224", 768, 12),
        ("swin_small_patch4_window7_224", 768, 24),
        ("swin_base_patch4_window7_224", 1024, 24),
    ],
)
def test_named_swin_configs(name: str, dim: int, blocks: int) -> None:
    with torch.device("meta"):
        model = swin_from_name(name)
    assert model.num_features == dim and name in SWIN_CONFIGS
    assert sum(len(stage.blocks) for stage in model.layers) == blocks
    # 224 / 4 = 56 tokens -> 56, 28, 14, 7: the last stage is one 7x7 window, unshifted.
    assert [stage.blocks[1].shift for stage in model.layers] == [(3, 3)] * 3 + [(0, 0)]


def test_wrong_input_size_is_a_shape_error() -> None:
    with pytest.raises(ShapeError, match=r"\(B, 3, 32, 32\)"):
        _tiny()(torch.rand(1, 3, 64, 64))
