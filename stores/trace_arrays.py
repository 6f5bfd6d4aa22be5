"""One video's arrays for the store from timestamped traces (the ``traces`` layout).

:func:`build_trace_arrays` turns the :class:`~pano.stores.traces.Trace` objects of one
video (every subject with its own timestamps) into the arrays of a ``videos/<name>``
group. The names of everything training, eval and the baselines read are those of the
PVS-HM layout (``rs_time``, ``hm_rs_xyz``, ``step``, ``step_time``, ``step_frame``,
``heatmap``, ``scanpath``, ``lat``, ``lon``, ``subject``), so they work unchanged; the raw
samples differ (``docs/store.md``, "Trace groups"):

* raw samples are per subject: ``time (subject, sample)`` seconds, NaN-padded after a
  subject's last sample; ``hm_xyz (subject, sample, xyz)`` canonical unit vectors (NaN
  where missing or padded), ``hm_lon``/``hm_lat (subject, sample)`` degrees derived from
  them, ``hm_valid (subject, sample)``, ``sample_count (subject,)``;
* ``hm_rs_xyz``: each subject slerped (:func:`pano.geometry.resample_directions`) onto the
  common grid ``rs_time = 0, 1/rate_hz, ... <= `` the last timestamp of any subject; a grid
  time that falls exactly on a sample takes that sample (bit for bit);
* ground truth on a time basis: step ``i`` is at ``step_time = i * step_frames / fps``
  (``fps``: the video file's, the data set's, or the nominal rate), ``step_frame = i *
  step_frames``; ``n_steps = floor(n_frames / step_frames) - drop_last_steps`` with
  ``n_frames = floor(duration_s * fps)``; each subject's direction at a step is its
  trace slerped at ``step_time`` (NaN outside its trace), and ``heatmap``/``scanpath``
  are made from those exactly as for PVS-HM (:func:`pano.heatmaps.heatmaps_for`);
* gaze, when present, in the eye-movement names: ``em_time (subject, em_sample)``,
  ``em_xyz``, ``em_lon``, ``em_lat``, ``em_valid``, ``em_nan_count`` (and ``eih_xyz``,
  eye-in-head vectors in the head frame, when the source gives them);
* the data set's own maps (:class:`~pano.stores.traces.SourceMap`) as
  ``source_map_head``/``source_map_eye`` ``(map_<kind>_frame, map_<kind>_row,
  map_<kind>_col)`` float32, labelled with their source and blur.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pano.errors import InputDataError
from pano.geometry import resample_directions, vec_to_lonlat
from pano.stores.ground_truth import (
    DEG_ATTRS,
    LONG_NAMES,
    XYZ_ATTRS,
    compute_heatmaps,
    head_array_specs,
)
from pano.stores.schema import HeatmapParams, ResampleParams
from pano.stores.traces import SourceMap, Trace
from pano.stores.writer import ArraySpec

_STEP_COORDS = "step_time step_frame"

#: ``long_name`` of the arrays whose meaning differs from the PVS-HM layout.
TRACE_LONG_NAMES: dict[str, str] = {
    **LONG_NAMES,
    "time": "time of each raw HM sample of each subject [s]; NaN after its last sample",
    "sample_count": "raw samples of each subject (the rest of its row is padding)",
    "hm_lat": "head latitude (+ up) from the unit vectors; NaN = missing or padding",
    "hm_lon": "head longitude (+ LEFT) from the unit vectors; NaN = missing or padding",
    "hm_valid": "True where the subject has a head sample",
    "nan_count": "missing head samples per subject (padding not counted)",
    "step_time": "time of each step [s] = step_frame / fps",
    "step_frame": "video frame index of each step (at the video's, data set's or nominal fps)",
    "scanpath": "head (lon, lat) slerped at each step's time; NaN = no sample there",
    "em_time": "time of each raw gaze sample of each subject [s]; NaN after its last",
    "em_lat": "gaze latitude (+ up) from the unit vectors; NaN = missing",
    "em_lon": "gaze longitude (+ LEFT) from the unit vectors; NaN = missing",
    "em_valid": "True where the subject has a gaze sample",
    "em_nan_count": "missing gaze samples per subject (padding not counted)",
    "eih_xyz": "eye-in-head unit vectors in the head frame (+x forward, +y left, +z up)",
    "source_map_head": "the data set's own head-movement saliency map (as shipped)",
    "source_map_eye": "the data set's own eye-movement saliency map (as shipped)",
}


def _spec(dims: tuple[str, ...], data: np.ndarray, name: str, **attrs: Any) -> ArraySpec:
    return ArraySpec(dims, data, {"long_name": TRACE_LONG_NAMES[name], **attrs})


def resample_exact(t: np.ndarray, xyz: np.ndarray, new_t: np.ndarray) -> np.ndarray:
    """Slerp ``xyz`` ``(N, 3)`` at times ``t`` ``(N,)`` s onto ``new_t`` ``(K,)`` s -> ``(K, 3)``.

    :func:`pano.geometry.resample_directions` (NaN outside ``[t[0], t[-1]]`` and across a
    NaN sample), except that a target time equal to a sample time takes that sample's
    vector bit for bit (so resampling a 5 Hz trace onto its own grid changes nothing).
    """
    out = resample_directions(t, xyz, new_t)
    idx = np.minimum(np.searchsorted(t, new_t), t.size - 1)
    hit = t[idx] == new_t
    out[hit] = xyz[idx[hit]]
    return out


def _padded(traces: list[Trace], field: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(time (M, n), xyz (M, n, 3), counts (M,))`` of one direction field, NaN-padded."""
    m = len(traces)
    time = np.full((m, n), np.nan)
    xyz = np.full((m, n, 3), np.nan)
    counts = np.zeros(m, dtype=np.int32)
    for i, tr in enumerate(traces):
        k = tr.t.size
        counts[i] = k
        time[i, :k] = tr.t
        v = getattr(tr, field)
        if v is not None:
            xyz[i, :k] = v
    return time, xyz, counts


def _lonlat(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    valid = np.isfinite(xyz).all(axis=-1)
    lon, lat = vec_to_lonlat(xyz)
    lon = np.where(valid, lon, np.nan)
    lat = np.where(valid, lat, np.nan)
    return np.asarray(lon), np.asarray(lat), valid


def _at_times(time: np.ndarray, xyz: np.ndarray, counts: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Each subject's vectors slerped at ``at`` -> ``(M, len(at), 3)`` (NaN outside)."""
    out = np.full((time.shape[0], at.size, 3), np.nan)
    for i, k in enumerate(counts):
        if k >= 2:
            out[i] = resample_exact(time[i, :k], xyz[i, :k], at)
    return out


def map_arrays(maps: list[SourceMap], dataset: str) -> dict[str, ArraySpec]:
    """The data set's own maps of one video as ``source_map_<kind>`` arrays.

    Raises:
        InputDataError: two maps of the same kind for the video, or a map that is not
            ``(N, H, W)``.

    """
    out: dict[str, ArraySpec] = {}
    for m in maps:
        key = f"source_map_{m.kind}"
        if key in out:
            raise InputDataError(
                f"{m.where or m.video}: a second {m.kind} map for video {m.video!r}; "
                "give one map per kind and video"
            )
        data = np.asarray(m.data, dtype=np.float32)
        if data.ndim != 3 or 0 in data.shape:
            raise InputDataError(
                f"{m.where or m.video}: map of video {m.video!r} has shape {data.shape}, "
                "expected (frames, rows, columns)"
            )
        n, h, w = data.shape
        dims = (f"map_{m.kind}_frame", f"map_{m.kind}_row", f"map_{m.kind}_col")
        attrs: dict[str, Any] = {
            "source": m.where,
            "dataset": dataset,
            "kind": m.kind,
            "rows": "from the top (north) of the ERP image",
            "cols": "from the left edge of the ERP image",
        }
        if m.blur_deg is not None:
            attrs["blur_deg"] = float(m.blur_deg)
        spec = _spec(dims, data, key, **attrs)
        spec.chunks = (1, h, w)
        spec.shards = (min(n, 16), h, w)
        out[key] = spec
    return out


def build_trace_arrays(
    traces: list[Trace],
    subject_index: dict[str, int],
    fps: float,
    duration_s: float | None,
    heatmap: HeatmapParams,
    resample: ResampleParams,
    name: str,
    device: Any = "cpu",
) -> tuple[dict[str, ArraySpec], dict[str, Any]]:
    """All arrays of one trace group, and the numbers its attributes need.

    Args:
        traces: the video's traces (checked, one per subject), in subject order.
        subject_index: subject id -> index in the root ``subjects`` (the ``subject``
            coordinate holds these indices).
        fps: frames per second of the step grid (the video's, the data set's or nominal).
        duration_s: the video's length in seconds; None = the last timestamp of any trace.
        heatmap, resample: ground-truth parameters (the store's).
        name: video name (for messages).
        device: torch device for the heatmaps.

    Returns:
        ``(arrays, info)``; ``info`` has ``n_subjects, n_samples, n_nan_samples, n_steps,
        n_frames, duration_s, has_em`` (and ``n_em_samples, n_em_nan_samples`` with gaze).

    Raises:
        InputDataError: the video is too short for one step.

    """
    m = len(traces)
    n = max(tr.t.size for tr in traces)
    time, xyz, counts = _padded(traces, "head", n)
    lon, lat, valid = _lonlat(xyz)
    end = float(np.nanmax(time))
    duration = float(duration_s) if duration_s is not None else end
    n_frames = max(1, math.floor(duration * fps + 1e-6))
    n_all = n_frames // heatmap.step_frames
    n_steps = n_all - heatmap.drop_last_steps
    if n_steps < 1:
        raise InputDataError(
            f"video '{name}': {duration:.6g} s at {fps:g} fps give {n_all} steps of "
            f"{heatmap.step_frames} frames; after dropping the last {heatmap.drop_last_steps} "
            "none is left (lower heatmap.step_frames or heatmap.drop_last_steps)"
        )
    step_frame = np.arange(n_steps, dtype=np.int64) * heatmap.step_frames
    step_time = step_frame.astype(np.float64) / fps
    rs_time = np.arange(0.0, end + 1e-9, 1.0 / resample.rate_hz)
    rs = _at_times(time, xyz, counts, rs_time)
    at_step = _at_times(time, xyz, counts, step_time)  # (M, S, 3)
    s_lon, s_lat, _ = _lonlat(at_step.transpose(1, 0, 2))  # (S, M)
    maps = compute_heatmaps(s_lon, s_lat, heatmap, device)
    padding = np.arange(n)[None, :] >= counts[:, None]
    nan_count = ((~valid) & ~padding).sum(axis=1).astype(np.int32)
    subj = np.array([subject_index[tr.subject] for tr in traces], dtype=np.int32)
    sub, t2 = ("subject",), ("subject", "sample")
    arrays: dict[str, ArraySpec] = {
        "subject": _spec(sub, subj, "subject"),
        "sample_count": _spec(sub, counts, "sample_count"),
        "time": _spec(t2, time, "time"),
        "step": _spec(("step",), np.arange(n_steps, dtype=np.int32), "step"),
        "step_time": _spec(("step",), step_time, "step_time", fps=fps),
        "step_frame": _spec(("step",), step_frame.astype(np.int32), "step_frame"),
        **head_array_specs(
            sample_dim="sample", lat=lat, lon=lon, xyz=xyz, valid=valid, nan_count=nan_count,
            rs_time=rs_time, rs=rs, maps=maps, s_lon=s_lon, s_lat=s_lat, heatmap=heatmap,
            resample=resample, step_coords=_STEP_COORDS, long_names=TRACE_LONG_NAMES,
        ),
    }  # fmt: skip
    info: dict[str, Any] = {
        "n_subjects": m,
        "n_samples": n,
        "n_nan_samples": int(nan_count.sum()),
        "n_steps": n_steps,
        "n_frames": n_frames,
        "duration_s": duration,
        "has_em": any(tr.gaze is not None for tr in traces),
    }
    if info["has_em"]:
        e_time, e_xyz, _ = _padded(traces, "gaze", n)
        for i, tr in enumerate(traces):
            if tr.gaze is None:
                e_time[i] = np.nan  # no gaze for this subject: an empty row
        e_lon, e_lat, e_valid = _lonlat(e_xyz)
        e_pad = ~np.isfinite(e_time)
        e_nan = ((~e_valid) & ~e_pad).sum(axis=1).astype(np.int32)
        et2, et3 = ("subject", "em_sample"), ("subject", "em_sample", "xyz")
        arrays["em_time"] = _spec(et2, e_time, "em_time")
        arrays["em_lat"] = _spec(et2, e_lat, "em_lat", **DEG_ATTRS)
        arrays["em_lon"] = _spec(et2, e_lon, "em_lon", **DEG_ATTRS)
        arrays["em_xyz"] = _spec(et3, e_xyz, "em_xyz", **XYZ_ATTRS)
        arrays["em_valid"] = _spec(et2, e_valid, "em_valid")
        arrays["em_nan_count"] = _spec(sub, e_nan, "em_nan_count")
        info.update(n_em_samples=n, n_em_nan_samples=int(e_nan.sum()))
        if any(tr.eye_in_head is not None for tr in traces):
            _, eih, _ = _padded(traces, "eye_in_head", n)
            arrays["eih_xyz"] = _spec(et3, eih, "eih_xyz", **XYZ_ATTRS)
    return arrays, info
