"""Driver side of ``pano eval``'s baselines: what they learn from the TRAIN split only.

The FCB width (maximum likelihood) and the equator-bias latitude profile are fitted on
the head points of the train split's complete videos - never on the evaluated split -
and passed to the worker tasks as parameters (:mod:`pano.pipelines.eval.tasks` computes
the maps). Conventions: ``docs/eval.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pano.errors import StoreError
from pano.pipelines.eval.config import EvalConfig
from pano.pipelines.eval.tasks import lonlat_vectors


def fit_on_train(
    cfg: EvalConfig, root_attrs: Any, required: set[str], optional: set[str]
) -> dict[str, Any]:
    """Fit the FCB width and the equator-bias profile on the TRAIN split (never the test split).

    ``required`` baselines raise when the train split is empty; ``optional`` ones (the
    equator bias as the information-gain baseline) are then left out.

    Returns:
        ``train_videos``, and as needed ``fcb_sigma_deg`` (degrees) with ``fcb_source``,
        ``equator_profile`` (per heatmap row, north to south) with ``equator_source``,
        and ``train_points`` (valid head points used).

    """
    from pano.baselines import equator_bias_map, fit_fcb_sigma
    from pano.stores import list_videos, open_root, read_video_array

    complete = set(list_videos(cfg.store))
    train = sorted(v for v in root_attrs.splits.train if v in complete)
    fitted: dict[str, Any] = {"train_videos": train}
    need = set(required | optional)
    if cfg.saliency.fcb_sigma_deg is not None:
        fitted["fcb_sigma_deg"] = float(cfg.saliency.fcb_sigma_deg)
        fitted["fcb_source"] = "config"
        need.discard("fcb")
    if not need:
        return fitted
    if not train:
        if need & required:
            raise StoreError(
                f"{cfg.store}: baselines {sorted(need & required)} are fitted on the train split, "
                "which has no complete videos; drop them with --baselines or set "
                "saliency.fcb_sigma_deg"
            )
        return fitted
    root = open_root(cfg.store)
    if cfg.target == "eye":  # fitted on the train split's eye fixations, active per step
        from pano.pipelines.eval.eye import check_eye_events, eye_lonlat

        check_eye_events(cfg.store, train, "the train split (fitted baselines)")
        ll = np.concatenate([eye_lonlat(root, v).reshape(-1, 2) for v in train])
    else:
        ll = np.concatenate(
            [
                np.asarray(read_video_array(root, v, "scanpath"), dtype=np.float64).reshape(-1, 2)
                for v in train
            ]
        )
    heat = root_attrs.heatmap
    points = "eye fixations (active per step)" if cfg.target == "eye" else "head points"
    if "fcb" in need:
        fitted["fcb_sigma_deg"] = fit_fcb_sigma(lonlat_vectors(ll))
        fitted["fcb_source"] = f"maximum likelihood on the train split's {points}"
    if "equator" in need:
        sigma = heat.sigma_deg
        if cfg.target == "eye":  # the eye ground truth's kernel
            from pano.pipelines.eval.eye import eye_heatmap_params

            sigma = eye_heatmap_params(root, train[0]).sigma_deg
        m = equator_bias_map(ll[:, 1], heat.height, heat.width, sigma)
        fitted["equator_profile"] = m[:, 0]
        fitted["equator_source"] = (
            "longitude-averaged great-circle Gaussians (the ground truth's sigma) at the "
            f"train split's {points} latitudes"
        )
    fitted["train_points"] = int(np.isfinite(ll).all(1).sum())
    return fitted
