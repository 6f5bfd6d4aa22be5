"""A head/eye-movement data set as read from its raw files, before it becomes a store.

Every data-set reader (``stores/<dataset>.py``) returns a :class:`TraceSet`: per subject
and video a :class:`Trace` of timestamps and unit vectors *already converted to pano's
canonical frame* (:data:`pano.geometry.CANONICAL_FRAME`: +x front centre, +y left, +z up),
plus a statement of the source's own convention (:class:`SourceConvention`, recorded in
the store's ``conventions.source``), every repair the reader applied (:class:`Repair`),
what is known of each video (:class:`VideoInfo`; the video files themselves are optional)
and any saliency maps the data set ships (:class:`SourceMap`).

Conversions go through unit vectors (``pano.geometry``: ``salient360_to_vec``,
``bottomleft_to_vec``, ``track_to_vec``...; quaternions through ``pano.rotations``, which
uses kornia). A reader never writes to a store: :meth:`TraceSet.check` is the one
validation every reader's output passes before a writer sees it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from pano.errors import InputDataError

#: How far from unit length a stored direction may be (after the reader's conversion).
UNIT_TOLERANCE = 1e-6

MapKind = Literal["head", "eye"]


@dataclass(frozen=True)
class SourceConvention:
    """How a data set states directions and time, in its own terms.

    Every field is a sentence; ``"unknown"`` where the data set does not document it
    (an unknown alignment is recorded as unknown, never guessed silently).
    """

    dataset: str  # 'salient360', 'xu-cvpr18', ...
    representation: str  # e.g. "lon, lat fractions of the ERP image in [0, 1]"
    origin: str  # where (0, 0) / the identity rotation points
    signs: str  # which way positive values turn
    units: str  # degrees, radians, fractions, pixels (1-based?), quaternion
    angle_order: str  # column order, Euler order, quaternion component order
    time_base: str  # e.g. "ms since video start", "frame index / per-video fps"
    erp_alignment: str  # how the head frame sits on the ERP video, or "unknown"
    notes: str = ""

    def to_attrs(self) -> dict[str, str]:
        """JSON-ready ``dict`` for the store's ``conventions.source``."""
        return {k: v for k, v in asdict(self).items() if v != ""}


@dataclass(frozen=True)
class Repair:
    """One change a reader made to the source data (listed in the store and by ``pano info``)."""

    kind: str  # 'flip-pitch', 'drop-trace', 'split-segments', 'drop-duplicate-time', ...
    detail: str  # one sentence: what was wrong, what was done, how many samples
    video: str | None = None  # None: all videos
    subject: str | None = None  # None: all subjects

    def to_attrs(self) -> dict[str, str | None]:
        """JSON-ready ``dict``."""
        return asdict(self)


@dataclass
class Trace:
    """One subject's recording of one video (or image), in pano's canonical frame.

    Attributes:
        video: the video (or image) name as the source spells it.
        subject: the subject id as the source spells it.
        t: ``(N,)`` float64 seconds from the start of the video, strictly increasing.
        head: ``(N, 3)`` float64 head (viewport-centre) unit vectors; NaN rows = missing.
            ``None`` for a source with eye data only.
        gaze: ``(N, 3)`` float64 gaze-in-world unit vectors (eye trackers); NaN rows =
            missing or blink; ``None`` without eye data.
        eye_in_head: ``(N, 3)`` float64 eye-in-head unit vectors in the head frame
            (+x forward, +y left, +z up), when the source gives them; else ``None``.
        where: the file (and row range) the trace came from, for error messages.
        extra: source columns kept as given but not interpreted (e.g. PVS-HM txt's unlabelled
            columns 3-5, a fixation list's durations), each ``(N,)`` float64, aligned with
            ``t``; ``None`` when the reader keeps nothing else.

    """

    video: str
    subject: str
    t: np.ndarray
    head: np.ndarray | None
    gaze: np.ndarray | None = None
    eye_in_head: np.ndarray | None = None
    where: str = ""
    extra: dict[str, np.ndarray] | None = None

    def check(self) -> None:
        """Raise :class:`InputDataError` (naming :attr:`where`) if the trace is malformed."""
        at = f"{self.where or self.video}: subject {self.subject!r}, video {self.video!r}"
        t = np.asarray(self.t)
        if t.ndim != 1 or t.size < 2:
            raise InputDataError(f"{at}: needs at least 2 samples (got shape {t.shape})")
        if not np.isfinite(t).all():
            i = int(np.argmin(np.isfinite(t)))
            raise InputDataError(f"{at}: timestamp {i} is not a finite number")
        back = np.flatnonzero(np.diff(t) <= 0)
        if back.size:
            i = int(back[0]) + 1
            raise InputDataError(
                f"{at}: time goes backwards or repeats at sample {i} "
                f"({t[i - 1]:.6g} s then {t[i]:.6g} s); timestamps must increase"
            )
        if self.head is None and self.gaze is None:
            raise InputDataError(f"{at}: the trace has neither head nor gaze directions")
        for name in ("head", "gaze", "eye_in_head"):
            v = getattr(self, name)
            if v is None:
                continue
            v = np.asarray(v)
            if v.shape != (t.size, 3):
                raise InputDataError(
                    f"{at}: {name} has shape {v.shape}, expected ({t.size}, 3) unit vectors"
                )
            ok = np.isfinite(v).all(axis=1)
            norms = np.linalg.norm(v[ok], axis=1)
            bad = np.flatnonzero(np.abs(norms - 1.0) > UNIT_TOLERANCE)
            if bad.size:
                i = int(np.flatnonzero(ok)[bad[0]])
                raise InputDataError(
                    f"{at}: {name} direction at sample {i} has length {norms[bad[0]]:.6g}, "
                    "not 1 (the reader must convert to unit vectors)"
                )
        for name, col in (self.extra or {}).items():
            if np.shape(col) != (t.size,):
                raise InputDataError(
                    f"{at}: extra column {name!r} has shape {np.shape(col)}, expected ({t.size},)"
                )


@dataclass
class VideoInfo:
    """What a data set says about one video (the file itself is optional)."""

    name: str
    fps: float | None = None
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    kind: Literal["video", "image"] = "video"


@dataclass
class SourceMap:
    """A saliency map the data set ships (kept beside pano's own, labelled).

    ``data`` is ``(N, H, W)`` float32 (``N = 1`` for an image), rows from the top (north)
    and columns from the left edge of the ERP image, as the source stores it.
    """

    video: str
    kind: MapKind
    data: np.ndarray
    where: str = ""
    blur_deg: float | None = None  # the source's stated blur, if any


@dataclass
class TraceSet:
    """One data set's traces in pano's frame, with everything needed to record how."""

    dataset: str
    convention: SourceConvention
    traces: list[Trace]
    videos: dict[str, VideoInfo] = field(default_factory=dict)
    repairs: list[Repair] = field(default_factory=list)
    maps: list[SourceMap] = field(default_factory=list)
    #: The data set's own split, when it ships one (video names per split); None otherwise.
    splits: dict[str, list[str]] | None = None
    #: Source files read, in order (recorded with their checksums in the store).
    files: list[str] = field(default_factory=list)

    def check(self) -> None:
        """Validate every trace; refuse an empty set (one line naming the data set)."""
        if not self.traces:
            raise InputDataError(f"{self.dataset}: no traces were read")
        for tr in self.traces:
            tr.check()

    def video_names(self) -> list[str]:
        """Sorted names of the videos with at least one trace."""
        return sorted({tr.video for tr in self.traces})

    def subjects(self) -> list[str]:
        """Sorted subject ids over all videos."""
        return sorted({tr.subject for tr in self.traces})

    def by_video(self, video: str) -> list[Trace]:
        """The traces of one video, sorted by subject."""
        return sorted((tr for tr in self.traces if tr.video == video), key=lambda t: t.subject)
