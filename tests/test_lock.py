"""The store write lock: one writer at a time, stale locks taken over, readers refused."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import fsspec
import pytest
import torch

from pano.cli.app import main
from pano.errors import StoreLockedError
from pano.stores.lock import (
    LockInfo,
    _acquire_fsspec,
    _proc_stat,
    _release_fsspec,
    assert_no_writer,
    current_writer,
    lock_path,
    store_write_lock,
)
from pano.synth import EM_FILE, HM_FILE, SynthConfig, write_synthetic_dataset

# A process that takes the lock when told ("go"), reports "won"/"lost <message>", and
# releases it when told ("release"): two of them race for the same lock.
RACER = r"""
import os, sys
from pano.errors import StoreLockedError
from pano.stores.lock import store_write_lock
store = sys.argv[1]
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() != "go":
        break
    try:
        with store_write_lock(store, command=f"racer {os.getpid()}"):
            print("won", flush=True)
            sys.stdin.readline()  # "release"
        print("released", flush=True)
    except StoreLockedError as err:
        print("lost " + " ".join(str(err).split()), flush=True)
"""

# A process that takes the lock, says so and waits (to be killed or to time out).
HOLDER = r"""
import sys, time
from pano.stores.lock import store_write_lock
with store_write_lock(sys.argv[1], command="holder"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _spawn(script: str, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline().strip()
    assert first in ("ready", "held"), proc.communicate(timeout=60)[1][-2000:]
    return proc


@pytest.fixture
def holder(tmp_path: Path) -> Any:
    """A live process holding the lock of ``tmp_path / "s.zarr"`` (killed afterwards)."""
    store = tmp_path / "s.zarr"
    proc = _spawn(HOLDER, str(store), "120")
    yield store, proc
    proc.kill()
    proc.communicate(timeout=60)


def _write_lock(store: Path, **kw: Any) -> Path:
    """Write a lock file for ``store`` by hand (fields default to this process)."""
    stat = _proc_stat(os.getpid())
    fields: dict[str, Any] = {
        "command": "pano ingest pvs-hm",
        "owner": "someone",
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": "2026-01-01T00:00:00+00:00",
        "token": uuid.uuid4().hex,
        "proc_start": None if stat is None else stat[1],
        "boot_id": None,
    }
    fields.update(kw)
    path = Path(lock_path(store))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(LockInfo(**fields).to_json())
    return path


# ---------------------------------------------------------------------------
# Local lock files
# ---------------------------------------------------------------------------


def test_the_lock_file_sits_beside_the_store_and_holds_who_writes(tmp_path: Path) -> None:
    store = tmp_path / "d" / "s.zarr"
    assert lock_path(store) == str(tmp_path / "d" / "s.zarr.pano-lock")
    assert lock_path(f"file://{store}") == lock_path(store)
    with store_write_lock(store, command="pano ingest pvs-hm") as info:
        raw = json.loads(Path(lock_path(store)).read_text())
        assert raw["pid"] == os.getpid() and raw["host"] == socket.gethostname()
        assert raw["command"] == "pano ingest pvs-hm" and raw["token"] == info.token
        assert {"owner", "since", "proc_start", "boot_id"} <= raw.keys()
        assert not (tmp_path / "d" / "s.zarr").exists()  # the store itself is not created
    assert not Path(lock_path(store)).exists()
    assert not (tmp_path / "d").exists()  # a folder made only for the lock is removed again


def test_two_processes_racing_exactly_one_wins(tmp_path: Path) -> None:
    store = str(tmp_path / "s.zarr")
    racers = [_spawn(RACER, store) for _ in range(2)]
    try:
        for _ in range(4):
            for p in racers:  # both are told at once; each tries as soon as it reads the line
                assert p.stdin is not None
                p.stdin.write("go\n")
                p.stdin.flush()
            lines = [p.stdout.readline().strip() for p in racers if p.stdout is not None]
            won = [i for i, line in enumerate(lines) if line == "won"]
            assert len(won) == 1, lines
            winner, loser = racers[won[0]], racers[1 - won[0]]
            msg = lines[1 - won[0]]
            assert msg.startswith("lost ") and "\n" not in msg
            assert f"'racer {winner.pid}' (pid {winner.pid} on host {socket.gethostname()}" in msg
            assert "being written by" in msg and "wait for it to finish" in msg
            assert winner.stdin is not None and winner.stdout is not None
            winner.stdin.write("release\n")
            winner.stdin.flush()
            assert winner.stdout.readline().strip() == "released"
            assert loser.poll() is None
    finally:
        for p in racers:
            p.kill()
            p.communicate(timeout=60)
    assert not Path(lock_path(store)).exists()


@pytest.mark.parametrize("reaped", [False, True], ids=["zombie", "dead"])
def test_the_stale_lock_of_a_killed_process_is_taken_over(
    tmp_path: Path, reaped: bool, caplog: pytest.LogCaptureFixture
) -> None:
    store = tmp_path / "s.zarr"
    proc = _spawn(HOLDER, str(store), "120")
    os.kill(proc.pid, signal.SIGKILL)
    if reaped:
        proc.wait(timeout=60)
    else:  # killed but not yet reaped: a zombie still answers kill(pid, 0)
        deadline = time.monotonic() + 30
        while (_proc_stat(proc.pid) or ("?",))[0] != "Z" and time.monotonic() < deadline:
            time.sleep(0.01)
    assert Path(lock_path(store)).exists()  # SIGKILL leaves the lock file behind
    assert current_writer(store) is None
    assert_no_writer(store)  # a dead writer does not block readers
    with caplog.at_level(logging.WARNING, "pano.stores.lock"):
        with store_write_lock(store, command="second") as info:
            assert json.loads(Path(lock_path(store)).read_text())["token"] == info.token
    assert f"took over the stale write lock of 'holder' (pid {proc.pid}" in caplog.text
    proc.communicate(timeout=60)


def test_a_reused_pid_is_told_apart_by_its_start_time(tmp_path: Path) -> None:
    store = tmp_path / "s.zarr"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        stat = _proc_stat(sleeper.pid)
        if stat is None:
            pytest.skip("no /proc here")
        _write_lock(store, pid=sleeper.pid, proc_start=stat[1] - 1)  # another process's pid
        with store_write_lock(store):
            pass
        _write_lock(store, pid=sleeper.pid, proc_start=stat[1])  # that very process: live
        with pytest.raises(StoreLockedError, match=rf"pid {sleeper.pid} .*wait for it to finish"):
            with store_write_lock(store):
                pass
        with pytest.raises(StoreLockedError, match="train after it has finished"):
            assert_no_writer(store, "train")
    finally:
        sleeper.kill()
        sleeper.wait(timeout=60)


def test_a_lock_from_another_host_is_refused_naming_the_file(tmp_path: Path) -> None:
    store = tmp_path / "s.zarr"
    path = _write_lock(store, host="elsewhere", pid=1)
    with pytest.raises(StoreLockedError) as err:
        with store_write_lock(store):
            pass
    msg = str(err.value)
    assert "pid 1 on host elsewhere" in msg and f"delete {path}" in msg and "\n" not in msg
    assert path.exists()


def test_an_unreadable_lock_file_is_young_or_stale(tmp_path: Path) -> None:
    store = tmp_path / "s.zarr"
    path = Path(lock_path(store))
    path.write_bytes(b"")  # as if its writer were between creating and filling it
    with pytest.raises(StoreLockedError, match="another pano process"):
        with store_write_lock(store):
            pass
    with pytest.raises(StoreLockedError, match=r"another pano process \(its lock file is being"):
        assert_no_writer(store)
    old = time.time() - 3600
    os.utime(path, (old, old))  # a writer killed in that instant, long ago
    with store_write_lock(store):
        pass
    assert not path.exists()


def test_the_lock_is_reentrant_in_a_thread_and_refused_to_other_threads(tmp_path: Path) -> None:
    for store in (str(tmp_path / "s.zarr"), f"memory://pano-lock-{uuid.uuid4().hex}/s.zarr"):
        errors: list[BaseException] = []

        def other(store: str = store, errors: list[BaseException] = errors) -> None:
            try:
                with store_write_lock(store):
                    pass
            except StoreLockedError as err:
                errors.append(err)
            try:
                assert_no_writer(store)
            except StoreLockedError as err:
                errors.append(err)

        with store_write_lock(store, command="outer") as outer:
            with store_write_lock(store, command="inner") as inner:
                assert inner == outer
                assert_no_writer(store)  # the writer itself may read
            t = threading.Thread(target=other)
            t.start()
            t.join()
        assert "another thread of this process ('outer'" in str(errors[0])
        if store.startswith("memory://"):  # in-process stores: other threads are other writers
            assert len(errors) == 2 and "being written by 'outer'" in str(errors[1])
        else:  # a file lock belongs to the process
            assert len(errors) == 1
        with store_write_lock(store):  # released by the outer block
            pass


def test_fsspec_locks_are_advisory_objects_beside_the_store() -> None:
    fs = fsspec.filesystem("memory")
    path = f"/pano-lock-{uuid.uuid4().hex}/s.zarr.pano-lock"
    url = f"memory://{path}"
    assert lock_path("s3://bucket/data/s.zarr") == "s3://bucket/data/s.zarr.pano-lock"
    assert lock_path("s3://bucket") == "s3://bucket/.pano-lock"
    mine = LockInfo("first", "u", socket.gethostname(), os.getpid(), "t0", uuid.uuid4().hex)
    _acquire_fsspec("s3://x", fs, path, url, mine)
    assert LockInfo.from_json(fs.cat_file(path)) == mine
    live = LockInfo("second", "u", socket.gethostname(), os.getpid(), "t1", uuid.uuid4().hex)
    with pytest.raises(StoreLockedError, match="being written by 'first'"):
        _acquire_fsspec("s3://x", fs, path, url, live)
    _release_fsspec(fs, path, mine)
    assert not fs.exists(path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=60)
    fs.pipe_file(path, LockInfo("gone", "u", socket.gethostname(), dead.pid, "t", "x").to_json())
    _acquire_fsspec("s3://x", fs, path, url, live)  # a stale lock object is replaced
    assert LockInfo.from_json(fs.cat_file(path)) == live
    fs.rm(path)


# ---------------------------------------------------------------------------
# The writers and readers that use it
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pvs")
    write_synthetic_dataset(d, SynthConfig(videos=1, subjects=2, seconds=2, width=128), workers=1)
    return d


def test_a_second_ingest_is_refused_in_one_line_and_writes_nothing(
    data: Path, holder: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    store, proc = holder
    args = ["ingest", "pvs-hm", "--videos", str(data), "--hm", str(data / HM_FILE)]
    args += ["--em", str(data / EM_FILE), "--store", str(store), "--workers", "0"]
    for extra in ([], ["--overwrite"]):
        capsys.readouterr()
        assert main([*args, *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and err.startswith(f"pano: error: {store}: the store is being")
        assert f"'holder' (pid {proc.pid} on host" in err and "Traceback" not in err
        assert not store.exists()
    assert json.loads(Path(lock_path(store)).read_text())["pid"] == proc.pid  # lock untouched


def test_eval_train_and_predictions_refuse_a_store_being_written(holder: Any) -> None:
    from pano.config import load_config
    from pano.pipelines.eval import EvalConfig, evaluate
    from pano.pipelines.train import TrainConfig, train_hm
    from pano.pipelines.train.predict import write_predictions

    store, proc = holder
    with pytest.raises(StoreLockedError, match=rf"pid {proc.pid} .*evaluate after it has"):
        evaluate(EvalConfig(store=str(store)))
    cfg = load_config(TrainConfig, Path(__file__).parents[1] / "pipelines/configs/pos_only.yaml")
    with pytest.raises(StoreLockedError, match="train after it has finished"):
        train_hm(str(store), cfg, "pos_only", runs_dir=store.parent / "runs")
    with pytest.raises(StoreLockedError, match=r"being written by 'holder'"):
        write_predictions(str(store), "pos_only", cfg, None, None, torch.device("cpu"))


def test_info_names_the_writer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pano.stores.schema import Conventions, Provenance, RootAttrs
    from pano.stores.writer import create_root

    store = tmp_path / "s.zarr"
    create_root(
        store,
        RootAttrs(
            dataset="t", conventions=Conventions(canonical_frame={}, source={}),
            provenance=Provenance(pano_version="0", created="2026-01-01T00:00:00+00:00"),
        ),
    )  # fmt: skip
    assert main(["info", str(store)]) == 0
    assert "\nwriter " not in capsys.readouterr().out
    proc = _spawn(HOLDER, str(store), "120")
    try:
        assert main(["info", str(store)]) == 0
        out = capsys.readouterr().out
        assert (
            f"writer   'holder' (pid {proc.pid} on host" in out and "writing this store now" in out
        )
    finally:
        proc.kill()
        proc.communicate(timeout=60)
