"""The store's schema: pydantic models of the root and per-video attributes.

A pano store is a Zarr format 3 hierarchy (see ``docs/store.md``). Its *attributes* are
JSON; these models define and validate them. Writers build a model and store
``model.to_attrs()``; readers call ``Model.from_attrs(group.attrs)`` and get a clear
:class:`pano.errors.StoreError` when a store does not match.

Bump :data:`SCHEMA_VERSION` whenever a name, a dimension or a meaning changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pano.em.params import EmParams
from pano.errors import StoreError

# The root attribute ``heatmap`` is core's value type, re-exported here with the layout.
from pano.heatmap_params import HeatmapParams as HeatmapParams

#: Version of the store layout written by this pano (root attr ``pano_schema_version``).
SCHEMA_VERSION = 2
# History: 1 = PVS-HM layout (every video group has a video file and a common sample
# clock); 2 = adds trace groups (``layout: traces``: per-subject timestamps ``time
# (subject, sample)``, an optional video file, steps on a time basis) and the root
# ``repairs``. Version-1 stores read unchanged.

#: Per-group attribute set to ``True`` only after every array of the group is written.
COMPLETE_ATTR = "pano_complete"

#: Name of the group holding one sub-group per video (``videos/<video>``).
VIDEOS_GROUP = "videos"

#: Name of the group holding one sub-group per prediction run (``predictions/<run>/<video>``).
PREDICTIONS_GROUP = "predictions"

#: Name of the group holding one group per evaluation (``results/<run>``, by ``pano eval``).
RESULTS_GROUP = "results"

#: Attribute of a ``predictions/<run>/<video>`` group: SHA-256 of its arrays' content
#: (:func:`pano.stores.predictions.arrays_sha256`), recorded when the group is written.
CONTENT_HASH_ATTR = "content_sha256"

#: Attribute of a ``results/<run>`` group: what each scored prediction run was when it was
#: scored (:func:`pano.stores.predictions.prediction_identity`), per run name.
SCORED_PREDICTIONS_ATTR = "scored_predictions"

#: Per-group attribute: sorted names of the arrays the group's writer wrote
#: (:func:`pano.stores.writer.write_group`); a group is complete only if each is present.
ARRAYS_ATTR = "pano_arrays"

#: Arrays every video group holds (what ``stores/ground_truth.py`` always writes).
VIDEO_ARRAYS: tuple[str, ...] = (
    "subject", "time", "step", "step_time", "step_frame", "step_sample", "lat", "lon",
    "rs_time", "hm_lat", "hm_lon", "hm_xyz", "hm_valid", "hm_rs_xyz", "nan_count", "heatmap",
    "scanpath",
)  # fmt: skip
#: Arrays a video group holds in addition when it has eye movements (``has_em``).
VIDEO_EM_ARRAYS: tuple[str, ...] = (
    "em_time", "em_lat", "em_lon", "em_xyz", "em_valid", "em_nan_count",
)  # fmt: skip


def required_arrays(attrs: Mapping[str, Any], video: bool = False) -> tuple[str, ...]:
    """The arrays a group must hold to be complete.

    A group written by :func:`pano.stores.writer.write_group` lists them itself
    (:data:`ARRAYS_ATTR`). A video group without that list (written by an older pano)
    must hold :data:`VIDEO_ARRAYS`, and :data:`VIDEO_EM_ARRAYS` when ``has_em`` is true;
    other groups without it require nothing.
    """
    listed = attrs.get(ARRAYS_ATTR)
    if isinstance(listed, list | tuple) and all(isinstance(a, str) for a in listed):
        return tuple(listed)
    if not video:
        return ()
    return VIDEO_ARRAYS + (VIDEO_EM_ARRAYS if attrs.get("has_em") is True else ())


#: Statement of PVS-HM's source convention (how the ``.mat`` columns are read).
PVS_HM_SOURCE_CONVENTION: dict[str, str] = {
    "name": "PVS-HM FULLdata_per_video_frame.mat",
    "angles": "lat, lon in degrees; up and left positive; origin front centre",
    "columns": "column order lat then lon per subject: column 2k = lat, 2k+1 = lon of subject k",
    "rows": "one row per HM sample; samples_per_frame = n_samples / n_frames (DHP)",
    "missing": "NaN entries are kept in hm_lat/hm_lon and masked by hm_valid",
}

#: A video's split; "unused" = in no split (e.g. the 4 David MMSys'18 videos TRACK leaves out).
Split = Literal["train", "val", "test", "unused"]


class _Model(BaseModel):
    """Strict base: unknown keys are errors (parameters must be spelled right)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    def to_attrs(self) -> dict[str, Any]:
        """JSON-ready ``dict`` for Zarr attributes."""
        return self.model_dump(mode="json")


class _OpenModel(_Model):
    """Base of attribute sets other writers may extend: unknown keys are kept."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any], where: str = "store") -> Self:
        """Validate attributes read from a group, as a :class:`StoreError` on mismatch."""
        try:
            return cls.model_validate(dict(attrs))
        except ValidationError as err:
            from pano.config import format_validation_error

            raise StoreError(format_validation_error(err, f"{where} attributes")) from err


class ResampleParams(_Model):
    """The fixed-rate resampled HM grid (``hm_rs_xyz``)."""

    rate_hz: float = Field(default=5.0, gt=0, le=1000, description="rate of rs_time, Hz")


class Conventions(_Model):
    """Angle conventions: pano's canonical frame and the source data's convention."""

    canonical_frame: dict[str, str]
    source: dict[str, str]


class SourceFile(_Model):
    """One input file of an ingest, with its checksum."""

    role: str = Field(description="'hm', 'em', 'videos', 'video:<name>', ...")
    path: str
    sha256: str | None = None
    bytes: int | None = None


class Provenance(_Model):
    """Where the data came from and how it was made."""

    sources: list[SourceFile] = Field(default_factory=list)
    pano_version: str
    created: str = Field(description="ISO 8601 UTC time of the last ingest run")
    parameters: dict[str, Any] = Field(default_factory=dict)


class Splits(_Model):
    """Video names per split (complete videos only)."""

    train: list[str] = Field(default_factory=list)
    val: list[str] = Field(default_factory=list)
    test: list[str] = Field(default_factory=list)

    def split_of(self, name: str) -> Split | None:
        """The split a video belongs to, or None."""
        s: Split
        for s in ("test", "val", "train"):
            if name in getattr(self, s):
                return s
        return None


class RootAttrs(_OpenModel):
    """Attributes of the store's root group."""

    pano_schema_version: int = SCHEMA_VERSION
    dataset: str = Field(description="'pvs-hm', 'synthetic-pvs-hm', ...")
    conventions: Conventions
    subjects: list[str] = Field(
        default_factory=list, description="subject ids; subject coord k -> subjects[k]"
    )
    splits: Splits = Field(default_factory=Splits)
    heatmap: HeatmapParams = Field(default_factory=lambda: HeatmapParams())
    resample: ResampleParams = Field(default_factory=lambda: ResampleParams())
    provenance: Provenance
    videos: list[str] = Field(default_factory=list, description="complete video groups, sorted")
    repairs: list[dict[str, Any]] = Field(
        default_factory=list,
        description="every change the reader made to the source data "
        "(pano.stores.traces.Repair: kind, detail, video, subject)",
    )

    @field_validator("pano_schema_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v > SCHEMA_VERSION:
            raise StoreError(
                f"store schema version {v} is newer than this pano understands ({SCHEMA_VERSION}); "
                "upgrade pano"
            )
        return v


class VideoSource(_Model):
    """The video file of one video group, as probed at ingest."""

    path: str = Field(description="file path relative to the --videos folder")
    sha256: str
    fingerprint: str | None = Field(
        default=None,
        description="'<bytes>:<sha256 of the first and last MiB>' (pano.probe.file_fingerprint);"
        " checked whenever the video is opened (absent in stores of older pano versions)",
    )
    fps: float = Field(gt=0)
    n_frames: int = Field(gt=0)
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    codec: str
    duration_s: float = Field(ge=0)


class VideoAttrs(_OpenModel):
    """Attributes of one ``videos/<name>`` group.

    ``layout`` says how the raw samples are stored: ``"frames"`` (PVS-HM ``.mat``: one
    sample clock ``time (time,)`` shared by the subjects, steps on the video's frames) or
    ``"traces"`` (a data set of timestamped traces: ``time (subject, sample)`` NaN-padded,
    steps every ``step_frames / fps`` seconds). ``video`` is None for a group ingested
    without its video file; then ``fps``/``n_frames``/``duration_s`` say what is known
    (``fps_source``: ``"video"``, ``"dataset"`` or ``"nominal"``).
    """

    video: VideoSource | None
    layout: Literal["frames", "traces"] = "frames"
    source_variable: str = Field(
        description="name of the .mat variable (frames) or the source's video name (traces)"
    )
    source_name: str | None = Field(
        default=None,
        description="the source's name of the video when it breaks the name rule and the "
        "group has a mapped name (pano.stores.names.safe_name); else None",
    )
    split: Split
    samples_per_frame: float | None = Field(
        default=None, gt=0, description="n_samples / n_frames (DHP; frames layout only)"
    )
    fps: float | None = Field(default=None, gt=0, description="frame rate (traces layout)")
    n_frames: int | None = Field(default=None, ge=1, description="frames (traces layout)")
    duration_s: float | None = Field(default=None, gt=0, description="seconds (traces layout)")
    fps_source: Literal["video", "dataset", "nominal"] | None = None
    subject_ids: list[str] | None = Field(
        default=None, description="the source's id of each subject coordinate (traces)"
    )
    n_subjects: int = Field(ge=1)
    n_samples: int = Field(
        ge=1, description="raw HM samples per subject (traces: the longest subject's)"
    )
    n_nan_samples: int = Field(ge=0, description="(subject, sample) pairs with a NaN lat or lon")
    n_steps: int = Field(ge=1, description="ground-truth steps (length of step)")
    has_em: bool = False
    em_samples_per_frame: float | None = None
    n_em_samples: int | None = None
    n_em_nan_samples: int | None = None
    pano_complete: bool = False

    @field_validator("samples_per_frame")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise StoreError("samples_per_frame must be finite")
        return v

    def frame_rate(self) -> float:
        """Frames per second: the video file's, else the data set's (or nominal) rate."""
        if self.video is not None:
            return float(self.video.fps)
        if self.fps is None:
            raise StoreError("video group has neither a video file nor an fps attribute")
        return float(self.fps)

    def frame_count(self) -> int:
        """Frames of the video: the file's, else those of ``duration_s`` at ``fps``."""
        if self.video is not None:
            return int(self.video.n_frames)
        if self.n_frames is None:
            raise StoreError("video group has neither a video file nor an n_frames attribute")
        return int(self.n_frames)

    def require_video(self, location: object, name: str, what: str) -> VideoSource:
        """The video file's attributes; refuse a group ingested from traces alone.

        Raises:
            NoVideoError: one line naming the store, the video and ``what`` needs it.

        """
        if self.video is None:
            from pano.errors import NoVideoError

            raise NoVideoError(
                f"{location}: video {name!r} has no video file (the store holds traces only); "
                f"{what} needs a store ingested with --videos"
            )
        return self.video


class EmGroupAttrs(_OpenModel):
    """Attributes of a ``videos/<video>/em`` group (``pano em detect``; ``docs/em.md``)."""

    em_params: EmParams
    eye_heatmap: HeatmapParams
    gaze_source: str = Field(default="em_xyz", description="the video's gaze array detected on")
    time_source: str = Field(default="em_time", description="the video's sample times used")
    eye_sigma_deg: float = Field(gt=0, le=180, description="sigma of eye_heatmap, degrees")
    n_subjects: int
    n_fixations: int
    pano_version: str
    created: str
    pano_complete: bool = False


def check_params_match(
    stored: RootAttrs, heatmap: HeatmapParams, resample: ResampleParams, dataset: str
) -> list[str]:
    """Names of ingest parameters that differ from those a store was built with."""
    diff = []
    for key, val in heatmap.model_dump().items():
        if getattr(stored.heatmap, key) != val:
            diff.append(f"heatmap.{key} (store {getattr(stored.heatmap, key)!r}, now {val!r})")
    if stored.resample.rate_hz != resample.rate_hz:
        diff.append(
            f"resample.rate_hz (store {stored.resample.rate_hz!r}, now {resample.rate_hz!r})"
        )
    if stored.dataset != dataset:
        diff.append(f"dataset (store {stored.dataset!r}, now {dataset!r})")
    return diff
