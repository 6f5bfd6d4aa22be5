"""Choosing the torch device from a user string (``auto``, ``cpu``, ``cuda``, ``cuda:1``)."""

from __future__ import annotations

import torch

from pano.errors import DeviceError


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """Return the torch device named by ``spec``.

    Args:
        spec: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``,
            ``"cuda:N"`` or a :class:`torch.device`.

    Raises:
        DeviceError: CUDA was requested but is not available, or the index is out of range.

    """
    if isinstance(spec, torch.device):
        spec = str(spec)
    spec = spec.strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(spec)
    except RuntimeError as err:
        raise DeviceError(f"unknown device {spec!r}: use auto, cpu, cuda or cuda:N") from err
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device {spec!r} requested but CUDA is not available on this machine: "
                "use --device cpu or --device auto"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(
                f"device {spec!r} requested but only "
                f"{torch.cuda.device_count()} CUDA device(s) exist"
            )
    elif dev.type != "cpu":
        raise DeviceError(f"device {spec!r} is not supported: use auto, cpu, cuda or cuda:N")
    return dev
