"""Tables (CSV, Markdown, plain text) and PNG plots of an evaluation's results dataset.

Aggregation (``docs/eval.md``): a saliency metric is averaged over the steps of each
video, then over videos (each video counts once); HM metrics are per-horizon means over
(subject, origin) per video, then averaged over videos; scanpath metrics likewise.
NaN (padding, missing data) is skipped. Results scored under TRACK's protocol
(``protocol = "track"``) are aggregated as TRACK does: per horizon, the mean over ALL
windows of all videos pooled (:func:`pano.pipelines.eval.track.pooled_curves`), and per
video (``hm_per_video``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pano.pipelines.eval.track import is_track, pooled_curves
from pano.stores.accessor import metric_label


def _nanmean(a: np.ndarray, axis: int | tuple[int, ...]) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices stay NaN
        return np.nanmean(a, axis=axis)


def _by_model_and_video(
    per_video: np.ndarray, keep: list[int], models: list[str], videos: list[str], metrics: list[str]
) -> tuple[Any, Any]:
    """Scores ``(model, video, metric)`` -> (model x metric means over videos, per-video table)."""
    import pandas as pd

    names = [models[i] for i in keep]
    summary = pd.DataFrame(
        _nanmean(per_video, axis=1)[keep], index=pd.Index(names, name="model"), columns=metrics
    )
    idx = pd.MultiIndex.from_product([names, videos], names=["model", "video"])
    return summary, pd.DataFrame(
        per_video[keep].reshape(-1, len(metrics)), index=idx, columns=metrics
    )


def hm_curves(ds: Any) -> np.ndarray:
    """HM scores per ``(model, horizon, metric)``.

    The mean of the video means, or under TRACK's protocol the mean over all windows
    pooled (TRACK's aggregation).
    """
    if is_track(ds):
        return pooled_curves(ds)
    return _nanmean(ds["hm"].values, axis=1)


def summary_tables(ds: Any, report_s: Sequence[float] = (1.0, 2.0, 3.0, 5.0)) -> dict[str, Any]:
    """Summary tables of a results dataset, as pandas DataFrames keyed by name.

    ``saliency`` (model x metric), ``saliency_per_video`` ((model, video) x metric),
    ``hm`` ((model, horizon_s) x metric at the report horizons), ``hm_per_horizon``
    (all horizons), ``scanpath`` (model x metric), ``scanpath_per_video``; under TRACK's
    protocol also ``hm_per_video`` ((model, video, horizon_s) at the report horizons).
    """
    import pandas as pd

    tables: dict[str, Any] = {}
    models = [str(m) for m in ds["model"].values]
    videos = [str(v) for v in ds["video"].values]

    def has_any(var: str) -> list[int]:
        return [i for i in range(len(models)) if np.isfinite(ds[var].values[i]).any()]

    if "saliency" in ds:
        per_video = _nanmean(ds["saliency"].values, axis=2)  # (model, video, metric)
        metrics = [str(m) for m in ds["metric"].values]
        tables["saliency"], tables["saliency_per_video"] = _by_model_and_video(
            per_video, has_any("saliency"), models, videos, metrics
        )
    if "hm" in ds:
        vals = ds["hm"].values  # (model, video, horizon, metric)
        keep = has_any("hm")
        curves = hm_curves(ds)[keep]  # (model, horizon, metric)
        hs = ds["horizon_s"].values
        metrics = [str(m) for m in ds["hm_metric"].values]
        names = [models[i] for i in keep]
        idx = pd.MultiIndex.from_product(
            [names, [float(h) for h in hs]], names=["model", "horizon_s"]
        )
        full = pd.DataFrame(curves.reshape(-1, len(metrics)), index=idx, columns=metrics)
        tables["hm_per_horizon"] = full
        pick = [float(h) for h in hs if any(math.isclose(h, r) for r in report_s)]
        tables["hm"] = full[full.index.get_level_values("horizon_s").isin(pick)]
        if is_track(ds):
            cols = [i for i, h in enumerate(hs) if float(h) in pick]
            idx = pd.MultiIndex.from_product(
                [names, videos, [float(hs[i]) for i in cols]],
                names=["model", "video", "horizon_s"],
            )
            per = vals[keep][:, :, cols]  # (model, video, horizon, metric)
            tables["hm_per_video"] = pd.DataFrame(
                per.reshape(-1, len(metrics)), index=idx, columns=metrics
            )
    if "scanpath" in ds:
        metrics = [str(m) for m in ds["sp_metric"].values]
        tables["scanpath"], tables["scanpath_per_video"] = _by_model_and_video(
            ds["scanpath"].values, has_any("scanpath"), models, videos, metrics
        )
    return tables


_TITLES = {
    "saliency": "Saliency (mean over steps, then videos)",
    "hm": "Head-movement forecasts at the report horizons",
    "scanpath": "Scanpaths (whole video; mean over predicted x true pairs, jarodzka360 over "
    "Hungarian-matched pairs)",
}


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return "nan" if not math.isfinite(v) else f"{v:.4f}"
    return str(v)


def _rows(df: Any) -> tuple[list[str], list[list[str]]]:
    idx_names = [str(n) for n in df.index.names]
    header = idx_names + [str(c) for c in df.columns]
    rows = []
    for key, row in zip(df.index, df.itertuples(index=False), strict=True):
        keys = list(key) if isinstance(key, tuple) else [key]
        rows.append([_fmt(k) for k in keys] + [_fmt(v) for v in row])
    return header, rows


def markdown_table(df: Any) -> str:
    """A GitHub-flavoured Markdown table of a DataFrame (index columns first)."""
    header, rows = _rows(df)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def text_table(df: Any) -> str:
    """A fixed-width plain-text table of a DataFrame."""
    header, rows = _rows(df)
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "-" * len(line)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


_TRACK_TITLE = (
    "TRACK protocol: orthodromic distance (deg) per horizon, mean over all windows of all "
    "videos pooled (TRACK's errors_per_timestep)"
)


def _titles(tables: dict[str, Any]) -> dict[str, str]:
    if "hm_per_video" not in tables:
        return _TITLES
    return {"hm": _TRACK_TITLE, "hm_per_video": "TRACK protocol: per video (mean over its windows)"}


def format_tables(tables: dict[str, Any]) -> str:
    """The summary tables (saliency, hm, scanpath) as plain text."""
    parts = []
    for key, title in _titles(tables).items():
        if key in tables and len(tables[key]):
            parts.append(f"{title}\n{text_table(tables[key])}")
    return "\n\n".join(parts)


def _finish_grid(fig: Any, axes: Any, used: int, title: str, path: Path) -> Path:
    """Blank the unused panels of a metric grid, add one shared legend and title, save, close."""
    import matplotlib.pyplot as plt

    nrows, ncols = len(axes), len(axes[0])
    for k in range(used, nrows * ncols):
        axes[k // ncols][k % ncols].axis("off")
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(
        handles,
        names,
        loc="upper center",
        ncol=min(len(names), 6),
        frameon=False,
        bbox_to_anchor=(0.5, 1.0),
    )
    fig.suptitle(title, y=1.0 + 0.04 / nrows, fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _bar_grid(ds: Any, var: str, metric_dim: str, title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    vals = ds[var].values
    if var == "saliency":
        vals = _nanmean(vals, axis=2)  # (model, video, metric)
    models = [str(m) for m in ds["model"].values]
    keep = [i for i in range(len(models)) if np.isfinite(vals[i]).any()]
    videos = [str(v) for v in ds["video"].values]
    metrics = [str(m) for m in ds[metric_dim].values]
    ncols = min(3, len(metrics))
    nrows = math.ceil(len(metrics) / ncols)
    width = max(6.0, 0.55 * len(videos) * max(1, len(keep)) / 2 + 2)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(min(width, 8.0) * ncols, 3.6 * nrows), squeeze=False
    )
    x = np.arange(len(videos))
    bw = 0.8 / max(1, len(keep))
    cmap = plt.get_cmap("tab10")
    for k, metric in enumerate(metrics):
        ax = axes[k // ncols][k % ncols]
        for j, i in enumerate(keep):
            ax.bar(
                x + (j - (len(keep) - 1) / 2) * bw,
                vals[i, :, k],
                bw,
                label=models[i],
                color=cmap(j % 10),
            )
        label, higher = metric_label(metric)
        ax.set_title(f"{label} ({'higher' if higher else 'lower'} is better)", fontsize=10)
        ax.set_ylabel(label)
        ax.set_xticks(x)
        ax.set_xticklabels(
            videos,
            rotation=45 if len(videos) > 3 else 0,
            ha="right" if len(videos) > 3 else "center",
            fontsize=8,
        )
        ax.grid(axis="y", alpha=0.3)
    return _finish_grid(fig, axes, len(metrics), title, path)


def _horizon_plot(ds: Any, title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    vals = hm_curves(ds)  # (model, horizon, metric)
    models = [str(m) for m in ds["model"].values]
    keep = [i for i in range(len(models)) if np.isfinite(vals[i]).any()]
    hs = ds["horizon_s"].values
    metrics = [str(m) for m in ds["hm_metric"].values]
    ncols = min(3, len(metrics))
    nrows = math.ceil(len(metrics) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.0 * ncols, 3.6 * nrows), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for k, metric in enumerate(metrics):
        ax = axes[k // ncols][k % ncols]
        for j, i in enumerate(keep):
            ax.plot(hs, vals[i, :, k], marker="o", ms=3, label=models[i], color=cmap(j % 10))
        label, higher = metric_label(metric)
        ax.set_title(f"{label} ({'higher' if higher else 'lower'} is better)", fontsize=10)
        ax.set_xlabel("forecast horizon (s)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    return _finish_grid(fig, axes, len(metrics), title, path)


def write_reports(ds: Any, tables: dict[str, Any], out: Path | str) -> list[Path]:
    """Write CSV tables, ``report.md`` and PNG plots into ``out``; return the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for name, df in tables.items():
        p = out / f"{name}.csv"
        df.to_csv(p, float_format="%.6g")
        files.append(p)
    a = ds.attrs
    prof = a.get("profile", {})
    head = [
        f"# Evaluation `{a.get('run')}`",
        "",
        f"- store: `{a.get('store')}`, split `{a.get('split')}`, videos: "
        + ", ".join(str(v) for v in ds["video"].values),
        f"- target: **{a.get('target', 'head')}** - scored against "
        + str(a.get("ground_truth", "head points and heatmaps")).split(": ", 1)[-1],
        f"- profile: `{prof.get('name')}` - {prof.get('description', '')}",
        f"- pano {a.get('pano_version')}, seed {a.get('seed')}, created {a.get('created')}",
        f"- ground-truth heatmaps: {a.get('ground_truth_heatmap')}",
        "- fitted baselines (train split): "
        + ", ".join(
            f"{k}={v}"
            for k, v in (a.get("fitted_baselines") or {}).items()
            if k not in ("equator_profile", "train_videos")
        ),
    ]
    for note in a.get("notes") or []:
        head.append(f"- note: {note}")
    if is_track(ds):
        w = a.get("track_protocol") or {}
        head.append(
            f"- protocol: TRACK (m_window {w.get('m_window')}, h_window {w.get('h_window')}, "
            f"init_window {w.get('init_window')} - {w.get('init_source')}, end_window "
            f"{w.get('end_window')}); overall = mean over all windows pooled"
        )
    body = []
    for key, title in _titles(tables).items():
        if key in tables and len(tables[key]):
            body += [f"## {title}", "", markdown_table(tables[key]), ""]
    title_tail = (
        f"target {a.get('target', 'head')}, profile {prof.get('name')}, split {a.get('split')}"
    )
    if "saliency" in ds:
        files.append(
            _bar_grid(
                ds,
                "saliency",
                "metric",
                f"Saliency per video ({title_tail})",
                out / "saliency_per_video.png",
            )
        )
        body += ["![saliency per video](saliency_per_video.png)", ""]
    if "hm" in ds:
        files.append(
            _horizon_plot(
                ds, f"Head-movement forecasts vs horizon ({title_tail})", out / "hm_vs_horizon.png"
            )
        )
        body += ["![metrics vs horizon](hm_vs_horizon.png)", ""]
    if "scanpath" in ds:
        files.append(
            _bar_grid(
                ds,
                "scanpath",
                "sp_metric",
                f"Scanpaths per video ({title_tail})",
                out / "scanpath_per_video.png",
            )
        )
        body += ["![scanpaths per video](scanpath_per_video.png)", ""]
    md = out / "report.md"
    md.write_text("\n".join([*head, "", *body]), encoding="utf-8")
    files.append(md)
    return files
