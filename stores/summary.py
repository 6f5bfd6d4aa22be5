"""``pano info``: a store's summary - videos, totals, prediction runs and results.

:func:`store_summary` reads attributes only (no array data), except for prediction
video groups without a recorded content hash (written by tools other than pano's
writer), which are hashed to tell whether results scored on them are stale.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from pano.stores.predictions import prediction_path, prediction_runs, run_progress
from pano.stores.reader import (
    array_at,
    damaged_videos,
    group_at,
    is_complete,
    list_videos,
    open_root,
    read_root_attrs,
    read_video_attrs,
    store_nbytes,
)
from pano.stores.results import list_results, results_path, stale_reasons

if TYPE_CHECKING:
    import zarr


@dataclass
class VideoRow:
    """One line of a store summary."""

    name: str
    split: str
    n_frames: int
    fps: float
    n_subjects: int
    n_samples: int
    n_nan_samples: int
    n_steps: int
    has_em: bool


@dataclass
class RunRow:
    """One prediction run (``predictions/<name>``) or results group (``results/<name>``)."""

    group: str
    complete: bool
    detail: str
    #: Why a results group no longer describes the predictions it scored ([]: current).
    stale: list[str] = field(default_factory=list)
    #: The command that rescores a stale results group (its prediction runs and name).
    rerun: str = "pano eval --overwrite"


@dataclass
class StoreSummary:
    """What ``pano info`` prints: per video and totals, then prediction runs and results."""

    location: str
    dataset: str
    schema_version: int
    n_subjects: int
    heatmap: dict[str, Any]
    videos: list[VideoRow] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    store_bytes: int = 0
    runs: list[RunRow] = field(default_factory=list)
    damaged: dict[str, list[str]] = field(default_factory=dict)  # video -> missing arrays
    writer: str | None = None  # who holds the store's write lock now (pano.stores.lock)
    generation: str = ""  # the store's generation (pano.stores.generation), for people
    source_convention: dict[str, Any] = field(default_factory=dict)  # conventions.source
    repairs: list[dict[str, Any]] = field(default_factory=list)  # what the reader changed
    split_source: str | None = None  # where the splits came from (trace ingests)
    no_video: list[str] = field(default_factory=list)  # videos stored without their file
    #: Videos with EM -> state of their events group videos/<video>/em (pano.stores.em):
    #: "complete <method>", "incomplete" or "absent".
    em_events: dict[str, str] = field(default_factory=dict)
    #: One line per gaze data set (gaze/<dataset>, pano.stores.gaze.gaze_summary).
    gaze: list[str] = field(default_factory=list)

    @property
    def total_samples(self) -> int:
        """Sum over videos of subjects x samples."""
        return sum(v.n_subjects * v.n_samples for v in self.videos)

    @property
    def total_nan_samples(self) -> int:
        """Sum over videos of NaN (subject, sample) pairs."""
        return sum(v.n_nan_samples for v in self.videos)

    def _source_lines(self) -> list[str]:
        """The source convention, split origin, repairs and trace-only videos, for people."""
        lines = []
        conv = self.source_convention
        if conv:
            lines.append("source   " + "; ".join(f"{k}: {v}" for k, v in conv.items()))
        if self.split_source:
            lines.append(f"splits   {self.split_source}")
        if self.no_video:
            lines.append(
                f"traces   {len(self.no_video)} video(s) without their video file (ingested "
                "without --videos): ground truth, forecasting and eval work; viewports and "
                "content models need --videos"
            )
        if self.repairs:
            lines.append(f"repairs  {len(self.repairs)} applied by the reader:")
            for r in self.repairs:
                where = ", ".join(
                    f"{k} {r[k]}" for k in ("video", "subject") if r.get(k) not in (None, "")
                )
                lines.append(f"  {r.get('kind', '?')}: {r.get('detail', '')}"
                             + (f" ({where})" if where else ""))  # fmt: skip
        else:
            lines.append("repairs  none")
        return lines

    def format(self) -> str:
        """Human-readable multi-line summary."""
        hm = self.heatmap
        lines = [
            f"store    {self.location}",
            *([f"writer   {self.writer} is writing this store now"] if self.writer else []),
            f"dataset  {self.dataset} (pano schema v{self.schema_version}), "
            f"{self.n_subjects} subjects, {len(self.videos)} complete videos",
            f"heatmap  {hm.get('width')}x{hm.get('height')}, sigma {hm.get('sigma_deg')} deg, "
            f"every {hm.get('step_frames')} frames, normalize {hm.get('normalize')}",
            *([f"state    {self.generation}"] if self.generation else []),
            *self._source_lines(),
            "",
            f"{'video':<24} {'split':<5} {'frames':>7} {'fps':>7} {'subj':>5} {'samples':>8} "
            f"{'NaNs':>6} {'steps':>6} {'EM':>3}",
        ]
        for v in self.videos:
            lines.append(
                f"{v.name:<24} {v.split:<5} {v.n_frames:>7} {v.fps:>7.3f} {v.n_subjects:>5} "
                f"{v.n_samples:>8} {v.n_nan_samples:>6} {v.n_steps:>6} "
                f"{'yes' if v.has_em else 'no':>3}"
            )
        lines += [
            "",
            f"total    {len(self.videos)} videos, {sum(v.n_frames for v in self.videos)} frames, "
            f"{self.total_samples} samples (subject x time), {self.total_nan_samples} NaN samples, "
            f"{sum(v.n_steps for v in self.videos)} heatmaps",
            f"size     {self.store_bytes} bytes ({self.store_bytes / 2**20:.1f} MiB)",
        ]
        if self.em_events:
            done = {k: v for k, v in self.em_events.items() if v.startswith("complete")}
            methods = sorted({v.split(" ", 1)[1] for v in done.values()})
            half = sorted(k for k, v in self.em_events.items() if v == "incomplete")
            lines.append(
                f"em       events (videos/<video>/em) in {len(done)}/{len(self.em_events)} "
                f"videos with EM{' (' + ', '.join(methods) + ')' if methods else ''}"
                + (f"; incomplete (re-run pano em detect): {', '.join(half)}" if half else "")
            )
        if self.incomplete:
            lines.append(f"incomplete (re-run the ingest to finish): {', '.join(self.incomplete)}")
        if self.damaged:
            lines.append(
                "damaged (marked complete but arrays are missing; re-run the ingest to repair): "
                + "; ".join(f"{k} (no {', '.join(v)})" for k, v in self.damaged.items())
            )
        if self.gaze:
            lines += ["", "gaze", *self.gaze]
        if self.runs:
            width = max(len(r.group) for r in self.runs)
            lines += ["", "runs"]
            for r in self.runs:
                flag = "" if r.complete else "  [incomplete: re-run to finish]"
                if r.stale:
                    flag += f"  [stale: {'; '.join(r.stale)}; re-run {r.rerun}]"
                lines.append(f"  {r.group:<{width}}  {r.detail}{flag}")
        return "\n".join(lines)


def store_summary(location: str | os.PathLike) -> StoreSummary:
    """Summarise a store (per video: split, frames, fps, samples, NaNs; totals; bytes)."""
    from pano.stores.em import em_state, read_em_attrs
    from pano.stores.gaze import gaze_summary
    from pano.stores.generation import GENERATION_ATTR, Generation
    from pano.stores.lock import current_writer

    root = open_root(location)
    ra = read_root_attrs(root)
    writer = current_writer(location)
    damaged = damaged_videos(root)
    rows = []
    no_video = []
    em_events: dict[str, str] = {}
    for name in list_videos(root):
        va = read_video_attrs(root, name)
        if va.video is None:
            no_video.append(name)
        if va.has_em:
            state = em_state(root, name)
            if state == "complete":
                state += f" {read_em_attrs(root, name).em_params.method}"
            em_events[name] = state
        rows.append(
            VideoRow(
                name=name, split=va.split, n_frames=va.frame_count(), fps=va.frame_rate(),
                n_subjects=va.n_subjects, n_samples=va.n_samples, n_nan_samples=va.n_nan_samples,
                n_steps=va.n_steps, has_em=va.has_em,
            )
        )  # fmt: skip
    return StoreSummary(
        location=str(location),
        dataset=ra.dataset,
        schema_version=ra.pano_schema_version,
        n_subjects=len(ra.subjects),
        heatmap=ra.heatmap.model_dump(),
        videos=rows,
        incomplete=[n for n in list_videos(root, complete=False) if n not in damaged],
        store_bytes=store_nbytes(location),
        runs=_run_rows(root, str(location)),
        damaged=damaged,
        writer=None if writer is None else writer.describe(),
        generation=Generation.from_attrs(root.attrs.get(GENERATION_ATTR)).describe(),
        source_convention=dict(ra.conventions.source),
        repairs=list(ra.repairs),
        split_source=getattr(ra, "split_source", None),
        no_video=no_video,
        em_events=em_events,
        gaze=gaze_summary(root),
    )


def _run_rows(root: zarr.Group, location: str) -> list[RunRow]:
    """The store's prediction runs and results groups, described in one line each."""
    rows = []
    for name in prediction_runs(root):
        done, total = run_progress(root, name)
        a = group_at(root, prediction_path(name)).attrs.asdict()
        rows.append(
            RunRow(
                prediction_path(name),
                total > 0 and done == total,
                f"model {a.get('model', '?')}, split {a.get('split', '?')}, {done}/{total} videos",
            )
        )
    for name in list_results(root, complete=None):
        g = group_at(root, results_path(name))
        a = g.attrs.asdict()
        has_models = "model" in g.array_keys()
        models = [str(m) for m in np.asarray(array_at(g, "model")[:])] if has_models else []
        profile = a.get("profile", {})
        complete = is_complete(a)
        rows.append(
            RunRow(
                results_path(name),
                complete,
                f"target {a.get('target', 'head')}, split {a.get('split', '?')}, profile "
                f"{profile.get('name', '?') if isinstance(profile, dict) else profile}, "
                f"{len(models)} models: {', '.join(models)}",
                stale_reasons(root, name) if complete else [],
                _rerun_command(location, name, a.get("predictions"), a.get("target")),
            )
        )
    return rows


def _rerun_command(location: str, run: str, predictions: object, target: object = None) -> str:
    """``pano eval`` with the store, runs, target and results name that rescore ``run``."""
    cmd = f"pano eval {location}"
    if isinstance(predictions, list) and predictions:
        cmd += f" --predictions {','.join(str(p) for p in predictions)}"
    if target == "eye":
        cmd += " --target eye"
    return f"{cmd} --run {run} --overwrite"
