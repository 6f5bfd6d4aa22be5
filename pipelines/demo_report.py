"""The one-page Markdown report of ``pano demo`` (tables + figures a person can read)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pano.pipelines.demo import ModelRun
    from pano.pipelines.eval import EvalResult
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
    lines = ["| model | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for model, row in piv.iterrows():
        lines.append(f"| {model} | " + " | ".join(_fmt(v, 1) for v in row.to_numpy()) + " |")
    return "\n".join(lines)


def _saliency_table(tables: dict[str, Any]) -> str:
    if "saliency" not in tables or not len(tables["saliency"]):
        return "_no saliency maps were evaluated_"
    df = tables["saliency"]
    cols = [
        c for c in ("cc", "nss", "kld", "sim", "auc", "auc_judd", "sauc", "ig") if c in df.columns
    ]
    lines = ["| model | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for model, row in df[cols].iterrows():
        lines.append(f"| {model} | " + " | ".join(_fmt(v) for v in row.to_numpy()) + " |")
    return "\n".join(lines)


def _figure_heatmaps(store: Path, data: Path, video: str, out: Path, dhp: bool) -> Path:
    """Ground truth heatmap + scanpaths, and the DHP agent's predicted heatmap, over the frame."""
    import matplotlib.pyplot as plt

    from pano.stores import open_store
    from pano.video import open_video

    tree = open_store(store)
    gt = tree[f"videos/{video}"].to_dataset()
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
        pred = tree[f"predictions/dhp/{video}"].to_dataset()
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
    checks: dict[str, bool | None],
    timings: dict[str, float],
) -> tuple[Path, list[Path]]:
    """Write ``out/report.md`` and its figures; return the report path and figure paths."""
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
    for name in ("hm_vs_horizon.png", "saliency_per_video.png"):
        src = out / "eval" / name
        if src.exists():
            dst = figs_dir / name
            shutil.copyfile(src, dst)
            figures.append(dst)

    n_store = store_nbytes(str(store))
    lines = [
        "# pano demo report",
        "",
        "Everything below was produced by `pano demo` from synthetic data written in the exact "
        "PVS-HM file formats (videos, `FULLdata_per_video_frame.mat`, eye movements). Synthetic "
        "heads start near the front, follow moving salient targets with a lag and switch "
        "between them, so content-aware models have something to learn and no-motion is a "
        "fair baseline. No number here was chosen on the test split: checkpoints were picked "
        "on a validation video drawn from the train split.",
        "",
        "## Data",
        f"- {synth.videos} videos x {synth.subjects} subjects x {synth.seconds:g} s, "
        f"{synth.width}x{synth.width // 2} at {synth.fps:g} fps, seed {synth.seed} (`{data}`)",
        f"- splits: train {sorted(root.splits.train)}, val {sorted(root.splits.val)}, "
        f"test {test} (DHP's test split where the names are PVS-HM's)",
        f"- store: `{store}` ({n_store / 2**20:.1f} MiB, Zarr v3); ground-truth heatmaps "
        f"{root.heatmap.width}x{root.heatmap.height}, sigma {root.heatmap.sigma_deg:g} deg, "
        f"one per {root.heatmap.step_frames} frames",
        "",
        "## Models",
        "| run | model | training steps | seconds | best validation | validation metric |",
        "|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r.name} | {r.kind} | {r.steps} | {r.seconds:.0f} | {_fmt(r.best_validation)} "
            f"| {r.validation_metric} |"
        )
    lines += [
        "",
        "Baselines (computed, never hard-coded): uniform on the sphere, front-centre bias (FCB, "
        "width fitted on the train split), equator bias (fitted on the train split), "
        "inter-observer (one half of the subjects predicting the other: an upper reference), "
        "no-motion and constant angular velocity for head movement.",
        "",
        "## Head-movement forecasts: orthodromic error (degrees, lower is better)",
        "",
        _hm_pivot(ev.tables),
        "",
        "## Saliency (test split, profile `sphere`: solid-angle weighted)",
        "",
        _saliency_table(ev.tables),
        "",
        "## Checks (computed from the tables above)",
        "",
    ]
    for name, ok in checks.items():
        lines.append(f"- {name}: **{'yes' if ok else 'no' if ok is not None else 'not measured'}**")
    lines += ["", "## Figures", ""]
    captions = {
        "heatmaps.png": "Ground truth at a mid-video step of a test video, the heads' last 2 s, "
        "and the DHP agent's prediction (lon positive to the LEFT, as in the frame).",
        "viewports.png": "What four subjects saw: their viewports cut on the fly from the "
        "decoded video, beside the frame with their head directions.",
        "hm_vs_horizon.png": "Head-movement error vs prediction horizon, models and baselines.",
        "saliency_per_video.png": "Saliency metrics per test video.",
    }
    for f in figures:
        lines += [f"![{f.stem}](figures/{f.name})", "", f"*{captions.get(f.name, f.stem)}*", ""]
    lines += ["## Timings (seconds)", ""]
    lines += [f"- {k}: {v:.1f}" for k, v in timings.items()]
    lines += [
        "",
        f"Full tables (CSV, Markdown) and plots: `{out / 'eval'}`; per-step scores in "
        f"the store at `results/demo`.",
    ]
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return report, figures
