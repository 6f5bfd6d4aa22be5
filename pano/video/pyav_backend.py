"""PyAV (FFmpeg) decoding on the CPU: the reference backend, and the fallback for every codec.

Random access is frame-accurate by construction: on the first :meth:`read` the packets are
demuxed once (no decoding) to list every frame's presentation timestamp and the key frames
(``_FrameTable``); a read then seeks to the last key frame at or before the target (by its
decode timestamp) and decodes forward until the frame whose timestamp IS the target's.
Reads of increasing indices continue decoding without seeking while no key frame lies
between, so clip reads cost one seek.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pano.errors import VideoError
from pano.probe import VideoInfo
from pano.video.base import VideoDecoder

#: 8-bit planar YUV formats whose plane 0 is the luma (Y) plane, one byte per pixel.
_PLANAR_YUV8 = frozenset(
    {"yuv420p", "yuv422p", "yuv444p", "yuv440p", "yuv411p", "yuvj420p", "yuvj422p", "yuvj444p",
     "yuvj440p", "nv12", "nv21"}
)  # fmt: skip
#: ``AVColorRange`` value of full-range ("JPEG") video; 0 (unspecified) and 1 are limited.
_JPEG_RANGE = 2

log = logging.getLogger("pano.video")


@dataclass(frozen=True)
class _FrameTable:
    """Every frame's pts in presentation order, and where decoding can start."""

    pts: np.ndarray  # (n,) int64 sorted presentation timestamps; index = frame index
    index_of: dict[int, int]  # pts -> frame index
    key_index: list[int]  # frame indices of key frames, increasing
    key_dts: list[int]  # decode timestamp to seek to for each key frame


class PyAVDecoder(VideoDecoder):
    """CPU decoding with PyAV (FFmpeg frame + slice threading)."""

    backend = "pyav"

    def __init__(self, path: str | Path, device: torch.device, gray: bool, info: VideoInfo) -> None:
        super().__init__(path, device, gray, info)
        import av

        self._av = av
        try:
            self._container = av.open(str(self.path))
            self._stream = self._container.streams.video[0]
        except (av.error.FFmpegError, OSError, ValueError, IndexError) as err:
            raise VideoError(f"{self.path}: PyAV cannot open the video ({err})") from err
        self._stream.thread_type = "AUTO"
        self._fmt = "gray" if gray else "rgb24"
        self._table: _FrameTable | None = None
        self._gen: Iterator[Any] | None = None  # live decode generator of the read cursor
        self._last = -1  # frame index the read cursor decoded last
        self._epoch = 0  # bumped on every seek; a running iter_frames checks it

    # ------------------------------------------------------------------ helpers

    def _frames(self) -> Iterator[Any]:
        """Decoded frames from the container's current position."""
        try:
            yield from self._container.decode(self._stream)
        except self._av.error.FFmpegError as err:
            raise VideoError(
                f"{self.path}: decoding failed ({err}); the file is corrupt or truncated"
            ) from err

    def _convert(self, frame: Any) -> torch.Tensor:
        if self.gray and self.luma == "coded" and frame.format.name in _PLANAR_YUV8:
            plane = frame.planes[0]  # the Y plane as coded: a copy, no range conversion
            rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
            full = frame.format.name.startswith("yuvj") or frame.color_range == _JPEG_RANGE
            self.luma_levels = (0, 255) if full else (16, 235)
            return torch.from_numpy(rows[:, : frame.width].copy())[None]
        self.luma_levels = (0, 255)
        arr = frame.to_ndarray(format=self._fmt)
        t = torch.from_numpy(arr)
        return t[None] if self.gray else t.permute(2, 0, 1)

    def _frame_table(self) -> _FrameTable:
        if self._table is None:
            pts: list[int] = []
            keys: list[tuple[int, int]] = []  # (pts, dts) of key packets
            try:
                self._container.seek(0)
                for packet in self._container.demux(self._stream):
                    if packet.size == 0 or packet.pts is None:
                        continue
                    pts.append(int(packet.pts))
                    if packet.is_keyframe:
                        dts = packet.dts if packet.dts is not None else packet.pts
                        keys.append((int(packet.pts), int(dts)))
            except self._av.error.FFmpegError as err:
                raise VideoError(f"{self.path}: the video cannot be demuxed ({err})") from err
            order = np.sort(np.asarray(pts, dtype=np.int64))
            index_of = {int(p): i for i, p in enumerate(order)}
            keys.sort()
            if len(order) != len(self):
                log.warning(
                    "%s: %d frames found by demuxing, metadata says %d; "
                    "frames past %d are unreadable",
                    self.path.name, len(order), len(self), min(len(order), len(self)),
                )  # fmt: skip
            self._table = _FrameTable(
                order, index_of, [index_of[p] for p, _ in keys], [d for _, d in keys]
            )
            self._gen, self._last = None, -1
            self._epoch += 1
        return self._table

    def _seek_to_key(self, key: int) -> None:
        """Position the container at the ``key``-th key frame (decoding restarts there)."""
        table = self._frame_table()
        try:
            self._container.seek(table.key_dts[key], stream=self._stream, backward=True)
        except self._av.error.FFmpegError as err:
            raise VideoError(f"{self.path}: seeking failed ({err})") from err
        self._gen, self._last = self._frames(), -1
        self._epoch += 1

    # ------------------------------------------------------------------ reading

    def _decode_to(self, target: int) -> Any:
        """Return the av frame with index ``target``, seeking only when it pays."""
        table = self._frame_table()
        if target >= len(table.pts):
            raise VideoError(
                f"{self.path}: frame {target} does not exist "
                f"(the stream has {len(table.pts)} frames)"
            )
        key = max(0, bisect.bisect_right(table.key_index, target) - 1)
        if self._gen is None or self._last >= target or table.key_index[key] > self._last + 1:
            self._seek_to_key(key)
        want = int(table.pts[target])
        for attempt in range(3):
            assert self._gen is not None
            for frame in self._gen:
                if frame.pts is None:
                    raise VideoError(
                        f"{self.path}: decoded frame without a timestamp; cannot seek exactly"
                    )
                self._last = table.index_of.get(int(frame.pts), self._last)
                if frame.pts == want:
                    return frame
                if frame.pts > want:
                    break  # target not produced from this key frame (open GOP): start earlier
            key = 0 if attempt == 1 else max(0, key - 1)
            self._seek_to_key(key)
        raise VideoError(f"{self.path}: frame {target} could not be decoded")

    def _read(self, indices: list[int]) -> torch.Tensor:
        h, w = self.size
        out = torch.empty(
            (len(indices), self.channels, h, w),
            dtype=torch.uint8,
            pin_memory=self.device.type == "cuda",
        )
        for i, target in enumerate(indices):
            out[i].copy_(self._convert(self._decode_to(target)))
        return out

    def _iter(self, start: int, stop: int, step: int) -> Iterator[torch.Tensor]:
        if start == 0:
            try:
                self._container.seek(0)
            except self._av.error.FFmpegError as err:
                raise VideoError(f"{self.path}: seeking failed ({err})") from err
            self._gen, self._last = None, -1
            self._epoch += 1
            epoch = self._epoch
            index = -1
            for index, frame in enumerate(self._frames()):
                if index >= stop:
                    break
                if index % step == 0:
                    yield self._convert(frame)
                    if self._epoch != epoch:
                        raise VideoError(
                            f"{self.path}: read() was called during iter_frames(); use two decoders"
                        )
            if index + 1 < stop:
                log.warning(
                    "%s: stream ended after %d frames (expected %d)",
                    self.path.name,
                    index + 1,
                    stop,
                )
            return
        frame = self._decode_to(start)
        epoch = self._epoch
        gen = self._gen
        assert gen is not None
        self._gen = None  # the iterator owns the decode position now
        index = start
        while True:
            if (index - start) % step == 0:
                yield self._convert(frame)
                if self._epoch != epoch:
                    raise VideoError(
                        f"{self.path}: read() was called during iter_frames(); use two decoders"
                    )
            frame = next(gen, None)
            if frame is None:
                break
            index = self._frame_table().index_of.get(int(frame.pts), index + 1)
            if index >= stop:
                break

    def close(self) -> None:
        """Close the container (idempotent)."""
        if not self._closed and hasattr(self, "_container"):
            self._gen = None
            self._container.close()
        super().close()
