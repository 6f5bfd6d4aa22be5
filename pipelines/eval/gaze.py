"""``pano eval --target gaze``: angular errors of a ``pano train-gaze`` run and its baselines.

What is scored: the samples the prediction run scored (``scored``: the test samples of the
folds it trained), against the data set's labels ``gaze/<dataset>/gaze_xyz``. Each
sample's error is the great-circle angle between predicted and true gaze in **degrees**,
float64, ``atan2(|u x v|, u . v)`` (:func:`pano.geometry.orthodromic_distance`).

Per model (the run, then the baselines): each person's mean error, the **mean of the
per-person means** (the leave-one-person-out number papers report for MPIIFaceGaze), its
spread over persons (standard deviation with ``ddof=1``, minimum, maximum) and the
pooled mean over samples (the number split protocols such as Gaze360's report).

Baselines, on exactly the same samples:

* ``mean_gaze``: for each fold, the normalised mean gaze vector of that fold's TRAINING
  persons (from the run's record; with ``optim.refit`` the training + validation persons
  the model was retrained on; split protocol: the ``train`` split) - what a model that
  ignores the image would predict;
* ``head_pose``: the head direction ``head_xyz`` taken as the gaze (where the data set
  has head pose; otherwise it is left out with a note).

Results go to ``results/<run>_gaze`` (an :class:`xarray.Dataset`; layout in
``docs/gaze.md``) with provenance, and with ``out`` a CSV/Markdown table and a per-person
bar figure that shows every comparison, including those the model loses.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pano._version import __version__
from pano.errors import ConfigError, StoreError
from pano.pipelines.eval.config import EvalConfig
from pano.pipelines.eval.run import EvalResult

#: The results' ``ground_truth`` attribute for ``--target gaze``.
GAZE_GROUND_TRUTH = (
    "gaze: gaze/<dataset>/gaze_xyz, unit vectors in GazeHub camera axes (x right, y down, "
    "z forward), of the samples the prediction run scored"
)


@dataclass
class GazeEvalResult(EvalResult):
    """:class:`EvalResult` of a gaze evaluation (its tables print as gaze tables)."""

    def format(self) -> str:
        """The summary and per-person tables as plain text."""
        from pano.pipelines.eval_report import text_table

        a = self.dataset.attrs
        parts = [
            f"{a.get('dataset')}: angular error (deg) on {a.get('n_samples')} samples of "
            f"{a.get('n_persons')} person(s); mean of per-person means = the LOPO number",
            text_table(self.tables["gaze_summary"]),
            "per person (mean error, deg):",
            text_table(self.tables["gaze_per_person"]),
        ]
        return "\n".join(parts)


def _open(cfg: EvalConfig) -> tuple[Any, Any]:
    from pano.stores.gaze import open_gaze
    from pano.stores.gaze_predictions import open_gaze_predictions

    assert cfg.dataset is not None
    data = open_gaze(cfg.store, cfg.dataset)
    preds = [open_gaze_predictions(cfg.store, cfg.dataset, r) for r in cfg.predictions]
    n = data.n_samples
    for p in preds:
        if len(p.scored) != n:
            raise StoreError(
                f"{cfg.store}: gaze prediction run {p.run} has {len(p.scored)} samples but "
                f"gaze/{cfg.dataset} has {n}; the data set was re-ingested: train again"
            )
        if not np.array_equal(p.scored, preds[0].scored):
            raise ConfigError(
                f"gaze prediction runs {preds[0].run} and {p.run} scored different samples "
                "(other folds); evaluate them one at a time"
            )
    if not preds[0].scored.any():
        raise StoreError(f"{cfg.store}: gaze prediction run {preds[0].run} scored no sample")
    return data, preds


def mean_gaze_baseline(
    gaze: np.ndarray, subject: np.ndarray, split: np.ndarray | None, pred: Any, samples: np.ndarray
) -> tuple[np.ndarray, dict[str, list[float]]]:
    """Per scored sample, the normalised mean gaze of its fold's training persons.

    Returns:
        ``float64 (n, 3)`` for ``samples`` and, per fold, the mean vector used.

    """
    from pano.pipelines.gaze.data import as_text
    from pano.pipelines.gaze.fold import mean_direction

    out = np.full((len(samples), 3), np.nan)
    used: dict[str, list[float]] = {}
    folds = {str(r["fold"]): r for r in pred.attrs.get("folds", [])}
    fold_of = pred.fold[samples]
    for name in np.unique(fold_of):
        rec = folds.get(str(name))
        if rec is None:
            raise StoreError(f"gaze prediction run {pred.run} has no record of fold {name}")
        if rec.get("test_person") is None:  # split protocol: the train split
            if split is None:
                raise StoreError(f"fold {name}: a split fold but the data set has no split")
            train = as_text(split) == "train"
        else:
            # optim.refit: the model was retrained on the training + validation persons.
            fit = rec.get("refit_persons") or rec["train_persons"]
            train = np.isin(subject, list(fit))
        m = mean_direction(gaze[train])
        out[fold_of == name] = m
        used[str(name)] = m.tolist()
    return out, used


#: What the results record of each scored prediction run, and of each of its folds.
_RUN_KEYS = ("created", "pano_version", "store_generation", "content_sha256", "run_dir", "config")
_FOLD_KEYS = (
    "fold", "test_person", "val_persons", "train_persons", "selection_rule",
    "selected_checkpoint", "checkpoint_sha256", "refit_persons",
)  # fmt: skip


def _run_provenance(attrs: dict[str, Any]) -> dict[str, Any]:
    """A prediction run's provenance as the results record it (which checkpoints, how chosen)."""
    out = {k: attrs.get(k) for k in _RUN_KEYS}
    out["folds"] = [{k: r.get(k) for k in _FOLD_KEYS} for r in attrs.get("folds", [])]
    return out


def _summaries(err: np.ndarray, who: np.ndarray, persons: list[str]) -> dict[str, Any]:
    per = np.array([err[who == p].mean() for p in persons], np.float64)
    return {
        "person_mean": per,
        "mean": float(per.mean()),
        "std": float(per.std(ddof=1)) if len(per) > 1 else float("nan"),
        "min": float(per.min()),
        "max": float(per.max()),
        "sample_mean": float(err.mean()),
    }


def score_gaze(cfg: EvalConfig) -> tuple[Any, list[str]]:
    """The per-sample and per-person scores as an :class:`xarray.Dataset` (not written)."""
    import xarray as xr

    from pano.pipelines.gaze.data import as_text, optional_array
    from pano.pipelines.gaze.fold import angular_error_deg

    data, preds = _open(cfg)
    gaze = np.asarray(data.array("gaze_xyz"), np.float64)
    subject = as_text(data.array("subject"))
    samples = np.flatnonzero(preds[0].scored)
    truth = gaze[samples]
    who = subject[samples]
    persons = sorted(set(who.tolist()))
    models: dict[str, np.ndarray] = {p.run: p.gaze_xyz[samples] for p in preds}
    notes: list[str] = []
    baseline_info: dict[str, Any] = {}
    if "mean_gaze" in cfg.baselines:
        models["mean_gaze"], baseline_info["mean_gaze"] = mean_gaze_baseline(
            gaze, subject, optional_array(data, "split"), preds[0], samples
        )
    if "head_pose" in cfg.baselines:
        head = optional_array(data, "head_xyz")
        if head is None:
            notes.append(f"head_pose left out: gaze/{cfg.dataset} has no head pose (head_xyz)")
        else:
            models["head_pose"] = np.asarray(head, np.float64)[samples]
            baseline_info["head_pose"] = "head_xyz of the sample, taken as its gaze"
    names = list(models)
    err = np.stack([angular_error_deg(models[m], truth) for m in names])
    sums = [_summaries(e, who, persons) for e in err]
    n_per = np.array([(who == p).sum() for p in persons], np.int64)
    ds = xr.Dataset(
        {
            "angular_error_deg": (("model", "sample"), err),
            "subject": (("sample",), who.astype(object)),
            "fold": (("sample",), preds[0].fold[samples].astype(object)),
            "person_mean_deg": (("model", "person"), np.stack([s["person_mean"] for s in sums])),
            "person_samples": (("person",), n_per),
            "mean_of_person_means_deg": (("model",), np.array([s["mean"] for s in sums])),
            "person_std_deg": (("model",), np.array([s["std"] for s in sums])),
            "person_min_deg": (("model",), np.array([s["min"] for s in sums])),
            "person_max_deg": (("model",), np.array([s["max"] for s in sums])),
            "sample_mean_deg": (("model",), np.array([s["sample_mean"] for s in sums])),
        },
        coords={
            "model": np.array(names, dtype=object),
            "sample": samples.astype(np.int64),
            "person": np.array(persons, dtype=object),
        },
    )
    run_attrs = {p.run: _run_provenance(p.attrs) for p in preds}
    protocol_kind = (preds[0].attrs.get("protocol") or {}).get("kind")
    from pano.pipelines.eval.provenance import jsonable

    ds.attrs.update(
        jsonable(
            {
                "pano_version": __version__,
                "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "store": str(cfg.store),
                "target": "gaze",
                "ground_truth": GAZE_GROUND_TRUTH,
                "dataset": cfg.dataset,
                "run": cfg.run_name,
                "gaze_predictions": list(cfg.predictions),
                "gaze_prediction_attrs": run_attrs,
                "baselines": baseline_info,
                "protocol": preds[0].attrs.get("protocol"),
                "split": "test" if protocol_kind == "split" else "test folds",
                "profile": {"name": "angular error (deg)"},
                "n_samples": len(samples),
                "n_persons": len(persons),
                "conventions": {
                    "error": "great-circle angle in degrees, float64, atan2(|u x v|, u.v)",
                    "lopo": "mean_of_person_means_deg: the mean over persons of each person's "
                    "mean error (the LOPO number); person_std_deg uses ddof=1",
                    "samples": "the samples the prediction run scored (its folds' test persons)",
                },
                "notes": notes,
            }
        )
    )
    return ds, notes


def gaze_tables(ds: Any) -> dict[str, Any]:
    """``gaze_summary`` (one row per model) and ``gaze_per_person`` (one row per person)."""
    import pandas as pd

    models = [str(m) for m in ds["model"].values]
    summary = pd.DataFrame(
        {
            "mean_of_person_means_deg": ds["mean_of_person_means_deg"].values,
            "person_std_deg": ds["person_std_deg"].values,
            "person_min_deg": ds["person_min_deg"].values,
            "person_max_deg": ds["person_max_deg"].values,
            "sample_mean_deg": ds["sample_mean_deg"].values,
        },
        index=pd.Index(models, name="model"),
    )
    per = pd.DataFrame(
        {m: ds["person_mean_deg"].sel(model=m).values for m in models},
        index=pd.Index([str(p) for p in ds["person"].values], name="person"),
    )
    per["samples"] = ds["person_samples"].values
    first = models[0]
    for b in models[1:]:
        if b in ("mean_gaze", "head_pose"):
            per[f"{first}_minus_{b}"] = per[first] - per[b]
    return {"gaze_summary": summary, "gaze_per_person": per}


def _label(ax: Any, x: float, y: float, text: str) -> None:
    """A small value label just above ``(x, y)``."""
    ax.annotate(
        text, (x, y), xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
        fontsize=7,
    )  # fmt: skip


def gaze_figure(ds: Any, path: Path) -> Path:
    """A per-person grouped bar chart of every model's mean error, plus the overall means.

    Bars are labelled with their values; the last group is the mean of per-person means
    with its standard deviation over persons as an error bar.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    models = [str(m) for m in ds["model"].values]
    persons = [str(p) for p in ds["person"].values]
    groups = [*persons, "mean of\nper-person\nmeans"]
    width = 0.8 / len(models)
    fig, ax = plt.subplots(figsize=(max(7.0, 1.1 * len(groups) * max(1, len(models)) / 2), 4.8))
    x = np.arange(len(groups))
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    for k, m in enumerate(models):
        vals = [*ds["person_mean_deg"].sel(model=m).values.tolist()]
        vals.append(float(ds["mean_of_person_means_deg"].sel(model=m)))
        pos = x - 0.4 + width * (k + 0.5)
        bars = ax.bar(pos, vals, width, label=m, color=colours[k % 6])
        for bar, v in zip(bars.patches[:-1], vals[:-1], strict=True):  # the persons' bars
            _label(ax, bar.get_x() + bar.get_width() / 2, v, f"{v:.1f}")
        std = float(ds["person_std_deg"].sel(model=m))
        top = vals[-1]
        if np.isfinite(std):  # the spread over persons, on the mean-of-means bar only
            ax.errorbar(pos[-1], vals[-1], yerr=std, color="black", capsize=3, lw=1)
            top += std
        _label(ax, pos[-1], top, f"{vals[-1]:.1f}")
    ax.set_xticks(x, groups, fontsize=8)
    ax.set_ylabel("mean angular error (degrees)")
    a = ds.attrs
    lopo = (a.get("protocol") or {}).get("kind") == "lopo"
    ax.set_xlabel("test person (leave-one-person-out fold)" if lopo else "person (test split)")
    ax.set_title(
        f"{a.get('dataset')}: gaze angular error per person, {', '.join(models)}\n"
        f"({a.get('n_samples')} test samples; lower is better; error bar = std over persons)",
        fontsize=10,
    )
    ax.legend(fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_gaze_reports(ds: Any, tables: dict[str, Any], out: Path) -> list[Path]:
    """CSV tables, ``report.md`` and ``gaze_per_person.png`` into ``out``."""
    from pano.pipelines.eval_report import markdown_table

    out.mkdir(parents=True, exist_ok=True)
    files = []
    for name, df in tables.items():
        p = out / f"{name}.csv"
        df.to_csv(p, float_format="%.6g")
        files.append(p)
    a = ds.attrs
    lines = [
        f"# Gaze evaluation `{a.get('run')}`",
        "",
        f"- store `{a.get('store')}`, data set `{a.get('dataset')}`, prediction run(s) "
        + ", ".join(f"`{r}`" for r in a.get("gaze_predictions", [])),
        f"- {a.get('n_samples')} samples of {a.get('n_persons')} person(s); "
        "angular error in degrees (atan2 form, float64)",
        f"- pano {a.get('pano_version')}, created {a.get('created')}",
        *[f"- note: {n}" for n in a.get("notes") or []],
        "",
        "## Summary (mean of per-person means = the LOPO number)",
        "",
        markdown_table(tables["gaze_summary"]),
        "",
        "## Per person",
        "",
        markdown_table(tables["gaze_per_person"]),
        "",
        "![per-person errors](gaze_per_person.png)",
        "",
    ]
    p = out / "report.md"
    p.write_text("\n".join(lines), encoding="utf-8")
    files.append(p)
    files.append(gaze_figure(ds, out / "gaze_per_person.png"))
    return files


def evaluate_gaze(cfg: EvalConfig, announce: Callable[[str], None] | None = None) -> GazeEvalResult:
    """Score a gaze prediction run and the gaze baselines (see the module docstring).

    Raises:
        StoreNotFoundError, StoreError, ConfigError: bad input, before any work.
        StoreExistsError: ``results/<run>`` exists and ``cfg.overwrite`` is false.
        StoreChangedError: the store was written while it ran (nothing written).

    """
    from pano.pipelines.eval.run import write_results_locked
    from pano.stores.generation import GENERATION_ATTR, read_generation
    from pano.stores.lock import assert_no_writer
    from pano.stores.preflight import check_output_folder, check_store_location
    from pano.stores.results import check_results_writable
    from pano.stores.schema import COMPLETE_ATTR, RESULTS_GROUP

    t0 = time.perf_counter()
    check_store_location(cfg.store, write=cfg.write_store, groups=(RESULTS_GROUP,))
    if cfg.out is not None:
        check_output_folder(cfg.out, "--out")
    assert_no_writer(cfg.store, "evaluate")
    seen = read_generation(cfg.store)
    if cfg.write_store:
        check_results_writable(cfg.store, cfg.run_name, cfg.overwrite)
    ds, _ = score_gaze(cfg)
    ds.attrs[GENERATION_ATTR] = seen.to_attrs()
    group = write_results_locked(cfg, ds, seen) if cfg.write_store else None
    ds.attrs[COMPLETE_ATTR] = group is not None
    tables = gaze_tables(ds)
    files = write_gaze_reports(ds, tables, Path(cfg.out)) if cfg.out is not None else []
    return GazeEvalResult(ds, tables, group, files, time.perf_counter() - t0, 0)


__all__ = [
    "GAZE_GROUND_TRUTH",
    "GazeEvalResult",
    "evaluate_gaze",
    "gaze_figure",
    "gaze_tables",
    "mean_gaze_baseline",
    "score_gaze",
]
