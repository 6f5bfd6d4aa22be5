"""A pure-torch Swin Transformer whose state dict is timm's (``swin_*_patch4_window7_224``).

pano's own implementation of the Swin Transformer (Liu et al., ICCV 2021), written so that a
checkpoint of timm 1.0.x's ``SwinTransformer`` (``timm/models/swin_transformer.py``) loads
into it with ``strict=True`` and gives the same features: the same module tree and parameter
names (``patch_embed.proj``, ``layers.{i}.downsample.{norm,reduction}``,
``layers.{i}.blocks.{j}.{norm1,attn.qkv,attn.proj,attn.relative_position_bias_table,norm2,
mlp.fc1,mlp.fc2}``, ``norm``), the same shapes, the same non-persistent buffers
(``relative_position_index``, ``attn_mask``: not in the state dict) and the same maths
(patch merging order, cyclic shift, the -100 attention mask, window clamping when a stage is
no larger than its window). timm itself is not needed: on a CPU-only torch, PyPI's
torchvision wheels (which timm imports) do not load. ``tests/test_gaze_swin.py`` checks
the equivalence on a tiny model against features timm computed
(``tests/data/make_swin_fixture.py`` regenerates that fixture where timm imports), and the
parameter names and shapes of ``swin_base_patch4_window7_224`` against timm's list.

Shapes: input ``(B, 3, H, W)`` float (H, W = the configured ``img_size``); stages work on
``(B, h, w, C)`` tokens; :meth:`SwinTransformer.forward` returns the average-pooled,
layer-normed features ``(B, num_features)`` (timm's ``num_classes=0`` output, i.e. the
classification head is absent; a checkpoint's ``head.*`` keys are dropped by
:func:`pano.models.gaze_backbones.load_backbone_weights`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from pano.errors import ShapeError

__all__ = ["SWIN_CONFIGS", "SwinTransformer", "swin_from_name"]

#: timm's named Swin configurations pano provides without timm.
SWIN_CONFIGS: dict[str, dict[str, object]] = {
    "swin_tiny_patch4_window7_224": dict(
        patch_size=4, window_size=7, embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)
    ),
    "swin_small_patch4_window7_224": dict(
        patch_size=4, window_size=7, embed_dim=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)
    ),
    "swin_base_patch4_window7_224": dict(
        patch_size=4, window_size=7, embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)
    ),
}


def _relative_position_index(win_h: int, win_w: int) -> torch.Tensor:
    """(win_h*win_w, win_h*win_w) long: index into the (2h-1)(2w-1) bias table, as timm."""
    cpu = torch.device("cpu")  # index arithmetic on the CPU (also under a meta device context)
    ys, xs = torch.meshgrid(
        torch.arange(win_h, device=cpu), torch.arange(win_w, device=cpu), indexing="ij"
    )
    coords = torch.stack([ys.flatten(), xs.flatten()])  # 2, N
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)  # N, N, 2
    return (rel[..., 0] + win_h - 1) * (2 * win_w - 1) + (rel[..., 1] + win_w - 1)


def _windows(x: torch.Tensor, win: tuple[int, int]) -> torch.Tensor:
    """(B, H, W, C) -> (B * nW, win_h, win_w, C), windows in row-major order."""
    b, h, w, c = x.shape
    x = x.view(b, h // win[0], win[0], w // win[1], win[1], c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, win[0], win[1], c)


def _unwindows(x: torch.Tensor, win: tuple[int, int], h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`_windows`: (B * nW, win_h, win_w, C) -> (B, H, W, C)."""
    c = x.shape[-1]
    x = x.view(-1, h // win[0], w // win[1], win[0], win[1], c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, h, w, c)


class DropPath(nn.Module):
    """Stochastic depth: zero a sample's residual branch with probability ``p`` (training)."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class Mlp(nn.Module):
    """``fc1 -> GELU -> fc2`` (timm's ``Mlp`` parameter names)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class WindowAttention(nn.Module):
    """Multi-head self-attention inside a window, with a learned relative position bias."""

    def __init__(self, dim: int, num_heads: int, window: tuple[int, int]) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.window = window
        n_table = (2 * window[0] - 1) * (2 * window[1] - 1)
        self.relative_position_bias_table = nn.Parameter(torch.zeros(n_table, num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer(
            "relative_position_index", _relative_position_index(*window), persistent=False
        )
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """``x`` (B*nW, N, C); ``mask`` (nW, N, N) of 0 / -100 or None -> (B*nW, N, C)."""
        bw, n, c = x.shape
        qkv = self.qkv(x).reshape(bw, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        index: torch.Tensor = self.relative_position_index  # type: ignore[assignment]
        bias = self.relative_position_bias_table[index.view(-1)]
        bias = bias.view(n, n, -1).permute(2, 0, 1).unsqueeze(0)  # 1, heads, N, N
        if mask is not None:
            nw = mask.shape[0]
            bias = bias.unsqueeze(1) + mask.view(1, nw, 1, n, n)  # 1, nW, heads, N, N
            bias = bias.expand(bw // nw, -1, -1, -1, -1).reshape(bw, self.num_heads, n, n)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
        return self.proj(out.transpose(1, 2).reshape(bw, n, c))


class SwinBlock(nn.Module):
    """One Swin block (window attention, shifted when ``shift``), on (B, H, W, C) tokens."""

    def __init__(
        self,
        dim: int,
        resolution: tuple[int, int],
        num_heads: int,
        window: int,
        shift: bool,
        mlp_ratio: float,
        drop_path: float,
    ) -> None:
        super().__init__()
        # A stage no larger than the window: one window, no shift (timm's _calc_window_shift).
        self.window = tuple(r if r <= window else window for r in resolution)
        self.shift = tuple(0 if r <= window else (window // 2 if shift else 0) for r in resolution)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, num_heads, self.window)  # type: ignore[arg-type]
        self.drop_path1 = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path2 = DropPath(drop_path)
        self.register_buffer("attn_mask", self._mask(resolution), persistent=False)

    def _mask(self, resolution: tuple[int, int]) -> torch.Tensor | None:
        if not any(self.shift):
            return None
        wh, ww = self.window
        h = -(-resolution[0] // wh) * wh
        w = -(-resolution[1] // ww) * ww
        region = torch.zeros(1, h, w, 1, device="cpu")
        label = 0
        for hs in ((0, -wh), (-wh, -self.shift[0]), (-self.shift[0], None)):
            for ws in ((0, -ww), (-ww, -self.shift[1]), (-self.shift[1], None)):
                region[:, hs[0] : hs[1], ws[0] : ws[1], :] = label
                label += 1
        win = _windows(region, self.window).view(-1, wh * ww)  # type: ignore[arg-type]
        diff = win.unsqueeze(1) - win.unsqueeze(2)
        return torch.where(diff != 0, -100.0, 0.0)

    def _attention(self, x: torch.Tensor) -> torch.Tensor:
        _, h, w, c = x.shape
        win: tuple[int, int] = self.window  # type: ignore[assignment]
        sh, sw = self.shift
        if sh or sw:
            x = torch.roll(x, shifts=(-sh, -sw), dims=(1, 2))
        ph, pw = (win[0] - h % win[0]) % win[0], (win[1] - w % win[1]) % win[1]
        x = F.pad(x, (0, 0, 0, pw, 0, ph))
        hp, wp = x.shape[1], x.shape[2]
        out = self.attn(_windows(x, win).view(-1, win[0] * win[1], c), self.attn_mask)
        x = _unwindows(out.view(-1, win[0], win[1], c), win, hp, wp)[:, :h, :w, :]
        if sh or sw:
            x = torch.roll(x, shifts=(sh, sw), dims=(1, 2))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        x = x + self.drop_path1(self._attention(self.norm1(x)))
        x = x.reshape(b, -1, c)
        x = x + self.drop_path2(self.mlp(self.norm2(x)))
        return x.reshape(b, h, w, c)


class PatchMerging(nn.Module):
    """2x2 neighbourhood -> one token: (B, H, W, C) -> (B, ceil(H/2), ceil(W/2), out_dim)."""

    def __init__(self, dim: int, out_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, out_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        h, w = x.shape[1], x.shape[2]
        # Channel order (w-offset, h-offset, C): timm's (and the original Swin's) layout.
        x = x.reshape(b, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 4, 2, 5).flatten(3)
        return self.reduction(self.norm(x))


class SwinStage(nn.Module):
    """Optional patch merging followed by ``depth`` blocks (alternately unshifted / shifted)."""

    def __init__(
        self,
        dim: int,
        out_dim: int,
        resolution: tuple[int, int],
        depth: int,
        downsample: bool,
        num_heads: int,
        window: int,
        mlp_ratio: float,
        drop_path: Sequence[float],
    ) -> None:
        super().__init__()
        self.downsample: nn.Module = PatchMerging(dim, out_dim) if downsample else nn.Identity()
        out_res = ((resolution[0] + 1) // 2, (resolution[1] + 1) // 2) if downsample else resolution
        self.blocks = nn.Sequential(
            *[
                SwinBlock(out_dim, out_res, num_heads, window, i % 2 == 1, mlp_ratio, drop_path[i])
                for i in range(depth)
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch_size`` patches -> tokens: (B, 3, H, W) -> (B, H/p, W/p, C)."""

    def __init__(self, patch_size: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class SwinTransformer(nn.Module):
    """Swin Transformer feature extractor, state-dict compatible with timm's (no head).

    Args:
        img_size: input height = width in pixels (the attention masks are built for it).
        patch_size: patch edge in pixels.
        in_chans: input channels.
        embed_dim: channels of stage 0 (doubled at every later stage).
        depths: blocks per stage.
        num_heads: attention heads per stage.
        window_size: attention window edge in tokens.
        mlp_ratio: MLP hidden / channels.
        drop_path_rate: stochastic depth, linearly increasing over all blocks (timm: 0.1).

    """

    def __init__(
        self,
        img_size: int = 224,
        patch_size: int = 4,
        in_chans: int = 3,
        embed_dim: int = 96,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_size: int = 7,
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.1,
    ) -> None:
        super().__init__()
        self.img_size = int(img_size)
        self.in_chans = int(in_chans)
        n = len(depths)
        dims = [int(embed_dim * 2**i) for i in range(n)]
        self.num_features = dims[-1]
        self.patch_embed = PatchEmbed(patch_size, in_chans, dims[0])
        grid = img_size // patch_size
        total = sum(depths)  # stochastic depth rising linearly 0 -> drop_path_rate (timm)
        rates = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]
        stages = []
        res = (grid, grid)
        start = 0
        for i in range(n):
            stage = SwinStage(
                dims[max(i - 1, 0)],
                dims[i],
                res,
                depths[i],
                i > 0,
                num_heads[i],
                window_size,
                mlp_ratio,
                rates[start : start + depths[i]],
            )
            stages.append(stage)
            start += depths[i]
            if i > 0:  # as timm: stage i > 0 merges patches, halving its input resolution
                res = (res[0] + 1) // 2, (res[1] + 1) // 2
        self.layers = nn.Sequential(*stages)
        self.norm = nn.LayerNorm(self.num_features)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, img, img) -> (B, h, w, num_features) tokens after the final LayerNorm."""
        want = (self.in_chans, self.img_size, self.img_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != want:
            raise ShapeError(
                f"Swin input must be (B, {self.in_chans}, {self.img_size}, {self.img_size}), "
                f"got {tuple(x.shape)}"
            )
        return self.norm(self.layers(self.patch_embed(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, img, img) -> (B, num_features): the token average of the final features."""
        return self.forward_features(x).mean(dim=(1, 2))


def swin_from_name(name: str, img_size: int = 224) -> SwinTransformer:
    """The named timm configuration (a key of :data:`SWIN_CONFIGS`), untrained."""
    cfg = SWIN_CONFIGS[name]
    return SwinTransformer(img_size=img_size, **cfg)  # type: ignore[arg-type]
