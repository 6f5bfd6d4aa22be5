"""``pano eval``: score models and honest baselines with sphere-aware metrics, on Dask.

:func:`evaluate` is the one entry point (the CLI and the demo call it):

1. check the inputs on the driver - the store, the split's complete videos, the
   prediction run's groups and shapes against the ground truth - before any work, so
   bad input fails with one clear line;
2. fit what baselines need on the **train** split only (FCB width, equator-bias
   latitude profile) and draw the shuffled-AUC negatives (other videos' fixations);
3. run one Dask task per (video, block of steps) for the saliency metrics and one per
   video for head-movement forecasts and scanpaths; each task reads its Zarr chunks
   directly from the store and returns small score arrays;
4. assemble an :class:`xarray.Dataset` of per-step scores, write it into the store at
   ``results/<run>`` from the driver (whole arrays, so chunks are always aligned;
   ``pano_complete`` last) and, with ``out``, CSV/Markdown tables and PNG plots.

Results layout and metric conventions: ``docs/eval.md``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from pano._version import __version__
from pano.config import PanoConfig
from pano.errors import ConfigError, PanoError, StoreError
from pano.metrics.profiles import DEFAULT_PROFILE, PROFILE_NAMES
from pano.pipelines.eval_tasks import (
    HMTask,
    ModelSpec,
    SaliencyTask,
    ScanpathTask,
    StoreRef,
    lonlat_vectors,
    run_task,
)

log = logging.getLogger("pano.pipelines.eval")

#: Saliency baselines (maps) and head-movement baselines (forecasts), in display order.
SALIENCY_BASELINES = ("uniform", "fcb", "equator", "inter_observer")
HM_BASELINES = ("no_motion", "constant_velocity")
ALL_BASELINES = SALIENCY_BASELINES + HM_BASELINES
#: Baselines that also produce scanpaths (the other half of the subjects).
SCANPATH_BASELINES = ("inter_observer",)


def _metric_names() -> tuple[list[str], list[str], list[str]]:
    from pano.metrics.hm import HM_METRICS
    from pano.metrics.saliency import SALIENCY_METRICS
    from pano.metrics.scanpath import SCANPATH_METRICS

    return list(SALIENCY_METRICS), list(HM_METRICS), list(SCANPATH_METRICS)


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def _plain_name(v: str) -> str:
    if not v.strip() or "/" in v:
        raise ValueError(f"{v!r} must be a plain group name (no '/')")
    return v


class HMEvalParams(PanoConfig):
    """Head-movement forecast evaluation on the store's resampled grid (``hm_rs_xyz``)."""

    horizon: int = Field(default=25, ge=1, description="forecast steps scored (5 s at 5 Hz)")
    first_origin: int = Field(
        default=5,
        ge=1,
        description="first origin index for baselines (history available before it)",
    )
    origin_stride: int = Field(
        default=5, ge=1, description="rs samples between origins (1 s at 5 Hz)"
    )
    fov_deg: tuple[float, float] = Field(
        default=(110.0, 113.0),
        description="viewport FoV (horizontal, vertical) for overlap and tiles",
    )
    tiles: tuple[int, int] = Field(default=(6, 4), description="tile grid: columns x rows")
    box_width_deg: float = Field(
        default=32.75, gt=0, le=360, description="DHP mean-overlap box width"
    )
    report_s: list[float] = Field(
        default_factory=lambda: [1.0, 2.0, 3.0, 5.0], description="horizons (s) shown in tables"
    )

    @field_validator("fov_deg")
    @classmethod
    def _fov(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0 < x < 180 for x in v):
            raise ValueError("both FoV angles must be in (0, 180) degrees")
        return v

    @field_validator("tiles")
    @classmethod
    def _tiles(cls, v: tuple[int, int]) -> tuple[int, int]:
        if min(v) < 1:
            raise ValueError("tile counts must be >= 1")
        return v


class SaliencyEvalParams(PanoConfig):
    """Saliency evaluation parameters beyond the profile."""

    sauc_frames: int = Field(
        default=10, ge=1, description="other frames whose fixations are sAUC negatives"
    )
    sauc_min_gap_steps: int = Field(
        default=10,
        ge=0,
        description="with one video only: exclude frames this close to the scored one",
    )
    ig_baseline: Literal["equator", "uniform"] = Field(
        default="equator",
        description="information-gain baseline (equator bias needs a train split)",
    )
    fcb_sigma_deg: float | None = Field(
        default=None,
        gt=0,
        le=180,
        description="FCB width; None = maximum likelihood on the train split",
    )


class EvalConfig(PanoConfig):
    """Configuration of ``pano eval`` (see ``pipelines/configs/eval.yaml``)."""

    store: str = Field(description="the pano store (path or URL)")
    predictions: list[str] = Field(
        default_factory=list,
        description="prediction run(s) under predictions/<run>; several (a comma list) are "
        "scored side by side, the baselines once",
    )
    run: str | None = Field(
        default=None,
        description="results name: results/<run> (default: the prediction run(s) joined by "
        "'-', or 'baselines')",
    )
    baselines: list[str] = Field(
        default_factory=lambda: list(ALL_BASELINES),
        description="baselines to score: names, 'all' or 'none'",
    )
    metrics: list[str] | None = Field(default=None, description="metric names (default: all)")
    profile: str = Field(
        default=DEFAULT_PROFILE, description=f"metric profile: {', '.join(PROFILE_NAMES)}"
    )
    split: Literal["train", "val", "test"] = Field(default="test", description="split to evaluate")
    videos: list[str] | None = Field(
        default=None, description="restrict to these videos of the split"
    )
    workers: int = Field(default=2, ge=0, description="local Dask worker processes; 0 = in-process")
    scheduler: str | None = Field(default=None, description="address of an existing Dask scheduler")
    out: Path | None = Field(
        default=None, description="folder for tables (CSV, Markdown) and PNG plots"
    )
    write_store: bool = Field(default=True, description="write results/<run> into the store")
    seed: int = Field(
        default=0, description="seed of every random choice (split halves, AUC sampling)"
    )
    steps_per_task: int = Field(default=16, ge=1, description="saliency steps per Dask task")
    device: str = Field(
        default="auto", description="torch device of the inter-observer heatmaps (auto, cpu, cuda)"
    )
    hm: HMEvalParams = Field(default_factory=HMEvalParams)
    saliency: SaliencyEvalParams = Field(default_factory=SaliencyEvalParams)

    @field_validator("baselines", mode="before")
    @classmethod
    def _baselines(cls, v: Any) -> Any:
        v = _split_list(v)
        if v in (["all"], "all"):
            return list(ALL_BASELINES)
        if v in (["none"], "none", None):
            return []
        return v

    @field_validator("metrics", "videos", mode="before")
    @classmethod
    def _lists(cls, v: Any) -> Any:
        v = _split_list(v)
        return None if v in (["all"], []) else v

    @field_validator("baselines")
    @classmethod
    def _known_baselines(cls, v: list[str]) -> list[str]:
        bad = [b for b in v if b not in ALL_BASELINES]
        if bad:
            raise ValueError(
                f"unknown baseline(s) {bad}: use all, none or {', '.join(ALL_BASELINES)}"
            )
        return [b for b in ALL_BASELINES if b in v]

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        sal, hm, sp = _metric_names()
        bad = [m for m in v if m not in sal + hm + sp]
        if bad:
            raise ValueError(f"unknown metric(s) {bad}: use {', '.join(sal + hm + sp)}")
        return v

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, v: str) -> str:
        from pano.metrics.profiles import PROFILES

        if v not in PROFILES:
            raise ValueError(f"unknown profile: use one of {', '.join(PROFILES)}")
        return v

    @field_validator("predictions", mode="before")
    @classmethod
    def _runs(cls, v: Any) -> Any:
        return [] if v is None else _split_list(v)

    @field_validator("predictions")
    @classmethod
    def _run_names(cls, v: list[str]) -> list[str]:
        for name in v:
            _plain_name(name)
            if name in ALL_BASELINES:
                raise ValueError(f"prediction run {name!r} has a baseline's name; rename the run")
        if len(set(v)) != len(v):
            raise ValueError(f"a prediction run is listed twice: {v}")
        return v

    @field_validator("run")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        return None if v is None else _plain_name(v)

    @model_validator(mode="after")
    def _something_to_score(self) -> EvalConfig:
        if not self.predictions and not self.baselines:
            raise ValueError("nothing to evaluate: give --predictions RUN or some --baselines")
        return self

    @property
    def run_name(self) -> str:
        """The results group name."""
        return self.run or "-".join(self.predictions) or "baselines"

    @property
    def prediction_run(self) -> str | None:
        """The one prediction run of a single-run evaluation (None: baselines only)."""
        if len(self.predictions) > 1:
            raise ValueError("several prediction runs: evaluate() scores them one by one")
        return self.predictions[0] if self.predictions else None

    def metric_lists(self) -> tuple[list[str], list[str], list[str]]:
        """The requested (saliency, hm, scanpath) metric names, in registry order."""
        sal, hm, sp = _metric_names()
        if self.metrics is None:
            return sal, hm, sp
        want = set(self.metrics)
        return (
            [m for m in sal if m in want],
            [m for m in hm if m in want],
            [m for m in sp if m in want],
        )


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


# ---------------------------------------------------------------------------
# Driver: checks, fitting, task lists
# ---------------------------------------------------------------------------


@dataclass
class _VideoInfo:
    name: str
    n_steps: int
    n_subjects: int
    n_rs: int
    grid: tuple[int, int]  # (H, W)


@dataclass
class _Plan:
    ref: StoreRef
    root_attrs: Any
    videos: list[_VideoInfo]
    sal_models: list[ModelSpec]
    hm_models: list[ModelSpec]
    sp_models: list[ModelSpec]
    sal_metrics: list[str]
    hm_metrics: list[str]
    sp_metrics: list[str]
    horizon: int
    origins: dict[str, np.ndarray]
    fitted: dict[str, Any]
    ig_map: np.ndarray | None
    predictions_attrs: dict[str, Any]
    notes: list[str]


def _split_videos(cfg: EvalConfig, root_attrs: Any) -> list[str]:
    from pano.stores import list_videos

    complete = set(list_videos(cfg.store))
    names = [v for v in getattr(root_attrs.splits, cfg.split) if v in complete]
    if cfg.videos is not None:
        missing = [v for v in cfg.videos if v not in names]
        if missing:
            raise ConfigError(
                f"videos {missing} are not complete videos of split {cfg.split!r} in {cfg.store}"
            )
        names = [v for v in names if v in cfg.videos]
    if not names:
        sizes = ", ".join(
            f"{s} {len(getattr(root_attrs.splits, s))}" for s in ("train", "val", "test")
        )
        raise StoreError(
            f"{cfg.store}: split {cfg.split!r} has no complete videos to evaluate "
            f"(videos per split: {sizes}); choose another --split"
        )
    return sorted(names)


def _video_info(root: Any, name: str) -> _VideoInfo:
    g = root[f"videos/{name}"]
    for arr in ("heatmap", "scanpath", "hm_rs_xyz"):
        if arr not in g.array_keys():
            raise StoreError(f"videos/{name} has no '{arr}' array; re-run the ingest")
    hm = g["heatmap"]
    sp = g["scanpath"]
    rs = g["hm_rs_xyz"]
    if sp.shape[0] != hm.shape[0]:
        raise StoreError(f"videos/{name}: scanpath has {sp.shape[0]} steps, heatmap {hm.shape[0]}")
    return _VideoInfo(
        name, int(hm.shape[0]), int(sp.shape[1]), int(rs.shape[1]), tuple(hm.shape[1:])
    )


def _check_predictions(
    cfg: EvalConfig, root: Any, infos: list[_VideoInfo]
) -> tuple[dict[str, bool], dict[str, Any], dict[str, np.ndarray], int | None]:
    """Check ``predictions/<run>`` against the ground truth.

    Returns which outputs the run has (heatmap/scanpath/forecast), the run's attributes,
    the forecast origins per video, and the forecast horizon (or None).
    """
    from pano.stores.reader import child_groups

    run = cfg.prediction_run
    where = f"{cfg.store}: predictions/{run}"
    groups = child_groups(root)
    runs = list(child_groups(groups["predictions"])) if "predictions" in groups else []
    if run not in runs:
        raise StoreError(
            f"{where} does not exist; runs in the store: {', '.join(sorted(runs)) or 'none'}"
        )
    grp = root[f"predictions/{run}"]
    have_videos = set(child_groups(grp))
    missing = [v.name for v in infos if v.name not in have_videos]
    if missing:
        raise StoreError(
            f"{where} has no predictions for video(s) {missing} of split {cfg.split!r}; "
            "predict them or restrict --videos"
        )
    kinds: dict[str, bool] = {}
    origins: dict[str, np.ndarray] = {}
    horizon: int | None = None
    for info in infos:
        v = grp[info.name]
        if v.attrs.get("pano_complete") is False:
            raise StoreError(f"{where}/{info.name} is incomplete (pano_complete is false)")
        arrays = set(v.array_keys())
        has = {k: k in arrays for k in ("heatmap", "scanpath", "forecast")}
        if not any(has.values()):
            raise StoreError(f"{where}/{info.name} has none of heatmap, scanpath, forecast")
        if kinds and has != kinds:
            raise StoreError(
                f"{where}: videos differ in what they predict ({info.name}: "
                f"{sorted(k for k, x in has.items() if x)}, others: "
                f"{sorted(k for k, x in kinds.items() if x)})"
            )
        kinds = has
        if has["heatmap"]:
            shape = tuple(v["heatmap"].shape)
            want = (info.n_steps, *info.grid)
            if shape != want:
                raise StoreError(
                    f"{where}/{info.name}/heatmap has shape {shape} but the ground truth "
                    f"videos/{info.name}/heatmap is {want} (steps, lat, lon); predict on the "
                    "store's step grid and heatmap size"
                )
        if has["scanpath"]:
            shape = tuple(v["scanpath"].shape)
            if len(shape) != 3 or shape[0] != info.n_steps or shape[2] != 2:
                raise StoreError(
                    f"{where}/{info.name}/scanpath has shape {shape}; expected "
                    f"({info.n_steps}, rollouts, 2) (step, rollout, lon/lat)"
                )
        if has["forecast"]:
            shape = tuple(v["forecast"].shape)
            if len(shape) != 4 or shape[0] != info.n_subjects or shape[3] != 3:
                raise StoreError(
                    f"{where}/{info.name}/forecast has shape {shape}; expected "
                    f"({info.n_subjects}, origins, horizon, 3) (subject, origin, horizon, xyz)"
                )
            if "origin" not in arrays:
                raise StoreError(f"{where}/{info.name} has a forecast but no 'origin' coordinate")
            o = np.asarray(v["origin"][:], dtype=np.int64)
            if o.shape != (shape[1],) or (o.size and (o.min() < 0 or o.max() >= info.n_rs)):
                raise StoreError(
                    f"{where}/{info.name}/origin must hold {shape[1]} indices into rs_time "
                    f"[0, {info.n_rs})"
                )
            if horizon is not None and shape[2] != horizon:
                raise StoreError(f"{where}: videos have different forecast horizons")
            horizon = int(shape[2])
            origins[info.name] = o
    return kinds, dict(grp.attrs.asdict()), origins, horizon


def _fit_on_train(
    cfg: EvalConfig, root: Any, root_attrs: Any, required: set[str], optional: set[str]
) -> dict[str, Any]:
    """Fit the FCB width and the equator-bias profile on the TRAIN split (never the test split).

    ``required`` baselines raise when the train split is empty; ``optional`` ones (the
    equator bias as the information-gain baseline) are then left out.
    """
    from pano.baselines import equator_bias_map, fit_fcb_sigma
    from pano.stores import list_videos

    complete = set(list_videos(cfg.store))
    train = sorted(v for v in root_attrs.splits.train if v in complete)
    fitted: dict[str, Any] = {"train_videos": train}
    need = set(required | optional)
    if cfg.saliency.fcb_sigma_deg is not None:
        fitted["fcb_sigma_deg"] = float(cfg.saliency.fcb_sigma_deg)
        fitted["fcb_source"] = "config"
        need.discard("fcb")
    if not need:
        return fitted
    if not train:
        if need & required:
            raise StoreError(
                f"{cfg.store}: baselines {sorted(need & required)} are fitted on the train split, "
                "which has no complete videos; drop them with --baselines or set "
                "saliency.fcb_sigma_deg"
            )
        return fitted
    ll = np.concatenate(
        [
            np.asarray(root[f"videos/{v}/scanpath"][:], dtype=np.float64).reshape(-1, 2)
            for v in train
        ]
    )
    heat = root_attrs.heatmap
    if "fcb" in need:
        fitted["fcb_sigma_deg"] = fit_fcb_sigma(lonlat_vectors(ll))
        fitted["fcb_source"] = "maximum likelihood on the train split's head points"
    if "equator" in need:
        m = equator_bias_map(ll[:, 1], heat.height, heat.width, heat.sigma_deg)
        fitted["equator_profile"] = m[:, 0]
        fitted["equator_source"] = (
            "longitude-averaged great-circle Gaussians (the ground truth's sigma) at the "
            "train split's head latitudes"
        )
    fitted["train_points"] = int(np.isfinite(ll).all(1).sum())
    return fitted


def _sauc_negatives(
    cfg: EvalConfig, scanpaths: dict[str, np.ndarray], video: str, start: int, stop: int
) -> np.ndarray:
    """Lon/lat of shuffled-AUC negatives per step: fixations of ``sauc_frames`` other frames.

    Frames are drawn (seeded by video and step) from the OTHER videos of the split; with a
    single video, from its frames at least ``sauc_min_gap_steps`` away.
    """
    from pano.metrics.saliency import stable_seed

    others = [v for v in sorted(scanpaths) if v != video]
    k = cfg.saliency.sauc_frames
    rows = []
    for s in range(start, stop):
        rng = np.random.default_rng(stable_seed(cfg.seed, video, s, "sauc_negatives") % (2**32))
        if others:
            vids = rng.choice(len(others), size=k, replace=True)
            picks = [
                scanpaths[others[i]][rng.integers(0, scanpaths[others[i]].shape[0])] for i in vids
            ]
        else:
            n = scanpaths[video].shape[0]
            far = np.nonzero(np.abs(np.arange(n) - s) >= max(1, cfg.saliency.sauc_min_gap_steps))[0]
            if far.size == 0:
                far = np.array([i for i in range(n) if i != s] or [s])
            picks = [scanpaths[video][i] for i in rng.choice(far, size=k, replace=True)]
        rows.append(np.concatenate(picks, axis=0))
    width = max(r.shape[0] for r in rows)
    out = np.full((len(rows), width, 2), np.nan)
    for i, r in enumerate(rows):
        out[i, : r.shape[0]] = r
    return out


def _plan(cfg: EvalConfig) -> _Plan:
    from pano.metrics.profiles import get_profile
    from pano.stores import open_root, read_root_attrs
    from pano.stores.reader import local_path

    get_profile(cfg.profile)
    root_attrs = read_root_attrs(cfg.store)
    root = open_root(cfg.store)
    names = _split_videos(cfg, root_attrs)
    infos = [_video_info(root, n) for n in names]
    grids = {i.grid for i in infos}
    if len(grids) > 1:
        raise StoreError(
            f"{cfg.store}: videos of split {cfg.split!r} have different heatmap grids {grids}"
        )
    notes: list[str] = []
    sal_metrics, hm_metrics, sp_metrics = cfg.metric_lists()

    kinds: dict[str, bool] = {}
    pred_attrs: dict[str, Any] = {}
    pred_origins: dict[str, np.ndarray] = {}
    horizon = cfg.hm.horizon
    if cfg.prediction_run is not None:
        kinds, pred_attrs, pred_origins, ph = _check_predictions(cfg, root, infos)
        if ph is not None:
            horizon = ph

    want = set(cfg.baselines)
    ig_equator = "ig" in sal_metrics and cfg.saliency.ig_baseline == "equator"
    fitted = _fit_on_train(
        cfg, root, root_attrs, {"fcb", "equator"} & want, {"equator"} if ig_equator else set()
    )
    ig_map = None
    if "ig" in sal_metrics:
        if ig_equator and "equator_profile" in fitted:
            h, w = infos[0].grid
            ig_map = np.broadcast_to(fitted["equator_profile"][:, None], (h, w)).copy()
            fitted["ig_baseline"] = "equator bias fitted on the train split"
        else:
            if ig_equator:
                notes.append("no train split to fit the equator bias: IG is against uniform")
            fitted["ig_baseline"] = "uniform on the sphere"
    if cfg.split == "train" and {"fcb", "equator"} & want:
        notes.append("evaluating the train split: the fitted baselines saw these videos")

    # Workers may run elsewhere (another cwd): give them an absolute path for local stores.
    path = local_path(cfg.store)
    location = str(path.resolve()) if path is not None else cfg.store
    ref = StoreRef(location, root_attrs.heatmap.model_dump(), float(root_attrs.resample.rate_hz))
    # The prediction run, bound to each video's group by _bind.
    run = cfg.prediction_run
    pred = ModelSpec(run or "", "prediction", {"group": f"predictions/{run}/{{video}}"})
    sal_models: list[ModelSpec] = []
    if sal_metrics:
        if kinds.get("heatmap"):
            sal_models.append(pred)
        for b in SALIENCY_BASELINES:
            if b not in want:
                continue
            params: dict[str, Any] = {}
            if b == "fcb":
                params = {"sigma_deg": fitted["fcb_sigma_deg"]}
            elif b == "equator":
                params = {"profile": fitted["equator_profile"]}
            sal_models.append(ModelSpec(b, b, params))
    hm_models: list[ModelSpec] = []
    if hm_metrics:
        if kinds.get("forecast"):
            hm_models.append(pred)
        hm_models += [ModelSpec(b, b) for b in HM_BASELINES if b in want]
    sp_models: list[ModelSpec] = []
    if sp_metrics:
        if kinds.get("scanpath"):
            sp_models.append(pred)
        sp_models += [ModelSpec(b, b) for b in SCANPATH_BASELINES if b in want]

    origins: dict[str, np.ndarray] = {}
    if hm_models:
        for info in infos:
            if info.name in pred_origins:
                origins[info.name] = pred_origins[info.name]
            else:
                origins[info.name] = np.arange(
                    cfg.hm.first_origin,
                    max(cfg.hm.first_origin, info.n_rs - horizon),
                    cfg.hm.origin_stride,
                )
            if origins[info.name].size == 0:
                notes.append(f"{info.name}: too short for a {horizon}-step forecast; no HM scores")
    if any(m.kind == "inter_observer" for m in sal_models) and cfg.device != "auto":
        from pano.device import resolve_device

        resolve_device(cfg.device)  # a bad or missing device fails here, before any work
    if not (sal_models or hm_models or sp_models):
        raise ConfigError(
            "nothing to evaluate: the chosen metrics and baselines/predictions do not meet "
            f"(metrics: {cfg.metrics}, baselines: {cfg.baselines}, prediction outputs: "
            f"{sorted(k for k, v in kinds.items() if v) or 'none'})"
        )
    return _Plan(
        ref=ref,
        root_attrs=root_attrs,
        videos=infos,
        sal_models=sal_models,
        hm_models=hm_models,
        sp_models=sp_models,
        sal_metrics=sal_metrics,
        hm_metrics=hm_metrics,
        sp_metrics=sp_metrics,
        horizon=horizon,
        origins=origins,
        fitted=fitted,
        ig_map=ig_map,
        predictions_attrs=pred_attrs,
        notes=notes,
    )


def _bind(spec: ModelSpec, video: str) -> ModelSpec:
    if spec.kind != "prediction":
        return spec
    return ModelSpec(spec.name, spec.kind, {"group": spec.params["group"].format(video=video)})


def _tasks(cfg: EvalConfig, plan: _Plan) -> list[tuple[str, Any]]:
    """(kind, task) pairs; saliency tasks first (the most work)."""
    from pano.stores import open_root, read_array

    out: list[tuple[str, Any]] = []
    if plan.sal_models:
        root = open_root(cfg.store)
        scan = {
            i.name: read_array(root, f"videos/{i.name}/scanpath").astype(np.float64)
            for i in plan.videos
        }
        for info in plan.videos:
            models = tuple(_bind(m, info.name) for m in plan.sal_models)
            for s0 in range(0, info.n_steps, cfg.steps_per_task):
                s1 = min(info.n_steps, s0 + cfg.steps_per_task)
                if "sauc" in plan.sal_metrics:
                    other = _sauc_negatives(cfg, scan, info.name, s0, s1)
                else:
                    other = np.full((s1 - s0, 1, 2), np.nan)
                task = SaliencyTask(
                    ref=plan.ref,
                    video=info.name,
                    start=s0,
                    stop=s1,
                    models=models,
                    metrics=tuple(plan.sal_metrics),
                    profile=cfg.profile,
                    seed=cfg.seed,
                    other=other,
                    ig_baseline=plan.ig_map,
                    device=cfg.device,
                )
                out.append(("saliency", task))
    for info in plan.videos:
        if plan.hm_models and plan.origins[info.name].size:
            hm_task = HMTask(
                ref=plan.ref,
                video=info.name,
                models=tuple(_bind(m, info.name) for m in plan.hm_models),
                metrics=tuple(plan.hm_metrics),
                origins=plan.origins[info.name],
                horizon=plan.horizon,
                fov=cfg.hm.fov_deg,
                tiles=cfg.hm.tiles,
                box_width_deg=cfg.hm.box_width_deg,
            )
            out.append(("hm", hm_task))
        if plan.sp_models:
            sp_task = ScanpathTask(
                ref=plan.ref,
                video=info.name,
                models=tuple(_bind(m, info.name) for m in plan.sp_models),
                metrics=tuple(plan.sp_metrics),
                seed=cfg.seed,
            )
            out.append(("scanpath", sp_task))
    return out


# ---------------------------------------------------------------------------
# Dask
# ---------------------------------------------------------------------------


def _is_memory(location: str) -> bool:
    return location.startswith("memory://")


@contextlib.contextmanager
def dask_client(
    workers: int, scheduler: str | None, announce: Callable[[str], None] | None = None
) -> Iterator[Any]:
    """A Dask client: an existing scheduler, a LocalCluster of ``workers`` processes, or None.

    ``workers=0`` (and no scheduler) yields None: tasks run in this process.
    When bokeh is installed, the dashboard link is announced.
    """
    if scheduler is None and workers == 0:
        yield None
        return
    from distributed import Client, LocalCluster

    has_bokeh = True
    try:
        import bokeh  # noqa: F401
    except ImportError:
        has_bokeh = False
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as err:
            raise PanoError(f"cannot connect to the Dask scheduler {scheduler!r}: {err}") from err
        try:
            if announce and has_bokeh and client.dashboard_link:
                announce(f"Dask dashboard: {client.dashboard_link}")
            yield client
        finally:
            client.close()
        return
    import dask

    # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also switches off glibc's
    # adaptive mmap threshold: every multi-MB NumPy temporary is then mmap'ed and page-faulted
    # afresh (measured: scoring maps ~1.4x slower). Our workers keep glibc's default.
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0" if has_bokeh else None,
            silence_logs=logging.ERROR,
        )
    client = Client(cluster)
    try:
        if announce and has_bokeh:
            announce(f"Dask dashboard: {client.dashboard_link}")
        yield client
    finally:
        client.close()
        cluster.close()


def _execute(
    cfg: EvalConfig, tasks: list[tuple[str, Any]], announce: Callable[[str], None] | None
) -> list[Any]:
    from pano.progress import track

    workers = cfg.workers
    if _is_memory(cfg.store) and cfg.scheduler is None:
        workers = 0  # a memory:// store exists only in this process
    with dask_client(workers, cfg.scheduler, announce) as client:
        if client is None:
            return [run_task(k, t) for k, t in track(tasks, len(tasks), "evaluating")]
        from distributed import as_completed

        futures = [client.submit(run_task, k, t, pure=False) for k, t in tasks]
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(futures)
        for fut in track(as_completed(futures), len(futures), "evaluating"):
            results[index[fut.key]] = fut.result()
        return results


# ---------------------------------------------------------------------------
# Assembly and writing
# ---------------------------------------------------------------------------


def _assemble(
    cfg: EvalConfig, plan: _Plan, tasks: list[tuple[str, Any]], results: list[Any]
) -> Any:
    import xarray as xr

    vids = [v.name for v in plan.videos]
    vix = {v: i for i, v in enumerate(vids)}
    n_steps = np.array([v.n_steps for v in plan.videos], np.int32)
    data: dict[str, Any] = {}
    coords: dict[str, Any] = {"video": np.array(vids, dtype=object)}

    specs = plan.sal_models + plan.hm_models + plan.sp_models
    models = list(dict.fromkeys(s.name for s in specs))  # model first, then the baselines
    mix = {m: i for i, m in enumerate(models)}
    coords["model"] = np.array(models, dtype=object)
    coords["model_kind"] = (
        "model",
        np.array(["model" if m in cfg.predictions else "baseline" for m in models], dtype=object),
    )
    data["n_steps"] = (("video",), n_steps)
    if plan.sal_models:
        sal = np.full((len(models), len(vids), int(n_steps.max()), len(plan.sal_metrics)), np.nan)
        for (kind, task), res in zip(tasks, results, strict=True):
            if kind != "saliency":
                continue
            for k, spec in enumerate(task.models):
                sal[mix[spec.name], vix[task.video], task.start : task.stop] = res[k]
        data["saliency"] = (("model", "video", "step", "metric"), sal)
        coords["step"] = np.arange(int(n_steps.max()), dtype=np.int32)
        coords["metric"] = np.array(plan.sal_metrics, dtype=object)
    if plan.hm_models:
        hm = np.full((len(models), len(vids), plan.horizon, len(plan.hm_metrics)), np.nan)
        cnt = np.zeros((len(models), len(vids), plan.horizon), np.int64)
        for (kind, task), res in zip(tasks, results, strict=True):
            if kind != "hm":
                continue
            for k, spec in enumerate(task.models):
                hm[mix[spec.name], vix[task.video]] = res[0][k]
                cnt[mix[spec.name], vix[task.video]] = res[1][k]
        data["hm"] = (("model", "video", "horizon", "hm_metric"), hm)
        data["hm_count"] = (("model", "video", "horizon"), cnt)
        coords["horizon"] = np.arange(1, plan.horizon + 1, dtype=np.int32)
        coords["horizon_s"] = ("horizon", coords["horizon"] / plan.ref.rate_hz)
        coords["hm_metric"] = np.array(plan.hm_metrics, dtype=object)
    if plan.sp_models:
        sp = np.full((len(models), len(vids), len(plan.sp_metrics)), np.nan)
        for (kind, task), res in zip(tasks, results, strict=True):
            if kind != "scanpath":
                continue
            for k, spec in enumerate(task.models):
                sp[mix[spec.name], vix[task.video]] = res[k]
        data["scanpath"] = (("model", "video", "sp_metric"), sp)
        coords["sp_metric"] = np.array(plan.sp_metrics, dtype=object)
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(_provenance(cfg, plan))
    return ds


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, (np.floating, float)):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, Path):
        return str(v)
    return v


def _provenance(cfg: EvalConfig, plan: _Plan) -> dict[str, Any]:
    from pano.metrics.profiles import get_profile

    fitted = {k: v for k, v in plan.fitted.items() if k != "equator_profile"}
    if "equator_profile" in plan.fitted:
        fitted["equator_profile"] = np.round(np.asarray(plan.fitted["equator_profile"]), 8)
    attrs = {
        "pano_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "store": cfg.store,
        "split": cfg.split,
        "run": cfg.run_name,
        "predictions": list(cfg.predictions),
        "seed": cfg.seed,
        "profile": get_profile(cfg.profile).to_attrs(),
        "config": cfg.model_dump(mode="json"),
        "ground_truth_heatmap": plan.root_attrs.heatmap.model_dump(),
        "resample_rate_hz": plan.root_attrs.resample.rate_hz,
        "dataset": plan.root_attrs.dataset,
        "fitted_baselines": fitted,
        "prediction_run_attrs": {r: plan.predictions_attrs for r in cfg.predictions[:1]},
        "conventions": {
            "saliency": "per step; inter_observer = one half of the subjects' heatmap scored "
            "against the other half's map and fixations (both directions averaged)",
            "fixations": "each subject's head point at the step, in the map pixel containing it",
            "sauc_negatives": f"fixations of {cfg.saliency.sauc_frames} frames of other videos "
            "of the split, drawn with seed (seed, video, step)",
            "hm": "mean over (subject, origin) per horizon step; horizon h = rs_time[origin + h]",
            "scanpath": "whole-video scanpaths; mean over (predicted, true) pairs",
            "random_seeds": "stable_seed(seed, video, step, metric)",
        },
        "notes": plan.notes,
        "pano_complete": False,
    }
    return _jsonable(attrs)


def _write_results(cfg: EvalConfig, ds: Any) -> str:
    """Write ``results/<run>`` from the driver (whole arrays: chunks aligned by construction)."""
    from pano.stores import open_root, zarr_store
    from pano.stores.writer import compressor

    group = f"results/{cfg.run_name}"
    enc = {
        name: {"compressors": compressor()}
        for name, v in ds.data_vars.items()
        if v.dtype.kind in "fiu"
    }
    ds.to_zarr(
        zarr_store(cfg.store, read_only=False),
        group=group,
        mode="w",
        zarr_format=3,
        consolidated=False,
        encoding=enc,
    )
    open_root(cfg.store, mode="a")[group].attrs["pano_complete"] = True
    return group


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

    """
    from pano.pipelines.eval_report import summary_tables, write_reports

    t0 = time.perf_counter()
    subs = [
        cfg.model_copy(update={"predictions": [r], "baselines": cfg.baselines if k == 0 else []})
        for k, r in enumerate(cfg.predictions)
    ] or [cfg]
    plans = [_plan(sub) for sub in subs]
    tasks = [_tasks(sub, plan) for sub, plan in zip(subs, plans, strict=True)]
    n_sal_steps = sum(t.stop - t.start for ts in tasks for k, t in ts if k == "saliency")
    log.info(
        "evaluating %d video(s) of split %r: %d task(s), models %s",
        len(plans[0].videos),
        cfg.split,
        sum(len(ts) for ts in tasks),
        sorted({m.name for p in plans for m in p.sal_models + p.hm_models + p.sp_models}),
    )
    t_run = time.perf_counter()
    results = _execute(cfg, [t for ts in tasks for t in ts], announce)  # one cluster for all
    seconds = time.perf_counter() - t_run
    parts, i = [], 0
    for sub, plan, ts in zip(subs, plans, tasks, strict=True):
        parts.append(_assemble(sub, plan, ts, results[i : i + len(ts)]))
        i += len(ts)
    ds = parts[0] if len(parts) == 1 else _side_by_side(cfg, parts, plans)
    group = _write_results(cfg, ds) if cfg.write_store else None
    ds.attrs["pano_complete"] = group is not None
    tables = summary_tables(ds, cfg.hm.report_s)
    files = write_reports(ds, tables, cfg.out) if cfg.out is not None else []
    log.info("evaluation done in %.1f s (%.1f s total)", seconds, time.perf_counter() - t0)
    for note in ds.attrs.get("notes", []):
        log.warning("%s", note)
    return EvalResult(ds, tables, group, files, seconds, n_sal_steps)


def _side_by_side(cfg: EvalConfig, parts: list[Any], plans: list[_Plan]) -> Any:
    """Concatenate single-run results along ``model``; attributes describe the whole call."""
    import xarray as xr

    ds = xr.concat(
        parts,
        dim="model",
        data_vars="minimal",
        coords="minimal",
        compat="override",
        join="outer",
        combine_attrs="override",
    )
    notes = list(dict.fromkeys(n for plan in plans for n in plan.notes))
    origins = [p.origins for p in plans if p.hm_models]
    if any(
        o.keys() != origins[0].keys() or any(not np.array_equal(o[v], origins[0][v]) for v in o)
        for o in origins[1:]
    ):
        notes.append(
            "the runs forecast from different origins: HM scores are means over different "
            "origins per run (baselines: the first forecasting run's origins)"
        )
    attrs = _provenance(cfg, plans[0])
    attrs["prediction_run_attrs"] = {
        r: p.predictions_attrs for r, p in zip(cfg.predictions, plans, strict=True)
    }
    attrs["notes"] = notes
    ds.attrs = _jsonable(attrs)
    return ds


def open_results(location: str, run: str) -> Any:
    """Open ``results/<run>`` of a store as an :class:`xarray.Dataset`.

    Raises:
        StoreError: no such (complete) results group.

    """
    import xarray as xr

    from pano.stores import open_root, zarr_store
    from pano.stores.reader import child_groups

    root = open_root(location)
    groups = child_groups(root)
    runs = sorted(child_groups(groups["results"])) if "results" in groups else []
    if run not in runs or root[f"results/{run}"].attrs.get("pano_complete") is not True:
        raise StoreError(
            f"{location}: no complete results/{run}; "
            f"results in the store: {', '.join(runs) or 'none'}"
        )
    return xr.open_dataset(
        zarr_store(location),  # type: ignore[arg-type]  # xarray accepts zarr Store objects
        group=f"results/{run}",
        engine="zarr",
        consolidated=False,
        zarr_format=3,
    )


__all__ = [
    "ALL_BASELINES",
    "HM_BASELINES",
    "SALIENCY_BASELINES",
    "EvalConfig",
    "EvalResult",
    "HMEvalParams",
    "SaliencyEvalParams",
    "dask_client",
    "evaluate",
    "open_results",
]
