"""No-motion baseline: the head stays where it was last seen."""

from __future__ import annotations

import torch

from pano.models.base import HMForecaster


class NoMotion(HMForecaster):
    """Repeat the origin sample for every horizon step."""

    trainable = False

    def forecast(
        self, history_xyz: torch.Tensor, viewports: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(B, T_h, 3) -> (B, H, 3)``: the last observed direction, ``H`` times."""
        self.check_history(history_xyz)
        last = history_xyz[:, -1:, :]
        return last.expand(-1, self.horizon, -1).clone()
