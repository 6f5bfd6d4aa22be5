"""Constant angular velocity on the sphere: keep turning along the current great circle."""

from __future__ import annotations

import torch

from pano.errors import ParameterError
from pano.models.base import HMForecaster
from pano.models.sphere import exp_map, log_map


class ConstantVelocity(HMForecaster):
    """Extrapolate the mean angular velocity of the last ``window`` steps along a great circle.

    The velocity is the tangent vector at the origin sample pointing *away* from the sample
    ``window`` steps earlier, scaled to the angle per step. Step ``h`` is reached by moving
    ``h`` times that angle along the great circle (the exponential map), so the prediction
    never leaves the sphere and crosses the ±180° seam and the poles correctly.

    Args:
        history, horizon: see :class:`HMForecaster`.
        window: steps used to estimate the velocity (1 = last two samples).
        damping: per-step decay of the speed (0 = none); the angle after ``h`` steps is
            ``sum_{i<h} (1 - damping)**i`` velocities.

    """

    trainable = False

    def __init__(
        self, history: int = 5, horizon: int = 25, window: int = 1, damping: float = 0.0
    ) -> None:
        super().__init__(history, horizon)
        if not 1 <= window:
            raise ParameterError(f"window must be >= 1, got {window}")
        if not 0.0 <= damping < 1.0:
            raise ParameterError(f"damping must be in [0, 1), got {damping}")
        self.window = int(window)
        self.damping = float(damping)

    def forecast(
        self, history_xyz: torch.Tensor, viewports: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(B, T_h, 3) -> (B, H, 3)`` by constant angular velocity."""
        self.check_history(history_xyz)
        w = min(self.window, history_xyz.shape[1] - 1)
        last = history_xyz[:, -1, :]
        if w < 1:
            return last[:, None, :].expand(-1, self.horizon, -1).clone()
        back = log_map(last, history_xyz[:, -1 - w, :])  # tangent at last, towards the past
        vel = -back / w  # (B, 3) radians per step
        h = torch.arange(1, self.horizon + 1, dtype=last.dtype, device=last.device)
        if self.damping > 0:
            r = 1.0 - self.damping
            h = (1.0 - r**h) / (1.0 - r)
        steps = vel[:, None, :] * h[None, :, None]
        return exp_map(last[:, None, :].expand_as(steps), steps)
