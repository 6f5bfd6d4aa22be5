"""decord decoding (CPU wheel; a GPU context only where decord was built with CUDA).

Known limits (docs/benchmarks.md, docs/viewports.md): decord 0.6 cannot open AV1, and its
random access into HEVC open-GOP streams returns the NEXT frame; ``open_video(backend=
"auto")`` never picks it for those codecs. Asking for it explicitly on HEVC logs a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import torch

from pano.errors import VideoError
from pano.probe import VideoInfo
from pano.video.base import VideoDecoder, rgb_to_luma

log = logging.getLogger("pano.video")

#: Codecs decord decodes with exact random access (verified with barcoded test videos).
DECORD_SAFE_CODECS = frozenset({"h264", "vp9", "vp8", "mpeg4"})
_BATCH = 8  # frames per get_batch call while iterating


def decord_status() -> tuple[bool, str]:
    """``(importable, reason)`` for the decord backend."""
    try:
        import decord  # noqa: F401
    except Exception as err:  # ImportError, or a broken native library
        return False, f"decord is not importable ({type(err).__name__}: {err})"
    return True, "decord importable (CPU)"


_HAS_CUDA: dict[str, bool] = {}


def decord_has_cuda(probe_path: str) -> bool:
    """True if this decord build opens videos on ``decord.gpu(0)`` (a source build with NVDEC).

    Tried once per process on ``probe_path`` (the PyPI wheel raises "CUDA not enabled").
    """
    if not torch.cuda.is_available():
        return False
    if "ok" not in _HAS_CUDA:
        try:
            import decord

            decord.VideoReader(probe_path, ctx=decord.gpu(0))
            _HAS_CUDA["ok"] = True
        except Exception:
            _HAS_CUDA["ok"] = False
    return _HAS_CUDA["ok"]


class DecordDecoder(VideoDecoder):
    """Decoding with decord (CPU; GPU context when the build has CUDA and a GPU is the target)."""

    backend = "decord"

    def __init__(self, path: str | Path, device: torch.device, gray: bool, info: VideoInfo) -> None:
        super().__init__(path, device, gray, info)
        ok, why = decord_status()
        if not ok:
            raise VideoError(f"{self.path}: {why}")
        import decord

        use_gpu = device.type == "cuda" and decord_has_cuda(str(self.path))
        ctx = decord.gpu(device.index or 0) if use_gpu else decord.cpu(0)
        try:
            self._vr = decord.VideoReader(str(self.path), ctx=ctx, num_threads=0)
        except Exception as err:  # decord raises its own DECORDError / RuntimeError
            raise VideoError(f"{self.path}: decord cannot open the video ({err})") from err
        self.on_gpu = use_gpu
        if info.codec not in DECORD_SAFE_CODECS:
            log.warning(
                "%s: decord random access is unreliable for codec %s (HEVC open-GOP seeks "
                "return the next frame); prefer backend='pyav'", self.path.name, info.codec,
            )  # fmt: skip

    def _batch(self, indices: list[int]) -> torch.Tensor:
        try:
            nd = self._vr.get_batch(indices)
        except Exception as err:
            raise VideoError(
                f"{self.path}: decord failed to decode frames {indices[0]}..{indices[-1]} ({err})"
            ) from err
        frames = torch.utils.dlpack.from_dlpack(nd.to_dlpack()).permute(0, 3, 1, 2)  # (n, 3, H, W)
        return rgb_to_luma(frames) if self.gray else frames

    def _read(self, indices: list[int]) -> torch.Tensor:
        return self._batch(indices)

    def _iter(self, start: int, stop: int, step: int) -> Iterator[torch.Tensor]:
        for i in range(start, stop, _BATCH * step):
            yield from self._batch(list(range(i, min(stop, i + _BATCH * step), step)))

    def close(self) -> None:
        """Drop the reader (idempotent)."""
        if hasattr(self, "_vr"):
            del self._vr
        super().close()
