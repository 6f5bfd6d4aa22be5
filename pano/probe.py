"""Probing video files: frame rate, frame count, size, codec and duration (PyAV).

:func:`probe_video` opens a video with PyAV (which bundles its own FFmpeg), reads the
container's metadata, decodes the first frame (so a file whose header parses but whose
stream does not decode is caught here, not half-way through a pipeline) and returns a
:class:`VideoInfo`. The frame count matters: PVS-HM ground truth is aligned to frames with
``samples_per_frame = n_samples / n_frames`` (as DHP does), so a wrong count shifts every
step. Containers do not always record it (``stream.frames == 0``) and sometimes record a
wrong one; :func:`probe_video` then counts the packets by demuxing (no decoding), which
gives the exact number of coded frames.

Every failure (missing file, unreadable file, garbage bytes, no video stream, undecodable
stream) is raised as :class:`pano.errors.VideoError` whose message names the file.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from pano.errors import VideoError

CountMode = Literal["auto", "container", "demux"]


@dataclass(frozen=True)
class VideoInfo:
    """What pano needs to know about a video file.

    Attributes:
        fps: average frame rate (frames per second) of the video stream.
        n_frames: number of frames (container count, checked; see :func:`probe_video`).
        width, height: frame size in pixels.
        codec: FFmpeg codec name of the video stream (``"h264"``, ``"hevc"``, ...).
        duration_s: duration of the video stream in seconds.
        frames_counted: True when ``n_frames`` came from demuxing rather than the header.

    """

    fps: float
    n_frames: int
    width: int
    height: int
    codec: str
    duration_s: float
    frames_counted: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict`` of the fields (JSON-ready)."""
        return asdict(self)


#: Bytes hashed at each end of a file by :func:`file_fingerprint`.
FINGERPRINT_BYTES = 1 << 20


def file_fingerprint(path: str | Path) -> str:
    """A fast identity of a file: its size and the SHA-256 of its first and last MiB.

    ``"<size in bytes>:<hex SHA-256 of the first MiB followed by the last MiB>"`` (a
    file of at most 2 MiB is hashed whole). It reads 2 MiB whatever the file's size, so
    it is checked every time a video is opened; the full :func:`sha256_file` is checked
    by ``pano info --verify``.

    Raises:
        VideoError: the file cannot be read.

    """
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size <= 2 * FINGERPRINT_BYTES:
                h.update(f.read())
            else:
                h.update(f.read(FINGERPRINT_BYTES))
                f.seek(size - FINGERPRINT_BYTES)
                h.update(f.read(FINGERPRINT_BYTES))
    except OSError as err:
        raise VideoError(f"{path}: cannot read the file ({err.strerror or err})") from err
    return f"{size}:{h.hexdigest()}"


def sha256_file(path: str | Path, block: int = 1 << 22) -> str:
    """Hex SHA-256 of a file's bytes (read in 4 MiB blocks).

    Raises:
        VideoError: the file cannot be read (for video files; callers re-label as needed).

    """
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(block):
                h.update(chunk)
    except OSError as err:
        raise VideoError(f"{path}: cannot read the file ({err.strerror or err})") from err
    return h.hexdigest()


def _count_packets(container: Any, stream: Any) -> int:
    """Number of coded video packets (= frames) of ``stream``, by demuxing only."""
    container.seek(0)
    return sum(1 for p in container.demux(stream) if p.size > 0)


def probe_video(path: str | Path, count: CountMode = "auto") -> VideoInfo:
    """Read a video file's frame rate, frame count, size, codec and duration.

    Args:
        path: the video file (mp4, mkv, ...).
        count: how to get the frame count. ``"container"`` trusts the header (fails if it
            has none); ``"demux"`` always counts packets; ``"auto"`` (default) uses the
            header count when it is present and agrees with ``duration * fps`` to within
            one frame, and counts packets otherwise.

    Returns:
        A :class:`VideoInfo`.

    Raises:
        VideoError: the file is missing, unreadable, not a video, has no video stream,
            or its first frame cannot be decoded. The message names the file.

    """
    import av

    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: video file not found")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise VideoError(
            f"{path}: not a readable video (FFmpeg: {getattr(err, 'strerror', None) or err}); "
            "the file is corrupt or not a video"
        ) from err
    try:
        if not container.streams.video:
            raise VideoError(f"{path}: the file has no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate or float(rate) <= 0:
            raise VideoError(f"{path}: the video stream has no frame rate")
        fps = float(rate)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000.0
        else:
            duration = 0.0
        codec = stream.codec_context.name
        width, height = int(stream.codec_context.width), int(stream.codec_context.height)
        try:
            first = next(container.decode(stream), None)
        except (av.error.FFmpegError, ValueError) as err:
            raise VideoError(
                f"{path}: the video stream cannot be decoded ({err}); the file is corrupt"
            ) from err
        if first is None:
            raise VideoError(f"{path}: the video stream has no decodable frame")
        header = int(stream.frames or 0)
        counted = False
        if count == "container":
            if header <= 0:
                raise VideoError(
                    f"{path}: the container does not record a frame count; use count='demux'"
                )
            n_frames = header
        elif (
            count == "demux"
            or header <= 0
            or (duration > 0 and abs(header - duration * fps) > 1.0 + 1e-6 * header)
        ):
            try:
                n_frames = _count_packets(container, stream)
            except (av.error.FFmpegError, ValueError) as err:
                raise VideoError(
                    f"{path}: the video cannot be demuxed ({err}); the file is corrupt"
                ) from err
            counted = True
        else:
            n_frames = header
        if n_frames <= 0:
            raise VideoError(f"{path}: the video has no frames")
        if duration <= 0:
            duration = n_frames / fps
        return VideoInfo(
            fps=fps,
            n_frames=n_frames,
            width=width,
            height=height,
            codec=codec,
            duration_s=duration,
            frames_counted=counted,
        )
    finally:
        container.close()
