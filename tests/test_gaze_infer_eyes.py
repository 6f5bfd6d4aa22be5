"""``pano gaze-infer`` with eye-crop models: eyes located in the normalised face, GazeHub crops.

Truth comes from the synthetic renderer (:mod:`pano.synth`), which knows each subject's own
eye corners and head pose: they are projected into the raw image with the set-up's camera and
mapped into the normalised face with GazeHub's normalisation as the synthetic GazeHub writer
computes it (``gazehub_normalisation``, numpy/OpenCV), independently of pano's torch
normalisation; the GazeHub crop recipe is the synthetic writer's ``crop_eye``.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io
import torch

from pano.cli.app import main
from pano.errors import InputFileNotFoundError
from pano.gaze.eyes import (
    MPIIFACEGAZE_FACE_MODEL,
    EyeMode,
    FaceEyes,
    corner_ratio,
    crop_eye,
    eyes_of_faces,
    find_eyes,
)
from pano.models.gaze_grm import GazeModelConfig, build_gaze_model
from pano.pipelines.gaze_infer import (
    CSV_COLUMNS,
    GazeInferConfig,
    _cascade,
    camera_matrix,
    detect_faces,
    face_centres_mm,
    gaze_infer,
)
from pano.pipelines.train.checkpoint import CheckpointManager
from pano.synth.gaze_layouts import (
    GazeSynthConfig,
    gazehub_normalisation,
    simulate_person,
)
from pano.synth.gaze_layouts import (
    crop_eye as gazehub_crop_eye,
)
from pano.synth.gaze_render import View, render_faces
from pano.synth.gaze_scene import generic_face_model, project

cv2 = pytest.importorskip("cv2")

W, H = 640, 480
EYE_CFG = GazeModelConfig(backbone="pano_cnn_tiny", image_size=32, hidden=8, dropout=0.0, eyes=True)


@pytest.fixture(scope="module")
def scenes() -> list[dict]:
    """Raw-layout camera images (RGB) of 2 synthetic persons x 5 samples with their truth."""
    torch.set_num_threads(1)
    cfg = GazeSynthConfig(layout="mpiifacegaze-raw", persons=2, samples_per_person=5, seed=0)
    out = []
    for index in range(2):
        person = simulate_person(index, cfg, generic_face_model())
        k = person.setup.camera_matrix
        n = len(person.samples)
        imgs = render_faces([person.subject] * n, person.samples, [View(k)] * n, W, H, 2)
        for smp, img in zip(person.samples, imgs, strict=True):
            pts = person.subject.model_points() @ smp.head_rot.T + smp.head_t
            out.append({"rgb": img, "corners_px": project(pts[:4], k)})
    return out


def _truth_in_face(corners_px: np.ndarray, fc: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """True eye-corner midpoints ``(2, 2)`` and corner distances ``(2,)`` in the 224-px face."""
    warp = gazehub_normalisation(fc, np.zeros(3), cam).warp  # R_head = I: gaze-infer's assumption
    h = np.c_[corners_px, np.ones(4)] @ warp.T
    t = h[:, :2] / h[:, 2:]
    mid = np.stack([(t[0] + t[1]) / 2, (t[2] + t[3]) / 2])
    return np.c_[mid, np.abs([t[1, 0] - t[0, 0], t[3, 0] - t[2, 0]])]


def _eyes_in_scene(
    sc: dict, faces: Any, mode: EyeMode, model: np.ndarray = MPIIFACEGAZE_FACE_MODEL
) -> tuple[FaceEyes, np.ndarray, np.ndarray] | None:
    """Detect the first face of a scene, place it (150-mm face box, R_head = I), find its eyes.

    Returns ``(eyes, face centre (1, 3) mm, camera matrix (3, 3))``, or None without a face.
    """
    boxes = detect_faces(np.ascontiguousarray(sc["rgb"][..., ::-1]), faces)[:1]
    if not len(boxes):
        return None
    cam = camera_matrix(W, H, None)
    fc = face_centres_mm(boxes, cam, 150.0)
    eyes = eyes_of_faces(
        torch.from_numpy(sc["rgb"]),
        torch.from_numpy(fc),
        torch.eye(3, dtype=torch.float64)[None],
        torch.from_numpy(cam),
        mode,
        model,
    )
    return eyes, fc, cam


def test_haar_eye_crops_are_centred_on_the_true_eyes(scenes: list[dict]) -> None:
    """Measured: crop centres within a few px of the true corner midpoints (224-px face)."""
    faces = _cascade("alt2")
    model = generic_face_model().T  # the synthetic data set's own 6-point model (6, 3)
    errs, widths, statuses = [], [], []
    for sc in scenes:
        found = _eyes_in_scene(sc, faces, "haar", model)
        if found is None:
            continue
        eyes, fc, cam = found
        statuses.append(eyes.spots[0].status)
        if eyes.ok[0]:
            truth = _truth_in_face(sc["corners_px"], fc[0], cam)
            errs.append(np.linalg.norm(eyes.spots[0].centres - truth[:, :2], axis=1))
            widths.append(eyes.spots[0].widths / truth[:, 2] - 1)
            assert eyes.spots[0].centres[0, 0] < eyes.spots[0].centres[1, 0]  # left = image left
            # the reported image position: the true midpoint in the raw image, within a few px
            mid_raw = np.stack([sc["corners_px"][:2].mean(0), sc["corners_px"][2:].mean(0)])
            assert np.abs(eyes.image_xy[0] - mid_raw).max() < 6.0
    e, w = np.concatenate(errs), np.concatenate(widths)
    assert len(errs) >= 4 and statuses.count("haar") == len(errs)
    assert e.max() < 7.0 and e.mean() < 5.0, e  # eye crops are ~60 x 36 px here
    assert np.abs(w).mean() < 0.15, w  # width from the inter-eye distance x the model's ratio


def test_projected_face_model_is_the_coarse_prior(scenes: list[dict]) -> None:
    """``--eyes model``: the generic model projected with R_head = I; off by ~5-20 px."""
    sc = scenes[0]
    found = _eyes_in_scene(sc, _cascade("alt2"), "model")
    assert found is not None
    eyes, fc, cam = found
    assert eyes.spots[0].status == "model" and eyes.ok[0]
    truth = _truth_in_face(sc["corners_px"], fc[0], cam)
    assert np.linalg.norm(eyes.spots[0].centres - truth[:, :2], axis=1).max() < 30.0


def test_crop_matches_gazehub_recipe_exactly() -> None:
    """pano's crop from (centre, corner distance) equals the GazeHub writer's from corners."""
    rng = np.random.default_rng(4)
    face = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    for a, b in [
        ((40.3, 90.7), (81.9, 92.2)),
        ((140.2, 88.1), (182.6, 86.0)),
        ((2.0, 5.0), (30, 6)),
    ]:
        a_, b_ = np.array(a), np.array(b)
        ours = crop_eye(face, (a_ + b_) / 2, abs(a_[0] - b_[0]))
        assert ours is not None
        np.testing.assert_array_equal(ours, gazehub_crop_eye(face, a_, b_))
        assert ours.shape == (36, 60)


def test_corner_ratio_and_eye_assignment() -> None:
    assert corner_ratio(MPIIFACEGAZE_FACE_MODEL) == pytest.approx(23.784 / 66.410, abs=1e-3)
    # A blank face: the cascade finds nothing; haar -> none, auto -> the prior.
    face = np.full((224, 224, 3), 128, np.uint8)
    prior = np.array([[50.0, 80], [90, 80], [134, 80], [174, 80]])
    assert find_eyes(face, prior, "haar").status == "none"
    sp = find_eyes(face, prior, "auto")
    assert sp.status == "model"
    np.testing.assert_allclose(sp.centres, [[70, 80], [154, 80]])
    np.testing.assert_allclose(sp.widths, [40, 40])


def _save_eye_run(folder: Path) -> Path:
    torch.manual_seed(0)
    model = build_gaze_model(EYE_CFG)
    state = {"model": model.state_dict(), "config": {"model": EYE_CFG.model_dump(mode="json")}}
    CheckpointManager(folder / "checkpoints").save(1, state, val=1.0, best=True)
    return folder


def _rows(path: Path) -> list[dict[str, str]]:
    body = "\n".join(ln for ln in path.read_text().splitlines() if not ln.startswith("#"))
    return list(csv.DictReader(io.StringIO(body)))


def test_eye_model_end_to_end_on_a_synthetic_image(scenes: list[dict], tmp_path: Path) -> None:
    run = _save_eye_run(tmp_path / "run")
    fm = tmp_path / "6 points-based face model.mat"
    scipy.io.savemat(str(fm), {"model": generic_face_model()})  # 3 x 6, as the data set ships it
    sc = next(
        s
        for s in scenes
        if len(detect_faces(np.ascontiguousarray(s["rgb"][..., ::-1]), _cascade("alt2")))
    )
    img = tmp_path / "frame.png"
    cv2.imwrite(str(img), np.ascontiguousarray(sc["rgb"][..., ::-1]))
    out = tmp_path / "o"
    args = ["gaze-infer", str(run), str(img), "--out", str(out), "--face-model", str(fm)]
    assert main(args) == 0
    rows = _rows(out / "frame_gaze.csv")
    assert list(rows[0]) == CSV_COLUMNS and len(rows) == 1
    r = rows[0]
    assert r["eyes"] == "haar"
    g = np.array([float(r[f"gaze_cam_{a}"]) for a in "xyz"])
    assert abs(np.linalg.norm(g) - 1) < 1e-5
    mid = np.stack([sc["corners_px"][:2].mean(0), sc["corners_px"][2:].mean(0)])
    got = np.array([[float(r["eye_left_x"]), float(r["eye_left_y"])],
                    [float(r["eye_right_x"]), float(r["eye_right_y"])]])  # fmt: skip
    assert np.abs(got - mid).max() < 6.0
    drawn = cv2.imread(str(out / "frame_gaze.png"))
    assert drawn.shape == (H, W, 3)
    # The eye crops reach the model: projected (model) eyes give another prediction.
    res = gaze_infer(
        GazeInferConfig(model=run, input=img, out=tmp_path / "m", eyes="model", face_model=fm)
    )
    r2 = _rows(res.csv)[0]
    assert r2["eyes"] == "model" and r2["yaw_rad"] != r["yaw_rad"]


def _eyeless_face() -> np.ndarray:
    """A cartoon face (skin oval, brows, nose, mouth) with no eyes, BGR."""
    img = np.full((360, 480, 3), 90, np.uint8)
    cx, cy, s = 240, 180, 160
    cv2.ellipse(img, (cx, cy), (int(0.42 * s), int(0.55 * s)), 0, 0, 360, (150, 180, 220), -1)
    for dx in (-1, 1):
        brow = (cx + int(dx * 0.18 * s), cy - int(0.2 * s))
        cv2.ellipse(img, brow, (int(0.12 * s), int(0.03 * s)), 0, 0, 360, (40, 50, 70), -1)
    cv2.line(img, (cx, cy - 8), (cx - 6, cy + 19), (110, 130, 170), 3)
    cv2.ellipse(img, (cx, cy + 43), (22, 6), 0, 0, 360, (60, 60, 150), -1)
    return cv2.GaussianBlur(img, (5, 5), 0)


def test_no_eyes_found_is_a_recorded_status_and_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    run = _save_eye_run(tmp_path / "run")
    img = tmp_path / "eyeless.png"
    cv2.imwrite(str(img), _eyeless_face())
    with caplog.at_level(logging.WARNING, logger="pano.gaze"):
        res = gaze_infer(GazeInferConfig(model=run, input=img, out=tmp_path / "h"))
    if res.faces == 0:
        pytest.fail("the eyeless cartoon face was not detected by the face cascade")
    assert res.no_eyes == res.faces
    rows = _rows(res.csv)
    assert [r["eyes"] for r in rows] == ["none"] * res.faces
    assert all(r["yaw_rad"] == "" and r["gaze_cam_z"] == "" and r["eye_left_x"] == "" for r in rows)
    assert "eyes not found in 1 of 1 face(s)" in caplog.text and "--eyes auto" in caplog.text
    assert (tmp_path / "h" / "eyeless_gaze.png").is_file()
    # auto: the projected face model stands in; a gaze is predicted
    code = main(["gaze-infer", str(run), str(img), "--out", str(tmp_path / "a"), "--eyes", "auto"])
    assert code == 0 and "without eyes" not in capsys.readouterr().out
    assert _rows(tmp_path / "a" / "eyeless_gaze.csv")[0]["eyes"] == "model"
    # bad options: one line, exit 2, nothing written
    capsys.readouterr()
    bad = ["gaze-infer", str(run), str(img), "--out", str(tmp_path / "b")]
    assert main([*bad, "--eyes", "landmarks"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    with pytest.raises(InputFileNotFoundError, match="--face-model"):
        gaze_infer(
            GazeInferConfig(model=run, input=img, out=tmp_path / "b", face_model=tmp_path / "x.mat")
        )
    assert not (tmp_path / "b").exists()
