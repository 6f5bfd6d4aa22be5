"""``pano ingest <format>``: build a pano store from a data set of timestamped traces.

Every raw format in :data:`pano.stores.formats.FORMATS` has a reader that returns a
:class:`pano.stores.traces.TraceSet` (canonical unit vectors, timestamps in seconds, the
source's convention, the repairs it made). :func:`ingest_traces` turns that into a store
with one ``videos/<name>`` group per video (the ``traces`` layout,
:mod:`pano.stores.trace_arrays`), in the same way as ``pano ingest pvs-hm``:

1. read the whole data set and check every trace (:meth:`TraceSet.check`); with
   ``--videos`` find and probe each video's file (a video without a file is refused);
   decide the splits (:mod:`pano.stores.splits`) - all before the store is touched, so
   bad input leaves the store as it was;
2. open (or create) the store under its write lock; a complete store with the same
   parameters is left alone, other parameters (or other subjects) need ``--overwrite``;
   complete videos are skipped (resume), damaged ones rewritten (``--verify`` reads every
   chunk first);
3. one task per video (Dask, :mod:`pano.pipelines.runner`) computes and writes its own
   group, marked complete last;
4. the driver writes the root attributes: subjects, splits, the source convention
   (``conventions.source``), every repair (``repairs``), provenance with the SHA-256 of
   every source file.

Videos are optional: without ``--videos`` a group has no ``video`` attribute and its
step grid uses the data set's frame rate (``VideoInfo.fps``) or ``nominal_fps``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from pano._version import __version__
from pano.errors import ConfigError, InputDataError, InputFileNotFoundError, StoreExistsError
from pano.geometry import CANONICAL_FRAME
from pano.pipelines.ingest import (
    _file_source,
    _inspect_store,
    _now,
    _ProbeJob,
    _ProbeResult,
    _raise_first,
    _remove_store,
    detect_missing_events,
)
from pano.pipelines.ingest_config import (
    EmDetectSettings,
    IngestSummary,
    StoreIngestSettings,
    VideoResult,
)
from pano.pipelines.runner import dask_runner
from pano.stores.schema import (
    VIDEOS_GROUP,
    Conventions,
    HeatmapParams,
    Provenance,
    ResampleParams,
    RootAttrs,
    SourceFile,
    Split,
    Splits,
    VideoAttrs,
    VideoSource,
)
from pano.stores.traces import SourceMap, Trace, TraceSet

log = logging.getLogger("pano.pipelines.ingest_traces")


class TraceIngestConfig(StoreIngestSettings, EmDetectSettings):
    """Configuration of ``pano ingest <format>`` for a trace format."""

    format: str = Field(description="the raw format (pano.stores.formats.FORMATS)")
    source: Path = Field(description="the downloaded data set (a folder or file)")
    videos: Path | None = Field(default=None, description="optional folder of the video files")
    options: dict[str, Any] = Field(
        default_factory=dict, description="keyword options of the format's reader"
    )
    split: str = Field(default="auto", description="auto, dataset, track, dhp or none")
    val_fraction: float = Field(
        default=0.0, ge=0, lt=1, description="train videos drawn into 'val' when none is val"
    )
    seed: int = Field(default=0, description="seed of the val draw")
    nominal_fps: float = Field(
        default=30.0, gt=0, le=1000,
        description="frame rate of the step grid when neither a video file nor the data set "
        "gives one",
    )  # fmt: skip
    dataset: str | None = Field(default=None, description="data set name (default: the reader's)")


@dataclass
class _TraceJob:
    store: str
    name: str  # group name
    source_name: str  # the data set's video name
    traces: list[Trace]
    maps: list[SourceMap]
    subject_index: dict[str, int]
    subject_ids: list[str]
    fps: float
    fps_source: str
    duration_s: float | None
    video: VideoSource | None
    split: Split
    dataset: str
    heatmap: HeatmapParams
    resample: ResampleParams
    device: str


def _write_trace_task(job: _TraceJob) -> VideoResult:
    from pano.device import resolve_device
    from pano.stores.trace_arrays import build_trace_arrays, map_arrays
    from pano.stores.writer import write_video_group

    arrays, info = build_trace_arrays(
        job.traces, job.subject_index, job.fps, job.duration_s, job.heatmap, job.resample,
        job.name, device=resolve_device(job.device),
    )  # fmt: skip
    arrays.update(map_arrays(job.maps, job.dataset))
    attrs = VideoAttrs(
        video=job.video, layout="traces", source_variable=job.source_name,
        source_name=None if job.source_name == job.name else job.source_name,
        split=job.split, fps=job.fps, fps_source=job.fps_source,  # type: ignore[arg-type]
        subject_ids=job.subject_ids, **info,
    )  # fmt: skip
    write_video_group(job.store, job.name, arrays, attrs)
    return _row(job.name, attrs, "written")


def _row(name: str, a: VideoAttrs, status: Any) -> VideoResult:
    return VideoResult(
        name=name, status=status, split=a.split, n_frames=a.frame_count(), fps=a.frame_rate(),
        n_subjects=a.n_subjects, n_samples=a.n_samples, n_nan_samples=a.n_nan_samples,
        n_steps=a.n_steps, has_em=a.has_em,
    )  # fmt: skip


def read_traces(cfg: TraceIngestConfig) -> TraceSet:
    """Read and check the data set with its format's reader (nothing is written).

    Raises:
        UnknownNameError: no such format (the message lists them).
        InputFileNotFoundError: the source does not exist.
        InputDataError: the reader's, or :meth:`TraceSet.check`'s, one-line complaint.

    """
    from pano.stores.formats import get_format

    fmt = get_format(cfg.format)
    if not cfg.source.exists():
        raise InputFileNotFoundError(f"{cfg.source}: not found (the {cfg.format} data set)")
    ts = fmt.read(cfg.source, **cfg.options)
    ts.check()
    return ts


def ingest_traces(cfg: TraceIngestConfig, traces: TraceSet | None = None) -> IngestSummary:
    """Build (or finish) a store from a trace format, holding the store's write lock.

    See the module docstring. ``traces``: a :class:`TraceSet` built in Python, ingested
    instead of reading ``cfg.source`` with ``cfg.format``'s reader (it is checked the same
    way; ``cfg.source`` is then only recorded). Raises what :func:`read_traces` raises, plus
    :class:`~pano.errors.StoreExistsError` (other parameters without ``overwrite``),
    :class:`~pano.errors.StoreLockedError`, :class:`~pano.errors.VideoError` and
    :class:`~pano.errors.InputDataError` for a video without its file.
    """
    from pano.stores.lock import store_write_lock
    from pano.stores.preflight import check_store_location

    check_store_location(cfg.store, write=True, groups=(VIDEOS_GROUP,), option="STORE")
    with store_write_lock(cfg.store, command=f"pano ingest {cfg.format}"):
        summary = _ingest(cfg, traces)
        if cfg.em_detect:  # still under the lock: events of the videos that lack them
            detect_missing_events(cfg.store, cfg.device, cfg, summary)
        return summary


def check_detectable(ts: TraceSet, cfg: TraceIngestConfig) -> None:
    """Run ``--em-detect``'s detector on every gaze trace in memory, before anything is written.

    The detector refuses an all-NaN recording, timestamps at a changing rate (without
    ``em_params.resample_hz``) or a zero-length gaze vector; checking here makes that one line
    with nothing written, instead of a refusal after the traces are in the store. The
    store's ``em_time`` / ``em_xyz`` rows are these traces' ``t`` / ``gaze``, so the check is
    the detection itself (numpy, a small share of an ingest's time).

    Raises:
        InputDataError: naming the file, subject and video, and the way out.
    """
    from pano.em import detect_events

    for tr in ts.traces:
        if tr.gaze is None:
            continue
        what = f"{tr.where or tr.video}: subject {tr.subject!r}, video {tr.video!r}"
        try:
            detect_events(tr.t, tr.gaze, cfg.em_params, what=what)
        except InputDataError as exc:
            raise InputDataError(
                f"--em-detect: {exc} (nothing was written; fix the gaze data or ingest "
                "without --em-detect)"
            ) from exc


def _video_files(cfg: TraceIngestConfig, names: list[str]) -> dict[str, Path]:
    """The file of every video read (``--videos``); refuse a video without one."""
    from pano.stores.pvs_hm import find_videos

    if cfg.videos is None:
        return {}
    files = find_videos(cfg.videos.resolve())
    missing = [n for n in names if n not in files]
    if missing:
        raise InputDataError(
            f"{cfg.videos}: no video file for {', '.join(missing[:5])}"
            f"{' ...' if len(missing) > 5 else ''} ({len(missing)} of {len(names)} videos); "
            "put <name>.mp4 there for each video, or ingest without --videos"
        )
    return {n: files[n] for n in names}


def _ingest(cfg: TraceIngestConfig, traces: TraceSet | None) -> IngestSummary:
    from pano.device import resolve_device
    from pano.stores.names import map_source_names
    from pano.stores.reader import local_path, read_root_attrs, store_nbytes
    from pano.stores.splits import plan_splits

    t0 = time.perf_counter()
    resolve_device(cfg.device)
    if traces is None:
        ts = read_traces(cfg)
    else:
        ts = traces
        ts.check()
    if cfg.em_detect and not any(t.gaze is not None for t in ts.traces):
        raise ConfigError(
            f"--em-detect: the {cfg.format} data read from {cfg.source} holds no eye movements "
            "(head traces only); drop --em-detect"
        )
    if cfg.em_detect:
        check_detectable(ts, cfg)
    dataset = cfg.dataset or ts.dataset
    videos = ts.video_names()
    names = map_source_names(videos, str(cfg.source))
    subjects = ts.subjects()
    index = {s: i for i, s in enumerate(subjects)}
    plan = plan_splits(cfg.split, dataset, videos, subjects, ts.splits, cfg.val_fraction, cfg.seed)
    files = _video_files(cfg, videos)
    exists, kept = _inspect_store(cfg, dataset)
    if exists and not cfg.overwrite:
        stored = read_root_attrs(cfg.store)
        if stored.subjects and stored.subjects != subjects:
            raise StoreExistsError(
                f"{cfg.store}: the store was built with other subjects "
                f"({len(stored.subjects)} stored, {len(subjects)} read); pass --overwrite to "
                "rebuild it, or use another store"
            )
    store_path = local_path(cfg.store)
    task_store = cfg.store if store_path is None else str(store_path.resolve())
    todo = [v for v in videos if names[v] not in set(kept)]
    with dask_runner(
        cfg.store, cfg.workers, cfg.scheduler, len(todo), dashboard=cfg.dashboard
    ) as runner:
        from pano.pipelines.ingest import _probe_task

        probes = runner.map(
            _probe_task,
            [_ProbeJob(v, files[v], cfg.count_frames) for v in todo if v in files],
            "probing videos",
            return_errors=True,
            videos_dir=None if cfg.videos is None else cfg.videos.resolve(),
        )
        _raise_first([p for p in probes if isinstance(p, BaseException)])
        probed = {p.name: p.source for p in probes if isinstance(p, _ProbeResult)}
        maps: dict[str, list[SourceMap]] = {}
        for m in ts.maps:
            maps.setdefault(m.video, []).append(m)
        jobs = [_job(cfg, ts, v, names[v], probed.get(v), plan.of[v], index, subjects, task_store,
                     maps.get(v, []), dataset) for v in todo]  # fmt: skip
        _prepare(cfg, ts, dataset, exists, writes=bool(jobs))
        results = runner.map(
            _write_trace_task, jobs, "writing videos", scatter=True, return_errors=True
        )
    errors = [r for r in results if isinstance(r, BaseException)]
    written = {r.name for r in results if isinstance(r, VideoResult)}
    rows = _final_root(
        cfg, ts, dataset, subjects, plan, force=bool(written) or not exists or cfg.overwrite
    )
    _raise_first(errors)
    for r in rows:
        if r.name in written:
            r.status = "written"
    return IngestSummary(
        store=cfg.store,
        dataset=dataset,
        videos=rows,
        n_subjects=len(subjects),
        store_bytes=store_nbytes(cfg.store),
        seconds=time.perf_counter() - t0,
    )


def _job(
    cfg: TraceIngestConfig, ts: TraceSet, video: str, name: str, src: VideoSource | None,
    split: Split, index: dict[str, int], subjects: list[str], store: str,
    maps: list[SourceMap], dataset: str,
) -> _TraceJob:  # fmt: skip
    info = ts.videos.get(video)
    duration: float | None
    if src is not None:
        fps, fps_source, duration = src.fps, "video", src.duration_s
    elif info is not None and info.fps:
        fps, fps_source, duration = float(info.fps), "dataset", info.duration_s
    else:
        fps, fps_source = cfg.nominal_fps, "nominal"
        duration = info.duration_s if info is not None else None
    traces = ts.by_video(video)
    return _TraceJob(
        store=store, name=name, source_name=video, traces=traces, maps=maps,
        subject_index=index, subject_ids=[tr.subject for tr in traces], fps=float(fps),
        fps_source=fps_source, duration_s=duration, video=src, split=split, dataset=dataset,
        heatmap=cfg.heatmap, resample=cfg.resample, device=cfg.device,
    )  # fmt: skip


def _parameters(cfg: TraceIngestConfig) -> dict[str, Any]:
    p = cfg.model_dump(mode="json")
    for k in ("overwrite", "workers", "scheduler", "dashboard", "verify"):
        p.pop(k, None)
    return p


def _root(cfg: TraceIngestConfig, ts: TraceSet, dataset: str) -> RootAttrs:
    return RootAttrs(
        dataset=dataset,
        conventions=Conventions(
            canonical_frame=dict(CANONICAL_FRAME), source=ts.convention.to_attrs()
        ),
        heatmap=cfg.heatmap,
        resample=cfg.resample,
        repairs=[r.to_attrs() for r in ts.repairs],
        provenance=Provenance(
            pano_version=__version__, created=_now(), parameters=_parameters(cfg)
        ),
    )


def _prepare(
    cfg: TraceIngestConfig, ts: TraceSet, dataset: str, exists: bool, writes: bool
) -> None:
    """Create the store (or replace it with ``overwrite``); after every input check."""
    from pano.stores.generation import bump_generation
    from pano.stores.writer import create_root, ensure_videos_group, remove_debris

    if exists and not cfg.overwrite:
        if writes:
            bump_generation(cfg.store)
        ensure_videos_group(cfg.store)
        removed = remove_debris(cfg.store)
        if removed:
            log.info("removed what an interrupted ingest left: %s", ", ".join(removed))
        return
    previous = _remove_store(cfg.store) if exists else None
    create_root(cfg.store, _root(cfg, ts, dataset), previous)


def _sources(cfg: TraceIngestConfig, ts: TraceSet) -> list[SourceFile]:
    out = [SourceFile(role="source", path=str(cfg.source.resolve()))]
    for f in ts.files:
        p = Path(f)
        if p.is_file():
            out.append(_file_source("trace", p))
    if cfg.videos is not None:
        out.append(SourceFile(role="videos", path=str(cfg.videos.resolve())))
    return out


def _final_root(
    cfg: TraceIngestConfig, ts: TraceSet, dataset: str, subjects: list[str], plan: Any,
    force: bool,
) -> list[VideoResult]:  # fmt: skip
    """Rows of every complete video; rewrite the root attributes if anything changed."""
    from pano.stores.reader import list_videos, read_root_attrs, read_video_attrs
    from pano.stores.writer import write_root_attrs

    names = list_videos(cfg.store)
    attrs = {n: read_video_attrs(cfg.store, n) for n in names}
    rows = [_row(n, attrs[n], "skipped") for n in names]
    old = read_root_attrs(cfg.store)
    if not force and old.videos == names:
        return rows
    splits = Splits(
        **{s: [n for n in names if attrs[n].split == s] for s in ("train", "val", "test")}
    )
    video_sources = [
        SourceFile(role=f"video:{n}", path=a.video.path, sha256=a.video.sha256)
        for n, a in attrs.items()
        if a.video is not None
    ]
    base = _root(cfg, ts, dataset)
    extra = {
        "split_source": plan.source,
        "split_users": plan.users or None,
    }
    root = old.model_copy(  # keeps what other writers put there (the store's generation)
        update={
            "dataset": dataset,
            "conventions": base.conventions,
            "heatmap": cfg.heatmap,
            "resample": cfg.resample,
            "repairs": base.repairs,
            "subjects": subjects,
            "splits": splits,
            "videos": names,
            "provenance": Provenance(
                sources=[*_sources(cfg, ts), *video_sources], pano_version=__version__,
                created=_now(), parameters=_parameters(cfg),
            ),
        }
    )  # fmt: skip
    write_root_attrs(cfg.store, RootAttrs.model_validate({**root.to_attrs(), **extra}))
    return rows
