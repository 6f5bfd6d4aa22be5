"""Choosing a decoding backend for a file and a target device: :func:`open_video`."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from pano.errors import ConfigError, VideoError
from pano.probe import VideoInfo, probe_video
from pano.video.base import VideoDecoder
from pano.video.decord_backend import (
    DECORD_SAFE_CODECS,
    DecordDecoder,
    decord_has_cuda,
    decord_status,
)
from pano.video.pyav_backend import PyAVDecoder
from pano.video.torchcodec_backend import TorchCodecDecoder, nvdec_supports, torchcodec_status

log = logging.getLogger("pano.video")

BACKENDS: dict[str, type[VideoDecoder]] = {
    "pyav": PyAVDecoder,
    "decord": DecordDecoder,
    "torchcodec": TorchCodecDecoder,
}


def available_backends() -> dict[str, tuple[bool, str]]:
    """``{name: (available, reason)}`` for every backend on this machine."""
    return {
        "pyav": (True, "PyAV bundles FFmpeg; decodes every codec on the CPU"),
        "decord": decord_status(),
        "torchcodec": torchcodec_status(),
    }


def choose_backend(info: VideoInfo, device: torch.device, path: str | Path) -> tuple[str, str]:
    """The backend ``open_video(backend="auto")`` uses, and why.

    Rules (measured, see docs/benchmarks.md):

    * CUDA target: torchcodec (NVDEC, frames land in GPU memory) when it imports with CUDA
      and NVDEC supports the codec/size; else decord's GPU context if this decord build has
      CUDA and the codec is safe for decord; else PyAV on the CPU with pinned-memory,
      non-blocking copies to the GPU.
    * CPU target: PyAV - the fastest correct CPU decoder measured here, and the only one
      that decodes every codec with exact seeks (decord cannot open AV1 and mis-seeks
      HEVC open-GOP streams, so it is never auto-picked for those).
    """
    if device.type == "cuda":
        ok, why = torchcodec_status()
        if ok and nvdec_supports(info):
            return "torchcodec", f"NVDEC decode straight to {device} ({why})"
        why_not = why if not ok else f"NVDEC does not take {info.codec} {info.width}x{info.height}"
        if info.codec in DECORD_SAFE_CODECS and decord_status()[0] and decord_has_cuda(str(path)):
            return "decord", f"decord GPU build decodes to {device} (torchcodec: {why_not})"
        return (
            "pyav",
            f"CPU decode + pinned non-blocking copies to {device} "
            f"(torchcodec: {why_not}; decord has no CUDA)",
        )
    return (
        "pyav",
        "fastest correct CPU decoder measured (docs/benchmarks.md); exact seeks for every codec",
    )


def open_video(
    path: str | Path,
    backend: str = "auto",
    device: str | torch.device = "auto",
    gray: bool = False,
    info: VideoInfo | None = None,
    luma: str = "full",
) -> VideoDecoder:
    """Open a video for frame-accurate decoding to torch tensors.

    Args:
        path: the video file.
        backend: ``"auto"`` (pick for the file and device, logged on ``pano.video``),
            ``"pyav"``, ``"decord"`` or ``"torchcodec"``.
        device: where frames are returned: ``"auto"`` (CUDA if present), ``"cpu"``,
            ``"cuda[:N]"`` or a :class:`torch.device`.
        gray: return luma ``(1, H, W)`` frames instead of RGB ``(3, H, W)``.
        info: the file's :class:`pano.probe.VideoInfo` if already known (skips probing).
        luma: with ``gray``: ``"full"`` (full-range luma) or ``"coded"`` (the Y plane as
            coded where the backend decodes YUV itself; see
            :attr:`~pano.video.base.VideoDecoder.luma_levels`).

    Returns:
        A :class:`~pano.video.base.VideoDecoder` (its ``reason`` says why that backend).
        Decoders are not picklable: call this inside each worker / task.

    Raises:
        VideoError: missing or corrupt file, or the requested backend is unavailable.
        ConfigError: unknown backend name.
        DeviceError: CUDA requested but absent.

    """
    from pano.device import resolve_device

    dev = resolve_device(device)
    if backend != "auto" and backend not in BACKENDS:
        raise ConfigError(f"unknown video backend {backend!r}: use auto, {', '.join(BACKENDS)}")
    if luma not in ("full", "coded"):
        raise ConfigError(f"luma must be 'full' or 'coded', got {luma!r}")
    info = info if info is not None else probe_video(path)
    if backend == "auto":
        name, reason = choose_backend(info, dev, path)
    else:
        ok, why = available_backends()[backend]
        if not ok:
            raise VideoError(
                f"{Path(path).name}: backend {backend!r} is unavailable here: {why}; "
                "use backend='auto'"
            )
        name, reason = backend, "requested"
    decoder = BACKENDS[name](path, dev, gray, info)
    decoder.reason = reason
    decoder.luma = luma
    log.info("%s: decoding with %s on %s (%s)", Path(path).name, name, dev, reason)
    return decoder
