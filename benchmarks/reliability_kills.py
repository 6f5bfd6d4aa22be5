"""Reliability suite: SIGKILL at random points, concurrent writers, eval during ingest.

    python benchmarks/reliability_kills.py [--kills 20] [--pairs 20] [--evals 20]
        [--seed 0] [--json reliability.json]

On tiny synthetic data (``pano synth``: 6 videos x 3 subjects x 2 s, with EM):

a. ``pano ingest`` into a new store, SIGKILLed at a random time (uniform over a clean
   run's wall time), then a plain re-run;
b. ``pano ingest --overwrite`` over a complete store, SIGKILLed likewise, then a plain re-run;
c. ``pano train-hm --predict`` (tiny pos_only config), SIGKILLed likewise, then
   ``--resume`` (or a plain run when the kill came before the first checkpoint);

after each kill: the store, as the kill left it, must not say complete over missing data
(``verify_store(full=True)``: every group marked complete is whole and readable); after
the re-run, the store must be bit-identical to a clean run's (every array's bytes and
every attribute except times, the store path and the generation) and verify clean;

d. two ``pano ingest`` processes into one store (a new store, or a half-complete one), the
   second started as soon as the first holds the lock: the second must exit 2 with one
   line naming the first, the first must finish, and the store must equal the clean one;
e. ``pano eval`` started at a random offset (-T_ingest .. +T_eval) from an ingest that
   rewrites the store (``--overwrite`` with another heatmap sigma, or the repair of
   half the videos): it must be refused at start (exit 2, "being written"), fail loudly
   (exit 2, "the store changed"), or write complete results that equal, bit for bit,
   an evaluation of one of the two stores it could have seen (before / after), with the
   generation recorded in the results equal to that store's.

Prints a table and writes JSON (``--json``). Figures and the machine: docs/reliability.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HEAT = ["--heatmap-size", "36x18", "--step-frames", "5"]
TRAIN_SETS = [
    "optim.steps=24", "optim.batch_size=8", "log.val_every=4", "log.checkpoint_every=4",
    "data.horizon=5", "threads=1", "model.hidden=8",
]  # fmt: skip
EVAL_OPTS = [
    "--workers",
    "0",
    "--metrics",
    "cc,nss,orthodromic_deg",
    "--baselines",
    "fcb,no_motion",
]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------


def _pano(*args: str) -> list[str]:
    return [sys.executable, "-m", "pano", *args]


def ingest_cmd(data: Path, store: Path, *extra: str) -> list[str]:
    files = ["--videos", str(data), "--hm", str(data / "FULLdata_per_video_frame.mat")]
    files += ["--em", str(data / "EMdata_per_video_frame.mat")]
    opts = [*HEAT, "--workers", "0", "--device", "cpu"]
    return _pano("ingest", "pvs-hm", *files, "--store", str(store), *opts, *extra)


def train_cmd(store: Path, runs: Path, *extra: str) -> list[str]:
    sets = [a for s in TRAIN_SETS for a in ("--set", s)]
    cfg = str(REPO / "pipelines" / "configs" / "pos_only.yaml")
    return _pano(
        "train-hm", str(store), "--config", cfg, *sets, "--runs-dir", str(runs), "--run", "r",
        "--device", "cpu", "--predict", *extra,
    )  # fmt: skip


def run(cmd: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout)


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    res = run(cmd)
    if res.returncode != 0:
        raise SystemExit(f"clean run failed: {' '.join(cmd)}\n{res.stderr[-3000:]}")
    return time.perf_counter() - t


def kill_after(cmd: list[str], delay: float) -> int | None:
    """Start ``cmd``, SIGKILL it after ``delay`` s; its exit code if it finished first."""
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        proc.wait(timeout=delay)
        finished = True
    except subprocess.TimeoutExpired:
        finished = False
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    return proc.returncode if finished else None


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

_VOLATILE = {"created", "pano_generation"}


def _clean_attrs(attrs: dict[str, Any], root: bool) -> dict[str, Any]:
    out = {k: v for k, v in attrs.items() if k not in _VOLATILE}
    if root and isinstance(out.get("provenance"), dict):
        prov = {k: v for k, v in out["provenance"].items() if k != "created"}
        params = dict(prov.get("parameters") or {})
        params.pop("store", None)
        prov["parameters"] = params
        out["provenance"] = prov
    if "config" in out and isinstance(out["config"], dict):
        out["config"] = {k: v for k, v in out["config"].items() if k != "device"}
    return out


def snapshot(store: Path, prefix: str = "") -> str:
    """SHA-256 over every array's bytes, dtype and attributes and every group's attributes."""
    import zarr

    root = zarr.open_group(str(store), mode="r")
    h = hashlib.sha256()
    items = sorted(root.members(max_depth=None), key=lambda kv: kv[0])
    for path, node in items:
        if prefix and not path.startswith(prefix):
            continue
        h.update(path.encode())
        attrs = _clean_attrs(node.attrs.asdict(), root=False)
        h.update(json.dumps(attrs, sort_keys=True, default=str).encode())
        if isinstance(node, zarr.Array):
            h.update(str(node.dtype).encode())
            h.update(np.ascontiguousarray(node[...]).tobytes())
    if not prefix:
        h.update(json.dumps(_clean_attrs(root.attrs.asdict(), root=True), sort_keys=True).encode())
    return h.hexdigest()


def honest(store: Path) -> tuple[bool, str]:
    """Whether nothing in the store says complete over missing or unreadable data."""
    from pano.stores.verify import verify_store

    if not (store / "zarr.json").exists():
        return True, "no store"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            report = verify_store(store, full=True)
        except Exception as err:  # an unreadable root: nothing can say complete
            return True, f"unreadable root ({type(err).__name__})"
    return report.ok, "" if report.ok else report.format()


def results_digest(store: Path, run_name: str) -> tuple[str, dict[str, Any] | None]:
    """SHA-256 of a results group's score arrays, and the generation it records."""
    import zarr

    g = zarr.open_group(str(store), mode="r")[f"results/{run_name}"]
    h = hashlib.sha256()
    for name in sorted(g.array_keys()):
        h.update(name.encode())
        h.update(np.ascontiguousarray(g[name][...]).tobytes())
    return h.hexdigest(), g.attrs.get("pano_generation")


# ---------------------------------------------------------------------------
# The trials
# ---------------------------------------------------------------------------


def kills(
    name: str, n: int, rng: random.Random, work: Path, prepare: Any, cmd_for: Any,
    rerun: Any, clean_digest: str, t_clean: float, digest: Any,
) -> dict[str, Any]:  # fmt: skip
    rows = []
    for i in range(n):
        d = work / f"{name}-{i}"
        d.mkdir()
        store = prepare(d)
        delay = rng.uniform(0.02, 1.0) * t_clean
        finished = kill_after(cmd_for(d, store), delay)
        ok_killed, why_killed = honest(store)
        rerun_rc = rerun(d, store)
        ok_after, why_after = honest(store)
        same = rerun_rc == 0 and digest(d, store) == clean_digest
        rows.append(
            {
                "delay_s": round(delay, 3), "finished_before_kill": finished is not None,
                "honest_after_kill": ok_killed, "rerun_rc": rerun_rc,
                "honest_after_rerun": ok_after, "identical": same,
                "problem": why_killed or why_after or ("" if same else "differs"),
            }
        )  # fmt: skip
        shutil.rmtree(d, ignore_errors=True)
        print(f"  {name} {i + 1}/{n}: kill at {delay:.2f}s, identical={same}", flush=True)
    return summarise(name, rows)


def summarise(name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "trial": name,
        "runs": len(rows),
        "killed_mid_run": sum(not r.get("finished_before_kill", False) for r in rows),
        "honest_after_kill": sum(r.get("honest_after_kill", True) for r in rows),
        "identical_after_rerun": sum(r.get("identical", False) for r in rows),
        "rows": rows,
    }


def concurrent(n: int, work: Path, data: Path, clean: Path, clean_digest: str) -> dict[str, Any]:
    from pano.stores.lock import lock_path

    rows = []
    for i in range(n):
        d = work / f"pair-{i}"
        d.mkdir()
        store = d / "s.zarr"
        half = i % 2 == 1
        if half:  # a half-complete store (item 3 of the issue)
            shutil.copytree(clean, store)
            _mark_incomplete(store, 3)
        first = subprocess.Popen(
            ingest_cmd(data, store), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        lock = Path(lock_path(store))
        t_end = time.monotonic() + 60
        while not lock.exists() and first.poll() is None and time.monotonic() < t_end:
            time.sleep(0.002)
        second = run(ingest_cmd(data, store))
        _, err1 = first.communicate(timeout=300)
        lines = [ln for ln in second.stderr.splitlines() if ln.startswith("pano: error")]
        refused = (
            second.returncode == 2
            and len(lines) == 1
            and "being written by 'pano ingest pvs-hm'" in lines[0]
            and "Traceback" not in second.stderr
        )
        ok, why = honest(store)
        same = first.returncode == 0 and snapshot(store) == clean_digest
        rows.append(
            {
                "store": "half-complete" if half else "new", "first_rc": first.returncode,
                "second_rc": second.returncode, "second_refused_in_one_line": refused,
                "honest": ok, "identical": same, "second_error": lines[0] if lines else "",
                "problem": why or ("" if same else err1.decode()[-500:]),
            }
        )  # fmt: skip
        shutil.rmtree(d, ignore_errors=True)
        print(f"  pair {i + 1}/{n}: second refused={refused}, identical={same}", flush=True)
    return {
        "trial": "concurrent ingests",
        "runs": n,
        "second_refused": sum(r["second_refused_in_one_line"] for r in rows),
        "honest": sum(r["honest"] for r in rows),
        "identical_after_rerun": sum(r["identical"] for r in rows),
        "rows": rows,
    }


def _mark_incomplete(store: Path, k: int) -> list[str]:
    import zarr

    root = zarr.open_group(str(store), mode="a")
    names = sorted(root["videos"].group_keys())[:k]
    for v in names:
        root[f"videos/{v}"].attrs["pano_complete"] = False
    return names


def evals(
    n: int, rng: random.Random, work: Path, data: Path, clean: Path, t_eval: float
) -> dict[str, Any]:
    """Eval at random offsets from an ingest that rewrites the store."""
    # The two stores each eval could see, per scenario, and their results (references).
    refs: dict[str, dict[str, tuple[str, Path]]] = {}
    t_ing: dict[str, float] = {}
    for scen in ("overwrite", "repair"):
        before = work / f"ref-{scen}-before.zarr"
        shutil.copytree(clean, before)
        if scen == "repair":
            _mark_incomplete(before, 3)
        after = work / f"ref-{scen}-after.zarr"
        shutil.copytree(before, after)
        shutil.copytree(before, work / f"start-{scen}.zarr")  # what each trial starts from
        extra = ("--overwrite", "--heatmap-sigma", "5") if scen == "overwrite" else ()
        t_ing[scen] = timed(ingest_cmd(data, after, *extra))
        refs[scen] = {}
        for label, s in (("before", before), ("after", after)):
            res = run(_pano("eval", str(s), *EVAL_OPTS))
            if res.returncode != 0:
                raise SystemExit(f"reference eval failed: {res.stderr[-2000:]}")
            refs[scen][label] = (results_digest(s, "baselines")[0], s)
    rows = []
    for i in range(n):
        scen = "overwrite" if i % 2 == 0 else "repair"
        d = work / f"eval-{i}"
        d.mkdir()
        store = d / "s.zarr"
        shutil.copytree(work / f"start-{scen}.zarr", store)
        g_before = _generation(store)
        extra = ("--overwrite", "--heatmap-sigma", "5") if scen == "overwrite" else ()
        offset = rng.uniform(-t_ing[scen], t_eval)  # < 0: the ingest starts first
        ing: subprocess.Popen[bytes] | None = None
        ev: subprocess.Popen[str]
        if offset < 0:
            ing = subprocess.Popen(ingest_cmd(data, store, *extra), env=ENV,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
            time.sleep(-offset)
        ev = subprocess.Popen(
            _pano("eval", str(store), *EVAL_OPTS),
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if offset >= 0:
            time.sleep(offset)
            ing = subprocess.Popen(ingest_cmd(data, store, *extra), env=ENV,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        _, ev_err = ev.communicate(timeout=300)
        assert ing is not None
        _, ing_err = ing.communicate(timeout=300)
        lines = [ln for ln in ev_err.splitlines() if ln.startswith("pano: error")]
        one_line = len(lines) == 1 and "Traceback" not in ev_err
        outcome, wrong = "?", False
        if ev.returncode == 2 and one_line and "is being written by" in lines[0]:
            outcome = "refused at start" if "evaluate after" in lines[0] else "failed: writer"
        elif ev.returncode == 2 and one_line and "changed while this ran" in lines[0]:
            outcome = "failed: store changed"
        elif ev.returncode == 0 and not _results_exist(store) and scen == "overwrite":
            # It finished before the --overwrite began, which then replaced the whole store
            # (results included): nothing in the store claims anything.
            outcome = "complete (then replaced by the --overwrite)"
        elif ev.returncode == 0:
            digest, gen = results_digest(store, "baselines")
            matches = [k for k, (dg, _) in refs[scen].items() if dg == digest]
            g_after = _generation(store)
            outcome = f"complete ({'/'.join(matches) or 'NO MATCH'})"
            wrong = not matches or (
                gen not in (g_before, g_after) or (matches == ["before"] and gen != g_before)
            )
        complete_results = _results_complete(store)
        if ev.returncode != 0 and complete_results:
            wrong = True
        if outcome == "?":
            wrong = True  # not one of the allowed outcomes (a traceback, another message)
        rows.append(
            {
                "scenario": scen, "offset_s": round(offset, 3), "eval_rc": ev.returncode,
                "outcome": outcome, "ingest_rc": ing.returncode,
                "complete_and_wrong": wrong, "message": lines[0] if lines else ev_err[-300:],
                "ingest_error": ing_err.decode()[-300:] if ing.returncode else "",
            }
        )  # fmt: skip
        shutil.rmtree(d, ignore_errors=True)
        print(f"  eval {i + 1}/{n} ({scen}, offset {offset:+.2f}s): {outcome}", flush=True)
    outcomes: dict[str, int] = {}
    for r in rows:
        key = r["outcome"].split(" (")[0]
        outcomes[key] = outcomes.get(key, 0) + 1
    return {
        "trial": "eval during ingest",
        "runs": n,
        "outcomes": outcomes,
        "complete_and_wrong": sum(r["complete_and_wrong"] for r in rows),
        "rows": rows,
    }


def _generation(store: Path) -> Any:
    try:
        return json.loads((store / "zarr.json").read_text())["attributes"].get("pano_generation")
    except (OSError, ValueError, KeyError):
        return None


def _results_exist(store: Path) -> bool:
    return (store / "results" / "baselines" / "zarr.json").exists()


def _results_complete(store: Path) -> bool:
    meta = store / "results" / "baselines" / "zarr.json"
    try:
        return json.loads(meta.read_text())["attributes"].get("pano_complete") is True
    except (OSError, ValueError, KeyError):
        return False


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()[:10]
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "lscpu": lscpu,
        "loadavg_start": list(os.getloadavg()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=20, help="SIGKILLs per kind (a, b, c)")
    ap.add_argument("--pairs", type=int, default=20, help="concurrent ingest pairs (d)")
    ap.add_argument("--evals", type=int, default=20, help="evals during ingest (e)")
    ap.add_argument("--only", default="abcde", help="which trials to run (letters)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    info = machine()
    t_all = time.perf_counter()
    out: dict[str, Any] = {"machine": info, "trials": []}

    def save() -> None:  # after every trial: a crash later keeps what was measured
        if args.json is not None:
            out["seconds"] = round(time.perf_counter() - t_all, 1)
            args.json.write_text(json.dumps(out, indent=1) + "\n")

    with tempfile.TemporaryDirectory(prefix="pano-reliability-") as tmp:
        work = Path(tmp)
        data = work / "data"
        from pano.synth import SynthConfig, write_synthetic_dataset

        write_synthetic_dataset(
            data, SynthConfig(videos=6, subjects=3, seconds=2, width=128, fps=30), workers=1
        )
        clean = work / "clean.zarr"
        t_ingest = timed(ingest_cmd(data, clean))
        clean_digest = snapshot(clean)
        print(f"clean ingest: {t_ingest:.1f} s", flush=True)

        def plain_rerun(d: Path, store: Path) -> int:
            return run(ingest_cmd(data, store)).returncode

        if "a" in args.only:
            out["trials"].append(kills(
                "ingest", args.kills, rng, work, lambda d: d / "s.zarr",
                lambda d, s: ingest_cmd(data, s), plain_rerun, clean_digest, t_ingest,
                lambda d, s: snapshot(s),
            ))  # fmt: skip
            save()
        if "b" in args.only:
            t_over = timed(ingest_cmd(data, work / "over.zarr"))
            t_over = timed(ingest_cmd(data, work / "over.zarr", "--overwrite"))

            def copy_clean(d: Path) -> Path:
                shutil.copytree(clean, d / "s.zarr")
                return d / "s.zarr"

            out["trials"].append(kills(
                "ingest --overwrite", args.kills, rng, work, copy_clean,
                lambda d, s: ingest_cmd(data, s, "--overwrite"), plain_rerun, clean_digest,
                t_over, lambda d, s: snapshot(s),
            ))  # fmt: skip
            save()
        if "c" in args.only:
            ref = work / "train-ref"
            ref.mkdir()
            shutil.copytree(clean, ref / "s.zarr")
            t_train = timed(train_cmd(ref / "s.zarr", ref / "runs"))
            train_digest = _train_digest(ref, ref / "s.zarr")
            print(f"clean train-hm: {t_train:.1f} s", flush=True)

            def copy_for_train(d: Path) -> Path:
                shutil.copytree(clean, d / "s.zarr")
                return d / "s.zarr"

            def resume(d: Path, store: Path) -> int:
                man = d / "runs" / "r" / "checkpoints" / "manifest.json"
                return run(
                    train_cmd(store, d / "runs", *(["--resume"] if man.exists() else []))
                ).returncode

            out["trials"].append(kills(
                "train-hm", args.kills, rng, work, copy_for_train,
                lambda d, s: train_cmd(s, d / "runs"), resume, train_digest, t_train,
                _train_digest,
            ))  # fmt: skip
            save()
        if "d" in args.only:
            out["trials"].append(concurrent(args.pairs, work, data, clean, clean_digest))
            save()
        if "e" in args.only:
            shutil.copytree(clean, work / "eval-time.zarr")
            t_eval = timed(_pano("eval", str(work / "eval-time.zarr"), *EVAL_OPTS))
            print(f"clean eval: {t_eval:.1f} s", flush=True)
            out["trials"].append(evals(args.evals, rng, work, data, clean, t_eval))
    info["loadavg_end"] = list(os.getloadavg())
    out["seconds"] = round(time.perf_counter() - t_all, 1)
    print_table(out)
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


def _train_digest(d: Path, store: Path) -> str:
    """The predictions the run wrote and its final weights (the latest checkpoint's tensors)."""
    import torch

    from pano.pipelines.train.checkpoint import CheckpointManager

    h = hashlib.sha256(snapshot(store, prefix="predictions").encode())
    state, _ = CheckpointManager(d / "runs" / "r" / "checkpoints").load("latest")
    for k in sorted(state["model"]):
        h.update(k.encode())
        h.update(state["model"][k].cpu().numpy().tobytes())
    assert isinstance(state["step"], int) or torch.is_tensor(state["step"])
    h.update(str(int(state["step"])).encode())
    return h.hexdigest()


def print_table(out: dict[str, Any]) -> None:
    print()
    print(
        f"{'trial':<22} {'runs':>5} {'killed mid-run':>15} {'honest':>7} {'identical':>10}  other"
    )
    for t in out["trials"]:
        if t["trial"] == "eval during ingest":
            other = ", ".join(f"{k}: {v}" for k, v in sorted(t["outcomes"].items()))
            print(f"{t['trial']:<22} {t['runs']:>5} {'':>15} {'':>7} {'':>10}  "
                  f"complete-and-wrong: {t['complete_and_wrong']}; {other}")  # fmt: skip
        elif t["trial"] == "concurrent ingests":
            print(
                f"{t['trial']:<22} {t['runs']:>5} {'':>15} {t['honest']:>7} "
                f"{t['identical_after_rerun']:>10}  second refused: {t['second_refused']}"
            )
        else:
            print(f"{t['trial']:<22} {t['runs']:>5} {t['killed_mid_run']:>15} "
                  f"{t['honest_after_kill']:>7} {t['identical_after_rerun']:>10}")  # fmt: skip
    print(f"total {out['seconds']} s; load average {out['machine']['loadavg_start']} -> "
          f"{out['machine']['loadavg_end']}")  # fmt: skip


if __name__ == "__main__":
    main()
