"""Driver side of ``pano eval``: check the inputs, then plan the models and the Dask tasks.

:func:`make_plan` checks the store, the split's complete videos and the prediction run
(:func:`pano.stores.check_predictions`) on the driver before any work, fits the baselines
on the train split (:mod:`pano.pipelines.eval.baselines`) and records the prediction run's
identity; :func:`build_tasks` turns a plan into one task per (video, block of steps) for
the saliency metrics and one per video for forecasts and scanpaths, with the shuffled-AUC
negatives drawn here (:func:`sauc_negatives`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from pano.errors import ConfigError, StoreError
from pano.pipelines.eval.baselines import fit_on_train
from pano.pipelines.eval.config import (
    HM_BASELINES,
    SALIENCY_BASELINES,
    SCANPATH_BASELINES,
    EvalConfig,
)
from pano.pipelines.eval.eye import check_eye_events, eye_heatmap_params, eye_lonlat
from pano.pipelines.eval.tasks import HMTask, ModelSpec, SaliencyTask, ScanpathTask, StoreRef
from pano.pipelines.eval.track import hm_video_shape, prediction_index, resolve, track_origins

if TYPE_CHECKING:
    from pano.stores import VideoShape


@dataclass
class Plan:
    """Everything the driver decided for one prediction run (or the baselines alone)."""

    ref: StoreRef
    root_attrs: Any
    videos: list[VideoShape]
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
    #: The prediction run's identity when planned (prediction_identity), or None.
    identity: dict[str, Any] | None = None
    #: The ground-truth density maps' recipe: the store's heatmap, or (target eye) the
    #: eye heatmap's of the first video (None: the store's).
    eye_heatmap: Any = None

    @property
    def ground_truth_heatmap(self) -> Any:
        """The :class:`~pano.heatmap_params.HeatmapParams` of the scored ground-truth maps."""
        return self.root_attrs.heatmap if self.eye_heatmap is None else self.eye_heatmap

    #: TRACK's windows (``pano.pipelines.eval.track.resolve``) under ``protocol=track``.
    track: dict[str, Any] | None = None
    #: Per video: positions of ``origins`` along the prediction run's origin axis (TRACK's
    #: windows are a subset of the run's origins); absent = the run's origins are used.
    pred_index: dict[str, np.ndarray] = field(default_factory=dict)


def split_videos(cfg: EvalConfig, root_attrs: Any) -> list[str]:
    """The complete videos of the configured split (and ``videos``), sorted."""
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


def sauc_negatives(
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


def _run_history(attrs: dict[str, Any]) -> Any:
    """A pano prediction run's ``data.history`` from its attributes, or ``'?'``."""
    conf = attrs.get("config")
    data = conf.get("data") if isinstance(conf, dict) else None
    return data.get("history", "?") if isinstance(data, dict) else "?"


def make_plan(cfg: EvalConfig) -> Plan:
    """Check the inputs and decide models, metrics, origins and fitted baselines.

    Raises:
        StoreNotFoundError, StoreError, ConfigError: bad input, before any work starts.

    """
    from pano.metrics.profiles import get_profile
    from pano.stores import (
        check_predictions,
        open_root,
        prediction_identity,
        read_root_attrs,
        video_shape,
    )
    from pano.stores.reader import local_path

    get_profile(cfg.profile)
    root_attrs = read_root_attrs(cfg.store)
    root = open_root(cfg.store)
    names = split_videos(cfg, root_attrs)
    track = resolve(cfg.track, root_attrs.dataset) if cfg.protocol == "track" else None
    # TRACK's protocol reads the resampled head data only (no heatmaps, frames or videos).
    infos = [hm_video_shape(root, n) if track else video_shape(root, n) for n in names]
    grids = {i.grid for i in infos}
    if len(grids) > 1 and track is None:
        raise StoreError(
            f"{cfg.store}: videos of split {cfg.split!r} have different heatmap grids {grids}"
        )
    notes: list[str] = []
    sal_metrics, hm_metrics, sp_metrics = cfg.metric_lists()
    if cfg.target == "eye":
        check_eye_events(cfg.store, names, f"split {cfg.split!r}")
        if hm_metrics:
            notes.append(
                "target eye: head-movement forecasts are not scored (they forecast the head; "
                "use --target head)"
            )
            hm_metrics = []

    kinds: dict[str, bool] = {}
    pred_attrs: dict[str, Any] = {}
    pred_origins: dict[str, np.ndarray] = {}
    identity: dict[str, Any] | None = None
    horizon = cfg.hm.horizon if track is None else int(track["h_window"])
    run = cfg.prediction_run
    if run is not None:
        checked = check_predictions(cfg.store, run, infos, cfg.split)
        kinds, pred_attrs, pred_origins = checked.outputs, checked.attrs, checked.origins
        if track is not None and checked.horizon is not None and checked.horizon < horizon:
            raise ConfigError(
                f"predictions/{run} forecasts {checked.horizon} step(s) but TRACK's protocol "
                f"scores track.h_window={horizon}: predict with data.horizon >= {horizon} or "
                f"set track.h_window to at most {checked.horizon}"
            )
        if checked.horizon is not None and track is None:
            if "horizon" in cfg.hm.model_fields_set and cfg.hm.horizon > checked.horizon:
                raise ConfigError(
                    f"hm.horizon={cfg.hm.horizon}: predictions/{run} forecasts only "
                    f"{checked.horizon} step(s); set hm.horizon to at most {checked.horizon}"
                )
            horizon = checked.horizon
        identity = prediction_identity(root, run, names)

    want = set(cfg.baselines)
    ig_equator = "ig" in sal_metrics and cfg.saliency.ig_baseline == "equator"
    fitted = fit_on_train(
        cfg, root_attrs, {"fcb", "equator"} & want, {"equator"} if ig_equator else set()
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
    ref = StoreRef(location, root_attrs.heatmap, float(root_attrs.resample.rate_hz), cfg.target)
    # The prediction run: each task reads its own video's group.
    pred = ModelSpec(run or "", "prediction", {"run": run})
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
    pred_index: dict[str, np.ndarray] = {}
    if hm_models and track is not None:
        for info in infos:
            origins[info.name] = track_origins(info.n_rs, track)
            if info.name in pred_origins and origins[info.name].size:
                pred_index[info.name] = prediction_index(
                    run or "",
                    info.name,
                    pred_origins[info.name],
                    origins[info.name],
                    _run_history(pred_attrs),
                )
            if origins[info.name].size == 0:
                notes.append(
                    f"{info.name}: {info.n_rs} samples leave no TRACK window "
                    f"[{track['init_window']}, {info.n_rs} - {track['end_window']}); no scores"
                )
        if infos and all(o.size == 0 for o in origins.values()):
            longest = max(i.n_rs for i in infos)
            need = track["init_window"] + track["end_window"] + 1
            raise ConfigError(
                f"{cfg.store}: every video of split {cfg.split!r} is too short for TRACK's "
                f"windows (init_window {track['init_window']} + end_window "
                f"{track['end_window']} needs {need} resampled samples; the longest has "
                f"{longest}); lower track.init_window or track.h_window/end_window"
            )
    elif hm_models:
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
        if infos and all(o.size == 0 for o in origins.values()):
            longest = max(i.n_rs for i in infos)
            raise ConfigError(
                f"hm.horizon={horizon}: every video of split {cfg.split!r} is too short for a "
                f"{horizon}-step forecast (the longest has {longest} resampled samples); set "
                f"hm.horizon below {max(longest - cfg.hm.first_origin, 1)}"
            )
    if any(m.kind == "inter_observer" for m in sal_models) and cfg.device != "auto":
        from pano.device import resolve_device

        resolve_device(cfg.device)  # a bad or missing device fails here, before any work
    if not (sal_models or hm_models or sp_models):
        raise ConfigError(
            "nothing to evaluate: the chosen metrics and baselines/predictions do not meet "
            f"(metrics: {cfg.metrics}, baselines: {cfg.baselines}, prediction outputs: "
            f"{sorted(k for k, v in kinds.items() if v) or 'none'})"
        )
    return Plan(
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
        identity=identity,
        eye_heatmap=eye_heatmap_params(cfg.store, names[0]) if cfg.target == "eye" else None,
        track=track,
        pred_index=pred_index,
    )


def build_tasks(cfg: EvalConfig, plan: Plan) -> list[tuple[str, Any]]:
    """(kind, task) pairs; saliency tasks first (the most work)."""
    from pano.stores import open_root, read_video_array

    out: list[tuple[str, Any]] = []
    if plan.sal_models:
        root = open_root(cfg.store)
        # (step, subject, 2) lon/lat of the ground-truth fixations: head points, or the
        # eye fixations active at each step (the shuffled-AUC negatives are drawn from them).
        scan = {
            i.name: eye_lonlat(root, i.name)
            if cfg.target == "eye"
            else np.asarray(read_video_array(root, i.name, "scanpath"), dtype=np.float64)
            for i in plan.videos
        }
        for info in plan.videos:
            models = tuple(plan.sal_models)
            for s0 in range(0, info.n_steps, cfg.steps_per_task):
                s1 = min(info.n_steps, s0 + cfg.steps_per_task)
                if "sauc" in plan.sal_metrics:
                    other = sauc_negatives(cfg, scan, info.name, s0, s1)
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
                models=tuple(plan.hm_models),
                metrics=tuple(plan.hm_metrics),
                origins=plan.origins[info.name],
                horizon=plan.horizon,
                fov=cfg.hm.fov_deg,
                tiles=cfg.hm.tiles,
                box_width_deg=cfg.hm.box_width_deg,
                pred_index=plan.pred_index.get(info.name),
            )
            out.append(("hm", hm_task))
        if plan.sp_models:
            sp_task = ScanpathTask(
                ref=plan.ref,
                video=info.name,
                models=tuple(plan.sp_models),
                metrics=tuple(plan.sp_metrics),
                seed=cfg.seed,
            )
            out.append(("scanpath", sp_task))
    return out
