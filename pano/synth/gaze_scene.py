"""Synthetic gaze scenes: subjects, laptop set-ups and samples in the camera frame (mm).

The geometry of MPIIFaceGaze's recordings: a laptop camera above the screen, a person in
front of it looking at points on the screen. Everything is in the **camera frame**, in
**millimetres**, with OpenCV/GazeHub axes: ``x`` right in the image, ``y`` down, ``z``
forward (out of the camera, towards the person).

**Head frame** (the frame of the 6-point face model, as in the data set): origin between
the eyes at eye level, ``x`` towards the image's right for a frontal face (the person's
left), ``y`` down (chin), ``z`` into the head (away from the camera for a frontal face).
A head pose is ``(R_h, t_h)`` with ``X_cam = R_h @ X_head + t_h``; a frontal head has
``R_h = I``. The six face-model points are, in this order (the data set's): the two
corners of the image-left eye (outer, inner), of the image-right eye (inner, outer), then
the image-left and image-right mouth corners.

The screen: ``gt = R_mon @ [x_mm, y_mm, 0] + t_mon`` with ``(x_mm, y_mm)`` from the
screen's top-left corner (x right, y down as the person sees it), as in MPIIFaceGaze's
``monitorPose.mat``. The gaze label is ``gt - fc``, ``fc`` = the mean of the six model
points under the *fitted* head pose (the data set's definition); each eye itself looks
from its own centre at ``gt`` (vergence).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Skin, iris and hair colour palettes (RGB in [0, 1]) the subjects draw from.
SKIN_TONES = np.array(
    [[0.96, 0.80, 0.69], [0.90, 0.72, 0.58], [0.80, 0.60, 0.46], [0.66, 0.47, 0.34],
     [0.52, 0.36, 0.25], [0.40, 0.27, 0.19], [0.93, 0.76, 0.66], [0.85, 0.66, 0.55]]
)  # fmt: skip
IRIS_COLOURS = np.array(
    [[0.35, 0.20, 0.10], [0.22, 0.13, 0.07], [0.30, 0.45, 0.65], [0.35, 0.50, 0.35],
     [0.50, 0.38, 0.20], [0.45, 0.55, 0.62], [0.15, 0.10, 0.06]]
)  # fmt: skip
HAIR_COLOURS = np.array(
    [[0.08, 0.06, 0.05], [0.25, 0.16, 0.09], [0.45, 0.32, 0.18], [0.70, 0.58, 0.38],
     [0.40, 0.38, 0.36], [0.55, 0.25, 0.12]]
)  # fmt: skip
#: Screens (width px, height px) the set-ups draw from.
SCREENS_PX = ((1280, 800), (1440, 900), (1920, 1080), (1366, 768))


def rotvec_to_matrix(rvec: np.ndarray) -> np.ndarray:
    """An OpenCV rotation vector (axis x angle, radians) ``(3,)`` -> rotation ``(3, 3)``.

    The data set's files hold OpenCV rvecs (``cv2.solvePnP``, ``monitorPose.mat``), so this
    is OpenCV's own ``cv2.Rodrigues`` (per call ~100x faster than a batched torch route).
    """
    return np.asarray(cv2.Rodrigues(np.asarray(rvec, dtype=np.float64).reshape(3, 1))[0])


def matrix_to_rotvec(rot: np.ndarray) -> np.ndarray:
    """Rotation ``(3, 3)`` -> OpenCV rotation vector ``(3,)`` radians (``cv2.Rodrigues``)."""
    return np.asarray(cv2.Rodrigues(np.asarray(rot, dtype=np.float64))[0]).reshape(3)


def nearest_rotation(mat: np.ndarray) -> np.ndarray:
    """The rotation nearest a 3x3 matrix (``U V^T`` of its SVD), as OpenCV's Rodrigues takes it."""
    u, _, vt = np.linalg.svd(np.asarray(mat, dtype=np.float64))
    return u @ vt


@dataclass(frozen=True)
class FaceSubject:
    """One synthetic person: face geometry (head frame, mm) and colours (RGB in [0, 1]).

    The face is an ellipsoid with centre ``face_centre`` and semi-axes ``face_axes``; the
    eyeballs (radius ``eye_radius``) sit at ``(+-eye_x, 0, eye_z)``; each eye opening spans
    ``+-eye_half_width`` around ``x = +-eye_x`` with its outer corner ``corner_tilt`` mm
    higher; the lids open ``lid_upper`` / ``lid_lower`` mm above/below at the middle for a
    straight gaze; the mouth corners are at ``(+-mouth_half_width, mouth_y)``.
    """

    name: str
    face_centre: tuple[float, float, float]
    face_axes: tuple[float, float, float]
    eye_x: float
    eye_z: float
    eye_radius: float
    iris_radius: float
    eye_half_width: float
    corner_tilt: float
    lid_upper: float
    lid_lower: float
    brow_height: float
    mouth_half_width: float
    mouth_y: float
    hairline: float
    skin: tuple[float, float, float]
    iris: tuple[float, float, float]
    hair: tuple[float, float, float]

    def face_z(self, x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
        """Z (head frame, mm) of the front of the face ellipsoid at ``(x, y)``."""
        cx, cy, cz = self.face_centre
        ax, ay, az = self.face_axes
        inside = 1.0 - ((np.asarray(x) - cx) / ax) ** 2 - ((np.asarray(y) - cy) / ay) ** 2
        return cz - az * np.sqrt(np.clip(inside, 0.0, None))

    def model_points(self) -> np.ndarray:
        """The subject's own six face points ``(6, 3)`` (head frame, mm), the data set's order."""
        x_in, x_out = self.eye_x - self.eye_half_width, self.eye_x + self.eye_half_width
        xs = np.array([-x_out, -x_in, x_in, x_out, -self.mouth_half_width, self.mouth_half_width])
        ys = np.array([-self.corner_tilt, 0.0, 0.0, -self.corner_tilt, self.mouth_y, self.mouth_y])
        return np.stack([xs, ys, self.face_z(xs, ys)], axis=-1)


def _rgb(v: np.ndarray) -> tuple[float, float, float]:
    r, g, b = np.clip(v, 0.0, 1.0).tolist()
    return (r, g, b)


def make_subject(name: str, rng: np.random.Generator) -> FaceSubject:
    """Draw one subject's face geometry and colours."""
    axes = (rng.uniform(70, 80), rng.uniform(100, 115), rng.uniform(80, 95))
    centre_y = rng.uniform(22, 30)
    bridge_z = -4.0  # the face surface between the eyes (the head-frame origin) sits 4 mm ahead
    centre_z = bridge_z + axes[2] * np.sqrt(1 - (centre_y / axes[1]) ** 2)
    eye_x = rng.uniform(29.5, 34.0)
    eye_radius = rng.uniform(11.5, 12.5)
    sub = FaceSubject(
        name=name,
        face_centre=(0.0, centre_y, centre_z),
        face_axes=axes,
        eye_x=eye_x,
        eye_z=0.0,
        eye_radius=eye_radius,
        iris_radius=rng.uniform(5.6, 6.3),
        eye_half_width=rng.uniform(12.0, 14.5),
        corner_tilt=rng.uniform(0.0, 2.5),
        lid_upper=rng.uniform(4.5, 6.5),
        lid_lower=rng.uniform(3.5, 5.0),
        brow_height=rng.uniform(12.0, 16.0),
        mouth_half_width=rng.uniform(22.0, 29.0),
        mouth_y=rng.uniform(64.0, 74.0),
        hairline=rng.uniform(-62.0, -45.0),
        skin=_rgb(SKIN_TONES[rng.integers(len(SKIN_TONES))] + rng.normal(0, 0.02, 3)),
        iris=_rgb(IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))] + rng.normal(0, 0.03, 3)),
        hair=_rgb(HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))]),
    )  # fmt: skip
    # The eyeball's front pokes 1.5 mm out of the face surface at the eye's centre.
    eye_z = float(sub.face_z(np.array(eye_x), np.array(0.0))) + eye_radius - 1.5
    return FaceSubject(**{**sub.__dict__, "eye_z": eye_z})


def generic_face_model() -> np.ndarray:
    """The shared 6-point face model ``(3, 6)`` (mm, head frame): the mean subject's points.

    Like the data set's ``6 points-based face model.mat`` (variable ``model``, 3 x 6), it
    is one generic model for everyone; each subject's own points differ from it.
    """
    rng = np.random.default_rng(0)
    pts = np.mean([make_subject("m", rng).model_points() for _ in range(64)], axis=0)
    return np.ascontiguousarray(pts.T)


@dataclass(frozen=True)
class Setup:
    """One person's laptop: camera intrinsics, image size and the screen's pose and size."""

    camera_matrix: np.ndarray  # (3, 3)
    image_size: tuple[int, int]  # (width, height) px
    monitor_rvec: np.ndarray  # (3,) axis-angle of R_mon
    monitor_tvec: np.ndarray  # (3,) mm, the screen's top-left corner
    screen_px: tuple[int, int]  # (width, height)
    screen_mm: tuple[float, float]  # (width, height)

    def screen_to_camera(self, px: np.ndarray) -> np.ndarray:
        """Screen points ``(N, 2)`` px -> camera-frame points ``(N, 3)`` mm."""
        scale = np.array(self.screen_mm) / np.array(self.screen_px)
        mm = np.asarray(px, dtype=np.float64) * scale
        local = np.concatenate([mm, np.zeros((len(mm), 1))], axis=1)
        return local @ rotvec_to_matrix(self.monitor_rvec).T + self.monitor_tvec


def make_setup(image_size: tuple[int, int], rng: np.random.Generator) -> Setup:
    """A laptop: camera centred above a screen tilted back by 5-20 degrees."""
    w, h = image_size
    f = w * rng.uniform(0.95, 1.1)
    k = np.array([[f, 0, w / 2 + rng.normal(0, 0.01 * w)], [0, f, h / 2 + rng.normal(0, 0.01 * h)],
                  [0, 0, 1.0]])  # fmt: skip
    wp, hp = SCREENS_PX[rng.integers(len(SCREENS_PX))]
    wmm = rng.uniform(290, 345)
    hmm = wmm * hp / wp
    tilt = np.deg2rad(rng.uniform(5, 20))
    x_s = np.array([-1.0, 0.0, 0.0])  # the screen's x (the person's right) is the camera's -x
    y_s = np.array([0.0, np.cos(tilt), np.sin(tilt)])  # down the screen, bottom towards the person
    r_mon = np.stack([x_s, y_s, np.cross(x_s, y_s)], axis=1)
    t_mon = np.array([wmm / 2 + rng.normal(0, 3), rng.uniform(8, 15), rng.normal(0, 3)])
    return Setup(k, (w, h), matrix_to_rotvec(r_mon), t_mon, (wp, hp), (wmm, hmm))


@dataclass(frozen=True)
class GazeSample:
    """One sample's scene (camera frame, mm) and imaging conditions.

    ``head_rot``/``head_t``: the true head pose; ``target``: the 3-D gaze target ``gt``;
    ``screen_px``: the screen point it came from; ``light``: unit vector towards the light;
    ``light_power``, ``ambient``: shading weights; ``pupil_mm``: pupil radius; ``noise``:
    sensor noise sigma (fraction of full scale); ``background``: RGB; ``which_eye``: the
    data set's evaluation-subset eye ("left"/"right"); ``seed``: of the sensor noise.
    """

    head_rot: np.ndarray
    head_t: np.ndarray
    target: np.ndarray
    screen_px: np.ndarray
    light: np.ndarray
    light_power: float
    ambient: float
    pupil_mm: float
    noise: float
    background: np.ndarray
    which_eye: str
    seed: int


def _frame_facing(direction: np.ndarray) -> np.ndarray:
    """Head rotation whose face (head ``-z``) points along ``direction``, head x ~ camera x."""
    z_h = -direction / np.linalg.norm(direction)
    x_h = np.array([1.0, 0.0, 0.0]) - z_h[0] * z_h
    x_h /= np.linalg.norm(x_h)
    return np.stack([x_h, np.cross(z_h, x_h), z_h], axis=1)


def make_sample(
    subject: FaceSubject, setup: Setup, rng: np.random.Generator, head_range_deg: float = 12.0
) -> GazeSample:
    """Draw one sample: a screen point, a head pose facing roughly the screen, the lighting."""
    wp, hp = setup.screen_px
    px = np.array([rng.integers(0, wp), rng.integers(0, hp)], dtype=np.float64)
    target = setup.screen_to_camera(px[None])[0]
    centre = np.array([rng.normal(0, 35), rng.normal(15, 25), rng.uniform(430, 650)])
    screen_mid = setup.screen_to_camera(np.array([[wp / 2, hp / 2]]))[0]
    aim = 0.6 * screen_mid + 0.4 * target
    rot = _frame_facing(aim - centre)
    noise = np.deg2rad(rng.normal(0, head_range_deg / 2, 3)) * np.array([1, 1, 0.5])
    rot = rot @ rotvec_to_matrix(noise)
    fc_head = subject.model_points().mean(axis=0)
    head_t = centre - rot @ fc_head
    light = np.array([rng.normal(0, 0.6), rng.normal(-0.4, 0.4), -1.0])
    return GazeSample(
        head_rot=rot, head_t=head_t, target=target, screen_px=px,
        light=light / np.linalg.norm(light), light_power=float(rng.uniform(0.5, 0.9)),
        ambient=float(rng.uniform(0.2, 0.45)), pupil_mm=float(rng.uniform(1.5, 3.0)),
        noise=float(rng.uniform(0.005, 0.025)),
        background=rng.uniform(0.1, 0.8, 3), which_eye="left" if rng.random() < 0.5 else "right",
        seed=int(rng.integers(2**31)),
    )  # fmt: skip


def eye_centres(subject: FaceSubject, rot: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Both eyeball centres ``(2, 3)`` in the camera frame (image-left eye first)."""
    local = np.array([[-subject.eye_x, 0.0, subject.eye_z], [subject.eye_x, 0.0, subject.eye_z]])
    return local @ rot.T + t


def project(points: np.ndarray, camera_matrix: np.ndarray) -> np.ndarray:
    """Pinhole projection of camera-frame points ``(N, 3)`` -> pixels ``(N, 2)`` (no distortion)."""
    p = points @ camera_matrix.T
    return p[:, :2] / p[:, 2:3]


def fit_head_pose(
    model: np.ndarray, landmarks: np.ndarray, camera_matrix: np.ndarray,
    rot0: np.ndarray, t0: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The data set's head pose: the generic model ``(3, 6)`` fitted to the 2-D landmarks.

    OpenCV's iterative PnP (Levenberg-Marquardt) started at the true pose ``(rot0, t0)``;
    returns ``(rvec (3,), tvec (3,))``.
    """
    ok, rvec, tvec = cv2.solvePnP(
        np.ascontiguousarray(model.T), np.ascontiguousarray(landmarks, dtype=np.float64),
        camera_matrix, np.zeros(5), matrix_to_rotvec(rot0).reshape(3, 1).copy(),
        t0.reshape(3, 1).copy(), True, cv2.SOLVEPNP_ITERATIVE,
    )  # fmt: skip
    if not ok:  # pragma: no cover - LM from the true pose does not fail on these points
        return matrix_to_rotvec(rot0), t0
    return rvec.reshape(3), tvec.reshape(3)
