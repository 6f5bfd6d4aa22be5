"""Eye crops for gaze models with an eye stream, cut from a normalised face without landmarks.

GazeHub's MPIIFaceGaze crops (the ones ``model.eyes: true`` models are trained on) are cut
from the **224 x 224 normalised face** (virtual camera at 600 mm, focal 960 px) around the
normalised positions of each eye's two corner landmarks: centre = the corners' midpoint,
width = 1.5 x the corners' horizontal distance, height = 36/60 of the width (top-left
clamped to the image, then the bottom-right), resized to 60 x 36 px, converted to grey and
histogram-equalised (:func:`crop_eye`). ``left`` is the eye on the **image's left** of the
normalised face (landmarks 1-2: the person's right eye), ``right`` the other one.

Inference has a face box but no landmarks, so the eyes are located in the normalised face:

1. **Prior** (:func:`project_eye_corners`): the four eye corners of a generic 6-point face
   model (MPIIFaceGaze's, :data:`MPIIFACEGAZE_FACE_MODEL`, or a data set's own) placed at
   the assumed face centre with the assumed head rotation and projected through the
   normalisation (``C_norm S R``).
2. **Haar** (:func:`find_eyes`): OpenCV's ``haarcascade_eye.xml`` (shipped in the
   ``opencv-python-headless`` wheel) on the equalised grey normalised face; per eye, the
   detection whose centre is nearest its prior centre, within ``search`` x the prior's
   inter-eye distance. Found eyes give the crop centres; when both are found the corner
   distance is the measured inter-eye distance x the face model's ratio (corner distance /
   inter-eye distance, :func:`corner_ratio`; 0.358 for MPIIFaceGaze's), otherwise the prior's.

All pixel coordinates here are of the normalised face image: x right, y down, origin at the
top-left pixel's centre (OpenCV's convention).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from pano.errors import ConfigError, ShapeError

__all__ = [
    "EYE_CROP_HW",
    "EYE_MODES",
    "MPIIFACEGAZE_FACE_MODEL",
    "EyeMode",
    "EyeSpots",
    "FaceEyes",
    "corner_ratio",
    "crop_box",
    "crop_eye",
    "crop_eyes",
    "eyes_of_faces",
    "eye_cascade",
    "find_eyes",
    "project_eye_corners",
]

#: GazeHub's eye crop (height, width), pixels.
EYE_CROP_HW = (36, 60)

#: MPIIFaceGaze's generic 6-point face model (``6 points-based face model.mat``, variable
#: ``model`` transposed), ``(6, 3)`` mm in face-model coordinates (x along the eye line towards
#: the image's right for a frontal face, y down, z into the face), the data set's order:
#: image-left eye outer, inner corner; image-right eye inner, outer; image-left, image-right
#: mouth corner. Its face centre is the mean of the six points.
MPIIFACEGAZE_FACE_MODEL = np.array(
    [[-45.0967681126441, -0.483773045049757, 2.39702984214363],
     [-21.3128582097374, 0.483773045049757, -2.39702984214363],
     [21.3128582097374, 0.483773045049757, -2.39702984214363],
     [45.0967681126441, -0.483773045049757, 2.39702984214363],
     [-26.2995769055718, 68.5950352778326, 0.0],
     [26.2995769055718, 68.5950352778326, 0.0]]
)  # fmt: skip


def corner_ratio(face_model: np.ndarray) -> float:
    """One eye's corner distance / the distance between the two eye centres (x only)."""
    m = _model(face_model)
    widths = abs(m[1, 0] - m[0, 0]) + abs(m[3, 0] - m[2, 0])
    return float(widths / 2 / abs((m[2, 0] + m[3, 0]) / 2 - (m[0, 0] + m[1, 0]) / 2))


def _model(face_model: np.ndarray) -> np.ndarray:
    m = np.asarray(face_model, dtype=np.float64)
    if m.shape == (3, 6):
        m = m.T
    if m.shape != (6, 3):
        raise ShapeError(f"face model must be (6, 3) or (3, 6) mm, got {m.shape}")
    return m


#: ``haar``: both eyes must be found by the cascade; ``auto``: the prior stands in for an eye
#: the cascade misses; ``model``: the prior only.
EyeMode = Literal["haar", "auto", "model"]
EYE_MODES: tuple[str, ...] = ("haar", "auto", "model")


@dataclass(frozen=True)
class EyeSpots:
    """Where one face's eyes are in its normalised image (pixels).

    Attributes:
        centres: ``(2, 2)`` crop centres ``[[x_left, y_left], [x_right, y_right]]``.
        widths: ``(2,)`` corner distance of each eye (the crop is 1.5 x this wide).
        status: ``haar`` (both found by the cascade), ``haar+model`` (one found, the other
            from the prior), ``model`` (the prior only) or ``none`` (not found: no crops).
    """

    centres: np.ndarray
    widths: np.ndarray
    status: str


def project_eye_corners(
    face_centre: torch.Tensor,
    head_rotation: torch.Tensor,
    projection: torch.Tensor,
    face_model: np.ndarray = MPIIFACEGAZE_FACE_MODEL,
) -> np.ndarray:
    """A generic face model's eye corners in each normalised face image, ``(B, 4, 2)`` px.

    Args:
        face_centre: ``(B, 3)`` face centre in the real camera (x right, y down, z forward),
            mm; the face model's centre (the mean of its six points) is put there.
        head_rotation: ``(B, 3, 3)`` face model -> camera rotation.
        projection: ``(B, 3, 3)`` real camera (mm) -> normalised image (px), ``C_norm S R``.
        face_model: ``(6, 3)`` (or ``(3, 6)``) points, mm (:data:`MPIIFACEGAZE_FACE_MODEL`).

    Returns:
        Corner pixels in the data set's order (image-left eye outer, inner; image-right eye
        inner, outer).
    """
    if face_centre.ndim != 2 or face_centre.shape[1] != 3:
        raise ShapeError(f"face_centre must be (B, 3), got {tuple(face_centre.shape)}")
    m = _model(face_model)
    local = torch.as_tensor(m[:4] - m.mean(axis=0), dtype=torch.float64)
    fc = face_centre.to(torch.float64)
    pts = fc[:, None, :] + local[None] @ head_rotation.to(torch.float64).transpose(1, 2)
    q = pts @ projection.to(torch.float64).transpose(1, 2)
    return (q[..., :2] / q[..., 2:]).cpu().numpy()


def eye_cascade() -> Any:
    """OpenCV's ``haarcascade_eye.xml`` classifier (from ``cv2.data.haarcascades``).

    Raises:
        ConfigError: the file is missing or does not load.
    """
    import cv2

    path = Path(cv2.data.haarcascades) / "haarcascade_eye.xml"  # type: ignore[attr-defined]
    clf = cv2.CascadeClassifier(str(path))
    if clf.empty():
        raise ConfigError(f"Haar cascade {path} did not load; reinstall opencv-python-headless")
    return clf


def find_eyes(
    face_rgb: np.ndarray,
    prior: np.ndarray,
    mode: EyeMode,
    cascade: Any | None = None,
    search: float = 0.35,
    ratio: float | None = None,
) -> EyeSpots:
    """Locate both eyes of one normalised face.

    Args:
        face_rgb: ``uint8 (H, W, 3)`` RGB normalised face.
        prior: ``(4, 2)`` eye corners from :func:`project_eye_corners`.
        mode: ``haar``, ``auto`` or ``model`` (:data:`EyeMode`).
        cascade: :func:`eye_cascade` (loaded when None and needed).
        search: a detection counts for an eye when its centre is within ``search`` x the
            prior's inter-eye distance of that eye's prior centre.
        ratio: corner distance / inter-eye distance when both eyes are found
            (:func:`corner_ratio` of the face model; MPIIFaceGaze's model's when None).
    """
    prior_c = np.stack([prior[0:2].mean(axis=0), prior[2:4].mean(axis=0)])
    prior_w = np.abs(np.array([prior[1, 0] - prior[0, 0], prior[3, 0] - prior[2, 0]]))
    if mode == "model":
        return EyeSpots(prior_c, prior_w, "model")
    import cv2

    clf = cascade if cascade is not None else eye_cascade()
    grey = cv2.equalizeHist(cv2.cvtColor(np.ascontiguousarray(face_rgb), cv2.COLOR_RGB2GRAY))
    dist = float(np.linalg.norm(prior_c[1] - prior_c[0]))
    lo = max(8, round(0.25 * dist))
    boxes = clf.detectMultiScale(grey, 1.1, 3, minSize=(lo, lo), maxSize=(round(dist), round(dist)))
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    found: list[np.ndarray | None] = [None, None]
    if len(boxes):
        cands = boxes[:, :2] + boxes[:, 2:] / 2 - 0.5  # box centres, pixel-centre coordinates
        d = np.linalg.norm(cands[None] - prior_c[:, None], axis=2)  # (2 eyes, candidates)
        used: set[int] = set()
        for flat in np.argsort(d, axis=None):  # nearest (eye, detection) pairs first
            eye, j = divmod(int(flat), d.shape[1])
            if d[eye, j] > search * dist:
                break
            if found[eye] is None and j not in used:
                found[eye] = cands[j]
                used.add(j)
    n = sum(f is not None for f in found)
    if n == 2:
        c = np.stack([f for f in found if f is not None])
        r = corner_ratio(MPIIFACEGAZE_FACE_MODEL) if ratio is None else ratio
        w = np.full(2, r * float(np.linalg.norm(c[1] - c[0])))
        return EyeSpots(c, w, "haar")
    if mode == "haar":
        return EyeSpots(prior_c, prior_w, "none")
    c = np.stack([f if f is not None else prior_c[k] for k, f in enumerate(found)])
    return EyeSpots(c, prior_w, "haar+model" if n else "model")


def crop_box(centre: np.ndarray, width: float, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """GazeHub's crop rectangle ``(x1, y1, x2, y2)`` (slice bounds, px) in an ``(H, W)`` image.

    Width ``1.5 x width``, height ``36/60`` of that, centred on ``centre``; the top-left is
    clamped to 0, the bottom-right to the image, and both truncated to integers (GazeHub's
    ``int()``).
    """
    h_img, w_img = size
    cw = 1.5 * float(width)
    ch = EYE_CROP_HW[0] * cw / EYE_CROP_HW[1]
    x1, y1 = max(float(centre[0]) - cw / 2, 0.0), max(float(centre[1]) - ch / 2, 0.0)
    x2, y2 = min(x1 + cw, float(w_img)), min(y1 + ch, float(h_img))
    return int(x1), int(y1), int(x2), int(y2)


def crop_eye(face_rgb: np.ndarray, centre: np.ndarray, width: float) -> np.ndarray | None:
    """One GazeHub eye crop: ``uint8 (36, 60)`` grey, equalised; None when the box is empty.

    The crop (:func:`crop_box`) is resized to 60 x 36 (bilinear), converted with OpenCV's
    RGB->grey weights applied to the BGR image (as GazeHub's script, which reads BGR with
    ``cv2.imread`` and calls ``COLOR_RGB2GRAY``: ``0.299 B + 0.587 G + 0.114 R``) and
    histogram-equalised.
    """
    import cv2

    x1, y1, x2, y2 = crop_box(centre, width, face_rgb.shape[:2])
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    bgr = np.ascontiguousarray(face_rgb[y1:y2, x1:x2, ::-1])
    small = cv2.resize(bgr, (EYE_CROP_HW[1], EYE_CROP_HW[0]))
    return np.asarray(cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)))


def crop_eyes(face_rgb: np.ndarray, spots: EyeSpots) -> np.ndarray | None:
    """Both crops ``uint8 (2, 36, 60)`` (left, right) of one face.

    None when the eyes were not found (status ``none``) or a crop box is empty.
    """
    if spots.status == "none":
        return None
    left = crop_eye(face_rgb, spots.centres[0], float(spots.widths[0]))
    right = crop_eye(face_rgb, spots.centres[1], float(spots.widths[1]))
    if left is None or right is None:
        return None
    return np.stack([left, right])


#: Size (px) of the normalised face the eye crops are cut from: GazeHub's (600 mm, focal 960).
EYE_FACE_SIZE = 224


@dataclass(frozen=True)
class FaceEyes:
    """The eyes of a batch of faces (:func:`eyes_of_faces`).

    Attributes:
        crops: ``uint8 (B, 2, 36, 60)`` left/right crops (zeros where ``ok`` is False).
        ok: ``bool (B,)`` both crops were cut.
        spots: per face, where the eyes are in its 224-px normalised face.
        image_xy: ``(B, 2, 2)`` the crop centres mapped back into the original image (px,
            x right, y down, pixel centres at integers).
    """

    crops: np.ndarray
    ok: np.ndarray
    spots: list[EyeSpots]
    image_xy: np.ndarray


def eyes_of_faces(
    image_rgb: torch.Tensor,
    face_centre: torch.Tensor,
    head_rotation: torch.Tensor,
    camera_matrix: torch.Tensor,
    mode: EyeMode = "haar",
    face_model: np.ndarray = MPIIFACEGAZE_FACE_MODEL,
    distance_mm: float = 600.0,
    focal_px: float = 960.0,
    cascade: Any | None = None,
) -> FaceEyes:
    """Normalise each face to GazeHub's 224-px face, locate its eyes, cut GazeHub's crops.

    Args:
        image_rgb: ``uint8 (H, W, 3)`` RGB frame (any device).
        face_centre: ``(B, 3)`` face centres in the real camera, mm (x right, y down, z fwd).
        head_rotation: ``(B, 3, 3)`` face model -> camera (the identity for an upright face).
        camera_matrix: ``(3, 3)`` intrinsics of the real camera, px.
        mode: :data:`EyeMode`.
        face_model: the generic 6-point model, mm (prior and corner ratio).
        distance_mm, focal_px: the virtual camera of the 224-px face (GazeHub: 600 mm,
            960 px; a model normalised to another size ``s`` with focal ``f`` implies
            ``f * 224 / s``).
        cascade: :func:`eye_cascade` (loaded when None and needed).
    """
    from pano.gaze.normalize import NormalisationParams, normalisation_transform, warp_uint8_hwc

    if mode not in EYE_MODES:
        raise ConfigError(f"--eyes {mode!r}: choose one of {', '.join(EYE_MODES)}")
    n = face_centre.shape[0]
    params = NormalisationParams(
        distance_mm=distance_mm, focal_px=focal_px, width_px=EYE_FACE_SIZE, height_px=EYE_FACE_SIZE
    )
    fc = face_centre.to(torch.float64)
    tr = normalisation_transform(fc, head_rotation, camera_matrix.to(torch.float64), params)
    faces = warp_uint8_hwc(image_rgb[None].expand(n, -1, -1, -1), tr.warp, params).cpu().numpy()
    proj = (tr.camera_norm @ tr.smat @ tr.rmat).cpu()
    prior = project_eye_corners(fc.cpu(), head_rotation.cpu(), proj, face_model)
    ratio = corner_ratio(face_model)
    clf = cascade if cascade is not None or mode == "model" else eye_cascade()
    crops = np.zeros((n, 2, *EYE_CROP_HW), np.uint8)
    ok = np.zeros(n, bool)
    spots = []
    inv = torch.linalg.inv(tr.warp.cpu()).numpy()
    image_xy = np.zeros((n, 2, 2))
    for k in range(n):
        sp = find_eyes(faces[k], prior[k], mode, clf, ratio=ratio)
        spots.append(sp)
        cut = crop_eyes(faces[k], sp)
        if cut is not None:
            crops[k], ok[k] = cut, True
        h = np.c_[sp.centres, np.ones(2)] @ inv[k].T
        image_xy[k] = h[:, :2] / h[:, 2:]
    return FaceEyes(crops, ok, spots, image_xy)
