"""``pano eval``'s configuration: :class:`EvalConfig` and the baseline names.

See ``pipelines/configs/eval.yaml`` for a commented example and ``docs/eval.md`` for the
metrics, baselines and profiles the names refer to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

# The baseline names are core's (pano.baselines), re-exported here (see __all__).
from pano.baselines import ALL_BASELINES, HM_BASELINES, SALIENCY_BASELINES, SCANPATH_BASELINES
from pano.config import PanoConfig
from pano.errors import ConfigError, ParameterError, UnknownNameError
from pano.fov import DHP_FOV, FoV
from pano.metrics.profiles import DEFAULT_PROFILE, PROFILE_NAMES, ProfileName
from pano.pipelines.eval.track import TRACK_METRIC, TrackParams

#: The baselines of ``--target gaze`` (scored on the prediction run's test samples): the
#: fold's training persons' mean gaze, and the head pose taken as the gaze.
GAZE_BASELINES: tuple[str, ...] = ("mean_gaze", "head_pose")


def _metric_names() -> tuple[list[str], list[str], list[str]]:
    """The registry's (saliency, hm, scanpath) metric names, in display order."""
    from pano.metrics.registry import metric_names

    return metric_names("saliency"), metric_names("hm"), metric_names("scanpath")


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def _plain_name(v: str) -> str:
    if not v.strip() or "/" in v:
        raise ConfigError(f"{v!r} must be a plain group name (no '/')")
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
    fov_deg: FoV = Field(
        default=DHP_FOV,
        description="viewport FoV (horizontal, vertical) degrees for overlap and tiles, or 'HxV'",
    )
    tiles: tuple[int, int] = Field(default=(6, 4), description="tile grid: columns x rows")
    box_width_deg: float = Field(
        default=32.75, gt=0, le=360, description="DHP mean-overlap box width"
    )
    report_s: list[float] = Field(
        default_factory=lambda: [1.0, 2.0, 3.0, 5.0], description="horizons (s) shown in tables"
    )

    @field_validator("tiles")
    @classmethod
    def _tiles(cls, v: tuple[int, int]) -> tuple[int, int]:
        if min(v) < 1:
            raise ConfigError("tile counts must be >= 1")
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
    profile: ProfileName = Field(
        default=DEFAULT_PROFILE, description=f"metric profile: {', '.join(PROFILE_NAMES)}"
    )
    split: Literal["train", "val", "test"] = Field(default="test", description="split to evaluate")
    target: Literal["head", "eye", "gaze"] = Field(
        default="head",
        description="ground truth: 'head' (head points and heatmaps), 'eye' (the fixations "
        "and eye heatmaps of `pano em detect`; results/<run>_eye by default) or 'gaze' (a "
        "gaze data set's labels, gaze/<dataset>, scored against `pano train-gaze` "
        "predictions; results/<run>_gaze by default)",
    )
    dataset: str | None = Field(
        default=None, description="target gaze: the gaze data set (gaze/<dataset> in the store)"
    )
    videos: list[str] | None = Field(
        default=None, description="restrict to these videos of the split"
    )
    workers: int = Field(default=2, ge=0, description="local Dask worker processes; 0 = in-process")
    scheduler: str | None = Field(default=None, description="address of an existing Dask scheduler")
    dashboard: str = Field(
        default="local",
        description="Dask dashboard of a local cluster: 'local' (127.0.0.1), 'off' or HOST:PORT",
    )
    out: Path | None = Field(
        default=None, description="folder for tables (CSV, Markdown) and PNG plots"
    )
    write_store: bool = Field(default=True, description="write results/<run> into the store")
    overwrite: bool = Field(
        default=False, description="replace an existing results/<run> (else a new --run name)"
    )
    seed: int = Field(
        default=0, description="seed of every random choice (split halves, AUC sampling)"
    )
    steps_per_task: int = Field(default=16, ge=1, description="saliency steps per Dask task")
    device: str = Field(
        default="auto", description="torch device of the inter-observer heatmaps (auto, cpu, cuda)"
    )
    hm: HMEvalParams = Field(default_factory=HMEvalParams)
    saliency: SaliencyEvalParams = Field(default_factory=SaliencyEvalParams)
    protocol: Literal["pano", "track"] = Field(
        default="pano",
        description="'pano' (every metric and baseline) or 'track' (TRACK's benchmark: its "
        "windows, orthodromic distance only, forecasters only, pooled aggregation)",
    )
    track: TrackParams = Field(
        default_factory=TrackParams, description="TRACK's windows (used with protocol=track)"
    )

    @field_validator("baselines", mode="before")
    @classmethod
    def _baselines(cls, v: Any) -> Any:
        v = _split_list(v)
        if v in (["all"], "all"):
            return list(ALL_BASELINES)
        if v in (["none"], "none", None):
            return []
        return v

    @field_validator("dashboard")
    @classmethod
    def _dashboard(cls, v: str) -> str:
        from pano.pipelines.runner import check_dashboard

        return check_dashboard(v)

    @field_validator("metrics", "videos", mode="before")
    @classmethod
    def _lists(cls, v: Any) -> Any:
        v = _split_list(v)
        return None if v in (["all"], []) else v

    @field_validator("baselines")
    @classmethod
    def _known_baselines(cls, v: list[str]) -> list[str]:
        known = ALL_BASELINES + GAZE_BASELINES
        bad = [b for b in v if b not in known]
        if bad:
            raise UnknownNameError(
                f"unknown baseline(s) {bad}: use all, none or {', '.join(ALL_BASELINES)} "
                f"(--target gaze: {', '.join(GAZE_BASELINES)})"
            )
        return [b for b in known if b in v]

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        sal, hm, sp = _metric_names()
        bad = [m for m in v if m not in sal + hm + sp]
        if bad:
            raise UnknownNameError(f"unknown metric(s) {bad}: use {', '.join(sal + hm + sp)}")
        return v

    @field_validator("profile", mode="before")
    @classmethod
    def _known_profile(cls, v: Any) -> Any:
        if v not in PROFILE_NAMES:
            raise UnknownNameError(f"unknown profile {v!r}: use one of {', '.join(PROFILE_NAMES)}")
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
                raise ConfigError(f"prediction run {name!r} has a baseline's name; rename the run")
        if len(set(v)) != len(v):
            raise ConfigError(f"a prediction run is listed twice: {v}")
        return v

    @field_validator("run")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        return None if v is None else _plain_name(v)

    @model_validator(mode="after")
    def _track_protocol(self) -> EvalConfig:
        """Under TRACK's protocol: its one metric and the forecasting baselines only."""
        if self.protocol != "track":
            return self
        if self.target == "eye":
            raise ConfigError(
                "--protocol track scores head-movement forecasts, which have no eye target: "
                "drop --target eye"
            )
        if self.metrics is not None and self.metrics != [TRACK_METRIC]:
            raise ConfigError(
                f"--protocol track scores {TRACK_METRIC} only, not {self.metrics}: drop --metrics"
            )
        # "all" (every baseline) means every forecaster here; a list naming maps is refused.
        if "baselines" in self.model_fields_set and self.baselines != list(ALL_BASELINES):
            extra = [b for b in self.baselines if b not in HM_BASELINES]
            if extra:
                raise ConfigError(
                    f"--protocol track scores forecasts only; baselines {extra} are not "
                    f"forecasters: use {', '.join(HM_BASELINES)}, all or none"
                )
        # Assign only what changes: validate_assignment runs this validator again.
        if self.metrics != [TRACK_METRIC]:
            self.metrics = [TRACK_METRIC]
        keep = [b for b in self.baselines if b in HM_BASELINES]
        if keep != self.baselines:
            self.baselines = keep
        return self

    @model_validator(mode="after")
    def _gaze_target(self) -> EvalConfig:
        """--target gaze: a data set, prediction run(s) and the gaze baselines only."""
        gaze_named = [b for b in self.baselines if b in GAZE_BASELINES]
        if self.target != "gaze":
            if gaze_named:
                raise ConfigError(
                    f"baselines {gaze_named} score gaze predictions: add --target gaze "
                    "--dataset NAME, or drop them"
                )
            if self.dataset is not None:
                raise ConfigError("--dataset names a gaze data set: add --target gaze, or drop it")
            return self
        if self.dataset is None:
            raise ConfigError("--target gaze needs --dataset NAME (a gaze/<NAME> data set)")
        if not self.predictions:
            raise ConfigError(
                "--target gaze scores a `pano train-gaze` run: give --predictions RUN "
                "(gaze/<dataset>/predictions/RUN)"
            )
        if self.protocol != "pano" or self.metrics is not None:
            raise ConfigError(
                "--target gaze scores the angular error only: drop --protocol and --metrics"
            )
        # 'all' (the default) means every gaze baseline here; head/eye names are refused.
        if self.baselines == list(ALL_BASELINES) or (
            "baselines" not in self.model_fields_set and not gaze_named
        ):
            keep = list(GAZE_BASELINES)
        else:
            other = [b for b in self.baselines if b not in GAZE_BASELINES]
            if other:
                raise ConfigError(
                    f"--target gaze: baselines {other} are not gaze baselines; use "
                    f"{', '.join(GAZE_BASELINES)}, all or none"
                )
            keep = gaze_named
        if keep != self.baselines:
            self.baselines = keep
        return self

    @model_validator(mode="after")
    def _something_to_score(self) -> EvalConfig:
        if not self.predictions and not self.baselines:
            raise ConfigError("nothing to evaluate: give --predictions RUN or some --baselines")
        return self

    @property
    def run_name(self) -> str:
        """The results group name: ``run``, else the runs joined by '-' or 'baselines'.

        Without an explicit ``run``, ``target="eye"`` appends ``_eye`` (``"gaze"``:
        ``_gaze``), so head and eye
        results of the same predictions live side by side (``results/dhp``,
        ``results/dhp_eye``) and never replace each other.
        """
        if self.run:
            return self.run
        name = "-".join(self.predictions) or "baselines"
        return f"{name}_{self.target}" if self.target in ("eye", "gaze") else name

    @property
    def prediction_run(self) -> str | None:
        """The one prediction run of a single-run evaluation (None: baselines only)."""
        if len(self.predictions) > 1:
            raise ParameterError(
                f"predictions {self.predictions}: a plan covers one prediction run; "
                "evaluate() splits several into one config each"
            )
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


__all__ = [
    "ALL_BASELINES",
    "GAZE_BASELINES",
    "HM_BASELINES",
    "SALIENCY_BASELINES",
    "SCANPATH_BASELINES",
    "EvalConfig",
    "HMEvalParams",
    "SaliencyEvalParams",
    "TrackParams",
]
