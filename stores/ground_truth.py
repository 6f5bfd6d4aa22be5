"""One video's arrays for the store: raw HM/EM, unit vectors, resampled HM, DHP ground truth.

:func:`build_video_arrays` turns a validated ``[n_samples, 2M]`` HM matrix (and optionally
EM) plus the probed video into the arrays of a ``videos/<name>`` group (names, dims and
meanings in ``docs/store.md``). The ground truth follows DHP:

* ``samples_per_frame = n_samples / n_frames`` (read from the data, never assumed 2);
* one *step* every ``step_frames`` video frames: step ``i`` is frame ``i * step_frames``,
  time ``i * step_frames / fps`` and HM sample ``round(i * samples_per_step)`` with
  ``samples_per_step = samples_per_frame * step_frames`` (rounding half up);
* there are ``floor(n_frames / step_frames)`` steps, of which the last
  ``drop_last_steps`` are dropped;
* the heatmap of a step is :func:`pano.heatmaps.heatmaps_for` (the store's ``heatmap``
  parameters, passed whole) of the subjects' HM points at that sample (NaN subjects left
  out), computed in float64 in torch (on the GPU when asked) and stored as float32.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pano.errors import InputDataError
from pano.geometry import lonlat_to_vec, resample_directions
from pano.stores.schema import HeatmapParams, ResampleParams
from pano.stores.writer import ArraySpec


@dataclass(frozen=True)
class StepGrid:
    """The ground-truth time grid of one video."""

    samples_per_frame: float
    n_steps: int
    step_frame: np.ndarray  # (S,) int32
    step_sample: np.ndarray  # (S,) int32
    step_time: np.ndarray  # (S,) float64 seconds


def samples_per_frame(
    n_samples: int, n_frames: int, name: str, what: str = "HM", tolerance: float = 0.05
) -> float:
    """DHP's ``n_samples / n_frames``, checked to be close to a whole number >= 1.

    Raises:
        InputDataError: the ratio is not within ``tolerance`` of an integer >= 1 - the
            video is shorter or longer than its data (wrong or truncated file).

    """
    spf = n_samples / n_frames
    near = round(spf)
    if near < 1 or abs(spf - near) > tolerance:
        hint = (
            "the video is shorter than its data (truncated or wrong file?)"
            if spf > 1
            else "the video is longer than its data (wrong file?)"
        )
        raise InputDataError(
            f"video '{name}': {what} has {n_samples} samples but the video has {n_frames} frames "
            f"({spf:.4g} samples per frame, not a whole number): {hint}"
        )
    return spf


def step_grid(
    n_samples: int,
    n_frames: int,
    fps: float,
    params: HeatmapParams,
    name: str,
    tolerance: float = 0.05,
) -> StepGrid:
    """The step grid of a video (see the module docstring).

    Raises:
        InputDataError: bad samples/frames ratio, or the video is too short for one step
            after dropping ``drop_last_steps``.

    """
    spf = samples_per_frame(n_samples, n_frames, name, tolerance=tolerance)
    n_all = n_frames // params.step_frames
    n_steps = n_all - params.drop_last_steps
    if n_steps < 1:
        raise InputDataError(
            f"video '{name}': {n_frames} frames give {n_all} steps of {params.step_frames} frames; "
            f"after dropping the last {params.drop_last_steps} none is left (lower "
            "heatmap.step_frames or heatmap.drop_last_steps)"
        )
    i = np.arange(n_steps, dtype=np.int64)
    sps = spf * params.step_frames
    sample = np.minimum(np.floor(i * sps + 0.5).astype(np.int64), n_samples - 1)
    frame = i * params.step_frames
    return StepGrid(
        samples_per_frame=spf,
        n_steps=n_steps,
        step_frame=frame.astype(np.int32),
        step_sample=sample.astype(np.int32),
        step_time=frame.astype(np.float64) / fps,
    )


def compute_heatmaps(
    lon: np.ndarray, lat: np.ndarray, params: HeatmapParams, device: Any = "cpu"
) -> np.ndarray:
    """Heatmaps ``(S, H, W)`` float32 of points ``lon, lat`` ``(S, M)`` degrees (NaN = missing)."""
    import torch

    from pano.heatmaps import heatmaps_for

    pts = torch.as_tensor(lonlat_to_vec(lon, lat), dtype=torch.float64, device=device)
    maps = heatmaps_for(pts, params)
    return maps.to(torch.float32).cpu().numpy()


def _xyz_valid(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    valid = ~(np.isnan(lat) | np.isnan(lon))
    xyz = lonlat_to_vec(lon, lat)
    xyz[~valid] = np.nan
    return xyz, valid


#: Attributes of arrays in degrees / of unit-vector arrays (shared by every group layout).
DEG_ATTRS = {"units": "degrees"}
XYZ_ATTRS = {"components": "x y z", "frame": "pano canonical: +x front, +y left, +z up"}
_STEP_COORDS = "step_time step_frame step_sample"

#: ``long_name`` attribute of every array (times are seconds since the video start).
LONG_NAMES: dict[str, str] = {
    "subject": "subject index (ids: root attr 'subjects')",
    "time": "time of each raw HM sample [s]",
    "step": "ground-truth step index",
    "step_time": "time of each step [s] = step_frame / fps",
    "step_frame": "video frame index of each step",
    "step_sample": "HM sample index used for each step",
    "lat": "heatmap row latitude (+ up)",
    "lon": "heatmap column longitude (+ LEFT)",
    "rs_time": "time of the resampled HM grid [s]",
    "hm_lat": "head latitude as given (+ up); NaN = missing",
    "hm_lon": "head longitude as given (+ LEFT); NaN = missing",
    "hm_xyz": "head direction unit vectors; NaN = missing",
    "hm_valid": "True where the source HM sample is not NaN",
    "hm_rs_xyz": "head direction, slerp-resampled; NaN = gap",
    "nan_count": "NaN HM samples per subject",
    "heatmap": "ground-truth HM heatmap (DHP recipe)",
    "scanpath": "HM (lon, lat) at each step's sample; NaN = missing",
    "em_time": "time of each raw EM sample [s]",
    "em_lat": "gaze latitude as given (+ up); NaN = missing",
    "em_lon": "gaze longitude as given (+ LEFT); NaN = missing",
    "em_xyz": "gaze direction unit vectors; NaN = missing",
    "em_valid": "True where the source EM sample is not NaN",
    "em_nan_count": "NaN EM samples per subject",
}


def _spec(dims: tuple[str, ...], data: np.ndarray, name: str, **attrs: Any) -> ArraySpec:
    return ArraySpec(dims, data, {"long_name": LONG_NAMES[name], **attrs})


def head_array_specs(
    *,
    sample_dim: str,
    lat: np.ndarray,
    lon: np.ndarray,
    xyz: np.ndarray,
    valid: np.ndarray,
    nan_count: np.ndarray,
    rs_time: np.ndarray,
    rs: np.ndarray,
    maps: np.ndarray,
    s_lon: np.ndarray,
    s_lat: np.ndarray,
    heatmap: HeatmapParams,
    resample: ResampleParams,
    step_coords: str,
    long_names: Mapping[str, str] = LONG_NAMES,
) -> dict[str, ArraySpec]:
    """The head-movement arrays every video-group layout shares, with the same names.

    Args:
        sample_dim: the raw samples' dimension (``"time"`` for PVS-HM groups, ``"sample"``
            for trace groups).
        lat, lon: ``(M, T)`` raw head angles in degrees (+ up, + LEFT); ``xyz`` ``(M, T, 3)``
            the unit vectors; ``valid`` ``(M, T)``; ``nan_count`` ``(M,)``.
        rs_time, rs: the fixed-rate grid ``(R,)`` s and ``(M, R, 3)`` resampled vectors.
        maps: ``(S, H, W)`` heatmaps; ``s_lon``, ``s_lat``: ``(S, M)`` scanpath degrees.
        heatmap, resample: the store's parameters.
        step_coords: the ``coordinates`` attribute of the per-step arrays.
        long_names: ``long_name`` of each array (a layout may word some differently).

    """

    def spec(dims: tuple[str, ...], data: np.ndarray, name: str, **attrs: Any) -> ArraySpec:
        return ArraySpec(dims, data, {"long_name": long_names[name], **attrs})

    hm_lon_c, hm_lat_c = heatmap.grid_lonlat()
    t, s3 = ("subject", sample_dim), ("subject", sample_dim, "xyz")
    return {
        "lat": spec(("lat",), hm_lat_c, "lat", **DEG_ATTRS),
        "lon": spec(("lon",), hm_lon_c, "lon", **DEG_ATTRS),
        "rs_time": spec(("rs_time",), rs_time, "rs_time", rate_hz=resample.rate_hz),
        "hm_lat": spec(t, lat, "hm_lat", **DEG_ATTRS),
        "hm_lon": spec(t, lon, "hm_lon", **DEG_ATTRS),
        "hm_xyz": spec(s3, xyz, "hm_xyz", **XYZ_ATTRS),
        "hm_valid": spec(t, valid, "hm_valid"),
        "hm_rs_xyz": spec(("subject", "rs_time", "xyz"), rs, "hm_rs_xyz", **XYZ_ATTRS),
        "nan_count": spec(("subject",), nan_count, "nan_count"),
        "heatmap": spec(
            ("step", "lat", "lon"), maps, "heatmap", normalize=heatmap.normalize,
            coordinates=step_coords,
        ),
        "scanpath": spec(
            ("step", "subject", "lonlat"), np.stack([s_lon, s_lat], -1), "scanpath", **DEG_ATTRS,
            components="lon lat", coordinates=step_coords,
        ),
    }  # fmt: skip


def build_video_arrays(
    hm: np.ndarray,
    n_frames: int,
    fps: float,
    heatmap: HeatmapParams,
    resample: ResampleParams,
    name: str,
    em: np.ndarray | None = None,
    device: Any = "cpu",
    spf_tolerance: float = 0.05,
) -> tuple[dict[str, ArraySpec], dict[str, Any]]:
    """All arrays of one video group, and the numbers its attributes need.

    Args:
        hm: validated HM matrix ``[n_samples, 2M]`` (see
            :func:`pano.stores.pvs_hm.validate_angles`).
        n_frames, fps: from the probed video.
        heatmap, resample: ground-truth parameters.
        name: video name (for messages).
        em: optional validated EM matrix ``[n_em_samples, 2M]`` (same subjects).
        device: torch device for the heatmaps.
        spf_tolerance: allowed distance of ``n_samples / n_frames`` from a whole number.

    Returns:
        ``(arrays, info)`` with ``info`` keys ``samples_per_frame, n_subjects, n_samples,
        n_nan_samples, n_steps`` and for EM ``em_samples_per_frame, n_em_samples,
        n_em_nan_samples``.

    Raises:
        InputDataError: bad samples/frames ratio, too short, EM subjects differ from HM.

    """
    from pano.stores.pvs_hm import split_lat_lon

    n_samples, cols = hm.shape
    m = cols // 2
    grid = step_grid(n_samples, n_frames, fps, heatmap, name, spf_tolerance)
    spf = grid.samples_per_frame
    lat, lon = split_lat_lon(hm)  # (M, T)
    xyz, valid = _xyz_valid(lat, lon)
    time = np.arange(n_samples, dtype=np.float64) / (fps * spf)
    rs_time = np.arange(0.0, time[-1] + 1e-9, 1.0 / resample.rate_hz)
    rs = resample_directions(time, xyz, rs_time)
    s_lat = lat[:, grid.step_sample].T  # (S, M)
    s_lon = lon[:, grid.step_sample].T
    maps = compute_heatmaps(s_lon, s_lat, heatmap, device)
    nan_count = (~valid).sum(axis=1).astype(np.int32)
    sub = ("subject",)
    arrays: dict[str, ArraySpec] = {
        "subject": _spec(sub, np.arange(m, dtype=np.int32), "subject"),
        "time": _spec(("time",), time, "time"),
        "step": _spec(("step",), np.arange(grid.n_steps, dtype=np.int32), "step"),
        "step_time": _spec(("step",), grid.step_time, "step_time"),
        "step_frame": _spec(("step",), grid.step_frame, "step_frame"),
        "step_sample": _spec(("step",), grid.step_sample, "step_sample"),
        **head_array_specs(
            sample_dim="time", lat=lat, lon=lon, xyz=xyz, valid=valid, nan_count=nan_count,
            rs_time=rs_time, rs=rs, maps=maps, s_lon=s_lon, s_lat=s_lat, heatmap=heatmap,
            resample=resample, step_coords=_STEP_COORDS,
        ),
    }  # fmt: skip
    info: dict[str, Any] = {
        "samples_per_frame": spf,
        "n_subjects": m,
        "n_samples": n_samples,
        "n_nan_samples": int((~valid).sum()),
        "n_steps": grid.n_steps,
    }
    if em is not None:
        n_em, em_cols = em.shape
        if em_cols != cols:
            raise InputDataError(
                f"video '{name}': EM has {em_cols // 2} subjects but HM has {m}; "
                "the files do not match"
            )
        em_spf = samples_per_frame(n_em, n_frames, name, "EM", spf_tolerance)
        e_lat, e_lon = split_lat_lon(em)
        e_xyz, e_valid = _xyz_valid(e_lat, e_lon)
        em_time = np.arange(n_em, dtype=np.float64) / (fps * em_spf)
        et, et3 = ("subject", "em_time"), ("subject", "em_time", "xyz")
        e_nan = (~e_valid).sum(axis=1).astype(np.int32)
        arrays["em_time"] = _spec(("em_time",), em_time, "em_time")
        arrays["em_lat"] = _spec(et, e_lat, "em_lat", **DEG_ATTRS)
        arrays["em_lon"] = _spec(et, e_lon, "em_lon", **DEG_ATTRS)
        arrays["em_xyz"] = _spec(et3, e_xyz, "em_xyz", **XYZ_ATTRS)
        arrays["em_valid"] = _spec(et, e_valid, "em_valid")
        arrays["em_nan_count"] = _spec(("subject",), e_nan, "em_nan_count")
        info.update(
            em_samples_per_frame=em_spf, n_em_samples=n_em, n_em_nan_samples=int((~e_valid).sum())
        )
    return arrays, info
