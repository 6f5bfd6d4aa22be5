"""``pano gaze-infer``: Haar detection, normalisation, the model, arrows and the CSV."""

from __future__ import annotations

import csv
import inspect
import io
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pano.cli.app import main
from pano.errors import (
    CheckpointError,
    ConfigError,
    InputDataError,
    InputFileNotFoundError,
    OutputExistsError,
)
from pano.models.gaze_grm import GazeModelConfig, build_gaze_model
from pano.pipelines.gaze_infer import (
    CSV_COLUMNS,
    PERSON_BN_MIN_FACES,
    GazeInferConfig,
    _cascade,
    detect_faces,
    gaze_infer,
    load_gaze_model,
)
from pano.pipelines.train.checkpoint import CheckpointManager

cv2 = pytest.importorskip("cv2")

CFG = GazeModelConfig(backbone="pano_cnn_tiny", image_size=32, hidden=8, dropout=0.0)


def draw_face(img: np.ndarray, cx: int, cy: int, s: int) -> None:
    """A flat cartoon face (skin oval, brows, eyes with pupils, nose, mouth), BGR."""
    cv2.ellipse(img, (cx, cy), (int(0.42 * s), int(0.55 * s)), 0, 0, 360, (150, 180, 220), -1)
    for dx in (-1, 1):
        ex, ey = cx + int(dx * 0.18 * s), cy - int(0.1 * s)
        brow = (ex, ey - int(0.1 * s))
        cv2.ellipse(img, brow, (int(0.12 * s), int(0.03 * s)), 0, 0, 360, (40, 50, 70), -1)
        cv2.ellipse(img, (ex, ey), (int(0.09 * s), int(0.045 * s)), 0, 0, 360, (255,) * 3, -1)
        cv2.circle(img, (ex, ey), int(0.035 * s), (30, 30, 30), -1)
    nose = ((cx, cy - int(0.05 * s)), (cx - int(0.04 * s), cy + int(0.12 * s)))
    cv2.line(img, *nose, (110, 130, 170), max(1, int(0.02 * s)))
    mouth = (cx, cy + int(0.27 * s))
    cv2.ellipse(img, mouth, (int(0.14 * s), int(0.04 * s)), 0, 0, 360, (60, 60, 150), -1)


def face_image(cx: int = 240, cy: int = 180, s: int = 160) -> np.ndarray:
    img = np.full((360, 480, 3), 90, np.uint8)
    draw_face(img, cx, cy, s)
    return cv2.GaussianBlur(img, (5, 5), 0)


def save_run(folder: Path, zero_head: bool = False, train: dict[str, Any] | None = None) -> Path:
    """A checkpoint of the tiny model; ``train``: more training-config keys it records."""
    torch.manual_seed(0)
    model = build_gaze_model(CFG)
    if zero_head:  # yaw = pitch = 0: every face looks into the (normalised) camera
        with torch.no_grad():
            model.out.weight.zero_()
            model.out.bias.zero_()
    config = {"model": CFG.model_dump(mode="json"), **(train or {})}
    state = {"model": model.state_dict(), "config": config}
    CheckpointManager(folder / "checkpoints").save(1, state, val=1.0, best=True)
    return folder


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    text = path.read_text(encoding="utf-8")
    comments = [ln for ln in text.splitlines() if ln.startswith("#")]
    body = "\n".join(ln for ln in text.splitlines() if not ln.startswith("#"))
    return comments, list(csv.DictReader(io.StringIO(body)))


def test_the_drawn_face_is_detected() -> None:
    boxes = detect_faces(face_image(), _cascade("alt2"))
    assert len(boxes) == 1
    x, y, w, h = boxes[0]
    assert abs(x + w / 2 - 240) < 20 and abs(y + h / 2 - 180) < 25 and 100 < w < 220


def test_image_gaze_into_the_camera_points_at_the_camera(tmp_path: Path) -> None:
    """Landmark: yaw = pitch = 0 in the normalised camera is the direction from the face to
    the camera, -fc/|fc| in the original camera, fc from the box and the stated assumptions."""
    run = save_run(tmp_path / "run", zero_head=True)
    img = face_image(cx=330, cy=130, s=150)  # off-centre: R is not the identity
    cv2.imwrite(str(tmp_path / "face.png"), img)
    res = gaze_infer(GazeInferConfig(model=run, input=tmp_path / "face.png", out=tmp_path / "o"))
    assert (res.frames, res.faces) == (1, 1)
    comments, rows = read_csv(res.csv)
    assert any("R_head = I" in c for c in comments) and any("150 mm" in c for c in comments)
    assert list(rows[0]) == CSV_COLUMNS
    r = {k: float(v) for k, v in rows[0].items() if not k.startswith("eye")}
    assert rows[0]["eyes"] == "unused"
    assert r["yaw_rad"] == 0.0 and r["pitch_rad"] == 0.0
    np.testing.assert_allclose([r["gaze_norm_x"], r["gaze_norm_y"], r["gaze_norm_z"]], [0, 0, -1])
    # Independent back-projection: focal = width = 480, principal point (240, 180).
    cx, cy, w = r["box_x"] + r["box_w"] / 2, r["box_y"] + r["box_h"] / 2, r["box_w"]
    z = 480.0 * 150.0 / w
    fc = np.array([(cx - 240) / 480 * z, (cy - 180) / 480 * z, z])
    g = np.array([r["gaze_cam_x"], r["gaze_cam_y"], r["gaze_cam_z"]])
    np.testing.assert_allclose(g, -fc / np.linalg.norm(fc), atol=1e-5)
    assert g[0] < -0.05 and g[1] > 0.02  # right of and above the centre: looks left and down
    out = cv2.imread(str(res.media))
    assert out.shape == img.shape and np.abs(out.astype(int) - img).sum() > 0


def test_video_rows_per_frame_and_mp4_output(tmp_path: Path) -> None:
    run = save_run(tmp_path / "run")
    src = tmp_path / "clip.mp4"
    vw = cv2.VideoWriter(str(src), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, (480, 360))
    for i in range(4):
        vw.write(face_image(cx=200 + 20 * i))
    vw.write(np.full((360, 480, 3), 90, np.uint8))  # a frame without a face
    vw.release()
    res = gaze_infer(GazeInferConfig(model=run / "checkpoints", input=src, out=tmp_path / "o"))
    assert res.frames == 5 and res.faces == 4
    _, rows = read_csv(res.csv)
    assert [int(r["frame"]) for r in rows] == [0, 1, 2, 3]
    np.testing.assert_allclose([float(r["time_s"]) for r in rows], [0.0, 0.1, 0.2, 0.3])
    for r in rows:
        for pre in ("gaze_norm_", "gaze_cam_"):
            v = np.array([float(r[pre + a]) for a in "xyz"])
            assert abs(np.linalg.norm(v) - 1) < 1e-5
    cap = cv2.VideoCapture(str(res.media))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n == 5 and res.media.suffix == ".mp4"


def test_no_face_gives_header_only_csv_and_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = save_run(tmp_path / "run")
    cv2.imwrite(str(tmp_path / "wall.jpg"), np.full((120, 160, 3), 128, np.uint8))
    with caplog.at_level(logging.WARNING, logger="pano.gaze"):
        res = gaze_infer(GazeInferConfig(model=run, input=tmp_path / "wall.jpg", out=tmp_path))
    assert res.faces == 0 and res.media.is_file()
    comments, rows = read_csv(res.csv)
    assert rows == [] and comments
    header = [ln for ln in res.csv.read_text().splitlines() if not ln.startswith("#")]
    assert header == [",".join(CSV_COLUMNS)]
    assert "no face found" in caplog.text


def test_bad_inputs_are_one_line_errors_and_write_nothing(tmp_path: Path) -> None:
    run = save_run(tmp_path / "run")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    out = tmp_path / "o"
    with pytest.raises(InputDataError, match="cannot be read as an image"):
        gaze_infer(GazeInferConfig(model=run, input=tmp_path / "broken.png", out=out))
    assert not out.exists() or not any(out.iterdir())
    with pytest.raises(InputFileNotFoundError):
        gaze_infer(GazeInferConfig(model=run, input=tmp_path / "absent.png", out=out))
    with pytest.raises(
        CheckpointError, match=r"no checkpoints/manifest\.json here; runs inside: run"
    ):
        load_gaze_model(tmp_path)  # runs are one level down: the message names them
    save_run(tmp_path / "lopo" / "folds" / "p01")
    with pytest.raises(CheckpointError, match=r"runs inside: folds/p01 \(pass one"):
        load_gaze_model(tmp_path / "lopo")
    net, params = load_gaze_model(tmp_path / "lopo" / "folds" / "p01")
    assert (params.width_px, params.focal_px) == (224, 960.0)  # the stored faces' (GazeHub's)
    assert not net.training
    cv2.imwrite(str(tmp_path / "f.png"), face_image())
    gaze_infer(GazeInferConfig(model=run, input=tmp_path / "f.png", out=out))
    with pytest.raises(OutputExistsError, match="--overwrite"):
        gaze_infer(GazeInferConfig(model=run, input=tmp_path / "f.png", out=out))


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = save_run(tmp_path / "run")
    cv2.imwrite(str(tmp_path / "f.png"), face_image())
    assert main(["gaze-infer", str(run), str(tmp_path / "f.png"), "--out", str(tmp_path)]) == 0
    assert "1 face(s)" in capsys.readouterr().out
    (tmp_path / "bad.png").write_bytes(b"junk")
    code = main(["gaze-infer", str(run), str(tmp_path / "bad.png"), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "bad.png" in err
    assert main(["gaze-infer", "-h"]) == 0


def test_a_model_that_reads_eye_crops_loads(tmp_path: Path) -> None:
    """Eye-crop models are no longer refused (tests/test_gaze_infer_eyes.py runs them)."""
    cfg = CFG.model_copy(update={"eyes": True})
    model = build_gaze_model(cfg)
    state = {"model": model.state_dict(), "config": {"model": cfg.model_dump(mode="json")}}
    CheckpointManager(tmp_path / "eyes" / "checkpoints").save(1, state, val=1.0, best=True)
    net, _ = load_gaze_model(tmp_path / "eyes")
    assert net.cfg.eyes and net.eye_net is not None


# --------------------------------------------------------------------------- person-wise BN


def person_video(path: Path, n: int = 10) -> Path:
    """``n`` frames of one drawn face moving right and growing, each detected once."""
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, (480, 360))
    for i in range(n):
        vw.write(face_image(cx=190 + 10 * i, cy=175 + 2 * i, s=150 + 2 * i))
    vw.release()
    return path


def gaze_rows(path: Path) -> tuple[list[str], np.ndarray]:
    """(comment lines, ``(N, 2)`` yaw/pitch of every row)."""
    comments, rows = read_csv(path)
    return comments, np.array([[float(r["yaw_rad"]), float(r["pitch_rad"])] for r in rows])


def test_person_bn_recomputes_statistics_on_the_video_and_follows_the_model(
    tmp_path: Path,
) -> None:
    """The video's own BatchNorm statistics change the predictions; the default is the
    checkpoint's predict_person_bn, and --person-bn gives the same numbers explicitly."""
    src = person_video(tmp_path / "clip.mp4")
    plain = save_run(tmp_path / "plain")  # records no predict_person_bn: off
    pbn = save_run(tmp_path / "pbn", train={"predict_person_bn": True, "optim": {"batch_size": 32}})

    def infer(model: Path, out: str, **kw: Any) -> Any:
        return gaze_infer(GazeInferConfig(model=model, input=src, out=tmp_path / out, **kw))

    off = infer(plain, "off")
    assert (off.frames, off.faces, off.person_bn, off.person_bn_faces) == (10, 10, False, 0)
    c_off, g_off = gaze_rows(off.csv)
    assert "# person_bn: not applied (the model records no predict_person_bn)" in c_off[-1]
    on = infer(plain, "on", person_bn=True)
    assert (on.faces, on.person_bn, on.person_bn_faces) == (10, True, 10)
    c_on, g_on = gaze_rows(on.csv)
    assert c_on[-1].startswith("# person_bn: applied on 10 faces")
    assert g_on.shape == g_off.shape == (10, 2)
    assert np.abs(g_on - g_off).max() > 1e-3  # the statistics moved the predictions
    # the trained model's own setting is the default: the same numbers as --person-bn
    default = infer(pbn, "default")
    assert default.person_bn and default.person_bn_faces == 10
    np.testing.assert_array_equal(gaze_rows(default.csv)[1], g_on)
    # ... and --no-person-bn overrides it back to per-face prediction
    no = infer(pbn, "no", person_bn=False)
    assert not no.person_bn and "(--no-person-bn)" in gaze_rows(no.csv)[0][-1]
    np.testing.assert_array_equal(gaze_rows(no.csv)[1], g_off)


def test_person_bn_refused_when_asked_and_impossible_warned_when_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = save_run(tmp_path / "run", train={"predict_person_bn": True})
    cv2.imwrite(str(tmp_path / "f.png"), face_image())
    img, out = tmp_path / "f.png", tmp_path / "o"
    with pytest.raises(ConfigError, match=r"^--person-bn: INPUT is an image; .*video") as err:
        gaze_infer(GazeInferConfig(model=run, input=img, out=out, person_bn=True))
    assert "\n" not in str(err.value) and not out.exists()
    with caplog.at_level(logging.WARNING, logger="pano.gaze"):
        res = gaze_infer(GazeInferConfig(model=run, input=img, out=out))  # the model's default
    assert res.faces == 1 and not res.person_bn
    assert "trained with predict_person_bn but INPUT is an image" in caplog.text
    assert "# person_bn: not applied (INPUT is an image" in gaze_rows(res.csv)[0][-1]
    # a video with too few faces: refused when asked for, per-face with a warning otherwise
    src = person_video(tmp_path / "short.mp4", n=3)
    assert PERSON_BN_MIN_FACES > 3
    with pytest.raises(ConfigError, match=r"has 3 usable face\(s\), fewer than 8"):
        gaze_infer(GazeInferConfig(model=run, input=src, out=tmp_path / "v", person_bn=True))
    assert not (tmp_path / "v").exists()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pano.gaze"):
        res = gaze_infer(GazeInferConfig(model=run, input=src, out=tmp_path / "v"))
    assert res.faces == 3 and not res.person_bn and "fewer than 8" in caplog.text
    # a model without BatchNorm layers: a no-op, refused when asked for
    monkeypatch.setattr("pano.pipelines.gaze_infer._has_batchnorm", lambda model: False)
    with pytest.raises(ConfigError, match="no BatchNorm layers"):
        gaze_infer(GazeInferConfig(model=run, input=src, out=tmp_path / "w", person_bn=True))


def test_cli_person_bn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = save_run(tmp_path / "run")
    src = person_video(tmp_path / "clip.mp4", n=8)
    args = ["gaze-infer", str(run), str(src), "--out", str(tmp_path / "o")]
    assert main([*args, "--person-bn"]) == 0
    assert "person-BN on 8 faces" in capsys.readouterr().out
    cv2.imwrite(str(tmp_path / "f.png"), face_image())
    code = main(
        ["gaze-infer", str(run), str(tmp_path / "f.png"), "--out", str(tmp_path), "--person-bn"]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--person-bn" in err
    assert main([*args, "--person-bn", "--person-bn-min-faces", "9", "--overwrite"]) == 2
    assert "fewer than 9" in capsys.readouterr().err
    from pano.cli.gaze_infer import gaze_infer_command

    shown = inspect.signature(gaze_infer_command).parameters["person_bn_min_faces"].default
    assert shown == PERSON_BN_MIN_FACES  # the thin CLI repeats the pipeline's constant


def test_person_bn_with_an_eye_crop_model(tmp_path: Path) -> None:
    """The eye crops join the faces in the BatchNorm pass (eye stream statistics too)."""
    cfg = CFG.model_copy(update={"eyes": True})
    torch.manual_seed(0)
    state = {"model": build_gaze_model(cfg).state_dict(), "config": {"model": cfg.model_dump()}}
    CheckpointManager(tmp_path / "eyes" / "checkpoints").save(1, state, val=1.0, best=True)
    src = person_video(tmp_path / "clip.mp4", n=8)
    got = {}
    for flag in (False, True):
        res = gaze_infer(
            GazeInferConfig(
                model=tmp_path / "eyes", input=src, out=tmp_path / str(flag), eyes="model",
                person_bn=flag,
            )
        )  # fmt: skip
        assert res.faces == 8 and res.person_bn == flag
        assert res.person_bn_faces == (8 if flag else 0)
        got[flag] = gaze_rows(res.csv)[1]
    assert got[True].shape == (8, 2) and np.abs(got[True] - got[False]).max() > 1e-3


# --------------------------------------------------------------------------- test-time mirroring


def hflip_line(comments: list[str]) -> str:
    """The CSV's one ``# hflip:`` comment line."""
    found = [c for c in comments if c.startswith("# hflip:")]
    assert len(found) == 1, comments
    return found[0]


def norm_columns(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(N, 2)`` yaw/pitch, ``(N, 2)`` sigma, ``(N, 3)`` gaze_norm and gaze_cam of the rows."""
    _, rows = read_csv(path)

    def cols(*names: str) -> np.ndarray:
        return np.array([[float(r[n]) for n in names] for r in rows])

    return (
        cols("yaw_rad", "pitch_rad"),
        cols("sigma_yaw_rad", "sigma_pitch_rad"),
        cols("gaze_norm_x", "gaze_norm_y", "gaze_norm_z"),
        cols("gaze_cam_x", "gaze_cam_y", "gaze_cam_z"),
    )


@pytest.mark.parametrize("eyes", [False, True], ids=["face-only", "eye-crops"])
def test_hflip_is_the_normalised_sum_with_the_mirrored_prediction(
    tmp_path: Path, eyes: bool
) -> None:
    """The CSV's gaze with --hflip, against the combination computed here from the model's
    own outputs on the same normalised inputs: face flipped, eye crops swapped and flipped,
    the mirror's x negated, the sum normalised; sigma the mean; R^T of it in gaze_cam."""
    from pano.pipelines.gaze_infer import _prepare, _Run, load_gaze_run

    cfg = CFG.model_copy(update={"eyes": eyes})
    torch.manual_seed(0)
    state = {"model": build_gaze_model(cfg).state_dict(), "config": {"model": cfg.model_dump()}}
    CheckpointManager(tmp_path / "run" / "checkpoints").save(1, state, val=1.0, best=True)
    img = face_image(cx=300, cy=150, s=150)
    cv2.imwrite(str(tmp_path / "f.png"), img)

    def infer(out: str, **kw: Any) -> Any:
        return gaze_infer(GazeInferConfig(model=tmp_path / "run", input=tmp_path / "f.png",
                                          out=tmp_path / out, eyes="model", **kw))  # fmt: skip

    on, off = infer("on", hflip=True), infer("off", hflip=False)
    assert (on.faces, on.hflip, on.hflip_from) == (1, True, "option")
    assert (off.faces, off.hflip, off.hflip_from) == (1, False, "option")
    ang, sig, g_norm, g_cam = norm_columns(on.csv)
    # the same inputs, by hand
    icfg = GazeInferConfig(model=tmp_path / "run", input=tmp_path / "f.png", out=tmp_path,
                           eyes="model")  # fmt: skip
    model, params, _ = load_gaze_run(icfg.model)
    run = _Run(icfg, model, params, torch.device("cpu"))
    f = _prepare(img.copy(), detect_faces(img, _cascade("alt2")), run)
    e = None if f.eye_u8 is None else torch.from_numpy(f.eye_u8).float() / 255.0
    assert (e is not None) == eyes and f.keep.all()
    with torch.no_grad():
        a = model(f.faces, e)
        b = model(f.faces.flip(-1), None if e is None else e.flip(1).flip(-1))
    v = a.vector.double().numpy() + b.vector.double().numpy() * np.array([-1.0, 1.0, 1.0])
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    np.testing.assert_allclose(g_norm, v, atol=1e-6)
    np.testing.assert_allclose(ang, np.stack([np.arctan2(-v[:, 0], -v[:, 2]), np.arcsin(-v[:, 1])],
                                             1), atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(sig, ((a.sigma + b.sigma) / 2).double().numpy(), atol=1e-6)
    cam = np.einsum("bji,bj->bi", f.rmat.numpy(), v)  # R^T v
    np.testing.assert_allclose(g_cam, cam, atol=1e-6)
    # without: the model's own prediction, which is not mirror-symmetric
    ang_off, _, g_off, _ = norm_columns(off.csv)
    np.testing.assert_allclose(g_off, a.vector.double().numpy(), atol=1e-6)
    assert np.abs(ang_off - ang).max() > 1e-3 and np.abs(g_off - g_norm).max() > 1e-3


def test_hflip_default_follows_the_checkpoint_and_the_option_overrides_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cv2.imwrite(str(tmp_path / "f.png"), face_image())
    img = tmp_path / "f.png"
    runs = {
        "absent": save_run(tmp_path / "absent"),
        "false": save_run(tmp_path / "false", train={"predict_hflip": False}),
        "true": save_run(tmp_path / "true", train={"predict_hflip": True}),
    }  # the same weights (seed 0): only the recorded setting differs

    def infer(run: str, out: str, **kw: Any) -> tuple[Any, list[str], np.ndarray]:
        res = gaze_infer(GazeInferConfig(model=runs[run], input=img, out=tmp_path / out, **kw))
        comments, g = gaze_rows(res.csv)
        return res, comments, g

    explicit_on, c_on, g_on = infer("absent", "on", hflip=True)
    assert hflip_line(c_on).startswith("# hflip: applied (--hflip); test-time mirroring")
    explicit_off, c_off, g_off = infer("absent", "off", hflip=False)
    assert hflip_line(c_off).startswith("# hflip: not applied (--no-hflip)")
    assert np.abs(g_on - g_off).max() > 1e-3
    assert (explicit_on.hflip, explicit_off.hflip) == (True, False)
    assert explicit_on.hflip_from == explicit_off.hflip_from == "option"
    # defaults: the checkpoint's predict_hflip; off when false or not recorded
    res, c, g = infer("true", "d_true")
    assert (res.hflip, res.hflip_from) == (True, "checkpoint")
    assert hflip_line(c).startswith("# hflip: applied (the model was trained with predict_hflip)")
    np.testing.assert_array_equal(g, g_on)
    res, c, g = infer("false", "d_false")
    assert (res.hflip, res.hflip_from) == (False, "checkpoint")
    assert "not applied (the model trained without predict_hflip)" in hflip_line(c)
    np.testing.assert_array_equal(g, g_off)
    res, c, g = infer("absent", "d_absent")
    assert (res.hflip, res.hflip_from) == (False, "checkpoint")
    assert "not applied (the model records no predict_hflip)" in hflip_line(c)
    np.testing.assert_array_equal(g, g_off)
    assert c[-1].startswith("# person_bn:")  # the person_bn line stays the last one
    # the command line: --no-hflip overrides a checkpoint's predict_hflip, --hflip a missing one
    args = [str(img), "--out"]
    assert main(["gaze-infer", str(runs["true"]), *args, str(tmp_path / "c1"), "--no-hflip"]) == 0
    assert "mirrored" not in capsys.readouterr().out
    c, g = gaze_rows(tmp_path / "c1" / "f_gaze.csv")
    assert "not applied (--no-hflip)" in hflip_line(c)
    np.testing.assert_array_equal(g, g_off)
    assert main(["gaze-infer", str(runs["absent"]), *args, str(tmp_path / "c2"), "--hflip"]) == 0
    assert "mirrored (hflip)" in capsys.readouterr().out
    np.testing.assert_array_equal(gaze_rows(tmp_path / "c2" / "f_gaze.csv")[1], g_on)


def test_hflip_applies_with_person_bn(tmp_path: Path) -> None:
    """Person-BN statistics come from the unmirrored faces (as train-gaze's); every face of
    the BatchNorm-adapted copy is then predicted with the mirror too."""
    src = person_video(tmp_path / "clip.mp4", n=8)
    run = save_run(tmp_path / "run", train={"predict_hflip": True, "predict_person_bn": True})
    got = {}
    for flag in (False, True):
        res = gaze_infer(GazeInferConfig(model=run, input=src, out=tmp_path / str(flag),
                                         hflip=None if flag else False))  # fmt: skip
        assert res.person_bn and res.person_bn_faces == 8 and res.hflip == flag
        comments, got[flag] = gaze_rows(res.csv)
        assert hflip_line(comments).startswith(f"# hflip: {'applied' if flag else 'not applied'}")
    assert got[True].shape == (8, 2) and np.abs(got[True] - got[False]).max() > 1e-3


def test_an_ensemble_fold_folder_predicts_the_members_combination(tmp_path: Path) -> None:
    """MODEL = a train-gaze ensemble fold folder (members/m<k>/checkpoints): the CSV's gaze
    is the normalised sum of the members' own (mirror-averaged) unit vectors, sigma their
    mean - the combination train-gaze writes for the fold."""
    from pano.models.gaze_augment import predict_gaze
    from pano.models.gaze_ensemble import GazeEnsemble
    from pano.pipelines.gaze_infer import _prepare, _Run, load_gaze_run

    fold = tmp_path / "folds" / "p00"
    nets = []
    for k in range(2):
        torch.manual_seed(k)
        net = build_gaze_model(CFG)
        state = {
            "model": net.state_dict(),
            "config": {"model": CFG.model_dump(), "predict_hflip": True, "seed": k},
        }
        CheckpointManager(fold / "members" / f"m{k}" / "checkpoints").save(
            1, state, val=1.0, best=True
        )
        nets.append(net.eval())  # fmt: skip
    img = face_image()
    cv2.imwrite(str(tmp_path / "f.png"), img)
    got = gaze_infer(GazeInferConfig(model=fold, input=tmp_path / "f.png", out=tmp_path / "o"))
    assert got.faces == 1 and got.hflip and got.hflip_from == "checkpoint"
    _, sig, g_norm, _ = norm_columns(got.csv)
    icfg = GazeInferConfig(model=fold, input=tmp_path / "f.png", out=tmp_path)
    model, params, train = load_gaze_run(fold)
    assert isinstance(model, GazeEnsemble) and len(model.members) == 2 and train["seed"] == 0
    f = _prepare(
        img.copy(),
        detect_faces(img, _cascade("alt2")),
        _Run(icfg, model, params, torch.device("cpu")),
    )
    each = [predict_gaze(n, f.faces, None, hflip=True) for n in nets]  # fmt: skip
    v = (each[0].vector + each[1].vector).numpy()
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    np.testing.assert_allclose(g_norm, v, atol=1e-6)
    np.testing.assert_allclose(sig, ((each[0].sigma + each[1].sigma) / 2).numpy(), atol=1e-6)
    assert float((each[0].vector - each[1].vector).abs().max()) > 1e-3  # the members differ
    # the run folder above it names the fold folder in its one-line error
    with pytest.raises(CheckpointError, match="runs inside: folds/p00 "):
        load_gaze_run(tmp_path)
