"""DGE-GM's mixed gaze loss: pinball on gaze +- sigma, plus MSE, plus a "bias" term.

For predicted angles ``p`` (B, 2) = [yaw, pitch] radians, labels ``t`` (B, 2) in the same
order and units, and the predicted spread ``s`` (B, 2) > 0 (radians)::

    e_lo = t - (p - s)                  # the lower bound p - s should be the q-quantile
    e_hi = t - (p + s)                  # the upper bound p + s the (1 - q)-quantile
    pinball = mean(max(q e_lo, (q - 1) e_lo)) + mean(max((1 - q) e_hi, -q e_hi))
    mse     = mean((p - t)^2)
    bias    = mean(|p - s|)
    loss    = w_pinball * pinball + w_mse * mse + w_bias * bias

Means run over the batch and both angles. Defaults (DGE-GM): ``q = 0.1``, ``w_pinball = 1``,
``w_mse = 0.8``, ``w_bias = 0.1``.

Provenance and differences. The pinball term is Gaze360's published ``PinBallLoss``
(Kellnhofer et al. 2019; quantiles 0.1/0.9 on ``output -+ var``, each term a mean, the two
summed), which DGE-GM reuses; pano takes it over exactly. DGE-GM's own repository was not in
the code index searched while writing this module, so the MSE and bias terms follow the
description in ``docs/gaze.md`` / the project's reference notes ("+ 0.8 MSE + 0.1
mean|gaze - sigma|", with ``gaze`` the prediction). Differences: (1) pano predicts one sigma
per angle by default where Gaze360/DGE-GM expand one shared sigma to both angles
(``GazeModelConfig.shared_sigma``); with a shared sigma the formula above is identical to
theirs. (2) The bias term, as described, pulls the prediction and sigma towards each other;
it is kept for fidelity and can be switched off with ``w_bias: 0``.

At ``p = t`` the pinball term is ``2 q s`` (minimal at ``s -> 0``) and its gradient with
respect to ``p`` is zero (the two quantile terms cancel), as is the MSE's.
"""

from __future__ import annotations

import torch
from pydantic import Field

from pano.config import PanoConfig
from pano.errors import ShapeError

__all__ = ["GazeLossConfig", "gaze_loss", "pinball_loss"]


class GazeLossConfig(PanoConfig):
    """Weights of :func:`gaze_loss` (the ``loss`` section of a gaze training config)."""

    quantile: float = Field(0.1, gt=0.0, lt=0.5, description="lower quantile q (upper 1 - q)")
    w_pinball: float = Field(1.0, ge=0.0)
    w_mse: float = Field(0.8, ge=0.0)
    w_bias: float = Field(0.1, ge=0.0)


def _check(name: str, x: torch.Tensor, ref: torch.Tensor) -> None:
    if x.shape != ref.shape or x.ndim != 2 or x.shape[1] != 2:
        raise ShapeError(f"gaze loss: {name} must be (B, 2) like pred, got {tuple(x.shape)}")


def pinball_loss(
    pred: torch.Tensor, target: torch.Tensor, sigma: torch.Tensor, q: float = 0.1
) -> torch.Tensor:
    """Pinball loss of ``pred - sigma`` at quantile ``q`` plus ``pred + sigma`` at ``1 - q``.

    All (B, 2) radians ([yaw, pitch]); returns a scalar.
    """
    _check("target", target, pred)
    _check("sigma", sigma, pred)
    e_lo = target - (pred - sigma)
    e_hi = target - (pred + sigma)
    lo = torch.maximum(q * e_lo, (q - 1.0) * e_lo).mean()
    hi = torch.maximum((1.0 - q) * e_hi, -q * e_hi).mean()
    return lo + hi


def gaze_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    sigma: torch.Tensor,
    cfg: GazeLossConfig | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The mixed loss and its parts.

    Args:
        pred: (B, 2) predicted [yaw, pitch] radians.
        target: (B, 2) labels, same order and units.
        sigma: (B, 2) predicted spread in radians (> 0).
        cfg: weights (DGE-GM's defaults when None).

    Returns:
        ``(loss, parts)``: the scalar to minimise and the unweighted terms as floats
        (``pinball``, ``mse``, ``bias``) for logging.

    """
    cfg = cfg or GazeLossConfig()
    pin = pinball_loss(pred, target, sigma, cfg.quantile)
    mse = ((pred - target) ** 2).mean()
    bias = (pred - sigma).abs().mean()
    loss = cfg.w_pinball * pin + cfg.w_mse * mse + cfg.w_bias * bias
    parts = {
        "pinball": float(pin.detach()),
        "mse": float(mse.detach()),
        "bias": float(bias.detach()),
    }
    return loss, parts
