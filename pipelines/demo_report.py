"""The one-page Markdown report of ``pano demo`` (tables + figures a person can read).

:func:`write_report` draws the figures and writes ``report.md``; :func:`report_markdown`
builds the text from the evaluation's tables, the trained runs and every comparison of
:mod:`pano.pipelines.demo_checks` (wins and losses alike).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pano.pipelines.demo_checks import UPPER_BOUND_RUNS, Comparison, tally
from pano.stores.accessor import metric_label

if TYPE_CHECKING:
    from pano.pipelines.demo import ModelRun
    from pano.pipelines.eval import EvalResult
    from pano.stores.schema import HeatmapParams, Splits
    from pano.synth import SynthConfig


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float | np.floating):
        return "nan" if not math.isfinite(float(v)) else f"{float(v):.{digits}f}"
    return str(v)


def _hm_pivot(tables: dict[str, Any]) -> str:
    """Orthodromic error (deg) per model x horizon, as Markdown."""
    if "hm" not in tables or not len(tables["hm"]):
        return "_no head-movement forecasts were evaluated_"
    piv = tables["hm"]["orthodromic_deg"].unstack("horizon_s")
    cols = [f"{h:g} s" for h in piv.columns]
    head = ["| model | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    lines, upper = list(head), list[str]()
    for model, row in piv.iterrows():
        line = f"| {model} | " + " | ".join(_fmt(v, 1) for v in row.to_numpy()) + " |"
        (upper if model in UPPER_BOUND_RUNS else lines).append(line)
    if upper:  # ground-truth inputs: a separate table, never beside the forecasts
        lines += [
            "",
            "**Upper bound, not a forecast**: fed ground-truth saliency (every subject's head "
            "at each future step, the predicted subject included; TRACK's ablation):",
            "",
            *head,
            *upper,
        ]
    return "\n".join(lines)


def _header(metric: str) -> str:
    label, higher = metric_label(metric)
    return f"{label} {'↑' if higher else '↓'}"


def _model_table(tables: dict[str, Any], key: str, empty: str) -> str:
    """A model x metric summary table (saliency or scanpath) with readable headers."""
    if key not in tables or not len(tables[key]):
        return empty
    df = tables[key]
    cols = [str(c) for c in df.columns]
    lines = [
        "| model | " + " | ".join(_header(c) for c in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for model, row in df[cols].iterrows():
        lines.append(f"| {model} | " + " | ".join(_fmt(v) for v in row.to_numpy()) + " |")
    return "\n".join(lines)


def _figure_heatmaps(store: Path, data: Path, video: str, out: Path, dhp: bool) -> Path:
    """Ground truth heatmap + scanpaths, and the DHP agent's predicted heatmap, over the frame."""
    import matplotlib.pyplot as plt

    from pano.stores import VIDEOS_GROUP, open_store
    from pano.stores.predictions import prediction_path
    from pano.video import open_video

    tree = open_store(store)
    gt = tree[f"{VIDEOS_GROUP}/{video}"].to_dataset()
    step = int(gt.sizes["step"]) // 2
    frame_i = int(gt["step_frame"].values[step])
    with open_video(data / str(gt.attrs["video"]["path"]), backend="pyav", device="cpu") as dec:
        frame = dec.read([frame_i])[0].permute(1, 2, 0).numpy()
    panels = 3 if dhp else 2
    fig, axes = plt.subplots(1, panels, figsize=(6.2 * panels, 3.6))
    gt.pano.heatmap(step=step, frame=frame, ax=axes[0])
    axes[0].set_title(f"{video}: ground-truth heatmap, step {step}")
    t = float(gt["step_time"].values[step])
    gt.pano.scanpaths(start=max(0.0, t - 2.0), stop=t, frame=frame, ax=axes[1])
    axes[1].set_title(f"head scanpaths, last 2 s before t = {t:.1f} s")
    if dhp:
        pred = tree[prediction_path("dhp", video)].to_dataset()
        pred = pred.assign_coords(step_time=gt["step_time"]) if "step_time" not in pred else pred
        pred.pano.heatmap(step=step, frame=frame, ax=axes[2])
        n = pred.sizes.get("rollout", 0)
        axes[2].set_title(f"DHP agent: predicted heatmap ({n} stochastic rollouts)")
    fig.tight_layout()
    path = out / "heatmaps.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_report(
    out: Path,
    store: Path,
    data: Path,
    synth: SynthConfig,
    runs: list[ModelRun],
    ev: EvalResult,
    comparisons: list[Comparison],
    timings: dict[str, float],
    em: tuple[Any, EvalResult, list[Comparison]] | None = None,
) -> tuple[Path, list[Path]]:
    """Write ``out/report.md`` and its figures; return the report path and figure paths.

    ``em``: the ``pano em detect`` summary, the eye-target evaluation and its comparisons;
    with it the report gains its eye-movement section (:mod:`pano.pipelines.demo_em`).
    """
    import matplotlib

    matplotlib.use("Agg")
    from pano.pipelines.viewport import render_viewports
    from pano.stores import read_root_attrs, store_nbytes

    figs_dir = out / "figures"
    figs_dir.mkdir(parents=True, exist_ok=True)
    root = read_root_attrs(str(store))
    test = sorted(root.splits.test)
    video = test[0]
    figures: list[Path] = []
    figures.append(
        _figure_heatmaps(store, data, video, figs_dir, any(r.name == "dhp" for r in runs))
    )
    figures.append(
        render_viewports(
            str(store),
            video,
            figs_dir / "viewports.png",
            subjects=[0, 1, 2, 3],
            size=(96, 96),
            rows=3,
            device="cpu",
            backend="pyav",
        )
    )
    em_lines: list[str] = []
    if em is not None:
        from pano.pipelines.demo_em import em_section, figure_em
        from pano.stores import read_video_array

        n_steps = int(read_video_array(str(store), video, "step_time").shape[0])
        em_fig = figure_em(store, video, n_steps // 2, figs_dir)
        em_lines = em_section(em[0], em[1], em[2], em_fig)
    for name in ("hm_vs_horizon.png", "saliency_per_video.png", "scanpath_per_video.png"):
        src = out / "eval" / name
        if src.exists():
            dst = figs_dir / name
            shutil.copyfile(src, dst)
            figures.append(dst)
    text = report_markdown(
        out=out,
        store=store,
        data=data,
        synth=synth,
        splits=root.splits,
        heatmap=root.heatmap,
        store_bytes=store_nbytes(str(store)),
        runs=runs,
        ev=ev,
        comparisons=comparisons,
        timings=timings,
        figures=figures,
        em_lines=em_lines,
    )
    report = out / "report.md"
    report.write_text(text, encoding="utf-8")
    return report, figures


_CAPTIONS = {
    "heatmaps.png": "Ground truth at a mid-video step of a test video, the heads' last 2 s "
    "(one colour per subject; a dot marks where each path starts), and the DHP agent's "
    "prediction (lon positive to the LEFT, as in the frame; heatmaps normalised to max 1).",
    "viewports.png": "What four subjects saw: their viewports cut on the fly from the "
    "decoded video, beside the frame with their head directions.",
    "hm_vs_horizon.png": "Head-movement metrics vs prediction horizon, models and baselines.",
    "saliency_per_video.png": "Saliency metrics per test video, models and baselines.",
    "scanpath_per_video.png": "Scanpath metrics per test video: the DHP agent's rollouts and "
    "the inter-observer reference (half the subjects against the other half).",
}


def _validation_names(splits: Splits, runs: list[ModelRun]) -> list[str]:
    return sorted({v for r in runs for v in r.val_videos} | set(splits.val))


def _data_section(
    synth: SynthConfig,
    data: Path,
    store: Path,
    splits: Splits,
    heatmap: HeatmapParams,
    store_bytes: int,
    runs: list[ModelRun],
) -> list[str]:
    val = _validation_names(splits, runs)
    fit = [v for v in sorted(splits.train) if v not in val]
    if splits.val:
        how = "the store's val split"
    else:
        how = (
            "the last train videos by name, held out of training by each model's "
            "`data.val_videos`; the store has no val split of its own"
        )
    return [
        "## Data",
        "",
        f"- {synth.videos} videos x {synth.subjects} subjects x {synth.seconds:g} s, "
        f"{synth.width}x{synth.width // 2} at {synth.fps:g} fps, seed {synth.seed} (`{data}`)",
        f"- training videos: {', '.join(fit) or '-'}",
        f"- validation video(s): **{', '.join(val) or 'none'}** - {how}; every checkpoint "
        "was chosen on it",
        f"- test videos: {', '.join(sorted(splits.test))} (DHP's test split where the names are "
        "PVS-HM's); every table below is on the test split",
        f"- store: `{store}` ({store_bytes / 2**20:.1f} MiB, Zarr v3); ground-truth heatmaps "
        f"{heatmap.width}x{heatmap.height}, sigma {heatmap.sigma_deg:g} deg, "
        f"one per {heatmap.step_frames} frames",
        "",
    ]


def _models_section(runs: list[ModelRun], splits: Splits) -> list[str]:
    lines = ["## Models", ""]
    for r in runs:
        lines += [
            f"### `{r.name}` (`{r.kind}`)",
            "",
            r.description[:1].upper() + r.description[1:],
            "",
        ]
        lines += [f"- {k}: {v}" for k, v in r.params.items()]
        lines.append("")
    val = ", ".join(_validation_names(splits, runs)) or "none"
    lines += [
        f"### Training and the chosen checkpoints (validation: {val})",
        "",
        "| run | updates | seconds | chosen checkpoint | validation score "
        "| no-motion on the same windows | validation metric |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        nm = r.val_scores.get("val/no_motion_deg")
        nm_text = "- (validated on heatmaps)" if r.kind == "dhp" else _fmt(nm, 2)
        lines.append(
            f"| {r.name} | {r.steps} | {r.seconds:.0f} | {r.best_checkpoint or '-'} "
            f"| {_fmt(r.best_validation, 2 if r.kind != 'dhp' else 3)} | {nm_text} "
            f"| {r.validation_metric} |"
        )
    per_h = [r for r in runs if any(k.startswith("val/orthodromic_deg_") for k in r.val_scores)]
    if per_h:
        secs = [1, 2, 3, 5]
        lines += [
            "",
            "Validation orthodromic error (deg) at the chosen checkpoints, beside no-motion on "
            "the same validation windows:",
            "",
            "| model (validation) | " + " | ".join(f"{s} s" for s in secs) + " |",
            "|---|" + "---|" * len(secs),
        ]
        for r in per_h:
            vals = [_fmt(r.val_scores.get(f"val/orthodromic_deg_{s}s"), 1) for s in secs]
            tag = " (UPPER BOUND: ground-truth saliency)" if r.name in UPPER_BOUND_RUNS else ""
            lines.append(f"| {r.name}{tag} | " + " | ".join(vals) + " |")
        ref = per_h[0].val_scores
        for key, label in (("no_motion", "no-motion"), ("const_velocity", "constant velocity")):
            vals = [_fmt(ref.get(f"val/{key}_deg_{s}s"), 1) for s in secs]
            lines.append(f"| {label} | " + " | ".join(vals) + " |")
        sels = [r.selection for r in per_h if r.selection]
        if sels:
            same = len({s.get("windows_sha256") for s in sels}) == 1
            lines += [
                "",
                f"Selection rule (every supervised run): {sels[0].get('rule', '-')}. "
                f"Validation windows: {sels[0].get('windows', '-')} "
                + (
                    "- the same windows for every run (same SHA-256), so the rows compare."
                    if same
                    else "- NOT the same windows for every run: the rows do not compare."
                ),
            ]
    lines += [
        "",
        "Baselines (computed, never hard-coded): uniform on the sphere, front-centre bias (FCB, "
        "width fitted on the train split), equator bias (fitted on the train split), "
        "inter-observer (one half of the subjects predicting the other: an upper reference), "
        "no-motion and constant angular velocity for head movement.",
        "",
    ]
    return lines


def _checks_section(comparisons: list[Comparison]) -> list[str]:
    n, up = tally(comparisons), tally(comparisons, upper=True)
    unmeasured = n["not measured"] + up["not measured"]
    lines = [
        "## Checks: every comparison, losses included",
        "",
        "Each trained model against each baseline on each metric above (test split, the "
        f"values of the tables). Against the baselines the models won **{n['yes']}** of "
        f"{sum(n.values())} comparisons and lost **{n['no']}**. Against the upper references "
        f"(inter-observer: half the subjects predicting the other half; a forecaster fed "
        f"ground-truth saliency - no honest model is expected to beat either) they won "
        f"{up['yes']} of {sum(up.values())}."
        + (f" {unmeasured} could not be measured." if unmeasured else ""),
        "",
    ]
    groups = (
        ("hm", "Head movement: orthodromic error (deg, lower is better)", 1),
        ("saliency", "Saliency (each metric's direction as in the saliency table)", 3),
        ("scanpath", "Scanpaths (each metric's direction as in the scanpath table)", 3),
        ("dhp", "DHP: heatmap peak and online-DHP (one step ahead; direction in each row)", 3),
    )
    for kind, title, digits in groups:
        rows = [c for c in comparisons if c.kind == kind]
        if not rows:
            continue
        lines += [f"### {title}", "", "| check | model | reference | holds |", "|---|---|---|---|"]
        for c in rows:
            tag = " (upper reference)" if c.against_upper_reference else ""
            lines.append(
                f"| {c.name}{tag} | {_fmt(c.model_value, digits)} "
                f"| {_fmt(c.reference_value, digits)} | **{c.outcome}** |"
            )
        lines.append("")
    order = [c for c in comparisons if c.kind == "baselines"]
    if order:
        lines += ["### The baselines' own order", "", "| check | values | holds |", "|---|---|---|"]
        lines += [f"| {c.name} | {c.detail} | **{c.outcome}** |" for c in order]
        lines.append("")
    return lines


def report_markdown(
    *,
    out: Path,
    store: Path,
    data: Path,
    synth: SynthConfig,
    splits: Splits,
    heatmap: HeatmapParams,
    store_bytes: int,
    runs: list[ModelRun],
    ev: EvalResult,
    comparisons: list[Comparison],
    timings: dict[str, float],
    figures: list[Path],
    em_lines: list[str] | None = None,
) -> str:
    """The text of ``report.md``: data, models, test tables, every check, figures, timings."""
    val = ", ".join(_validation_names(splits, runs)) or "none"
    lines = [
        "# pano demo report",
        "",
        "Everything below was produced by `pano demo` from synthetic data written in the exact "
        "PVS-HM file formats (videos, `FULLdata_per_video_frame.mat`, eye movements). Synthetic "
        "heads start near the front, follow moving salient targets with a lag and switch "
        "between them, so content-aware models have something to learn and no-motion is a "
        "fair baseline. No number here was chosen on the test split: checkpoints were picked "
        f"on the validation video(s) {val}, held out of the train split.",
        "",
        *_data_section(synth, data, store, splits, heatmap, store_bytes, runs),
        *_models_section(runs, splits),
        "## Head-movement forecasts: orthodromic error (degrees, lower is better)",
        "",
        _hm_pivot(ev.tables),
        "",
        "## Saliency (test split, profile `sphere`: solid-angle weighted)",
        "",
        "Mean over the steps of each video, then over videos; ↑ higher is better, ↓ lower.",
        "",
        _model_table(ev.tables, "saliency", "_no saliency maps were evaluated_"),
        "",
        "## Scanpaths (test split)",
        "",
        "Whole-video head scanpaths against the subjects': a model's are its stochastic "
        "rollouts (only the DHP agent writes scanpaths; the trajectory models forecast from "
        "origins instead), inter-observer's are one half of the subjects against the other "
        "half (an upper reference). DTW and Jarodzka-360: mean over (predicted, true) pairs, "
        "Jarodzka-360 over Hungarian-matched pairs; MultiMatch similarities in [0, 1].",
        "",
        _model_table(ev.tables, "scanpath", "_no scanpaths were evaluated_"),
        "",
        *_checks_section(comparisons),
        *(em_lines or []),
        "## Figures",
        "",
    ]
    for f in figures:
        lines += [f"![{f.stem}](figures/{f.name})", "", f"*{_CAPTIONS.get(f.name, f.stem)}*", ""]
    lines += ["## Timings (seconds)", ""]
    lines += [f"- {k}: {v:.1f}" for k, v in timings.items()]
    lines += [
        "",
        f"Full tables (CSV, Markdown) and plots: `{out / 'eval'}`; per-step scores in "
        f"the store at `results/demo`.",
    ]
    return "\n".join(lines) + "\n"
