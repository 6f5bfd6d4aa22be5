"""``pano em detect``: eye-movement events, fixation lists and EM ground truth into a store.

For every complete video with EM samples (``has_em``; arrays ``em_time``, ``em_xyz``) and
every subject, :func:`pano.em.detect_events` labels the samples and lists the fixations;
the EM ground truth per step (fixation maps and eye saliency heatmaps,
:mod:`pano.em.maps`) is made from the fixations on the video's step grid. Each video's
results go into one sub-group ``videos/<video>/em`` (:mod:`pano.stores.em`).

All or nothing:

* the store's write lock is held for the whole run (:mod:`pano.stores.lock`);
* every video is checked and detected **before** anything is written: bad input (timestamps
  not increasing, a changing sample rate, an all-NaN subject, a zero-length gaze vector)
  stops the run with one line naming the video, the subject and the sample, and the store
  as it was;
* existing complete events are refused unless ``overwrite`` (one line);
* then the generation moves on (:mod:`pano.stores.generation`) and each video's group is
  written with its completion flag last, so a killed run leaves groups that say
  "incomplete" (a re-run rewrites them), never complete-looking events.
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from pano.config import PanoConfig
from pano.em import EmEvent, EmParams, EmResult, Fixations, detect_events
from pano.em.maps import (
    EYE_SIGMA_DEG,
    active_fixation_points,
    eye_heatmap_params,
    eye_heatmaps,
    fixation_maps,
)
from pano.errors import InputDataError, StoreError, StoreExistsError

log = logging.getLogger("pano.pipelines.em_detect")

__all__ = ["EmDetectConfig", "EmDetectSummary", "EmVideoResult", "detect_store"]


class EmDetectConfig(PanoConfig):
    """Configuration of ``pano em detect`` (YAML: ``pipelines/configs/em_detect.yaml``)."""

    store: str = Field(description="store path or fsspec URL")
    preset: str | None = Field(
        default=None,
        description="a named EmParams preset (EmParams.preset, e.g. 'salient360'); the em "
        "keys given override its values",
    )
    em: EmParams = Field(default_factory=EmParams, description="event detection parameters")
    eye_sigma_deg: float = Field(
        default=EYE_SIGMA_DEG, gt=0, le=180, description="Gaussian sigma of eye_heatmap, degrees"
    )
    videos: list[str] | None = Field(
        default=None, description="videos to process (default: every complete video with EM)"
    )
    overwrite: bool = Field(default=False, description="replace existing events")
    device: str = Field(default="auto", description="torch device of the eye heatmaps")

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("preset"):
            em = data.get("em") or {}
            if isinstance(em, dict):
                data = {**data, "em": EmParams.preset(str(data["preset"]), **em)}
        return data


@dataclass
class EmVideoResult:
    """One video of a run."""

    name: str
    status: str  # "written" or "skipped" (events already there, ingest's resume)
    n_subjects: int = 0
    n_samples: int = 0
    n_fixations: int = 0
    fixation_share: float = 0.0  # fraction of samples labelled FIXATION
    mean_fixation_s: float = float("nan")


@dataclass
class EmDetectSummary:
    """What a run did (printed by the CLI)."""

    store: str
    params: EmParams
    eye_sigma_deg: float
    videos: list[EmVideoResult] = field(default_factory=list)
    seconds: float = 0.0

    def format(self) -> str:
        """A few lines: the parameters, then one line per video."""
        p = self.params
        thr = (
            f"{p.velocity_threshold_deg_s:g} deg/s"
            if p.method == "ivt"
            else f"{p.dispersion_deg:g} deg over {p.idt_window_s:g} s"
        )
        lines = [
            f"store    {self.store}",
            f"method   {p.method} ({thr}"
            f"{'' if p.profile == 'pano' else ', profile ' + p.profile}), "
            f"resample {p.resample_hz or 'off'}, Savitzky-Golay "
            f"{p.savgol_window or 'off'}/{p.savgol_order}, min fixation {p.min_fixation_s:g} s; "
            f"eye heatmap sigma {self.eye_sigma_deg:g} deg",
        ]
        for v in self.videos:
            if v.status != "written":
                lines.append(f"  {v.name:<24} [{v.status}]")
                continue
            lines.append(
                f"  {v.name:<24} {v.n_subjects:>4} subj {v.n_samples:>7} samples "
                f"{v.n_fixations:>6} fixations ({100 * v.fixation_share:5.1f}% of samples, "
                f"mean {1000 * v.mean_fixation_s:6.1f} ms)  [written]"
            )
        lines.append(f"took     {self.seconds:.1f} s")
        return "\n".join(lines)


@dataclass
class _Detected:
    name: str
    times: np.ndarray  # (M, L) float64 each subject's detection grid, NaN-padded
    count: np.ndarray  # (M,) int32 samples of each subject's grid
    events: np.ndarray  # (M, L) int8, UNKNOWN in the padding
    velocity: np.ndarray  # (M, L) float32 deg/s, NaN in the padding
    fixations: list[Fixations]


def _subject_name(subjects: list[str], ids: np.ndarray, k: int) -> str:
    i = int(ids[k]) if k < ids.size else k
    return f"{subjects[i]} (index {k})" if 0 <= i < len(subjects) else f"index {k}"


def _recordings(
    times: np.ndarray, xyz: np.ndarray, where: str
) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Each subject's ``(times (N,), gaze (N, 3))``; None for a subject without gaze samples.

    ``em_time`` is ``(em_time,)`` shared by all subjects (PVS-HM groups) or ``(subject,
    em_sample)`` NaN-padded after each subject's last sample (trace groups); a subject whose
    times are all NaN has no gaze recording (left out, not an error).
    """
    if (
        xyz.ndim != 3
        or xyz.shape[2] != 3
        or times.shape[-1] != xyz.shape[1]
        or (times.ndim == 2 and times.shape[0] != xyz.shape[0])
        or times.ndim not in (1, 2)
    ):
        raise StoreError(f"{where}: em_xyz {xyz.shape} does not fit em_time {times.shape}")
    if times.ndim == 1:
        return [(times, xyz[k]) for k in range(xyz.shape[0])]
    out: list[tuple[np.ndarray, np.ndarray] | None] = []
    for k in range(xyz.shape[0]):
        fin = np.flatnonzero(np.isfinite(times[k]))
        if fin.size == 0:
            out.append(None)
            continue
        n = int(fin[-1]) + 1  # a NaN before the last finite time is refused by check_gaze
        out.append((times[k, :n], xyz[k, :n]))
    return out


def _empty_fixations() -> Fixations:
    z, i = np.zeros(0), np.zeros(0, dtype=np.int64)
    return Fixations(i, i, z, z, np.zeros((0, 3)), z, z)


def _detect_video(store: str, video: str, params: EmParams, subjects: list[str]) -> _Detected:
    """Detect every subject of one video (reads ``em_time``, ``em_xyz`` and ``subject``)."""
    from pano.stores.reader import read_video_array

    where = f"{store}: videos/{video}"
    ids = read_video_array(store, video, "subject")
    recs = _recordings(
        read_video_array(store, video, "em_time"), read_video_array(store, video, "em_xyz"), where
    )
    results: list[EmResult | None] = []
    for k, rec in enumerate(recs):
        what = f"{where}, subject {_subject_name(subjects, ids, k)}"
        results.append(None if rec is None else detect_events(rec[0], rec[1], params, what=what))
    if all(r is None for r in results):
        raise InputDataError(f"{where}: no subject has gaze samples (em_time is NaN everywhere)")
    m = len(results)
    count = np.array([0 if r is None else r.times.size for r in results], dtype=np.int32)
    length = int(count.max())
    times = np.full((m, length), np.nan)
    events = np.full((m, length), int(EmEvent.UNKNOWN), dtype=np.int8)
    velocity = np.full((m, length), np.nan, dtype=np.float32)
    for k, r in enumerate(results):
        if r is not None:
            n = r.times.size
            times[k, :n], events[k, :n], velocity[k, :n] = r.times, r.events, r.velocity
    return _Detected(
        name=video,
        times=times,
        count=count,
        events=events,
        velocity=velocity,
        fixations=[_empty_fixations() if r is None else r.fixations for r in results],
    )


def _arrays(
    det: _Detected, step_time: np.ndarray, heat: Any, eye: Any, device: Any
) -> tuple[dict[str, Any], int]:
    from pano.stores.writer import ArraySpec

    fx = det.fixations
    subj = np.concatenate([np.full(len(f), k, np.int32) for k, f in enumerate(fx)])
    cat = {
        name: np.concatenate([getattr(f, name) for f in fx]) if fx else np.zeros(0)
        for name in ("first", "last", "start_s", "duration_s", "lon", "lat")
    }
    vec = np.concatenate([f.vec for f in fx]).reshape(-1, 3)
    n_fix = int(subj.size)
    points = active_fixation_points(fx, step_time)
    fmap = fixation_maps(points, heat)
    emap = eye_heatmaps(points, eye, device)
    deg = {"units": "degrees"}
    se, f1, f3 = ("subject", "event_sample"), ("fixation",), ("fixation", "xyz")
    arrays = {
        "event_time": ArraySpec(se, det.times, {
            "long_name": "time of each sample of each subject's detection grid [s] (em_time, "
                         "or the resampled grid when em_params.resample_hz is set); NaN = "
                         "padding after the subject's last sample"}),
        "event_count": ArraySpec(("subject",), det.count, {
            "long_name": "samples of each subject's detection grid (the rest is padding)"}),
        "em_event": ArraySpec(se, det.events, {
            "long_name": "eye-movement event per sample (pano.em.EmEvent); 0 in the padding",
            "flag_values": [0, 1, 2, 3], "flag_meanings": "unknown fixation saccade blink"}),
        "em_velocity": ArraySpec(se, det.velocity, {
            "long_name": "gaze angular speed after smoothing [deg/s]; NaN where unknown"}),
        "n_fixations": ArraySpec(("subject",), np.array([len(f) for f in fx], np.int32), {
            "long_name": "number of fixations per subject"}),
        "fixation": ArraySpec(f1, np.arange(n_fix, dtype=np.int32), {
            "long_name": "fixation index (rows sorted by subject, then start)"}),
        "fix_subject": ArraySpec(f1, subj, {
            "long_name": "row along the video's subject dimension of each fixation"}),
        "fix_first": ArraySpec(f1, cat["first"].astype(np.int64), {
            "long_name": "index into the subject's row of event_time: first sample"}),
        "fix_last": ArraySpec(f1, cat["last"].astype(np.int64), {
            "long_name": "index into the subject's row of event_time: last sample (inclusive)"}),
        "fix_start": ArraySpec(f1, cat["start_s"].astype(np.float64), {
            "long_name": "time of the fixation's first sample [s]"}),
        "fix_duration": ArraySpec(f1, cat["duration_s"].astype(np.float64), {
            "long_name": "fixation duration [s] = (last - first + 1) x sample interval"}),
        "fix_lon": ArraySpec(f1, cat["lon"].astype(np.float64), {
            "long_name": "fixation centre longitude (+ LEFT)", **deg}),
        "fix_lat": ArraySpec(f1, cat["lat"].astype(np.float64), {
            "long_name": "fixation centre latitude (+ up)", **deg}),
        "fix_xyz": ArraySpec(f3, vec.astype(np.float64), {
            "long_name": "fixation centre: normalised mean of its unit vectors",
            "components": "x y z", "frame": "pano canonical: +x front, +y left, +z up"}),
        "fixation_map": ArraySpec(("step", "lat", "lon"), fmap, {
            "long_name": "fixations active at each step, counted per ERP pixel of their centre"}),
        "eye_heatmap": ArraySpec(("step", "lat", "lon"), emap, {
            "long_name": "eye saliency: Gaussians at the fixations active at each step",
            "sigma_deg": eye.sigma_deg, "normalize": eye.normalize}),
    }  # fmt: skip
    return arrays, n_fix


def _select_videos(cfg: EmDetectConfig) -> list[str]:
    """The complete videos with EM to process; one-line refusals for everything else."""
    from pano.stores.reader import describe, list_videos, read_video_attrs

    complete = list_videos(cfg.store)
    if cfg.videos is not None:
        unknown = [v for v in cfg.videos if v not in complete]
        if unknown:
            raise StoreError(
                f"{describe(cfg.store)}: no complete video {unknown[0]!r}; it has "
                f"{', '.join(complete) or 'no complete videos'}"
            )
        without = [v for v in cfg.videos if not read_video_attrs(cfg.store, v).has_em]
        if without:
            raise InputDataError(
                f"{describe(cfg.store)}: video {without[0]!r} has no eye-movement samples "
                "(has_em is false); choose videos ingested with --em"
            )
        return list(cfg.videos)
    with_em = [v for v in complete if read_video_attrs(cfg.store, v).has_em]
    if not with_em:
        raise InputDataError(
            f"{describe(cfg.store)}: none of its {len(complete)} complete video(s) has "
            "eye-movement samples (em_xyz); ingest the data with --em first"
        )
    return with_em


def detect_store(
    cfg: EmDetectConfig,
    only_missing: bool = False,
    announce: Callable[[str], None] | None = None,
) -> EmDetectSummary:
    """Detect events in every selected video and write them (see the module docstring).

    Args:
        cfg: the configuration.
        only_missing: process only videos without complete events and skip the others
            (what ``pano ingest --em-detect`` does on a resumed ingest); otherwise existing
            events are refused unless ``cfg.overwrite``.
        announce: called with progress lines (default: the log, at debug level: -vv).

    Raises:
        StoreNotFoundError, StoreError: no store, unknown video.
        InputDataError: no EM in the store, or bad EM samples (nothing written).
        StoreExistsError: events exist and neither ``overwrite`` nor ``only_missing``.
        StoreLockedError: another process writes the store.

    """
    from pano._version import __version__
    from pano.device import resolve_device
    from pano.stores.em import em_state, write_em_group
    from pano.stores.generation import bump_generation
    from pano.stores.lock import store_write_lock
    from pano.stores.preflight import check_store_location
    from pano.stores.reader import describe, open_root, read_root_attrs, read_video_array
    from pano.stores.schema import VIDEOS_GROUP, EmGroupAttrs

    say = announce or log.debug
    t0 = time.perf_counter()
    check_store_location(cfg.store, write=True, groups=(VIDEOS_GROUP,), option="STORE")
    open_root(cfg.store)  # no store here: one line, before the lock
    device = resolve_device(cfg.device)
    summary = EmDetectSummary(store=cfg.store, params=cfg.em, eye_sigma_deg=cfg.eye_sigma_deg)
    with store_write_lock(cfg.store, command="pano em detect"):
        root = read_root_attrs(cfg.store)
        videos = _select_videos(cfg)
        done = [v for v in videos if em_state(cfg.store, v) == "complete"]
        if only_missing:
            summary.videos += [EmVideoResult(v, "skipped") for v in done]
            videos = [v for v in videos if v not in done]
        elif done and not cfg.overwrite:
            raise StoreExistsError(
                f"{describe(cfg.store)}: {len(done)} video(s) already have eye-movement "
                f"events ({', '.join(done[:4])}{' ...' if len(done) > 4 else ''}); pass "
                "--overwrite to replace them"
            )
        detected = []
        for v in videos:  # everything is checked and detected before anything is written
            say(f"detecting events: {v}")
            detected.append(_detect_video(cfg.store, v, cfg.em, root.subjects))
        if detected:
            bump_generation(cfg.store)
        eye = eye_heatmap_params(root.heatmap, cfg.eye_sigma_deg)
        created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        for det in detected:
            step_time = read_video_array(cfg.store, det.name, "step_time")
            arrays, n_fix = _arrays(det, step_time, root.heatmap, eye, device)
            attrs = EmGroupAttrs(
                em_params=cfg.em, eye_heatmap=eye, eye_sigma_deg=cfg.eye_sigma_deg,
                n_subjects=int(det.events.shape[0]), n_fixations=n_fix,
                pano_version=__version__, created=created,
            )  # fmt: skip
            write_em_group(cfg.store, det.name, arrays, attrs)
            say(f"wrote events: {det.name} ({n_fix} fixations)")
            durations = np.concatenate([f.duration_s for f in det.fixations])
            summary.videos.append(
                EmVideoResult(
                    name=det.name,
                    status="written",
                    n_subjects=int(det.events.shape[0]),
                    n_samples=int(det.count.sum()),
                    n_fixations=n_fix,
                    fixation_share=float(np.sum(det.events == 1) / max(1, det.count.sum())),
                    mean_fixation_s=float(durations.mean()) if durations.size else float("nan"),
                )
            )
    summary.videos.sort(key=lambda r: r.name)
    summary.seconds = time.perf_counter() - t0
    return summary
