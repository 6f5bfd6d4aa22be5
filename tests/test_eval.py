"""`pano eval` end to end on a tiny synthetic store: baselines, predictions, Dask, bad input."""

from __future__ import annotations

import contextlib
import io
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import zarr

from pano.baselines import fcb_map, no_motion_forecast
from pano.cli.app import main
from pano.config import load_config
from pano.pipelines.eval import EvalConfig, evaluate, open_results
from pano.pipelines.ingest import IngestConfig, ingest_pvs_hm
from pano.stores import store_summary
from pano.stores.predictions import arrays_sha256
from pano.stores.writer import compressor
from pano.synth import HM_FILE, SynthConfig, write_synthetic_dataset

CONFIGS = Path(__file__).resolve().parents[1] / "pipelines" / "configs"
# 8 s at 15 fps, a step every 5 frames: 24 steps, 19 kept; 40 samples at 5 Hz (2 origins).
SYNTH = SynthConfig(videos=6, subjects=10, seconds=8, fps=15, width=128, em=False)
HEAT = {"width": 72, "height": 36, "step_frames": 5}
# Metrics and baselines for the Dask runs (no inter-observer maps: workers skip torch).
FAST = [
    "--metrics",
    "cc,nss,auc,auc_borji,sauc,orthodromic_deg,mo_sphere,tile_iou",
    "--baselines",
    "uniform,fcb,equator,no_motion,constant_velocity",
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    d = tmp_path_factory.mktemp("synth")
    write_synthetic_dataset(d, SYNTH, workers=2)
    path = tmp_path_factory.mktemp("store") / "pvs.zarr"
    cfg = IngestConfig(
        videos=d, hm=d / HM_FILE, store=str(path), heatmap=HEAT, workers=0, device="cpu"
    )  # type: ignore[arg-type]
    ingest_pvs_hm(cfg)
    return str(path)


@dataclass
class BaselineRun:
    dataset: Any
    out: Path
    stdout: str


@pytest.fixture(scope="module")
def baselines(store: str, tmp_path_factory: pytest.TempPathFactory) -> BaselineRun:
    """`pano eval STORE --out DIR` with baselines alone (in-process)."""
    out = tmp_path_factory.mktemp("report")
    with contextlib.redirect_stdout(io.StringIO()) as buf:
        code = main(["eval", store, "--workers", "0", "--out", str(out)])
    assert code == 0
    return BaselineRun(open_results(store, "baselines").load(), out, buf.getvalue())


def _copy(store: str, tmp_path: Path) -> str:
    dst = tmp_path / "copy.zarr"
    shutil.copytree(store, dst)
    return str(dst)


# ---------------------------------------------------------------------------
# Baselines alone
# ---------------------------------------------------------------------------


def test_baselines_alone_produce_tables_plots_and_store_results(baselines: BaselineRun) -> None:
    ds = baselines.dataset
    assert set(ds["video"].values) == {"KingKong", "Dancing"}  # the test split only
    assert list(ds["model"].values) == [
        "uniform",
        "fcb",
        "equator",
        "inter_observer",
        "no_motion",
        "constant_velocity",
    ]
    assert "Saliency" in baselines.stdout and "inter_observer" in baselines.stdout
    files = {p.name: p for p in baselines.out.iterdir()}
    assert {
        "saliency.csv",
        "saliency_per_video.csv",
        "hm.csv",
        "hm_per_horizon.csv",
        "scanpath.csv",
        "report.md",
    } <= set(files)
    for png in ("saliency_per_video.png", "hm_vs_horizon.png", "scanpath_per_video.png"):
        assert files[png].stat().st_size > 10_000 and files[png].read_bytes()[:4] == b"\x89PNG"
    md = files["report.md"].read_text()
    assert "| model | cc |" in md and "inter_observer" in md
    # Honest ordering on synthetic heads (front start, equator bias).
    sal = pd.read_csv(files["saliency.csv"], index_col="model")
    assert sal.loc["inter_observer", "cc"] > sal.loc["fcb", "cc"] > sal.loc["uniform", "cc"]
    assert sal.loc["uniform", "cc"] == 0.0 and sal.loc["uniform", "auc"] == 0.5
    hm = ds["hm"].sel(model="no_motion", hm_metric="orthodromic_deg").mean("video").values
    assert hm[0] < hm[-1]  # the error grows with the horizon
    # The store holds what was computed: recompute without writing and compare.
    again = evaluate(EvalConfig(store=ds.attrs["store"], workers=0, write_store=False))
    for var in ("saliency", "hm", "hm_count", "scanpath", "n_steps"):
        np.testing.assert_array_equal(again.dataset[var].values, ds[var].values)
    assert again.results_group is None
    assert ds.attrs["pano_complete"] is True
    assert ds.attrs["profile"]["name"] == "sphere"
    assert ds.attrs["ground_truth_heatmap"]["width"] == 72
    assert ds.attrs["fitted_baselines"]["train_videos"] == [
        "A380",
        "Camping",
        "NotBeAloneTonight",
        "Surfing",
    ]
    assert ds.attrs["config"]["seed"] == 0 and ds.attrs["pano_version"]
    assert np.isfinite(ds["saliency"].sel(model="fcb").values).all()


# ---------------------------------------------------------------------------
# A prediction run is scored exactly like the baselines
# ---------------------------------------------------------------------------


def _write_predictions(store: str, run: str, baselines: BaselineRun, videos: list[str]) -> None:
    root = zarr.open_group(store, mode="r+")
    sigma = baselines.dataset.attrs["fitted_baselines"]["fcb_sigma_deg"]
    for v in videos:
        gt = root[f"videos/{v}"]
        n, h, w = gt["heatmap"].shape
        g = root.require_group(f"predictions/{run}/{v}")
        g.attrs["pano_complete"] = False
        heat = np.broadcast_to(fcb_map(h, w, sigma), (n, h, w)).copy()  # float64: exact ties
        g.create_array(
            "heatmap", data=heat, dimension_names=("step", "lat", "lon"), compressors=compressor()
        )
        xyz = np.asarray(gt["hm_rs_xyz"][:])
        origins = np.arange(5, xyz.shape[1] - 25, 5)
        fc = no_motion_forecast(xyz, origins, 25)
        g.create_array("forecast", data=fc, dimension_names=("subject", "origin", "horizon", "xyz"))
        g.create_array("origin", data=origins, dimension_names=("origin",))
        sp = np.asarray(gt["scanpath"][:])[:, :3]  # three subjects replayed as rollouts
        g.create_array("scanpath", data=sp, dimension_names=("step", "rollout", "lonlat"))
        g.attrs["pano_complete"] = True
    root[f"predictions/{run}"].attrs.update({"model": "test-copies", "checkpoint": None})


def test_predictions_scored_exactly_like_baselines(
    baselines: BaselineRun, store: str, tmp_path: Path
) -> None:
    s = _copy(store, tmp_path)
    _write_predictions(s, "copies", baselines, ["Dancing", "KingKong"])
    res = evaluate(EvalConfig(store=s, predictions="copies", workers=0))
    ds = res.dataset
    assert ds["model"].values[0] == "copies" and ds["model_kind"].values[0] == "model"
    # A prediction equal to the FCB map scores what the FCB baseline scores.
    np.testing.assert_array_equal(
        ds["saliency"].sel(model="copies").values, ds["saliency"].sel(model="fcb").values
    )
    # A no-motion forecast scores what the no-motion baseline scores.
    np.testing.assert_array_equal(
        ds["hm"].sel(model="copies").values, ds["hm"].sel(model="no_motion").values
    )
    assert np.isfinite(ds["scanpath"].sel(model="copies").values).all()
    assert res.results_group == "results/copies"
    assert ds.attrs["prediction_run_attrs"]["copies"]["model"] == "test-copies"
    assert "copies" in res.tables["saliency"].index


def test_several_runs_side_by_side_in_one_results_group(
    baselines: BaselineRun, store: str, tmp_path: Path
) -> None:
    s = _copy(store, tmp_path)
    _write_predictions(s, "copies", baselines, ["Dancing", "KingKong"])
    _write_predictions(s, "again", baselines, ["Dancing", "KingKong"])
    root = zarr.open_group(s, mode="r+")
    for v in ("Dancing", "KingKong"):  # the second run predicts a uniform map
        heat = root[f"predictions/again/{v}/heatmap"]
        heat[:] = np.ones(heat.shape)
    one = evaluate(EvalConfig(store=s, predictions="copies", workers=0, write_store=False))
    res = evaluate(
        EvalConfig(store=s, predictions="copies,again", baselines="fcb,no_motion", workers=0)
    )
    ds = res.dataset
    assert list(ds["model"].values) == ["copies", "fcb", "no_motion", "again"]
    assert list(ds["model_kind"].values) == ["model", "baseline", "baseline", "model"]
    # Each run scores what it scores alone; a uniform map scores what uniform does (CC 0).
    np.testing.assert_array_equal(
        ds["saliency"].sel(model="copies").values,
        one.dataset["saliency"].sel(model="copies").values,
    )
    assert np.all(ds["saliency"].sel(model="again", metric="cc").values == 0.0)
    np.testing.assert_array_equal(
        ds["hm"].sel(model="again").values, ds["hm"].sel(model="no_motion").values
    )
    assert res.results_group == "results/copies-again"
    assert ds.attrs["predictions"] == ["copies", "again"]
    assert set(ds.attrs["prediction_run_attrs"]) == {"copies", "again"}
    assert ds.attrs["config"]["predictions"] == ["copies", "again"]
    stored = open_results(s, "copies-again")
    assert list(stored["model"].values) == list(ds["model"].values)
    assert stored.attrs["pano_complete"] is True
    # pano info lists the runs and results.
    root["predictions/again/KingKong"].attrs["pano_complete"] = False
    rows = {r.group: r for r in store_summary(s).runs}
    assert rows["predictions/copies"].complete and "2/2 videos" in rows["predictions/copies"].detail
    assert (
        not rows["predictions/again"].complete and "1/2 videos" in rows["predictions/again"].detail
    )
    assert rows["results/copies-again"].detail.endswith("4 models: copies, fcb, no_motion, again")
    assert "[incomplete: re-run to finish]" in store_summary(s).format()
    root["predictions/again/KingKong"].attrs["pano_complete"] = True
    # A first run with heatmaps only, no baselines: later runs add the other variables.
    _write_predictions(s, "heat", baselines, ["Dancing", "KingKong"])
    for v in ("Dancing", "KingKong"):
        for arr in ("forecast", "origin", "scanpath"):
            del root[f"predictions/heat/{v}/{arr}"]
    mixed = evaluate(
        EvalConfig(store=s, predictions="heat,copies", baselines="none", workers=0, run="mixed")
    ).dataset
    assert list(mixed["model"].values) == ["heat", "copies"]
    assert np.isnan(mixed["hm"].sel(model="heat").values).all()
    np.testing.assert_array_equal(
        mixed["hm"].sel(model="copies").values, ds["hm"].sel(model="copies").values
    )
    np.testing.assert_array_equal(
        mixed["saliency"].sel(model="heat").values, ds["saliency"].sel(model="copies").values
    )


# ---------------------------------------------------------------------------
# Results record the predictions they scored; replacing them needs --overwrite
# ---------------------------------------------------------------------------


def test_results_record_their_predictions_go_stale_and_need_overwrite(
    baselines: BaselineRun, store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = _copy(store, tmp_path)
    _write_predictions(s, "copies", baselines, ["Dancing", "KingKong"])  # no recorded hash
    fast = {"baselines": "fcb", "metrics": "cc", "workers": 0}
    res = evaluate(EvalConfig.model_validate({"store": s, "predictions": "copies", **fast}))
    scored = res.dataset.attrs["scored_predictions"]["copies"]
    root = zarr.open_group(s, mode="r+")
    # Written without pano's writer: the hash is computed from the arrays, as for NumPy.
    g = root["predictions/copies/KingKong"]
    assert scored["videos"]["KingKong"] == arrays_sha256(
        {k: np.asarray(g[k][:]) for k in g.array_keys()}
    )
    assert scored["checkpoint"] is None and len(scored["content_sha256"]) == 64

    def stale() -> list[str]:
        return {r.group: r for r in store_summary(s).runs}["results/copies"].stale

    assert stale() == []
    heat = root["predictions/copies/KingKong/heatmap"]
    heat[0, 0, 0] = heat[0, 0, 0] + 0.5  # one value of one video changes
    (reason,) = stale()
    assert "predictions/copies was rewritten with other content (KingKong;" in reason
    assert "[stale: predictions/copies was rewritten" in store_summary(s).format()
    # The hint is a command that rescores exactly this group.
    assert f"re-run pano eval {s} --predictions copies --run copies --overwrite]" in (
        store_summary(s).format()
    )
    del root["predictions/copies"]
    assert stale() == ["predictions/copies no longer exists"]

    # Replacing a complete results group needs --overwrite (or another --run name).
    args = ["eval", s, "--baselines", "fcb", "--metrics", "cc", "--workers", "0"]
    created = root["results/copies"].attrs["created"]
    capsys.readouterr()  # what the evaluate() above logged
    err = _error([*args, "--run", "copies"], capsys)
    assert "results/copies already exists; pass --overwrite to replace it" in err
    assert root["results/copies"].attrs["created"] == created  # untouched
    assert main([*args, "--run", "copies", "--overwrite"]) == 0
    assert open_results(s, "copies").attrs["predictions"] == [] and stale() == []
    # An incomplete group (a killed eval) holds no scores: it is replaced without a word.
    root["results/copies"].attrs["pano_complete"] = False
    assert main([*args, "--run", "copies"]) == 0
    assert open_results(s, "copies").attrs["pano_complete"] is True


# ---------------------------------------------------------------------------
# CLI, local cluster and an external scheduler give the same numbers
# ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_worker(address: str, timeout: float = 60.0) -> None:
    from distributed import Client

    with Client(address, timeout="20s") as client:
        client.wait_for_workers(1, timeout=timeout)


def test_cli_local_cluster_and_external_scheduler_agree(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = _copy(store, tmp_path)
    ref = evaluate(
        EvalConfig.model_validate(
            {
                "store": s,
                "workers": 0,
                "write_store": False,
                "metrics": FAST[1],
                "baselines": FAST[3],
            }
        )
    ).dataset
    code = main(["eval", s, "--workers", "2", "--run", "local", *FAST])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "constant_velocity" in captured.out and "results/local" in captured.out
    local = open_results(s, "local")
    for var in ("saliency", "hm"):
        np.testing.assert_array_equal(local[var].values, ref[var].values)

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [str(Path(sys.executable).with_name("dask"))]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(
            subprocess.Popen(
                [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        procs.append(
            subprocess.Popen(
                [*dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                _wait_for_worker(address)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        code = main(["eval", s, "--scheduler", address, "--run", "remote", *FAST])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        remote = open_results(s, "remote")
        for var in ("saliency", "hm"):
            np.testing.assert_array_equal(remote[var].values, ref[var].values)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


# ---------------------------------------------------------------------------
# Bad input: one clear line, exit 2
# ---------------------------------------------------------------------------


def _error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("pano: error: ") and "\n" not in err, err
    return err


def test_bad_input_one_line_exit_2(
    baselines: BaselineRun, store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = _copy(store, tmp_path)
    w0 = ["--workers", "0", "--no-write"]
    assert "predictions/nope does not exist" in _error(
        ["eval", s, "--predictions", "nope", *w0], capsys
    )
    assert "no complete videos" in _error(["eval", s, "--split", "val", *w0], capsys)
    assert "unknown baseline" in _error(["eval", s, "--baselines", "fcb,magic", *w0], capsys)
    assert "unknown metric" in _error(["eval", s, "--metrics", "cc,accuracy", *w0], capsys)
    assert "unknown profile" in _error(["eval", s, "--profile", "matlab", *w0], capsys)
    assert "no pano store" in _error(["eval", str(tmp_path / "missing.zarr"), *w0], capsys)
    assert "nothing to evaluate" in _error(["eval", s, "--baselines", "none", *w0], capsys)
    assert "listed twice" in _error(["eval", s, "--predictions", "a,a", *w0], capsys)
    assert "baseline's name" in _error(["eval", s, "--predictions", "fcb", *w0], capsys)
    # Predictions for one of the two test videos only.
    _write_predictions(s, "half", baselines, ["Dancing"])
    assert "no predictions for video(s) ['KingKong']" in _error(
        ["eval", s, "--predictions", "half", *w0], capsys
    )
    # A prediction heatmap on another grid.
    root = zarr.open_group(s, mode="r+")
    _write_predictions(s, "grid", baselines, ["Dancing", "KingKong"])
    del root["predictions/grid/KingKong/heatmap"]
    root["predictions/grid/KingKong"].create_array(
        "heatmap", data=np.zeros((19, 18, 36), np.float32), dimension_names=("step", "lat", "lon")
    )
    err = _error(["eval", s, "--predictions", "grid", *w0], capsys)
    assert "KingKong/heatmap has shape (19, 18, 36)" in err and "(19, 36, 72)" in err
    # Nothing was written by the failed runs (the copy holds the fixture's results only).
    assert list(zarr.open_group(s, mode="r")["results"].group_keys()) == ["baselines"]


def test_example_config_validates_and_profiles_apply(store: str, tmp_path: Path) -> None:
    cfg = load_config(EvalConfig, CONFIGS / "eval.yaml", {"store": store, "write_store": False})
    assert cfg.baselines == [
        "uniform",
        "fcb",
        "equator",
        "inter_observer",
        "no_motion",
        "constant_velocity",
    ]
    cfg = load_config(
        EvalConfig,
        CONFIGS / "eval.yaml",
        {
            "store": store,
            "write_store": False,
            "workers": 0,
            "profile": "dhp",
            "metrics": ["cc"],
            "baselines": "uniform,fcb",
        },
    )
    res = evaluate(cfg)
    assert res.dataset.attrs["profile"]["name"] == "dhp"
    assert list(res.dataset["model"].values) == ["uniform", "fcb"]
    assert list(res.tables) == ["saliency", "saliency_per_video"]
