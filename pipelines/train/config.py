"""The typed configuration of ``pano train-hm`` (one YAML file, ``--set key=value`` overrides).

See ``docs/training.md`` for every field; the example files are
``pipelines/configs/{pos_only,content,dhp}.yaml``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from pano.config import PanoConfig
from pano.errors import ConfigError
from pano.fov import CONTENT_FOV, DHP_FOV, FoV
from pano.heatmap_params import HeatmapParams


class NoMotionModel(PanoConfig):
    """No-motion baseline (nothing to train; useful to write baseline predictions)."""

    kind: Literal["no_motion"] = "no_motion"


class ConstVelocityModel(PanoConfig):
    """Constant angular velocity baseline."""

    kind: Literal["const_velocity"] = "const_velocity"
    window: int = Field(1, ge=1, description="steps used to estimate the velocity")
    damping: float = Field(0.0, ge=0.0, lt=1.0, description="per-step decay of the speed")


class Seq2SeqModel(PanoConfig):
    """Position-only seq2seq LSTM."""

    kind: Literal["seq2seq"] = "seq2seq"
    hidden: int = Field(64, ge=1, le=4096)
    layers: int = Field(1, ge=1, le=8)
    scale: float = Field(10.0, gt=0)
    dropout: float = Field(0.0, ge=0, lt=1)


class ContentModel(Seq2SeqModel):
    """Content-aware (TRACK-like) forecaster: viewport keypoint encoder + position LSTM."""

    kind: Literal["content"] = "content"  # type: ignore[assignment]
    content_steps: list[int] = Field(
        default_factory=lambda: [0, 5, 10, 15, 20, 25],
        description="horizon steps whose frames the viewports show (0 = origin)",
    )
    fov_deg: FoV = Field(CONTENT_FOV, description="viewport FoV (h, v) degrees, or 'HxV'")
    size: tuple[int, int] = Field((32, 32), description="viewport (height, width) pixels")
    channels: Literal[1, 3] = Field(3, description="1 = luma, 3 = RGB")
    keypoints: int = Field(
        0, ge=0, le=64, description="free spatial-softmax maps (besides the tracker map)"
    )
    encoder_width: int = Field(8, ge=1, le=512, description="hidden channels of the viewport CNN")

    @model_validator(mode="after")
    def _steps(self) -> ContentModel:
        s = self.content_steps
        if not s or s != sorted(set(s)) or s[0] < 0:
            raise ConfigError(f"content_steps must be increasing, non-negative and unique, got {s}")
        return self


class SaliencyModel(Seq2SeqModel):
    """Content-aware forecaster fed the saliency of the frame at every horizon step."""

    kind: Literal["saliency"] = "saliency"  # type: ignore[assignment]
    saliency_size: tuple[int, int] = Field(
        (24, 48), description="(height, width) of the per-step ERP saliency maps"
    )
    saliency_source: Literal["frames", "ground_truth"] = Field(
        "frames",
        description="frames: saliency computed from the video frames (honest); ground_truth: "
        "every subject's head at that time (TRACK's ablation - an UPPER BOUND, not a forecast)",
    )
    saliency_pool: Literal["area", "max"] = Field(
        "area",
        description="how frame saliency is reduced to saliency_size: area (mean) or max (a "
        "small bright target keeps its peak)",
    )
    sharpness: float = Field(
        1.0, gt=0, le=16, description="the tracker weighs saliency ** sharpness"
    )
    base: Literal["none", "velocity"] = Field(
        "none",
        description="none: forecast = trust x tracker + correction; velocity: (1 - trust) x the "
        "head's own damped motion + trust x tracker + correction, trust starting as a ramp "
        "over the horizon (the head first, the content later)",
    )
    max_lag: int = Field(4, ge=0, le=25, description="steps the direct path may lag the tracker")
    seeds: list[float] = Field(
        default_factory=lambda: [0.0],
        min_length=1,
        max_length=8,
        description="tracker starts: steps ahead of the head along its last 5 Hz increment "
        "(0 = at the head)",
    )

    @property
    def upper_bound(self) -> bool:
        """True when the input is ground-truth saliency (results are an upper bound)."""
        return self.saliency_source == "ground_truth"


class TrackModel(SaliencyModel):
    """TRACK-like: separate position and saliency LSTM branches, fused."""

    kind: Literal["track"] = "track"  # type: ignore[assignment]
    saliency_hidden: int = Field(32, ge=1, le=4096, description="saliency LSTM width")


class DHPModel(PanoConfig):
    """The offline-DHP agent (42x42 luma viewports, 8 directions + step size)."""

    kind: Literal["dhp"] = "dhp"
    size: int = Field(42, ge=8, le=256, description="square viewport size (DHP: 42)")
    fov_deg: FoV = Field(DHP_FOV, description="viewport FoV (h, v) degrees (DHP: 110x113)")
    hidden: int = Field(288, ge=1, le=4096, description="LSTM width (DHP: 288)")
    speed_scale: float = Field(1.0, gt=0, description="degrees per step of softplus(x) = 1")
    standardize: bool = Field(
        False,
        description="standardise each viewport (zero mean, unit std) before the conv layers "
        "(DHP feeds [0, 1] luma)",
    )
    color: bool = Field(
        False,
        description="RGB viewports (3 channels per frame) instead of DHP's luma; the synthetic "
        "targets are coloured discs, some no brighter than the background",
    )
    frames: int = Field(
        1,
        ge=1,
        le=2,
        description="views per observation: 1 (DHP) = the current step's frame; 2 = also the "
        "previous step's frame seen from the same direction (a motion cue), as channels",
    )
    head: Literal["dense", "spatial"] = Field(
        "dense",
        description="policy head: dense (DHP) = a linear layer of the features; spatial = "
        "toward the expected position of a learned score map over the view",
    )
    recurrent: bool = Field(
        True,
        description="LSTM between the conv features and the heads (DHP); false: one "
        "feed-forward layer, so the action depends on the current view only",
    )
    cell_prior: Literal["none", "latitude", "latitude_distance"] = Field(
        "none",
        description="head: spatial only: a learned prior (starting at 0) added to every "
        "view cell's score: latitude = a weight on sin^2 of the cell's absolute latitude "
        "(from the view centre: the view alone does not show it); latitude_distance = "
        "also one on the cell's angle from the view centre; none (default) = no prior",
    )

    @model_validator(mode="after")
    def _prior_needs_spatial(self) -> DHPModel:
        if self.cell_prior != "none" and self.head != "spatial":
            raise ConfigError(
                f"model.cell_prior {self.cell_prior!r} needs model.head: spatial "
                f"(got {self.head!r}); set model.cell_prior: none or model.head: spatial"
            )
        return self


ModelConfig = Annotated[
    NoMotionModel
    | ConstVelocityModel
    | Seq2SeqModel
    | ContentModel
    | SaliencyModel
    | TrackModel
    | DHPModel,
    Field(discriminator="kind"),
]


class DataConfig(PanoConfig):
    """What is read from the store and how the training split is divided."""

    history: int = Field(5, ge=1, le=100, description="observed samples (5 = 1 s at 5 Hz)")
    horizon: int = Field(25, ge=1, le=250, description="predicted steps (25 = 5 s at 5 Hz)")
    val_videos: int = Field(
        1, ge=0, description="train-split videos held out for validation (the last by name)"
    )
    val_fold: int | None = Field(
        None,
        ge=0,
        description="hold out the train videos val_fold*val_videos .. +val_videos-1 (by name) "
        "for validation instead of the last ones: K-fold over the train split",
    )
    folds: int = Field(
        1,
        ge=1,
        le=16,
        description="DHP: train one agent per fold of the train split (agent k validates on "
        "fold k's val_videos, data.val_fold = k, and trains on the rest); predictions pool "
        "every agent's rollouts and online-DHP averages their predicted directions",
    )
    val_subject_fraction: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="subjects held out in each train video (fraction; with or without val_videos)",
    )
    frame_width: int = Field(
        320,
        ge=32,
        le=8192,
        description="decoded frames are resized to this width (height = width/2)",
    )
    decode_backend: str = Field("auto", description="pano.video backend (auto, pyav, decord, ...)")
    videos_dir: str | None = Field(
        None,
        description="folder of the videos when the store's relative video paths do not resolve",
    )
    max_videos: int | None = Field(None, ge=1, description="use at most this many train videos")


class OptimConfig(PanoConfig):
    """Optimiser and schedule (supervised models and the DHP agent alike)."""

    steps: int = Field(2000, ge=0, description="parameter updates")
    batch_size: int = Field(64, ge=1, description="windows per update (supervised)")
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float = Field(1.0, gt=0, description="max gradient norm (DHP: 40)")
    scheduler: Literal["constant", "cosine"] = "cosine"
    warmup: int = Field(0, ge=0, description="linear warm-up updates")
    color_augment: bool = Field(
        True, description="content models: random RGB channel order and gain per window"
    )
    mirror: bool = Field(
        True,
        description="augment supervised windows by mirroring left/right (lon -> -lon) at random",
    )


class RLConfig(PanoConfig):
    """Actor-critic settings of the DHP agent (A3C's, run as one batch of environments)."""

    envs: int = Field(32, ge=1, description="environments stepped as one batch (all ranks)")
    rollout: int = Field(20, ge=1, description="env steps per update (DHP: 40)")
    gamma: float = Field(
        0.99,
        ge=0,
        le=1,
        description="discount (DHP: 0.99); 0 = each step's reward alone (a contextual bandit)",
    )
    gae_lambda: float = Field(1.0, ge=0, le=1)
    value_coef: float = Field(0.5, ge=0)
    speed_coef: float = Field(0.5, ge=0)
    entropy_coef: float = Field(0.01, ge=0)
    sigma_deg: float = Field(
        41.9, gt=0, description="reward Gaussians' sigma (position, direction)"
    )
    val_rollouts: int = Field(16, ge=1, description="stochastic rollouts per validation video")
    augment: bool = Field(
        False,
        description="per episode, show the agent its views under a random symmetry of the "
        "square (quarter turns, mirror) and map its actions back (DHP: no)",
    )
    color_augment: bool = Field(
        False,
        description="per episode, show the agent its (RGB) views in a random colour-channel "
        "order, so it cannot learn which colours its training videos' subjects followed "
        "(DHP: luma, no colour)",
    )
    normalize_advantage: bool = Field(
        False, description="scale each update's advantages to zero mean, unit std (DHP: no)"
    )
    policy_gradient: Literal["sampled", "all_actions"] = Field(
        "sampled",
        description="sampled: A3C's log pi(a_t) * advantage of the taken action (DHP); "
        "all_actions: the expected gradient over all 8 actions, whose immediate rewards "
        "are all known at each step (plus the sampled term for the future when gamma > 0)",
    )


class LogConfig(PanoConfig):
    """Validation, checkpoint and logging cadence."""

    val_every: int = Field(200, ge=1, description="updates between validations")
    checkpoint_every: int = Field(200, ge=1, description="updates between checkpoints")
    keep: int = Field(3, ge=1, description="checkpoints kept besides the best")
    select: Literal["best", "last"] = Field(
        "best", description="checkpoint used for predictions: best validation score or last"
    )


class PredictConfig(PanoConfig):
    """What ``--predict`` / ``pano predict-hm`` writes for the test split."""

    split: str = Field("test", description="store split to predict")
    rollouts: int = Field(58, ge=1, description="DHP stochastic rollouts per video")
    floor: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="DHP heatmaps: share of each map's mass spread uniformly over the sphere "
        "(0 = DHP's plain sum of rollout Gaussians)",
    )
    floor_prior: Literal["uniform", "latitude", "lonlat"] = Field(
        "uniform",
        description="DHP heatmaps: how the floor's mass is spread: uniformly over the sphere, "
        "by the latitude density of the TRAIN split's head samples (the equator-bias "
        "baseline's map, fitted the same way), or by their lon-lat density (lonlat)",
    )
    prior_sigma_deg: float | None = Field(
        None,
        gt=0,
        le=180,
        description="DHP heatmaps, floor_prior lonlat: the kernel (degrees) of each training "
        "head point (null = the store's heatmap sigma)",
    )
    kernel_deg: float | None = Field(
        None,
        gt=0,
        le=180,
        description="DHP heatmaps: great-circle Gaussian width (degrees) of each rollout "
        "point, a density-estimation bandwidth for the few rollouts (null = the store's "
        "heatmap sigma, DHP's); grid and normalisation stay the store's",
    )
    temperature: float = Field(
        1.0,
        gt=0,
        description="DHP rollouts of the predictions (not validation): the policy's logits are "
        "divided by it (< 1 sharper, > 1 broader; 1 = the policy as trained)",
    )
    sigma_deg: float | None = Field(
        None,
        gt=0,
        le=180,
        description="leave null: DHP heatmaps use the store's heatmap parameters (sigma set "
        "at ingest); a value must equal the store's heatmap.sigma_deg or the run is refused",
    )
    batch_size: int = Field(512, ge=1)

    def check_store_heatmap(self, store: HeatmapParams, where: str) -> None:
        """Refuse a ``sigma_deg`` unlike the store's (prediction heatmaps use the store's).

        Args:
            store: the store's heatmap parameters (root attribute ``heatmap``).
            where: the store's location, named in the error.

        Raises:
            ConfigError: ``sigma_deg`` is set and differs from ``store.sigma_deg``.

        """
        if self.sigma_deg is not None and self.sigma_deg != store.sigma_deg:
            raise ConfigError(
                f"{where}: predict.sigma_deg is {self.sigma_deg:g} but the store's heatmaps use "
                f"sigma_deg {store.sigma_deg:g}; prediction heatmaps are made with the store's "
                "heatmap parameters: drop predict.sigma_deg from the config (or ingest again "
                f"with --heatmap-sigma {self.sigma_deg:g})"
            )


class OnlineConfig(PanoConfig):
    """Online-DHP (``pano predict-hm --online``): per-subject adaptation of a DHP agent."""

    lr: float = Field(1e-3, gt=0, description="Adam learning rate of the online updates")
    iters: int = Field(1, ge=1, le=100, description="gradient steps per arriving true step")
    window: int = Field(
        1, ge=1, le=1000, description="recent steps of the subject replayed in each update"
    )
    max_subjects: int | None = Field(
        None, ge=1, description="score at most this many subjects per video (None = all)"
    )


class TrainConfig(PanoConfig):
    """Everything ``pano train-hm`` needs besides the store path and run name."""

    model: ModelConfig = Field(default_factory=lambda: Seq2SeqModel.model_validate({}))
    data: DataConfig = Field(default_factory=lambda: DataConfig.model_validate({}))
    optim: OptimConfig = Field(default_factory=lambda: OptimConfig.model_validate({}))
    rl: RLConfig = Field(default_factory=lambda: RLConfig.model_validate({}))
    log: LogConfig = Field(default_factory=lambda: LogConfig.model_validate({}))
    predict: PredictConfig = Field(default_factory=lambda: PredictConfig.model_validate({}))
    online: OnlineConfig = Field(default_factory=lambda: OnlineConfig.model_validate({}))
    seed: int = Field(0, ge=0)
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    threads: int = Field(0, ge=0, description="torch CPU threads per process (0 = torch's default)")

    @model_validator(mode="after")
    def _content_fits_horizon(self) -> TrainConfig:
        m = self.model
        if self.data.folds > 1:
            if not isinstance(m, DHPModel):
                raise ConfigError(
                    f"data.folds {self.data.folds} trains one DHP agent per fold; "
                    f"model.kind {m.kind!r} trains one model: set data.folds to 1"
                )
            if self.data.val_fold is not None or self.data.val_videos < 1:
                raise ConfigError(
                    f"data.folds {self.data.folds} sets each agent's data.val_fold itself and "
                    "needs data.val_videos >= 1: drop data.val_fold (or set data.folds to 1)"
                )
        if isinstance(m, ContentModel) and m.content_steps[-1] > self.data.horizon:
            raise ConfigError(
                f"model.content_steps {m.content_steps} go beyond data.horizon {self.data.horizon}"
            )
        return self
