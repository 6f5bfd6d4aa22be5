"""``pano benchmark hm``: TRACK's head-motion benchmark on one or more stores, one report.

For each store: train the position-only seq2seq (``pipelines/configs/pos_only.yaml`` with
the benchmark's overrides) on the store's TRAIN split with ``pano train-hm``'s code
(:func:`pano.pipelines.train.run.train_hm`; the checkpoint is chosen on validation data
held out of the train split - ``log.select = best`` - never on the test split), write its
forecasts for the test split, and score them beside the forecasting baselines with
``pano eval --protocol track`` (:func:`pano.pipelines.eval.evaluate`; results into the
store at ``results/<results>``). Then one report: per data set a table at 1, 2, 3 and 5 s,
every comparison of the model with each baseline (wins and losses,
:func:`pano.pipelines.demo_checks.compute_comparisons`) and an error-vs-horizon figure.

The model sees ``m_window + 1`` samples ending at the window's origin, as TRACK's
position-only baseline does (its encoder gets ``x[t-M:t]`` and its decoder ``x[t]``).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from pano.config import PanoConfig, load_config
from pano.errors import ConfigError
from pano.pipelines.eval.track import TrackParams

log = logging.getLogger("pano.benchmark")

#: The position-only model's example config (package data) the benchmark starts from.
POS_ONLY_CONFIG = "pos_only.yaml"


class BenchmarkConfig(PanoConfig):
    """Configuration of ``pano benchmark hm``."""

    stores: list[str] = Field(min_length=1, description="the stores to benchmark (paths or URLs)")
    out: Path = Field(description="folder of the report (benchmark.md, PNGs, per-store evals)")
    run: str = Field(
        default="track_pos_only",
        description="prediction run of the position-only model (predictions/<run> per store)",
    )
    results: str = Field(default="track", description="results group per store (results/<name>)")
    overwrite: bool = Field(
        default=False, description="replace predictions/<run> and results/<results> if present"
    )
    track: TrackParams = Field(default_factory=TrackParams, description="TRACK's windows")
    steps: int = Field(default=1500, ge=1, description="training updates per store")
    val_every: int = Field(
        default=100, ge=1, description="updates between validations (checkpoint selection)"
    )
    train: list[str] = Field(
        default_factory=list,
        description="more train-hm overrides (key=value) on top of pos_only.yaml; "
        "data.history and data.horizon are set from the TRACK windows",
    )
    device: str = Field(default="auto", description="torch device for training (auto, cpu, cuda)")
    workers: int = Field(
        default=0, ge=0, description="Dask workers of the evaluation; 0 = in-process"
    )
    seed: int = Field(default=0, ge=0)

    @field_validator("run", "results")
    @classmethod
    def _names(cls, v: str) -> str:
        from pano.stores.names import validate_name

        validate_name(v, "benchmark run/results name")
        return v


@dataclass
class StoreBenchmark:
    """One store's part of the benchmark."""

    store: str
    dataset: str
    label: str
    tables: dict[str, Any]
    curves: dict[str, tuple[np.ndarray, np.ndarray]]  # model -> (horizon_s, error_deg)
    windows: dict[str, Any]
    comparisons: list[Any]
    train: dict[str, Any]
    videos: list[str]
    eval_files: list[Path] = field(default_factory=list)


@dataclass
class BenchmarkResult:
    """What :func:`run_benchmark` produced."""

    report: Path
    figure: Path
    stores: list[StoreBenchmark]
    seconds: float


def train_config(cfg: BenchmarkConfig) -> Any:
    """The position-only model's :class:`TrainConfig`: ``pos_only.yaml`` + overrides."""
    from pano.pipelines.train.config import TrainConfig

    every = min(cfg.val_every, cfg.steps)
    over = [
        f"optim.steps={cfg.steps}",
        f"log.val_every={every}",
        f"log.checkpoint_every={every}",
        *cfg.train,
        f"data.history={cfg.track.m_window + 1}",
        f"data.horizon={cfg.track.h_window}",
        "log.select=best",
        f"device={cfg.device}",
        f"seed={cfg.seed}",
    ]
    cfg_file = resources.files("pano.pipelines.configs").joinpath(POS_ONLY_CONFIG)
    with resources.as_file(cfg_file) as path:
        tcfg = load_config(TrainConfig, path, overrides=over)
    if tcfg.model.kind != "seq2seq":
        raise ConfigError(f"benchmark trains the position-only seq2seq, not {tcfg.model.kind!r}")
    return tcfg


def _label(store: str, dataset: str, used: set[str]) -> str:
    base = f"{dataset}-{Path(store.rstrip('/')).stem}".replace("/", "_")
    label, k = base, 2
    while label in used:
        label, k = f"{base}-{k}", k + 1
    used.add(label)
    return label


def _preflight(cfg: BenchmarkConfig) -> list[tuple[str, str]]:
    """Check every store before any training: readable, resampled data, names free.

    Returns:
        ``(store, dataset)`` per store.
    """
    from pano.pipelines.eval import EvalConfig
    from pano.pipelines.eval.plan import split_videos
    from pano.pipelines.eval.track import hm_video_shape, resolve, track_origins
    from pano.stores import open_root, read_root_attrs
    from pano.stores.predictions import prediction_runs
    from pano.stores.preflight import check_output_folder, check_store_location
    from pano.stores.results import check_results_writable

    check_output_folder(cfg.out, "--out")
    out = []
    for store in cfg.stores:
        check_store_location(store, write=True, groups=("predictions", "results"))
        attrs = read_root_attrs(store)
        windows = resolve(cfg.track, attrs.dataset)
        ecfg = EvalConfig(store=store, protocol="track", track=cfg.track)
        root = open_root(store)
        for split in ("train", "test"):
            names = split_videos(ecfg.model_copy(update={"split": split}), attrs)
            shapes = [hm_video_shape(root, n) for n in names]
            if split == "test" and not any(track_origins(s.n_rs, windows).size for s in shapes):
                longest = max(s.n_rs for s in shapes)
                raise ConfigError(
                    f"{store}: every test video is too short for TRACK's windows (init_window "
                    f"{windows['init_window']} + end_window {windows['end_window']} needs "
                    f"{windows['init_window'] + windows['end_window'] + 1} resampled samples; "
                    f"the longest has {longest}); lower track.init_window or track.h_window"
                )
        if not cfg.overwrite and cfg.run in prediction_runs(store):
            raise ConfigError(
                f"{store}: predictions/{cfg.run} exists; pass --overwrite to replace it or "
                "choose another --run"
            )
        check_results_writable(store, cfg.results, cfg.overwrite)
        out.append((store, attrs.dataset))
    return out


def run_benchmark(cfg: BenchmarkConfig) -> BenchmarkResult:
    """Train and score on every store, then write ``benchmark.md`` and ``benchmark_hm.png``.

    Raises:
        ConfigError, StoreError, StoreNotFoundError: bad input, before any training.

    """
    from pano.pipelines.demo_checks import compute_comparisons
    from pano.pipelines.eval import EvalConfig, evaluate
    from pano.pipelines.eval_report import hm_curves
    from pano.pipelines.train.run import train_hm

    t0 = time.perf_counter()
    tcfg = train_config(cfg)
    stores = _preflight(cfg)
    cfg.out.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    parts = []
    for store, dataset in stores:
        label = _label(store, dataset, used)
        log.info("benchmark %s: train-hm %s", label, cfg.run)
        tres = train_hm(
            store,
            tcfg,
            run=cfg.run,
            runs_dir=cfg.out / "runs" / label,
            predict=True,
            overwrite=True,  # the run folder belongs to this benchmark's output
        )
        log.info("benchmark %s: eval --protocol track", label)
        ev = evaluate(
            EvalConfig(
                store=store,
                predictions=[cfg.run],
                protocol="track",
                track=cfg.track,
                run=cfg.results,
                overwrite=cfg.overwrite,
                workers=cfg.workers,
                seed=cfg.seed,
                out=cfg.out / label,
            )
        )
        ds = ev.dataset
        curves_arr = hm_curves(ds)[:, :, 0]  # (model, horizon) orthodromic degrees
        hs = np.asarray(ds["horizon_s"].values, dtype=np.float64)
        models = [str(m) for m in ds["model"].values]
        curves = {m: (hs, curves_arr[i]) for i, m in enumerate(models)}
        parts.append(
            StoreBenchmark(
                store=store,
                dataset=dataset,
                label=label,
                tables=ev.tables,
                curves=curves,
                windows=dict(ds.attrs.get("track_protocol") or {}),
                comparisons=compute_comparisons(ev.tables, [cfg.run]),
                train={
                    "steps": tres.steps,
                    "best_val_deg": tres.best_val,
                    "checkpoint": tres.best_checkpoint,
                    "val_videos": list(tres.val_videos),
                    "val_scores": dict(tres.val_scores),
                    "seconds": tres.seconds,
                },
                videos=[str(v) for v in ds["video"].values],
                eval_files=list(ev.files),
            )
        )
    figure = _figure(parts, cfg.out / "benchmark_hm.png")
    report = _report(cfg, tcfg, parts, figure)
    return BenchmarkResult(report, figure, parts, time.perf_counter() - t0)


def _figure(parts: list[StoreBenchmark], path: Path) -> Path:
    """Orthodromic error vs horizon, one panel per data set, one line per model."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from pano.pipelines.demo_checks import display

    n = len(parts)
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.0 * ncols, 3.8 * nrows), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for k, part in enumerate(parts):
        ax = axes[k // ncols][k % ncols]
        for j, (model, (hs, err)) in enumerate(part.curves.items()):
            ax.plot(hs, err, marker="o", ms=3, label=display(model), color=cmap(j % 10))
        ax.set_title(f"{part.label} (test split)", fontsize=10)
        ax.set_xlabel("forecast horizon (s)")
        ax.set_ylabel("orthodromic distance (deg)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for k in range(n, nrows * ncols):
        axes[k // ncols][k % ncols].axis("off")
    fig.suptitle("TRACK protocol: error vs horizon (lower is better)", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _horizon_table(hm: Any) -> Any:
    """``hm`` ((model, horizon_s) x metric) as model x "1 s", "2 s", ... (degrees)."""
    wide = hm["orthodromic_deg"].unstack("horizon_s")
    wide.columns = [f"{float(h):g} s" for h in wide.columns]
    return wide


def _report(cfg: BenchmarkConfig, tcfg: Any, parts: list[StoreBenchmark], figure: Path) -> Path:
    from pano._version import __version__
    from pano.pipelines.eval_report import markdown_table

    lines = [
        "# Head-motion forecasting: TRACK's benchmark protocol",
        "",
        f"pano {__version__}. Per data set: the position-only seq2seq (`{cfg.run}`, "
        f"{tcfg.optim.steps} updates, history {tcfg.data.history} samples, checkpoint chosen on "
        "validation data held out of the TRAIN split, never the test split) beside the "
        "forecasting baselines, scored on the store's TEST split with `pano eval --protocol "
        "track`: a window at every 5 Hz sample from the init window on, orthodromic distance "
        "in degrees per horizon, overall = mean over all windows of all videos pooled "
        "(TRACK's aggregation; docs/eval.md).",
        "",
        f"![error vs horizon]({figure.name})",
        "",
    ]
    for part in parts:
        w = part.windows
        tr = part.train
        lines += [
            f"## {part.label}",
            "",
            f"- store `{part.store}`, data set `{part.dataset}`, results "
            f"`results/{cfg.results}`, test videos: {', '.join(part.videos)}",
            f"- windows: m_window {w.get('m_window')}, h_window {w.get('h_window')}, "
            f"init_window {w.get('init_window')} ({w.get('init_source')}), end_window "
            f"{w.get('end_window')}",
            f"- training: {tr['steps']} updates in {tr['seconds']:.1f} s; validation videos "
            f"{', '.join(tr['val_videos']) or '(held-out subjects)'}; best validation "
            "orthodromic "
            + ("-" if tr["best_val_deg"] is None else f"{tr['best_val_deg']:.3f} deg")
            + f" (checkpoint `{tr['checkpoint']}`)",
            "",
            "Orthodromic distance (degrees, lower is better), all windows pooled:",
            "",
            markdown_table(_horizon_table(part.tables["hm"])),
            "",
            "Every comparison of the model with each baseline (test split):",
            "",
            "| comparison | model (deg) | baseline (deg) | holds |",
            "|---|---|---|---|",
        ]
        for c in part.comparisons:
            mv = "-" if c.model_value is None else f"{c.model_value:.4f}"
            rv = "-" if c.reference_value is None else f"{c.reference_value:.4f}"
            lines.append(f"| {c.name} | {mv} | {rv} | {c.outcome} |")
        won = sum(1 for c in part.comparisons if c.holds)
        lines += [
            "",
            f"The model wins {won} of {len(part.comparisons)} comparisons. Per-video tables, "
            f"every horizon and the evaluation's own figure: `{part.label}/` "
            "(`report.md`, `hm_per_horizon.csv`, `hm_per_video.csv`).",
            "",
        ]
    path = cfg.out / "benchmark.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def load_benchmark_config(
    stores: list[str], out: Path, config: Path | None, overrides: dict[str, Any]
) -> BenchmarkConfig:
    """Defaults < YAML ``config`` < ``overrides`` (dotted keys already nested)."""
    from pano.config import deep_merge

    base = deep_merge({"stores": stores, "out": str(out)}, overrides)
    return load_config(BenchmarkConfig, config, base, section="benchmark")
