"""The spec of a lab's own head/eye recording (``pano ingest traces --spec SPEC.yaml``).

A spec is a pydantic model loaded from YAML (unknown keys are errors). It names, for a
CSV/TSV file with a header line:

* ``time``: the column and its unit (``s``, ``ms``, ``us``, ``ns``) and its origin
  (``video``: already seconds from the video start; ``first_sample``: each trace is
  shifted to start at 0);
* ``video`` and ``subject``: a column each, or a constant ``value``;
* ``head``: EITHER ``euler`` (yaw/pitch[/roll] columns, their unit, which way each is
  positive, the order they apply in, and the pano longitude yaw 0 looks at) OR
  ``quaternion`` (w/x/y/z columns, the frame's handedness, what each world axis means
  - ``forward`` is the equirectangular front centre - and which head axes are the
  viewing direction and up);
* ``eye`` (optional): eye-in-head direction vectors (``left``, ``right`` and/or ``mean``
  x/y/z columns), what their axes mean in the head frame, and which one to use. Blinks are
  rows with empty/NaN eye columns.

Axis words: ``forward``, ``back``, ``left``, ``right``, ``up``, ``down``. Example (a
Unity-style log; see ``docs`` and ``tests/test_traces_format.py``)::

    time: {column: t_ms, unit: ms}
    video: {value: clip01}
    subject: {column: participant}
    head:
      quaternion:
        columns: {w: qw, x: qx, y: qy, z: qz}
        handedness: left
        world_axes: {x: right, y: up, z: forward}
        head_forward: "+z"
        head_up: "+y"
    eye:
      mean: {x: gx, y: gy, z: gz}
      axes: {x: right, y: up, z: forward}
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import ValidationError, model_validator

from pano.config import PanoConfig, format_validation_error, read_yaml
from pano.errors import ConfigError

AxisWord = Literal["forward", "back", "left", "right", "up", "down"]
SignedAxis = Literal["+x", "-x", "+y", "-y", "+z", "-z"]
Angle = Literal["yaw", "pitch", "roll"]

#: pano vector of each axis word (world: forward = ERP front centre; head: viewing direction).
WORDS: dict[str, tuple[float, float, float]] = {
    "forward": (1.0, 0.0, 0.0),
    "back": (-1.0, 0.0, 0.0),
    "left": (0.0, 1.0, 0.0),
    "right": (0.0, -1.0, 0.0),
    "up": (0.0, 0.0, 1.0),
    "down": (0.0, 0.0, -1.0),
}


class ColumnOrValue(PanoConfig):
    """A column of the file, or one constant ``value`` for every row."""

    column: str | None = None
    value: str | None = None

    @model_validator(mode="after")
    def _one(self) -> ColumnOrValue:
        if (self.column is None) == (self.value is None):
            raise ConfigError("give exactly one of 'column' or 'value'")
        return self


class TimeSpec(PanoConfig):
    """The time column: its unit and whether it is already video time."""

    column: str
    unit: Literal["s", "ms", "us", "ns"] = "s"
    origin: Literal["video", "first_sample"] = "video"


class Axes(PanoConfig):
    """What the source's ``x``, ``y``, ``z`` axes point at (three different directions)."""

    x: AxisWord
    y: AxisWord
    z: AxisWord

    @model_validator(mode="after")
    def _independent(self) -> Axes:
        if abs(np.linalg.det(self.matrix())) < 0.5:
            raise ConfigError(
                f"x, y, z must point along three different directions (got {self.x}, "
                f"{self.y}, {self.z}); use one of forward/back, one of left/right, one of up/down"
            )
        return self

    def matrix(self) -> np.ndarray:
        """``(3, 3)``: columns = pano vectors of the source's x, y, z axes (pano = M @ src)."""
        return np.array([WORDS[self.x], WORDS[self.y], WORDS[self.z]], dtype=np.float64).T


class Columns3(PanoConfig):
    """Three columns holding a vector's x, y, z."""

    x: str
    y: str
    z: str


class QuaternionColumns(PanoConfig):
    """The four columns of a quaternion (any order in the file; named here)."""

    w: str
    x: str
    y: str
    z: str


class EulerSpec(PanoConfig):
    """Head orientation as yaw/pitch[/roll] columns.

    The angles are converted to pano's (yaw LEFT positive, pitch UP positive, roll
    positive towards the right shoulder) by the stated signs, then composed as intrinsic
    rotations in ``order`` (``R = R_first R_second R_third``; pano's own order is yaw,
    pitch, roll) after turning yaw 0 to ``yaw_zero_lon`` (pano longitude, degrees).
    """

    yaw: str
    pitch: str
    roll: str | None = None
    units: Literal["deg", "rad"] = "deg"
    order: tuple[Angle, Angle, Angle] = ("yaw", "pitch", "roll")
    yaw_positive: Literal["left", "right"] = "left"
    pitch_positive: Literal["up", "down"] = "up"
    roll_positive: Literal["right", "left"] = "right"
    yaw_zero_lon: float = 0.0

    @model_validator(mode="after")
    def _order(self) -> EulerSpec:
        if sorted(self.order) != ["pitch", "roll", "yaw"]:
            raise ConfigError(f"order must name yaw, pitch and roll once each (got {self.order})")
        return self


class QuaternionSpec(PanoConfig):
    """Head orientation as a quaternion in the source's world frame.

    ``handedness`` is checked against ``world_axes`` (a mismatch is a spec error).
    ``head_forward``/``head_up`` are the head's viewing and up axes at the identity
    rotation, in the source's coordinates (Unity: ``+z``, ``+y``; OpenGL: ``-z``, ``+y``).
    """

    columns: QuaternionColumns
    handedness: Literal["right", "left"]
    world_axes: Axes
    head_forward: SignedAxis = "+z"
    head_up: SignedAxis = "+y"
    unit_tolerance: float = 1e-3

    @model_validator(mode="after")
    def _consistent(self) -> QuaternionSpec:
        det = np.linalg.det(self.world_axes.matrix())
        if (det > 0) != (self.handedness == "right"):
            other = "left" if det < 0 else "right"
            raise ConfigError(
                f"world_axes {self.world_axes.x}/{self.world_axes.y}/{self.world_axes.z} "
                f"make a {other}-handed frame, but handedness is {self.handedness!r}"
            )
        if self.head_forward[1] == self.head_up[1]:
            raise ConfigError(f"head_forward {self.head_forward} and head_up {self.head_up} "
                             "must be different axes")  # fmt: skip
        return self


class HeadSpec(PanoConfig):
    """The head orientation: ``euler`` or ``quaternion`` (exactly one)."""

    euler: EulerSpec | None = None
    quaternion: QuaternionSpec | None = None

    @model_validator(mode="after")
    def _one(self) -> HeadSpec:
        if (self.euler is None) == (self.quaternion is None):
            raise ConfigError("give exactly one of 'euler' or 'quaternion'")
        return self


class EyeSpec(PanoConfig):
    """Eye-in-head direction vectors (head frame) and which to use.

    ``use``: ``auto`` = ``mean`` if given, else the normalised average of the eyes given
    (one eye where the other is missing).
    """

    left: Columns3 | None = None
    right: Columns3 | None = None
    mean: Columns3 | None = None
    axes: Axes = Axes(x="forward", y="left", z="up")
    use: Literal["auto", "mean", "left", "right", "average"] = "auto"

    @model_validator(mode="after")
    def _some(self) -> EyeSpec:
        given = {k for k in ("left", "right", "mean") if getattr(self, k) is not None}
        if not given:
            raise ConfigError("give at least one of 'left', 'right', 'mean'")
        if self.use in ("mean", "left", "right") and self.use not in given:
            raise ConfigError(f"use is {self.use!r} but no {self.use!r} columns are given")
        if self.use == "average" and not ({"left", "right"} <= given):
            raise ConfigError("use 'average' needs both 'left' and 'right' columns")
        return self


class TracesSpec(PanoConfig):
    """How to read one lab's CSV/TSV head (and eye) recordings."""

    time: TimeSpec
    video: ColumnOrValue
    subject: ColumnOrValue
    head: HeadSpec
    eye: EyeSpec | None = None
    delimiter: str | None = None  # None: tab for .tsv files, else comma
    dataset: str = "traces"
    notes: str = ""


def load_spec(path: str | Path) -> TracesSpec:
    """Load a :class:`TracesSpec` from YAML.

    Raises:
        ConfigError: missing file, bad YAML, unknown field or bad value (one line naming
            the spec file and the field).

    """
    data = read_yaml(path)
    try:
        return TracesSpec.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, f"{path} (traces spec)")) from err
