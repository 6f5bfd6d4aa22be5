"""The one interface of pano's trajectory models: observe history (+ viewports), predict future HM.

Protocol (TRACK, :doc:`docs/training.md`): head directions resampled to 5 Hz, a history of
``T_h = 5`` samples (1 s) ending at the *origin* sample, a horizon of ``H = 25`` steps
(0.2 .. 5 s). Step ``h`` (1-based) of the output is the direction ``h / 5`` s after the origin.
"""

from __future__ import annotations

import torch
from torch import nn

from pano.errors import ParameterError, ShapeError


class HMForecaster(nn.Module):
    """Base class: ``forecast(history_xyz (B, T_h, 3), viewports=None) -> (B, H, 3)``.

    Attributes:
        history: number of observed samples the model expects (``T_h``).
        horizon: number of future steps it predicts (``H``).
        needs_viewports: True when :meth:`forecast` requires ``viewports``.
        content_steps: for content-aware models, the horizon steps (0 = the origin sample)
            whose video frames the viewports must show; empty otherwise.
        trainable: False for closed-form baselines (nothing to fit).

    """

    needs_viewports: bool = False
    trainable: bool = True

    def __init__(self, history: int = 5, horizon: int = 25) -> None:
        super().__init__()
        if history < 1 or horizon < 1:
            raise ParameterError(f"history ({history}) and horizon ({horizon}) must be >= 1")
        self.history = int(history)
        self.horizon = int(horizon)
        self.content_steps: tuple[int, ...] = ()

    def check_history(self, history_xyz: torch.Tensor) -> None:
        """Raise :class:`ShapeError` unless ``history_xyz`` is ``(B, T, 3)`` float, T >= 1."""
        if history_xyz.ndim != 3 or history_xyz.shape[-1] != 3 or history_xyz.shape[1] < 1:
            raise ShapeError(
                f"history_xyz must have shape (B, T_h, 3), got {tuple(history_xyz.shape)}"
            )
        if not history_xyz.is_floating_point():
            raise ShapeError(f"history_xyz must be a float tensor, got {history_xyz.dtype}")

    def forecast(
        self, history_xyz: torch.Tensor, viewports: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Predict the next ``horizon`` head directions.

        Args:
            history_xyz: ``(B, T_h, 3)`` unit vectors, oldest first; the last row is the
                origin sample. No NaN (callers drop windows with gaps).
            viewports: ``(B, K, C, h, w)`` float in ``[0, 1]`` for content-aware models:
                view ``k`` is centred on the origin direction (no roll) and shows the video
                frame at horizon step ``content_steps[k]``. Ignored by other models.

        Returns:
            ``(B, H, 3)`` unit vectors; row ``h - 1`` is ``h / rate`` seconds after the origin.

        """
        raise NotImplementedError

    def forward(
        self, history_xyz: torch.Tensor, viewports: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Same as :meth:`forecast` (so DDP wrappers can call the module)."""
        return self.forecast(history_xyz, viewports)
