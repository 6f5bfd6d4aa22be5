"""Worker side of ``pano eval``: the tasks one Dask worker runs, each on its own chunks.

Every task opens the store read-only, reads only the Zarr chunks it scores (a block of
steps of one video, or one video's HM/scanpath arrays) through :mod:`pano.stores`
(:func:`~pano.stores.read_video_array`, :func:`~pano.stores.read_prediction_array`),
computes the baselines it needs in place, and returns small NumPy score arrays to the
driver (:mod:`pano.pipelines.eval.run`), which assembles and writes them. This module
imports only NumPy and pano's core at the top, and :mod:`pano.stores` loads torch only
for its streaming API, so worker processes start fast; torch is imported only for the
inter-observer heatmaps.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pano.errors import UnknownNameError
from pano.fov import FoV
from pano.heatmap_params import HeatmapParams

# ---------------------------------------------------------------------------
# Model specifications (what a task computes)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """One scored model: a baseline (computed in the task) or a stored prediction run."""

    name: str
    kind: str  # baseline name, or "prediction" (params: {"run": the prediction run})
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoreRef:
    """Where the store is and the ground truth's parameters (heatmap recipe, HM rate)."""

    location: str
    heatmap: HeatmapParams  # the store's root attribute ``heatmap``
    rate_hz: float
    #: Ground truth: "head" (heatmap, scanpath) or "eye" (videos/<video>/em; eval/eye.py).
    target: str = "head"


def _root(ref: StoreRef) -> Any:
    """Open the store's root read-only in a worker (once per task; reads go through it).

    :mod:`pano.stores` imports torch only when its streaming API is used, so this does not
    put seconds of torch start-up into every worker process.
    """
    from pano.stores import open_root

    return open_root(ref.location)


# ---------------------------------------------------------------------------
# Worker tasks
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SaliencyTask:
    """Score every saliency model on steps ``[start, stop)`` of one video."""

    ref: StoreRef
    video: str
    start: int
    stop: int
    models: tuple[ModelSpec, ...]
    metrics: tuple[str, ...]
    profile: str
    seed: int
    other: np.ndarray  # (stop - start, K, 2) lon/lat of sAUC negatives (NaN padded)
    ig_baseline: np.ndarray | None  # (H, W) or None (uniform)
    device: str = "cpu"  # torch device of the inter-observer heatmaps


def lonlat_vectors(ll: np.ndarray) -> np.ndarray:
    """Pano ``(..., 2)`` lon/lat degrees -> unit vectors ``(..., 3)``."""
    from pano.geometry import lonlat_to_vec

    return np.asarray(lonlat_to_vec(ll[..., 0], ll[..., 1]))


def _halves_maps(
    ll: np.ndarray, halves: tuple[np.ndarray, np.ndarray], heat: HeatmapParams, device: str
) -> list[np.ndarray]:
    """Each half's heatmaps with the ground truth's recipe (float64, on ``device``)."""
    import torch

    from pano.device import resolve_device
    from pano.heatmaps import heatmaps_for

    dev = resolve_device(device)
    out = []
    # One intra-op thread, as the ingest's workers: on a shared machine two OpenMP threads
    # per op are several times slower than one (docs/benchmarks.md, ingest section).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for idx in halves:
            pts = torch.as_tensor(lonlat_vectors(ll[:, idx]), dtype=torch.float64, device=dev)
            maps = heatmaps_for(pts, heat)
            out.append(maps.cpu().numpy())
    finally:
        torch.set_num_threads(threads)
    return out


def _baseline_map(spec: ModelSpec, h: int, w: int) -> np.ndarray:
    from pano.baselines import fcb_map, uniform_map

    if spec.kind == "uniform":
        return uniform_map(h, w)
    if spec.kind == "fcb":
        return fcb_map(h, w, spec.params["sigma_deg"])
    if spec.kind == "equator":
        prof = np.asarray(spec.params["profile"], dtype=np.float64)
        return np.broadcast_to(prof[:, None], (h, w)).copy()
    raise UnknownNameError(
        f"{spec.name}: {spec.kind!r} is not a map baseline (uniform, fcb, equator)"
    )


def run_saliency_task(task: SaliencyTask) -> np.ndarray:
    """Scores ``(n_models, stop - start, n_metrics)`` of one block of steps."""
    from pano.baselines import split_half
    from pano.metrics.saliency import Fixations, saliency_scores, stable_seed
    from pano.stores import read_prediction_array, read_video_array

    root = _root(task.ref)
    v, s0, s1 = task.video, task.start, task.stop
    heat = task.ref.heatmap
    if task.ref.target == "eye":
        from pano.pipelines.eval.eye import eye_heatmap_params, eye_lonlat
        from pano.stores.em import read_em_array

        gt = np.asarray(read_em_array(root, v, "eye_heatmap", s0, s1), dtype=np.float64)
        ll = eye_lonlat(root, v, s0, s1)  # (F, M, 2): each subject's active fixation
        heat = eye_heatmap_params(root, v)  # inter-observer maps: the eye heatmap recipe
    else:
        gt = np.asarray(read_video_array(root, v, "heatmap", s0, s1), dtype=np.float64)
        ll = np.asarray(read_video_array(root, v, "scanpath", s0, s1), dtype=np.float64)
    # gt (F, H, W); ll (F, M, 2) pano lon/lat degrees, NaN = no fixation / missing
    f, h, w = gt.shape
    fix = Fixations.from_lonlat(ll, h, w)
    other = Fixations.from_lonlat(task.other, h, w)
    keys = [(task.seed, task.video, s) for s in range(task.start, task.stop)]
    out = np.full((len(task.models), f, len(task.metrics)), np.nan)

    def score(pred: np.ndarray, g: np.ndarray, fx: Fixations) -> np.ndarray:
        return saliency_scores(
            pred,
            list(task.metrics),
            gt=g,
            fixations=fx,
            other=other,
            baseline=task.ig_baseline,
            profile=task.profile,
            seed_keys=keys,
        )

    for k, spec in enumerate(task.models):
        if spec.kind == "prediction":
            pred = np.asarray(
                read_prediction_array(
                    root, spec.params["run"], task.video, "heatmap", task.start, task.stop
                ),
                dtype=np.float64,
            )
            out[k] = score(pred, gt, fix)
        elif spec.kind == "inter_observer":
            seed = stable_seed(task.seed, task.video, "split_half") % (2**32)
            halves = split_half(ll.shape[1], seed)
            maps = _halves_maps(ll, halves, heat, task.device)
            fx = [Fixations.from_lonlat(ll[:, idx], h, w) for idx in halves]
            # Each half predicts the other half's map and fixations; both directions averaged.
            out[k] = 0.5 * (score(maps[0], maps[1], fx[1]) + score(maps[1], maps[0], fx[0]))
        else:
            # A real (F, H, W) array, as a prediction read from the store: same code path,
            # same summation order, identical scores for identical maps.
            pred = np.repeat(_baseline_map(spec, h, w)[None], f, axis=0)
            out[k] = score(pred, gt, fix)
    return out


@dataclass(frozen=True)
class HMTask:
    """Score every head-movement forecaster on one video."""

    ref: StoreRef
    video: str
    models: tuple[ModelSpec, ...]
    metrics: tuple[str, ...]
    origins: np.ndarray
    horizon: int
    fov: FoV
    tiles: tuple[int, int]
    box_width_deg: float
    #: Positions of ``origins`` along the prediction run's origin axis (TRACK's windows are
    #: a subset of the run's origins); None = the run forecasts from exactly ``origins``.
    pred_index: np.ndarray | None = None


def run_hm_task(task: HMTask) -> tuple[np.ndarray, np.ndarray]:
    """Per-horizon means ``(n_models, H, n_metrics)`` and valid counts ``(n_models, H)``."""
    from pano.baselines import constant_velocity_forecast, forecast_targets, no_motion_forecast
    from pano.metrics.hm import hm_scores, tile_sets
    from pano.stores import read_prediction_array, read_video_array

    root = _root(task.ref)
    xyz = np.asarray(read_video_array(root, task.video, "hm_rs_xyz"), dtype=np.float64)
    truth = forecast_targets(xyz, task.origins, task.horizon)  # (S, O, H, 3)
    need_tiles = any(m.startswith("tile_") for m in task.metrics)
    gt_tiles = tile_sets(truth, task.tiles, task.fov) if need_tiles else None
    means = np.full((len(task.models), task.horizon, len(task.metrics)), np.nan)
    counts = np.zeros((len(task.models), task.horizon), np.int64)
    for k, spec in enumerate(task.models):
        if spec.kind == "no_motion":
            pred = no_motion_forecast(xyz, task.origins, task.horizon)
        elif spec.kind == "constant_velocity":
            pred = constant_velocity_forecast(xyz, task.origins, task.horizon)
        elif spec.kind == "prediction":
            pred = np.asarray(
                read_prediction_array(root, spec.params["run"], task.video, "forecast"),
                dtype=np.float64,
            )
            if task.pred_index is not None:
                pred = pred[:, task.pred_index]
            pred = pred[:, :, : task.horizon]
        else:
            raise UnknownNameError(
                f"{spec.name}: {spec.kind!r} is not a forecaster "
                "(no_motion, constant_velocity, prediction)"
            )
        s = hm_scores(
            pred, truth, list(task.metrics), task.fov, task.tiles, task.box_width_deg, gt_tiles
        )  # (S, O, H, m)
        ok = np.isfinite(s).all(-1)
        counts[k] = ok.sum(axis=(0, 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a horizon without data: NaN
            means[k] = np.nanmean(np.where(ok[..., None], s, np.nan), axis=(0, 1))
    return means, counts


@dataclass(frozen=True)
class ScanpathTask:
    """Score every scanpath model on one video (whole-video scanpaths)."""

    ref: StoreRef
    video: str
    models: tuple[ModelSpec, ...]
    metrics: tuple[str, ...]
    seed: int


def run_scanpath_task(task: ScanpathTask) -> np.ndarray:
    """Scores ``(n_models, n_metrics)``: means over (predicted, true) scanpath pairs."""
    from pano.baselines import split_half
    from pano.metrics.saliency import stable_seed
    from pano.metrics.scanpath import scanpath_scores
    from pano.stores import read_prediction_array, read_video_array

    root = _root(task.ref)
    if task.ref.target == "eye":
        from pano.pipelines.eval.eye import fixation_scanpaths

        gt = fixation_scanpaths(root, task.video)  # (subject, fixation, 3), NaN padded
    else:
        gt = lonlat_vectors(
            np.asarray(read_video_array(root, task.video, "scanpath"), dtype=np.float64)
        )
        gt = np.swapaxes(gt, 0, 1)  # (subject, step, 3)
    out = np.full((len(task.models), len(task.metrics)), np.nan)
    for k, spec in enumerate(task.models):
        if spec.kind == "inter_observer":
            seed = stable_seed(task.seed, task.video, "split_half") % (2**32)
            a, b = split_half(gt.shape[0], seed)
            out[k] = 0.5 * (
                scanpath_scores(gt[a], gt[b], task.metrics)
                + scanpath_scores(gt[b], gt[a], task.metrics)
            )
        elif spec.kind == "prediction":
            ll = np.asarray(
                read_prediction_array(root, spec.params["run"], task.video, "scanpath"),
                dtype=np.float64,
            )
            pred = np.swapaxes(lonlat_vectors(ll), 0, 1)  # (rollout, step, 3)
            out[k] = scanpath_scores(pred, gt, task.metrics)
    return out


RUNNERS: dict[str, Callable[[Any], Any]] = {
    "saliency": run_saliency_task,
    "hm": run_hm_task,
    "scanpath": run_scanpath_task,
}


def run_task(item: tuple[str, Any]) -> Any:
    """Run one ``(kind, task)`` pair (the function Dask calls)."""
    kind, task = item
    return RUNNERS[kind](task)
