"""``pano demo``: the whole path on the embedded synthetic data, ending in a readable report.

synth -> ingest (Dask) -> em detect (fixations, eye ground truth) -> train-hm (short runs
of the pos-only seq2seq, the content-aware model and the DHP agent, each predicting the
test split) -> eval beside the baselines (Dask), against the heads and against the eyes
(``--target eye``) -> ``report.md`` with the metric tables and figures.

Nothing here is special-cased for the demo: every step calls the same pipeline function
the CLI commands call, with configs built from the checked-in YAML files in
``pipelines/configs/``. The report's checks are every comparison of a trained model with
the baselines (:mod:`pano.pipelines.demo_checks`), computed from the evaluation's tables
and printed as they come out, losses included; nothing is asserted.
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

from pydantic import Field

from pano.config import PanoConfig, load_config
from pano.errors import ConfigError
from pano.fileio import atomic_write_bytes
from pano.pipelines.demo_checks import Comparison, checks_dict, compute_comparisons
from pano.synth import SynthConfig

log = logging.getLogger("pano.demo")

#: Models the demo trains, in report order: (run name, config file in pipelines/configs).
DEMO_MODELS: dict[str, str] = {
    "pos_only": "pos_only.yaml",
    "content": "content.yaml",
    "track": "track.yaml",
    "track_gt": "track_gt.yaml",  # ground-truth saliency: an UPPER BOUND, labelled as such
    "dhp": "dhp.yaml",
}

#: Short-run overrides of the example configs (``--set`` syntax), full demo and ``--quick``.
_TRAIN_OVERRIDES: dict[str, dict[str, list[str]]] = {
    "full": {
        # Two validation videos, as the content models' configs: the same validation windows.
        "pos_only": [
            "optim.steps=600",
            "log.val_every=100",
            "log.checkpoint_every=200",
            "data.val_videos=2",
        ],
        # The content models run their configs as shipped (docs/training.md).
        "content": [],
        "track": [],
        "track_gt": [],
        # DHP: dhp.yaml as shipped (1000 updates, ~3.5 min on an idle core): with colour
        # augmentation its validation CC rises until updates 800-950, and 300 updates left
        # the demo's agent at update 25's checkpoint (docs/training.md, session 9).
        "dhp": [],
    },
    "quick": {
        "pos_only": [
            "optim.steps=120",
            "log.val_every=40",
            "log.checkpoint_every=60",
            "data.val_videos=2",
        ],
        "content": ["optim.steps=40", "log.val_every=10", "log.checkpoint_every=20"],
        "track": ["optim.steps=40", "log.val_every=10", "log.checkpoint_every=20"],
        "track_gt": ["optim.steps=40", "log.val_every=10", "log.checkpoint_every=20"],
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
    overwrite: bool = Field(
        False,
        description="replace what an earlier demo wrote in `out` (only what its manifest lists)",
    )

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
    best_checkpoint: str | None = None
    #: Validation videos (held out of the train split) the checkpoint was chosen on.
    val_videos: list[str] = field(default_factory=list)
    #: Validation scalars at the chosen checkpoint (``val/orthodromic_deg``,
    #: ``val/no_motion_deg``, ``val/orthodromic_deg_1s``, ... or ``val/heatmap_cc``).
    val_scores: dict[str, float] = field(default_factory=dict)
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    #: How the checkpoint was chosen (``summary.json``'s ``selection``; supervised runs).
    selection: dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoResult:
    """What :func:`run_demo` produced."""

    out: Path
    report: Path
    store: Path
    tables: dict[str, Any]
    checks: dict[str, bool | None]
    runs: list[ModelRun] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)
    #: Summary tables of the eye-target evaluation (``results/demo_eye``).
    eye_tables: dict[str, Any] = field(default_factory=dict)
    eye_comparisons: list[Comparison] = field(default_factory=list)


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
    prepare_out(out, cfg.overwrite)
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

    t = time.perf_counter()
    log.info("2/5 em detect: fixations and eye ground truth")
    from pano.pipelines.em_detect import EmDetectConfig, detect_store

    em_summary = detect_store(EmDetectConfig(store=str(store), device=cfg.device))
    timings["em detect"] = time.perf_counter() - t

    runs: list[ModelRun] = []
    for name in cfg.models:
        t = time.perf_counter()
        log.info("3/5 train-hm %s", name)
        tcfg = _train_config(name, cfg.quick, cfg.device, cfg.seed)
        res = train_hm(str(store), tcfg, run=name, runs_dir=out / "runs", predict=True)
        timings[f"train {name}"] = time.perf_counter() - t
        description, params = model_card(tcfg, heat)
        runs.append(
            ModelRun(
                name,
                tcfg.model.kind,
                int(res.steps),
                float(res.seconds),
                None if res.best_val is None else float(res.best_val),
                _val_metric(tcfg.model.kind),
                res.best_checkpoint,
                list(res.val_videos),
                dict(res.val_scores),
                description,
                params,
                _selection(res.run_dir),
            )
        )

    t = time.perf_counter()
    log.info("4/5 eval beside the baselines (--target head)")
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
    dhp_checks: list[Comparison] = []
    dhp_lines: list[str] = []
    dhp_info: dict[str, Any] = {}
    if "dhp" in cfg.models:
        t = time.perf_counter()
        log.info("4/5 DHP: heatmap peaks and online-DHP (predict-hm --online)")
        from pano.pipelines.demo_dhp import run_dhp_extras
        from pano.stores import read_root_attrs

        test_videos = sorted(read_root_attrs(str(store)).splits.test or [])
        dhp_checks, dhp_lines, dhp_info = run_dhp_extras(
            store, out / "runs", test_videos, cfg.quick, cfg.device
        )
        timings["online dhp"] = time.perf_counter() - t

    t = time.perf_counter()
    log.info("4/5 eval against the eyes (--target eye)")
    ev_eye = evaluate(
        EvalConfig(
            store=str(store),
            # Runs with maps or scanpaths (forecasts are head movement, not scored on eyes).
            predictions=[m for m in cfg.models if m == "dhp"],
            baselines=["all"],
            target="eye",
            run="demo_eye",
            overwrite=True,
            # In-process: maps and scanpaths only, no forecasts; a second Dask cluster's
            # start costs more than it saves here (quick demo on 2 loaded cores: 10-16 s
            # in-process vs 42-47 s with 2 workers).
            workers=0,
            seed=cfg.seed,
        )
    )
    eye_comparisons = compute_comparisons(ev_eye.tables, list(cfg.models))
    timings["eval eye"] = time.perf_counter() - t

    t = time.perf_counter()
    log.info("5/5 report")
    from pano.pipelines.demo_report import write_report

    comparisons = compute_comparisons(ev.tables, list(cfg.models)) + dhp_checks
    checks = checks_dict(comparisons)
    report, figures = write_report(
        out, store, data, synth, runs, ev, comparisons, timings,
        em=(em_summary, ev_eye, eye_comparisons),
    )  # fmt: skip
    if dhp_lines:  # the DHP section goes before the figures
        text = report.read_text(encoding="utf-8")
        section = "\n".join(dhp_lines) + "\n"
        text = text.replace("## Figures\n", section + "## Figures\n", 1)
        report.write_text(text, encoding="utf-8")
    timings["report"] = time.perf_counter() - t
    info = {
        "timings_s": timings,
        "checks": checks,
        "dhp": dhp_info,
        "comparisons": [c.to_json() for c in comparisons],
        "eye_checks": checks_dict(eye_comparisons),
        "eye_comparisons": [c.to_json() for c in eye_comparisons],
    }
    (out / "demo.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    return DemoResult(
        out, report, store, ev.tables, checks, runs, comparisons, timings, figures,
        ev_eye.tables, eye_comparisons,
    )  # fmt: skip


#: The demo's record of what it wrote in its ``--out`` folder (the only things
#: ``--overwrite`` deletes).
MANIFEST = ".pano-demo-manifest.json"
_MANIFEST_FORMAT = "pano-demo"
#: What the demo writes in ``--out`` (the store's lock file appears beside the store).
DEMO_ENTRIES = (
    "data", "pano.zarr", "pano.zarr.pano-lock", "runs", "eval", "figures", "report.md",
    "demo.json",
)  # fmt: skip


def _manifest_entries(out: Path) -> list[str] | None:
    """The names a demo manifest in ``out`` lists, or None when there is no valid one."""
    try:
        raw = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    entries = raw.get("entries") if isinstance(raw, dict) else None
    if raw.get("format") != _MANIFEST_FORMAT or not isinstance(entries, list):
        return None
    # Only plain names inside ``out``: a hand-edited manifest cannot reach elsewhere.
    return [
        e
        for e in entries
        if isinstance(e, str) and e not in ("", ".", "..", MANIFEST) and Path(e).name == e
    ]


def prepare_out(out: Path, overwrite: bool) -> None:
    """Make ``out`` ready for a demo: new or empty, or (``overwrite``) an earlier demo's.

    The demo writes :data:`MANIFEST` into ``out`` before anything else, naming what it
    writes (:data:`DEMO_ENTRIES`); ``overwrite`` deletes exactly those entries, nothing a
    user put beside them.

    Raises:
        ConfigError: ``out`` is a file, a non-empty folder without a demo manifest, or an
            earlier demo's folder without ``overwrite`` (nothing is deleted).

    """
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file; choose a new or empty folder")
    if out.is_dir() and any(out.iterdir()):
        entries = _manifest_entries(out)
        if entries is None:
            raise ConfigError(
                f"--out {out}: the folder is not empty and was not made by pano demo (no "
                f"{MANIFEST}); choose a new or empty folder (nothing was deleted)"
            )
        if not overwrite:
            raise ConfigError(
                f"--out {out}: holds an earlier demo; pass --overwrite to replace what it wrote "
                f"(listed in {out / MANIFEST}), or choose another folder"
            )
        for name in entries:
            p = out / name
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            elif p.exists() or p.is_symlink():
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"format": _MANIFEST_FORMAT, "entries": list(DEMO_ENTRIES)}
    atomic_write_bytes(out / MANIFEST, (json.dumps(manifest, indent=1) + "\n").encode())


def _val_metric(kind: str) -> str:
    return (
        "mean heatmap CC of stochastic rollouts (higher is better)"
        if kind == "dhp"
        else "mean orthodromic error over the 0.2-5 s horizons, deg (lower is better)"
    )


def _selection(run_dir: Path) -> dict[str, Any]:
    """The run's checkpoint selection rule and validation windows (``summary.json``)."""
    path = Path(run_dir) / "summary.json"
    if not path.is_file():
        return {}
    sel = json.loads(path.read_text(encoding="utf-8")).get("selection")
    return dict(sel) if isinstance(sel, dict) else {}


#: What each model kind is, in one sentence for the report.
MODEL_DESCRIPTIONS: dict[str, str] = {
    "seq2seq": "position-only LSTM encoder-decoder (TRACK's position-only baseline): the "
    "last second of head directions, rotated into the head frame at the forecast origin, "
    "in; 5 s of tangent-plane steps out. It never sees the video.",
    "content": "TRACK-like content-aware forecaster: the same position LSTM plus a small CNN "
    "on viewports centred on the origin direction, showing the frames of future horizon "
    "steps; a tracker map's spatial-softmax position, converted to head-frame angles, "
    "feeds the decoder.",
    "saliency": "content-aware forecaster: the same position LSTM, whose decoder gets at every "
    "horizon step where a tracker finds the salient thing nearest the head in the saliency "
    "of the frame shown at that step (saturation x brightness of the frames; the video is "
    "known in advance), plus a learned, gated and lagged direct path to that position "
    "(with base velocity: mixed with the head's own damped motion, which it trusts more at "
    "short horizons).",
    "track": "TRACK-like forecaster: separate LSTM branches for the head positions and for "
    "the per-step saliency tracker (as in the content-aware model), fused by a third LSTM "
    "that emits the head's steps.",
    "dhp": "offline-DHP agent: a viewport -> 4 conv layers -> LSTM or a feed-forward layer "
    "-> a policy over 8 directions and a step size, trained by actor-critic to move like the "
    "subjects; its test predictions are heatmaps summed from stochastic rollouts (mixed with "
    "a train-split prior where configured), plus the rollouts' scanpaths.",
}


def model_card(tcfg: Any, heatmap: Any = None) -> tuple[str, dict[str, Any]]:
    """A model's one-sentence description and its key hyper-parameters (as trained here).

    ``heatmap``: the store's :class:`~pano.heatmap_params.HeatmapParams` (DHP's prediction
    heatmaps are made with them); named in the card when given.
    """
    m, d, o = tcfg.model, tcfg.data, tcfg.optim
    params: dict[str, Any] = {}
    if m.kind in ("seq2seq", "content", "saliency", "track"):
        params["history -> horizon"] = (
            f"{d.history} -> {d.horizon} samples (5 Hz: {d.history / 5:g} s -> {d.horizon / 5:g} s)"
        )
        params["LSTM"] = f"{m.layers} layer(s) x {m.hidden}"
    if m.kind == "content":
        params["viewports"] = (
            f"{m.size[0]}x{m.size[1]} px, FoV {m.fov_deg[0]:g}x{m.fov_deg[1]:g} deg, "
            f"{m.channels} channel(s), frames at horizon steps {m.content_steps}"
        )
        params["encoder"] = f"width {m.encoder_width}, {m.keypoints} free keypoints"
    if m.kind in ("saliency", "track"):
        params["saliency"] = (
            f"{m.saliency_size[0]}x{m.saliency_size[1]} ERP map per 5 Hz step 0..{d.horizon}, "
            + (
                "GROUND TRUTH (all subjects' heads): UPPER BOUND, not a forecast"
                if m.upper_bound
                else f"from the frames (resized to {d.frame_width} px wide, "
                f"{m.saliency_pool}-pooled)"
            )
        )
        params["tracker"] = (
            f"seeds {[float(x) for x in m.seeds]} steps ahead, lag <= {m.max_lag} steps, "
            f"base {m.base}"
        )
        if m.kind == "track":
            params["saliency LSTM"] = m.saliency_hidden
    if m.kind == "dhp":
        params["viewport"] = (
            f"{m.size}x{m.size} {'RGB' if m.color else 'luma'}, "
            f"FoV {m.fov_deg[0]:g}x{m.fov_deg[1]:g} deg"
        )
        params["LSTM" if m.recurrent else "feed-forward"] = m.hidden
        params["policy head"] = m.head
        r = tcfg.rl
        params["actor-critic"] = (
            f"{r.envs} envs x {r.rollout} steps per update, gamma {r.gamma:g}, "
            f"GAE lambda {r.gae_lambda:g}, entropy {r.entropy_coef:g}, "
            f"reward sigma {r.sigma_deg:g} deg"
        )
        p = tcfg.predict
        params["predictions"] = (
            f"{p.rollouts} rollouts per video (policy temperature {p.temperature:g}), "
            + (
                "heatmaps on the store's grid"
                if heatmap is None
                else f"heatmaps on the store's grid (its sigma {heatmap.sigma_deg:g} deg)"
            )
            + (f", rollout kernel {p.kernel_deg:g} deg" if p.kernel_deg is not None else "")
            + (f", {p.floor:g} of the mass from the {p.floor_prior} prior" if p.floor else "")
        )
    params["optimiser"] = (
        f"Adam lr {o.lr:g} ({o.scheduler}), {o.steps} updates"
        + (f", batch {o.batch_size}" if m.kind != "dhp" else "")
        + f", grad clip {o.grad_clip:g}"
    )
    params["validation"] = (
        f"every {tcfg.log.val_every} updates; checkpoint: {tcfg.log.select} validation"
    )
    return MODEL_DESCRIPTIONS.get(m.kind, m.kind), params
