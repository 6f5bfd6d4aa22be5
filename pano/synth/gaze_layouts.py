"""``pano synth-gaze``: synthetic faces written in GazeHub's or raw MPIIFaceGaze's file layout.

The same seed gives the same persons, set-ups and samples in both layouts (only what is
rendered and written differs), so a raw data set normalised by pano can be compared with
the GazeHub layout of the same seed.

**Raw MPIIFaceGaze** (``--layout mpiifacegaze-raw``)::

    OUT/6 points-based face model.mat       model: 3 x 6 (mm, the generic face model)
    OUT/pXX/pXX.txt                         one line per image, 28 space-separated fields
    OUT/pXX/dayNN/NNNN.jpg                  full camera images (default 640 x 480)
    OUT/pXX/Calibration/Camera.mat          cameraMatrix 3x3, distCoeffs 1x5, retval, rvecs, tvecs
    OUT/pXX/Calibration/monitorPose.mat     rvects 3x1, tvecs 3x1 (mm)
    OUT/pXX/Calibration/screenSize.mat      height_mm, height_pixel, width_mm, width_pixel

``pXX.txt`` fields: image path ``dayNN/NNNN.jpg``; the gaze point on the screen (px, 2
integers); six landmarks (x, y) (12 integers: the projections of the subject's own four
eye corners and two mouth corners); the head pose rvec (3) and tvec (3) of the generic
model fitted to those landmarks; the face centre ``fc`` (3, mm, the mean of the fitted
model's points); the gaze target ``gt`` (3, mm, camera frame); ``left``/``right``.

**GazeHub MPIIFaceGaze** (``--layout gazehub``)::

    OUT/Image/pXX/face/N.jpg    224 x 224 normalised faces (N = 1, 2, ... in label order)
    OUT/Image/pXX/left/N.jpg    36 x 60 grey, histogram-equalised eye crops
    OUT/Image/pXX/right/N.jpg
    OUT/Label/pXX.label         header + one line per image, 12 space-separated columns

``Face Left Right Origin WhichEye 3DGaze 3DHead 2DGaze 2DHead Rmat Smat GazeOrigin`` with
vectors comma-separated, as GazeHub's MPIIFaceGaze script writes them: the face is
rendered directly through GazeHub's normalised camera (600 mm, focal 960, 224 x 224, z
through ``fc``, x from the fitted head's x axis); 3DGaze = ``normalise(S R (gt - fc))``
(GazeHub's ``scale=True``; ``gaze_scale: false`` uses ``R (gt - fc)``); 3DHead = the
rotation vector of the rotation nearest ``S R R_head``; 2DGaze = [yaw, pitch] (GazeHub
convention); 2DHead = [atan2(h_x, h_z), asin(h_y)] of the head matrix's third column;
Rmat = rvec of R; Smat = diag(S); GazeOrigin = ``S R fc``. ``WhichEye == right`` samples
are mirrored: the face and eye images flipped left-right and swapped, 3DGaze x negated,
GazeOrigin x negated, 3DHead through GazeHub's ``HeadFlip`` (which negates the x entry of
the head matrix's third column and takes the nearest rotation), 2-D pairs recomputed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from pano.config import PanoConfig
from pano.device import resolve_device
from pano.geometry import camvec_to_gazehub
from pano.synth.gaze_render import View, render_faces
from pano.synth.gaze_scene import (
    FaceSubject,
    GazeSample,
    Setup,
    fit_head_pose,
    generic_face_model,
    make_sample,
    make_setup,
    make_subject,
    matrix_to_rotvec,
    nearest_rotation,
    project,
    rotvec_to_matrix,
)

FACE_MODEL_FILE = "6 points-based face model.mat"
GAZEHUB_HEADER = "Face Left Right Origin WhichEye 3DGaze 3DHead 2DGaze 2DHead Rmat Smat GazeOrigin"
GazeLayout = Literal["gazehub", "mpiifacegaze-raw"]


class GazeSynthConfig(PanoConfig):
    """What ``pano synth-gaze`` writes.

    Defaults: 5 persons x 300 with GazeHub's scaled labels; the gaze demo of
    ``docs/gaze.md`` uses 15 x 100 (since session 7; 8 x 200 before) with ``gaze_scale: false``
    (``--no-gaze-scale``).
    """

    layout: GazeLayout = Field(default="gazehub", description="gazehub or mpiifacegaze-raw")
    persons: int = Field(default=5, ge=1, le=100, description="persons p00, p01, ...")
    samples_per_person: int = Field(default=300, ge=1, le=100000, description="images per person")
    seed: int = Field(default=0, ge=0, description="random seed (same seed -> same data)")
    raw_width: int = Field(default=640, ge=64, le=4096, description="raw camera image width px")
    raw_height: int = Field(default=480, ge=48, le=4096, description="raw camera image height px")
    supersample: int = Field(default=2, ge=1, le=4, description="rays per pixel per axis")
    gaze_scale: bool = Field(
        default=True, description="GazeHub's scale=True: 3DGaze = normalise(S R g), else R g"
    )
    jpeg_quality: int = Field(default=95, ge=10, le=100, description="JPEG quality")
    batch: int = Field(default=8, ge=1, le=256, description="images rendered per call")
    device: str = Field(default="cpu", description="torch device for rendering: cpu, cuda, auto")
    workers: int = Field(default=1, ge=1, le=64, description="processes writing persons")
    threads: int = Field(
        default=1, ge=0, le=256,
        description="torch CPU threads while rendering (0: torch's default); 1 is fastest on a "
        "loaded machine, where spinning OpenMP threads slow small tensor ops ~10x",
    )  # fmt: skip


@dataclass(frozen=True)
class Annotation:
    """One raw ``pXX.txt`` line's values, as written (rounded) and read back."""

    image: str  # dayNN/NNNN.jpg
    screen_px: np.ndarray  # (2,) int
    landmarks: np.ndarray  # (6, 2) int
    head_rvec: np.ndarray  # (3,)
    head_tvec: np.ndarray  # (3,)
    face_centre: np.ndarray  # (3,) mm
    target: np.ndarray  # (3,) mm
    which_eye: str

    def line(self) -> str:
        """The 28-field text line."""
        ints = [*self.screen_px.astype(int).tolist(), *self.landmarks.astype(int).ravel().tolist()]
        floats = np.concatenate([self.head_rvec, self.head_tvec, self.face_centre, self.target])
        return " ".join([self.image, *map(str, ints), *(f"{v:.6f}" for v in floats),
                         self.which_eye])  # fmt: skip


@dataclass(frozen=True)
class Person:
    """One simulated person: subject, laptop set-up, samples and their annotations."""

    name: str
    subject: FaceSubject
    setup: Setup
    samples: list[GazeSample]
    annotations: list[Annotation]


def _r6(v: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(v, dtype=np.float64), 6)


def simulate_person(index: int, cfg: GazeSynthConfig, model: np.ndarray) -> Person:
    """Person ``index`` of seed ``cfg.seed`` (independent of the layout and of other persons)."""
    rng = np.random.default_rng([cfg.seed, index])
    name = f"p{index:02d}"
    subject = make_subject(name, rng)
    setup = make_setup((cfg.raw_width, cfg.raw_height), rng)
    n = cfg.samples_per_person
    n_days = min(n, max(2, n // 60))
    samples, annotations, counters = [], [], [0] * n_days
    for i in range(n):
        smp = make_sample(subject, setup, rng)
        day = i * n_days // n
        counters[day] += 1
        pts = subject.model_points() @ smp.head_rot.T + smp.head_t
        lm = np.round(project(pts, setup.camera_matrix))
        rvec, tvec = fit_head_pose(model, lm, setup.camera_matrix, smp.head_rot, smp.head_t)
        fc = (model.T @ rotvec_to_matrix(rvec).T + tvec).mean(axis=0)
        samples.append(smp)
        annotations.append(Annotation(
            image=f"day{day + 1:02d}/{counters[day]:04d}.jpg", screen_px=smp.screen_px.astype(int),
            landmarks=lm.astype(int), head_rvec=_r6(rvec), head_tvec=_r6(tvec),
            face_centre=_r6(fc), target=_r6(smp.target), which_eye=smp.which_eye,
        ))  # fmt: skip
    return Person(name, subject, setup, samples, annotations)


@dataclass(frozen=True)
class Normalisation:
    """GazeHub's data normalisation of one sample (``R``, ``S``, ``W``, virtual camera)."""

    rot: np.ndarray  # R (3, 3), rows = the normalised camera's axes in the camera frame
    scale: np.ndarray  # S (3, 3) = diag(1, 1, distance / |fc|)
    warp: np.ndarray  # W = C_n S R K^-1 (3, 3), raw pixels -> normalised pixels
    camera: np.ndarray  # C_n (3, 3)


def gazehub_normalisation(
    fc: np.ndarray, head_rvec: np.ndarray, camera_matrix: np.ndarray,
    focal: float = 960.0, distance: float = 600.0, size: int = 224,
) -> Normalisation:  # fmt: skip
    """GazeHub's normalisation: z axis along ``fc``, x from the head's x axis, scaled distance."""
    d = float(np.linalg.norm(fc))
    z = fc / d
    x_head = rotvec_to_matrix(head_rvec)[:, 0]
    y = np.cross(z, x_head)
    y /= np.linalg.norm(y)
    x = np.cross(y, z)
    x /= np.linalg.norm(x)
    rot = np.stack([x, y, z])
    scale = np.diag([1.0, 1.0, distance / d])
    cam = np.array([[focal, 0, size / 2], [0, focal, size / 2], [0, 0, 1.0]])
    return Normalisation(rot, scale, cam @ scale @ rot @ np.linalg.inv(camera_matrix), cam)


def head_to_2d(rvec: np.ndarray) -> np.ndarray:
    """GazeHub's 2DHead ``[yaw, pitch]`` (radians; (0, 0) = a frontal head).

    Of the head matrix's third column ``h``: ``yaw = atan2(h_x, h_z)``, ``pitch = asin(h_y)``.
    """
    h = rotvec_to_matrix(rvec)[:, 2]
    return np.array([np.arctan2(h[0], h[2]), np.arcsin(np.clip(h[1], -1, 1))])


def head_flip(rvec: np.ndarray) -> np.ndarray:
    """GazeHub's ``HeadFlip``: negate the x entry of the third column, nearest rotation."""
    m = rotvec_to_matrix(rvec).copy()
    m[0, 2] = -m[0, 2]
    return matrix_to_rotvec(nearest_rotation(m))


def crop_eye(face: np.ndarray, corner_a: np.ndarray, corner_b: np.ndarray) -> np.ndarray:
    """GazeHub's eye crop of a face image: uint8 RGB (H, W, 3) -> uint8 grey (36, 60).

    1.5 x the corner distance wide, 36:60 high, resized to 60 x 36, grey (OpenCV's RGB->grey
    weights applied to the BGR image, as GazeHub's script calls it) and histogram-equalised.
    """
    import cv2

    size_y, size_x = face.shape[:2]
    cx, cy = (corner_a[0] + corner_b[0]) / 2, (corner_a[1] + corner_b[1]) / 2
    width = abs(corner_a[0] - corner_b[0]) * 1.5
    height = 36 * width / 60
    x1, y1 = max(cx - width / 2, 0), max(cy - height / 2, 0)
    x2, y2 = min(x1 + width, size_x), min(y1 + height, size_y)
    crop = face[int(y1) : int(y2), int(x1) : int(x2)][..., ::-1]  # BGR, as cv2.imread gives
    crop = cv2.resize(np.ascontiguousarray(crop), (60, 36))
    return cv2.equalizeHist(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY))


def gazehub_label(ann: Annotation, norm: Normalisation, gaze_scale: bool
                  ) -> dict[str, np.ndarray]:  # fmt: skip
    """The label vectors of one sample before mirroring (GazeHub's MPIIFaceGaze script)."""
    m = norm.scale @ norm.rot
    g = ann.target - ann.face_centre
    g = (m if gaze_scale else norm.rot) @ g
    head = matrix_to_rotvec(nearest_rotation(m @ rotvec_to_matrix(ann.head_rvec)))
    return {"gaze": g / np.linalg.norm(g), "head": head, "origin": m @ ann.face_centre,
            "rmat": matrix_to_rotvec(norm.rot), "smat": np.diag(norm.scale).copy()}  # fmt: skip


def _fmt(v: np.ndarray) -> str:
    return ",".join(repr(float(x)) for x in v)


def _batches(n: int, size: int) -> list[range]:
    return [range(i, min(n, i + size)) for i in range(0, n, size)]


def _imwrite(path: Path, image: np.ndarray, quality: int) -> None:
    import cv2

    from pano.errors import InputDataError

    path.parent.mkdir(parents=True, exist_ok=True)
    arr = image[..., ::-1] if image.ndim == 3 else image
    if not cv2.imwrite(str(path), np.ascontiguousarray(arr), [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise InputDataError(f"{path}: could not write the JPEG; check the folder is writable")


@dataclass(frozen=True)
class GazeSynthResult:
    """What :func:`write_synthetic_gaze` wrote and how long rendering took."""

    out: Path
    layout: str
    persons: int
    images: int
    render_s: float
    total_s: float


def write_synthetic_gaze(out: Path, cfg: GazeSynthConfig) -> GazeSynthResult:
    """Simulate ``cfg.persons`` persons and write them in ``cfg.layout`` under ``out``.

    With ``cfg.workers > 1`` persons are written in that many processes (each person's data
    depends only on the seed and its index, so the files are the same).
    """
    t0 = time.perf_counter()
    resolve_device(cfg.device)  # a bad --device fails before anything is written
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = generic_face_model()
    indices = list(range(cfg.persons))
    if cfg.workers > 1 and cfg.persons > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("spawn")  # no forked torch/OpenMP state
        with ProcessPoolExecutor(min(cfg.workers, cfg.persons), mp_context=ctx) as pool:
            done = list(pool.map(_write_person, [out] * len(indices), [cfg] * len(indices),
                                 indices))  # fmt: skip
    else:
        done = [_write_person(out, cfg, i) for i in indices]
    if cfg.layout == "mpiifacegaze-raw":
        import scipy.io

        scipy.io.savemat(str(out / FACE_MODEL_FILE), {"model": model})
    return GazeSynthResult(out, cfg.layout, cfg.persons, sum(n for n, _ in done),
                           sum(s for _, s in done), time.perf_counter() - t0)  # fmt: skip


def _write_person(out: Path, cfg: GazeSynthConfig, index: int) -> tuple[int, float]:
    """Simulate and write person ``index``; returns (images, seconds spent rendering)."""
    threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        person = simulate_person(index, cfg, generic_face_model())
        dev = resolve_device(cfg.device)
        if cfg.layout == "gazehub":
            secs = _write_gazehub_person(out, person, cfg, dev)
        else:
            secs = _write_raw_person(out, person, cfg, dev)
    finally:
        torch.set_num_threads(threads)
    return len(person.samples), secs


def _write_raw_person(out: Path, person: Person, cfg: GazeSynthConfig, dev: torch.device
                      ) -> float:  # fmt: skip
    import scipy.io

    root = out / person.name
    cal = root / "Calibration"
    cal.mkdir(parents=True, exist_ok=True)
    setup = person.setup
    rng = np.random.default_rng([cfg.seed, 1000 + int(person.name[1:])])
    scipy.io.savemat(str(cal / "Camera.mat"), {
        "cameraMatrix": setup.camera_matrix, "distCoeffs": np.zeros((1, 5)),
        "retval": np.array([[rng.uniform(0.1, 0.4)]]),
        "rvecs": rng.normal(0, 0.3, (3, 3)),
        "tvecs": rng.normal(0, 50, (3, 3)) + np.array([0, 0, 400]),
    })  # fmt: skip
    scipy.io.savemat(
        str(cal / "monitorPose.mat"),
        {"rvects": setup.monitor_rvec.reshape(3, 1), "tvecs": setup.monitor_tvec.reshape(3, 1)},
    )
    (wp, hp), (wmm, hmm) = setup.screen_px, setup.screen_mm
    scipy.io.savemat(
        str(cal / "screenSize.mat"),
        {
            "height_mm": np.array([[hmm]]),
            "height_pixel": np.array([[hp]], dtype=np.float64),
            "width_mm": np.array([[wmm]]),
            "width_pixel": np.array([[wp]], dtype=np.float64),
        },
    )
    w, h, s = cfg.raw_width, cfg.raw_height, cfg.supersample
    view = View(setup.camera_matrix)
    secs = 0.0
    for idx in _batches(len(person.samples), cfg.batch):
        t = time.perf_counter()
        imgs = render_faces([person.subject] * len(idx), [person.samples[i] for i in idx],
                            [view] * len(idx), w, h, s, dev)  # fmt: skip
        secs += time.perf_counter() - t
        for i, img in zip(idx, imgs, strict=True):
            _imwrite(root / person.annotations[i].image, img, cfg.jpeg_quality)
    (root / f"{person.name}.txt").write_text("".join(a.line() + "\n" for a in person.annotations))
    return secs


def _write_gazehub_person(out: Path, person: Person, cfg: GazeSynthConfig, dev: torch.device
                          ) -> float:  # fmt: skip
    size, s = 224, cfg.supersample
    img_root = out / "Image" / person.name
    lines = [GAZEHUB_HEADER]
    secs = 0.0
    k = person.setup.camera_matrix
    for idx in _batches(len(person.samples), cfg.batch):
        anns = [person.annotations[i] for i in idx]
        norms = [gazehub_normalisation(a.face_centre, a.head_rvec, k) for a in anns]
        views = [View(_virtual_camera(nm), nm.rot) for nm in norms]
        t = time.perf_counter()
        faces = render_faces([person.subject] * len(idx), [person.samples[i] for i in idx],
                             views, size, size, s, dev)  # fmt: skip
        secs += time.perf_counter() - t
        for nm, i, face in zip(norms, idx, faces, strict=True):
            lines.append(_gazehub_sample(img_root, person, i, nm, face, cfg))
    label = out / "Label" / f"{person.name}.label"
    label.parent.mkdir(parents=True, exist_ok=True)
    label.write_text("\n".join(lines) + "\n")
    return secs


def _virtual_camera(norm: Normalisation) -> np.ndarray:
    """Intrinsics of the camera that images the normalised face without ``S``.

    ``C_n S`` acting on ``R X`` is a pinhole whose focal is scaled by ``|fc| / distance``.
    """
    cam = norm.camera.copy()
    cam[0, 0] /= norm.scale[2, 2]
    cam[1, 1] /= norm.scale[2, 2]
    return cam


def _gazehub_sample(img_root: Path, person: Person, i: int, norm: Normalisation,
                    face: np.ndarray, cfg: GazeSynthConfig) -> str:  # fmt: skip
    ann = person.annotations[i]
    lm = np.concatenate([ann.landmarks.astype(np.float64), np.ones((6, 1))], axis=1) @ norm.warp.T
    lm = lm[:, :2] / lm[:, 2:3]
    left, right = crop_eye(face, lm[0], lm[1]), crop_eye(face, lm[2], lm[3])
    lab = gazehub_label(ann, norm, cfg.gaze_scale)
    gaze, head, origin = lab["gaze"], lab["head"], lab["origin"]
    if ann.which_eye == "right":
        face, left, right = face[:, ::-1], right[:, ::-1], left[:, ::-1]
        gaze = gaze * np.array([-1.0, 1.0, 1.0])
        head = head_flip(head)
        origin = origin * np.array([-1.0, 1.0, 1.0])
    yaw, pitch = camvec_to_gazehub(gaze)
    name = f"{i + 1}.jpg"
    for part, img in (("face", face), ("left", left), ("right", right)):
        _imwrite(img_root / part / name, img, cfg.jpeg_quality)
    p = person.name
    return " ".join([
        f"{p}/face/{name}", f"{p}/left/{name}", f"{p}/right/{name}", ann.image, ann.which_eye,
        _fmt(gaze), _fmt(head), _fmt(np.array([yaw, pitch])), _fmt(head_to_2d(head)),
        _fmt(lab["rmat"]), _fmt(lab["smat"]), _fmt(origin),
    ])  # fmt: skip
