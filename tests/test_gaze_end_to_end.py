"""The gaze slice chained through the CLI, as a user runs it: synth-gaze -> ingest -> train -> eval.

``pano synth-gaze`` renders a tiny GazeHub-layout folder, ``pano ingest gazehub`` puts it
into a store, ``pano train-gaze --config gaze_tiny.yaml --folds all`` trains every LOPO fold
(with the eye crops, ``--set model.eyes=true``, as the demo config reads them) and
``pano eval --target gaze`` scores it. The test checks what each step leaves behind and
that the numbers agree with one another; it does not check accuracy (tiny sizes, two
epochs), only that every figure is finite and that the tables, the figure and the store
entries are there.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from pano.cli.app import app

CONFIGS = Path(__file__).resolve().parents[1] / "pipelines" / "configs"
PERSONS = ["p00", "p01", "p02", "p03", "p04"]


def _ok(args: list[str]) -> str:
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, (args[0], r.output, r.exception)
    return r.output


def test_synth_ingest_train_eval_through_the_cli(tmp_path: Path) -> None:
    from pano.stores.gaze import open_gaze
    from pano.stores.gaze_predictions import open_gaze_predictions
    from pano.stores.results import open_results

    hub, store, run, figs = tmp_path / "hub", tmp_path / "g.zarr", tmp_path / "run", tmp_path / "ev"
    _ok(["synth-gaze", str(hub), "--layout", "gazehub", "--persons", "5", "--samples-per-person",
         "6", "--size", "320x240", "--supersample", "1", "--seed", "5"])  # fmt: skip
    assert sorted(p.stem for p in (hub / "Label").glob("*.label")) == PERSONS

    _ok(["ingest", "gazehub", "--root", str(hub), "--dataset", "mpiifacegaze", "--name",
         "synth", "--store", str(store), "--workers", "0"])  # fmt: skip
    data = open_gaze(str(store), "synth")
    assert data.arrays["face"].shape == (30, 224, 224, 3)
    assert data.arrays["left"].shape[0] == 30  # the eye crops the tiny config reads

    _ok(["train-gaze", str(store), "--config", str(CONFIGS / "gaze_tiny.yaml"), "--dataset",
         "synth", "--folds", "all", "--out", str(run), "--workers", "0",
         "--set", "model.eyes=true"])  # fmt: skip
    summary = json.loads((run / "summary.json").read_text())
    folds = {f["fold"]: f for f in summary["folds"]}
    assert sorted(folds) == PERSONS
    for name, rec in folds.items():
        assert name not in rec["val_persons"] + rec["train_persons"]
        assert np.isfinite(rec["test_angular_deg"]) and np.isfinite(rec["val_angular_deg"])
    pred = open_gaze_predictions(str(store), "synth", "run")
    assert pred.scored.all() and np.isfinite(pred.gaze_xyz).all()
    np.testing.assert_allclose(np.linalg.norm(pred.gaze_xyz, axis=1), 1.0, atol=1e-9)
    assert pred.attrs["config"]["model"]["eyes"] is True

    out = _ok(["eval", str(store), "--target", "gaze", "--dataset", "synth", "--predictions",
               "run", "--out", str(figs)])  # fmt: skip
    assert "mean_of_person_means_deg" in out
    ds = open_results(str(store), "run_gaze")
    assert list(ds["model"].values) == ["run", "mean_gaze", "head_pose"]
    per = ds["person_mean_deg"].sel(model="run").values
    assert list(ds["person"].values) == PERSONS and np.isfinite(per).all()
    assert float(ds["mean_of_person_means_deg"].sel(model="run")) == per.mean()
    for base in ("mean_gaze", "head_pose"):
        v = ds["person_mean_deg"].sel(model=base).values
        assert np.isfinite(v).all() and (v > 0).all() and (v < 90).all()
    # each fold's own record agrees with the evaluator's per-person mean
    for p in PERSONS:
        got = float(ds["person_mean_deg"].sel(model="run", person=p))
        assert abs(got - folds[p]["test_angular_deg"]) < 1e-6
    with (figs / "gaze_per_person.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert sorted({r["person"] for r in rows}) == PERSONS
    assert (figs / "gaze_per_person.png").stat().st_size > 1000
    assert {"gaze_summary.csv", "report.md"} <= {f.name for f in figs.iterdir()}
