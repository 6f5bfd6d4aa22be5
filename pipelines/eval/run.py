"""``pano eval``'s entry point: :func:`evaluate` (the CLI and the demo call it).

1. check the inputs on the driver - the store, the split's complete videos, the
   prediction run's groups and shapes against the ground truth, and that the results
   group may be written - before any work, so bad input fails with one clear line
   (:mod:`~pano.pipelines.eval.plan`);
2. fit what baselines need on the **train** split only (FCB width, equator-bias
   latitude profile) and draw the shuffled-AUC negatives (other videos' fixations);
3. run one Dask task per (video, block of steps) for the saliency metrics and one per
   video for head-movement forecasts and scanpaths (:mod:`~pano.pipelines.eval.tasks`,
   on :mod:`pano.pipelines.runner`); each task reads its Zarr chunks directly from the
   store and returns small score arrays;
4. assemble an :class:`xarray.Dataset` of per-step scores
   (:mod:`~pano.pipelines.eval.assemble`), write it into the store at ``results/<run>``
   from the driver (:func:`pano.stores.write_results`: whole arrays, so chunks are always
   aligned; ``pano_complete`` last) and, with ``out``, CSV/Markdown tables and PNG plots.

Consistent reads: the store's generation (:mod:`pano.stores.generation`) is read before
anything else; the results are written holding the store's write lock, only if the store
is still at that generation (any writer that ran meanwhile moved it on; one that still
runs holds the lock). Otherwise - and when a task fails while the store changed under
it - :class:`~pano.errors.StoreChangedError` (one line) and nothing is marked complete.
The results record the generation they scored (``pano_generation``).

Results layout and metric conventions: ``docs/eval.md``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pano.errors import StoreChangedError, StoreLockedError
from pano.pipelines.eval.assemble import assemble, side_by_side
from pano.pipelines.eval.config import EvalConfig
from pano.pipelines.eval.plan import build_tasks, make_plan
from pano.pipelines.eval.tasks import run_task
from pano.pipelines.runner import dask_runner
from pano.stores.generation import GENERATION_ATTR, Generation
from pano.stores.results import results_path
from pano.stores.schema import COMPLETE_ATTR, RESULTS_GROUP

log = logging.getLogger("pano.pipelines.eval")


@dataclass
class EvalResult:
    """What :func:`evaluate` produced."""

    dataset: Any  # xarray.Dataset of per-step scores (see docs/eval.md)
    tables: dict[str, Any]  # name -> pandas.DataFrame (summary tables)
    results_group: str | None  # "results/<run>" in the store, or None
    files: list[Path] = field(default_factory=list)  # tables and plots written to ``out``
    seconds: float = 0.0
    steps: int = 0  # saliency steps scored (per model)

    @property
    def steps_per_s(self) -> float:
        """Saliency steps scored per second of wall time (all models of a step count once)."""
        return self.steps / self.seconds if self.seconds > 0 else float("nan")

    def format(self) -> str:
        """The summary tables as plain text."""
        from pano.pipelines.eval_report import format_tables

        return format_tables(self.tables)


def evaluate(cfg: EvalConfig, announce: Callable[[str], None] | None = None) -> EvalResult:
    """Evaluate prediction run(s) and/or baselines on one split of a store.

    Several prediction runs are scored one after the other with the same split, profile
    and seed (the baselines once, with the first run), and their per-step scores are put
    side by side along ``model`` in one results group.

    Args:
        cfg: the configuration.
        announce: called with one-line messages for the user (e.g. the dashboard link).

    Returns:
        The per-step score dataset, summary tables, written files and timing.

    Raises:
        StoreNotFoundError, StoreError, ConfigError: bad input, before any work starts
            (every run is checked before the first is scored).
        StoreExistsError: ``results/<run>`` exists and ``cfg.overwrite`` is false.
        StoreLockedError: a writer holds the store's lock when the evaluation starts.
        StoreChangedError: the store was written while it ran (nothing marked complete).

    """
    if cfg.target == "gaze":  # a gaze data set's labels: pipelines/eval/gaze.py
        from pano.pipelines.eval.gaze import evaluate_gaze

        return evaluate_gaze(cfg, announce)
    from pano.pipelines.eval_report import summary_tables, write_reports
    from pano.stores.generation import read_generation
    from pano.stores.lock import assert_no_writer
    from pano.stores.preflight import check_output_folder, check_store_location
    from pano.stores.results import check_results_writable

    # Before any work: a store or --out that cannot be written fails now, not after scoring.
    check_store_location(cfg.store, write=cfg.write_store, groups=(RESULTS_GROUP,))
    if cfg.out is not None:
        check_output_folder(cfg.out, "--out")
    assert_no_writer(cfg.store, "evaluate")  # scores must not mix old and new data
    # A writer that takes the lock from now on bumps the generation before it writes.
    seen = read_generation(cfg.store) if _checkable(cfg.store) else None
    t0 = time.perf_counter()
    subs = [
        cfg.model_copy(update={"predictions": [r], "baselines": cfg.baselines if k == 0 else []})
        for k, r in enumerate(cfg.predictions)
    ] or [cfg]
    plans = [make_plan(sub) for sub in subs]
    if cfg.write_store:
        check_results_writable(cfg.store, cfg.run_name, cfg.overwrite)
    tasks = [build_tasks(sub, plan) for sub, plan in zip(subs, plans, strict=True)]
    n_sal_steps = sum(t.stop - t.start for ts in tasks for k, t in ts if k == "saliency")
    log.info(
        "evaluating %d video(s) of split %r: %d task(s), models %s",
        len(plans[0].videos),
        cfg.split,
        sum(len(ts) for ts in tasks),
        sorted({m.name for p in plans for m in p.sal_models + p.hm_models + p.sp_models}),
    )
    t_run = time.perf_counter()
    try:
        results = _execute(cfg, [t for ts in tasks for t in ts], announce)  # one cluster for all
        seconds = time.perf_counter() - t_run
        parts, i = [], 0
        for sub, plan, ts in zip(subs, plans, tasks, strict=True):
            parts.append(assemble(sub, plan, ts, results[i : i + len(ts)]))
            i += len(ts)
    except Exception as err:  # a writer deleting what a task read: say so in one line
        if seen is not None:
            _check_snapshot(cfg, seen, err)
        raise
    ds = parts[0] if len(parts) == 1 else side_by_side(cfg, parts, plans)
    if seen is not None:
        ds.attrs[GENERATION_ATTR] = seen.to_attrs()
    group = write_results_locked(cfg, ds, seen) if cfg.write_store else None
    if not cfg.write_store and seen is not None:
        _check_snapshot(cfg, seen)  # nothing is marked complete, but the tables would lie
    ds.attrs[COMPLETE_ATTR] = group is not None
    tables = summary_tables(ds, cfg.hm.report_s)
    files = write_reports(ds, tables, cfg.out) if cfg.out is not None else []
    log.info("evaluation done in %.1f s (%.1f s total)", seconds, time.perf_counter() - t0)
    for note in ds.attrs.get("notes", []):
        log.warning("%s", note)
    return EvalResult(ds, tables, group, files, seconds, n_sal_steps)


def _checkable(location: Any) -> bool:
    """Whether a store location has a generation and a lock to check (paths and URLs)."""
    return isinstance(location, str | os.PathLike)


def _check_snapshot(cfg: EvalConfig, seen: Generation, err: BaseException | None = None) -> None:
    """Raise :class:`StoreChangedError` if the store left generation ``seen`` or is written."""
    from pano.stores.generation import check_unchanged

    what = (
        f"{results_path(cfg.run_name)} was not written"
        if cfg.write_store
        else "the scores were not reported"
    )
    if err is None:
        check_unchanged(cfg.store, seen, what)
        return
    try:
        check_unchanged(cfg.store, seen, what)
    except StoreChangedError as changed:
        raise changed from err


def write_results_locked(cfg: EvalConfig, ds: Any, seen: Generation | None) -> str:
    """Write the results group holding the store's write lock (a short hold).

    With the lock held no writer can start; the store must still be at the generation
    the evaluation read (``seen``), or nothing is written (:class:`StoreChangedError`).
    """
    from pano.stores import write_results
    from pano.stores.lock import store_write_lock

    if seen is None:  # an open Zarr group: no lock, no generation
        return write_results(cfg.store, cfg.run_name, ds, cfg.overwrite)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(
                store_write_lock(cfg.store, command=f"pano eval --run {cfg.run_name}")
            )
        except StoreLockedError as err:
            _check_snapshot(cfg, seen, err)  # names the writer
            raise
        _check_snapshot(cfg, seen)
        return write_results(cfg.store, cfg.run_name, ds, cfg.overwrite)


def _execute(
    cfg: EvalConfig, tasks: list[tuple[str, Any]], announce: Callable[[str], None] | None
) -> list[Any]:
    """Run the ``(kind, task)`` pairs on the configured Dask runner; results in task order."""
    with dask_runner(
        cfg.store, cfg.workers, cfg.scheduler, len(tasks), announce, cfg.dashboard
    ) as runner:
        return runner.map(run_task, tasks, "evaluating")
