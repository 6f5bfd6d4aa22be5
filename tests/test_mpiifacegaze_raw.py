"""The original MPIIFaceGaze layout: fixtures written here from the format description.

pXX/pXX.txt: 28 space-separated fields per line (image path, screen point (2), six landmarks
(12), head rotation vector (3) + translation (3), face centre fc (3, mm), gaze target gt (3, mm),
which eye); pXX/Calibration/Camera.mat (cameraMatrix, distCoeffs), screenSize.mat,
monitorPose.mat (MATLAB v5); the face model "6 points-based face model.mat" (model, 3x6, mm).
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io

from pano.errors import InputDataError, InputFileNotFoundError
from pano.gaze.normalize import NormalisationParams
from pano.geometry import gazehub_to_camvec
from pano.stores import mpiifacegaze_raw as raw

K = np.array([[300.0, 0.0, 160.0], [0.0, 300.0, 120.0], [0.0, 0.0, 1.0]])
SMALL = NormalisationParams(focal_px=240.0, width_px=64, height_px=64)


def _write_mat(path: Path, **vars) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), vars, format="5")


def _project(p: np.ndarray) -> np.ndarray:
    q = K @ p
    return q[:2] / q[2]


def _row(image: str, fc, gt, rotvec=(0.0, 0.0, 0.0), eye="left") -> str:
    fc = np.asarray(fc, float)
    landmarks = []
    for dx, dy in [(-45, 0), (-21, 0), (21, 0), (45, 0), (-26, 68), (26, 68)]:
        landmarks += [round(v) for v in _project(fc + np.array([dx, dy - 30.0, 0.0]))]
    vals = [
        image,
        "812",
        "394",
        *map(str, landmarks),
        *(f"{v:.9f}" for v in rotvec),
        *(f"{v:.6f}" for v in fc),  # translation: the face model origin, here at fc
        *(f"{v:.6f}" for v in fc),
        *(f"{v:.6f}" for v in gt),
        eye,
    ]
    assert len(vals) == 28
    return " ".join(vals)


def _image_with_dot(uv: np.ndarray, value=(255, 0, 0)) -> np.ndarray:
    """240x320 RGB, mid grey with a small bright blob (RGB ``value``) centred at ``uv``."""
    img = np.full((240, 320, 3), 90, np.uint8)
    yy, xx = np.mgrid[0:240, 0:320]
    blob = np.exp(-((xx - uv[0]) ** 2 + (yy - uv[1]) ** 2) / (2 * 2.0**2))
    for c in range(3):
        img[..., c] = np.clip(90 + (value[c] - 90) * blob, 0, 255).astype(np.uint8)
    return img


def _write_jpeg(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 98])
    assert ok
    path.write_bytes(buf.tobytes())


def write_person(root: Path, person: str, lines: list[tuple]) -> None:
    """``lines``: (image, fc, gt, rotvec, eye); images get a red dot at the projection of fc."""
    pdir = root / person
    rows = []
    for image, fc, gt, rotvec, eye in lines:
        _write_jpeg(pdir / image, _image_with_dot(_project(np.asarray(fc, float))))
        rows.append(_row(image, fc, gt, rotvec, eye))
    (pdir / f"{person}.txt").write_text("\n".join(rows) + "\n")
    _write_mat(
        pdir / "Calibration" / "Camera.mat",
        cameraMatrix=K,
        distCoeffs=np.array([[0.05, -0.1, 0.001, 0.002, 0.0]]),
        retval=np.array([[0.3]]),
    )
    _write_mat(
        pdir / "Calibration" / "screenSize.mat",
        width_pixel=np.array([[1280]]),
        height_pixel=np.array([[800]]),
        width_mm=np.array([[331.0]]),
        height_mm=np.array([[207.0]]),
    )
    _write_mat(
        pdir / "Calibration" / "monitorPose.mat",
        rvects=np.array([[0.1], [0.0], [0.0]]),
        tvecs=np.array([[-160.0], [-10.0], [-5.0]]),
    )


def _gaze_target(fc, yaw, pitch, dist=400.0) -> np.ndarray:
    """A target ``dist`` mm from fc along the GazeHub direction (yaw, pitch) (R = I rows)."""
    return np.asarray(fc, float) + dist * np.asarray(gazehub_to_camvec(yaw, pitch))


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    on_axis = [0.0, 0.0, 600.0]
    off_axis = [300.0 * 0.25, 0.0, 400.0 * 0.25 * 5.0]  # (75, 0, 500)
    write_person(
        tmp_path,
        "p00",
        [
            ("day01/0001.jpg", on_axis, _gaze_target(on_axis, 0.1, -0.2), (0, 0, 0), "left"),
            ("day01/0002.jpg", off_axis, [0.0, 0.0, 0.0], (0, 0, 0), "right"),
            ("day02/0001.jpg", [0.0, 0.0, 450.0], [100.0, 0.0, 450.0], (0, 0, math.pi / 6), "left"),
        ],
    )
    write_person(
        tmp_path,
        "p01",
        [
            (
                "day01/0001.jpg",
                [20.0, -10.0, 550.0],
                [-150.0, 200.0, -10.0],
                (0.1, -0.2, 0.05),
                "left",
            )
        ],
    )
    _write_mat(
        tmp_path / "6 points-based face model.mat",
        model=np.array(
            [
                [-45.1, -21.3, 21.3, 45.1, -26.3, 26.3],
                [-0.48, 0.48, 0.48, -0.48, 68.6, 68.6],
                [2.4, -2.4, -2.4, 2.4, 0.0, 0.0],
            ]
        ),
    )
    (tmp_path / "readme.txt").write_text("not a person\n")
    return tmp_path


def test_reads_and_normalises_hand_computed_rows(dataset: Path):
    assert raw.list_persons(dataset) == ["p00", "p01"]
    s = raw.read_person(dataset, "p00", SMALL, batch_size=2)
    assert len(s) == 3
    assert s.face.shape == (3, 64, 64, 3) and s.face.dtype == np.uint8
    assert s.source.tolist() == ["p00/day01/0001.jpg", "p00/day01/0002.jpg", "p00/day02/0001.jpg"]
    assert s.subject.tolist() == ["p00"] * 3
    assert not s.mirrored.any()  # right-eye rows are not mirrored
    # Row 1: face on the axis, identity head -> R = I, gaze unchanged, angles as drawn.
    np.testing.assert_allclose(s.rmat[0], np.eye(3), atol=1e-12)
    np.testing.assert_allclose(s.gaze_xyz[0], gazehub_to_camvec(0.1, -0.2), atol=1e-9)
    np.testing.assert_allclose(s.gaze_angles[0], [0.1, -0.2], atol=1e-9)
    # Row 2: fc = (75, 0, 500), gt at the camera: the gaze looks into the normalised camera.
    np.testing.assert_allclose(s.gaze_xyz[1], [0.0, 0.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(s.gaze_angles[1], [0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(s.smat[1], np.diag([1.0, 1.0, 600.0 / math.hypot(75.0, 500.0)]))
    np.testing.assert_allclose(s.gaze_origin[1], [75.0, 0.0, 500.0])
    # Row 3: head rolled 30 deg, gaze along +x of the camera -> (cos 30, -sin 30, 0).
    c, sn = math.cos(math.pi / 6), math.sin(math.pi / 6)
    np.testing.assert_allclose(s.gaze_xyz[2], [c, -sn, 0.0], atol=1e-9)
    # The roll is removed: the normalised head is frontal, pointing into the camera.
    np.testing.assert_allclose(s.head_xyz[2], [0.0, 0.0, -1.0], atol=1e-9)
    np.testing.assert_allclose(s.head_angles[2], [0.0, 0.0], atol=1e-9)
    # Each image has a red dot at the projection of fc: it lands on the crop's centre (32, 32).
    for face in s.face:
        red = face[..., 0].astype(float) - face[..., 1].astype(float)
        yy, xx = np.mgrid[0:64, 0:64]
        w = np.clip(red, 0, None)
        centre = np.array([(xx * w).sum(), (yy * w).sum()]) / w.sum()
        np.testing.assert_allclose(centre, [32.0, 32.0], atol=0.3)


def test_default_params_give_gazehub_sized_faces(dataset: Path):
    s = raw.read_person(dataset, "p01")
    assert s.face.shape == (1, 224, 224, 3)
    assert abs(np.linalg.norm(s.gaze_xyz[0]) - 1.0) < 1e-12


def test_calibration_and_face_model(dataset: Path):
    cam = raw.read_camera(dataset / "p00" / "Calibration" / "Camera.mat")
    np.testing.assert_array_equal(cam.camera_matrix, K)
    assert cam.dist_coeffs.shape == (5,)
    assert raw.read_screen(dataset / "p00" / "Calibration") == {
        "width_pixel": 1280.0,
        "height_pixel": 800.0,
        "width_mm": 331.0,
        "height_mm": 207.0,
    }
    model = raw.check_face_model(dataset)
    assert model is not None and model.shape == (6, 3) and model[4, 1] == pytest.approx(68.6)


def test_convention_and_protocol():
    conv = raw.convention()
    assert conv.angle_order == "[yaw, pitch]" and conv.units == "radians"
    assert "does not mirror" in conv.mirroring
    assert "600 mm" in conv.normalisation
    proto = raw.protocol(["p00", "p01"])
    assert proto.kind == "lopo" and proto.folds == ("p00", "p01")


# ---------------------------------------------------------------- bad input, one line each


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_wrong_field_count(dataset: Path):
    txt = dataset / "p00" / "p00.txt"
    lines = txt.read_text().splitlines()
    lines[1] = lines[1].rsplit(" ", 1)[0]  # drop "which eye"
    txt.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputDataError) as err:
        raw.read_person(dataset, "p00", SMALL)
    msg = _one_line(err)
    assert "p00.txt: line 2: expected 28" in msg and "got 27" in msg


def test_non_finite_value(dataset: Path):
    txt = dataset / "p00" / "p00.txt"
    lines = txt.read_text().splitlines()
    parts = lines[2].split()
    parts[23] = "nan"  # third coordinate of fc (field 24)
    lines[2] = " ".join(parts)
    txt.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputDataError) as err:
        raw.read_person(dataset, "p00", SMALL)
    msg = _one_line(err)
    assert "line 3: fields 22-24 (face centre fc, mm)" in msg and "finite" in msg


def test_missing_image(dataset: Path):
    (dataset / "p00" / "day01" / "0002.jpg").unlink()
    with pytest.raises(InputFileNotFoundError) as err:
        raw.read_person(dataset, "p00", SMALL)
    msg = _one_line(err)
    assert "p00.txt: line 2" in msg and "0002.jpg does not exist" in msg


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_jpeg(dataset: Path, damage: str):
    path = dataset / "p00" / "day02" / "0001.jpg"
    data = path.read_bytes()
    path.write_bytes(b"not a jpeg at all" if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(InputDataError) as err:
        raw.read_person(dataset, "p00", SMALL)
    msg = _one_line(err)
    assert "line 3" in msg and "not a complete JPEG" in msg


def test_camera_without_camera_matrix(dataset: Path):
    _write_mat(dataset / "p01" / "Calibration" / "Camera.mat", distCoeffs=np.zeros((1, 5)))
    with pytest.raises(InputDataError) as err:
        raw.read_person(dataset, "p01", SMALL)
    msg = _one_line(err)
    assert "Camera.mat: variable cameraMatrix is missing (found: distCoeffs)" in msg


def test_bad_eye_field_and_missing_root(dataset: Path, tmp_path: Path):
    txt = dataset / "p01" / "p01.txt"
    txt.write_text(txt.read_text().replace(" left", " both"))
    with pytest.raises(InputDataError, match="field 28 \\(which eye\\)"):
        raw.read_person(dataset, "p01", SMALL)
    with pytest.raises(InputFileNotFoundError):
        raw.list_persons(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputDataError, match="no person folder"):
        raw.list_persons(empty)


# ---------------------------------------------------------------- pano ingest mpiifacegaze

SMALL_ARGS = ["--size", "64", "--focal", "240", "--workers", "0", "--device", "cpu"]


def test_cli_ingest_writes_what_the_reader_reads(dataset: Path, tmp_path: Path, capsys):
    from pano.cli.app import main
    from pano.stores.gaze import list_gaze, open_gaze

    store = str(tmp_path / "g.zarr")
    config = Path(__file__).resolve().parents[1] / "pipelines/configs/ingest_mpiifacegaze.yaml"
    args = ["ingest", "mpiifacegaze", "--raw", str(dataset), "--store", store, *SMALL_ARGS]
    assert main([*args, "--config", str(config)]) == 0  # the shipped YAML, paths overridden
    out = capsys.readouterr().out
    assert "4 from 2 persons" in out and "1 of 1 parts written" in out
    assert list_gaze(store) == ["mpiifacegaze-raw"]
    data = open_gaze(store, "mpiifacegaze-raw")
    got = data.samples()
    want = raw.GazeSamples.concat([raw.read_person(dataset, p, SMALL) for p in ("p00", "p01")])
    for name, arr in want.arrays().items():
        stored = getattr(got, name)
        assert stored is not None, name
        if arr.dtype.kind in "US":
            assert stored.astype(str).tolist() == arr.tolist(), name
        else:
            np.testing.assert_array_equal(stored, arr, err_msg=name)
    assert data.protocol == raw.protocol(["p00", "p01"])
    assert data.convention == raw.convention(SMALL)
    assert data.attrs["provenance"]["parameters"]["normalisation"]["width_px"] == 64
    # A second run finds the group complete and writes nothing.
    assert main(args) == 0
    assert "already complete" in capsys.readouterr().out
    # Other normalisation parameters are other input: refused without --overwrite.
    assert main([*args[:-6], "--size", "32", "--workers", "0", "--device", "cpu"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    # A replaced image (another size) under the complete group: refused, one line.
    jpg = sorted((dataset / "p00").rglob("*.jpg"))[0]
    jpg.write_bytes(jpg.read_bytes() + b"\0" * 5)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "is complete, but the images" in err and len(err.splitlines()) == 1, err


def test_cli_bad_input_is_one_line_and_leaves_no_store(dataset: Path, tmp_path: Path, capsys):
    from pano.cli.app import main

    store = tmp_path / "g.zarr"
    args = ["ingest", "mpiifacegaze", "--raw", str(dataset), "--store", str(store), *SMALL_ARGS]
    jpeg = dataset / "p01" / "day01" / "0001.jpg"
    jpeg.write_bytes(jpeg.read_bytes()[:-300])  # cut short: found by the scan
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "p01.txt: line 1" in err and "not a complete JPEG" in err
    assert not store.exists()
    txt = dataset / "p01" / "p01.txt"
    txt.write_text(txt.read_text().replace(" left", ""))
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "p01.txt: line 1: expected 28" in err
    assert not store.exists()


def test_cli_resumes_after_a_damaged_image_stopped_a_part(tmp_path: Path, capsys):
    # 40 lines of p02 after p00's 3: block 32 gives parts [0, 32) and [32, 43) spanning persons.
    from pano.cli.app import main
    from pano.stores.gaze import open_gaze

    root = tmp_path / "raw"
    write_person(
        root,
        "p00",
        [(f"day01/{i:04d}.jpg", [0.0, 0.0, 600.0], [0.0, 300.0, 0.0], (0, 0, 0), "left")
         for i in range(3)],
    )  # fmt: skip
    write_person(
        root,
        "p02",
        [(f"day03/{i:04d}.jpg", [5.0 * i - 100, 10.0, 500.0 + i], [0.0, 0.0, 0.0],
          (0.0, 0.01 * i, 0.0), "right") for i in range(40)],
    )  # fmt: skip
    # Damage inside the file (its header zeroed; the JPEG markers at both ends intact) passes
    # the scan and is found when the part decodes it: the ingest stops with part 0 written.
    bad = root / "p02" / "day03" / "0035.jpg"
    good = bad.read_bytes()
    bad.write_bytes(good[:2] + bytes(398) + good[400:])
    store = str(tmp_path / "g.zarr")
    args = ["ingest", "mpiifacegaze", "--raw", str(root), "--store", store, "--block", "32",
            *SMALL_ARGS]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "p02.txt: line 36" in err and "not a complete JPEG" in err
    bad.write_bytes(good)
    assert main(args) == 0
    assert "1 of 2 parts written" in capsys.readouterr().out
    data = open_gaze(store, "mpiifacegaze-raw")
    assert len(data) == 43
    s = data.samples()
    assert s.subject.astype(str).tolist() == ["p00"] * 3 + ["p02"] * 40
    # p02 looks at the camera (gt = 0): (0, 0, -1) in every normalised camera.
    np.testing.assert_allclose(s.gaze_xyz[3:], np.tile([0.0, 0.0, -1.0], (40, 1)), atol=1e-12)
    np.testing.assert_allclose(s.gaze_origin[40], [5.0 * 37 - 100, 10.0, 537.0])
