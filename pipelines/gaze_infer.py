"""``pano gaze-infer``: gaze arrows and a per-face CSV for an image or a video.

Steps per frame: OpenCV's Haar cascade finds faces (its XML ships inside the
``opencv-python-headless`` wheel, ``cv2.data.haarcascades``: nothing is downloaded); each face
is normalised with :mod:`pano.gaze.normalize` (the virtual camera of the model's training
data); the trained model (a ``pano train-gaze`` checkpoint) predicts yaw/pitch; the gaze is
rotated back into the original camera, drawn as an arrow, and written to a CSV.

**Assumptions, because a face box is all the detector gives** (no landmarks, no head pose):

- camera intrinsics: focal length ``focal_px`` (default: the image width in pixels, i.e. a
  horizontal field of view of 2 atan(1/2) = 53.1 degrees), principal point at the image
  centre, no lens distortion;
- face centre: the centre of the detected box, at the depth where a face ``face_width_mm``
  wide (default 150 mm) spans the box width: ``Z = focal_px * face_width_mm / box_width``;
- head rotation ``R_head = I``: the face is upright (its eye line parallel to the image
  rows). Normalisation uses only the head's x axis, so this assumes no head roll; head yaw
  and pitch do not enter the warp.

The normalised image is the one GazeHub's MPIIFaceGaze crops come from (virtual camera at
600 mm, focal 960 px for 224 px, unless the checkpoint's config names another) at that size,
then resized to the model's ``image_size`` (bilinear, antialiased) exactly as the trainer
resizes the store's faces (:func:`pano.pipelines.gaze.data.to_input`). Warping straight to
the model's size instead (what this command did first) skips that antialiasing and measured
0.9 deg worse on synthetic test-person images (8.95 vs 8.06 deg, 12 faces, docs/gaze.md).

**Eye-crop models** (``model.eyes: true``): each face is also normalised to GazeHub's 224-px
face, its eyes are located there (:mod:`pano.gaze.eyes`: OpenCV's Haar eye cascade near the
eye corners of a generic 6-point face model projected with the assumptions above; ``--eyes
haar|auto|model``) and GazeHub's 36 x 60 grey, equalised crops are cut around them (left =
the eye on the image's left). A face whose eyes are not found gets ``eyes = none`` and no
gaze (one warning line counts them); ``--eyes auto`` uses the projection for a missed eye.

Outputs (in ``OUT``): ``<input stem>_gaze.png`` (image input) or ``<stem>_gaze.mp4``
(``mp4v`` video at the input's frame rate), and ``<stem>_gaze.csv``: ``#`` comment lines
stating the conventions and assumptions, a header, then one row per face per frame (no rows
when no face is found; the image/video is still written).

**Person-wise BatchNorm** (``--person-bn``; ``pano train-gaze``'s ``predict_person_bn``, with
which the fourth round of docs/gaze.md was reported): for a video, a first pass collects the model
inputs of the largest face of every frame where one is found (one person assumed; an
eye-crop model's faces whose eyes are not found are left out): ``uint8`` faces at the
model's ``image_size`` and its eye crops, not frames. A copy of the model then gets every
BatchNorm's running statistics from them with the trainer's own
:func:`pano.pipelines.gaze.fold.recompute_batchnorm` (AdaBN: one ordered, unaugmented pass in
batches of the checkpoint's ``optim.batch_size``; no labels), and the second pass predicts
every face of every frame with that copy. Default: the checkpoint's own
``predict_person_bn`` (off when it records none); ``--person-bn`` / ``--no-person-bn``
override it. An image, a video with fewer than ``person_bn_min_faces``
(:data:`PERSON_BN_MIN_FACES`) such faces, or a model without BatchNorm layers cannot have it:
one-line error when it was asked for explicitly, a warning and per-face prediction when it
came from the model. The CSV's ``# person_bn:`` comment line says whether it was applied and
on how many faces. Memory: ``image_size^2 * 3`` bytes per collected face (12 KiB at 64 px).

**Test-time mirroring** (``--hflip``; ``pano train-gaze``'s ``predict_hflip``, used by the
reported LOPO figures since the third round): every predicted face (with or without
person-BN) is predicted twice, as it is and mirrored (face flipped, eye crops swapped and
flipped), and its gaze is the normalised sum of the two unit vectors, the mirror's x negated
back; sigma is the mean of the two (:func:`pano.models.gaze_augment.predict_gaze`, the
trainer's own function). Default: the checkpoint's ``predict_hflip`` (off when it records
none); ``--hflip`` / ``--no-hflip`` override it. The CSV's ``# hflip:`` comment line says
whether it was applied and where the choice came from.

Checkpoint (``MODEL``): a ``pano train-gaze`` run folder holding ``checkpoints/manifest.json``
(:class:`pano.pipelines.train.checkpoint.CheckpointManager`; for a LOPO run, one fold's
folder ``RUN/folds/<fold>``: the error lists them when given the run itself), its
``checkpoints/`` folder, or one ``.pt`` file; or a seed ensemble's fold folder
(``members/m<k>/`` inside, ``ensemble: K``: every member is loaded and their gaze averaged,
:class:`pano.models.gaze_ensemble.GazeEnsemble`); the saved dict holds ``"model"`` (the
state dict of :class:`pano.models.gaze_grm.GazeGRM`) and the model config as ``"model_config"`` or
``"config"["model"]`` (a :class:`pano.models.gaze_grm.GazeModelConfig` dump), optionally
``"config"["normalisation"]`` (:class:`pano.gaze.normalize.NormalisationParams` fields).
"""

from __future__ import annotations

import copy
import csv
import io
import logging
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import Field

from pano.config import PanoConfig, read_yaml
from pano.errors import (
    CheckpointError,
    ConfigError,
    InputDataError,
    InputFileNotFoundError,
    OutputExistsError,
    VideoError,
)
from pano.fileio import atomic_write_bytes
from pano.gaze.eyes import (
    EYE_FACE_SIZE,
    MPIIFACEGAZE_FACE_MODEL,
    EyeMode,
    FaceEyes,
    eye_cascade,
    eyes_of_faces,
)
from pano.gaze.normalize import NormalisationParams, normalisation_transform, warp_uint8_hwc
from pano.models.gaze_augment import predict_gaze
from pano.models.gaze_ensemble import GazeEnsemble, GazePredictor
from pano.models.gaze_grm import GazeGRM, GazeModelConfig, build_gaze_model
from pano.pipelines.gaze.data import FaceLoader, resize_eyes, resize_faces, to_input
from pano.pipelines.gaze.ensemble import MEMBERS_DIR, member_folders
from pano.pipelines.gaze.fold import recompute_batchnorm

__all__ = [
    "CASCADES",
    "PERSON_BN_MIN_FACES",
    "GazeInferConfig",
    "GazeInferResult",
    "detect_faces",
    "gaze_infer",
    "load_gaze_model",
]

log = logging.getLogger("pano.gaze")

#: Haar cascades (files in ``cv2.data.haarcascades``) offered by ``--cascade``.
CASCADES = {
    "alt2": "haarcascade_frontalface_alt2.xml",
    "alt": "haarcascade_frontalface_alt.xml",
    "default": "haarcascade_frontalface_default.xml",
}
#: Fewest faces a video needs for person-wise BatchNorm (``--person-bn``): statistics of fewer
#: faces are too noisy to replace the training set's (``GazeInferConfig.person_bn_min_faces``).
PERSON_BN_MIN_FACES = 8
#: Faces per BatchNorm pass when the checkpoint records no ``optim.batch_size``.
PERSON_BN_BATCH = 32
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
CSV_COLUMNS = [
    "frame",
    "time_s",
    "face",
    "box_x",
    "box_y",
    "box_w",
    "box_h",
    "yaw_rad",
    "pitch_rad",
    "sigma_yaw_rad",
    "sigma_pitch_rad",
    "gaze_norm_x",
    "gaze_norm_y",
    "gaze_norm_z",
    "gaze_cam_x",
    "gaze_cam_y",
    "gaze_cam_z",
    "eyes",
    "eye_left_x",
    "eye_left_y",
    "eye_right_x",
    "eye_right_y",
]


class GazeInferConfig(PanoConfig):
    """Options of :func:`gaze_infer` (the ``pano gaze-infer`` command line)."""

    model: Path = Field(description="pano train-gaze run folder, checkpoints/ folder or .pt")
    input: Path = Field(description="an image (png/jpg/...) or a video")
    out: Path = Field(description="output folder")
    checkpoint: str = Field("best", description="best, latest or a checkpoint file name")
    device: str = Field("auto", description="auto, cpu or cuda[:N]")
    cascade: str = Field("alt2", description=f"Haar cascade: {', '.join(CASCADES)}")
    min_face_px: int = Field(40, ge=8, description="smallest face box searched, pixels")
    focal_px: float | None = Field(None, gt=0, description="camera focal length [image width]")
    face_width_mm: float = Field(150.0, gt=0, description="assumed width of a face box, mm")
    max_frames: int | None = Field(None, ge=1, description="stop after this many frames")
    eyes: EyeMode = Field(
        "haar",
        description="eye-crop models: haar (cascade, both eyes needed), auto (the "
        "projected face model for a missed eye) or model (projection only)",
    )
    face_model: Path | None = Field(
        None, description="6-point face model .mat (a data set's; default MPIIFaceGaze's)"
    )
    person_bn: bool | None = Field(
        None,
        description="person-wise BatchNorm (AdaBN) for a video of one person: BatchNorm "
        "statistics from the video's own faces (first pass), then every frame predicted "
        "(second pass); None: the checkpoint's predict_person_bn (off when it has none)",
    )
    person_bn_min_faces: int = Field(
        PERSON_BN_MIN_FACES,
        ge=2,
        description="fewest faces a video needs for person-wise BatchNorm",
    )
    hflip: bool | None = Field(
        None,
        description="test-time mirroring: each face's gaze is the normalised sum of the "
        "model's unit vectors for the face and (x negated) for its mirror image; None: the "
        "checkpoint's predict_hflip (off when it has none)",
    )
    overwrite: bool = False


@dataclass
class GazeInferResult:
    """What :func:`gaze_infer` wrote."""

    csv: Path
    media: Path
    frames: int
    faces: int
    no_eyes: int = 0  #: faces of an eye-crop model whose eyes were not found (no gaze)
    person_bn: bool = False  #: whether person-wise BatchNorm statistics were used
    person_bn_faces: int = 0  #: faces the BatchNorm statistics came from (0 when not used)
    hflip: bool = False  #: whether test-time mirroring was applied to every face
    hflip_from: str = "checkpoint"  #: where that choice came from: "checkpoint" or "option"


# --------------------------------------------------------------------------- model


def _state_from(model: Path, which: str) -> tuple[dict[str, Any], Path]:
    from pano.pipelines.train.checkpoint import MANIFEST, CheckpointManager

    if not model.exists():
        raise InputFileNotFoundError(f"MODEL {model}: no such file or folder")
    if model.is_file():
        try:
            state = torch.load(model, map_location="cpu", weights_only=True)
        except Exception as err:
            raise CheckpointError(
                f"MODEL {model}: not a readable checkpoint ({type(err).__name__}); pass a "
                "pano train-gaze run folder or one of its checkpoints/ckpt-*.pt"
            ) from None
        if not isinstance(state, dict):
            raise CheckpointError(f"MODEL {model}: holds no checkpoint dict")
        return state, model.parent.parent
    for folder in (model / "checkpoints", model):
        if (folder / MANIFEST).is_file():
            strict = which not in ("best", "latest")
            state, _ = CheckpointManager(folder).load(which, strict=strict)
            return state, folder.parent if folder.name == "checkpoints" else folder
    found = [*model.glob(f"*/checkpoints/{MANIFEST}"), *model.glob(f"*/*/checkpoints/{MANIFEST}")]
    ensembles = [*model.glob(f"*/{MEMBERS_DIR}"), *model.glob(f"*/*/{MEMBERS_DIR}")]
    folders = [p.parent.parent for p in found] + [m.parent for m in ensembles]
    runs = sorted(p.relative_to(model).as_posix() for p in folders)
    shown = ", ".join(runs[:8]) + (", ..." if len(runs) > 8 else "")
    hint = f"; runs inside: {shown} (pass one, e.g. a LOPO fold folder)" if runs else ""
    raise CheckpointError(f"MODEL {model}: no checkpoints/{MANIFEST} here{hint}")


def load_gaze_model(
    model: str | Path, which: str = "best", device: torch.device | str = "cpu"
) -> tuple[GazePredictor, NormalisationParams]:
    """The trained model of a ``pano train-gaze`` checkpoint (eval mode) and its normalisation.

    See :func:`load_gaze_run` (this is its model and normalisation).
    """
    net, params, _ = load_gaze_run(model, which, device)
    return net, params


def load_gaze_run(
    model: str | Path, which: str = "best", device: torch.device | str = "cpu"
) -> tuple[GazePredictor, NormalisationParams, dict[str, Any]]:
    """The trained model of a ``pano train-gaze`` checkpoint (eval mode) and its normalisation.

    A fold folder of a seed ensemble (``members/m<k>/`` inside) gives a
    :class:`~pano.models.gaze_ensemble.GazeEnsemble` of every member's ``which`` checkpoint
    (the normalisation and training config are member 0's; the members share them but the
    seed). The normalisation is that of the training data's stored faces: the checkpoint's
    ``config.normalisation`` or GazeHub's (600 mm, focal 960 px, 224 x 224); faces are
    warped at that size and resized to the model's ``image_size`` as the trainer does. The
    third value is the training config the checkpoint records (``pano train-gaze`` saves its
    whole config, e.g. ``predict_person_bn`` and ``optim.batch_size``; else the run folder's
    ``config.yaml``; else ``{}``).

    Raises:
        InputFileNotFoundError: ``model`` does not exist.
        CheckpointError: no readable checkpoint, no model config in it, or weights that do
            not fit the config.

    """
    path = Path(model)
    members = member_folders(path) if path.is_dir() else []
    if members:  # an ensemble fold folder (train-gaze's ensemble: K): every member's model
        got = [_load_one(m, which, device) for m in members]
        return GazeEnsemble([g[0] for g in got]).to(device).eval(), got[0][1], got[0][2]
    return _load_one(path, which, device)


def _load_one(
    path: Path, which: str, device: torch.device | str
) -> tuple[GazeGRM, NormalisationParams, dict[str, Any]]:
    """:func:`load_gaze_run` of one model's folder or checkpoint file."""
    state, run = _state_from(path, which)
    config = state.get("config") if isinstance(state.get("config"), dict) else {}
    train = dict(config or {})
    if not train and (run / "config.yaml").is_file():
        train = dict(read_yaml(run / "config.yaml") or {})
    mcfg = state.get("model_config") or (config or {}).get("model")
    if mcfg is None and (run / "config.yaml").is_file():
        mcfg = read_yaml(run / "config.yaml").get("model")
    if not isinstance(mcfg, dict) or "model" not in state:
        raise CheckpointError(
            f"MODEL {path}: the checkpoint has no model config and state dict "
            "('model_config' or config.model, and 'model'); was it written by pano train-gaze?"
        )
    try:
        cfg = GazeModelConfig.model_validate(mcfg)
    except Exception as err:
        raise CheckpointError(f"MODEL {path}: model config is invalid: {err}") from None
    net = build_gaze_model(cfg, load_weights=False)
    try:
        net.load_state_dict(state["model"])
    except RuntimeError as err:
        first = " ".join(str(err).split())[:200]
        raise CheckpointError(
            f"MODEL {path}: weights do not fit the model config: {first}"
        ) from None
    norm = (config or {}).get("normalisation")
    params = NormalisationParams.model_validate(norm) if isinstance(norm, dict) else None
    return net.to(device).eval(), params or NormalisationParams(), train


# --------------------------------------------------------------------------- detection


def _cascade(name: str) -> Any:
    import cv2

    if name not in CASCADES:
        raise ConfigError(f"--cascade {name!r}: choose one of {', '.join(CASCADES)}")
    path = Path(cv2.data.haarcascades) / CASCADES[name]  # type: ignore[attr-defined]
    clf = cv2.CascadeClassifier(str(path))
    if clf.empty():
        raise ConfigError(f"Haar cascade {path} did not load; reinstall opencv-python-headless")
    return clf


def detect_faces(bgr: np.ndarray, cascade: Any, min_face_px: int = 40) -> np.ndarray:
    """Face boxes ``(N, 4)`` int ``[x, y, w, h]`` pixels (top-left origin), largest first."""
    import cv2

    gray = cv2.equalizeHist(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    boxes = cascade.detectMultiScale(gray, 1.1, 3, minSize=(min_face_px, min_face_px))
    boxes = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
    return boxes[np.argsort(-boxes[:, 2] * boxes[:, 3], kind="stable")]


def camera_matrix(width: int, height: int, focal_px: float | None) -> np.ndarray:
    """Assumed intrinsics ``(3, 3)``: focal ``focal_px`` (default ``width``), centre principal."""
    f = float(focal_px) if focal_px else float(width)
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def face_centres_mm(boxes: np.ndarray, cam: np.ndarray, face_width_mm: float) -> np.ndarray:
    """Box centres back-projected to the depth of a ``face_width_mm`` face: ``(N, 3)`` mm.

    Camera axes x right, y down, z forward; ``Z = f * face_width_mm / box_w``.
    """
    cx = boxes[:, 0] + boxes[:, 2] / 2.0
    cy = boxes[:, 1] + boxes[:, 3] / 2.0
    z = cam[0, 0] * face_width_mm / boxes[:, 2]
    x = (cx - cam[0, 2]) / cam[0, 0] * z
    y = (cy - cam[1, 2]) / cam[1, 1] * z
    return np.stack([x, y, z], axis=1)


# --------------------------------------------------------------------------- frames


def _frames(path: Path, max_frames: int | None) -> tuple[Iterator[np.ndarray], float, bool]:
    """(BGR frame iterator, fps (0 for an image), is_video)."""
    import cv2

    if path.suffix.lower() in IMAGE_SUFFIXES:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise InputDataError(
                f"INPUT {path}: cannot be read as an image (corrupt or unsupported); pass a "
                "PNG/JPEG/BMP/TIFF/WebP image or a video"
            )
        return iter([img]), 0.0, False
    cap = cv2.VideoCapture(str(path))
    ok, first = cap.read() if cap.isOpened() else (False, None)
    if not ok or first is None:
        cap.release()
        raise VideoError(
            f"INPUT {path}: cannot be opened as a video or image (no frame decoded); pass a "
            "readable video (mp4/avi/...) or an image"
        )
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0) or 25.0

    def gen() -> Iterator[np.ndarray]:
        n = 0
        frame: np.ndarray | None = first
        try:
            while frame is not None and (max_frames is None or n < max_frames):
                yield frame
                n += 1
                ok, frame = cap.read()
                frame = frame if ok else None
        finally:
            cap.release()

    return gen(), fps, True


def _draw(bgr: np.ndarray, box: np.ndarray, g_cam: np.ndarray, yaw: float, pitch: float) -> None:
    import cv2

    x, y, w, h = (int(v) for v in box)
    c = (x + w // 2, y + h // 2)
    # Image-plane direction of the 3-D gaze (x right, y down): its x, y components.
    end = (round(c[0] + w * float(g_cam[0])), round(c[1] + w * float(g_cam[1])))
    cv2.rectangle(bgr, (x, y), (x + w, y + h), (0, 200, 0), 2)
    cv2.arrowedLine(bgr, c, end, (0, 0, 255), max(2, w // 60), tipLength=0.2)
    text = f"yaw {math.degrees(yaw):+.0f} pitch {math.degrees(pitch):+.0f} deg"
    cv2.putText(bgr, text, (x, max(12, y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 255), 1)


@dataclass
class _Run:
    """What every frame's faces need: options, model, normalisation, eye settings, hflip."""

    cfg: GazeInferConfig
    model: GazePredictor
    params: NormalisationParams
    dev: torch.device
    hflip: bool = False
    face_model: np.ndarray = field(default_factory=lambda: MPIIFACEGAZE_FACE_MODEL)
    eye_clf: Any = None

    def __post_init__(self) -> None:
        if not self.model.cfg.eyes:
            return
        if self.cfg.face_model is not None:
            from pano.stores.mpiifacegaze_raw import read_face_model

            if not self.cfg.face_model.is_file():
                raise InputFileNotFoundError(f"--face-model {self.cfg.face_model}: no such file")
            self.face_model = read_face_model(self.cfg.face_model)
        if self.cfg.eyes != "model":
            self.eye_clf = eye_cascade()

    def eyes(self, rgb: torch.Tensor, fc: torch.Tensor, cam: np.ndarray) -> FaceEyes:
        """The faces' eye crops (GazeHub's, from the 224-px normalised face)."""
        p = self.params
        return eyes_of_faces(
            rgb,
            fc,
            torch.eye(3, dtype=torch.float64).expand(fc.shape[0], 3, 3),
            torch.from_numpy(cam),
            self.cfg.eyes,
            self.face_model,
            distance_mm=p.distance_mm,
            focal_px=p.focal_px * EYE_FACE_SIZE / p.width_px,
            cascade=self.eye_clf,
        )


@dataclass
class _Faces:
    """One frame's faces, normalised: the model's inputs and what is drawn and written.

    ``faces``: float ``(B, 3, S, S)`` on the device; ``crops``: the ``uint8 (B, H, W, 3)``
    normalised faces at the normalisation's size; ``keep``: ``(B,)`` faces the model reads
    (an eye-crop model's faces with eyes found); ``eye_u8``: ``uint8 (K, 2, h, w)`` eye crops
    of the kept faces (None for a face-only model); ``rmat``: ``(B, 3, 3)`` normalisation
    rotations (original camera -> normalised camera).
    """

    faces: torch.Tensor
    crops: np.ndarray
    keep: np.ndarray
    eyes: FaceEyes | None
    eye_u8: np.ndarray | None
    rmat: torch.Tensor


def _prepare(bgr: np.ndarray, boxes: np.ndarray, run: _Run) -> _Faces:
    """Normalise the faces ``boxes`` (``(B, 4)``) of one BGR frame into the model's inputs."""
    h, w = bgr.shape[:2]
    cfg, params, dev = run.cfg, run.params, run.dev
    cam = camera_matrix(w, h, cfg.focal_px)
    fc = torch.from_numpy(face_centres_mm(boxes, cam, cfg.face_width_mm))
    eye = torch.eye(3, dtype=torch.float64).expand(len(boxes), 3, 3)
    tr = normalisation_transform(fc, eye, torch.from_numpy(cam), params)
    # uint8 RGB crops, as the training data are stored (pano.stores.gaze_samples)
    rgb = torch.from_numpy(np.ascontiguousarray(bgr[:, :, ::-1])).to(dev)
    crops = warp_uint8_hwc(rgb[None].expand(len(boxes), -1, -1, -1), tr.warp, params)
    crops_np = crops.cpu().numpy()
    faces = to_input(crops_np, dev, run.model.cfg.image_size)
    eyes: FaceEyes | None = None
    keep = np.ones(len(boxes), bool)
    eye_u8: np.ndarray | None = None
    if run.model.cfg.eyes:
        eyes = run.eyes(rgb, fc, cam)
        keep = eyes.ok
        eye_u8 = resize_eyes(eyes.crops[keep], run.model.cfg.eye_size)
    return _Faces(faces, crops_np, keep, eyes, eye_u8, tr.rmat)


def _frame_faces(
    bgr: np.ndarray,
    boxes: np.ndarray,
    run: _Run,
    rows: Any,
    head: list[Any],
    model: GazePredictor,
) -> int:
    """Predict (with ``model``) and draw the faces ``boxes`` of one frame; one CSV row each.

    ``head`` starts each row. Returns the number of faces whose eyes were not found
    (eye-crop models only).
    """
    dev = run.dev
    f = _prepare(bgr, boxes, run)
    eyes, keep = f.eyes, f.keep
    eye_in = None if f.eye_u8 is None else torch.from_numpy(f.eye_u8).to(dev).float().div_(255.0)
    sel = np.flatnonzero(keep)
    if len(sel):
        out = predict_gaze(model, f.faces[torch.from_numpy(sel).to(dev)], eye_in, run.hflip)
        g_norm = out.vector.cpu()
        g_cam = (f.rmat[sel].transpose(1, 2) @ g_norm.unsqueeze(-1)).squeeze(-1).numpy()
        ang, sig = out.angles.cpu().numpy(), out.sigma.cpu().numpy()
    slot = {int(k): i for i, k in enumerate(sel)}
    for k, box in enumerate(boxes):
        tail: list[Any] = ["unused", "", "", "", ""]
        if eyes is not None:
            found = eyes.spots[k].status != "none"
            xy = [f"{v:.2f}" if found else "" for v in eyes.image_xy[k].ravel()]
            tail = [eyes.spots[k].status, *xy]
            if found:
                _draw_eyes(bgr, eyes.image_xy[k], ok=bool(keep[k]))
        if k in slot:
            i = slot[k]
            _draw(bgr, box, g_cam[i], float(ang[i, 0]), float(ang[i, 1]))
            vals = (*ang[i], *sig[i], *g_norm[i].numpy(), *g_cam[i])
            rows.writerow([*head, k, *map(int, box), *(f"{v + 0.0:.6f}" for v in vals), *tail])
        else:
            _draw_no_eyes(bgr, box)
            rows.writerow([*head, k, *map(int, box), *([""] * 10), *tail])
    return int((~keep).sum())


def _draw_eyes(bgr: np.ndarray, xy: np.ndarray, ok: bool) -> None:
    import cv2

    colour = (255, 200, 0) if ok else (0, 160, 255)
    for x, y in xy:
        if np.isfinite(x) and np.isfinite(y):
            cv2.circle(bgr, (round(float(x)), round(float(y))), 4, colour, 1)


def _draw_no_eyes(bgr: np.ndarray, box: np.ndarray) -> None:
    import cv2

    x, y, w, h = (int(v) for v in box)
    cv2.rectangle(bgr, (x, y), (x + w, y + h), (0, 160, 255), 2)
    cv2.putText(bgr, "eyes not found", (x, max(12, y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (0, 160, 255), 1)  # fmt: skip


@dataclass
class _PersonBN:
    """The person-wise BatchNorm decision: wanted, asked for explicitly, applied, on how many."""

    wanted: bool
    explicit: bool
    applied: bool = False
    faces: int = 0
    note: str = ""

    def refuse_or_warn(self, why: str, where: Path) -> None:
        """Refuse (explicit ``--person-bn``) or warn and fall back to per-face prediction."""
        if self.explicit:
            raise ConfigError(f"--person-bn: {why}; drop --person-bn (per-face prediction)")
        log.warning(
            "%s: the model was trained with predict_person_bn but %s: each face is predicted "
            "on its own (pass --no-person-bn to silence)",
            where,
            why,
        )
        self.wanted, self.note = False, f"not applied ({why})"

    def comment(self) -> str:
        """The CSV's ``# person_bn:`` line."""
        if self.applied:
            return (
                f"# person_bn: applied on {self.faces} faces (BatchNorm statistics of this "
                "video's largest face per frame, AdaBN, as train-gaze's predict_person_bn)"
            )
        return f"# person_bn: {self.note or 'not applied'}; each face predicted on its own"


def _recorded(train: dict[str, Any], key: str) -> tuple[bool, str]:
    """Whether the checkpoint's training config sets ``key`` true, and if not, why not."""
    recorded = train.get(key)
    if recorded:
        return True, ""
    return False, f"the model {'trained without' if recorded is False else 'records no'} {key}"


def _person_bn_request(cfg: GazeInferConfig, train: dict[str, Any]) -> _PersonBN:
    """``cfg.person_bn`` or, when None, the checkpoint's training ``predict_person_bn``."""
    if cfg.person_bn is not None:
        note = "" if cfg.person_bn else "not applied (--no-person-bn)"
        return _PersonBN(cfg.person_bn, explicit=True, note=note)
    on, why = _recorded(train, "predict_person_bn")
    return _PersonBN(on, explicit=False, note="" if on else f"not applied ({why})")


def _hflip_request(cfg: GazeInferConfig, train: dict[str, Any]) -> tuple[bool, str, str]:
    """``cfg.hflip`` or, when None, the checkpoint's ``predict_hflip``.

    Returns ``(apply, "option" | "checkpoint", the CSV's "# hflip:" line)``.
    """
    if cfg.hflip is not None:
        flag = "--hflip" if cfg.hflip else "--no-hflip"
        return cfg.hflip, "option", f"{'applied' if cfg.hflip else 'not applied'} ({flag})"
    on, why = _recorded(train, "predict_hflip")
    if on:
        return True, "checkpoint", "applied (the model was trained with predict_hflip)"
    return False, "checkpoint", f"not applied ({why})"


def _has_batchnorm(model: torch.nn.Module) -> bool:
    """Whether ``model`` has a BatchNorm layer (else person-wise BatchNorm is a no-op)."""
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


def _collect_person(
    cfg: GazeInferConfig, cascade: Any, run: _Run
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray | None]:
    """First pass over a video: every frame's face boxes and the person's model inputs.

    Returns ``(boxes per frame, faces, eyes)``: ``faces`` the ``uint8 (N, S, S, 3)`` largest
    face of each frame with a face (resized to the model's ``image_size`` as the trainer's
    cache does, :func:`~pano.pipelines.gaze.data.resize_faces`), ``eyes`` their ``uint8
    (N, 2, h, w)`` eye crops (eye-crop models; faces whose eyes were not found are left
    out) or None.
    """
    frames, _, _ = _frames(cfg.input, cfg.max_frames)
    size = run.model.cfg.image_size
    boxes_all: list[np.ndarray] = []
    faces: list[np.ndarray] = []
    eyes: list[np.ndarray] = []
    for bgr in frames:
        boxes = detect_faces(bgr, cascade, cfg.min_face_px)
        boxes_all.append(boxes)
        if not len(boxes):
            continue
        f = _prepare(bgr, boxes[:1], run)  # the largest face: the person
        if not f.keep[0]:
            continue
        faces.append(resize_faces(f.crops, size))
        if f.eye_u8 is not None:
            eyes.append(f.eye_u8)
    face_arr = np.concatenate(faces) if faces else np.zeros((0, size, size, 3), np.uint8)
    eye_arr = np.concatenate(eyes) if eyes else None
    return boxes_all, face_arr, eye_arr


def _person_model(
    model: GazePredictor,
    faces: np.ndarray,
    eyes: np.ndarray | None,
    batch: int,
    dev: torch.device,
) -> GazePredictor:
    """A copy of ``model`` with BatchNorm statistics of ``faces`` (trainer's function)."""
    own = copy.deepcopy(model)
    loader = FaceLoader(faces, np.arange(len(faces)), cache_mb=0, size=model.cfg.image_size)
    recompute_batchnorm(own, loader, batch, dev, model.cfg.image_size, eyes)
    return own


def _csv_comments(
    cfg: GazeInferConfig,
    params: NormalisationParams,
    eyes: bool = False,
    person_bn: str = "# person_bn: not applied; each face predicted on its own",
    hflip: str = "not applied",
) -> list[str]:
    f = f"{cfg.focal_px:g} px" if cfg.focal_px else "the image width in pixels"
    return (
        [
            "# pano gaze-infer: one row per detected face per frame; angles in radians",
            "# yaw, pitch: GazeHub [yaw, pitch] of the gaze in the normalised camera; "
            "gaze = (-cos(p) sin(y), -sin(p), -cos(p) cos(y)); (0, 0, -1) looks into the camera",
            "# gaze_norm_*: unit gaze in the normalised camera; gaze_cam_*: in the original "
            "camera (R^T gaze_norm); both x right, y down, z forward",
            f"# normalisation: {params.describe()}, resized to the model's input (antialiased)",
            f"# assumed: focal {f}, principal point at the image centre, no distortion; face "
            f"centre = box centre at the depth of a {cfg.face_width_mm:g} mm wide face; head "
            "upright (R_head = I, no roll): no landmarks or head pose are estimated",
            "# box_*: face box in pixels, top-left origin; time_s = frame / fps (0 for an image)",
        ]
        + (
            [
                f"# eyes (--eyes {cfg.eyes}): haar | haar+model | model | none (not found: no "
                "gaze); eye_*_x/y: eye crop centres in image pixels; crops as GazeHub's (36x60 "
                "grey, equalised, 1.5 x the corner distance wide) from the 224-px normalised face; "
                "left = the eye on the image's left"
            ]
            if eyes
            else ["# eyes: unused (a face-only model)"]
        )
        + [
            f"# hflip: {hflip}; test-time mirroring: gaze = normalised sum of the unit gaze "
            "of the face and, x negated, of its mirror image (as train-gaze's predict_hflip)",
            person_bn,
        ]
    )


def gaze_infer(cfg: GazeInferConfig) -> GazeInferResult:
    """Run detection, normalisation and the model on ``cfg.input``; write arrows and a CSV.

    Raises:
        InputFileNotFoundError: the input or model does not exist.
        InputDataError, VideoError: the input cannot be decoded.
        CheckpointError: the model cannot be loaded.
        OutputExistsError: an output exists and ``overwrite`` is false.
        ConfigError: ``person_bn`` is true for an image, a video with fewer than
            ``person_bn_min_faces`` faces, or a model without BatchNorm layers.

    """
    import cv2

    from pano.device import resolve_device

    if not cfg.input.is_file():
        raise InputFileNotFoundError(f"INPUT {cfg.input}: no such file")
    is_image = cfg.input.suffix.lower() in IMAGE_SUFFIXES
    stem = cfg.input.stem
    csv_path = cfg.out / f"{stem}_gaze.csv"
    media = cfg.out / f"{stem}_gaze.{'png' if is_image else 'mp4'}"
    for p in (csv_path, media):
        if p.exists() and not cfg.overwrite:
            raise OutputExistsError(f"{p} exists; pass --overwrite or another --out")
    cascade = _cascade(cfg.cascade)
    dev = resolve_device(cfg.device)
    model, params, train = load_gaze_run(cfg.model, cfg.checkpoint, dev)
    hflip, hflip_from, hflip_note = _hflip_request(cfg, train)
    # reads --face-model: fails before anything is written
    run = _Run(cfg, model, params, dev, hflip=hflip)
    pbn = _person_bn_request(cfg, train)
    if pbn.wanted and not _has_batchnorm(model):
        pbn.refuse_or_warn("the model has no BatchNorm layers (person-BN is a no-op)", cfg.input)
    if pbn.wanted and is_image:
        pbn.refuse_or_warn(
            f"INPUT is an image; it needs a video of one person ({cfg.person_bn_min_faces}+ faces)",
            cfg.input,
        )
    predictor: GazePredictor = model
    boxes_of: list[np.ndarray] | None = None
    if pbn.wanted:  # first pass: the person's model inputs; nothing is written yet
        boxes_of, faces, eye_arr = _collect_person(cfg, cascade, run)
        if len(faces) < cfg.person_bn_min_faces:
            pbn.refuse_or_warn(
                f"the video has {len(faces)} usable face(s), fewer than "
                f"{cfg.person_bn_min_faces} (person_bn_min_faces)",
                cfg.input,
            )
        else:
            opt = train.get("optim")
            batch = opt.get("batch_size") if isinstance(opt, dict) else None
            bn_batch = int(batch) if isinstance(batch, int) and batch > 1 else PERSON_BN_BATCH
            predictor = _person_model(model, faces, eye_arr, bn_batch, dev)
            pbn.applied, pbn.faces = True, len(faces)
            log.info("%s: person-wise BatchNorm from %d faces", cfg.input, len(faces))
        del faces, eye_arr
    frames, fps, is_video = _frames(cfg.input, cfg.max_frames)
    cfg.out.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{media.name}.", suffix=media.suffix, dir=cfg.out)
    os.close(fd)
    tmp_media = Path(tmp_name)  # written in full, then renamed over the final name
    writer: Any = None
    buf = io.StringIO()
    comments = _csv_comments(cfg, params, model.cfg.eyes, pbn.comment(), hflip_note)
    buf.write("\n".join(comments) + "\n")
    rows = csv.writer(buf, lineterminator="\n")
    rows.writerow(CSV_COLUMNS)
    n_frames = n_faces = n_no_eyes = 0
    try:
        for idx, bgr in enumerate(frames):
            h, w = bgr.shape[:2]
            if boxes_of is not None and idx < len(boxes_of):  # found in the first pass
                boxes = boxes_of[idx]
            else:
                boxes = detect_faces(bgr, cascade, cfg.min_face_px)
            if len(boxes):
                t_s = idx / fps if is_video else 0.0
                head = [idx, f"{t_s:.6f}"]
                n_no_eyes += _frame_faces(bgr, boxes, run, rows, head, predictor)
                n_faces += len(boxes)
            if is_video:
                if writer is None:
                    fourcc = cv2.VideoWriter.fourcc(*"mp4v")
                    writer = cv2.VideoWriter(str(tmp_media), fourcc, fps, (w, h))
                    if not writer.isOpened():
                        raise VideoError(f"{media}: cv2.VideoWriter (mp4v) cannot write here")
                writer.write(bgr)
            elif not cv2.imwrite(str(tmp_media), bgr):
                raise InputDataError(f"{media}: the annotated image could not be written")
            n_frames += 1
    except BaseException:
        if writer is not None:
            writer.release()
        tmp_media.unlink(missing_ok=True)
        raise
    if writer is not None:
        writer.release()
    os.replace(tmp_media, media)
    atomic_write_bytes(csv_path, buf.getvalue().encode("utf-8"))
    if n_no_eyes:
        log.warning(
            "%s: eyes not found in %d of %d face(s) (--eyes %s): their rows have eyes = none "
            "and no gaze; try --eyes auto",
            cfg.input,
            n_no_eyes,
            n_faces,
            cfg.eyes,
        )
    if n_faces == 0:
        log.warning(
            "%s: no face found in %d frame(s) (Haar cascade %s, min %d px); %s has only its header",
            cfg.input,
            n_frames,
            cfg.cascade,
            cfg.min_face_px,
            csv_path,
        )
    return GazeInferResult(
        csv=csv_path,
        media=media,
        frames=n_frames,
        faces=n_faces,
        no_eyes=n_no_eyes,
        person_bn=pbn.applied,
        person_bn_faces=pbn.faces,
        hflip=hflip,
        hflip_from=hflip_from,
    )
