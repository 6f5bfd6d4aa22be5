"""``pano demo``: the whole path on the embedded synthetic data, ending in a readable report.

synth -> ingest (Dask) -> train-hm (short runs of the pos-only seq2seq, the content-aware
model and the DHP agent, each predicting the test split) -> eval beside the baselines
(Dask) -> ``report.md`` with the metric tables and figures.

Nothing here is special-cased for the demo: every step calls the same pipeline function
the CLI commands call, with configs built from the checked-in YAML files in
``pipelines/configs/``. The "checks" in the report are computed from the evaluation and
printed as they come out (they are the claims of the train-hm issue), never asserted.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from pano.config import PanoConfig, load_config
from pano.errors import ConfigError
from pano.synth import SynthConfig

log = logging.getLogger("pano.demo")

#: Models the demo trains, in report order: (run name, config file in pipelines/configs).
DEMO_MODELS: dict[str, str] = {
    "pos_only": "pos_only.yaml",
    "content": "content.yaml",
    "dhp": "dhp.yaml",
}

#: Short-run overrides of the example configs (``--set`` syntax), full demo and ``--quick``.
_TRAIN_OVERRIDES: dict[str, dict[str, list[str]]] = {
    "full": {
        "pos_only": ["optim.steps=600", "log.val_every=100", "log.checkpoint_every=200"],
        "content": ["optim.steps=600", "log.val_every=100", "log.checkpoint_every=200"],
        "dhp": ["optim.steps=100", "log.val_every=25", "log.checkpoint_every=25"],
    },
    "quick": {
        "pos_only": ["optim.steps=120", "log.val_every=40", "log.checkpoint_every=60"],
        "content": [
            "optim.steps=80",
            "log.val_every=40",
            "log.checkpoint_every=40",
            "optim.batch_size=32",
        ],
        "dhp": [
            "optim.steps=12",
            "log.val_every=6",
            "log.checkpoint_every=6",
            "rl.envs=16",
            "rl.rollout=10",
            "rl.val_rollouts=4",
            "predict.rollouts=16",
        ],
    },
}


def _quick_synth() -> SynthConfig:
    # Six videos: the default names include two of DHP's test split.
    return SynthConfig(videos=6, subjects=6, seconds=8.0, width=256)


class DemoConfig(PanoConfig):
    """Configuration of ``pano demo``."""

    out: Path = Field(Path("pano-demo"), description="output folder (data, store, runs, report)")
    quick: bool = Field(False, description="a smaller data set and shorter training (~2 min)")
    synth: SynthConfig | None = Field(
        None, description="synthetic data; default: SynthConfig() (quick: 6x6x8 s at 256x128)"
    )
    models: list[str] = Field(default_factory=lambda: list(DEMO_MODELS))
    workers: int = Field(2, ge=0, description="Dask worker processes for ingest and eval")
    device: str = Field("auto", description="torch device: auto, cpu, cuda, cuda:N")
    seed: int = Field(0, ge=0)
    overwrite: bool = Field(True, description="start from an empty output folder")

    def synth_config(self) -> SynthConfig:
        """The synthetic data set this demo generates."""
        cfg = self.synth or (_quick_synth() if self.quick else SynthConfig())
        return cfg.model_copy(update={"seed": self.seed})


@dataclass
class ModelRun:
    """One trained model of the demo."""

    name: str
    kind: str
    steps: int
    seconds: float
    best_validation: float | None
    validation_metric: str


@dataclass
class DemoResult:
    """What :func:`run_demo` produced."""

    out: Path
    report: Path
    store: Path
    tables: dict[str, Any]
    checks: dict[str, bool | None]
    runs: list[ModelRun] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)


def _train_config(name: str, quick: bool, device: str, seed: int) -> Any:
    from pano.pipelines.train.config import TrainConfig

    if name not in DEMO_MODELS:
        raise ConfigError(f"demo model {name!r} is unknown: use {', '.join(DEMO_MODELS)}")
    cfg_file = resources.files("pano.pipelines.configs").joinpath(DEMO_MODELS[name])
    with resources.as_file(cfg_file) as path:
        over = [
            *_TRAIN_OVERRIDES["quick" if quick else "full"][name],
            f"device={device}",
            f"seed={seed}",
        ]
        return load_config(TrainConfig, path, overrides=over)


def run_demo(cfg: DemoConfig) -> DemoResult:
    """Run synth -> ingest -> train-hm -> eval -> report into ``cfg.out``.

    Returns:
        The report path, the summary tables, the computed checks and timings.
    """
    from pano.pipelines.ingest import IngestConfig, ingest_pvs_hm
    from pano.pipelines.train.run import train_hm
    from pano.stores import HeatmapParams
    from pano.synth import EM_FILE, HM_FILE, write_synthetic_dataset

    for m in cfg.models:
        if m not in DEMO_MODELS:
            raise ConfigError(f"demo model {m!r} is unknown: use {', '.join(DEMO_MODELS)}")
    out = cfg.out
    if cfg.overwrite and out.exists():
        for sub in ("data", "pano.zarr", "runs", "eval", "figures", "report.md"):
            p = out / sub
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    data, store = out / "data", out / "pano.zarr"

    t = time.perf_counter()
    synth = cfg.synth_config()
    log.info(
        "1/5 synthetic data: %d videos x %d subjects x %.0f s",
        synth.videos,
        synth.subjects,
        synth.seconds,
    )
    write_synthetic_dataset(data, synth, overwrite=True)
    timings["synth"] = time.perf_counter() - t

    t = time.perf_counter()
    log.info("2/5 ingest into %s", store)
    heat = HeatmapParams(width=180, height=90) if cfg.quick else HeatmapParams()
    ingest_pvs_hm(
        IngestConfig(
            videos=data,
            hm=data / HM_FILE,
            em=data / EM_FILE,
            store=str(store),
            workers=cfg.workers,
            device=cfg.device,
            overwrite=True,
            heatmap=heat,
        )
    )
    timings["ingest"] = time.perf_counter() - t

    runs: list[ModelRun] = []
    for name in cfg.models:
        t = time.perf_counter()
        log.info("3/5 train-hm %s", name)
        tcfg = _train_config(name, cfg.quick, cfg.device, cfg.seed)
        res = train_hm(str(store), tcfg, run=name, runs_dir=out / "runs", predict=True)
        timings[f"train {name}"] = time.perf_counter() - t
        runs.append(
            ModelRun(
                name,
                tcfg.model.kind,
                int(res.steps),
                float(res.seconds),
                None if res.best_val is None else float(res.best_val),
                _val_metric(tcfg.model.kind),
            )
        )

    t = time.perf_counter()
    log.info("4/5 eval beside the baselines")
    from pano.pipelines.eval import EvalConfig, evaluate

    ev = evaluate(
        EvalConfig(
            store=str(store),
            predictions=list(cfg.models),
            baselines=["all"],
            run="demo",
            overwrite=True,  # the demo re-creates its own results/demo on a re-run
            workers=cfg.workers,
            seed=cfg.seed,
            out=out / "eval",
        )
    )
    timings["eval"] = time.perf_counter() - t

    t = time.perf_counter()
    log.info("5/5 report")
    from pano.pipelines.demo_report import write_report

    checks = compute_checks(ev.dataset, cfg.models)
    report, figures = write_report(out, store, data, synth, runs, ev, checks, timings)
    timings["report"] = time.perf_counter() - t
    (out / "demo.json").write_text(
        json.dumps({"timings_s": timings, "checks": checks}, indent=2), encoding="utf-8"
    )
    return DemoResult(out, report, store, ev.tables, checks, runs, timings, figures)


def _val_metric(kind: str) -> str:
    return (
        "validation heatmap CC (higher is better)"
        if kind == "dhp"
        else ("validation orthodromic error, deg (lower is better)")
    )


def _hm_at(ds: Any, model: str, seconds: float) -> float | None:
    if "hm" not in ds or model not in list(ds["model"].values):
        return None
    hs = np.asarray(ds["horizon_s"].values)
    k = int(np.argmin(np.abs(hs - seconds)))
    v = (
        ds["hm"]
        .sel(model=model, hm_metric="orthodromic_deg")
        .isel(horizon=k)
        .mean("video", skipna=True)
    )
    f = float(v)
    return None if np.isnan(f) else f


def _cc(ds: Any, model: str) -> float | None:
    if "saliency" not in ds or model not in list(ds["model"].values):
        return None
    v = (
        ds["saliency"]
        .sel(model=model, metric="cc")
        .mean("step", skipna=True)
        .mean("video", skipna=True)
    )
    f = float(v)
    return None if np.isnan(f) else f


def compute_checks(ds: Any, models: list[str]) -> dict[str, bool | None]:
    """The train-hm issue's claims, computed from an evaluation (None = not measurable)."""

    def lt(a: float | None, b: float | None) -> bool | None:
        return None if a is None or b is None else bool(a < b)

    checks: dict[str, bool | None] = {}
    if "content" in models:
        checks["content beats no-motion at 2 s"] = lt(
            _hm_at(ds, "content", 2.0), _hm_at(ds, "no_motion", 2.0)
        )
        checks["content beats no-motion at 3 s"] = lt(
            _hm_at(ds, "content", 3.0), _hm_at(ds, "no_motion", 3.0)
        )
        checks["content beats no-motion at 5 s"] = lt(
            _hm_at(ds, "content", 5.0), _hm_at(ds, "no_motion", 5.0)
        )
    if "pos_only" in models:
        checks["pos-only beats no-motion at 1 s"] = lt(
            _hm_at(ds, "pos_only", 1.0), _hm_at(ds, "no_motion", 1.0)
        )
    if "dhp" in models:
        fcb, dhp = _cc(ds, "fcb"), _cc(ds, "dhp")
        checks["DHP heatmap CC beats FCB"] = None if fcb is None or dhp is None else bool(dhp > fcb)
    io, fcb, uni = _cc(ds, "inter_observer"), _cc(ds, "fcb"), _cc(ds, "uniform")
    if None not in (io, fcb, uni):
        checks["inter-observer > FCB > uniform on CC"] = bool(io > fcb > uni)  # type: ignore[operator]
    return checks
