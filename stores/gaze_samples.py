"""An appearance-based gaze data set as read from its files, before it becomes a store.

Gaze readers (``stores/gazehub.py`` for GazeHub's processed label files,
``stores/mpiifacegaze_raw.py`` for the original MPIIFaceGaze after pano's own data
normalisation) return :class:`GazeSamples`: face crops, the gaze as **float64 unit
vectors in the normalised camera frame** and the source's own angle pair exactly as
the source gives it, with its order, units and frame stated in a
:class:`GazeConvention`. The store writer (``stores/gaze.py``) never sees a reader's
raw rows, only checked :class:`GazeSamples`.

Frames: every vector here is in **GazeHub camera axes** of the (normalised) camera:
``x`` right, ``y`` down, ``z`` forward (out of the lens); a face looking into the
camera has gaze ``(0, 0, -1)`` (:func:`pano.geometry.gazehub_to_camvec`). Conversions go
through unit vectors (``pano.geometry.gazehub_to_camvec`` / ``camvec_to_gazehub``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

import numpy as np

from pano.errors import InputDataError

#: How far from unit length a stored gaze or head vector may be.
UNIT_TOLERANCE = 1e-6

#: Name of the store group that holds one sub-group per gaze data set (``gaze/<dataset>``).
GAZE_GROUP = "gaze"

#: The camera frame every :class:`GazeSamples` vector is expressed in.
GAZE_CAMERA_FRAME = (
    "normalised camera, GazeHub axes: x right, y down, z forward (out of the lens); "
    "gaze (0, 0, -1) looks into the camera"
)

ProtocolKind = Literal["lopo", "split"]


@dataclass(frozen=True)
class GazeConvention:
    """How a gaze data set states its labels, in its own terms (stored in the data set's attrs).

    Every field is a sentence, ``"unknown"`` where the source does not document it.
    """

    dataset: str  # 'mpiifacegaze', 'gaze360', 'eyediap', 'mpiifacegaze-raw'
    source_format: str  # e.g. "GazeHub label file, 12 space-separated columns"
    angle_order: str  # e.g. "[yaw, pitch]" - the order of the stored source pair
    units: str  # e.g. "radians"
    frame: str  # the camera frame the source angles refer to
    normalisation: str  # who normalised the images and with which parameters
    mirroring: str  # e.g. "right-eye samples are mirrored images with gaze x negated"
    notes: str = ""

    def to_attrs(self) -> dict[str, str]:
        """JSON-ready ``dict`` for the data set group's ``conventions`` attribute."""
        return {k: v for k, v in asdict(self).items() if v != ""}


@dataclass(frozen=True)
class GazeProtocol:
    """The evaluation protocol of a data set, stored as data (the ``protocol`` attribute).

    ``kind="lopo"``: leave-one-person-out; ``folds`` lists the subject ids, one test fold
    each. ``kind="split"``: the per-sample ``split`` array (``train``/``val``/``test``)
    decides; ``folds`` is empty.
    """

    kind: ProtocolKind
    folds: tuple[str, ...] = ()
    description: str = ""

    def to_attrs(self) -> dict[str, object]:
        """JSON-ready ``dict`` for the store."""
        return {"kind": self.kind, "folds": list(self.folds), "description": self.description}


@dataclass(frozen=True)
class GazeSamples:
    """``N`` gaze samples, arrays aligned on the first axis.

    Attributes:
        face: ``uint8 (N, H, W, 3)`` RGB face crops of the normalised camera (GazeHub:
            224 x 224).
        gaze_xyz: ``float64 (N, 3)`` unit gaze vectors, :data:`GAZE_CAMERA_FRAME`.
        gaze_angles: ``float64 (N, 2)`` the source's angle pair exactly as stored by the
            source (order and units in :class:`GazeConvention`; GazeHub: ``[yaw, pitch]``
            radians).
        subject: ``str (N,)`` person ids (``p00``..``p14`` for MPIIFaceGaze).
        source: ``str (N,)`` where each sample came from (image path relative to the
            data set root), unique per sample.
        mirrored: ``bool (N,)`` the image was mirrored by the source (GazeHub's right-eye
            MPIIFaceGaze samples) - labels are already those of the mirrored image.
        left, right: ``uint8 (N, h, w, 3)`` eye crops where the source gives them.
        head_xyz: ``float64 (N, 3)`` unit head direction (the face's frontal axis, pointing
            out of the face), same frame; None where the source has no head pose.
        head_angles: ``float64 (N, 2)`` the source's head angle pair as stored.
        split: ``str (N,)`` ``train``/``val``/``test`` for split protocols, else None.
        rmat, smat: ``float64 (N, 3, 3)`` the normalisation rotation and scaling where
            known (camera -> normalised camera).
        gaze_origin: ``float64 (N, 3)`` origin of the gaze ray in the ORIGINAL camera
            frame, millimetres, where known.
    """

    face: np.ndarray
    gaze_xyz: np.ndarray
    gaze_angles: np.ndarray
    subject: np.ndarray
    source: np.ndarray
    mirrored: np.ndarray
    left: np.ndarray | None = None
    right: np.ndarray | None = None
    head_xyz: np.ndarray | None = None
    head_angles: np.ndarray | None = None
    split: np.ndarray | None = None
    rmat: np.ndarray | None = None
    smat: np.ndarray | None = None
    gaze_origin: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.gaze_xyz.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays that are present, by field name."""
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}

    def check(self, where: str) -> GazeSamples:
        """Validate shapes, dtypes, unit length and finiteness; return ``self``.

        Raises :class:`pano.errors.InputDataError` naming ``where`` (the file being read)
        and the field at fault.
        """
        n = len(self)
        for name, arr in self.arrays().items():
            if arr.shape[0] != n:
                raise InputDataError(f"{where}: field {name} has {arr.shape[0]} rows, expected {n}")
        if self.face.dtype != np.uint8 or self.face.ndim != 4 or self.face.shape[-1] != 3:
            raise InputDataError(
                f"{where}: face must be uint8 (N, H, W, 3), got {self.face.dtype} {self.face.shape}"
            )
        for name in ("gaze_xyz", "head_xyz"):
            v = getattr(self, name)
            if v is None:
                continue
            if v.ndim != 2 or v.shape[1] != 3 or not np.isfinite(v).all():
                raise InputDataError(f"{where}: {name} must be finite (N, 3) vectors")
            bad = np.abs(np.linalg.norm(v, axis=1) - 1.0) > UNIT_TOLERANCE
            if bad.any():
                raise InputDataError(
                    f"{where}: {name} row {int(np.argmax(bad))} is not a unit vector"
                )
        for name in ("gaze_angles", "head_angles"):
            a = getattr(self, name)
            if a is not None and (a.ndim != 2 or a.shape[1] != 2 or not np.isfinite(a).all()):
                raise InputDataError(f"{where}: {name} must be a finite (N, 2) angle pair")
        if len(set(self.source.tolist())) != n:
            raise InputDataError(
                f"{where}: field source repeats a sample path; each sample must be unique"
            )
        return self

    @staticmethod
    def concat(parts: list[GazeSamples]) -> GazeSamples:
        """Samples of ``parts`` in order; optional fields must be present in all or none."""
        if not parts:
            raise InputDataError("no gaze samples to concatenate")
        first = parts[0]
        out: dict[str, Any] = {}
        for f in fields(first):
            vals = [getattr(p, f.name) for p in parts]
            if all(v is None for v in vals):
                out[f.name] = None
            elif any(v is None for v in vals):
                raise InputDataError(f"field {f.name} is present in some gaze sample batches only")
            else:
                out[f.name] = np.concatenate(vals, axis=0)
        return replace(first, **out)
