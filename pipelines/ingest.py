"""``pano ingest pvs-hm``: build a pano store from PVS-HM-format videos and ``.mat`` files.

The pipeline, in order (:func:`ingest_pvs_hm`):

1. read and check the HM (and EM) ``.mat`` files completely, match variables to video
   files by name (``NotBeAloneTonight`` <-> ``Let'sNotBeAloneTonight.mp4``) and report
   videos without HM and HM without videos;
2. open (or create) the store; a complete store with the same parameters is left alone,
   different parameters need ``--overwrite``; videos already complete are skipped
   (resume after a kill);
3. probe the remaining videos (fps, frames, size, codec, sha256) in parallel and check
   every ``n_samples / n_frames`` *before* writing anything, so bad input leaves the
   store as it was;
4. write the root attributes (driver only), then one Dask task per video computes the
   ground truth (heatmaps in torch on ``device``) and writes only its own
   ``videos/<name>`` group, marking it ``pano_complete`` last;
5. write the final root attributes (complete videos, splits, subjects, provenance) and
   return an :class:`IngestSummary`.

Parallelism (:mod:`pano.pipelines.runner`, shared with ``pano eval``): a
:class:`distributed.LocalCluster` of ``workers`` processes by default, an existing cluster
with ``scheduler`` (its workers must see the store and the videos), or in-process with
``workers=0`` (debugging; also used for ``memory://`` stores, which exist only inside this
process).
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from pano._version import __version__
from pano.errors import ConfigError, InputDataError, StoreError, StoreExistsError
from pano.geometry import CANONICAL_FRAME
from pano.pipelines.ingest_config import (
    EmDetectSettings,
    IngestConfig,
    IngestSummary,
    VideoResult,
)
from pano.pipelines.runner import dask_runner
from pano.pvs_hm_facts import DHP_TEST_VIDEOS
from pano.stores.generation import Generation
from pano.stores.schema import (
    PVS_HM_SOURCE_CONVENTION,
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
    check_params_match,
)

log = logging.getLogger("pano.pipelines.ingest")


# ---------------------------------------------------------------------------
# Tasks (run on Dask workers or in-process; module-level so they pickle by name)
# ---------------------------------------------------------------------------


@dataclass
class _ProbeJob:
    name: str
    path: Path
    count: str


@dataclass
class _ProbeResult:
    name: str
    source: VideoSource


def _probe_task(job: _ProbeJob, videos_dir: Path) -> _ProbeResult:
    from pano.probe import file_fingerprint, probe_video, sha256_file

    info = probe_video(job.path, count=job.count)  # type: ignore[arg-type]
    src = VideoSource(
        path=os.path.relpath(job.path, videos_dir),
        sha256=sha256_file(job.path),
        fingerprint=file_fingerprint(job.path),
        fps=info.fps,
        n_frames=info.n_frames,
        width=info.width,
        height=info.height,
        codec=info.codec,
        duration_s=info.duration_s,
    )
    return _ProbeResult(job.name, src)


@dataclass
class _WriteJob:
    store: str
    name: str  # the group name (pano.stores.names)
    variable: str  # the .mat variable
    hm: np.ndarray
    em: np.ndarray | None
    source: VideoSource
    split: Split
    heatmap: HeatmapParams
    resample: ResampleParams
    device: str
    spf_tolerance: float


def _write_task(job: _WriteJob) -> VideoResult:
    from pano.device import resolve_device
    from pano.stores.ground_truth import build_video_arrays
    from pano.stores.writer import write_video_group

    arrays, info = build_video_arrays(
        job.hm, job.source.n_frames, job.source.fps, job.heatmap, job.resample, job.name,
        em=job.em, device=resolve_device(job.device), spf_tolerance=job.spf_tolerance,
    )  # fmt: skip
    attrs = VideoAttrs(
        video=job.source, source_variable=job.variable, split=job.split,
        has_em=job.em is not None, source_name=None if job.variable == job.name else job.variable,
        **info,
    )  # fmt: skip
    write_video_group(job.store, job.name, arrays, attrs)
    return _result(job.name, attrs, "written")


def _result(name: str, a: VideoAttrs, status: Literal["written", "skipped"]) -> VideoResult:
    return VideoResult(
        name=name, status=status, split=a.split, n_frames=a.frame_count(), fps=a.frame_rate(),
        n_subjects=a.n_subjects, n_samples=a.n_samples, n_nan_samples=a.n_nan_samples,
        n_steps=a.n_steps, has_em=a.has_em,
    )  # fmt: skip


# ---------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------


def _file_source(role: str, path: Path) -> SourceFile:
    from pano.probe import sha256_file

    return SourceFile(
        role=role, path=str(path.resolve()), sha256=sha256_file(path), bytes=path.stat().st_size
    )


def _detect_dataset(videos_dir: Path) -> str:
    import json

    manifest = videos_dir / "manifest.json"
    if manifest.is_file():
        try:
            fmt = json.loads(manifest.read_text(encoding="utf-8")).get("format", "")
        except (OSError, ValueError, AttributeError):
            fmt = ""
        if fmt == "pano-synthetic-pvs-hm":
            return "synthetic-pvs-hm"
    return "pvs-hm"


def _split_of(name: str, val: set[str]) -> Split:
    if name in DHP_TEST_VIDEOS:
        return "test"
    return "val" if name in val else "train"


def _read_validated(path: Path, what: str, tol: float) -> dict[str, np.ndarray]:
    from pano.stores.pvs_hm import read_mat_variables, validate_angles

    raw = read_mat_variables(path, what)
    return {k: validate_angles(v, k, path, tol) for k, v in raw.items()}


def _check_em_subjects(path: Path, em: dict[str, np.ndarray]) -> None:
    """Refuse (for ``--em-detect``) a subject whose EM samples are all missing in a video.

    ``em[name]`` is ``(samples, 2 * subjects)`` (a lat/lon column pair per subject, as the
    ``.mat`` stores them); the detector refuses an all-NaN recording, so this makes that
    refusal one line before the store is touched.

    Raises:
        InputDataError: naming the file, the variable and the subject column pair.
    """
    for name, e in em.items():
        valid = np.isfinite(e[:, 0::2]) & np.isfinite(e[:, 1::2])  # (samples, subjects)
        empty = np.flatnonzero(~valid.any(axis=0))
        if empty.size:
            k = int(empty[0])
            raise InputDataError(
                f"{path}: variable '{name}': subject {k} (columns {2 * k}-{2 * k + 1}) has no "
                f"valid eye-movement sample, so --em-detect cannot detect its events; nothing "
                "was written (ingest without --em-detect, or fix the file)"
            )


def _check_txt_traces(cfg: IngestConfig, hm: dict[str, np.ndarray]) -> list[str]:
    """Compare PVS-HM's raw txt traces (``cfg.traces``) with the HM ``.mat`` variables.

    Row ``j`` of user folder ``k`` (folders sorted ignoring case) is compared with row ``j``
    of ``.mat`` subject ``k``, as great-circle angles between the unit vectors
    (:func:`pano.stores.pvs_hm_txt.compare_txt_with_mat`).

    Returns:
        One line per compared video (its largest difference, in degrees, and where), then
        the videos only one side has; empty without ``cfg.traces``.

    Raises:
        InputDataError: a malformed txt file, no video in common, or a difference larger
            than ``cfg.traces_tolerance_deg`` (one line naming the video, subject and row).

    """
    if cfg.traces is None:
        return []
    from pano.stores.pvs_hm_txt import compare_txt_with_mat, read_pvs_hm_txt

    traces = read_pvs_hm_txt(cfg.traces)
    comparison = compare_txt_with_mat(traces, hm)
    for line in comparison.format().splitlines():
        log.debug("txt vs .mat: %s", line)  # -vv; the summary prints them after the check
    comparison.check(cfg.traces_tolerance_deg, where=f"{cfg.traces} vs {cfg.hm}")
    return comparison.format().splitlines()


def _remove_store(location: str) -> Generation:
    from pano.stores.writer import remove_store

    return remove_store(location)  # marks every group incomplete before deleting anything


def _initial_root(cfg: IngestConfig, dataset: str) -> RootAttrs:
    return RootAttrs(
        dataset=dataset,
        conventions=Conventions(
            canonical_frame=dict(CANONICAL_FRAME), source=dict(PVS_HM_SOURCE_CONVENTION)
        ),
        heatmap=cfg.heatmap,
        resample=cfg.resample,
        provenance=Provenance(
            pano_version=__version__, created=_now(), parameters=_parameters(cfg)
        ),
    )


class _StoreTarget(Protocol):
    """What :func:`_inspect_store` needs of an ingest config (pvs-hm's or a trace format's)."""

    store: str
    overwrite: bool
    verify: bool
    heatmap: HeatmapParams
    resample: ResampleParams


def _inspect_store(cfg: _StoreTarget, dataset: str) -> tuple[bool, list[str]]:
    """Read-only look at the target: ``(exists, complete videos to keep)``.

    Raises:
        StoreExistsError: the location holds something that is not a pano store, or a
            store built with other parameters (without ``overwrite``).

    """
    from pano.stores.reader import damaged_videos, list_videos, read_root_attrs, store_exists

    if not store_exists(cfg.store):
        return False, []
    try:
        stored = read_root_attrs(cfg.store)
    except StoreError as err:
        raise StoreExistsError(
            f"{cfg.store}: exists but is not a pano store this pano can resume ({err}); "
            "choose another --store (it is not deleted, even with --overwrite)"
        ) from err
    if cfg.overwrite:
        return True, []
    diff = check_params_match(stored, cfg.heatmap, cfg.resample, dataset)
    if diff:
        raise StoreExistsError(
            f"{cfg.store}: the store was built with other parameters: {'; '.join(diff)}. "
            "Pass --overwrite to rebuild it, or use another --store"
        )
    for name, missing in damaged_videos(cfg.store).items():
        log.warning("video '%s' is marked complete but lacks %s: rewriting it", name, missing)
    kept = list_videos(cfg.store)  # complete and not damaged
    if cfg.verify:
        from pano.stores.verify import damaged_video_names, verify_store

        report = verify_store(cfg.store, full=True, prefix=VIDEOS_GROUP)
        for p in report.problems:
            log.warning("%s: %s: rewriting it", p.group, p.what)
        kept = [n for n in kept if n not in damaged_video_names(report)]
    return True, kept


def _prepare_store(cfg: IngestConfig, dataset: str, exists: bool, writes: bool) -> None:
    """Create the store (or replace it with ``overwrite``); called after all input checks.

    The store's generation (:mod:`pano.stores.generation`) moves on before anything is
    changed: in an existing store when video groups are going to be written (``writes``),
    by ``--overwrite`` when it starts deleting and in the new store's first ``zarr.json``.
    A re-run with nothing to write changes nothing, not even the generation.
    """
    from pano.stores.generation import bump_generation
    from pano.stores.writer import create_root, ensure_videos_group, remove_debris

    if exists and not cfg.overwrite:
        if writes:
            bump_generation(cfg.store)
        ensure_videos_group(cfg.store)  # a kill inside create_root can leave it out
        removed = remove_debris(cfg.store)
        if removed:
            log.info("removed what an interrupted ingest left: %s", ", ".join(removed))
        return
    previous = None
    if exists:
        log.info("--overwrite: replacing the store %s", cfg.store)
        previous = _remove_store(cfg.store)
    create_root(cfg.store, _initial_root(cfg, dataset), previous)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _parameters(cfg: IngestConfig) -> dict[str, Any]:
    p = cfg.model_dump(mode="json")
    # --traces only checks the .mat against the txt files (recorded in the sources): it
    # changes nothing in the data, so it is not a parameter a resume must match
    for k in ("overwrite", "workers", "scheduler", "dashboard", "verify", "traces",
              "traces_tolerance_deg"):  # fmt: skip
        p.pop(k, None)
    return p


def _write_final_root(
    cfg: IngestConfig, dataset: str, sources: list[SourceFile], force: bool
) -> list[VideoResult]:
    """Rows of every complete video; rewrite the root attributes if anything changed."""
    from pano.stores.reader import list_videos, read_root_attrs, read_video_attrs
    from pano.stores.writer import write_root_attrs

    names = list_videos(cfg.store)
    attrs = {n: read_video_attrs(cfg.store, n) for n in names}
    rows = [_result(n, attrs[n], "skipped") for n in names]
    old = read_root_attrs(cfg.store)
    if not force and old.videos == names:
        return rows  # a re-run on a complete store changes nothing
    splits = Splits(
        **{s: [n for n in names if attrs[n].split == s] for s in ("train", "val", "test")}
    )
    n_subj = max((a.n_subjects for a in attrs.values()), default=0)
    video_sources = [
        SourceFile(role=f"video:{n}", path=a.video.path, sha256=a.video.sha256)
        for n, a in attrs.items()
        if a.video is not None
    ]
    root = old.model_copy(
        update={
            "dataset": dataset,
            "subjects": [f"s{k:02d}" for k in range(n_subj)],
            "splits": splits,
            "heatmap": cfg.heatmap,
            "resample": cfg.resample,
            "videos": names,
            "provenance": Provenance(
                sources=[*sources, *video_sources], pano_version=__version__, created=_now(),
                parameters=_parameters(cfg),
            ),
        }
    )  # fmt: skip
    write_root_attrs(cfg.store, root)
    return rows


def ingest_pvs_hm(cfg: IngestConfig) -> IngestSummary:
    """Build (or finish) a pano store from PVS-HM-format data, holding the store's write lock.

    See the module docstring and :func:`_ingest`; the lock (``pano.stores.lock``) is taken
    before anything is read or written, so a second ingest into the same store is refused
    with one line (:class:`pano.errors.StoreLockedError`) naming the first.
    """
    from pano.stores.lock import store_write_lock
    from pano.stores.preflight import check_store_location

    check_store_location(cfg.store, write=True, groups=(VIDEOS_GROUP,), option="--store")
    with store_write_lock(cfg.store, command="pano ingest pvs-hm"):
        summary = _ingest(cfg)
        if cfg.em_detect:  # still under the lock: events of the videos that lack them
            detect_missing_events(cfg.store, cfg.device, cfg, summary)
        return summary


def detect_missing_events(
    store: str, device: str, em: EmDetectSettings, summary: IngestSummary
) -> None:
    """Run ``--em-detect`` after an ingest: events for the videos with EM that lack them.

    The videos detected and kept are written into ``summary``. Call it under the store's
    write lock (:func:`pano.stores.lock.store_write_lock` is re-entrant in a process).
    """
    from pano.pipelines.em_detect import EmDetectConfig, detect_store

    det = detect_store(
        EmDetectConfig(
            store=store, em=em.em_params, eye_sigma_deg=em.eye_sigma_deg, device=device
        ),
        only_missing=True,
    )  # fmt: skip
    summary.em_events = [v.name for v in det.videos if v.status == "written"]
    summary.em_events_kept = [v.name for v in det.videos if v.status != "written"]


def _ingest(cfg: IngestConfig) -> IngestSummary:
    """Build (or finish) a pano store from PVS-HM-format data; see the module docstring.

    Returns:
        The :class:`IngestSummary` (videos written / already complete, unmatched names,
        totals, store bytes).

    Raises:
        InputFileNotFoundError: missing videos folder or ``.mat`` file.
        InputDataError: bad ``.mat`` content, or a video whose frame count does not fit
            its data (nothing is written in these cases).
        VideoError: a missing, unreadable or corrupt video (nothing is written).
        StoreExistsError: the store was built with other parameters (use ``overwrite``).
        DeviceError, ConfigError: bad ``device`` / ``scheduler``.

    """
    from pano.device import resolve_device
    from pano.stores.names import map_source_names
    from pano.stores.pvs_hm import find_videos, match_videos
    from pano.stores.reader import list_videos, local_path, store_nbytes

    t0 = time.perf_counter()
    resolve_device(cfg.device)  # fail early on e.g. --device cuda without CUDA
    videos = find_videos(cfg.videos.resolve())  # absolute: workers may run elsewhere
    hm = _read_validated(cfg.hm, "HM", cfg.angle_tolerance_deg)
    em = _read_validated(cfg.em, "EM", cfg.angle_tolerance_deg) if cfg.em is not None else None
    traces_check = _check_txt_traces(cfg, hm)  # before anything is written
    match = match_videos(list(hm), videos)
    names = map_source_names(match.pairs, str(cfg.hm))  # .mat variable -> group name
    for n in match.hm_without_video:
        log.warning("HM variable '%s' has no video in %s: skipped", n, cfg.videos)
    for n in match.videos_without_hm:
        log.warning("video %s has no HM variable in %s: skipped", videos[n].name, cfg.hm)
    if not match.pairs:
        raise InputDataError(
            f"{cfg.hm}: no variable matches a video file in {cfg.videos} "
            f"(variables: {', '.join(sorted(hm)[:8])}{' ...' if len(hm) > 8 else ''})"
        )
    em_missing = sorted(n for n in match.pairs if em is not None and n not in em)
    for n in em_missing:
        log.warning("video '%s' has no EM variable in %s: stored without EM", n, cfg.em)
    if cfg.em_detect and em is not None and cfg.em is not None:  # before any write
        _check_em_subjects(cfg.em, {n: em[n] for n in match.pairs if n in em})
    bad_val = sorted(set(cfg.val_videos) & DHP_TEST_VIDEOS)
    if bad_val:
        raise ConfigError(
            f"val_videos: {', '.join(bad_val)} are DHP test videos and cannot be in 'val'"
        )
    val = set(cfg.val_videos)
    dataset = cfg.dataset or _detect_dataset(cfg.videos)
    sources = [
        SourceFile(role="videos", path=str(cfg.videos.resolve())),
        _file_source("hm", cfg.hm),
    ]
    if cfg.em is not None:
        sources.append(_file_source("em", cfg.em))
    if cfg.traces is not None:
        sources.append(SourceFile(role="traces", path=str(cfg.traces.resolve())))

    exists, kept = _inspect_store(cfg, dataset)
    store_path = local_path(cfg.store)  # absolute for the workers, whose cwd may differ
    task_store = cfg.store if store_path is None else str(store_path.resolve())
    complete = set(kept)
    todo = sorted(n for n in match.pairs if names[n] not in complete)
    if len(todo) < len(match.pairs):
        log.info("%d video(s) already complete in the store: skipped", len(match.pairs) - len(todo))
    with dask_runner(
        cfg.store, cfg.workers, cfg.scheduler, len(todo), dashboard=cfg.dashboard
    ) as runner:
        probes = runner.map(
            _probe_task,
            [_ProbeJob(n, match.pairs[n], cfg.count_frames) for n in todo],
            "probing videos",
            scatter=True,
            return_errors=True,
            videos_dir=cfg.videos.resolve(),
        )
        _raise_first([p for p in probes if isinstance(p, BaseException)])
        jobs = []
        from pano.stores.ground_truth import samples_per_frame, step_grid

        rates: dict[int, list[str]] = {}
        for pr in probes:
            n, src = pr.name, pr.source
            grid = step_grid(
                hm[n].shape[0], src.n_frames, src.fps, cfg.heatmap, n, cfg.spf_tolerance
            )
            rates.setdefault(round(grid.samples_per_frame), []).append(n)
            e = em.get(n) if em is not None else None
            if e is not None:
                if e.shape[1] != hm[n].shape[1]:
                    raise InputDataError(
                        f"{cfg.em}: variable '{n}' has {e.shape[1] // 2} subjects but the HM has "
                        f"{hm[n].shape[1] // 2}; the files do not match"
                    )
                samples_per_frame(e.shape[0], src.n_frames, n, "EM", cfg.spf_tolerance)
            jobs.append(
                _WriteJob(
                    store=task_store, name=names[n], variable=n, hm=hm[n], em=e, source=src,
                    split=_split_of(names[n], val),
                    heatmap=cfg.heatmap, resample=cfg.resample, device=cfg.device,
                    spf_tolerance=cfg.spf_tolerance,
                )
            )  # fmt: skip
        _check_consistent(cfg, kept, rates, {n: hm[n].shape[1] // 2 for n in _names_of(rates)})
        _prepare_store(cfg, dataset, exists, writes=bool(jobs))
        results = runner.map(_write_task, jobs, "writing videos", scatter=True, return_errors=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    written = {r.name for r in results if isinstance(r, VideoResult)}
    rows = _write_final_root(
        cfg, dataset, sources, force=bool(written) or not exists or cfg.overwrite
    )
    _raise_first(errors)
    for r in rows:
        if r.name in written:
            r.status = "written"
    summary = IngestSummary(
        store=cfg.store,
        dataset=dataset,
        videos=rows,
        videos_without_hm=[videos[n].name for n in match.videos_without_hm],
        hm_without_videos=match.hm_without_video,
        em_missing=em_missing,
        traces_check=traces_check,
        n_subjects=max((r.n_subjects for r in rows), default=0),
        store_bytes=store_nbytes(cfg.store),
        seconds=time.perf_counter() - t0,
    )
    incomplete = list_videos(cfg.store, complete=False)
    if incomplete:  # pragma: no cover - only if a writer died without raising
        log.warning("incomplete video groups remain: %s (re-run to finish)", ", ".join(incomplete))
    return summary


def _names_of(rates: dict[int, list[str]]) -> list[str]:
    """Every video name of a ``{samples per frame: [names]}`` map."""
    return [n for v in rates.values() for n in v]


def _odd_ones(groups: dict[int, list[str]]) -> tuple[int, list[str]]:
    """The most common key (ties: the smallest) and the names that have another one."""
    common = max(sorted(groups), key=lambda k: len(groups[k]))
    return common, sorted(n for k, v in groups.items() if k != common for n in v)


def _check_consistent(
    cfg: IngestConfig, kept: list[str], rates: dict[int, list[str]], subjects: dict[str, int]
) -> None:
    """Refuse videos that do not fit the rest (new ones and those already in the store).

    A different whole-number HM samples per frame (e.g. 1 where the rest have 2) is what a
    video truncated to half its length looks like; a different number of subjects means
    subject k is not the same person across videos. Both are refused before anything is
    written unless ``mixed_rates`` / ``mixed_subjects`` is set.

    Raises:
        InputDataError: naming the odd video(s), their value and the rest's.

    """
    from pano.stores.reader import read_video_attrs

    if not rates:
        return  # nothing new: what the store holds was accepted before
    rates = {k: list(v) for k, v in rates.items()}
    by_subj: dict[int, list[str]] = {}
    for n, m in subjects.items():
        by_subj.setdefault(m, []).append(n)
    for n in kept:
        a = read_video_attrs(cfg.store, n)
        rates.setdefault(round(a.samples_per_frame or 0.0), []).append(f"{n} (in the store)")
        by_subj.setdefault(a.n_subjects, []).append(f"{n} (in the store)")
    if not cfg.mixed_rates:
        _refuse_odd_ones(
            cfg,
            rates,
            "HM samples per frame differ",
            "check those videos are complete, or "
            "pass --set mixed_rates=true if the rates really differ",
        )
    if not cfg.mixed_subjects:
        _refuse_odd_ones(
            cfg,
            by_subj,
            "the number of subjects differs",
            "use the file of the same subjects, or "
            "pass --set mixed_subjects=true if subject k need not be the same person",
        )


def _refuse_odd_ones(cfg: IngestConfig, groups: dict[int, list[str]], what: str, fix: str) -> None:
    """Raise when ``groups`` (value -> videos) has more than one value, naming the odd ones.

    Raises:
        InputDataError: ``"{hm}: {what} between videos (...); X differs from the rest (v) -
            {fix}"``.
    """
    if len(groups) <= 1:
        return
    common, odd = _odd_ones(groups)
    verb = "differs" if len(odd) == 1 else "differ"
    got = "; ".join(f"{k}: {', '.join(sorted(v))}" for k, v in sorted(groups.items()))
    raise InputDataError(
        f"{cfg.hm}: {what} between videos ({got}); "
        f"{', '.join(odd)} {verb} from the rest ({common}) - {fix}"
    )


def _raise_first(errors: list[BaseException]) -> None:
    if not errors:
        return
    for e in errors[1:]:
        log.error("%s", " ".join(str(e).split()))
    raise errors[0]
