"""Position-only seq2seq LSTM (TRACK's strongest position-only baseline), on the sphere.

The history is rotated into the head frame of the origin sample (:func:`head_frame`), so
the origin sits at the front ``[1, 0, 0]`` with no roll and the model sees only *relative*
motion plus the origin's latitude (people behave differently near the poles). An LSTM
encodes the per-step tangent offsets and increments; an LSTM decoder emits one tangent
*increment* per horizon step; their running sum, mapped back to the sphere by the
exponential map at the front and rotated back to the world frame, is the forecast. Outputs
are unit vectors by construction (renormalised). The output layer starts at zero, so an
untrained model is the no-motion baseline and training learns a residual over it.
"""

from __future__ import annotations

import torch
from torch import nn

from pano.models.base import HMForecaster
from pano.models.sphere import from_frame, front_exp, front_log, head_frame, to_frame


def history_features(history_xyz: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Head-frame features of a history.

    Args:
        history_xyz: ``(B, T, 3)`` unit vectors (world frame).
        scale: multiplier applied to radians so typical values are O(1).

    Returns:
        ``(rot, feats)``: world->head rotations ``(B, 3, 3)`` of the origin sample and
        features ``(B, T, 5)`` = scaled offsets (left, up), scaled increments (left, up),
        and ``sin(latitude)`` of the origin.

    """
    last = history_xyz[:, -1, :]
    rot = head_frame(last)
    local = to_frame(rot, history_xyz)  # (B, T, 3); last row = [1, 0, 0]
    off = front_log(local)  # (B, T, 2) radians (left, up)
    inc = torch.diff(off, dim=1, prepend=off[:, :1])
    lat = last[:, 2:3].clamp(-1, 1)[:, None, :].expand(-1, history_xyz.shape[1], -1)
    return rot, torch.cat([off * scale, inc * scale, lat], -1)


class Seq2SeqForecaster(HMForecaster):
    """Encoder-decoder LSTM over head-frame tangent steps.

    Args:
        history, horizon: see :class:`HMForecaster`.
        hidden: LSTM width.
        layers: encoder LSTM layers.
        scale: radians -> network units (10 maps 0.1 rad = 5.7° to 1).
        dropout: dropout on the decoder input features.

    """

    def __init__(
        self,
        history: int = 5,
        horizon: int = 25,
        hidden: int = 64,
        layers: int = 1,
        scale: float = 10.0,
        dropout: float = 0.0,
        context_dim: int = 0,
    ) -> None:
        super().__init__(history, horizon)
        self.hidden = int(hidden)
        self.scale = float(scale)
        self.context_dim = int(context_dim)
        self.encoder = nn.LSTM(5, hidden, num_layers=layers, batch_first=True)
        self.ctx = nn.Linear(context_dim, hidden) if context_dim else None
        self.decoder = nn.LSTMCell(2 + 1 + hidden, hidden)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, 2)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def _decode(
        self,
        history_xyz: torch.Tensor,
        context: torch.Tensor | None,
        blend: tuple[torch.Tensor, torch.Tensor] | None = None,
        anchor: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Run encoder + decoder; ``context`` is ``(B, H, context_dim)`` per-step features."""
        self.check_history(history_xyz)
        b = history_xyz.shape[0]
        rot, feats = history_features(history_xyz, self.scale)
        enc_out, (h_n, c_n) = self.encoder(feats)
        h, c = h_n[-1], c_n[-1]
        summary = enc_out[:, -1]
        prev = feats[:, -1, 2:4]  # last increment (scaled)
        pos = torch.zeros(b, 2, dtype=feats.dtype, device=feats.device)
        outs = []
        for k in range(self.horizon):
            t = torch.full((b, 1), (k + 1) / self.horizon, dtype=feats.dtype, device=feats.device)
            extra = summary
            if self.ctx is not None and context is not None:
                extra = summary + torch.tanh(self.ctx(context[:, k]))
            h, c = self.decoder(self.drop(torch.cat([prev, t, extra], -1)), (h, c))
            step = self.out(h)
            pos = pos + step / self.scale
            outs.append(pos)
            prev = step
        offsets = torch.stack(outs, 1)  # (B, H, 2) radians in the head frame
        if blend is not None:
            # Content models: mix in a content-derived head-frame path with weights (B, H, 1).
            target, w = blend
            offsets = offsets + w * (target - offsets)
        if anchor is not None:
            # Saliency models: the decoder's path is a correction added to a content-derived
            # head-frame path scaled by weights (B, H, 1).
            target, w = anchor
            offsets = offsets + w * target
        return from_frame(rot, front_exp(offsets))

    def forecast(
        self, history_xyz: torch.Tensor, viewports: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(B, T_h, 3) -> (B, H, 3)``; ``viewports`` are ignored (position only)."""
        return self._decode(history_xyz, None)
