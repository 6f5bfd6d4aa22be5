"""TRACK's protocol on stores ingested from two raw formats: ``pano eval --protocol track``
and ``pano benchmark hm`` run end to end on tiny synthetic TRACK-format and Salient360! stores.

The same simulated heads (4 PVS-HM-named videos x 3 subjects, 12 s) are written by
``pano synth --format``'s writers, ingested with ``--split dhp`` (KingKong and Dancing are
DHP test videos, A380 and Camping train), evaluated under TRACK's protocol, and benchmarked
together in one report.
"""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pano.cli.app import main
from pano.stores import read_root_attrs
from pano.stores.results import open_results
from pano.synth import simulate_recordings
from pano.synth.formats import get_synth_format

VIDEOS = ["A380", "Camping", "KingKong", "Dancing"]
FORMATS = ("track", "salient360")


def _run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("bench_formats")
    sim = simulate_recordings(
        n_subjects=3, duration_s=12.0, rate_hz=10.0, fps=10.0, gaze=False, names=VIDEOS, seed=2
    )
    out = {}
    for fmt in FORMATS:
        get_synth_format(fmt).write(sim, root / fmt)
        store = str(root / f"{fmt}.zarr")
        args = ["ingest", fmt, str(root / fmt), store, "--split", "dhp", "--workers", "0",
                "--device", "cpu", "--heatmap-size", "36x18", "--step-frames", "5"]  # fmt: skip
        if fmt == "salient360":
            args += ["--set", "options.conditions=H"]
        code, _, err = _run(args)
        assert code == 0, err
        out[fmt] = store
    return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_eval_protocol_track(stores: dict[str, str], fmt: str, tmp_path: Path) -> None:
    store = stores[fmt]
    assert read_root_attrs(store).conventions.source["dataset"] == fmt
    code, stdout, err = _run(["eval", store, "--protocol", "track", "--out", str(tmp_path / "r"),
                              "--workers", "0"])  # fmt: skip
    assert code == 0, err
    assert "TRACK protocol" in stdout
    ds = open_results(store, "baselines").load()
    assert ds.attrs["protocol"] == "track"
    assert sorted(ds["model"].values) == ["constant_velocity", "no_motion"]
    assert set(ds["video"].values) == {"KingKong", "Dancing"}  # DHP's test videos
    hm = pd.read_csv(tmp_path / "r" / "hm.csv", index_col=["model", "horizon_s"])
    assert sorted(set(hm.index.get_level_values("horizon_s"))) == [1.0, 2.0, 3.0, 5.0]
    nm = hm.xs("no_motion", level="model")["orthodromic_deg"].to_numpy()
    assert np.isfinite(nm).all() and (np.diff(nm) > 0).all()  # error grows with the horizon


def test_benchmark_hm_on_two_formats(stores: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "bench"
    code, stdout, err = _run(
        ["benchmark", "hm", stores["track"], stores["salient360"], "--out", str(out),
         "--steps", "4", "--val-every", "2", "--device", "cpu", "--overwrite",
         "--set", "train=[optim.batch_size=16,model.hidden=8]"]
    )  # fmt: skip
    assert code == 0, err
    assert "report: " in stdout
    md = (out / "benchmark.md").read_text()
    assert md.count("| 1 s | 2 s | 3 s | 5 s |") == 2
    assert (out / "benchmark_hm.png").stat().st_size > 0
    tables = {}
    for fmt in FORMATS:
        ds = open_results(stores[fmt], "track").load()
        assert ds.attrs["protocol"] == "track"
        assert list(ds["model"].values) == ["track_pos_only", "no_motion", "constant_velocity"]
        assert set(ds["video"].values) == {"KingKong", "Dancing"}
        tables[fmt] = ds["hm"].sel(model="no_motion", hm_metric="orthodromic_deg").values
    # the same heads from two formats: the no-motion baseline scores the same (the Salient360!
    # H files hold TRACK's 0.2 s steps exactly; float32 storage of hm_rs_xyz aside)
    np.testing.assert_allclose(tables["track"], tables["salient360"], atol=1e-3)
