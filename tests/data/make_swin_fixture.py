"""Regenerate the timm Swin fixtures used by ``tests/test_gaze_swin.py`` (needs timm).

Run with a Python where ``timm`` (1.0.x) imports::

    python tests/data/make_swin_fixture.py

It writes, next to this script:

- ``swin_tiny_timm.pt``: the state dict of a TINY timm ``SwinTransformer`` (img 32, patch 4,
  window 4, embed_dim 16, depths (2, 2), heads (1, 2), ``num_classes=0``, seed 0, weights
  randomised beyond timm's init so LayerNorm/bias terms are exercised), a fixed input
  ``(2, 3, 32, 32)`` and timm's output features in eval mode (``forward`` = pooled features,
  and ``forward_features`` = the (B, h, w, C) tokens).
- ``swin_base_timm_params.json``: ``[[name, shape], ...]`` of timm's
  ``swin_base_patch4_window7_224`` with ``num_classes=0`` (built untrained; nothing downloaded).

On a CPU-only torch, PyPI's torchvision wheel (which timm imports) fails while registering
fake kernels for its C++ operators (``operator torchvision::nms does not exist``). This
script is a one-off generator, not pano code: it makes that import pass by turning
``torch.library.register_fake`` into a no-op while torchvision is imported (timm's Swin
uses no torchvision operator).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.library

HERE = Path(__file__).resolve().parent
TINY = dict(
    img_size=32,
    patch_size=4,
    window_size=4,
    embed_dim=16,
    depths=(2, 2),
    num_heads=(1, 2),
    num_classes=0,
)


def _import_timm():
    orig = torch.library.register_fake
    torch.library.register_fake = lambda *a, **k: lambda fn: fn  # type: ignore[assignment]
    try:
        import torchvision  # noqa: F401
    except Exception:
        pass
    finally:
        torch.library.register_fake = orig
    import timm

    return timm


def main() -> None:
    """Write the two fixtures."""
    timm = _import_timm()
    from timm.models.swin_transformer import SwinTransformer

    torch.manual_seed(0)
    model = SwinTransformer(**TINY).eval()
    with torch.no_grad():  # perturb every parameter so no term is a trivial 0/1
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        tokens = model.forward_features(x)
        pooled = model(x)
    torch.save(
        {
            "config": {k: list(v) if isinstance(v, tuple) else v for k, v in TINY.items()},
            "timm_version": timm.__version__,
            "state_dict": {k: v.clone() for k, v in model.state_dict().items()},
            "input": x,
            "tokens": tokens,
            "pooled": pooled,
        },
        HERE / "swin_tiny_timm.pt",
    )
    base = timm.create_model("swin_base_patch4_window7_224", pretrained=False, num_classes=0)
    params = [[k, list(v.shape)] for k, v in base.state_dict().items()]
    out = {"timm_version": timm.__version__, "params": params}
    (HERE / "swin_base_timm_params.json").write_text(json.dumps(out) + "\n", encoding="utf-8")
    print(f"wrote {len(params)} swin_base names; tiny pooled {tuple(pooled.shape)}")


if __name__ == "__main__":
    main()
