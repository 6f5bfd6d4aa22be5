"""The ORIGINAL MPIIFaceGaze download, normalised by pano (reader -> :class:`GazeSamples`).

Layout (one folder per person ``p00`` .. ``p14`` under the data set root)::

    ROOT/pXX/pXX.txt                     one line per image, 28 space-separated fields
    ROOT/pXX/dayNN/NNNN.jpg              the camera images (1280 x 720 for most persons)
    ROOT/pXX/Calibration/Camera.mat      cameraMatrix (3x3, px), distCoeffs (1x5), ...
    ROOT/pXX/Calibration/monitorPose.mat rvects, tvecs (screen -> camera)
    ROOT/pXX/Calibration/screenSize.mat  width/height in pixels and mm
    ROOT/6 points-based face model.mat   ``model``: 3x6, mm (the generic 6-point face model)

Fields of ``pXX.txt`` (1-based): 1 image path relative to ``pXX/``; 2-3 gaze point on the
screen (px); 4-15 six facial landmarks (x, y) in image px (four eye corners, two mouth
corners); 16-18 head pose rotation vector (radians, face model -> camera); 19-21 head
translation (mm); 22-24 face centre ``fc`` (mm, camera frame); 25-27 3-D gaze target ``gt``
(mm, camera frame); 28 which eye the evaluation subset uses (``left``/``right``).
The camera frame is OpenCV's: x right, y down, z forward. MATLAB v5 ``.mat`` files are read
with :func:`scipy.io.loadmat`.

pano normalises each image itself (:mod:`pano.gaze.normalize`, GazeHub's parameters by
default): the face centre is ``fc`` from the annotation (as GazeHub's
``data_processing_mpii.py``), the head rotation is the annotated rotation vector, the gaze is
``gt - fc`` rotated by ``R`` only, lens distortion is ignored (like GazeHub), and right-eye
samples are **not** mirrored (GazeHub mirrors them). The face model and the screen files are
checked when present but not needed: the annotation already gives ``fc`` and ``gt``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import scipy.io
import torch

from pano.errors import InputDataError, InputFileNotFoundError
from pano.gaze.normalize import (
    NormalisationParams,
    head_direction,
    head_rotation_from_rotvec,
    normalisation_transform,
    normalise_gaze,
    normalise_head,
    warp_uint8_hwc,
)
from pano.geometry import camvec_to_gazehub
from pano.stores.gaze_samples import (
    GAZE_CAMERA_FRAME,
    GazeConvention,
    GazeProtocol,
    GazeSamples,
)

#: Name under which the data set is stored (``gaze/<DATASET_NAME>``).
DATASET_NAME = "mpiifacegaze-raw"
#: Fields per line of ``pXX.txt``.
N_FIELDS = 28
#: The face model file shipped at the data set root.
FACE_MODEL_FILE = "6 points-based face model.mat"
#: 1-based field ranges of ``pXX.txt`` and their meaning (for error messages).
_FIELDS: dict[str, tuple[int, int, str]] = {
    "screen": (2, 3, "gaze point on the screen, px"),
    "landmarks": (4, 15, "six facial landmarks, px"),
    "head_rotvec": (16, 18, "head pose rotation vector, rad"),
    "head_t": (19, 21, "head translation, mm"),
    "face_centre": (22, 24, "face centre fc, mm"),
    "gaze_target": (25, 27, "3-D gaze target gt, mm"),
}
#: Images warped per kornia call.
DEFAULT_BATCH = 64


@dataclass(frozen=True)
class RawRow:
    """One annotation line of ``pXX.txt`` (units as in the module docstring)."""

    line: int  # 1-based line number in pXX.txt
    image: str  # path relative to the person folder, e.g. "day01/0005.jpg"
    screen: np.ndarray  # (2,) px
    landmarks: np.ndarray  # (6, 2) px
    head_rotvec: np.ndarray  # (3,) radians
    head_t: np.ndarray  # (3,) mm
    face_centre: np.ndarray  # (3,) mm, camera frame
    gaze_target: np.ndarray  # (3,) mm, camera frame
    eye: str  # "left" | "right"


@dataclass(frozen=True)
class CameraCalibration:
    """``Calibration/Camera.mat`` of one person: intrinsics (px) and distortion coefficients."""

    camera_matrix: np.ndarray  # (3, 3) float64, px
    dist_coeffs: np.ndarray  # (k,) float64 (OpenCV order k1 k2 p1 p2 k3); ignored by pano


def list_persons(root: str | Path) -> list[str]:
    """Person folders ``pNN`` under ``root`` that hold their ``pNN.txt``, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise InputFileNotFoundError(f"{root}: MPIIFaceGaze folder does not exist")
    persons = sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and p.name.startswith("p") and (p / f"{p.name}.txt").is_file()
    )
    if not persons:
        raise InputDataError(
            f"{root}: no person folder pXX with pXX/pXX.txt; pass the folder that holds p00 .. p14"
        )
    return persons


def read_annotations(path: str | Path) -> list[RawRow]:
    """Parse ``pXX.txt``; one line per image, :data:`N_FIELDS` space-separated fields.

    Raises:
        InputFileNotFoundError: the file does not exist.
        InputDataError: a line with the wrong field count, a value that is not a finite
            number, or a last field other than ``left``/``right`` (the message names the
            file, the line and the field).
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileNotFoundError(f"{path}: annotation file does not exist")
    rows: list[RawRow] = []
    for n, text in enumerate(path.read_text().splitlines(), start=1):
        parts = text.split()
        if not parts:
            continue
        if len(parts) != N_FIELDS:
            raise InputDataError(
                f"{path}: line {n}: expected {N_FIELDS} space-separated fields (image, screen "
                f"point, 6 landmarks, head rotation + translation, fc, gt, eye), got {len(parts)}"
            )
        values: dict[str, np.ndarray] = {}
        for key, (lo, hi, what) in _FIELDS.items():
            try:
                arr = np.array([float(v) for v in parts[lo - 1 : hi]], dtype=np.float64)
            except ValueError:
                arr = np.array([np.nan])
            if not np.isfinite(arr).all():
                raise InputDataError(
                    f"{path}: line {n}: fields {lo}-{hi} ({what}) must be finite numbers, "
                    f"got {' '.join(parts[lo - 1 : hi])}"
                )
            values[key] = arr
        eye = parts[N_FIELDS - 1]
        if eye not in ("left", "right"):
            raise InputDataError(
                f"{path}: line {n}: field {N_FIELDS} (which eye) must be left or right, got {eye!r}"
            )
        if np.linalg.norm(values["face_centre"]) <= 0:
            raise InputDataError(f"{path}: line {n}: fields 22-24 (face centre fc) are all zero")
        if np.linalg.norm(values["gaze_target"] - values["face_centre"]) <= 0:
            raise InputDataError(
                f"{path}: line {n}: fields 25-27 (gaze target gt) equal the face centre fc; "
                "the gaze direction gt - fc is undefined"
            )
        rows.append(
            RawRow(
                line=n,
                image=parts[0],
                screen=values["screen"],
                landmarks=values["landmarks"].reshape(6, 2),
                head_rotvec=values["head_rotvec"],
                head_t=values["head_t"],
                face_centre=values["face_centre"],
                gaze_target=values["gaze_target"],
                eye=eye,
            )
        )
    if not rows:
        raise InputDataError(f"{path}: no annotation lines")
    return rows


def _loadmat(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputFileNotFoundError(f"{path}: calibration file does not exist")
    try:
        return dict(scipy.io.loadmat(str(path)))
    except (ValueError, TypeError, OSError, NotImplementedError) as err:
        raise InputDataError(
            f"{path}: cannot be read as a MATLAB v5 .mat file ({err}); re-copy it from the download"
        ) from err


def read_camera(path: str | Path) -> CameraCalibration:
    """Read ``Calibration/Camera.mat``: ``cameraMatrix`` (3x3, px) and ``distCoeffs``.

    Raises:
        InputDataError: ``cameraMatrix`` missing, not 3x3, not finite, or singular.
    """
    path = Path(path)
    mat = _loadmat(path)
    if "cameraMatrix" not in mat:
        keys = ", ".join(k for k in mat if not k.startswith("__")) or "none"
        raise InputDataError(
            f"{path}: variable cameraMatrix is missing (found: {keys}); "
            "use the person's Calibration/Camera.mat from the download"
        )
    cam = np.asarray(mat["cameraMatrix"], dtype=np.float64)
    if cam.shape != (3, 3) or not np.isfinite(cam).all() or abs(np.linalg.det(cam)) < 1e-12:
        raise InputDataError(
            f"{path}: cameraMatrix must be a finite, invertible 3x3 matrix, got shape {cam.shape}"
        )
    dist = np.asarray(mat.get("distCoeffs", np.zeros(5)), dtype=np.float64).reshape(-1)
    return CameraCalibration(camera_matrix=cam, dist_coeffs=dist)


def read_screen(calibration_dir: str | Path) -> dict[str, float] | None:
    """``screenSize.mat`` (``width_pixel``, ``height_pixel``, ``width_mm``, ``height_mm``).

    Returns None when the file is absent (pano does not need it: ``gt`` is annotated).
    """
    path = Path(calibration_dir) / "screenSize.mat"
    if not path.is_file():
        return None
    mat = _loadmat(path)
    out: dict[str, float] = {}
    for key in ("width_pixel", "height_pixel", "width_mm", "height_mm"):
        if key not in mat:
            raise InputDataError(f"{path}: variable {key} is missing")
        value = float(np.asarray(mat[key], dtype=np.float64).reshape(-1)[0])
        if not math.isfinite(value) or value <= 0:
            raise InputDataError(f"{path}: {key} must be a positive number, got {value}")
        out[key] = value
    return out


def read_face_model(path: str | Path) -> np.ndarray:
    """The 6-point face model (``model`` variable, 3x6 or 6x3, mm) -> ``(6, 3)`` float64.

    Points: four eye corners, two mouth corners, in face-model coordinates (x along the eye
    line, y down, z into the face).
    """
    path = Path(path)
    mat = _loadmat(path)
    if "model" not in mat:
        raise InputDataError(f"{path}: variable model (the 6-point face model) is missing")
    model = np.asarray(mat["model"], dtype=np.float64)
    if model.shape == (3, 6):
        model = model.T
    if model.shape != (6, 3) or not np.isfinite(model).all():
        raise InputDataError(f"{path}: model must be a finite 3x6 matrix (mm), got {model.shape}")
    return model


def check_jpeg_ends(path: Path, where: str) -> None:
    """Check one image without decoding it (two small reads).

    It must exist, start with the JPEG start-of-image marker ``FF D8`` and hold the
    end-of-image marker ``FF D9`` in its last KiB (a file cut short has none). Damage inside
    the file is found when it is decoded (:func:`read_image`).
    """
    if not path.is_file():
        raise InputFileNotFoundError(
            f"{where}: image {path} does not exist; restore it from the download or drop the line"
        )
    with path.open("rb") as f:
        head = f.read(2)
        f.seek(max(path.stat().st_size - 1024, 0))
        tail = f.read()
    if head != b"\xff\xd8" or b"\xff\xd9" not in tail:
        raise InputDataError(
            f"{where}: image {path} is not a complete JPEG; re-copy it from the download"
        )


def read_image(path: Path, where: str) -> np.ndarray:
    """Decode one JPEG to ``uint8 (H, W, 3)`` RGB; ``where`` names the annotation line."""
    if not path.is_file():
        raise InputFileNotFoundError(
            f"{where}: image {path} does not exist; restore it from the download or drop the line"
        )
    data = np.fromfile(path, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    # A JPEG ends with the end-of-image marker FF D9; a cut file decodes to a partly grey image.
    tail = data[-1024:].tobytes()
    if img is None or b"\xff\xd9" not in tail:
        raise InputDataError(
            f"{where}: image {path} is not a complete JPEG; re-copy it from the download"
        )
    return np.ascontiguousarray(img[:, :, ::-1])


def normalise_rows(
    person_dir: Path,
    rows: Sequence[RawRow],
    camera: CameraCalibration,
    params: NormalisationParams,
    device: torch.device,
) -> dict[str, np.ndarray]:
    """Normalise one batch of rows of one person (images of one size per kornia call).

    Returns the arrays of :class:`GazeSamples` for these rows (float64 on the CPU, faces
    ``uint8 (B, h, w, 3)`` RGB). Matrices are computed in float64, the warp in float32 on
    ``device``.
    """
    txt = person_dir / f"{person_dir.name}.txt"
    images = [read_image(person_dir / r.image, f"{txt}: line {r.line}") for r in rows]
    fc = torch.tensor(np.stack([r.face_centre for r in rows]), dtype=torch.float64)
    gt = torch.tensor(np.stack([r.gaze_target for r in rows]), dtype=torch.float64)
    hrot = head_rotation_from_rotvec(
        torch.tensor(np.stack([r.head_rotvec for r in rows]), dtype=torch.float64)
    )
    tr = normalisation_transform(fc, hrot, torch.from_numpy(camera.camera_matrix), params)
    faces = np.empty((len(rows), params.height_px, params.width_px, 3), dtype=np.uint8)
    shapes = sorted({im.shape for im in images})
    for shape in shapes:
        idx = [i for i, im in enumerate(images) if im.shape == shape]
        batch = torch.from_numpy(np.stack([images[i] for i in idx])).to(device)
        warped = warp_uint8_hwc(batch, tr.warp[idx].to(device), params)
        faces[idx] = warped.cpu().numpy()
    gaze = normalise_gaze(gt - fc, tr.rmat).numpy()
    head = head_direction(normalise_head(hrot, tr.rmat)).numpy()
    gyaw, gpitch = camvec_to_gazehub(gaze)
    hyaw, hpitch = camvec_to_gazehub(head)
    return {
        "face": faces,
        "gaze_xyz": gaze,
        "gaze_angles": np.stack([gyaw, gpitch], axis=1),
        "head_xyz": head,
        "head_angles": np.stack([hyaw, hpitch], axis=1),
        "rmat": tr.rmat.numpy(),
        "smat": tr.smat.numpy(),
        "gaze_origin": fc.numpy(),
    }


def read_person(
    root: str | Path,
    person: str,
    params: NormalisationParams | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = DEFAULT_BATCH,
    limit: int | None = None,
) -> GazeSamples:
    """Read and normalise one person's samples (all lines of ``pXX.txt``, in file order).

    Args:
        root: the data set root (holds ``pXX/``).
        person: ``pXX``.
        params: the virtual camera (GazeHub's defaults when None).
        device: where kornia warps (``cpu``, ``cuda``, ...); matrices stay float64 on the CPU.
        batch_size: images per warp call.
        limit: read only the first ``limit`` lines (tests, previews).

    Returns:
        :class:`GazeSamples` with faces, normalised gaze (``gaze_xyz`` and the pair
        ``[yaw, pitch]`` radians pano computed from it), head direction and angles, ``R``,
        ``S``, the gaze origin ``fc`` (real camera, mm), ``mirrored`` all False.
    """
    index = scan_raw(root, [person], limit=limit)
    samples = normalise_index_rows(index, 0, len(index), params, device, batch_size)
    return samples.check(str(Path(root) / person / f"{person}.txt"))


def check_face_model(root: str | Path) -> np.ndarray | None:
    """The shipped face model at the root, validated, or None when the file is absent."""
    path = Path(root) / FACE_MODEL_FILE
    return read_face_model(path) if path.is_file() else None


def convention(params: NormalisationParams | None = None) -> GazeConvention:
    """How this reader states its labels (stored in the data set's ``conventions``)."""
    params = params or NormalisationParams()
    return GazeConvention(
        dataset=DATASET_NAME,
        source_format=(
            "original MPIIFaceGaze: pXX/pXX.txt (28 space-separated fields), "
            "pXX/Calibration/Camera.mat, day folders of JPEG images"
        ),
        angle_order="[yaw, pitch]",
        units="radians",
        frame=GAZE_CAMERA_FRAME,
        normalisation=(
            "by pano (Zhang, Sugano, Bulling ETRA 2018): "
            f"{params.describe()}; R from the annotated face centre fc and head rotation "
            "vector, S = diag(1, 1, d/|fc|), W = C_norm S R C_cam^-1 warped with kornia; "
            "gaze = R (gt - fc) normalised (rotated only, not scaled); lens distortion ignored"
        ),
        mirroring="none: pano does not mirror right-eye samples (GazeHub does)",
        notes=(
            "gaze_angles are computed by pano from gt - fc after normalisation "
            "(yaw = atan2(-x, -z), pitch = asin(-y)); head_xyz = -(R R_head)[:, 2], the "
            "direction the face points to; gaze_origin = fc in the original camera, mm"
        ),
    )


def protocol(persons: Sequence[str]) -> GazeProtocol:
    """Leave-one-person-out over the persons present."""
    return GazeProtocol(
        kind="lopo",
        folds=tuple(persons),
        description="leave-one-person-out: each person is the test fold once",
    )


@dataclass(frozen=True)
class RawIndex:
    """Every annotation line of the persons read, checked, in person then file order.

    ``rows[i]`` is ``(person, RawRow)``; ``cameras[person]`` its calibration; ``files`` the
    annotation and calibration files read (for provenance and the fingerprint, SHA-256 over
    their bytes, in order); ``images_digest`` the SHA-256 of every image's path and byte
    size (checked when a complete group is ingested again).
    """

    root: Path
    persons: tuple[str, ...]
    rows: tuple[tuple[str, RawRow], ...]
    cameras: dict[str, CameraCalibration]
    files: tuple[Path, ...]
    fingerprint: str
    images_digest: str = ""

    def __len__(self) -> int:
        return len(self.rows)

    def subset(self, start: int, stop: int) -> RawIndex:
        """Rows ``start:stop`` only, with the cameras they need (what one task carries)."""
        rows = self.rows[start:stop]
        persons = tuple(dict.fromkeys(p for p, _ in rows))
        return RawIndex(
            root=self.root,
            persons=persons,
            rows=rows,
            cameras={p: self.cameras[p] for p in persons},
            files=(),
            fingerprint=self.fingerprint,
        )


def scan_raw(
    root: str | Path, persons: Sequence[str] | None = None, limit: int | None = None
) -> RawIndex:
    """Read and check every ``pXX.txt`` and ``Camera.mat``, and every image's JPEG markers.

    Nothing is decoded or warped; a bad line, a bad calibration file, a missing image or
    one cut short or not a JPEG at all (:func:`check_jpeg_ends`) is found here, before a
    store is touched. ``persons`` selects persons (default: all
    present); ``limit`` keeps the first ``limit`` lines of each person (previews, tests).
    """
    import hashlib

    root = Path(root)
    present = list_persons(root)
    chosen = list(persons) if persons else present
    unknown = sorted(set(chosen) - set(present))
    if unknown:
        raise InputFileNotFoundError(
            f"{root}: no person folder with pXX.txt for {', '.join(unknown)}; "
            f"present: {', '.join(present)}"
        )
    digest = hashlib.sha256()
    images = hashlib.sha256()
    rows: list[tuple[str, RawRow]] = []
    cameras: dict[str, CameraCalibration] = {}
    files: list[Path] = []
    for person in chosen:
        pdir = root / person
        txt = pdir / f"{person}.txt"
        person_rows = read_annotations(txt)[:limit]
        for r in person_rows:
            check_jpeg_ends(pdir / r.image, f"{txt}: line {r.line}")
            images.update(f"{person}/{r.image}\0{(pdir / r.image).stat().st_size}\0".encode())
        cam_path = pdir / "Calibration" / "Camera.mat"
        cameras[person] = read_camera(cam_path)
        read_screen(pdir / "Calibration")
        for f in (txt, cam_path):
            files.append(f)
            digest.update(f.read_bytes())
        digest.update(f"{person}:{len(person_rows)}".encode())
        rows.extend((person, r) for r in person_rows)
    check_face_model(root)
    return RawIndex(
        root=root,
        persons=tuple(chosen),
        rows=tuple(rows),
        cameras=cameras,
        files=tuple(files),
        fingerprint=digest.hexdigest(),
        images_digest=images.hexdigest(),
    )


def normalise_index_rows(
    index: RawIndex,
    start: int,
    stop: int,
    params: NormalisationParams | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = DEFAULT_BATCH,
) -> GazeSamples:
    """Decode, normalise and return rows ``start:stop`` of ``index`` (one store part).

    Rows may span persons; each person's rows use that person's camera.
    """
    params = params or NormalisationParams()
    dev = torch.device(device)
    sel = index.rows[start:stop]
    parts: list[dict[str, np.ndarray]] = []
    i = 0
    while i < len(sel):
        person = sel[i][0]
        j = i
        while j < len(sel) and sel[j][0] == person and j - i < batch_size:
            j += 1
        rows = [r for _, r in sel[i:j]]
        parts.append(normalise_rows(index.root / person, rows, index.cameras[person], params, dev))
        i = j
    arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return GazeSamples(
        subject=np.array([p for p, _ in sel]),
        source=np.array([f"{p}/{r.image}" for p, r in sel]),
        mirrored=np.zeros(len(sel), dtype=bool),
        **arrays,
    )
