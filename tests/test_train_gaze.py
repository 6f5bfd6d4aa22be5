"""pano train-gaze (LOPO and split protocols), its store predictions and pano eval --target gaze.

The synthetic faces are written by this test from a description (a skin-coloured square with
two eyes whose pupils move with GazeHub's [yaw, pitch]), so their pixels determine the gaze.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from pano.cli.app import app, main
from pano.config import load_config
from pano.errors import CheckpointError
from pano.geometry import camvec_to_gazehub, gazehub_to_camvec, orthodromic_distance
from pano.pipelines.gaze import GazeTrainConfig, train_gaze
from pano.pipelines.gaze.data import FaceLoader, draw_validation, plan_folds, read_rows
from pano.stores.gaze_samples import GazeConvention, GazeProtocol, GazeSamples

CONFIGS = Path(__file__).resolve().parents[1] / "pipelines" / "configs"


def render_faces(yaw: np.ndarray, pitch: np.ndarray, skin: np.ndarray, size: int) -> np.ndarray:
    """``uint8 (N, size, size, 3)``: skin background, two eyes whose pupils follow the gaze."""
    n = len(yaw)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    out = np.empty((n, size, size, 3), np.uint8)
    r_eye, r_pupil = 0.13 * size, 0.06 * size
    for i in range(n):
        img = np.broadcast_to(skin[i], (size, size, 3)).astype(np.float64).copy()
        for cx in (0.3 * size, 0.7 * size):
            cy = 0.4 * size
            white = (xx - cx) ** 2 + (yy - cy) ** 2 <= r_eye**2
            img[white] = 235.0
            px = cx - np.sin(yaw[i]) / np.sin(0.5) * 0.9 * r_eye
            py = cy - np.sin(pitch[i]) / np.sin(0.5) * 0.9 * r_eye
            img[white & ((xx - px) ** 2 + (yy - py) ** 2 <= r_pupil**2)] = 20.0
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def synth_samples(
    persons: int = 5, per_person: int = 12, size: int = 32, seed: int = 0, split: bool = False
) -> tuple[GazeSamples, GazeProtocol]:
    """``persons`` persons (``p00``...), gaze within about +-0.5 rad, with a head pose."""
    rng = np.random.default_rng(seed)
    n = persons * per_person
    subject = np.repeat([f"p{k:02d}" for k in range(persons)], per_person)
    pk = np.repeat(np.arange(persons), per_person)
    bias = rng.uniform(-0.1, 0.1, size=(persons, 2))
    yaw = rng.uniform(-0.45, 0.45, n) + bias[pk, 0]
    pitch = rng.uniform(-0.35, 0.35, n) + bias[pk, 1]
    skin = rng.uniform(90, 200, size=(persons, 3))[pk]
    hy, hp = 0.5 * yaw + rng.normal(0, 0.05, n), 0.5 * pitch + rng.normal(0, 0.05, n)
    samples = GazeSamples(
        face=render_faces(yaw, pitch, skin, size),
        gaze_xyz=np.asarray(gazehub_to_camvec(yaw, pitch), np.float64),
        gaze_angles=np.stack([yaw, pitch], 1),
        subject=subject,
        source=np.array([f"Image/{s}/{i}.jpg" for i, s in enumerate(subject)]),
        mirrored=np.zeros(n, bool),
        head_xyz=np.asarray(gazehub_to_camvec(hy, hp), np.float64),
        head_angles=np.stack([hy, hp], 1),
        split=np.array(["train", "val", "test"])[np.arange(n) % 5 % 3] if split else None,
    ).check("synthetic")
    if split:
        return samples, GazeProtocol("split", (), "train/val/test")
    return samples, GazeProtocol("lopo", tuple(sorted(set(subject))), "leave one person out")


def make_store(path: Path, dataset: str = "synth", **kw: object) -> tuple[str, GazeSamples]:
    from pano.stores.gaze import write_gaze

    samples, protocol = synth_samples(**kw)  # type: ignore[arg-type]
    convention = GazeConvention(
        dataset, "synthetic test faces", "[yaw, pitch]", "radians", "GazeHub camera axes",
        "none (rendered in the normalised camera)", "none",
    )  # fmt: skip
    write_gaze(str(path), dataset, samples, convention, protocol, {"source": "test"})
    return str(path), samples


def tiny(**over: object) -> GazeTrainConfig:
    return load_config(
        GazeTrainConfig,
        CONFIGS / "gaze_tiny.yaml",
        {k: v for k, v in over.items()},
    )


# ---------------------------------------------------------------------------- folds, loader


def test_validation_person_is_drawn_from_training_persons_deterministically() -> None:
    persons = [f"p{k:02d}" for k in range(15)]
    for test in persons:
        val = draw_validation(persons, test, 1, seed=3)
        assert test not in val and set(val) <= set(persons)
        assert val == draw_validation(list(reversed(persons)), test, 1, seed=3)
    draws = {draw_validation(persons, "p00", 1, seed=s) for s in range(20)}
    assert len(draws) > 1  # the seed matters


def test_plan_folds_partitions_samples_and_refuses_unknown_folds() -> None:
    s, proto = synth_samples(persons=4, per_person=3)
    plans = plan_folds(s.subject, None, proto, None, 1, 0, "x")
    assert [p.name for p in plans] == ["p00", "p01", "p02", "p03"]
    for p in plans:
        allidx = np.concatenate([p.train_idx, p.val_idx, p.test_idx])
        assert sorted(allidx.tolist()) == list(range(len(s)))
        assert set(s.subject[p.test_idx]) == {p.test_person}
        assert set(s.subject[p.val_idx]) == set(p.val_persons)
        assert p.test_person not in p.val_persons + p.train_persons
    with pytest.raises(ValueError, match="p99 is not a person"):
        plan_folds(s.subject, None, proto, ["p99"], 1, 0, "x")


def test_face_loader_streams_every_sample_once_in_chunks(tmp_path: Path) -> None:
    import zarr

    arr = zarr.create_array(
        tmp_path / "a.zarr", shape=(50, 4, 4, 3), chunks=(7, 4, 4, 3), dtype="uint8"
    )
    data = np.arange(50 * 48, dtype=np.int64).reshape(50, 4, 4, 3) % 251
    arr[...] = data.astype(np.uint8)
    idx = np.array([0, 3, 6, 7, 8, 20, 21, 33, 48, 49])
    np.testing.assert_array_equal(read_rows(arr, idx), data[idx].astype(np.uint8))
    for cache_mb in (0, 64):  # streamed by chunk, and cached
        loader = FaceLoader(arr, idx, cache_mb=cache_mb, buffer_chunks=2)
        assert loader.cached == (cache_mb > 0)
        seen = []
        for sel, faces in loader.shuffled(3, np.random.default_rng(0)):
            np.testing.assert_array_equal(faces, data[sel].astype(np.uint8))
            seen += sel.tolist()
        assert sorted(seen) == idx.tolist()


def test_face_loader_person_batches_hold_one_person_each(tmp_path: Path) -> None:
    import zarr

    arr = zarr.create_array(
        tmp_path / "a.zarr", shape=(40, 4, 4, 3), chunks=(6, 4, 4, 3), dtype="uint8"
    )
    data = (np.arange(40 * 48, dtype=np.int64).reshape(40, 4, 4, 3) % 251).astype(np.uint8)
    arr[...] = data
    idx = np.arange(3, 40)
    who = np.array(["p00"] * 10 + ["p01"] * 20 + ["p02"] * 7)  # per idx row
    for cache_mb in (0, 64):
        loader = FaceLoader(arr, idx, cache_mb=cache_mb, groups=who)
        # p00: 10 -> 2 x 5; p01: 20 -> 3 batches (7, 7, 6); p02: 7 -> 1: 6 batches.
        assert loader.batches(8) == 6
        sizes, seen, firsts = [], [], []
        for sel, faces in loader.shuffled(8, np.random.default_rng(1)):
            np.testing.assert_array_equal(faces, data[sel])
            persons = set(who[sel - 3].tolist())
            assert len(persons) == 1, persons  # one person per batch
            sizes.append(len(sel))
            seen += sel.tolist()
            firsts.append(persons.pop())
        assert sorted(seen) == idx.tolist()
        assert sorted(sizes) == [5, 5, 6, 7, 7, 7]
        assert firsts != sorted(firsts)  # the batches of different persons are interleaved
    assert FaceLoader(arr, idx).batches(8) == 5


def _train_gaze_cli(store: str, fold: str, out: Path, *sets: str) -> Any:
    """``pano train-gaze`` on the tiny config, one fold, one epoch, in process."""
    extra = [a for s in (*sets, "optim.epochs=1") for a in ("--set", s)]
    return CliRunner().invoke(
        app,
        ["train-gaze", store, "--config", str(CONFIGS / "gaze_tiny.yaml"), "--dataset", "synth",
         "--fold", fold, "--out", str(out), "--workers", "0", *extra],
    )  # fmt: skip


def test_person_batches_train_a_fold_end_to_end(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path / "g.zarr", persons=4, per_person=6)
    r = _train_gaze_cli(store, "p00", tmp_path / "pb", "optim.person_batches=true")
    assert r.exit_code == 0, r.output
    saved = json.loads((tmp_path / "pb" / "folds" / "p00" / "fold.json").read_text())
    assert saved["complete"] and saved["n_train"] == 12  # 2 training persons x 6 faces
    cfg = (tmp_path / "pb" / "config.yaml").read_text()
    assert "person_batches: true" in cfg


# ---------------------------------------------------------------------------- LOPO end to end


def test_lopo_all_folds_predictions_and_gaze_eval(tmp_path: Path) -> None:
    from pano.stores.gaze_predictions import open_gaze_predictions
    from pano.stores.results import open_results

    store, s = make_store(tmp_path / "g.zarr", persons=5, per_person=12)
    out = tmp_path / "runs" / "tiny"
    res = train_gaze(store, tiny(), "synth", out=out, workers=0)
    assert [r["fold"] for r in res.folds] == ["p00", "p01", "p02", "p03", "p04"]
    summary = json.loads((out / "summary.json").read_text())
    assert "never on the test fold" in summary["checkpoint_selection"]
    for rec in res.folds:
        assert rec["val_persons"] == list(
            draw_validation(sorted(set(s.subject)), rec["fold"], 1, 0)
        )
        assert rec["fold"] not in rec["val_persons"] + rec["train_persons"]
        assert "never used for selection" in rec["selection_rule"]
        man = json.loads(
            (out / "folds" / rec["fold"] / "checkpoints" / "manifest.json").read_text()
        )
        entry = next(e for e in man["checkpoints"] if e["file"] == rec["selected_checkpoint"])
        assert entry["sha256"] == rec["checkpoint_sha256"] and man["best"] == entry["file"]
        vals = [e["val"] for e in man["checkpoints"]]
        assert rec["val_angular_deg"] == min(vals)  # chosen on validation, the best kept
        assert (out / "folds" / rec["fold"] / "tb").is_dir()
    p = open_gaze_predictions(store, "synth", "tiny")
    assert p.scored.all()  # every person is a test fold once
    np.testing.assert_array_equal(p.fold, s.subject)
    np.testing.assert_allclose(np.linalg.norm(p.gaze_xyz, axis=1), 1.0, atol=1e-12)
    yaw, pitch = camvec_to_gazehub(p.gaze_xyz)
    np.testing.assert_allclose(yaw, p.yaw, atol=1e-9)
    np.testing.assert_allclose(pitch, p.pitch, atol=1e-9)
    assert p.attrs["pano_complete"] is True and len(p.attrs["folds"]) == 5
    assert p.attrs["config"]["optim"]["epochs"] == 2

    figs = tmp_path / "eval"
    r = CliRunner().invoke(
        app,
        ["eval", store, "--target", "gaze", "--dataset", "synth", "--predictions", "tiny",
         "--out", str(figs)],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "mean_of_person_means_deg" in r.output
    ds = open_results(store, "tiny_gaze")
    assert list(ds["model"].values) == ["tiny", "mean_gaze", "head_pose"]
    # Recompute every number from the labels and predictions.
    err = np.rad2deg(orthodromic_distance(p.gaze_xyz, s.gaze_xyz))
    persons = sorted(set(s.subject))
    per = np.array([err[s.subject == q].mean() for q in persons])
    np.testing.assert_allclose(ds["person_mean_deg"].sel(model="tiny").values, per, rtol=1e-12)
    assert float(ds["mean_of_person_means_deg"].sel(model="tiny")) == pytest.approx(per.mean())
    assert float(ds["person_std_deg"].sel(model="tiny")) == pytest.approx(per.std(ddof=1))
    assert float(ds["person_max_deg"].sel(model="tiny")) == pytest.approx(per.max())
    # mean-gaze baseline: each fold's TRAINING persons' normalised mean gaze
    for rec in res.folds:
        train = np.isin(s.subject, rec["train_persons"])
        m = s.gaze_xyz[train].mean(0)
        m /= np.linalg.norm(m)
        e = np.rad2deg(
            orthodromic_distance(np.broadcast_to(m, (12, 3)), s.gaze_xyz[s.subject == rec["fold"]])
        )
        got = float(ds["person_mean_deg"].sel(model="mean_gaze", person=rec["fold"]))
        assert got == pytest.approx(e.mean(), rel=1e-12)
    he = np.rad2deg(orthodromic_distance(s.head_xyz, s.gaze_xyz))
    assert float(ds["sample_mean_deg"].sel(model="head_pose")) == pytest.approx(he.mean())
    assert {f.name for f in figs.iterdir()} >= {
        "gaze_summary.csv", "gaze_per_person.csv", "report.md", "gaze_per_person.png"
    }  # fmt: skip


def test_seed_ensemble_members_choose_on_their_own_validation_and_average_on_the_sphere(
    tmp_path: Path,
) -> None:
    from pano.pipelines.gaze.fold import read_fold
    from pano.stores.gaze_predictions import open_gaze_predictions

    store, s = make_store(tmp_path / "g.zarr", persons=4, per_person=6)
    out = tmp_path / "ens"
    cfg = tiny(ensemble=2, seed=3, optim={"epochs": 1})
    res = train_gaze(store, cfg, "synth", folds=["p00", "p02"], out=out, workers=0)
    assert [r["fold"] for r in res.folds] == ["p00", "p02"]
    persons = sorted(set(s.subject))
    for rec in res.folds:
        fold_dir = out / "folds" / rec["fold"]
        assert not (fold_dir / "checkpoints").exists()
        assert rec["ensemble"] == 2 and len(rec["members"]) == 2
        got = [read_fold(fold_dir / "members" / f"m{k}") for k in range(2)]
        vecs, trained = [], set()
        for k, (mrec, mpred) in enumerate(x for x in got if x is not None):
            # member k: seed 3 + k draws its own validation person; the test person never
            assert mrec["val_persons"] == list(draw_validation(persons, rec["fold"], 1, 3 + k))
            assert rec["fold"] not in mrec["val_persons"] + mrec["train_persons"]
            assert rec["selected_checkpoint"][k] == f"members/m{k}/{mrec['selected_checkpoint']}"
            vecs.append(mpred["gaze_xyz"])
            trained |= set(mrec["train_persons"])
        assert len(vecs) == 2
        m = vecs[0] + vecs[1]
        m /= np.linalg.norm(m, axis=1, keepdims=True)
        pred = read_fold(fold_dir)
        assert pred is not None
        np.testing.assert_allclose(pred[1]["gaze_xyz"], m, atol=1e-12)
        assert rec["train_persons"] == sorted(trained)  # the mean-gaze baseline's persons
        assert "never used for selection" in rec["selection_rule"]
    p = open_gaze_predictions(store, "synth", "ens")
    sel = np.isin(s.subject, ["p00", "p02"])
    assert p.scored[sel].all() and not p.scored[~sel].any()
    yaw, pitch = camvec_to_gazehub(p.gaze_xyz[sel])
    np.testing.assert_allclose(yaw, p.yaw[sel], atol=1e-9)
    np.testing.assert_allclose(pitch, p.pitch[sel], atol=1e-9)
    # --resume: complete members are not trained again; the combination is the same.
    again = train_gaze(store, cfg, "synth", folds=["p00", "p02"], out=out, workers=0, resume=True)
    assert again.folds[0]["checkpoint_sha256"] == res.folds[0]["checkpoint_sha256"]
    with pytest.raises(CheckpointError, match="already has checkpoints"):
        train_gaze(store, cfg, "synth", folds=["p00"], out=out, workers=0)
    # the CLI prints one line per member
    r = _train_gaze_cli(store, "p01", tmp_path / "ens_cli", "ensemble=2")
    assert r.exit_code == 0, r.output
    assert "fold p01 members/m0: validation" in r.output
    assert "fold p01 members/m1: validation" in r.output


def test_resume_continues_a_fold_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, _ = make_store(tmp_path / "g.zarr", persons=4, per_person=6)
    out = tmp_path / "r1"
    train_gaze(store, tiny(**{"optim": {"epochs": 1}}), "synth", folds=["p01"], out=out, workers=0)
    man = out / "folds" / "p01" / "checkpoints" / "manifest.json"
    assert json.loads(man.read_text())["latest"] == "ckpt-00000001.pt"
    res = train_gaze(
        store, tiny(**{"optim": {"epochs": 2}}), "synth", folds=["p01"], out=out, workers=0,
        resume=True,
    )  # fmt: skip
    assert json.loads(man.read_text())["latest"] == "ckpt-00000002.pt"
    assert res.folds[0]["epochs"] == 2 and res.predicted_folds == ["p01"]
    rc = main(
        ["train-gaze", store, "--config", str(CONFIGS / "gaze_tiny.yaml"), "--dataset",
         "synth", "--fold", "p01", "--out", str(out), "--workers", "0"],
    )  # fmt: skip
    assert rc == 2 and "--resume" in capsys.readouterr().err
    # A second fold in the same run folder adds its test samples to the predictions.
    res = train_gaze(store, tiny(), "synth", folds=["p02"], out=out, workers=0)
    assert res.predicted_folds == ["p01", "p02"]


def test_split_protocol_trains_one_fold(tmp_path: Path) -> None:
    from pano.stores.gaze_predictions import open_gaze_predictions

    store, s = make_store(tmp_path / "g.zarr", persons=3, per_person=10, split=True)
    res = train_gaze(store, tiny(), "synth", out=tmp_path / "split", workers=0)
    assert [r["fold"] for r in res.folds] == ["split"]
    p = open_gaze_predictions(store, "synth", "split")
    np.testing.assert_array_equal(p.scored, s.split == "test")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--dataset", "nope"], "nope"),
        (["--dataset", "synth", "--fold", "p77"], "p77 is not a person"),
        (["--dataset", "synth", "--set", "optim.lr=-1"], "optim.lr"),
        (["--dataset", "synth", "--folds", "some"], "--folds"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    store, _ = make_store(tmp_path / "g.zarr", persons=3, per_person=2)
    rc = main(
        ["train-gaze", store, "--config", str(CONFIGS / "gaze_tiny.yaml"), "--out",
         str(tmp_path / "o"), "--workers", "0", *args],
    )  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2, err
    assert needle in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()  # nothing written


def test_eval_gaze_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, _ = make_store(tmp_path / "g.zarr", persons=3, per_person=2)
    assert main(["eval", store, "--target", "gaze", "--predictions", "x"]) == 2
    assert "--dataset" in capsys.readouterr().err
    assert (
        main(["eval", store, "--target", "gaze", "--dataset", "synth", "--predictions", "x"]) == 2
    )
    assert "no complete gaze/synth/predictions/x" in capsys.readouterr().err
    assert main(["eval", store, "--baselines", "mean_gaze"]) == 2
    assert "--target gaze" in capsys.readouterr().err


@pytest.mark.slow  # two worker processes import torch (~1 min on the loaded 2-core CI machine)
def test_folds_in_parallel_on_dask_match_in_process(tmp_path: Path) -> None:
    from pano.stores.gaze_predictions import open_gaze_predictions

    store, _ = make_store(tmp_path / "g.zarr", persons=4, per_person=6)
    cfg = tiny(**{"optim": {"epochs": 1}})
    a = train_gaze(store, cfg, "synth", folds=["p00", "p02"], out=tmp_path / "seq", workers=0)
    b = train_gaze(store, cfg, "synth", folds=["p00", "p02"], out=tmp_path / "par", workers=2)
    assert [r["fold"] for r in b.folds] == ["p00", "p02"]
    for ra, rb in zip(a.folds, b.folds, strict=True):
        assert ra["val_persons"] == rb["val_persons"]
        assert (tmp_path / "par" / "folds" / rb["fold"] / "fold.json").is_file()
    pa = open_gaze_predictions(store, "synth", "seq")
    pb = open_gaze_predictions(store, "synth", "par")
    np.testing.assert_array_equal(pa.scored, pb.scored)
    # Same seeds, same data: the same model up to float summation order (threads differ).
    np.testing.assert_allclose(pb.gaze_xyz[pb.scored], pa.gaze_xyz[pa.scored], atol=1e-4)


def test_a_learnable_setup_beats_the_mean_gaze_baseline(tmp_path: Path) -> None:
    """Faces whose pupils show the gaze: the model must learn more than the average gaze."""
    from pano.pipelines.eval import EvalConfig
    from pano.pipelines.eval.gaze import score_gaze

    store, _ = make_store(tmp_path / "g.zarr", persons=5, per_person=60)
    cfg = tiny(**{"optim": {"epochs": 10, "lr": 3e-3}, "augment": {"enabled": False}})
    train_gaze(store, cfg, "synth", folds=["p00"], out=tmp_path / "learn", workers=0)
    ecfg = EvalConfig(store=store, target="gaze", dataset="synth", predictions=["learn"])
    ds, _ = score_gaze(ecfg)
    model = float(ds["mean_of_person_means_deg"].sel(model="learn"))
    base = float(ds["mean_of_person_means_deg"].sel(model="mean_gaze"))
    assert model < 0.7 * base, (model, base)


@pytest.mark.slow  # two processes import torch (~1 min on the loaded 2-core CI machine)
def test_torchrun_two_gloo_processes_train_each_fold_with_ddp(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from pano.stores.gaze_predictions import open_gaze_predictions

    store, s = make_store(tmp_path / "g.zarr", persons=4, per_person=6)
    out = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "pano", "train-gaze", store, "--config", str(CONFIGS / "gaze_tiny.yaml"),
        "--dataset", "synth", "--fold", "p00,p01", "--out", str(out), "--set", "optim.epochs=1",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=280)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("trained 2 fold(s)") == 1, res.stdout  # rank 0 prints alone
    for fold in ("p00", "p01"):
        rec = json.loads((out / "folds" / fold / "fold.json").read_text())
        assert rec["world_size"] == 2 and rec["complete"]
    p = open_gaze_predictions(store, "synth", "ddp")
    np.testing.assert_array_equal(p.scored, np.isin(s.subject, ["p00", "p01"]))


def test_eyes_need_eye_crops_and_no_face_flip(tmp_path: Path) -> None:
    from pano.errors import ConfigError

    store, _ = make_store(tmp_path / "g.zarr", persons=3, per_person=4)  # faces only
    with pytest.raises(ConfigError, match="no left/right eye crops"):
        train_gaze(store, tiny(model={"eyes": True}), "synth", folds=["p00"],
                   out=tmp_path / "a", workers=0)  # fmt: skip
    cfg = tiny(model={"eyes": True}, augment={"hflip_p": 0.5})
    with pytest.raises(ConfigError, match="hflip_p"):
        train_gaze(store, cfg, "synth", folds=["p00"], out=tmp_path / "b", workers=0)


def test_refit_retrains_on_training_and_validation_persons(tmp_path: Path) -> None:
    from pano.models.gaze_grm import build_gaze_model
    from pano.pipelines.gaze.fold import predict
    from pano.stores.gaze_predictions import open_gaze_predictions
    from pano.stores.results import open_results

    store, s = make_store(tmp_path / "g.zarr", persons=4, per_person=8)
    out = tmp_path / "refit"
    cfg = tiny(**{"optim": {"refit": True}})
    res = train_gaze(store, cfg, "synth", folds=["p01"], out=out, workers=0)
    rec = res.folds[0]
    assert rec["refit"] is True
    assert sorted(rec["refit_persons"]) == sorted(rec["train_persons"] + rec["val_persons"])
    assert "p01" not in rec["refit_persons"] and "optim.refit" in rec["selection_rule"]
    fold = out / "folds" / "p01"
    man = json.loads((fold / "checkpoints" / "manifest.json").read_text())
    chosen = next(e for e in man["checkpoints"] if e["file"] == man["best"])
    assert rec["selected_epoch"] == chosen["step"]  # the epoch count the validation chose
    assert rec["val_angular_deg"] == chosen["val"]
    assert rec["selected_checkpoint"] == f"refit/ckpt-{chosen['step']:08d}.pt"
    data = (fold / rec["selected_checkpoint"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == rec["checkpoint_sha256"]
    # The test predictions are the refit model's, not the selected checkpoint's.
    test_idx = np.flatnonzero(s.subject == "p01")
    loader = FaceLoader(s.face, test_idx, size=cfg.model.image_size)
    preds = {}
    for name, path in (
        ("refit", fold / rec["selected_checkpoint"]),
        ("selected", fold / "checkpoints" / chosen["file"]),
    ):
        model = build_gaze_model(cfg.model)
        model.load_state_dict(torch.load(path, weights_only=False)["model"])
        preds[name] = predict(
            model, loader, 64, torch.device("cpu"), False, cfg.model.image_size, None
        )["gaze_xyz"]
    p = open_gaze_predictions(store, "synth", "refit")
    np.testing.assert_allclose(p.gaze_xyz[test_idx], preds["refit"], atol=1e-6)
    assert np.abs(preds["refit"] - preds["selected"]).max() > 1e-6
    # The mean-gaze baseline uses the persons the model was fitted on.
    r = CliRunner().invoke(
        app, ["eval", store, "--target", "gaze", "--dataset", "synth", "--predictions", "refit"]
    )
    assert r.exit_code == 0, r.output
    ds = open_results(store, "refit_gaze")
    m = s.gaze_xyz[np.isin(s.subject, rec["refit_persons"])].mean(0)
    m /= np.linalg.norm(m)
    e = np.rad2deg(orthodromic_distance(np.broadcast_to(m, (8, 3)), s.gaze_xyz[test_idx]))
    got = float(ds["person_mean_deg"].sel(model="mean_gaze", person="p01"))
    assert got == pytest.approx(e.mean(), rel=1e-12)


def test_refit_without_select_best_is_refused_and_an_unappliable_refit_is_recorded(
    tmp_path: Path,
) -> None:
    from pano.errors import ConfigError
    from pano.pipelines.gaze.data import FoldPlan
    from pano.pipelines.gaze.fold import refit_skipped

    with pytest.raises(ConfigError) as err:
        tiny(optim={"refit": True}, log={"select": "last"})
    msg = str(err.value)
    assert "\n" not in msg and "optim.refit" in msg and "log.select: best" in msg
    tiny(optim={"refit": False}, log={"select": "last"})  # no refit asked: fine
    # A fold without validation samples has no chosen epoch: the refit cannot apply.
    idx = np.arange(4, dtype=np.int64)
    no_val = FoldPlan("split", None, (), (), idx, idx[:0], idx + 4)
    with_val = FoldPlan("split", None, (), (), idx, idx + 8, idx + 4)
    assert "no validation samples" in (refit_skipped(tiny(optim={"refit": True}), no_val) or "")
    assert refit_skipped(tiny(optim={"refit": True}), with_val) is None
    assert refit_skipped(tiny(), no_val) is None  # not requested
    # A fold where it applies says so in fold.json and summary.json.
    store, _ = make_store(tmp_path / "g.zarr", persons=3, per_person=4)
    out = tmp_path / "run"
    rec = train_gaze(store, tiny(optim={"refit": True}), "synth", folds=["p00"], out=out,
                     workers=0).folds[0]  # fmt: skip
    assert rec["refit"] is True and rec["refit_requested"] is True
    assert rec["refit_not_applied"] is None
    summary = json.loads((out / "summary.json").read_text())
    assert summary["refit"] == "requested; applied to fold(s) p00"


def test_predict_hflip_makes_predictions_mirror_equivariant() -> None:
    from pano.models.gaze_augment import mirror_inputs
    from pano.models.gaze_grm import build_gaze_model
    from pano.pipelines.gaze.fold import predict

    torch.manual_seed(0)
    cfg = tiny(model={"eyes": True}, predict_hflip=True)
    model = build_gaze_model(cfg.model).eval()
    rng = np.random.default_rng(3)
    faces = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    eyes = rng.integers(0, 256, (6, 2, 36, 60), dtype=np.uint8)
    # The mirror images as GazeHub mirrors a sample: face flipped, eye crops swapped + flipped.
    m_faces, m_eyes = faces[:, :, ::-1].copy(), eyes[:, ::-1, :, ::-1].copy()
    x = torch.from_numpy(faces).permute(0, 3, 1, 2).float()
    mx, me = mirror_inputs(x, torch.from_numpy(eyes).float())
    assert torch.equal(mx, torch.from_numpy(m_faces).permute(0, 3, 1, 2).float())
    assert me is not None and torch.equal(me, torch.from_numpy(m_eyes).float())
    idx = np.arange(6)
    cpu = torch.device("cpu")

    def run(f: np.ndarray, e: np.ndarray, hflip: bool) -> dict[str, np.ndarray]:
        return predict(model, FaceLoader(f, idx, size=32), 4, cpu, False, 32, e, hflip)

    a, b = run(faces, eyes, True), run(m_faces, m_eyes, True)
    np.testing.assert_allclose(b["yaw"], -a["yaw"], atol=1e-6)
    np.testing.assert_allclose(b["pitch"], a["pitch"], atol=1e-6)
    # It is the normalised sum of the plain prediction and the mirror's, x negated back.
    p, q = run(faces, eyes, False), run(m_faces, m_eyes, False)
    v = p["gaze_xyz"] + q["gaze_xyz"] * np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(a["gaze_xyz"], v / np.linalg.norm(v, axis=1, keepdims=True),
                               atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(a["sigma"], (p["sigma"] + q["sigma"]) / 2, atol=1e-6)
    assert np.abs(q["yaw"] + p["yaw"]).max() > 1e-4  # a plain prediction is not equivariant


def test_weight_average_is_the_mean_of_the_last_epochs_with_batchnorm_recomputed(
    tmp_path: Path,
) -> None:
    from pano.errors import ConfigError
    from pano.models.gaze_grm import build_gaze_model
    from pano.pipelines.gaze.fold import predict, recompute_batchnorm

    with pytest.raises(ConfigError) as err:
        tiny(log={"average_epochs": 3})  # more than optim.epochs: 2
    assert "\n" not in str(err.value) and "log.average_epochs" in str(err.value)
    with pytest.raises(ConfigError, match=r"optim\.refit"):
        tiny(log={"average_epochs": 2}, optim={"refit": True})
    store, s = make_store(tmp_path / "g.zarr", persons=4, per_person=8)
    cfg = tiny(optim={"epochs": 3}, log={"select": "last", "keep": 5, "average_epochs": 2})
    out = tmp_path / "avg"
    rec = train_gaze(store, cfg, "synth", folds=["p01"], out=out, workers=0).folds[0]
    assert rec["average_predicts"] is True and rec["averaged_epochs"] == [2, 3]
    assert rec["selected_checkpoint"] == "average/ckpt-00000003.pt"
    assert "mean of the last 2 epochs' weights" in rec["selection_rule"]
    fold = out / "folds" / "p01"
    data = (fold / rec["selected_checkpoint"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == rec["checkpoint_sha256"]
    # Its weights are the mean of epochs 2 and 3's; its BatchNorm statistics are recomputed
    # on the training persons' unaugmented faces.
    sd = [torch.load(fold / "checkpoints" / f"ckpt-{e:08d}.pt", weights_only=True)["model"]
          for e in (2, 3)]  # fmt: skip
    avg = torch.load(fold / rec["selected_checkpoint"], weights_only=True)["model"]
    w = "out.weight"
    torch.testing.assert_close(avg[w], (sd[0][w] + sd[1][w]) / 2)
    assert not torch.allclose(avg[w], sd[1][w])
    model = build_gaze_model(cfg.model)
    model.load_state_dict({k: (sd[0][k] + sd[1][k]) / 2 if v.is_floating_point() else v
                           for k, v in sd[1].items()})  # fmt: skip
    train_idx = np.flatnonzero(np.isin(s.subject, rec["train_persons"]))
    size = cfg.model.image_size
    recompute_batchnorm(model, FaceLoader(s.face, train_idx, size=size), 16,
                        torch.device("cpu"), size)  # fmt: skip
    bn = "head.0.running_mean"
    torch.testing.assert_close(avg[bn], model.state_dict()[bn])
    assert not torch.allclose(avg[bn], sd[1][bn])
    # The test predictions are the average's, not the last epoch's.
    test_idx = np.flatnonzero(s.subject == "p01")
    cpu = torch.device("cpu")
    got = predict(model, FaceLoader(s.face, test_idx, size=size), 64, cpu, False, size)
    from pano.stores.gaze_predictions import open_gaze_predictions

    p = open_gaze_predictions(store, "synth", "avg")
    np.testing.assert_allclose(p.gaze_xyz[test_idx], got["gaze_xyz"], atol=1e-5)
    model.load_state_dict(sd[1])
    last = predict(model, FaceLoader(s.face, test_idx, size=size), 64, cpu, False, size)
    assert np.abs(last["gaze_xyz"] - got["gaze_xyz"]).max() > 1e-5
    # With select: best the average competes with the epoch checkpoints on validation.
    cfg = tiny(optim={"epochs": 3}, log={"average_epochs": 2})
    rec = train_gaze(store, cfg, "synth", folds=["p01"], out=tmp_path / "b", workers=0).folds[0]
    man = json.loads((tmp_path / "b" / "folds" / "p01" / "checkpoints" / "manifest.json")
                     .read_text())  # fmt: skip
    best = min(e["val"] for e in man["checkpoints"])
    assert rec["average_predicts"] is (rec["average_val_angular_deg"] <= best)
    assert rec["val_angular_deg"] == min(best, rec["average_val_angular_deg"])
    summary = json.loads((out / "summary.json").read_text())
    assert "last 2 epochs" in summary["weight_average"] and "p01" in summary["weight_average"]


def test_predict_person_bn_normalises_each_person_with_their_own_faces(tmp_path: Path) -> None:
    from pano.models.gaze_grm import build_gaze_model
    from pano.pipelines.gaze.fold import PersonPredictor, predict, recompute_batchnorm
    from pano.stores.gaze_predictions import open_gaze_predictions

    store, s = make_store(tmp_path / "g.zarr", persons=4, per_person=8)
    cfg = tiny(predict_person_bn=True)
    out = tmp_path / "pbn"
    rec = train_gaze(store, cfg, "synth", folds=["p02"], out=out, workers=0).folds[0]
    assert rec["predict_person_bn"] is True and "predict_person_bn" in rec["selection_rule"]
    fold = out / "folds" / "p02"
    sd = torch.load(fold / "checkpoints" / rec["selected_checkpoint"], weights_only=True)["model"]
    model = build_gaze_model(cfg.model)
    model.load_state_dict(sd)
    size, cpu = cfg.model.image_size, torch.device("cpu")
    test_idx = np.flatnonzero(s.subject == "p02")
    plain = predict(model, FaceLoader(s.face, test_idx, size=size), 64, cpu, False, size)
    recompute_batchnorm(model, FaceLoader(s.face, test_idx, size=size), 16, cpu, size)
    own = predict(model, FaceLoader(s.face, test_idx, size=size), 64, cpu, False, size)
    p = open_gaze_predictions(store, "synth", "pbn")
    np.testing.assert_allclose(p.gaze_xyz[test_idx], own["gaze_xyz"], atol=1e-5)
    assert np.abs(plain["gaze_xyz"] - own["gaze_xyz"]).max() > 1e-5
    # Per person: a person's predictions do not depend on who else is predicted with them,
    # and the model passed in keeps its own statistics.
    model.load_state_dict(sd)
    both = np.flatnonzero(np.isin(s.subject, ["p01", "p02"]))
    pp = PersonPredictor(s.face, both, s.subject, 2048, 8, size, True, 16)
    got = pp(model, 64, cpu, False, None, False)["gaze_xyz"]
    np.testing.assert_allclose(got[np.isin(s.subject[both], ["p02"])], own["gaze_xyz"],
                               atol=1e-5)  # fmt: skip
    torch.testing.assert_close(model.state_dict()["head.0.running_mean"],
                               sd["head.0.running_mean"])  # fmt: skip
    off = PersonPredictor(s.face, test_idx, s.subject, 2048, 8, size, False, 16)
    np.testing.assert_allclose(off(model, 64, cpu, False, None, False)["gaze_xyz"],
                               plain["gaze_xyz"], atol=1e-6)  # fmt: skip
