"""Assembling ``pano eval``'s per-step scores: the results dataset of one or several runs.

Layout of the dataset (``results/<run>`` in the store): ``docs/eval.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pano.pipelines.eval.config import EvalConfig
from pano.pipelines.eval.plan import Plan
from pano.pipelines.eval.provenance import jsonable, provenance
from pano.stores.schema import SCORED_PREDICTIONS_ATTR


def assemble(cfg: EvalConfig, plan: Plan, tasks: list[tuple[str, Any]], results: list[Any]) -> Any:
    """One run's per-step scores as an :class:`xarray.Dataset` (layout: ``docs/eval.md``).

    ``results[i]`` is what ``tasks[i]`` returned; the attributes are :func:`provenance`.
    """
    import xarray as xr

    vids = [v.name for v in plan.videos]
    vix = {v: i for i, v in enumerate(vids)}
    n_steps = np.array([v.n_steps for v in plan.videos], np.int32)
    data: dict[str, Any] = {}
    coords: dict[str, Any] = {"video": np.array(vids, dtype=object)}

    specs = plan.sal_models + plan.hm_models + plan.sp_models
    models = list(dict.fromkeys(s.name for s in specs))  # model first, then the baselines
    mix = {m: i for i, m in enumerate(models)}
    coords["model"] = np.array(models, dtype=object)
    coords["model_kind"] = (
        "model",
        np.array(["model" if m in cfg.predictions else "baseline" for m in models], dtype=object),
    )
    data["n_steps"] = (("video",), n_steps)
    if plan.sal_models:
        sal = np.full((len(models), len(vids), int(n_steps.max()), len(plan.sal_metrics)), np.nan)
        for (kind, task), res in zip(tasks, results, strict=True):
            if kind != "saliency":
                continue
            for k, spec in enumerate(task.models):
                sal[mix[spec.name], vix[task.video], task.start : task.stop] = res[k]
        data["saliency"] = (("model", "video", "step", "metric"), sal)
        coords["step"] = np.arange(int(n_steps.max()), dtype=np.int32)
        coords["metric"] = np.array(plan.sal_metrics, dtype=object)
    if plan.hm_models:
        hm = np.full((len(models), len(vids), plan.horizon, len(plan.hm_metrics)), np.nan)
        cnt = np.zeros((len(models), len(vids), plan.horizon), np.int64)
        for (kind, task), res in zip(tasks, results, strict=True):
            if kind != "hm":
                continue
            for k, spec in enumerate(task.models):
                hm[mix[spec.name], vix[task.video]] = res[0][k]
                cnt[mix[spec.name], vix[task.video]] = res[1][k]
        data["hm"] = (("model", "video", "horizon", "hm_metric"), hm)
        data["hm_count"] = (("model", "video", "horizon"), cnt)
        coords["horizon"] = np.arange(1, plan.horizon + 1, dtype=np.int32)
        coords["horizon_s"] = ("horizon", coords["horizon"] / plan.ref.rate_hz)
        coords["hm_metric"] = np.array(plan.hm_metrics, dtype=object)
    if plan.sp_models:
        sp = np.full((len(models), len(vids), len(plan.sp_metrics)), np.nan)
        for (kind, task), res in zip(tasks, results, strict=True):
            if kind != "scanpath":
                continue
            for k, spec in enumerate(task.models):
                sp[mix[spec.name], vix[task.video]] = res[k]
        data["scanpath"] = (("model", "video", "sp_metric"), sp)
        coords["sp_metric"] = np.array(plan.sp_metrics, dtype=object)
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(provenance(cfg, plan))
    return ds


def side_by_side(cfg: EvalConfig, parts: list[Any], plans: list[Plan]) -> Any:
    """Concatenate single-run results along ``model``; attributes describe the whole call."""
    import xarray as xr

    ds = xr.concat(
        parts,
        dim="model",
        data_vars="minimal",
        coords="minimal",
        compat="override",
        join="outer",
        combine_attrs="override",
    )
    notes = list(dict.fromkeys(n for plan in plans for n in plan.notes))
    origins = [p.origins for p in plans if p.hm_models]
    if any(
        o.keys() != origins[0].keys() or any(not np.array_equal(o[v], origins[0][v]) for v in o)
        for o in origins[1:]
    ):
        notes.append(
            "the runs forecast from different origins: HM scores are means over different "
            "origins per run (baselines: the first forecasting run's origins)"
        )
    attrs = provenance(cfg, plans[0])
    attrs["prediction_run_attrs"] = {
        r: p.predictions_attrs for r, p in zip(cfg.predictions, plans, strict=True)
    }
    attrs[SCORED_PREDICTIONS_ATTR] = {
        r: p.identity for r, p in zip(cfg.predictions, plans, strict=True)
    }
    attrs["notes"] = notes
    ds.attrs = jsonable(attrs)
    return ds
