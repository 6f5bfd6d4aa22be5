"""Simulated recordings in pano's frame: the one source every synthetic format is written from.

:func:`simulate_recordings` runs the same simulation as the PVS-HM generator (moving
targets, :func:`pano.synth.heads.simulate_heads`, :func:`pano.synth.gaze.simulate_gaze_events`)
and returns timestamped unit vectors per subject and video, with the true eye-movement
events. A writer of another data set's raw format (``pano/synth/<format>.py``) converts
these to its format's own conventions, so a test can ingest *the same motion* from two
formats and compare.

Directions are unit vectors in :data:`pano.geometry.CANONICAL_FRAME` (+x front centre,
+y left, +z up); times are seconds from the start of the video.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pano.errors import ParameterError
from pano.synth.gaze import simulate_gaze_events
from pano.synth.heads import simulate_heads
from pano.synth.targets import default_target_specs, simulate_targets


@dataclass(frozen=True)
class SimRecording:
    """One subject watching one video.

    Attributes:
        video: video name.
        subject: subject id (``"u00"``, ``"u01"``, ...).
        t: ``(N,)`` float64 seconds from the video's start (``k / rate_hz``).
        head: ``(N, 3)`` float64 head unit vectors (canonical frame).
        gaze: ``(N, 3)`` float64 gaze-in-world unit vectors, or ``None`` (``gaze=False``).
        events: ``(N,)`` int8 true events of the gaze (``pano.em.EmEvent`` codes:
            1 fixation, 2 saccade), or ``None``.

    """

    video: str
    subject: str
    t: np.ndarray
    head: np.ndarray
    gaze: np.ndarray | None
    events: np.ndarray | None


@dataclass(frozen=True)
class SimVideo:
    """One simulated video: name, frame rate and length (no frames are rendered here)."""

    name: str
    fps: float
    duration_s: float

    @property
    def n_frames(self) -> int:
        """Whole frames in the video."""
        return round(self.duration_s * self.fps)


@dataclass(frozen=True)
class SimDataset:
    """Simulated recordings of several subjects on several videos."""

    videos: list[SimVideo]
    recordings: list[SimRecording]
    rate_hz: float
    seed: int

    def of(self, video: str) -> list[SimRecording]:
        """Recordings of one video, in subject order."""
        return [r for r in self.recordings if r.video == video]


def simulate_recordings(
    n_videos: int = 2,
    n_subjects: int = 3,
    duration_s: float = 8.0,
    rate_hz: float = 60.0,
    fps: float = 30.0,
    seed: int = 0,
    gaze: bool = True,
    names: list[str] | None = None,
) -> SimDataset:
    """Simulate head (and gaze) recordings.

    Args:
        n_videos: number of videos (ignored when ``names`` is given).
        n_subjects: subjects per video (every subject watches every video).
        duration_s: length of each video, seconds.
        rate_hz: sample rate of the recordings, Hz.
        fps: frame rate recorded for each video (formats with frame-indexed time use it).
        seed: the only source of randomness.
        gaze: also simulate gaze (and its true events).
        names: video names (default ``video00``, ``video01``, ...).

    Raises:
        ParameterError: a non-positive count, duration or rate.

    """
    names = list(names) if names is not None else [f"video{i:02d}" for i in range(n_videos)]
    if not names or n_subjects < 1 or duration_s <= 0 or rate_hz <= 0 or fps <= 0:
        raise ParameterError(
            "simulate_recordings: need at least one video and one subject and a positive "
            f"duration, rate and fps (got {len(names)} videos, {n_subjects} subjects, "
            f"{duration_s} s, {rate_hz} Hz, {fps} fps)"
        )
    dt = 1.0 / rate_hz
    n = round(duration_s * rate_hz)
    t = np.arange(n, dtype=np.float64) * dt
    videos, recs = [], []
    for i, name in enumerate(names):
        rng = [np.random.default_rng([seed, i, k]) for k in range(3)]
        specs = default_target_specs(i, rng[0])
        targets = simulate_targets(specs, n, dt, rng[0])
        heads, attention = simulate_heads(targets, dt, n_subjects, rng[1])
        g = ev = None
        if gaze:
            g, ev = simulate_gaze_events(heads, targets, attention, dt, rng[2])
        videos.append(SimVideo(name, float(fps), float(duration_s)))
        for s in range(n_subjects):
            recs.append(
                SimRecording(
                    video=name,
                    subject=f"u{s:02d}",
                    t=t.copy(),
                    head=heads[s],
                    gaze=None if g is None else g[s],
                    events=None if ev is None else ev[s],
                )
            )
    return SimDataset(videos, recs, float(rate_hz), seed)
