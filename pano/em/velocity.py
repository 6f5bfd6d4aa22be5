"""Gaze preparation on the sphere: checks, resampling, smoothing, angular velocity.

Gaze is a series of unit vectors in pano's world frame (+x front, +y left, +z up) at
timestamps in seconds; a missing sample (blink, tracking loss) is a row of NaN. Angles
are great-circle angles in degrees (never ERP pixels, which stretch near the poles).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import savgol_filter

from pano.errors import InputDataError, ShapeError
from pano.geometry import normalize, orthodromic_distance, resample_directions

__all__ = [
    "angular_velocity",
    "check_gaze",
    "check_rate",
    "resample_gaze",
    "smooth_gaze",
    "valid_runs",
]


def check_gaze(times: np.ndarray, vecs: np.ndarray, what: str = "gaze") -> np.ndarray:
    """Check one recording and return its directions as float64 unit vectors.

    Args:
        times: ``(N,)`` sample times in seconds, strictly increasing.
        vecs: ``(N, 3)`` gaze directions (any positive length; normalised here); a row with
            a NaN is a missing sample (all three components become NaN).
        what: name used in error messages (e.g. ``"subject 3"``).

    Returns:
        ``(N, 3)`` float64 unit vectors, NaN rows for missing samples.

    Raises:
        ShapeError: shapes are not ``(N,)`` and ``(N, 3)``.
        InputDataError: times not finite or not strictly increasing; a gaze vector of zero
            length; every sample missing.

    """
    times = np.asarray(times, dtype=np.float64)
    vecs = np.asarray(vecs, dtype=np.float64)
    if times.ndim != 1 or vecs.shape != (times.size, 3):
        raise ShapeError(
            f"{what}: times {times.shape} and gaze {vecs.shape} must be (N,) and (N, 3)"
        )
    if not np.all(np.isfinite(times)):
        raise InputDataError(f"{what}: timestamps hold NaN or inf; give a finite time per sample")
    bad = np.nonzero(np.diff(times) <= 0)[0]
    if bad.size:
        i = int(bad[0]) + 1
        raise InputDataError(
            f"{what}: timestamps are not strictly increasing at sample {i} "
            f"({float(times[i - 1])!r} s then {float(times[i])!r} s); "
            "sort the samples and drop duplicates"
        )
    missing = np.any(~np.isfinite(vecs), axis=-1)
    if missing.all():
        raise InputDataError(
            f"{what}: every gaze sample is NaN (no valid data to detect events in)"
        )
    norm = np.linalg.norm(np.where(missing[:, None], 1.0, vecs), axis=-1)
    zero = np.nonzero(norm < 1e-9)[0]
    if zero.size:
        raise InputDataError(
            f"{what}: gaze vector of zero length at sample {int(zero[0])}; "
            "mark missing samples as NaN, not (0, 0, 0)"
        )
    out = vecs / norm[:, None]
    out[missing] = np.nan
    return out


def check_rate(times: np.ndarray, tolerance: float, what: str = "gaze") -> float:
    """The constant sample interval of ``times`` in seconds (the median interval).

    Raises:
        InputDataError: an interval differs from the median by more than ``tolerance``
            (relative): the sample rate changes within the recording.

    """
    dts = np.diff(np.asarray(times, dtype=np.float64))
    if dts.size == 0:
        raise InputDataError(f"{what}: only one sample; need at least 2 to measure velocity")
    med = float(np.median(dts))
    off = np.nonzero(np.abs(dts - med) > tolerance * med)[0]
    if off.size:
        i = int(off[0]) + 1
        raise InputDataError(
            f"{what}: the sample rate changes within the recording (interval "
            f"{dts[i - 1] * 1000:.3g} ms before sample {i}, median {med * 1000:.3g} ms); "
            "set resample_hz to resample to a fixed rate"
        )
    return med


def resample_gaze(
    times: np.ndarray, vecs: np.ndarray, rate_hz: float
) -> tuple[np.ndarray, np.ndarray]:
    """Resample unit vectors to a fixed rate by slerp (:func:`pano.geometry.resample_directions`).

    Args:
        times: ``(N,)`` seconds, strictly increasing.
        vecs: ``(N, 3)`` unit vectors, NaN rows missing.
        rate_hz: new rate; the new grid is ``times[0] + k / rate_hz`` up to ``times[-1]``.

    Returns:
        ``new_times (M,)`` and ``(M, 3)`` unit vectors; a new sample bracketed by a missing
        one is NaN (gaps are never bridged).

    """
    new_times = (
        times[0] + np.arange(int(np.floor((times[-1] - times[0]) * rate_hz + 1e-9)) + 1) / rate_hz
    )
    return new_times, resample_directions(times, vecs, new_times)


def valid_runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` index ranges of consecutive ``True`` entries of ``valid (N,)``."""
    v = np.concatenate([[False], np.asarray(valid, dtype=bool), [False]])
    edges = np.nonzero(np.diff(v.astype(np.int8)))[0]
    return [(int(a), int(b)) for a, b in zip(edges[0::2], edges[1::2], strict=True)]


def smooth_gaze(vecs: np.ndarray, window: int, order: int) -> np.ndarray:
    """Savitzky-Golay smoothing of unit vectors, then re-normalisation.

    The filter (``scipy.signal.savgol_filter``, ``mode="interp"``) runs on the x, y and z
    components separately, over each run of valid samples (a NaN row splits runs, so a
    blink never leaks into its neighbours); runs shorter than ``window`` are left as they
    are. Smoothing components (not lon/lat) has no seam at ±180° and no singularity at the
    poles. ``window=0`` returns a copy.

    Args:
        vecs: ``(N, 3)`` unit vectors, NaN rows missing.
        window: odd window length in samples (or 0 for none).
        order: polynomial order, below ``window``.

    Returns:
        ``(N, 3)`` unit vectors.

    """
    out = np.array(vecs, dtype=np.float64, copy=True)
    if window == 0:
        return out
    for a, b in valid_runs(np.all(np.isfinite(out), axis=-1)):
        if b - a >= window:
            out[a:b] = savgol_filter(out[a:b], window, order, axis=0, mode="interp")
    return normalize(out)


def angular_velocity(times: np.ndarray, vecs: np.ndarray) -> np.ndarray:
    """Angular speed of gaze in degrees per second, per sample.

    Sample ``i >= 1`` gets the great-circle angle from sample ``i - 1`` to ``i`` divided by
    ``times[i] - times[i - 1]`` (the speed with which the gaze ARRIVED at sample ``i``);
    sample 0 gets sample 1's speed. A sample that is missing, or whose predecessor is, gets
    NaN (sample 0: when it or sample 1 is missing).

    Args:
        times: ``(N,)`` seconds, strictly increasing.
        vecs: ``(N, 3)`` unit vectors, NaN rows missing.

    Returns:
        ``(N,)`` float64 degrees per second (>= 0 or NaN).

    """
    times = np.asarray(times, dtype=np.float64)
    vecs = np.asarray(vecs, dtype=np.float64)
    out = np.full(times.shape, np.nan)
    if times.size < 2:
        return out
    ang = np.rad2deg(orthodromic_distance(vecs[:-1], vecs[1:]))
    out[1:] = ang / np.diff(times)
    out[0] = out[1]
    return out
