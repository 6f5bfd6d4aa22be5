"""train-hm / predict-hm end to end on tiny synthetic data, checkpoints, resume, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pano.cli.app import main
from pano.errors import ShapeError
from pano.pipelines.train import CheckpointManager, TrainConfig, train_hm
from pano.pipelines.train.checkpoint import MANIFEST

CONFIGS = Path(__file__).resolve().parents[1] / "pipelines" / "configs"

#: --set overrides that shrink every example config to a few seconds.
TINY = [
    "optim.steps=4", "optim.batch_size=8", "log.val_every=2", "log.checkpoint_every=2",
    "data.horizon=5", "data.frame_width=64", "threads=1",
]  # fmt: skip
TINY_BY_CONFIG = {
    "pos_only": ["model.hidden=8"],
    "content": ["model.hidden=8", "model.saliency_size=[8,16]"],
    "track": ["model.hidden=8", "model.saliency_size=[8,16]", "model.saliency_hidden=4"],
    "track_gt": ["model.hidden=8", "model.saliency_size=[8,16]", "model.saliency_hidden=4"],
    "dhp": [
        "model.hidden=16",
        "rl.envs=4",
        "rl.rollout=3",
        "rl.val_rollouts=3",
        "predict.rollouts=5",
    ],
    "dhp_paper": [
        "model.hidden=16",
        "rl.envs=4",
        "rl.rollout=3",
        "rl.val_rollouts=3",
        "predict.rollouts=5",
    ],
}


def _sets(items: list[str]) -> list[str]:
    out = []
    for s in items:
        out += ["--set", s]
    return out


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """6 videos (4 train, 2 test) x 3 subjects x 3 s at 128x64, ingested."""
    from pano.pipelines.ingest import IngestConfig, ingest_pvs_hm
    from pano.synth import SynthConfig, write_synthetic_dataset

    root = tmp_path_factory.mktemp("train_data")
    raw = root / "raw"
    write_synthetic_dataset(
        raw, SynthConfig(videos=6, subjects=3, seconds=3, width=128, fps=30, em=False)
    )
    store = str(root / "store.zarr")
    ingest_pvs_hm(
        IngestConfig(
            videos=raw,
            hm=raw / "FULLdata_per_video_frame.mat",
            store=store,
            workers=0,
            device="cpu",
        )
    )
    return store


def _train_cli(store: str, name: str, runs: Path, extra: tuple[str, ...] = (), *more: str) -> int:
    args = ["train-hm", store, "--config", str(CONFIGS / f"{name}.yaml"), "--runs-dir", str(runs)]
    return main([*args, *_sets(TINY + TINY_BY_CONFIG[name] + list(extra)), *more])


@pytest.mark.parametrize("name", ["pos_only", "content", "track", "track_gt", "dhp", "dhp_paper"])
def test_example_config_end_to_end(tiny_store: str, tmp_path: Path, name: str) -> None:
    from pano.stores import open_store, read_root_attrs

    assert _train_cli(tiny_store, name, tmp_path, (), "--predict") == 0
    run = tmp_path / name
    summary = json.loads((run / "summary.json").read_text())
    test_videos = set(read_root_attrs(tiny_store).splits.test)
    assert summary["val_videos"] and not set(summary["val_videos"]) & test_videos
    if not name.startswith("dhp"):  # supervised runs write how the checkpoint was chosen
        sel = summary["selection"]
        assert (
            sel["metric"] == "val/orthodromic_deg" and "each video weighs the same" in sel["rule"]
        )
        assert sel["videos"] == summary["val_videos"] and sel["test_split_read"] is False
        assert "val/no_motion_deg" in summary["best_scores"]
        assert summary["best_val"] == summary["best_scores"]["val/orthodromic_deg"]
    upper = open_store(tiny_store)[f"predictions/{name}"].attrs
    if name == "track_gt":  # ground-truth saliency: labelled an upper bound everywhere
        assert "UPPER BOUND" in summary["upper_bound"] and "UPPER BOUND" in upper["label"]
        assert upper["upper_bound"] is True
    else:
        assert summary["upper_bound"] is None and "label" not in upper
    man = json.loads((run / "checkpoints" / MANIFEST).read_text())
    assert man["latest"] == "ckpt-00000004.pt" and man["best"] is not None
    assert (run / "config.yaml").is_file() and list((run / "tb").iterdir())
    tree = open_store(tiny_store)
    preds = tree[f"predictions/{name}"]
    assert sorted(preds.children) == ["Dancing", "KingKong"]
    for video, node in preds.children.items():
        assert node.attrs["pano_complete"] is True
        ds = node.dataset
        gt = tree[f"videos/{video}"].dataset
        if name.startswith("dhp"):
            assert ds["heatmap"].dims == ("step", "lat", "lon")
            assert ds["heatmap"].shape == gt["heatmap"].shape
            store_sigma = tree.attrs["heatmap"]["sigma_deg"]
            assert ds["heatmap"].attrs["sigma_deg"] == store_sigma  # the store's recipe
            np.testing.assert_array_equal(ds["lat"].values, gt["lat"].values)
            np.testing.assert_array_equal(ds["lon"].values, gt["lon"].values)
            assert ds["scanpath"].shape == (gt.sizes["step"], 5, 2)
            assert np.isfinite(ds["heatmap"].values).all()
        else:
            fc = ds["forecast"]
            assert fc.dims == ("subject", "origin", "horizon", "xyz")
            n_rs = gt.sizes["rs_time"]
            assert fc.shape == (3, n_rs - 5 - 5 + 1, 5, 3)
            assert list(ds["horizon"].values) == [1, 2, 3, 4, 5]
            v = fc.values
            ok = ~np.isnan(v).any(-1)
            assert ok.mean() > 0.5
            np.testing.assert_allclose(np.linalg.norm(v[ok], axis=-1), 1.0, atol=1e-5)
    # predict-hm rewrites the same predictions from the run folder.
    assert main(["predict-hm", tiny_store, "--run", name, "--runs-dir", str(tmp_path)]) == 0
    # The run exists: training it again needs --resume (which, the run being finished, only
    # keeps its checkpoints).
    assert _train_cli(tiny_store, name, tmp_path) == 2
    assert _train_cli(tiny_store, name, tmp_path, (), "--resume") == 0
    assert json.loads((run / "checkpoints" / MANIFEST).read_text()) == man


def test_overwrite_trains_an_existing_run_again(
    tiny_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _train_cli(tiny_store, "pos_only", tmp_path, ("optim.steps=2",)) == 0
    run = tmp_path / "pos_only"
    (run / "notes.txt").write_text("mine")
    capsys.readouterr()
    # Running it again says what to do.
    assert _train_cli(tiny_store, "pos_only", tmp_path) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "--overwrite" in err and "another --run name" in err
    assert _train_cli(tiny_store, "pos_only", tmp_path, (), "--resume", "--overwrite") == 2
    assert "pass one of them" in capsys.readouterr().err
    # --overwrite starts from scratch (a 4-step run, not a resumed 2-step one); a file the
    # user put into the run folder stays.
    assert _train_cli(tiny_store, "pos_only", tmp_path, (), "--overwrite") == 0
    man = json.loads((run / "checkpoints" / MANIFEST).read_text())
    assert man["latest"] == "ckpt-00000004.pt"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 4 and summary["val_videos"] == ["Surfing"]
    assert set(summary["best_scores"]) >= {"val/orthodromic_deg", "val/no_motion_deg"}
    assert (run / "notes.txt").read_text() == "mine"


def test_only_rank_0_prints_the_training_summary(tmp_path: Path) -> None:
    from pano.cli.train import summary_lines
    from pano.pipelines.train import TrainResult

    res = TrainResult(tmp_path / "r", 4, 12.5, "ckpt-4.pt", "ckpt-4.pt", ["A"], 1.0)
    assert summary_lines("seq2seq", res)[0].startswith("trained seq2seq for 4 steps")
    other = TrainResult(tmp_path / "r", 4, None, None, None, [], 1.0, rank=1)
    assert summary_lines("seq2seq", other) == []


def test_bad_input_is_one_line_and_exit_2(
    tiny_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = [
        (["--set", "optim.lrr=1"], "optim.lrr"),
        (["--set", "model.kind=transformer"], "model"),
        (["--device", "cuda:7"] if torch.cuda.is_available() else ["--device", "cuda"], "cuda"),
        # Prediction heatmaps use the store's sigma (7): another one is refused up front.
        (["--set", "predict.sigma_deg=5"], "predict.sigma_deg is 5 but the store's"),
    ]
    for extra, needle in cases:
        code = main(
            ["train-hm", tiny_store, "--config", str(CONFIGS / "pos_only.yaml"),
             "--runs-dir", str(tmp_path), *extra]
        )  # fmt: skip
        err = capsys.readouterr().err.strip()
        assert code == 2, err
        assert len(err.splitlines()) == 1 and needle in err, err
    code = main(
        ["train-hm", str(tmp_path / "nope.zarr"), "--config", str(CONFIGS / "pos_only.yaml"),
         "--runs-dir", str(tmp_path / "fresh")]  # not ./runs: it may hold a pos_only run
    )  # fmt: skip
    assert code == 2 and "no pano store" in capsys.readouterr().err
    code = main(["predict-hm", tiny_store, "--run", "never-trained", "--runs-dir", str(tmp_path)])
    assert code == 2 and "no trained run" in capsys.readouterr().err


def test_store_without_train_split(
    tiny_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    import zarr

    copy = tmp_path / "copy.zarr"
    shutil.copytree(tiny_store, copy)
    g = zarr.open_group(str(copy), mode="r+")
    attrs = g.attrs.asdict()
    attrs["splits"] = {**attrs["splits"], "train": []}
    g.attrs.put(attrs)
    code = _train_cli(str(copy), "pos_only", tmp_path / "runs")
    err = capsys.readouterr().err
    assert code == 2 and "'train' split" in err and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------


def test_checkpoint_manager_skips_partial_and_corrupted(tmp_path: Path) -> None:
    cm = CheckpointManager(tmp_path, keep=5)
    cm.save(2, {"w": torch.ones(3), "step": 2}, val=1.0, best=True)
    cm.save(4, {"w": torch.full((3,), 2.0), "step": 4}, val=2.0)
    # A process killed while writing step 6 leaves only a temporary file.
    (tmp_path / ".ckpt-00000006.pt.999.tmp").write_bytes(b"\x80\x02partial")
    state, entry = cm.load("latest")
    assert entry["file"] == "ckpt-00000004.pt" and state["step"] == 4
    # Corrupt the latest file: it is detected and the previous one is used instead.
    p = tmp_path / "ckpt-00000004.pt"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    state, entry = cm.load("latest")
    assert entry["file"] == "ckpt-00000002.pt" and torch.equal(state["w"], torch.ones(3))
    # A truncated file as well.
    p.write_bytes(bytes(data[:10]))
    assert cm.load("latest")[1]["file"] == "ckpt-00000002.pt"
    assert cm.load("best")[1]["file"] == "ckpt-00000002.pt"
    # The next save cleans the stale temporary file.
    cm.save(6, {"step": 6})
    assert not list(tmp_path.glob("*.tmp"))
    (tmp_path / "ckpt-00000002.pt").write_bytes(b"garbage")
    (tmp_path / "ckpt-00000004.pt").write_bytes(b"garbage")
    (tmp_path / "ckpt-00000006.pt").write_bytes(b"garbage")
    from pano.errors import CheckpointError

    with pytest.raises(CheckpointError, match="no complete, verified checkpoint"):
        cm.load("latest")


def test_checkpoint_manager_prunes_but_keeps_best(tmp_path: Path) -> None:
    cm = CheckpointManager(tmp_path, keep=2)
    cm.save(1, {"s": 1}, best=True)
    for s in (2, 3, 4):
        cm.save(s, {"s": s})
    names = sorted(p.name for p in tmp_path.glob("ckpt-*.pt"))
    assert names == ["ckpt-00000001.pt", "ckpt-00000003.pt", "ckpt-00000004.pt"]
    assert cm.manifest()["best"] == "ckpt-00000001.pt"


def _weights(run: Path) -> dict[str, torch.Tensor]:
    state, _ = CheckpointManager(run / "checkpoints").load("latest")
    return state["model"]


def test_resume_from_an_earlier_checkpoint_is_exact(tiny_store: str, tmp_path: Path) -> None:
    # Train 12 steps; then pretend the run had died right after its step-4 checkpoint
    # (manifest and files as they were then) and resume: the weights must be identical.
    import shutil

    from pano.config import load_config

    sets = [*TINY, *TINY_BY_CONFIG["pos_only"], "optim.steps=12", "log.checkpoint_every=4",
            "log.val_every=4", "log.keep=10", "model.dropout=0.1"]  # fmt: skip
    cfg = load_config(TrainConfig, CONFIGS / "pos_only.yaml", sets)
    train_hm(tiny_store, cfg, "full", runs_dir=tmp_path)
    shutil.copytree(tmp_path / "full", tmp_path / "cut")
    ck = tmp_path / "cut" / "checkpoints"
    man = json.loads((ck / MANIFEST).read_text())
    man["checkpoints"] = [e for e in man["checkpoints"] if e["step"] <= 4]
    man["latest"] = man["best"] = "ckpt-00000004.pt"
    (ck / MANIFEST).write_text(json.dumps(man))
    for p in ck.glob("ckpt-*.pt"):
        if p.name not in {e["file"] for e in man["checkpoints"]}:
            p.unlink()
    res = train_hm(tiny_store, cfg, "cut", runs_dir=tmp_path, resume=True)
    assert res.steps == 12
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted_run(tiny_store: str, tmp_path: Path) -> None:
    name, steps = "dhp", 12
    sets = [*TINY, *TINY_BY_CONFIG[name], f"optim.steps={steps}"]  # checkpoints every 2 steps
    # Uninterrupted reference, in-process.
    ref_dir = tmp_path / "ref_full"
    cfg_args = ["train-hm", tiny_store, "--config", str(CONFIGS / f"{name}.yaml"), *_sets(sets)]
    assert main([*cfg_args, "--runs-dir", str(ref_dir), "--run", "r"]) == 0
    # The same run in a subprocess, SIGKILLed right after its first complete checkpoint.
    runs = tmp_path / "killed"
    man = runs / "r" / "checkpoints" / MANIFEST
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pano", *cfg_args, "--runs-dir", str(runs), "--run", "r"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not man.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = json.loads(man.read_text())
    assert done["checkpoints"][-1]["step"] < steps, "the run finished before it could be killed"
    assert (runs / "r" / "summary.json").exists() is False
    # Resume finishes the run; the weights equal the uninterrupted run's exactly.
    assert main([*cfg_args, "--runs-dir", str(runs), "--run", "r", "--resume"]) == 0
    a, b = _weights(ref_dir / "r"), _weights(runs / "r")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.slow
def test_torchrun_two_gloo_processes(tiny_store: str, tmp_path: Path) -> None:
    """DDP under torchrun: 2 CPU processes (gloo), sharded envs, rank 0 writes everything.

    Validation every step but checkpoints every 4: only rank 0 validates, so a new best
    (which saves, and saving runs collectives) must reach every rank, or the ranks' calls
    no longer match and the job hangs.
    """
    from pano.stores import open_store

    sets = [*TINY, *TINY_BY_CONFIG["dhp"], "log.val_every=1", "log.checkpoint_every=4"]
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "pano", "train-hm", tiny_store, "--config", str(CONFIGS / "dhp.yaml"), *_sets(sets),
        "--runs-dir", str(tmp_path), "--device", "cpu", "--predict",
    ]  # fmt: skip
    # (no --run: torchrun's own parser would take it for its --run-path; the run is "dhp")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr[-3000:]
    # Only rank 0 (which validated) prints the summary: no "best validation n/a (None)".
    assert res.stdout.count("trained dhp for 4 steps") == 1, res.stdout
    assert "n/a" not in res.stdout
    summary = json.loads((tmp_path / "dhp" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 4
    state, _ = CheckpointManager(tmp_path / "dhp" / "checkpoints").load("latest")
    # Both ranks' environments are in the checkpoint (2 envs each).
    assert state["extra"]["pos"].shape == (4, 3)
    tree = open_store(tiny_store)
    assert sorted(tree["predictions/dhp"].children) == ["Dancing", "KingKong"]


def test_content_views_show_the_frames_of_their_horizon_steps(tiny_store: str) -> None:
    """Time alignment of the content model's input, read back from the frame barcodes.

    Every 5 Hz sample maps to the frame shown at its time, the frame bank holds that frame
    at that row, and the renderer asks the sampler for exactly those rows, centred on the
    head at the window's origin.
    """
    from pano.geometry import vec_to_lonlat
    from pano.pipelines.train.data import FrameBank, load_split_videos
    from pano.pipelines.train.supervised import ViewRenderer, frames_for_windows
    from pano.synth import decode_barcode

    cfg = TrainConfig.model_validate(
        {
            "model": {"kind": "content", "content_steps": [0, 5, 10], "size": [16, 16]},
            "data": {"frame_width": 128, "horizon": 10},  # the videos' width: barcodes readable
        }
    )
    videos = load_split_videos(tiny_store, cfg, "test", need_video=True)
    bank = FrameBank(videos, frames_for_windows(videos), 128, False, torch.device("cpu"))
    for v in videos:
        t = np.arange(len(v.rs_time))
        frames = v.rs_frame(t)
        assert np.all(np.abs(frames - v.rs_time * v.fps) <= 0.5 + 1e-9)  # the nearest frame
        rows = bank.rows(v, frames)
        assert [decode_barcode(bank.frames[r]) for r in rows] == frames.tolist()

    renderer = ViewRenderer(cfg.model, bank)  # type: ignore[arg-type]
    calls: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    sample = renderer.sampler

    def recording(frames: torch.Tensor, yaw: Any, pitch: Any, frame_index: Any) -> Any:
        calls.append((yaw, pitch, frame_index))
        return sample(frames, yaw, pitch, frame_index=frame_index)

    renderer.sampler = recording  # type: ignore[assignment]
    idx = np.array([[0, 1, 2], [1, 0, 4], [0, 2, len(videos[0].rs_time) - 3]])
    views = renderer(videos, idx)
    assert views.shape == (3, 3, 3, 16, 16)
    yaw, pitch, rows = (x.reshape(3, 3) for x in calls[0])
    for j, (vi, s, o) in enumerate(idx):
        v = videos[vi]
        want = v.rs_frame(np.minimum(o + np.array([0, 5, 10]), len(v.rs_time) - 1))
        assert [decode_barcode(bank.frames[r]) for r in rows[j]] == want.tolist()
        lon, lat = vec_to_lonlat(v.rs_xyz[s, o])
        assert torch.allclose(yaw[j], torch.tensor(float(lon), dtype=yaw.dtype))
        assert torch.allclose(pitch[j], torch.tensor(float(lat), dtype=pitch.dtype))


def test_results_go_stale_when_predict_hm_rewrites_the_run(
    tiny_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """predict -> eval -> predict with another checkpoint: `pano info` flags the results."""
    import shutil

    from pano.pipelines.eval import open_results
    from pano.stores import store_summary

    store = str(tmp_path / "store.zarr")
    shutil.copytree(tiny_store, store)
    runs = tmp_path / "runs"
    assert _train_cli(store, "pos_only", runs) == 0
    predict = ["predict-hm", store, "--run", "pos_only", "--runs-dir", str(runs)]
    ev = ["eval", store, "--predictions", "pos_only", "--workers", "0"]
    ev += ["--baselines", "no_motion", "--metrics", "orthodromic_deg"]

    def row() -> Any:
        return {r.group: r for r in store_summary(store).runs}["results/pos_only"]

    assert main([*predict, "--checkpoint", "ckpt-00000002.pt"]) == 0
    assert main(ev) == 0
    assert row().stale == []
    scored = open_results(store, "pos_only").attrs["scored_predictions"]["pos_only"]
    assert scored["checkpoint"] == "ckpt-00000002.pt" and scored["created"]
    assert sorted(scored["videos"]) == ["Dancing", "KingKong"]
    assert all(len(h) == 64 for h in scored["videos"].values())
    # The same checkpoint again: the same content at another written-at time -> current.
    assert main([*predict, "--checkpoint", "ckpt-00000002.pt"]) == 0
    assert row().stale == []
    # Another checkpoint: the results no longer describe the run.
    assert main([*predict, "--checkpoint", "latest"]) == 0
    stale = row().stale
    assert len(stale) == 1 and "'ckpt-00000004.pt'" in stale[0] and "'ckpt-00000002.pt'" in stale[0]
    capsys.readouterr()
    assert main(["info", store]) == 0
    out = capsys.readouterr().out
    assert "[stale: predictions/pos_only is now from checkpoint 'ckpt-00000004.pt'" in out
    # Replacing the results needs --overwrite: one line naming the group and the flag.
    assert main(ev) == 2
    err = capsys.readouterr().err.strip()
    assert "results/pos_only already exists" in err and "--overwrite" in err
    assert "\n" not in err
    assert main([*ev, "--overwrite"]) == 0
    assert row().stale == []
    scored = open_results(store, "pos_only").attrs["scored_predictions"]["pos_only"]
    assert scored["checkpoint"] == "ckpt-00000004.pt"


def test_atomic_write_never_writes_through_a_planted_temporary_name(tmp_path: Path) -> None:
    """Issue 12: checkpoint temporaries are created exclusively under unpredictable names."""
    from pano.pipelines.train.checkpoint import atomic_write_bytes

    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    target = tmp_path / "ckpt-00000002.pt"
    (tmp_path / f".{target.name}.{os.getpid()}.tmp").symlink_to(victim)  # the old name
    atomic_write_bytes(target, b"weights")
    atomic_write_bytes(target, b"weights2")
    assert target.read_bytes() == b"weights2"
    assert victim.read_text() == "keep"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp") and not p.is_symlink()]


def test_validation_weighs_every_video_the_same() -> None:
    """The selection metric: mean over each validation video's windows, then over the videos."""
    from types import SimpleNamespace

    from pano.pipelines.train.supervised import SupervisedTask

    # Video 0 has three windows with error 10, video 1 one window with error 40.
    fake = SimpleNamespace(val_idx=np.array([[0, 0, 4], [0, 1, 4], [0, 2, 5], [1, 0, 4]]))
    err = torch.tensor([[10.0, 10.0], [10.0, 10.0], [10.0, 10.0], [40.0, 20.0]])
    got = SupervisedTask._per_video_mean(fake, err)  # type: ignore[arg-type]
    torch.testing.assert_close(got, torch.tensor([25.0, 15.0]))


def test_predict_hm_online_writes_per_subject_scores(tiny_store: str, tmp_path: Path) -> None:
    from pano.stores import open_results

    assert _train_cli(tiny_store, "dhp", tmp_path) == 0
    args = ["predict-hm", tiny_store, "--run", "dhp", "--runs-dir", str(tmp_path), "--online"]
    assert main([*args, "--set", "online.max_subjects=2", "--set", "online.iters=1"]) == 0
    ds = open_results(tiny_store, "dhp_online")
    assert list(ds["model"].values) == ["offline", "online", "no_motion"]
    assert ds["mo_dhp"].dims == ("model", "video", "subject", "step")
    assert sorted(ds["video"].values) == ["Dancing", "KingKong"]
    mo = ds["mo_dhp_subject"].values
    assert mo.shape == (3, 2, 2) and np.isfinite(mo).all()
    assert ((mo >= 0) & (mo <= 1)).all()
    s = ds.attrs["summary"]
    assert 0.0 <= s["online_beats_offline_share"] <= 1.0 and s["subjects"] == 4
    # only predict.* / online.* may be overridden; --online needs a DHP run
    assert main([*args, "--set", "rl.gamma=0.5"]) == 2
    assert _train_cli(tiny_store, "pos_only", tmp_path) == 0
    bad = ["predict-hm", tiny_store, "--run", "pos_only", "--runs-dir", str(tmp_path), "--online"]
    assert main(bad) == 2


def test_dhp_latitude_floor_prior_is_the_eval_equator_baseline(tiny_store: str) -> None:
    """``predict.floor_prior: latitude`` spreads the floor by the same train-split latitude
    density that ``pano eval``'s equator-bias baseline is, as a mass; the rest of the map
    is the rollouts' as with the uniform floor."""
    from pano.heatmaps import heatmaps_for
    from pano.pipelines.eval.baselines import fit_on_train
    from pano.pipelines.eval.config import EvalConfig
    from pano.pipelines.train.rl import latitude_prior, rollout_heatmaps
    from pano.stores import read_root_attrs

    attrs = read_root_attrs(tiny_store)
    hp = attrs.heatmap
    prior = latitude_prior(tiny_store, list(attrs.splits.train), hp)
    assert prior.shape == (hp.height, hp.width)
    assert float(prior.sum()) == pytest.approx(1.0)
    assert torch.equal(prior, prior[:, :1].expand_as(prior))  # latitude only
    fitted = fit_on_train(EvalConfig(store=tiny_store), attrs, {"equator"}, set())
    profile = torch.from_numpy(np.asarray(fitted["equator_profile"], dtype=np.float64))
    torch.testing.assert_close(prior[:, 0], profile / (profile.sum() * hp.width))
    # The floor mixes that mass in: (1 - w) m + w prior, max-normalised (the store's "max").
    pos = torch.from_numpy(np.array([[[1.0, 0.0, 0.0]] * 2] * 3))  # 3 steps x 2 rollouts
    w = 0.4
    got = rollout_heatmaps(pos, hp, w, prior)
    one = heatmaps_for(pos, hp)[0]
    want = (1 - w) * one / one.sum() + w * prior
    torch.testing.assert_close(got[0], want / want.max())
    assert not torch.allclose(got[0], rollout_heatmaps(pos, hp, w)[0])  # not the uniform floor
    with pytest.raises(ShapeError, match="prior"):
        rollout_heatmaps(pos, hp, w, prior[:-1])


def test_dhp_lonlat_prior_is_the_train_head_density(tiny_store: str) -> None:
    """``predict.floor_prior: lonlat`` is the summed Gaussians of the train split's head
    points (every subject at every step) as a mass; ``prior_sigma_deg`` widens it."""
    from pano.errors import ConfigError, InputDataError
    from pano.geometry import lonlat_to_vec
    from pano.heatmaps import heatmaps_for
    from pano.pipelines.train.rl import head_prior, latitude_prior, lonlat_prior
    from pano.stores import open_root, read_root_attrs, read_video_array

    attrs = read_root_attrs(tiny_store)
    hp = attrs.heatmap
    train = list(attrs.splits.train)
    prior = head_prior(tiny_store, train, hp, "lonlat")
    assert prior.shape == (hp.height, hp.width)
    assert float(prior.sum()) == pytest.approx(1.0)
    ll = np.concatenate(
        [
            np.asarray(read_video_array(open_root(tiny_store), v, "scanpath")).reshape(-1, 2)
            for v in train
        ]
    )
    ll = ll[np.isfinite(ll).all(1)]
    pts = torch.from_numpy(np.asarray(lonlat_to_vec(ll[:, 0], ll[:, 1]), dtype=np.float64))
    want = heatmaps_for(pts[None], hp)[0]
    torch.testing.assert_close(prior, want / want.sum())
    # Not constant along a row (it keeps the longitude), unlike the latitude prior.
    assert not torch.equal(prior, prior[:, :1].expand_as(prior))
    torch.testing.assert_close(
        head_prior(tiny_store, train, hp, "latitude"), latitude_prior(tiny_store, train, hp)
    )
    wide = lonlat_prior(tiny_store, train, hp, sigma_deg=4 * hp.sigma_deg)
    assert float(wide.max()) < float(prior.max())  # a wider kernel spreads the mass
    uni = head_prior(tiny_store, train, hp, "uniform")
    assert float(uni.sum()) == pytest.approx(1.0) and float(uni.amax() - uni.amin()) == 0.0
    with pytest.raises(ConfigError, match="floor_prior"):
        head_prior(tiny_store, train, hp, "front")
    with pytest.raises(InputDataError, match="no valid head point"):
        lonlat_prior(tiny_store, [], hp)


def test_dhp_rollout_kernel_and_temperature() -> None:
    """``predict.kernel_deg`` draws each rollout point with its own width (the store's
    grid and normalisation); ``predict.temperature`` divides the policy's logits."""
    from pano.heatmap_params import HeatmapParams
    from pano.heatmaps import heatmaps_for
    from pano.pipelines.train.rl import rollout_heatmaps, sample_action

    hp = HeatmapParams(width=36, height=18, sigma_deg=10.0)
    pos = torch.from_numpy(np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]] * 2))
    got = rollout_heatmaps(pos, hp, kernel_deg=20.0)
    want = heatmaps_for(pos, HeatmapParams(width=36, height=18, sigma_deg=20.0))
    torch.testing.assert_close(got, want)
    same = rollout_heatmaps(pos, hp, kernel_deg=10.0)
    torch.testing.assert_close(same, rollout_heatmaps(pos, hp))
    # wider kernel: more of the map above half its max
    assert int((got[0] > 0.5).sum()) > int((rollout_heatmaps(pos, hp)[0] > 0.5).sum())
    # temperature: frequencies follow softmax(logits / T)
    logits = torch.tensor([[0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0]]).expand(20000, 8)
    u = torch.rand(20000, generator=torch.Generator().manual_seed(0))
    for t in (0.5, 1.0, 3.0):
        freq = torch.bincount(sample_action(logits, u, t), minlength=8).double() / 20000
        want_p = torch.softmax(logits[0].double() / t, -1)
        torch.testing.assert_close(freq, want_p, atol=0.015, rtol=0)
    assert bool((sample_action(logits, u, 1e-3) == 2).all())  # T -> 0: the most likely action


def test_dhp_cell_prior_trains_predicts_and_runs_online(tiny_store: str, tmp_path: Path) -> None:
    from pano.config import load_config
    from pano.stores import open_results, open_store

    extra = ("model.cell_prior=latitude_distance",)
    assert _train_cli(tiny_store, "dhp", tmp_path, extra, "--predict") == 0
    run = tmp_path / "dhp"
    cfg = load_config(TrainConfig, run / "config.yaml")  # the option is recorded in the run
    assert cfg.model.kind == "dhp" and cfg.model.cell_prior == "latitude_distance"
    state, _ = CheckpointManager(run / "checkpoints").load("latest", strict=True)
    w = state["model"]["prior_weight"]
    assert w.shape == (2,) and bool((w != 0).all())  # trained (with augmentation) from 0
    assert "Dancing" in open_store(tiny_store)["predictions/dhp"].children
    args = ["predict-hm", tiny_store, "--run", "dhp", "--runs-dir", str(tmp_path), "--online"]
    assert main([*args, "--set", "online.max_subjects=1", "--set", "online.iters=1"]) == 0
    mo = open_results(tiny_store, "dhp_online")["mo_dhp_subject"].values
    assert np.isfinite(mo).all()
