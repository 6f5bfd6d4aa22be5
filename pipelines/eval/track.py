"""TRACK's head-motion benchmark protocol in ``pano eval`` (``--protocol track``).

TRACK (Romero Rondon et al., TPAMI 2021; code: ``MiguelFRomeroR/Analysis-of-head-motion-
prediction-in-VR``, ``training_procedure.py`` and ``SampledDataset.py``) scores forecasts on
5 Hz head directions like this, and this module reproduces it on a store's resampled grid
(``rs_time``, ``hm_rs_xyz``):

* a window at every sample index ``t`` in ``[init_window, n - end_window)`` of every trace
  of the evaluated split (``SampledDataset.partition_in_train_and_test*``); the model sees
  the history before ``t`` and the position at ``t``; the ground truth is
  ``xyz[t + 1 .. t + H]`` (``groundtruth = all_traces[video][user][x_i+1:x_i+H_WINDOW+1]``).
  In pano's terms ``t`` is the forecast *origin* and horizon ``h`` is ``xyz[t + h]``;
* the metric is the orthodromic (great-circle) distance per horizon step
  (``Utils.compute_orthodromic_distance``: ``arccos`` of the clipped dot product of the
  normalised vectors, radians; pano reports degrees with ``atan2(|u x v|, u . v)``, the
  same angle, more accurate near 0);
* aggregation (``training_procedure.py``, ``EVALUATE_MODEL``): ``errors_per_timestep[t]``
  collects the error of EVERY test window (all videos and users pooled) at step ``t`` and
  the table is ``np.mean(errors_per_timestep[t])``; ``errors_per_video[video][t]`` is the
  same per video. So "overall" is the mean over all windows, NOT the mean of the video
  means: a video with more users or more samples weighs more. :func:`pooled_curves`
  computes exactly that from the stored per-video means and counts.

Window sizes: ``m_window = 5`` (1 s) and ``h_window = 25`` (5 s) at 5 Hz; the README's
reproduction commands pass ``-init_window 30`` for every data set (skip the first 6 s);
without it the code uses ``init_window = m_window`` and ``end_window = h_window``. The
defaults per data set are :data:`DATASET_DEFAULTS`, the values used are recorded in the
results (attribute ``track_protocol``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from pano.config import PanoConfig
from pano.errors import ConfigError, StoreError

#: TRACK's data-set names and init windows (README reproduction commands), by the store's
#: ``dataset`` attribute. Every published run uses -init_window 30 -m_window 5 -h_window 25.
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "pvs-hm": {"track_name": "Xu_PAMI_18", "init_window": 30},
    "synthetic-pvs-hm": {"track_name": "Xu_PAMI_18", "init_window": 30},
    "salient360": {"track_name": "David_MMSys_18", "init_window": 30},
    "fan-nossdav17": {"track_name": "Fan_NOSSDAV_17", "init_window": 30},
    "nguyen-mm18": {"track_name": "Nguyen_MM_18", "init_window": 30},
    "xu-cvpr18": {"track_name": "Xu_CVPR_18", "init_window": 30},
    "avtrack360": {"track_name": "AVTrack360", "init_window": 30},
}
#: Used for a data set TRACK does not name (its code's own fallback is init = m_window;
#: the README's commands all use 30, which is what pano uses).
FALLBACK_INIT_WINDOW = 30

#: The only metric of the protocol.
TRACK_METRIC = "orthodromic_deg"


class TrackParams(PanoConfig):
    """TRACK's windows, in samples of the store's resampled grid (5 Hz: 0.2 s each)."""

    m_window: int = Field(default=5, ge=1, description="history samples (TRACK M; 1 s at 5 Hz)")
    h_window: int = Field(
        default=25, ge=1, description="horizon samples scored (TRACK H; 5 s at 5 Hz)"
    )
    init_window: int | None = Field(
        default=None,
        ge=0,
        description="first window index; None = the data set's default (30 = 6 s)",
    )
    end_window: int | None = Field(
        default=None, ge=0, description="windows end before n - end_window; None = h_window"
    )


def resolve(params: TrackParams, dataset: str) -> dict[str, Any]:
    """The windows used for a store of ``dataset``: explicit values, else its defaults.

    Returns:
        ``m_window``, ``h_window``, ``init_window``, ``end_window`` (samples) and
        ``source`` (where the init window came from), JSON-ready.

    Raises:
        ConfigError: ``init_window < m_window`` (no full history) or
            ``end_window < h_window`` (no full horizon).

    """
    known = DATASET_DEFAULTS.get(dataset)
    if params.init_window is not None:
        init, source = params.init_window, "configured (track.init_window)"
    elif known is not None:
        init = int(known["init_window"])
        source = f"TRACK's README command for {known['track_name']} (-init_window {init})"
    else:
        init = FALLBACK_INIT_WINDOW
        source = f"data set {dataset!r} unknown to TRACK: its README's -init_window {init}"
    end = params.h_window if params.end_window is None else params.end_window
    if init < params.m_window:
        raise ConfigError(
            f"track.init_window={init} is below track.m_window={params.m_window}: the first "
            f"window would lack history; set track.init_window to at least {params.m_window}"
        )
    if end < params.h_window:
        raise ConfigError(
            f"track.end_window={end} is below track.h_window={params.h_window}: the last "
            f"windows would lack a full horizon; set track.end_window to at least "
            f"{params.h_window}"
        )
    return {
        "m_window": params.m_window,
        "h_window": params.h_window,
        "init_window": init,
        "end_window": end,
        "init_source": source,
        "dataset": dataset,
    }


def track_origins(n_samples: int, windows: dict[str, Any]) -> np.ndarray:
    """TRACK's window indices ``t in [init_window, n - end_window)`` (int64, maybe empty)."""
    return np.arange(windows["init_window"], n_samples - windows["end_window"], dtype=np.int64)


def hm_video_shape(location: Any, name: str) -> Any:
    """A :class:`pano.stores.VideoShape` from the resampled head data alone.

    The TRACK protocol needs ``rs_time`` and ``hm_rs_xyz`` only (no heatmaps, frames or
    videos): ``n_steps`` and ``grid`` are taken from the heatmap when the group has one,
    else 0.

    Raises:
        StoreError: the group has no ``rs_time`` or ``hm_rs_xyz``, or their lengths differ.

    """
    from pano.stores import VideoShape
    from pano.stores.reader import array_at, group_at
    from pano.stores.schema import VIDEOS_GROUP

    g = group_at(location, f"{VIDEOS_GROUP}/{name}")
    arrays = set(g.array_keys())
    for arr in ("rs_time", "hm_rs_xyz"):
        if arr not in arrays:
            raise StoreError(
                f"{VIDEOS_GROUP}/{name} has no '{arr}' array: the TRACK protocol needs the "
                "5 Hz resampled head directions (rs_time, hm_rs_xyz); re-run the ingest"
            )
    where = f"{VIDEOS_GROUP}/{name}"
    rs = array_at(g, "hm_rs_xyz").shape
    n_time = array_at(g, "rs_time").shape[0]
    if n_time != rs[1]:
        raise StoreError(
            f"{where}: rs_time has {n_time} samples, hm_rs_xyz {rs[1]}; re-run the ingest"
        )
    n_steps, grid = 0, (0, 0)
    if "heatmap" in arrays:
        hm = array_at(g, "heatmap").shape
        n_steps, grid = int(hm[0]), (int(hm[1]), int(hm[2]))
    return VideoShape(name, n_steps, int(rs[0]), int(rs[1]), grid)


def prediction_index(
    run: str, video: str, pred_origins: np.ndarray, wanted: np.ndarray, history: Any
) -> np.ndarray:
    """Positions of TRACK's windows ``wanted`` along a prediction run's ``origin`` axis.

    Raises:
        ConfigError: the run did not forecast from some of the windows (one line naming
            the first missing one and what to change).

    """
    pos = {int(o): i for i, o in enumerate(np.asarray(pred_origins).tolist())}
    missing = [int(o) for o in wanted if int(o) not in pos]
    if missing:
        raise ConfigError(
            f"predictions/{run}/{video} has no forecast from origin {missing[0]} "
            f"({len(missing)} of TRACK's {len(wanted)} windows missing; the run forecasts "
            f"from origins {int(pred_origins.min()) if len(pred_origins) else 'none'}..."
            f"{int(pred_origins.max()) if len(pred_origins) else ''}, history {history}): "
            "predict with data.history <= track.init_window + 1 and data.horizon >= "
            "track.h_window, or raise track.init_window"
        )
    return np.array([pos[int(o)] for o in wanted], dtype=np.int64)


def pooled_curves(ds: Any) -> np.ndarray:
    """TRACK's overall error per horizon: the mean over ALL windows (videos pooled).

    ``hm (model, video, horizon, metric)`` holds per-video means over (subject, origin)
    and ``hm_count (model, video, horizon)`` how many windows each mean covers, so the
    pooled mean is ``sum(mean * count) / sum(count)`` over videos (TRACK's
    ``np.mean(errors_per_timestep[t])``).

    Returns:
        ``(model, horizon, metric)`` float64; NaN where a model has no window.

    """
    hm = np.asarray(ds["hm"].values, dtype=np.float64)
    cnt = np.asarray(ds["hm_count"].values, dtype=np.float64)[..., None]
    total = np.where(cnt > 0, np.nan_to_num(hm) * cnt, 0.0).sum(axis=1)
    n = cnt.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.where(n > 0, n, 1.0), np.nan)


def is_track(ds_or_attrs: Any) -> bool:
    """Whether a results dataset (or its attrs) was scored under TRACK's protocol."""
    attrs = getattr(ds_or_attrs, "attrs", ds_or_attrs)
    return attrs.get("protocol") == "track"
