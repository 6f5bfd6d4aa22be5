"""GazeHub's processed label files -> ``gaze/<dataset>``: readers, ingest, resume, bad input.

Fixtures are written here from GazeHub's format description (header line, space-separated
columns, comma-separated vectors; 2DGaze = [yaw, pitch] radians with
g = (-cos p sin y, -sin p, -cos p cos y); Rmat/Smat = Rodrigues vector of R and the diagonal
of S; GazeOrigin = S R fc, x negated on mirrored samples; Gaze360's 3DGaze in its own
x-left / y-up / z-away frame with yaw = atan2(x, -z), pitch = asin(y)).
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from pano.cli.app import main
from pano.stores.gaze import list_gaze, open_gaze
from pano.stores.gazehub import read_gazehub, scan_gazehub

MPII_HEADER = "Face Left Right Origin WhichEye 3DGaze 3DHead 2DGaze 2DHead Rmat Smat GazeOrigin"
DIAP_HEADER = "Face Left Right metapath 3DGaze 3DHead 2DGaze 2DHead Rvec Svec GazeOrigin"
G360_HEADER = "Face Left Right Origin 3DGaze 2DGaze"
FACE, EYE = (16, 16), (6, 10)


def _vec(yaw: float, pitch: float) -> np.ndarray:
    return np.array([-math.cos(pitch) * math.sin(yaw), -math.sin(pitch),
                     -math.cos(pitch) * math.cos(yaw)])  # fmt: skip


def _txt(v: np.ndarray | list[float]) -> str:
    return ",".join(repr(float(x)) for x in v)


def _jpeg(path: Path, rng: np.random.Generator, hw: tuple[int, int], grey: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    base = rng.integers(0, 256, (hw[0] // 4 + 1, hw[1] // 4 + 1, 1 if grey else 3), np.uint8)
    img = cv2.resize(base, (hw[1], hw[0]), interpolation=cv2.INTER_LINEAR)
    assert cv2.imwrite(str(path), img)


def _rgb(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1]


def write_faces(
    root: Path,
    dataset: str,
    n_subjects: int = 3,
    n: int = 6,
    angles: list[tuple[float, float]] | None = None,
    seed: int = 0,
) -> dict:
    """A GazeHub MPIIFaceGaze (12 columns) or EYEDIAP (11 columns) folder; returns the truth."""
    rng = np.random.default_rng(seed)
    truth: dict[str, list] = {k: [] for k in ("face", "gaze", "yp", "head", "mirrored",
                                              "rmat", "fc", "subject", "left")}  # fmt: skip
    (root / "Label").mkdir(parents=True, exist_ok=True)
    for s in range(n_subjects):
        pid = f"p{s:02d}" if dataset == "mpiifacegaze" else f"p{s + 1}"
        lines = [MPII_HEADER if dataset == "mpiifacegaze" else DIAP_HEADER]
        for k in range(1, n + 1):
            i = len(truth["face"])
            yaw, pitch = angles[i] if angles else (rng.uniform(-0.6, 0.6), rng.uniform(-0.4, 0.4))
            g = _vec(yaw, pitch)
            head_rot = cv2.Rodrigues(rng.uniform(-0.3, 0.3, 3))[0]
            z = head_rot[:, 2]
            head2d = [math.atan2(z[0], z[2]), math.asin(z[1])]
            rvec = rng.uniform(-0.2, 0.2, 3)
            rmat = cv2.Rodrigues(rvec)[0]
            svec = np.array([1.0, 1.0, rng.uniform(0.8, 1.2)])
            fc = np.array([rng.uniform(-50, 50), rng.uniform(-50, 50), rng.uniform(400, 700)])
            origin = np.diag(svec) @ rmat @ fc
            right = dataset == "mpiifacegaze" and k % 2 == 0
            if right:
                origin[0] = -origin[0]
            face, left, rgt = (f"{pid}/{d}/{k}.jpg" for d in ("face", "left", "right"))
            _jpeg(root / "Image" / face, rng, FACE)
            _jpeg(root / "Image" / left, rng, EYE, grey=True)
            _jpeg(root / "Image" / rgt, rng, EYE, grey=True)
            cols = [face, left, rgt, f"day01/{k:04d}.jpg"]
            if dataset == "mpiifacegaze":
                cols.append("right" if right else "left")
            else:
                cols[3] = f"{s + 1}_A_FT_S_{k}"
            cols += [_txt(g), _txt(cv2.Rodrigues(head_rot)[0].ravel()), _txt([yaw, pitch]),
                     _txt(head2d), _txt(rvec), _txt(svec), _txt(origin)]  # fmt: skip
            lines.append(" ".join(cols))
            truth["face"].append(_rgb(root / "Image" / face))
            truth["left"].append(_rgb(root / "Image" / left))
            truth["gaze"].append(g)
            truth["yp"].append([yaw, pitch])
            truth["head"].append(-z)
            truth["mirrored"].append(right)
            truth["rmat"].append(rmat)
            truth["fc"].append(fc)
            truth["subject"].append(pid)
        (root / "Label" / f"{pid}.label").write_text("\n".join(lines) + "\n")
    return {k: np.array(v) for k, v in truth.items()}


def write_gaze360(root: Path, n: int = 4, seed: int = 0) -> dict:
    """A GazeHub Gaze360 folder (train/val/test label files, 6 columns)."""
    rng = np.random.default_rng(seed)
    truth: dict[str, list] = {"cam": [], "split": [], "yp": []}
    (root / "Label").mkdir(parents=True, exist_ok=True)
    i = 0
    for split in ("train", "val", "test"):
        lines = [G360_HEADER]
        for _ in range(n):
            i += 1
            g = rng.normal(size=3)
            g[2] = abs(g[2])  # looking away from the camera is allowed in Gaze360
            g /= np.linalg.norm(g)
            yaw, pitch = math.atan2(g[0], -g[2]), math.asin(g[1])
            paths = [f"{split}/{d}/{i}.jpg" for d in ("Face", "Left", "Right")]
            for p, hw in zip(paths, (FACE, EYE, EYE), strict=True):
                _jpeg(root / "Image" / p, rng, hw)
            lines.append(" ".join([*paths, f"rec_00{i % 2}/head/{i % 3:06d}/{i:06d}.jpg",
                                   _txt(g), _txt([yaw, pitch])]))  # fmt: skip
            truth["cam"].append([-g[0], -g[1], g[2]])
            truth["split"].append(split)
            truth["yp"].append([yaw, pitch])
        (root / "Label" / f"{split}.label").write_text("\n".join(lines) + "\n")
    return {k: np.array(v) for k, v in truth.items()}


def _ingest(root: Path, store: Path, dataset: str, *extra: str) -> int:
    return main(["ingest", "gazehub", "--root", str(root), "--dataset", dataset,
                 "--store", str(store), "--workers", "0", *extra])  # fmt: skip


def test_mpiifacegaze_round_trip_through_the_store(tmp_path: Path) -> None:
    truth = write_faces(tmp_path / "MPIIFaceGaze", "mpiifacegaze")
    store = tmp_path / "g.zarr"
    assert _ingest(tmp_path / "MPIIFaceGaze", store, "mpiifacegaze") == 0
    d = open_gaze(store, "mpiifacegaze")
    np.testing.assert_array_equal(d.array("face"), truth["face"])
    np.testing.assert_array_equal(d.array("left"), truth["left"])
    np.testing.assert_allclose(d.array("gaze_xyz"), truth["gaze"], atol=1e-12)
    np.testing.assert_array_equal(d.array("gaze_angles"), truth["yp"])
    np.testing.assert_allclose(d.array("head_xyz"), truth["head"], atol=1e-12)
    np.testing.assert_array_equal(d.array("mirrored"), truth["mirrored"])
    np.testing.assert_allclose(d.array("rmat"), truth["rmat"], atol=1e-12)
    np.testing.assert_allclose(d.array("gaze_origin"), truth["fc"], rtol=1e-9)
    assert d.array("subject").tolist() == truth["subject"].tolist()
    assert d.array("source")[1] == "p00/face/2.jpg"
    assert d.protocol.kind == "lopo" and d.protocol.folds == ("p00", "p01", "p02")
    assert d.convention.angle_order.startswith("[yaw, pitch]")
    assert "3DGaze agrees with gazehub_to_camvec(2DGaze)" in d.convention.notes
    assert "3DHead (minus its rotation's z axis) agrees" in d.convention.notes
    np.testing.assert_array_equal(d.indices(subject="p01"), np.arange(6, 12))


def test_landmarks_zero_pair_looks_into_the_camera_and_yaw_positive_is_x_negative(
    tmp_path: Path,
) -> None:
    write_faces(tmp_path, "mpiifacegaze", n_subjects=1, n=3,
                angles=[(0.0, 0.0), (0.4, 0.0), (0.0, 0.3)])  # fmt: skip
    g = read_gazehub(tmp_path, "mpiifacegaze").gaze_xyz
    np.testing.assert_allclose(g[0], [0.0, 0.0, -1.0], atol=1e-15)
    assert g[1, 0] < 0 and abs(g[1, 1]) < 1e-15  # yaw positive: x negative (camera's left)
    assert g[2, 1] < 0  # pitch positive: y negative (up, y points down)


def test_gaze360_split_protocol_and_its_own_3d_frame(tmp_path: Path) -> None:
    truth = write_gaze360(tmp_path)
    s = read_gazehub(tmp_path, "gaze360")
    np.testing.assert_allclose(s.gaze_xyz, truth["cam"], atol=1e-12)
    assert s.split is not None and s.split.tolist() == truth["split"].tolist()
    assert s.head_xyz is None and not s.mirrored.any()
    idx = scan_gazehub(tmp_path, "gaze360")
    assert idx.protocol.kind == "split"
    assert "agrees" in idx.convention.notes and "Gaze360 frame" in idx.convention.notes
    assert idx.image_shapes == {"face": FACE, "left": EYE, "right": EYE}


def test_eyediap_eleven_columns_lopo(tmp_path: Path) -> None:
    truth = write_faces(tmp_path, "eyediap", n_subjects=2, n=3)
    idx = scan_gazehub(tmp_path, "eyediap")
    assert idx.subjects == ["p1", "p2"] and idx.protocol.folds == ("p1", "p2")
    s = idx.samples()
    np.testing.assert_allclose(s.gaze_xyz, truth["gaze"], atol=1e-12)
    np.testing.assert_allclose(s.gaze_origin, truth["fc"], rtol=1e-9)
    assert not s.mirrored.any()


def test_3d_column_disagreeing_with_the_pair_is_stated_not_picked(tmp_path: Path) -> None:
    truth = write_faces(tmp_path, "mpiifacegaze", n_subjects=1, n=2)
    label = tmp_path / "Label" / "p00.label"
    lines = label.read_text().splitlines()
    cols = lines[2].split(" ")
    cols[5] = "0.0,0.0,-1.0"
    lines[2] = " ".join(cols)
    label.write_text("\n".join(lines) + "\n")
    idx = scan_gazehub(tmp_path, "mpiifacegaze")
    assert "3DGaze DISAGREES" in idx.convention.notes and f"{label}:3" in idx.convention.notes
    np.testing.assert_allclose(idx.fields["gaze_xyz"], truth["gaze"], atol=1e-12)


def _edit(root: Path, line: int, col: int, text: str) -> Path:
    label = root / "Label" / "p00.label"
    lines = label.read_text().splitlines()
    cols = lines[line - 1].split(" ")
    if col < 0:
        cols = cols[:col]
    else:
        cols[col] = text
    lines[line - 1] = " ".join(cols)
    label.write_text("\n".join(lines) + "\n")
    return label


@pytest.mark.parametrize(
    ("col", "text", "message"),
    [
        (-1, "", r"p00\.label:3: 11 space-separated columns, expected 12"),
        (0, "p00/face/99.jpg", r"p00\.label:3: image .*99\.jpg \(column Face\) not found"),
        (7, "nan,0.1", r"p00\.label:3: column 2DGaze 'nan,0\.1' is not a finite angle pair"),
        (5, "0.1;0.2;0.3", r"p00\.label:3: column 3DGaze '0\.1;0\.2;0\.3' is not 3 comma"),
        (4, "both", r"p00\.label:3: column WhichEye 'both' must be left or right"),
    ],
)
def test_bad_rows_are_one_line_exit_2_and_leave_no_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], col: int, text: str, message: str
) -> None:
    write_faces(tmp_path / "d", "mpiifacegaze", n_subjects=1, n=3)
    _edit(tmp_path / "d", 3, col, text)
    store = tmp_path / "g.zarr"
    assert _ingest(tmp_path / "d", store, "mpiifacegaze") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert __import__("re").search(message, err), err
    assert not store.exists()


def test_corrupt_jpeg_stops_its_part_then_resume_writes_only_that_part(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, store = tmp_path / "d", tmp_path / "g.zarr"
    write_faces(root, "mpiifacegaze", n_subjects=3, n=12)  # 36 samples: parts of 32 + 4
    bad = root / "Image" / "p02" / "face" / "11.jpg"  # row 34: in part 1
    good = bad.read_bytes()
    bad.write_bytes(good[: len(good) // 2])  # truncated JPEG
    assert _ingest(root, store, "mpiifacegaze", "--block", "32") == 2
    err = capsys.readouterr().err.strip()
    assert "p02.label:12: column Face: image" in err and "is corrupt" in err, err
    assert list_gaze(store) == [] and list_gaze(store, complete=False) == ["mpiifacegaze"]
    bad.write_bytes(good)
    assert _ingest(root, store, "mpiifacegaze", "--block", "32") == 0
    assert "1 of 2 parts written this run" in capsys.readouterr().out
    assert list_gaze(store) == ["mpiifacegaze"]
    before = {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()}
    assert _ingest(root, store, "mpiifacegaze", "--block", "32") == 0  # a no-op
    assert "already complete: nothing written" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()} == before
    assert main(["info", str(store), "--verify"]) == 0  # every chunk of the group is stored
    assert "gaze/mpiifacegaze  36 samples, 3 subjects, face 16x16" in capsys.readouterr().out


def test_changed_labels_need_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, store = tmp_path / "d", tmp_path / "g.zarr"
    write_faces(root, "mpiifacegaze", n_subjects=1, n=3)
    assert _ingest(root, store, "mpiifacegaze") == 0
    _edit(root, 2, 7, "0.1,0.1")
    assert _ingest(root, store, "mpiifacegaze") == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert _ingest(root, store, "mpiifacegaze", "--overwrite") == 0
    np.testing.assert_array_equal(open_gaze(store, "mpiifacegaze").array("gaze_angles")[0],
                                  [0.1, 0.1])  # fmt: skip


def test_dask_two_workers(tmp_path: Path) -> None:
    from pano.pipelines.ingest_gaze import GazeHubIngestConfig, ingest_gazehub

    root, store = tmp_path / "d", tmp_path / "g.zarr"
    truth = write_faces(root, "mpiifacegaze", n_subjects=3, n=12)
    cfg = GazeHubIngestConfig(root=root, dataset="mpiifacegaze", store=str(store), block=32,
                              workers=2, dashboard="off")  # fmt: skip
    summary = ingest_gazehub(cfg)  # a real LocalCluster of 2 processes, one part each
    assert summary.parts_written == 2 and summary.status == "written"
    np.testing.assert_array_equal(open_gaze(store, "mpiifacegaze").array("face"), truth["face"])


def test_a_replaced_image_under_a_complete_group_needs_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, store = tmp_path / "d", tmp_path / "g.zarr"
    write_faces(root, "mpiifacegaze", n_subjects=1, n=3)
    assert _ingest(root, store, "mpiifacegaze") == 0
    face = root / "Image" / "p00" / "face" / "1.jpg"
    face.write_bytes(face.read_bytes() + b"\0" * 7)  # another file of another size
    capsys.readouterr()
    assert _ingest(root, store, "mpiifacegaze") == 2
    err = capsys.readouterr().err.strip()
    assert "is complete, but the images" in err and "pass --overwrite" in err, err
    assert len(err.splitlines()) == 1
    assert list_gaze(store) == ["mpiifacegaze"]  # refused, not touched
    assert _ingest(root, store, "mpiifacegaze", "--overwrite") == 0
    assert _ingest(root, store, "mpiifacegaze") == 0  # the new digest is the recorded one
    assert "already complete: nothing written" in capsys.readouterr().out
