"""The ``pano ingest pvs-hm`` configuration and its result types.

:class:`IngestConfig` is what the CLI and Python callers build (YAML:
``pipelines/configs/ingest.yaml``); :class:`IngestSummary` (one :class:`VideoResult` per
video) is what :func:`pano.pipelines.ingest.ingest_pvs_hm` returns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from pano.config import PanoConfig
from pano.em import EmParams
from pano.em.maps import EYE_SIGMA_DEG
from pano.errors import ConfigError
from pano.stores.schema import HeatmapParams, ResampleParams


class StoreIngestSettings(PanoConfig):
    """What every ingest shares: the output store, its ground-truth parameters and how it runs.

    Base of :class:`IngestConfig` (``pano ingest pvs-hm``) and
    :class:`pano.pipelines.ingest_traces.TraceIngestConfig` (``pano ingest <format>``).
    """

    store: str = Field(description="output store: a path or an fsspec URL")
    heatmap: HeatmapParams = Field(default_factory=lambda: HeatmapParams())
    resample: ResampleParams = Field(default_factory=lambda: ResampleParams())
    device: str = Field(
        default="auto", description="torch device for the heatmaps: auto, cpu, cuda, cuda:N"
    )
    workers: int | None = Field(
        default=None,
        ge=0,
        description="Dask worker processes (default: one per video, <= CPUs); 0 = in-process",
    )
    scheduler: str | None = Field(
        default=None, description="address of an existing Dask scheduler (tcp://host:8786)"
    )
    dashboard: str = Field(
        default="local",
        description="Dask dashboard of a local cluster: 'local' (127.0.0.1), 'off' or HOST:PORT",
    )
    overwrite: bool = Field(
        default=False, description="replace an existing store instead of resuming it"
    )
    count_frames: Literal["auto", "container", "demux"] = Field(
        default="auto", description="frame count: header if consistent, header only, or demux"
    )
    verify: bool = Field(
        default=False,
        description="read every chunk of the complete videos and rewrite the damaged ones",
    )

    @field_validator("store")
    @classmethod
    def _store_not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ConfigError("must be a path or URL")
        return v

    @field_validator("dashboard")
    @classmethod
    def _dashboard(cls, v: str) -> str:
        from pano.pipelines.runner import check_dashboard

        return check_dashboard(v)


class EmDetectSettings(BaseModel):
    """Eye-movement event detection right after an ingest (``--em-detect``).

    As ``pano em detect``, on the videos with EM that have no events yet; shared by
    ``pano ingest pvs-hm`` and ``pano ingest <format>``.
    """

    em_detect: bool = Field(
        default=False,
        description="after the ingest, detect eye-movement events (pano em detect) in every "
        "video with EM that has none yet",
    )
    em_params: EmParams = Field(
        default_factory=EmParams, description="event detection parameters of em_detect"
    )
    eye_sigma_deg: float = Field(
        default=EYE_SIGMA_DEG, gt=0, le=180, description="eye heatmap sigma of em_detect, degrees"
    )


class IngestConfig(StoreIngestSettings, EmDetectSettings):
    """Configuration of ``pano ingest pvs-hm`` (see ``pipelines/configs/ingest.yaml``)."""

    videos: Path = Field(description="folder of the mp4 videos")
    hm: Path = Field(description="head-movement .mat file (FULLdata_per_video_frame.mat)")
    em: Path | None = Field(
        default=None, description="optional eye-movement .mat file (EMdata_per_video_frame.mat)"
    )
    traces: Path | None = Field(
        default=None,
        description="optional folder of PVS-HM's raw txt traces (<user>/<video>.txt) of the same "
        "data: compared with the HM .mat sample by sample before anything is written",
    )
    traces_tolerance_deg: float = Field(
        default=1e-3,
        ge=0,
        description="largest accepted txt-.mat difference (great-circle degrees); beyond it the "
        "ingest is refused",
    )
    val_videos: list[str] = Field(
        default_factory=list, description="videos to put in the 'val' split"
    )
    dataset: str | None = Field(
        default=None, description="dataset name in the store (default: detected)"
    )
    spf_tolerance: float = Field(
        default=0.05,
        ge=0,
        lt=0.5,
        description="allowed distance of n_samples / n_frames from a whole number",
    )
    angle_tolerance_deg: float = Field(
        default=1e-3, ge=0, le=1, description="tolerance of the |lat|<=90, |lon|<=180 check"
    )
    mixed_rates: bool = Field(
        default=False,
        description="accept videos whose HM samples per frame differ (else refused: a "
        "truncated video with a whole-number ratio looks like this)",
    )
    mixed_subjects: bool = Field(
        default=False,
        description="accept videos with different numbers of subjects (else refused)",
    )

    @model_validator(mode="after")
    def _em_detect_needs_em(self) -> IngestConfig:
        if self.em_detect and self.em is None:
            raise ConfigError("em_detect needs eye-movement data: give em (--em FILE)")
        return self


class VideoResult(BaseModel):
    """One video in an ingest summary."""

    name: str
    status: Literal["written", "skipped"]
    split: str
    n_frames: int
    fps: float
    n_subjects: int
    n_samples: int
    n_nan_samples: int
    n_steps: int
    has_em: bool


class IngestSummary(BaseModel):
    """What an ingest run did (also printed by the CLI)."""

    store: str
    dataset: str
    videos: list[VideoResult] = Field(default_factory=list)
    videos_without_hm: list[str] = Field(default_factory=list)
    hm_without_videos: list[str] = Field(default_factory=list)
    em_missing: list[str] = Field(
        default_factory=list, description="videos with HM but no EM variable"
    )
    traces_check: list[str] = Field(
        default_factory=list,
        description="the txt-.mat comparison (--traces): one line per video, largest difference",
    )
    em_events: list[str] = Field(
        default_factory=list, description="videos whose EM events this run detected"
    )
    em_events_kept: list[str] = Field(
        default_factory=list, description="videos that already had EM events (kept)"
    )
    n_subjects: int = 0
    store_bytes: int = 0
    seconds: float = 0.0

    @property
    def written(self) -> list[str]:
        """Videos written by this run."""
        return [v.name for v in self.videos if v.status == "written"]

    @property
    def skipped(self) -> list[str]:
        """Videos that were already complete."""
        return [v.name for v in self.videos if v.status == "skipped"]

    @property
    def total_samples(self) -> int:
        """Subject x time samples over all videos."""
        return sum(v.n_subjects * v.n_samples for v in self.videos)

    @property
    def total_nan_samples(self) -> int:
        """NaN (subject, sample) pairs over all videos."""
        return sum(v.n_nan_samples for v in self.videos)

    def format(self) -> str:
        """Human-readable summary (a few lines)."""
        lines = [
            f"store    {self.store} ({self.dataset})",
            f"videos   {len(self.videos)} in store: {len(self.written)} written, "
            f"{len(self.skipped)} already complete",
        ]
        for v in self.videos:
            lines.append(
                f"  {v.name:<24} {v.split:<5} {v.n_frames:>6} frames {v.fps:7.3f} fps "
                f"{v.n_subjects:>4} subj {v.n_samples:>7} samples {v.n_nan_samples:>5} NaN "
                f"{v.n_steps:>5} steps{'  EM' if v.has_em else ''}  [{v.status}]"
            )
        lines.append(
            f"totals   {self.n_subjects} subjects, {self.total_samples} samples (subject x time), "
            f"{self.total_nan_samples} NaN samples, {sum(v.n_steps for v in self.videos)} heatmaps"
        )
        if self.videos_without_hm:
            lines.append(
                "warning  videos without HM data (not ingested): "
                + ", ".join(self.videos_without_hm)
            )
        if self.hm_without_videos:
            lines.append(
                "warning  HM variables without a video (not ingested): "
                + ", ".join(self.hm_without_videos)
            )
        if self.em_missing:
            lines.append(f"warning  videos without EM data: {', '.join(self.em_missing)}")
        lines.extend(f"traces   {line}" for line in self.traces_check)
        if self.em_events or self.em_events_kept:
            lines.append(
                f"em       events detected in {len(self.em_events)} video(s) "
                f"({len(self.em_events_kept)} already had them): videos/<video>/em"
            )
        lines.append(
            f"size     {self.store_bytes} bytes ({self.store_bytes / 2**20:.2f} MiB), "
            f"{self.seconds:.1f} s"
        )
        return "\n".join(lines)
