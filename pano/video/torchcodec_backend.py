"""torchcodec decoding on a CUDA device (NVDEC), used only where it imports with CUDA.

The torchcodec wheel on PyPI is built against CUDA torch and FFmpeg shared libraries; with
the CPU torch of pano's default install it does not import, and on a machine without CUDA
pano reports it unavailable (PyAV is faster on the CPU anyway).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import torch

from pano.errors import VideoError
from pano.probe import VideoInfo
from pano.video.base import VideoDecoder, rgb_to_luma

_BATCH = 16  # frames per get_frames_in_range call while iterating
#: Codecs NVDEC decodes on every supported GPU generation (AV1 is missing on Hopper).
NVDEC_CODECS = frozenset({"h264", "hevc", "vp9", "vp8", "mpeg2video", "mpeg4"})
#: Largest H.264 frame side NVDEC accepts.
NVDEC_H264_MAX = 4096


@lru_cache(maxsize=1)
def torchcodec_status() -> tuple[bool, str]:
    """``(available, reason)``: torchcodec must import and CUDA must be present."""
    if not torch.cuda.is_available():
        return False, "no CUDA device (torchcodec is used only for GPU decoding)"
    try:
        from torchcodec.decoders import VideoDecoder as _TC  # noqa: F401
    except Exception as err:  # ImportError, or missing FFmpeg / CUDA libraries
        return False, f"torchcodec is not importable ({type(err).__name__}: {err})"
    return True, "torchcodec importable with CUDA"


def nvdec_supports(info: VideoInfo) -> bool:
    """True if NVDEC can decode this stream (codec and, for H.264, frame size)."""
    if info.codec not in NVDEC_CODECS:
        return False
    return not (info.codec == "h264" and max(info.width, info.height) > NVDEC_H264_MAX)


class TorchCodecDecoder(VideoDecoder):
    """GPU decoding with torchcodec (frames land directly in CUDA memory)."""

    backend = "torchcodec"

    def __init__(self, path: str | Path, device: torch.device, gray: bool, info: VideoInfo) -> None:
        super().__init__(path, device, gray, info)
        ok, why = torchcodec_status()
        if not ok:
            raise VideoError(f"{self.path}: backend torchcodec unavailable: {why}")
        from torchcodec.decoders import VideoDecoder as _TC

        try:
            self._dec = _TC(
                str(self.path), device=str(device), dimension_order="NCHW", seek_mode="exact"
            )
        except Exception as err:
            raise VideoError(f"{self.path}: torchcodec cannot open the video ({err})") from err

    def _post(self, frames: torch.Tensor) -> torch.Tensor:
        return rgb_to_luma(frames) if self.gray else frames

    def _read(self, indices: list[int]) -> torch.Tensor:
        try:
            return self._post(self._dec.get_frames_at(indices=indices).data)
        except Exception as err:
            raise VideoError(f"{self.path}: torchcodec failed to decode frames ({err})") from err

    def _iter(self, start: int, stop: int, step: int) -> Iterator[torch.Tensor]:
        for i in range(start, stop, _BATCH * step):
            try:
                batch = self._dec.get_frames_in_range(
                    start=i, stop=min(stop, i + _BATCH * step), step=step
                ).data
            except Exception as err:
                raise VideoError(
                    f"{self.path}: torchcodec failed to decode from frame {i} ({err})"
                ) from err
            yield from self._post(batch)

    def close(self) -> None:
        """Drop the decoder (idempotent)."""
        if hasattr(self, "_dec"):
            del self._dec
        super().close()
