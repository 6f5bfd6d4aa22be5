"""The typed configuration of ``pano train-gaze`` (one YAML file, ``--set key=value`` overrides).

Defaults are DGE-GM's MPIIFaceGaze settings (AdamW, lr 1e-5, batch 80, 100 epochs); the
example files are ``pipelines/configs/gaze_grm.yaml`` (DGE-GM's Swin-B model),
``gaze_demo.yaml`` (a small CNN that trains on a CPU in minutes) and ``gaze_tiny.yaml``
(the test suite's). See ``docs/gaze.md``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pano.config import PanoConfig
from pano.errors import ConfigError
from pano.models.gaze_augment import GazeAugmentConfig
from pano.models.gaze_grm import GazeModelConfig
from pano.models.gaze_loss import GazeLossConfig


class GazeOptimConfig(PanoConfig):
    """Optimiser and schedule (one update = one minibatch of face crops)."""

    optimizer: Literal["adamw", "adam"] = Field(
        "adamw", description="adamw (DGE-GM on MPIIFaceGaze) or adam (DGE-GM on Gaze360)"
    )
    lr: float = Field(1e-5, gt=0, description="learning rate (DGE-GM: 1e-5 MPII, 1e-4 Gaze360)")
    weight_decay: float = Field(0.01, ge=0, description="AdamW decoupled weight decay")
    batch_size: int = Field(80, ge=1, description="face crops per update (all ranks)")
    epochs: int = Field(100, ge=1, description="passes over the training persons' samples")
    scheduler: Literal["constant", "cosine"] = Field(
        "constant", description="constant lr, or cosine decay to 5% over the epochs"
    )
    warmup_epochs: int = Field(0, ge=0, description="linear lr warm-up, in epochs")
    grad_clip: float = Field(0.0, ge=0, description="max gradient norm (0 = no clipping)")
    refit: bool = Field(
        False,
        description="LOPO: after the validation persons choose the epoch, retrain from the "
        "same initial weights on training + validation persons for that many epochs and "
        "predict the test person with that model (needs log.select: best)",
    )
    person_batches: bool = Field(
        False,
        description="every minibatch holds one training person's faces (each person's "
        "shuffled faces split into near-equal batches of at most batch_size, the batches in "
        "a random order), so BatchNorm normalises each person by that person's own "
        "statistics in training as predict_person_bn does when predicting",
    )
    amp: bool = Field(True, description="mixed precision (float16 autocast) on CUDA; off on CPU")


class GazeDataConfig(PanoConfig):
    """Which samples train, validate and test, and how face crops are read."""

    val_persons: int = Field(
        1,
        ge=1,
        description="LOPO: training persons drawn (seeded) as the validation set that picks "
        "the checkpoint; never the test person",
    )
    cache_mb: int = Field(
        2048,
        ge=0,
        description="a fold's faces are held in memory when they fit in this many MiB; "
        "otherwise they are streamed from the store chunk by chunk",
    )
    buffer_chunks: int = Field(
        8, ge=1, description="store chunks per shuffle buffer when streaming"
    )


class GazeLogConfig(PanoConfig):
    """Validation, checkpointing and selection."""

    select: Literal["best", "last"] = Field(
        "best",
        description="checkpoint that predicts the test fold: best validation error, or last",
    )
    keep: int = Field(2, ge=1, description="checkpoints kept besides the best")
    average_epochs: int = Field(
        0,
        ge=0,
        description="weight averaging (SWA): a model whose weights are the mean of the last "
        "N epochs' end-of-epoch weights, its BatchNorm statistics recomputed on the training "
        "faces (unaugmented), is scored on the validation persons like an epoch checkpoint; "
        "with select: best it predicts the test persons when its validation error is the "
        "lowest, with select: last it always does; 0 = off",
    )


class GazeTrainConfig(PanoConfig):
    """Everything ``pano train-gaze`` needs besides the store, data set and folds."""

    model: GazeModelConfig = Field(default_factory=lambda: GazeModelConfig.model_validate({}))
    loss: GazeLossConfig = Field(default_factory=lambda: GazeLossConfig.model_validate({}))
    augment: GazeAugmentConfig = Field(default_factory=lambda: GazeAugmentConfig.model_validate({}))
    optim: GazeOptimConfig = Field(default_factory=lambda: GazeOptimConfig.model_validate({}))
    data: GazeDataConfig = Field(default_factory=lambda: GazeDataConfig.model_validate({}))
    log: GazeLogConfig = Field(default_factory=lambda: GazeLogConfig.model_validate({}))
    seed: int = Field(0, ge=0, description="seeds the validation draw, init and minibatches")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    threads: int = Field(
        0, ge=0, description="torch CPU threads per fold (0 = the CPUs divided among workers)"
    )
    predict_batch: int = Field(256, ge=1, description="faces per forward pass when predicting")
    predict_hflip: bool = Field(
        False,
        description="test-time augmentation: every validation and test prediction is the "
        "mean (in vector space) of the model's gaze for the face and for its mirror image "
        "(face flipped left-right; with eye crops, the crops swapped and each flipped), "
        "the mirror's gaze x negated back; costs a second forward pass",
    )

    ensemble: int = Field(
        1,
        ge=1,
        description="members per fold (a seed ensemble): member k trains the fold with seed "
        "+ k (its own validation draw, initial weights and minibatches) and chooses its own "
        "checkpoint on its own validation person(s); the fold predicts the normalised sum "
        "of the members' gaze vectors; costs k trainings per fold",
    )
    predict_person_bn: bool = Field(
        False,
        description="person-wise BatchNorm (AdaBN) when predicting: before a person's "
        "validation or test faces are predicted, every BatchNorm's statistics are set to "
        "those of that person's own faces (one ordered pass, unaugmented; no labels), so a "
        "person's appearance offset is normalised away; needs the person's faces together",
    )

    @model_validator(mode="after")
    def _refit_needs_best(self) -> GazeTrainConfig:
        if self.optim.refit and self.log.select != "best":
            raise ConfigError(
                f"optim.refit: true needs log.select: best (got {self.log.select!r}): the refit "
                "trains for the epoch the validation persons chose; set log.select: best or "
                "optim.refit: false"
            )
        return self

    @model_validator(mode="after")
    def _average_fits(self) -> GazeTrainConfig:
        n, e = self.log.average_epochs, self.optim.epochs
        if n > e:
            raise ConfigError(
                f"log.average_epochs: {n} is more than optim.epochs: {e}: the average is over "
                "the last N epochs; set log.average_epochs <= optim.epochs (0 = off)"
            )
        if n and self.optim.refit:
            raise ConfigError(
                "log.average_epochs > 0 with optim.refit: true: the refit retrains for the "
                "chosen epoch, which an average over epochs does not have; use one of them"
            )
        return self


#: Config keys that may differ when a fold is resumed (``--resume``): how long to train,
#: where and how it runs, how faces are read. Everything else must equal the checkpoint's.
GAZE_RESUME_MAY_CHANGE: tuple[str, ...] = (
    "optim.epochs", "log", "device", "threads", "data.cache_mb", "data.buffer_chunks",
    "predict_batch",
)  # fmt: skip

__all__ = [
    "GAZE_RESUME_MAY_CHANGE",
    "GazeDataConfig",
    "GazeLogConfig",
    "GazeOptimConfig",
    "GazeTrainConfig",
]
