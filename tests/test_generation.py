"""Store generations and consistent reads: eval and training see one snapshot of a store."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import zarr

from pano.cli.app import main
from pano.config import load_config
from pano.errors import StoreChangedError, StoreLockedError
from pano.pipelines.eval import EvalConfig, evaluate
from pano.pipelines.ingest import IngestConfig, ingest_pvs_hm
from pano.stores import COMPLETE_ATTR, list_videos
from pano.stores.generation import (
    GENERATION_ATTR,
    Generation,
    bump_generation,
    check_unchanged,
    read_generation,
)
from pano.stores.lock import store_write_lock
from pano.stores.results import list_results
from pano.synth import HM_FILE, SynthConfig, write_synthetic_dataset

CONFIGS = Path(__file__).resolve().parents[1] / "pipelines" / "configs"
HEAT = {"width": 36, "height": 18, "step_frames": 5}
EVAL: dict[str, Any] = {
    "workers": 0, "metrics": ["cc", "orthodromic_deg"], "baselines": ["fcb", "no_motion"],
    "hm": {"horizon": 5},  # the 4 s videos are too short for the default 25
}  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pvs")
    cfg = SynthConfig(videos=6, subjects=3, seconds=4, fps=15, width=128, em=False)
    write_synthetic_dataset(d, cfg, workers=1)
    return d


def _cfg(data: Path, store: Path, **kw: Any) -> IngestConfig:
    base: dict[str, Any] = {
        "videos": data, "hm": data / HM_FILE, "store": str(store), "heatmap": HEAT,
        "workers": 0, "device": "cpu",
    }  # fmt: skip
    return IngestConfig.model_validate({**base, **kw})


@pytest.fixture(scope="module")
def clean(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("clean") / "pvs.zarr"
    ingest_pvs_hm(_cfg(data, store))
    return store


def _copy(clean: Path, tmp_path: Path) -> Path:
    store = tmp_path / "s.zarr"
    shutil.copytree(clean, store)
    return store


def _mark_incomplete(store: Path, video: str) -> None:
    zarr.open_group(str(store), mode="a")[f"videos/{video}"].attrs[COMPLETE_ATTR] = False


def test_every_writer_moves_the_generation_and_a_noop_rerun_does_not(
    clean: Path, data: Path, tmp_path: Path
) -> None:
    first = read_generation(clean)
    assert first.counter == 1 and len(first.uuid) == 32
    root_attrs = json.loads((clean / "zarr.json").read_text())["attributes"]
    assert root_attrs[GENERATION_ATTR] == first.to_attrs()
    store = _copy(clean, tmp_path)
    ingest_pvs_hm(_cfg(data, store))  # nothing to write: nothing changes
    assert read_generation(store) == first
    _mark_incomplete(store, "A380")
    ingest_pvs_hm(_cfg(data, store))  # rewrites one video
    second = read_generation(store)
    assert second.counter == 2 and second.uuid != first.uuid
    ingest_pvs_hm(_cfg(data, store, overwrite=True))  # a new store, the counter carries on
    third = read_generation(store)
    assert third.counter == 4 and third.uuid not in (first.uuid, second.uuid)  # delete + create
    with store_write_lock(store):
        assert bump_generation(store).counter == 5
    from pano.stores.predictions import create_prediction_run

    create_prediction_run(str(store), "r", {"model": "test"})  # a prediction writer bumps
    assert read_generation(store).counter == 6
    # A store written by an older pano has none: generation 0 until its first writer.
    assert Generation.from_attrs(None) == Generation(0, "")
    assert Generation.from_attrs({"counter": "x"}) == Generation(0, "")


def test_check_unchanged_names_both_generations(clean: Path, tmp_path: Path) -> None:
    store = _copy(clean, tmp_path)
    seen = read_generation(store)
    check_unchanged(store, seen, "nothing happened")
    bump_generation(store)
    with pytest.raises(StoreChangedError, match=r"generation 1 \(.{8}\), now generation 2 .*; x\."):
        check_unchanged(store, seen, "x")


def _eval_with_writer_midway(
    store: Path, monkeypatch: pytest.MonkeyPatch, writer: Any, **kw: Any
) -> None:
    """Run ``evaluate`` with ``writer()`` called after its Dask tasks, before results."""
    import pano.pipelines.eval.run as run

    real = run._execute

    def execute_then_write(*args: Any) -> Any:
        out = real(*args)
        writer()
        return out

    monkeypatch.setattr(run, "_execute", execute_then_write)
    evaluate(EvalConfig(store=str(store), **{**EVAL, **kw}))


def test_eval_fails_when_an_ingest_ran_during_it(
    clean: Path, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _copy(clean, tmp_path)
    _mark_incomplete(store, "A380")  # the real ingest below rewrites it
    before = read_generation(store)
    with pytest.raises(StoreChangedError) as err:
        _eval_with_writer_midway(store, monkeypatch, lambda: ingest_pvs_hm(_cfg(data, store)))
    msg = str(err.value)
    assert "\n" not in msg and "results/baselines was not written" in msg
    assert f"at generation {before.counter} " in msg
    assert f"now generation {before.counter + 1} " in msg
    assert list_results(store, complete=None) == []  # nothing written, nothing complete


def test_eval_fails_when_a_writer_holds_the_lock_at_the_end(
    clean: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _copy(clean, tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(store)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )

    def start_writer() -> None:  # a real writer process: takes the lock, bumps, then waits
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"

    try:
        with pytest.raises(
            StoreChangedError, match=rf"being written by 'holder' \(pid {holder.pid}"
        ):
            _eval_with_writer_midway(store, monkeypatch, start_writer)
    finally:
        holder.communicate(b"\n", timeout=30)
    assert list_results(store, complete=None) == []


HOLD = """
import sys
import time
from pano.stores.generation import bump_generation
from pano.stores.lock import store_write_lock
with store_write_lock(sys.argv[1], command="holder"):
    bump_generation(sys.argv[1])
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_results_record_the_generation_they_scored(
    clean: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _copy(clean, tmp_path)
    res = evaluate(EvalConfig(store=str(store), **EVAL))
    attrs = zarr.open_group(str(store), mode="r")["results/baselines"].attrs
    assert attrs[GENERATION_ATTR] == read_generation(store).to_attrs()
    assert attrs[COMPLETE_ATTR] is True and res.results_group == "results/baselines"
    assert main(["info", str(store)]) == 0
    gen = read_generation(store)
    assert f"\nstate    generation {gen.counter} ({gen.uuid[:8]})\n" in capsys.readouterr().out
    # Written under the lock, which is released afterwards (a writer may start).
    with store_write_lock(store):
        pass


def test_eval_cli_says_the_store_changed_in_one_line(
    clean: Path, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import pano.pipelines.eval.run as run

    store = _copy(clean, tmp_path)
    real = run._execute

    def execute_then_bump(*args: Any) -> Any:
        out = real(*args)
        with store_write_lock(store):
            bump_generation(store)
        return out

    monkeypatch.setattr(run, "_execute", execute_then_bump)
    capsys.readouterr()
    assert main(["eval", str(store), "--workers", "0", "--baselines", "fcb"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("pano: error")]
    assert len(err) == 1 and "Traceback" not in err[0]
    assert err[0].startswith(f"pano: error: {store}: the store changed while this ran")
    assert list_results(store, complete=None) == []


def test_training_records_its_generation_and_refuses_predictions_on_a_changed_store(
    clean: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pano.pipelines.train import TrainConfig, train_hm
    from pano.pipelines.train import run as train_run
    from pano.stores.predictions import prediction_runs

    store = _copy(clean, tmp_path)
    tiny = ["optim.steps=2", "optim.batch_size=8", "log.val_every=2", "log.checkpoint_every=2"]
    tiny += ["data.horizon=5", "threads=1", "model.hidden=8"]
    cfg = load_config(TrainConfig, CONFIGS / "pos_only.yaml", tiny)
    runs = tmp_path / "runs"
    res = train_hm(str(store), cfg, "a", runs_dir=runs, predict=True)
    summary = json.loads((res.run_dir / "summary.json").read_text())
    seen = summary["store_generation"]
    assert seen["counter"] == 1 and summary["store_changed"] is None
    assert read_generation(store).counter == 2  # the predictions moved it on
    # An ingest (here: its bump) during training: predictions are refused, checkpoints kept.
    real = train_run.CheckpointManager.save

    def save_then_bump(self: Any, *args: Any, **kw: Any) -> Any:
        out = real(self, *args, **kw)
        with store_write_lock(store):
            bump_generation(store)
        return out

    monkeypatch.setattr(train_run.CheckpointManager, "save", save_then_bump)
    with pytest.raises(StoreChangedError, match="the model was trained on the earlier data, so"):
        train_hm(str(store), cfg, "b", runs_dir=runs, predict=True)
    assert "b" not in prediction_runs(str(store))
    summary = json.loads((runs / "b" / "summary.json").read_text())
    assert (
        summary["store_generation"]["counter"] == 2 and "store changed" in summary["store_changed"]
    )
    assert (runs / "b" / "checkpoints").is_dir()
    assert list_videos(store)  # the store itself is untouched


def test_eval_refuses_at_start_while_a_writer_holds_the_lock(clean: Path, tmp_path: Path) -> None:
    store = _copy(clean, tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(store)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        with pytest.raises(StoreLockedError, match="evaluate after it has finished"):
            evaluate(EvalConfig(store=str(store), **EVAL))
    finally:
        holder.communicate(b"\n", timeout=30)


# ---------------------------------------------------------------------------
# Real writer processes (the reliability suite's cases, a few each:
# benchmarks/reliability_kills.py runs them by the score)
# ---------------------------------------------------------------------------


def _ingest_cmd(data: Path, store: Path, *extra: str) -> list[str]:
    opts = ["--heatmap-size", "36x18", "--step-frames", "5", "--workers", "0", "--device", "cpu"]
    files = ["--videos", str(data), "--hm", str(data / HM_FILE)]
    cmd = [sys.executable, "-m", "pano", "ingest", "pvs-hm", *files, "--store", str(store)]
    return [*cmd, *opts, *extra]


def _wait_for_lock(store: Path, proc: subprocess.Popen[bytes]) -> None:
    from pano.stores.lock import lock_path

    lock = Path(lock_path(store))
    deadline = time.monotonic() + 120
    while not lock.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    assert lock.exists(), "the ingest finished before it could be caught holding its lock"


@pytest.mark.slow
@pytest.mark.parametrize("start", ["new", "half-complete"])
def test_two_real_ingests_the_second_is_refused_cleanly(
    clean: Path, data: Path, tmp_path: Path, start: str
) -> None:
    store = tmp_path / "s.zarr"
    if start == "half-complete":
        store = _copy(clean, tmp_path)
        for v in ("A380", "Camping", "Dancing"):
            _mark_incomplete(store, v)
    first = subprocess.Popen(
        _ingest_cmd(data, store), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _wait_for_lock(store, first)
    # Hold the first ingest (a live process with the lock) while the second starts: without
    # the pause a small ingest could finish during the second's interpreter start-up, and
    # the second then found a complete store (it happened once in CI).
    first.send_signal(signal.SIGSTOP)
    try:
        second = subprocess.run(
            _ingest_cmd(data, store), capture_output=True, text=True, timeout=120
        )
    finally:
        first.send_signal(signal.SIGCONT)
    _, err1 = first.communicate(timeout=120)
    assert first.returncode == 0, err1.decode()[-2000:]
    errors = [ln for ln in second.stderr.splitlines() if ln.startswith("pano: error")]
    assert second.returncode == 2 and len(errors) == 1 and "Traceback" not in second.stderr
    assert f"is being written by 'pano ingest pvs-hm' (pid {first.pid} " in errors[0]
    from pano.stores.verify import verify_store

    assert verify_store(store, full=True).ok
    assert list_videos(store) == list_videos(clean)


@pytest.mark.slow
def test_eval_during_a_real_ingest_is_refused_or_fails_never_complete(
    clean: Path, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Issue item 4: the ingest repairs half the videos (test ones included) meanwhile."""
    import pano.pipelines.eval.run as run

    store = _copy(clean, tmp_path)
    for v in ("A380", "Camping", "Dancing"):  # Dancing is a test video: 1 of 2 left
        _mark_incomplete(store, v)
    # 1. The ingest runs when eval starts: refused in one line.
    ing = subprocess.Popen(_ingest_cmd(data, store), stdout=subprocess.DEVNULL)
    _wait_for_lock(store, ing)
    capsys.readouterr()
    rc = main(["eval", str(store), "--workers", "0", "--baselines", "fcb"])
    err = capsys.readouterr().err
    ing.wait(timeout=120)
    if ing.returncode == 0 and rc == 0:  # pragma: no cover - the ingest ended first
        pytest.skip("the ingest finished before eval started")
    assert rc == 2 and "evaluate after it has finished" in err
    assert list_results(store, complete=None) == []
    # 2. The ingest starts while eval scores (after its tasks): the eval fails loudly.
    store2 = _copy(clean, tmp_path / "two")
    for v in ("A380", "Camping", "Dancing"):
        _mark_incomplete(store2, v)
    real = run._execute
    started: list[subprocess.Popen[bytes]] = []

    def execute_then_ingest(*args: Any) -> Any:
        out = real(*args)
        proc = subprocess.Popen(_ingest_cmd(data, store2), stdout=subprocess.DEVNULL)
        started.append(proc)
        _wait_for_lock(store2, proc)
        return out

    monkeypatch.setattr(run, "_execute", execute_then_ingest)
    with pytest.raises(StoreChangedError, match="results/baselines was not written"):
        evaluate(EvalConfig(store=str(store2), **EVAL))
    assert started[0].wait(timeout=120) == 0
    assert list_results(store2, complete=None) == []
    assert sorted(list_videos(store2)) == sorted(list_videos(clean))  # the ingest finished
