"""The eye-movement section of ``pano demo``'s report: fixations beside heads, eye-target scores.

The demo runs ``pano em detect`` on its synthetic store (:func:`pano.pipelines.em_detect.
detect_store`) and ``pano eval --target eye`` (results ``results/demo_eye``); this module
draws one step's head heatmap beside its fixation map and eye heatmap
(:func:`figure_em`) and writes the section's Markdown (:func:`em_section`): the detection
summary, the eye-target score tables and every comparison of the models with the
baselines on the eye target, losses included.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pano.pipelines.demo_checks import Comparison, tally

if TYPE_CHECKING:
    from pano.pipelines.em_detect import EmDetectSummary
    from pano.pipelines.eval import EvalResult

#: Extent of an ERP image in pano's lon/lat degrees: lon +180 at the left edge (+lon LEFT).
_EXTENT = (180.0, -180.0, -90.0, 90.0)


def _erp_axes(ax: Any) -> None:
    ax.set_xlim(180, -180)
    ax.set_ylim(-90, 90)
    ax.set_xticks(np.arange(180, -181, -90))
    ax.set_yticks(np.arange(-90, 91, 45))
    ax.set_xlabel("longitude [deg] (+ = left)")
    ax.set_ylabel("latitude [deg] (+ = up)")


def figure_em(store: Path, video: str, step: int, out: Path) -> Path:
    """Head heatmap, fixation map and eye heatmap of one step, side by side (``em.png``).

    The two heatmaps are divided by their maxima and share one colour scale (0-1); the
    fixation map shows its integer counts (active fixations per pixel) on its own, labelled
    scale, each fixated pixel drawn as a square marker (larger than the pixel, to be seen).
    Head points (the store's ``scanpath``) are marked on the head heatmap.
    """
    import matplotlib.pyplot as plt

    from pano.stores import read_root_attrs, read_video_array
    from pano.stores.em import read_em_array, read_em_attrs

    head = np.asarray(read_video_array(str(store), video, "heatmap", step, step + 1)[0], float)
    heads = np.asarray(read_video_array(str(store), video, "scanpath", step, step + 1)[0], float)
    fmap = np.asarray(read_em_array(str(store), video, "fixation_map", step, step + 1)[0])
    eye = np.asarray(read_em_array(str(store), video, "eye_heatmap", step, step + 1)[0], float)
    t = float(read_video_array(str(store), video, "step_time")[step])
    attrs = read_em_attrs(str(store), video)
    h, w = fmap.shape

    fig, axes = plt.subplots(1, 3, figsize=(17.5, 3.9))
    norm = {"vmin": 0.0, "vmax": 1.0, "cmap": "inferno", "aspect": "auto", "extent": _EXTENT}
    im = axes[0].imshow(head / head.max() if head.max() > 0 else head, **norm)
    ok = np.isfinite(heads).all(1)
    axes[0].scatter(heads[ok, 0], heads[ok, 1], s=28, c="cyan", marker="+", label="head points")
    axes[0].set_title(f"head heatmap (sigma {read_root_attrs(str(store)).heatmap.sigma_deg:g} deg)")
    # Fixation map: each fixated pixel (centre) as a square, coloured by its count.
    rows, cols = np.nonzero(fmap)
    lon = 180.0 - (cols + 0.5) * 360.0 / w
    lat = 90.0 - (rows + 0.5) * 180.0 / h
    axes[1].set_facecolor("black")
    vmax = max(1, int(fmap.max()))
    sc = axes[1].scatter(lon, lat, c=fmap[rows, cols], s=60, marker="s", cmap="viridis",
                         vmin=0.5, vmax=vmax + 0.5)  # fmt: skip
    axes[1].set_title(f"fixation map: {int(fmap.sum())} active fixation(s), "
                      f"{rows.size} pixel(s) of {360 / w:g} deg")  # fmt: skip
    im2 = axes[2].imshow(eye / eye.max() if eye.max() > 0 else eye, **norm)
    axes[2].set_title(f"eye heatmap (sigma {attrs.eye_sigma_deg:g} deg)")
    for ax in axes:
        _erp_axes(ax)
    fig.colorbar(im, ax=axes[0], fraction=0.04, pad=0.02, label="head heatmap / its max")
    cb = fig.colorbar(sc, ax=axes[1], fraction=0.04, pad=0.02,
                      label="active fixations per pixel (count)")  # fmt: skip
    cb.set_ticks(list(range(1, vmax + 1)))
    fig.colorbar(im2, ax=axes[2], fraction=0.04, pad=0.02, label="eye heatmap / its max")
    fig.suptitle(f"{video}, step {step} (t = {t:.2f} s): where the heads point vs where the "
                 "eyes fixate")  # fmt: skip
    fig.tight_layout()
    path = out / "em.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _table(df: Any, fmt: Any) -> list[str]:
    from pano.pipelines.demo_report import _header

    cols = [str(c) for c in df.columns]
    lines = [
        "| model | " + " | ".join(_header(c) for c in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for model, row in df[cols].iterrows():
        lines.append(f"| {model} | " + " | ".join(fmt(v) for v in row.to_numpy()) + " |")
    return lines


def em_section(
    summary: EmDetectSummary, ev: EvalResult, comparisons: list[Comparison], figure: Path | None
) -> list[str]:
    """The report's "Eye movements" section (Markdown lines)."""
    from pano.pipelines.demo_report import _fmt

    p = summary.params
    n_fix = sum(v.n_fixations for v in summary.videos)
    share = [v.fixation_share for v in summary.videos if v.status == "written"]
    n, up = tally(comparisons), tally(comparisons, upper=True)
    lines = [
        "## Eye movements: fixations and the eye target",
        "",
        f"`pano em detect` labelled the synthetic gaze of every video ({p.method.upper()}, "
        f"{summary.seconds:.1f} s): {n_fix} fixations in {len(summary.videos)} videos, "
        f"{100 * float(np.mean(share)) if share else float('nan'):.0f} % of the samples in "
        f"fixations; eye heatmaps with sigma {summary.eye_sigma_deg:g} deg. Then `pano eval "
        "--target eye` scored the same predicted maps and scanpaths against the EYES: the eye "
        "heatmap as the density, the fixation active at each step as each subject's fixation, "
        "and each subject's fixation centres in order as its scanpath (`results/demo_eye`; "
        "head-movement forecasts are not scored against eyes). The baselines were fitted on "
        "the train split's fixations.",
        "",
    ]
    if figure is not None:
        lines += [
            f"![{figure.stem}](figures/{figure.name})",
            "",
            "*One step of a test video: the head heatmap (head points as crosses), the "
            "fixation map (each pixel holding an active fixation drawn as a square, larger than "
            "the pixel, coloured by its count) and the eye "
            "heatmap. The two heatmaps share one colour scale (each divided by its maximum).*",
            "",
        ]
    for key, title in (("saliency", "Saliency against the eyes"), ("scanpath", "Scanpaths "
                       "against the subjects' fixation sequences")):  # fmt: skip
        df = ev.tables.get(key)
        lines += [f"### {title} (test split)", ""]
        lines += _table(df, _fmt) if df is not None and len(df) else ["_not evaluated_"]
        lines.append("")
    lines += [
        "### Eye-target checks: every comparison, losses included",
        "",
        f"Against the baselines the models won **{n['yes']}** of {sum(n.values())} comparisons "
        f"and lost **{n['no']}**; against the inter-observer upper reference they won "
        f"{up['yes']} of {sum(up.values())}.",
        "",
        "| check | model | reference | holds |",
        "|---|---|---|---|",
    ]
    for c in comparisons:
        tag = " (upper reference)" if c.against_upper_reference else ""
        if c.kind == "baselines":
            lines.append(f"| {c.name} (eye) | {c.detail} | | **{c.outcome}** |")
        else:
            lines.append(
                f"| {c.name}{tag} (eye) | {_fmt(c.model_value)} | {_fmt(c.reference_value)} "
                f"| **{c.outcome}** |"
            )
    lines.append("")
    return lines
