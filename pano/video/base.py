"""The one decoder interface all backends implement, and what they share.

A :class:`VideoDecoder` returns frames as uint8 torch tensors ``(C, H, W)`` (RGB, ``C = 3``;
luma ``C = 1`` with ``gray=True``) on its target device. Frame indices count decoded
frames in presentation order from 0 (never container timestamps).

Luma is full range (0 = black, 255 = white) unless ``luma="coded"`` is asked for: then a
backend that decodes YUV itself (PyAV) returns the Y plane as coded, usually limited range
(16 = black, 235 = white), and says which in :attr:`VideoDecoder.luma_levels`. That skips
a full-resolution range conversion (~2.7 ms of CPU per 1920x960 frame in FFmpeg's
swscale); :class:`pano.viewport.ViewportSampler` applies the levels to its small
pre-filtered level instead (``levels=``).

Decoder objects hold open FFmpeg contexts and are **not picklable**: open them inside each
worker / Dask task / DataLoader worker (``open_video(path)`` there), never pass one to it.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from pano.errors import ParameterError, ShapeError, UnsupportedError, VideoError
from pano.probe import VideoInfo

#: BT.601 luma weights used to turn RGB into ``gray=True`` frames where the backend cannot
#: produce luma itself (decord, torchcodec); PyAV converts with FFmpeg's ``gray`` format.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def rgb_to_luma(frames: torch.Tensor) -> torch.Tensor:
    """uint8 RGB ``(..., 3, H, W)`` -> uint8 full-range luma ``(..., 1, H, W)`` (BT.601)."""
    w = torch.tensor(LUMA_WEIGHTS, dtype=torch.float32, device=frames.device)
    y = torch.tensordot(frames.to(torch.float32), w, dims=([-3], [0]))
    return y.round_().clamp_(0, 255).to(torch.uint8).unsqueeze(-3)


class VideoDecoder(abc.ABC):
    """Frame-accurate decoding of one video file to torch tensors.

    Use :func:`pano.video.open_video` to get one (it picks the backend), or a backend's
    :meth:`open` directly. Use as a context manager, or call :meth:`close`.

    Attributes:
        backend: backend name (``"pyav"``, ``"decord"``, ``"torchcodec"``).
        path: the video file.
        device: torch device frames are returned on.
        gray: frames are luma ``(1, H, W)`` instead of RGB ``(3, H, W)``.
        info: the :class:`pano.probe.VideoInfo` of the file.
        reason: why this backend was chosen (set by :func:`~pano.video.open_video`).
        luma: ``"full"`` (default) or ``"coded"`` (see the module docstring); set it
            before decoding.
        luma_levels: the uint8 values of black and white in returned luma frames:
            ``(0, 255)``, or ``(16, 235)`` for coded limited-range luma (known once a
            frame has been decoded).

    """

    backend: ClassVar[str] = "?"

    def __init__(self, path: str | Path, device: torch.device, gray: bool, info: VideoInfo) -> None:
        self.path = Path(path)
        self.device = device
        self.gray = bool(gray)
        self.info = info
        self.reason = f"{self.backend} requested"
        self.luma = "full"
        self.luma_levels: tuple[int, int] = (0, 255)
        self._closed = False

    @classmethod
    def open(
        cls,
        path: str | Path,
        device: str | torch.device = "cpu",
        gray: bool = False,
        info: VideoInfo | None = None,
    ) -> VideoDecoder:
        """Open ``path`` for decoding to ``device`` (``"cpu"``, ``"cuda"``, ``"auto"``).

        Raises:
            VideoError: the file is missing, corrupt, or this backend cannot decode it.

        """
        from pano.device import resolve_device
        from pano.probe import probe_video

        info = info if info is not None else probe_video(path)
        return cls(path, resolve_device(device), gray, info)

    # ------------------------------------------------------------------ metadata

    def __len__(self) -> int:
        return self.info.n_frames

    @property
    def fps(self) -> float:
        """Average frame rate."""
        return self.info.fps

    @property
    def size(self) -> tuple[int, int]:
        """Frame ``(height, width)`` in pixels."""
        return self.info.height, self.info.width

    @property
    def channels(self) -> int:
        """Channels of returned frames (1 with ``gray``, else 3)."""
        return 1 if self.gray else 3

    def __repr__(self) -> str:
        h, w = self.size
        return (
            f"{type(self).__name__}({str(self.path)!r}, {len(self)} frames {w}x{h} "
            f"@ {self.fps:.3f} fps, codec={self.info.codec}, device={self.device}, "
            f"gray={self.gray})"
        )

    # ------------------------------------------------------------------ decoding

    @abc.abstractmethod
    def _read(self, indices: list[int]) -> torch.Tensor:
        """Decode sorted unique in-range ``indices`` -> ``(n, C, H, W)`` uint8 (any device)."""

    @abc.abstractmethod
    def _iter(self, start: int, stop: int, step: int) -> Iterator[torch.Tensor]:
        """Yield frames ``start, start + step, ... < stop`` as ``(C, H, W)`` uint8 (any device)."""

    def read(self, indices: Sequence[int] | np.ndarray | torch.Tensor | int) -> torch.Tensor:
        """Decode the frames at ``indices`` (any order, repeats allowed).

        Returns:
            ``(N, C, H, W)`` uint8 tensor on :attr:`device`, in the order of ``indices``.

        Raises:
            ShapeError: an index is outside ``[0, len(self))``.
            VideoError: the file cannot be decoded.

        """
        self._check_open()
        idx = np.asarray(indices.cpu() if isinstance(indices, torch.Tensor) else indices).reshape(
            -1
        )
        if idx.size and not np.issubdtype(idx.dtype, np.integer):
            raise ShapeError(
                f"{self.path.name}: frame indices must be integers, got dtype {idx.dtype}"
            )
        idx = idx.astype(np.int64)
        n = len(self)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ShapeError(
                f"{self.path.name}: frame indices must be in [0, {n}), "
                f"got {int(idx.min())}..{int(idx.max())}"
            )
        h, w = self.size
        if idx.size == 0:
            return torch.empty((0, self.channels, h, w), dtype=torch.uint8, device=self.device)
        uniq, inverse = np.unique(idx, return_inverse=True)
        frames = self._read(uniq.tolist())
        if len(uniq) != len(idx) or not np.array_equal(uniq, idx):
            frames = frames[torch.as_tensor(inverse, device=frames.device)]
        return self._to_device(frames)

    def iter_frames(
        self, start: int = 0, stop: int | None = None, step: int = 1
    ) -> Iterator[torch.Tensor]:
        """Decode frames ``start, start + step, ... < stop`` sequentially (default: to the end).

        Every frame in the range is decoded (codecs need it); only every ``step``-th is
        converted and yielded, as ``(C, H, W)`` uint8 on :attr:`device` (possibly a
        channels-last view). Frame ``i`` of the iteration is video frame ``start + i * step``.
        """
        self._check_open()
        n = len(self)
        stop = n if stop is None else min(int(stop), n)
        if start < 0 or step < 1:
            raise ParameterError(
                f"{self.path.name}: iter_frames needs start >= 0 and step >= 1, got {start}, {step}"
            )
        if start >= stop:
            return
        for frame in self._iter(int(start), stop, int(step)):
            yield self._to_device(frame)

    def _to_device(self, t: torch.Tensor) -> torch.Tensor:
        """Move a CPU frame to the target device: pinned staging + non-blocking copy on CUDA."""
        if t.device == self.device:
            return t
        if t.device.type == "cpu" and self.device.type == "cuda":
            return t.pin_memory().to(self.device, non_blocking=True)
        return t.to(self.device)

    # ------------------------------------------------------------------ lifetime

    def _check_open(self) -> None:
        if self._closed:
            raise VideoError(f"{self.path.name}: the decoder is closed")

    def close(self) -> None:
        """Release the decoder (idempotent)."""
        self._closed = True

    def __enter__(self) -> VideoDecoder:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __reduce__(self) -> Any:
        raise UnsupportedError(
            f"{type(self).__name__} for {self.path.name} cannot be pickled: decoders hold open "
            "FFmpeg state; open the video inside each worker / task "
            "(pano.video.open_video(path)) instead"
        )
