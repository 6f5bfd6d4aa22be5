"""``train_gaze``: the function behind ``pano train-gaze`` (all folds, then predictions).

A run folder (``--out``; default ``runs/<config stem>_<dataset>``)::

    config.yaml          the resolved configuration (every fold of a run shares it)
    folds/<fold>/        one folder per fold (see :mod:`pano.pipelines.gaze.fold`); with
                         ``ensemble: K`` its members in ``members/m<k>/`` and the
                         combination's record and predictions beside them
                         (:mod:`pano.pipelines.gaze.ensemble`)
    summary.json         the run's record: per fold the test / validation / training
                         persons, the checkpoint selection rule, the selected checkpoint
                         and its SHA-256, times; the predictions group written

Folds run one after another in this process (``workers=0``, and always under
``torchrun``, where each fold trains with DDP), or as one Dask task each (one per fold
and ensemble member) on a local cluster (the default, one worker per task up to the CPU
count) or on an existing scheduler; every task writes only its own folder; the driver
combines each ensemble fold's members. Afterwards the driver gathers every
complete fold of the run folder (folds trained by earlier calls too) and writes the test
predictions into ``gaze/<dataset>/predictions/<run>`` holding the store's write lock,
only if the store is still at the generation the training read.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from pano._version import __version__
from pano.errors import CheckpointError
from pano.pipelines.gaze.config import GAZE_RESUME_MAY_CHANGE, GazeTrainConfig
from pano.pipelines.gaze.data import FoldPlan, optional_array, plan_folds
from pano.pipelines.gaze.ensemble import combine_members, member_config, member_dir
from pano.pipelines.gaze.fold import read_fold, train_fold
from pano.pipelines.train.checkpoint import atomic_write_bytes
from pano.pipelines.train.dist import DistInfo, init_distributed, shutdown
from pano.pipelines.train.run import resume_conflicts
from pano.stores.gaze import open_gaze
from pano.stores.gaze_samples import GAZE_GROUP

log = logging.getLogger("pano.train_gaze")

FOLDS_DIR = "folds"


@dataclass
class GazeTrainResult:
    """What :func:`train_gaze` did."""

    run_dir: Path
    run: str
    dataset: str
    #: The records of the folds trained (or found complete) by this call, in fold order.
    folds: list[dict[str, Any]]
    #: ``gaze/<dataset>/predictions/<run>`` or None (not rank 0 / nothing predicted).
    predictions: str | None
    #: Every complete fold of the run folder whose test samples the predictions hold.
    predicted_folds: list[str] = field(default_factory=list)
    seconds: float = 0.0
    rank: int = 0


def default_out(config: str | Path | None, dataset: str) -> Path:
    """``runs/<config stem>_<dataset>`` (``runs/gaze_<dataset>`` without a config file)."""
    stem = Path(config).stem if config is not None else "gaze"
    return Path("runs") / f"{stem}_{dataset}"


def _job_dir(run_dir: Path, cfg: GazeTrainConfig, plan: FoldPlan, member: int) -> Path:
    """Where one training job writes: the fold folder, or its member's (``ensemble > 1``)."""
    fold_dir = run_dir / FOLDS_DIR / plan.name
    return fold_dir if cfg.ensemble == 1 else member_dir(fold_dir, member)


def _fold_task(
    job: tuple[FoldPlan, int],
    store: str,
    dataset: str,
    cfg_json: dict[str, Any],
    run_dir: str,
    resume: bool,
    threads: int,
) -> dict[str, Any]:
    """One fold (or one ensemble member of it) on a Dask worker or in-process."""
    from pano.device import resolve_device

    plan, member = job
    cfg = GazeTrainConfig.model_validate(cfg_json)
    if threads:
        torch.set_num_threads(threads)
    data = open_gaze(store, dataset)
    info = DistInfo(device=resolve_device(cfg.device))
    where = _job_dir(Path(run_dir), cfg, plan, member)
    return train_fold(data, member_config(cfg, member), plan, where, resume, info)


def _fold_records(
    run_dir: Path, cfg: GazeTrainConfig, data: Any, names: list[str], trained: list[Any]
) -> list[dict[str, Any]]:
    """The fold records in fold order: the jobs' own, or each ensemble's combination."""
    if cfg.ensemble == 1:
        return list(trained)
    gaze = np.asarray(data.array("gaze_xyz"), np.float64)
    return [combine_members(run_dir / FOLDS_DIR / n, gaze, cfg) for n in names]


def _check_run_config(run_dir: Path, cfg: GazeTrainConfig) -> None:
    """Refuse a run folder whose config.yaml differs from ``cfg`` (its folds share one)."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        return
    saved = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    changed = resume_conflicts(saved, cfg.model_dump(mode="json"), GAZE_RESUME_MAY_CHANGE)
    if changed:
        raise CheckpointError(
            f"{run_dir}: the run folder was trained with another config: {'; '.join(changed)}; "
            "use the run's own config.yaml, or another --out"
        )


def train_gaze(
    store: str,
    cfg: GazeTrainConfig,
    dataset: str,
    folds: Sequence[str] | None = None,
    out: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    announce: Callable[[str], None] | None = None,
) -> GazeTrainResult:
    """Train the folds of a gaze data set and write their test predictions into the store.

    Args:
        store: the store's path or URL.
        cfg: the configuration.
        dataset: the gaze data set (``gaze/<dataset>``).
        folds: fold names (person ids), or None for every fold of the data set's protocol
            (a split protocol has the one fold ``split``).
        out: the run folder (its name is the prediction run's name); default
            :func:`default_out` without a config file.
        workers: local Dask worker processes (None: one per fold up to the CPU count, or
            in this process for a single fold; 0: one fold after another in this process).
        scheduler: address of an existing Dask scheduler.
        resume: continue folds from their last complete checkpoint; complete folds are
            not trained again.
        announce: called with one-line messages for the user.

    Raises:
        StoreNotFoundError, StoreError, ConfigError, CheckpointError, DeviceError: bad
            input (one line), before any training.
        StoreChangedError: the store was written while training (checkpoints are kept;
            no predictions are written).

    """
    from pano.device import resolve_device
    from pano.pipelines.runner import dask_runner
    from pano.stores.generation import read_generation
    from pano.stores.lock import assert_no_writer
    from pano.stores.names import validate_name
    from pano.stores.preflight import check_output_folder, check_store_location

    t0 = time.perf_counter()
    run_dir = Path(out) if out is not None else default_out(None, dataset)
    run = validate_name(run_dir.name, "--out (its folder name is the run's name)")
    check_store_location(store, write=True, groups=(GAZE_GROUP,))
    check_output_folder(run_dir, "--out")
    resolve_device(cfg.device)
    data = open_gaze(store, dataset)
    where = f"{store}/{GAZE_GROUP}/{dataset}"
    # One job per fold and ensemble member; member k draws its validation with seed + k.
    subject, split = data.array("subject"), optional_array(data, "split")
    jobs = [
        (p, k)
        for k in range(cfg.ensemble)
        for p in plan_folds(
            subject,
            split,
            data.protocol,
            folds,
            cfg.data.val_persons,
            cfg.seed + k,
            where,
        )
    ]
    names = list(dict.fromkeys(p.name for p, _ in jobs))
    _check_run_config(run_dir, cfg)
    for p, k in jobs:
        if not resume and (_job_dir(run_dir, cfg, p, k) / "checkpoints").is_dir():
            raise CheckpointError(
                f"{run_dir}: fold {p.name} already has checkpoints; pass --resume to continue "
                "it, or choose another --out run folder"
            )
    assert_no_writer(store, "train")
    seen = read_generation(store)
    info = init_distributed(cfg.device)
    clean = False
    try:
        if info.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(
                run_dir / "config.yaml",
                yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False).encode(),
            )
        if info.initialized:  # torchrun: every rank trains each fold together (DDP)
            trained = [
                train_fold(data, member_config(cfg, k), p, _job_dir(run_dir, cfg, p, k),
                           resume, info, announce)
                for p, k in jobs
            ]  # fmt: skip
        else:
            if len(jobs) == 1 and scheduler is None and workers is None:
                workers = 0  # one fold: no local cluster to start, it trains here
            with dask_runner(store, workers, scheduler, len(jobs), announce) as runner:
                threads = cfg.threads or _threads_per_worker(runner, len(jobs), workers)
                trained = runner.map(
                    _fold_task,
                    jobs,
                    "training folds",
                    store=store,
                    dataset=dataset,
                    cfg_json=cfg.model_dump(mode="json"),
                    run_dir=str(run_dir),
                    resume=resume,
                    threads=threads,
                )
        records = _fold_records(run_dir, cfg, data, names, trained) if info.is_main else trained
        result = GazeTrainResult(run_dir, run, dataset, records, None, rank=info.rank)
        if info.is_main:
            _finish(store, dataset, cfg, run_dir, run, data, seen, result)
        clean = True
    finally:
        shutdown(info, clean=clean)
    result.seconds = time.perf_counter() - t0
    if info.is_main:
        _write_summary(store, dataset, run_dir, run, cfg, result, seen)
    return result


def _threads_per_worker(runner: Any, n_tasks: int, workers: int | None) -> int:
    """Torch threads per fold: the CPUs divided among the parallel folds (0: torch's default)."""
    if runner.client is None:
        return 0
    n = workers if workers else min(n_tasks, os.cpu_count() or 1)
    return max(1, (os.cpu_count() or 1) // max(1, n))


def gather_predictions(
    run_dir: Path, n_samples: int
) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """Full-length prediction arrays from every complete fold of a run folder.

    Returns:
        The :data:`~pano.stores.gaze_predictions.GAZE_PREDICTION_ARRAYS` (NaN / ``""`` /
        False where no fold scored the sample) and the folds' records in name order.

    """
    arrays: dict[str, np.ndarray] = {
        "gaze_xyz": np.full((n_samples, 3), np.nan),
        "yaw": np.full(n_samples, np.nan),
        "pitch": np.full(n_samples, np.nan),
        "sigma": np.full((n_samples, 2), np.nan),
        "scored": np.zeros(n_samples, bool),
        "fold": np.full(n_samples, "", dtype=object),
    }
    records = []
    folder = run_dir / FOLDS_DIR
    for d in sorted(folder.iterdir()) if folder.is_dir() else []:
        got = read_fold(d)
        if got is None:
            continue
        rec, pred = got
        idx = pred["sample_index"]
        for k in ("gaze_xyz", "yaw", "pitch", "sigma"):
            arrays[k][idx] = pred[k]
        arrays["scored"][idx] = True
        arrays["fold"][idx] = rec["fold"]
        records.append(rec)
    arrays["fold"] = arrays["fold"].astype(str)
    return arrays, records


def _finish(
    store: str,
    dataset: str,
    cfg: GazeTrainConfig,
    run_dir: Path,
    run: str,
    data: Any,
    seen: Any,
    result: GazeTrainResult,
) -> None:
    """Write the predictions of every complete fold, holding the lock, at generation ``seen``."""
    from pano.stores.gaze_predictions import gaze_prediction_path, write_gaze_predictions
    from pano.stores.generation import check_unchanged
    from pano.stores.lock import store_write_lock

    arrays, records = gather_predictions(run_dir, data.n_samples)
    if not records:
        return
    attrs = {
        "run": run,
        "dataset": dataset,
        "protocol": data.protocol.to_attrs(),
        "config": cfg.model_dump(mode="json"),
        "folds": records,
        "run_dir": str(run_dir.resolve()),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "pano_version": __version__,
        "store_generation": seen.to_attrs(),
        "frame": "GazeHub camera axes: x right, y down, z forward; (0, 0, -1) looks into "
        "the camera; yaw/pitch radians (yaw = atan2(-x, -z), pitch = asin(-y))",
    }
    with store_write_lock(store, command=f"pano train-gaze --out {run_dir}"):
        check_unchanged(store, seen, f"{gaze_prediction_path(dataset, run)} was not written")
        write_gaze_predictions(store, dataset, run, arrays, attrs)
    result.predictions = gaze_prediction_path(dataset, run)
    result.predicted_folds = [r["fold"] for r in records]


def _write_summary(
    store: str,
    dataset: str,
    run_dir: Path,
    run: str,
    cfg: GazeTrainConfig,
    result: GazeTrainResult,
    seen: Any,
) -> None:
    summary = {
        "run": run,
        "store": str(store),
        "dataset": dataset,
        "checkpoint_selection": (
            "per fold, the checkpoint with the lowest validation error on validation "
            "person(s) drawn from that fold's training persons (split protocol: the 'val' "
            "split); never on the test fold"
            if cfg.log.select == "best"
            else "per fold, the last epoch's checkpoint"
        ),
        "refit": _refit_summary(cfg, result.folds),
        "weight_average": _average_summary(cfg, result.folds),
        "folds": result.folds,
        "predictions": result.predictions,
        "predicted_folds": result.predicted_folds,
        "seconds": result.seconds,
        "store_generation": seen.to_attrs(),
        "pano_version": __version__,
    }
    atomic_write_bytes(run_dir / "summary.json", json.dumps(summary, indent=1).encode())


def _average_summary(cfg: GazeTrainConfig, folds: list[dict[str, Any]]) -> str:
    """One sentence: ``log.average_epochs`` and the folds whose test the average predicted."""
    n = cfg.log.average_epochs
    if not n:
        return "off (log.average_epochs: 0)"
    used = [f.get("fold", "?") for f in folds if f.get("average_predicts")]
    how = (
        "always predicts (log.select: last)"
        if cfg.log.select == "last"
        else "competes with the epoch checkpoints on validation (log.select: best)"
    )
    return (
        f"the mean of the last {n} epochs' weights, BatchNorm recomputed, {how}; it "
        f"predicted the test person of fold(s) {', '.join(used) or 'none'}"
    )


def _refit_summary(cfg: GazeTrainConfig, folds: list[dict[str, Any]]) -> str:
    """One sentence: whether ``optim.refit`` was asked for and which folds it applied to."""
    if not cfg.optim.refit:
        return "not requested (optim.refit: false): each fold's selected checkpoint predicts"
    done = [f.get("fold", "?") for f in folds if f.get("refit")]
    skipped = [f"{f.get('fold', '?')} ({f['refit_not_applied']})"
               for f in folds if f.get("refit_not_applied")]  # fmt: skip
    text = f"requested; applied to fold(s) {', '.join(done) or 'none'}"
    if skipped:
        text += f"; NOT applied to {'; '.join(skipped)}"
    return text


__all__ = ["GazeTrainResult", "default_out", "gather_predictions", "train_gaze"]
