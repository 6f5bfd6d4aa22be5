"""``pano synth-gaze``: the synthetic faces' layouts, labels and images agree.

The files are read back with plain Python (text parsing, scipy.io.loadmat, cv2.imread) from
the formats' descriptions (GazeHub's MPIIFaceGaze script; MPIIFaceGaze's readme), never
with pano's gaze readers; GazeHub's normalisation is recomputed here with OpenCV.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io

from pano.cli.app import main
from pano.geometry import camvec_to_gazehub, gazehub_to_camvec, orthodromic_distance
from pano.synth.gaze_layouts import GazeSynthConfig, write_synthetic_gaze
from pano.synth.gaze_render import PART_NAMES, View, render_parts
from pano.synth.gaze_scene import GazeSample, eye_centres, make_subject

HEADER = "Face Left Right Origin WhichEye 3DGaze 3DHead 2DGaze 2DHead Rmat Smat GazeOrigin"
TINY = {"persons": 2, "samples_per_person": 4, "raw_width": 320, "raw_height": 240,
        "supersample": 1, "seed": 3}  # fmt: skip


@pytest.fixture(scope="module")
def gazehub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gazehub")
    write_synthetic_gaze(out, GazeSynthConfig(layout="gazehub", **TINY))
    return out


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("raw")
    write_synthetic_gaze(out, GazeSynthConfig(layout="mpiifacegaze-raw", **TINY))
    return out


def _vec(field: str) -> np.ndarray:
    return np.array([float(v) for v in field.split(",")])


def _label_rows(path: Path) -> list[list[str]]:
    lines = path.read_text().splitlines()
    assert lines[0] == HEADER
    rows = [line.split(" ") for line in lines[1:]]
    assert all(len(r) == 12 for r in rows)
    return rows


def _raw_rows(path: Path) -> list[list[str]]:
    rows = [line.split(" ") for line in path.read_text().splitlines()]
    assert all(len(r) == 28 for r in rows)
    return rows


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(root.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(root)).encode())
            data = f.read_bytes()
            if f.suffix == ".mat":  # savemat's header holds the creation time
                data = data[128:]
            h.update(data)
    return h.hexdigest()


def test_gazehub_layout_parses(gazehub: Path) -> None:
    assert sorted(p.name for p in (gazehub / "Label").iterdir()) == ["p00.label", "p01.label"]
    for person in ("p00", "p01"):
        rows = _label_rows(gazehub / "Label" / f"{person}.label")
        assert len(rows) == 4
        for n, r in enumerate(rows, start=1):
            assert r[:3] == [f"{person}/face/{n}.jpg", f"{person}/left/{n}.jpg",
                             f"{person}/right/{n}.jpg"]  # fmt: skip
            face = cv2.imread(str(gazehub / "Image" / r[0]), cv2.IMREAD_UNCHANGED)
            left = cv2.imread(str(gazehub / "Image" / r[1]), cv2.IMREAD_UNCHANGED)
            right = cv2.imread(str(gazehub / "Image" / r[2]), cv2.IMREAD_UNCHANGED)
            assert face.shape == (224, 224, 3) and left.shape == right.shape == (36, 60)
            assert r[3].startswith("day") and r[3].endswith(".jpg") and r[4] in ("left", "right")
            sizes = [len(_vec(f)) for f in r[5:]]
            assert sizes == [3, 3, 2, 2, 3, 3, 3]
            gaze, g2 = _vec(r[5]), _vec(r[7])
            assert np.linalg.norm(gaze) == pytest.approx(1.0, abs=1e-12)
            # 2DGaze is [yaw, pitch] of 3DGaze in GazeHub's convention, both ways.
            yaw, pitch = camvec_to_gazehub(gaze)
            assert (yaw, pitch) == pytest.approx(tuple(g2), abs=1e-12)
            assert gazehub_to_camvec(g2[0], g2[1]) == pytest.approx(gaze, abs=1e-12)
            # GazeOrigin = S R fc sits on the normalised camera's axis at 600 mm.
            assert _vec(r[11]) == pytest.approx([0, 0, 600], abs=1e-6)
            # Gaze at a laptop screen below the camera: towards the camera, looking down.
            assert gaze[2] < 0 and g2[1] < 0.2


def test_raw_layout_parses(raw: Path) -> None:
    model = scipy.io.loadmat(str(raw / "6 points-based face model.mat"))["model"]
    assert model.shape == (3, 6)
    for person in ("p00", "p01"):
        cal = raw / person / "Calibration"
        cam = scipy.io.loadmat(str(cal / "Camera.mat"))
        assert cam["cameraMatrix"].shape == (3, 3) and cam["distCoeffs"].shape == (1, 5)
        assert {"retval", "rvecs", "tvecs"} <= set(cam)
        mon = scipy.io.loadmat(str(cal / "monitorPose.mat"))
        assert mon["rvects"].shape == (3, 1) and mon["tvecs"].shape == (3, 1)
        scr = scipy.io.loadmat(str(cal / "screenSize.mat"))
        mm = np.array([scr["width_mm"][0, 0], scr["height_mm"][0, 0]])
        px = np.array([scr["width_pixel"][0, 0], scr["height_pixel"][0, 0]])
        r_mon = cv2.Rodrigues(mon["rvects"])[0]
        k = cam["cameraMatrix"]
        rows = _raw_rows(raw / person / f"{person}.txt")
        assert len(rows) == 4 and len({r[0].split("/")[0] for r in rows}) == 2  # two days
        for r in rows:
            img = cv2.imread(str(raw / person / r[0]))
            assert img.shape == (240, 320, 3)
            vals = np.array([float(v) for v in r[1:27]])
            assert r[27] in ("left", "right")
            screen, lm = vals[0:2], vals[2:14].reshape(6, 2)
            rvec, tvec, fc, gt = vals[14:17], vals[17:20], vals[20:23], vals[23:26]
            # The target is the screen point in the camera frame (monitorPose, screenSize).
            expect = r_mon @ np.array([*(screen * mm / px), 0.0]) + mon["tvecs"][:, 0]
            assert gt == pytest.approx(expect, abs=1e-4)
            # The head pose is the generic model fitted to the landmarks; fc its mean point.
            proj = cv2.projectPoints(model.T, rvec, tvec, k, cam["distCoeffs"])[0][:, 0]
            assert np.abs(proj - lm).max() < 4.0
            face_pts = model.T @ cv2.Rodrigues(rvec)[0].T + tvec
            assert face_pts.mean(axis=0) == pytest.approx(fc, abs=1e-4)
            # Eye corners of the image-left eye lie left of the image-right eye's; mouth below.
            assert lm[0, 0] < lm[1, 0] < lm[2, 0] < lm[3, 0]
            assert lm[4, 1] > lm[0, 1] + 20 and lm[5, 1] > lm[3, 1] + 20
            assert (0 <= lm[:, 0]).all() and (lm[:, 0] < 320).all()


def _gazehub_expected(row: list[str], k: np.ndarray) -> dict[str, np.ndarray]:
    """GazeHub's MPIIFaceGaze label from a raw pXX.txt row, recomputed here with OpenCV."""
    vals = np.array([float(v) for v in row[1:27]])
    rvec, fc, gt = vals[14:17], vals[20:23], vals[23:26]
    head = cv2.Rodrigues(rvec)[0]
    dist = np.linalg.norm(fc)
    z = fc / dist
    y = np.cross(z, head[:, 0])
    y /= np.linalg.norm(y)
    x = np.cross(y, z)
    rot = np.array([x, y, z / np.linalg.norm(z)])
    m = np.diag([1, 1, 600 / dist]) @ rot
    gaze = m @ (gt - fc)
    gaze /= np.linalg.norm(gaze)
    head_rv = cv2.Rodrigues(m @ head)[0][:, 0]  # OpenCV takes the nearest rotation
    origin = m @ fc
    if row[27] == "right":
        gaze[0], origin[0] = -gaze[0], -origin[0]
        hm = cv2.Rodrigues(head_rv)[0]
        hm[0, 2] = -hm[0, 2]
        head_rv = cv2.Rodrigues(hm)[0][:, 0]
    hz = cv2.Rodrigues(head_rv)[0][:, 2]
    warp = np.array([[960, 0, 112], [0, 960, 112], [0, 0, 1.0]]) @ m @ np.linalg.inv(k)
    return {"gaze": gaze, "head": head_rv, "head2d": np.array([np.arctan2(hz[0], hz[2]),
            np.arcsin(hz[1])]), "rmat": cv2.Rodrigues(rot)[0][:, 0], "smat": np.diag(m @ rot.T),
            "origin": origin, "warp": warp}  # fmt: skip


def test_gazehub_labels_are_gazehubs_normalisation_of_the_raw_layout(
    gazehub: Path, raw: Path
) -> None:
    for person in ("p00", "p01"):
        k = scipy.io.loadmat(str(raw / person / "Calibration" / "Camera.mat"))["cameraMatrix"]
        raw_rows = _raw_rows(raw / person / f"{person}.txt")
        hub_rows = _label_rows(gazehub / "Label" / f"{person}.label")
        assert [r[0] for r in raw_rows] == [r[3] for r in hub_rows]
        assert [r[27] for r in raw_rows] == [r[4] for r in hub_rows]
        for rr, hr in zip(raw_rows, hub_rows, strict=True):
            exp = _gazehub_expected(rr, k)
            assert _vec(hr[5]) == pytest.approx(exp["gaze"], abs=1e-9)
            assert _vec(hr[6]) == pytest.approx(exp["head"], abs=1e-6)
            assert _vec(hr[8]) == pytest.approx(exp["head2d"], abs=1e-6)
            assert _vec(hr[9]) == pytest.approx(exp["rmat"], abs=1e-6)
            assert _vec(hr[10]) == pytest.approx(exp["smat"], abs=1e-12)
            assert _vec(hr[11]) == pytest.approx(exp["origin"], abs=1e-6)


def test_gazehub_face_is_the_warped_raw_image(tmp_path: Path) -> None:
    """The normalised face rendered directly matches GazeHub's warp of the raw image."""
    cfg = {"persons": 1, "samples_per_person": 3, "raw_width": 960, "raw_height": 720,
           "supersample": 1, "seed": 5}  # fmt: skip
    write_synthetic_gaze(tmp_path / "hub", GazeSynthConfig(layout="gazehub", **cfg))
    write_synthetic_gaze(tmp_path / "raw", GazeSynthConfig(layout="mpiifacegaze-raw", **cfg))
    k = scipy.io.loadmat(str(tmp_path / "raw/p00/Calibration/Camera.mat"))["cameraMatrix"]
    hub_rows = _label_rows(tmp_path / "hub/Label/p00.label")
    for rr, hr in zip(_raw_rows(tmp_path / "raw/p00/p00.txt"), hub_rows, strict=True):
        img = cv2.imread(str(tmp_path / "raw/p00" / rr[0]))
        warped = cv2.warpPerspective(img, _gazehub_expected(rr, k)["warp"], (224, 224))
        face = cv2.imread(str(tmp_path / "hub/Image" / hr[0]))
        if rr[27] == "right":
            face = face[:, ::-1]
        a, b = warped.astype(float).ravel(), face.astype(float).ravel()
        assert np.corrcoef(a, b)[0, 1] > 0.9
        assert np.abs(a - b).mean() < 12


def test_same_seed_same_files_other_seed_other_files(gazehub: Path, tmp_path: Path) -> None:
    write_synthetic_gaze(tmp_path / "a", GazeSynthConfig(layout="gazehub", **TINY))
    assert _tree_digest(tmp_path / "a") == _tree_digest(gazehub)
    write_synthetic_gaze(tmp_path / "b", GazeSynthConfig(layout="gazehub", **{**TINY, "seed": 4}))
    assert _tree_digest(tmp_path / "b") != _tree_digest(gazehub)
    cfg = GazeSynthConfig(layout="mpiifacegaze-raw", **TINY)
    write_synthetic_gaze(tmp_path / "r1", cfg)
    write_synthetic_gaze(tmp_path / "r2", cfg)
    assert _tree_digest(tmp_path / "r1") == _tree_digest(tmp_path / "r2")


# --- images against geometry, through the renderer ---------------------------------------

EYE_PARTS = [PART_NAMES.index(n) for n in ("socket", "sclera", "iris", "pupil")]
K = np.array([[800.0, 0, 320], [0, 800.0, 240], [0, 0, 1]])


def _sample(target: np.ndarray, head_t: np.ndarray | None = None, seed: int = 0) -> GazeSample:
    return GazeSample(
        head_rot=np.eye(3), head_t=np.array([0, 0, 550.0]) if head_t is None else head_t,
        target=target, screen_px=np.zeros(2), light=np.array([0, 0, -1.0]), light_power=0.7,
        ambient=0.3, pupil_mm=2.0, noise=0.0, background=np.full(3, 0.5),
        which_eye="left", seed=seed,
    )  # fmt: skip


def _render(subject, samples):  # type: ignore[no-untyped-def]
    return render_parts([subject] * len(samples), samples, [View(K)] * len(samples), 640, 480)


def _centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


def _project(p: np.ndarray) -> np.ndarray:
    q = K @ p
    return q[:2] / q[2]


def test_looking_into_the_camera_centres_the_pupils() -> None:
    sub = make_subject("p00", np.random.default_rng(1))
    smp = _sample(np.zeros(3))
    _, parts = _render(sub, [smp])
    pupil = parts[0] == PART_NAMES.index("pupil")
    for c in eye_centres(sub, smp.head_rot, smp.head_t):
        mine = pupil.copy()
        half = _project(c)[0]
        mine[:, : int(half) - 40] = False
        mine[:, int(half) + 40 :] = False
        assert mine.sum() > 20
        # Looking along the ray to the camera, the pupil covers the eyeball centre's image.
        assert np.abs(_centroid(mine) - _project(c)).max() < 0.5


@pytest.mark.parametrize("target", [[200.0, -40, 0], [-150, 120, 0], [0, 200, -50]])
def test_the_pupil_is_where_the_gaze_geometry_puts_it(target: list[float]) -> None:
    sub = make_subject("p01", np.random.default_rng(2))
    smp = _sample(np.array(target), head_t=np.array([20.0, -10, 520]))
    _, parts = _render(sub, [smp])
    pupil = parts[0] == PART_NAMES.index("pupil")
    for c in eye_centres(sub, smp.head_rot, smp.head_t):
        g = (smp.target - c) / np.linalg.norm(smp.target - c)
        expect = _project(c + sub.eye_radius * g)  # the pupil's centre on the eyeball
        mine = pupil.copy()
        mine[:, : int(_project(c)[0]) - 40] = False
        mine[:, int(_project(c)[0]) + 40 :] = False
        assert mine.sum() > 10
        assert np.abs(_centroid(mine) - expect).max() < 0.75


def test_eye_corners_are_where_the_landmarks_project() -> None:
    sub = make_subject("p02", np.random.default_rng(3))
    smp = _sample(np.array([0.0, 150, 0]))
    _, parts = _render(sub, [smp])
    eye = np.isin(parts[0], EYE_PARTS)
    lm = np.array([_project(p) for p in sub.model_points() @ smp.head_rot.T + smp.head_t])
    cols = np.nonzero(eye.any(axis=0))[0]
    left_eye = cols[cols < 320]
    right_eye = cols[cols >= 320]
    # The openings span exactly from corner to corner (to the pixel).
    assert left_eye.min() == pytest.approx(lm[0, 0], abs=1.0)
    assert left_eye.max() == pytest.approx(lm[1, 0], abs=1.0)
    assert right_eye.min() == pytest.approx(lm[2, 0], abs=1.0)
    assert right_eye.max() == pytest.approx(lm[3, 0], abs=1.0)
    for p in lm[:4]:
        col = round(p[0])
        rows = np.nonzero(eye[:, col - 2 : col + 3].any(axis=1))[0]
        assert rows.size and abs(np.median(rows) - p[1]) < 2.0
    # The mouth corners are the ends of the lips.
    lips = parts[0] == PART_NAMES.index("lips")
    cols = np.nonzero(lips.any(axis=0))[0]
    assert cols.min() == pytest.approx(lm[4, 0], abs=1.0)
    assert cols.max() == pytest.approx(lm[5, 0], abs=1.0)
    rows = np.nonzero(lips.any(axis=1))[0]
    assert rows.min() < lm[4, 1] < rows.max()


def test_gaze_right_moves_the_iris_right_and_subjects_differ() -> None:
    sub = make_subject("p03", np.random.default_rng(4))
    imgs, parts = _render(sub, [_sample(np.array([-60.0, 0, 0])), _sample(np.array([60.0, 0, 0]))])
    pupil = PART_NAMES.index("pupil")
    left_gaze, right_gaze = _centroid(parts[0] == pupil), _centroid(parts[1] == pupil)
    assert right_gaze[0] > left_gaze[0] + 2  # target to the camera's right: pupils move right
    # In the pixels themselves: the darkest pixels of the eye openings (the pupils) move right.
    openings = np.isin(parts[0], EYE_PARTS) | np.isin(parts[1], EYE_PARTS)

    def dark_x(img: np.ndarray) -> float:
        grey = img.astype(float).mean(-1)
        return float(_centroid((grey < 25) & openings)[0])

    assert dark_x(imgs[1]) > dark_x(imgs[0]) + 2
    other = make_subject("p04", np.random.default_rng(5))
    img_other, parts_other = _render(other, [_sample(np.array([60.0, 0, 0]))])
    face = (parts_other[0] > 0) | (parts[1] > 0)  # another person: another face
    assert np.abs(img_other[0].astype(int) - imgs[1].astype(int))[face].mean() > 10


def test_raw_gaze_runs_from_the_face_to_the_screen(raw: Path) -> None:
    """The label gt - fc is 30+ cm long and within 45 degrees of looking into the camera."""
    for person in ("p00", "p01"):
        for r in _raw_rows(raw / person / f"{person}.txt"):
            vals = np.array([float(v) for v in r[1:27]])
            fc, gt = vals[20:23], vals[23:26]
            lm = vals[2:14].reshape(6, 2)
            assert np.linalg.norm(gt - fc) > 300  # the screen is 30+ cm from the face
            ang = orthodromic_distance(
                (gt - fc) / np.linalg.norm(gt - fc), -fc / np.linalg.norm(fc)
            )
            assert np.degrees(ang) < 45
            assert lm.shape == (6, 2)


def test_cli_writes_and_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "g"
    args = ["synth-gaze", str(out), "--layout", "mpiifacegaze-raw", "--persons", "1",
            "--samples-per-person", "2", "--size", "160x120", "--supersample", "1"]  # fmt: skip
    assert main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("wrote 2 images (1 persons, layout mpiifacegaze-raw, seed 0)")
    assert "ms rendering per image" in lines[0] and lines[1] == str(out)
    assert (out / "p00" / "p00.txt").exists()
    assert cv2.imread(str(out / "p00" / "day01" / "0001.jpg")).shape == (120, 160, 3)
    for bad, words in (
        (args, "--overwrite"),  # the folder is not empty now
        (["synth-gaze", str(tmp_path / "h"), "--size", "160by120"], "--size"),
        (["synth-gaze", str(tmp_path / "h"), "--size", "10x10"], "--size (width)"),
        (["synth-gaze", str(tmp_path / "h"), "--layout", "gaze360"], "--layout"),
        (["synth-gaze", str(tmp_path / "h"), "--persons", "0"], "--persons"),
        (["synth-gaze", str(tmp_path / "h"), "--device", "tpu"], "device"),
    ):
        assert main(bad) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err and err.startswith("pano: error:")
    assert not (tmp_path / "h").exists()
