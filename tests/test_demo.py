"""`pano demo --quick` end to end (synth, ingest, train-hm, eval, report) and the notebook."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from pano.cli.app import main
from pano.pipelines.eval import open_results
from pano.stores import list_videos, read_root_attrs


def test_demo_report_has_tables_and_figures(quick_demo: Path) -> None:
    report = (quick_demo / "report.md").read_text(encoding="utf-8")
    for heading in (
        "## Data",
        "## Models",
        "## Head-movement forecasts",
        "## Saliency",
        "## Scanpaths",
        "## Checks",
        "## DHP: where its heatmap peaks, and online-DHP",
    ):
        assert heading in report
    for model in (
        "pos_only",
        "content",
        "dhp",
        "no_motion",
        "constant_velocity",
        "fcb",
        "uniform",
        "inter_observer",
    ):
        assert f"| {model} |" in report, model
    figures = sorted((quick_demo / "figures").glob("*.png"))
    assert {f.name for f in figures} >= {
        "heatmaps.png",
        "viewports.png",
        "hm_vs_horizon.png",
        "saliency_per_video.png",
        "scanpath_per_video.png",
    }
    for f in figures:
        assert f.stat().st_size > 20_000, f"{f.name} looks empty"
        assert f"figures/{f.name}" in report


def test_demo_store_and_results_are_complete(quick_demo: Path) -> None:
    store = str(quick_demo / "pano.zarr")
    root = read_root_attrs(store)
    assert sorted(list_videos(store)) == sorted(
        root.splits.train + root.splits.val + root.splits.test
    )
    res = open_results(store, "demo")
    models = set(res["model"].values)
    assert {"pos_only", "content", "dhp", "no_motion", "fcb"} <= models
    # Predictions of every model were scored on every test video.
    assert set(res["video"].values) == set(root.splits.test)
    info = json.loads((quick_demo / "demo.json").read_text(encoding="utf-8"))
    assert set(info["checks"]) >= {
        "pos-only beats no-motion at 1 s",
        "DHP heatmap CC beats FCB",
        "inter-observer > FCB > uniform on CC",
    }
    # This one holds by construction of the data (a fixed seed): a regression would show here.
    assert info["checks"]["inter-observer > FCB > uniform on CC"] is True
    # The report lists every comparison, the lost ones too (no model beats inter-observer).
    report = (quick_demo / "report.md").read_text(encoding="utf-8")
    assert len(info["comparisons"]) == len(info["checks"])
    assert info["checks"]["DHP heatmap CC beats inter-observer"] is False
    for name, ok in info["checks"].items():
        outcome = "not measured" if ok is None else ("yes" if ok else "no")
        assert any(
            line.startswith(f"| {name}") and line.endswith(f"| **{outcome}** |")
            for line in report.splitlines()
        ), name
    # The validation video is named (not the store's empty val split).
    val = json.loads((quick_demo / "runs" / "pos_only" / "summary.json").read_text())["val_videos"]
    assert val and f"validation video(s): **{', '.join(val)}**" in report
    assert "val []" not in report


def test_demo_em_section(quick_demo: Path) -> None:
    """em detect ran; the report shows fixations beside heads and every eye-target score."""
    from pano.stores.em import list_em_videos

    store = str(quick_demo / "pano.zarr")
    assert list_em_videos(store) == sorted(list_videos(store))
    eye = open_results(store, "demo_eye")
    assert eye.attrs["target"] == "eye" and open_results(store, "demo").attrs["target"] == "head"
    assert {"dhp", "fcb", "inter_observer"} <= set(eye["model"].values)
    assert "hm" not in eye  # head forecasts are not scored against eyes
    report = (quick_demo / "report.md").read_text(encoding="utf-8")
    section = report.split("## Eye movements", 1)[1].split("\n## ", 1)[0]
    assert (
        "figures/em.png" in section and (quick_demo / "figures" / "em.png").stat().st_size > 20_000
    )
    assert "### Saliency against the eyes" in section and "### Scanpaths against" in section
    for model in ("dhp", "uniform", "fcb", "equator", "inter_observer"):
        assert f"| {model} |" in section, model
    info = json.loads((quick_demo / "demo.json").read_text(encoding="utf-8"))
    assert "em detect" in info["timings_s"] and "eval eye" in info["timings_s"]
    assert info["eye_checks"] and len(info["eye_comparisons"]) == len(info["eye_checks"])
    for name, ok in info["eye_checks"].items():  # losses are listed as losses
        outcome = "not measured" if ok is None else ("yes" if ok else "no")
        assert any(
            line.startswith(f"| {name}") and line.endswith(f"| **{outcome}** |")
            for line in section.splitlines()
        ), name


def test_demo_rejects_unknown_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pano.errors import ConfigError
    from pano.pipelines.demo import DemoConfig, run_demo

    with pytest.raises(ConfigError, match="demo model 'nope' is unknown"):
        run_demo(DemoConfig(out=tmp_path, quick=True, models=["nope"]))


def test_notebook_executes(quick_demo: Path, tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb_path = Path(__file__).resolve().parents[1] / "docs" / "analysis.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    os.environ["PANO_DEMO_DIR"] = str(quick_demo)
    # The kernel inherits the environment: give it Jupyter's inline backend, not Agg.
    backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        NotebookClient(
            nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    finally:
        os.environ.pop("PANO_DEMO_DIR", None)
        if backend is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = backend
    images = sum(
        1
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if "image/png" in o.get("data", {})
    )
    assert images >= 7


def _run_notebook(cwd: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(Path(__file__).resolve().parents[1] / "docs" / "analysis.ipynb", 4)
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    ).execute()


def test_notebook_without_a_demo_stops_with_the_command_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbclient.exceptions import CellExecutionError

    # Opened from docs/ (Jupyter's working directory) with no ../pano-demo: one clear error.
    docs = tmp_path / "repo" / "docs"
    docs.mkdir(parents=True)
    monkeypatch.delenv("PANO_DEMO_DIR", raising=False)
    with pytest.raises(CellExecutionError) as err:
        _run_notebook(docs)
    text = str(err.value)
    assert "FileNotFoundError" in text
    assert f"no pano demo output at {tmp_path / 'repo' / 'pano-demo'}" in text
    assert "run `make demo` in the repository root" in text
    assert "PANO_DEMO_DIR" in text
    # An explicit folder that does not exist: the same error, naming that folder.
    monkeypatch.setenv("PANO_DEMO_DIR", str(tmp_path / "nope"))
    with pytest.raises(
        CellExecutionError, match=re.escape(f"no pano demo output at {tmp_path / 'nope'}")
    ):
        _run_notebook(docs)
    # Nothing was run or written in its place.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo"]
    assert [p.name for p in (tmp_path / "repo").iterdir()] == ["docs"]
    assert not any(docs.iterdir())


def test_demo_refuses_a_folder_it_did_not_make_and_overwrites_only_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pano.errors import ConfigError
    from pano.pipelines.demo import DEMO_ENTRIES, MANIFEST, prepare_out

    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "data").mkdir()
    (mine / "data" / "chapter1.tex").write_text("years of work")
    (mine / "report.md").write_text("mine")
    for overwrite in (False, True):  # not a demo folder: refused even with --overwrite
        with pytest.raises(ConfigError, match=r"was not made by pano demo .*nothing was deleted"):
            prepare_out(mine, overwrite)
    assert (mine / "data" / "chapter1.tex").read_text() == "years of work"
    capsys.readouterr()
    assert main(["demo", "--quick", "--out", str(mine), "--overwrite"]) == 2  # through the CLI
    assert "pano: error: --out" in capsys.readouterr().err
    assert sorted(p.name for p in mine.iterdir()) == ["data", "report.md"]
    afile = tmp_path / "f"
    afile.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        prepare_out(afile, True)

    demo = tmp_path / "demo"  # new: created, manifest written first
    prepare_out(demo, False)
    manifest = json.loads((demo / MANIFEST).read_text())
    assert manifest == {"format": "pano-demo", "entries": list(DEMO_ENTRIES)}
    for name in ("data", "runs", "pano.zarr"):
        (demo / name).mkdir()
        (demo / name / "x").write_text("old")
    (demo / "report.md").write_text("old")
    (demo / "notes.txt").write_text("the user's")  # beside the demo's files
    with pytest.raises(ConfigError, match="holds an earlier demo; pass --overwrite"):
        prepare_out(demo, False)
    assert (demo / "report.md").exists()
    prepare_out(demo, True)  # deletes exactly what the manifest lists
    assert sorted(p.name for p in demo.iterdir()) == [MANIFEST, "notes.txt"]
    # A hand-edited manifest cannot reach outside the folder.
    (tmp_path / "outside").write_text("keep")
    (demo / MANIFEST).write_text(json.dumps({"format": "pano-demo", "entries": ["../outside"]}))
    prepare_out(demo, True)
    assert (tmp_path / "outside").read_text() == "keep"
    empty = tmp_path / "empty"
    empty.mkdir()
    prepare_out(empty, False)  # an empty folder is fine
    assert (empty / MANIFEST).is_file()
