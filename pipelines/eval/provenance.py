"""Provenance of ``pano eval``'s results: what was scored, how, with which versions.

Everything here ends up as JSON attributes of ``results/<run>`` (``docs/eval.md``).
"""

from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pano._version import __version__
from pano.pipelines.eval.config import EvalConfig
from pano.stores.schema import COMPLETE_ATTR, SCORED_PREDICTIONS_ATTR

if TYPE_CHECKING:
    from pano.pipelines.eval.plan import Plan


def jsonable(v: Any) -> Any:
    """``v`` as JSON-ready values (NumPy scalars/arrays to Python, non-finite floats to None)."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist())
    if isinstance(v, (np.floating, float)):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, Path):
        return str(v)
    return v


#: What each target scores against (the results' ``ground_truth`` attribute).
GROUND_TRUTH: dict[str, str] = {
    "head": "head: videos/<video>/heatmap (density) and the subjects' head points "
    "videos/<video>/scanpath (fixations, scanpaths)",
    "eye": "eye: videos/<video>/em/eye_heatmap (density), the fixations of the em fixation "
    "list active at each step (fixations) and each subject's fixation centres in order "
    "(scanpaths), from `pano em detect`",
}
FIXATIONS: dict[str, str] = {
    "head": "each subject's head point at the step, in the map pixel containing it",
    "eye": "each subject's eye fixation active at the step (start <= step_time < start + "
    "duration), its centre in the map pixel containing it; none during saccades and blinks",
}
SCANPATHS: dict[str, str] = {
    "head": "scanpaths = each subject's head points at the steps",
    "eye": "scanpaths = each subject's fixation centres in order of onset (no durations: no "
    "metric here uses them)",
}


def provenance(cfg: EvalConfig, plan: Plan) -> dict[str, Any]:
    """The results' attributes (JSON-ready).

    Configuration, versions, fitted baselines, conventions, notes, and exactly which
    predictions were scored (``scored_predictions``: checkpoint, written-at time and
    content hashes per run; see :func:`pano.stores.prediction_identity`).
    """
    from pano.metrics.profiles import get_profile

    fitted = {k: v for k, v in plan.fitted.items() if k != "equator_profile"}
    if "equator_profile" in plan.fitted:
        fitted["equator_profile"] = np.round(np.asarray(plan.fitted["equator_profile"]), 8)
    attrs = {
        "pano_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "store": cfg.store,
        "split": cfg.split,
        "target": cfg.target,
        "ground_truth": GROUND_TRUTH[cfg.target],
        "run": cfg.run_name,
        "predictions": list(cfg.predictions),
        "seed": cfg.seed,
        "profile": get_profile(cfg.profile).to_attrs(),
        "config": cfg.model_dump(mode="json"),
        "ground_truth_heatmap": plan.ground_truth_heatmap.model_dump(),
        "resample_rate_hz": plan.root_attrs.resample.rate_hz,
        "dataset": plan.root_attrs.dataset,
        "fitted_baselines": fitted,
        "prediction_run_attrs": {r: plan.predictions_attrs for r in cfg.predictions[:1]},
        SCORED_PREDICTIONS_ATTR: {r: plan.identity for r in cfg.predictions[:1]},
        "conventions": {
            "saliency": "per step; inter_observer = one half of the subjects' heatmap scored "
            "against the other half's map and fixations (both directions averaged)",
            "fixations": FIXATIONS[cfg.target],
            "sauc_negatives": f"fixations of {cfg.saliency.sauc_frames} frames of other videos "
            "of the split, drawn with seed (seed, video, step)",
            "hm": "mean over (subject, origin) per horizon step; horizon h = rs_time[origin + h]",
            "scanpath": "whole-video scanpaths; mean over (predicted, true) pairs; true "
            + SCANPATHS[cfg.target],
            "random_seeds": "stable_seed(seed, video, step, metric)",
        },
        "notes": plan.notes,
        "protocol": cfg.protocol,
        COMPLETE_ATTR: False,
    }
    if plan.track is not None:
        attrs["track_protocol"] = dict(plan.track)
        attrs["conventions"]["hm"] = (
            "TRACK's protocol: a window at every rs sample t in [init_window, n - end_window) "
            "of every subject; horizon h = rs_time[t + h]; per video the mean over its "
            "(subject, window) pairs; overall (tables) the mean over ALL windows pooled "
            "(sum(hm * hm_count) / sum(hm_count)), as TRACK's errors_per_timestep"
        )
    return jsonable(attrs)
