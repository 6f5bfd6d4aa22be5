"""The Salient360! toolbox's I-VT pipeline, step for step (``EmParams(profile="salient360")``).

The toolbox (github.com/David-Ef/salient360Toolbox, MIT; ``helper.getFixationList``,
``processing/preprocess.py``, ``processing/identify/commons.py`` and ``I_VT.py``) labels
gaze in this order; this module reproduces each step on pano's world-frame unit vectors
(+x front, +y left, +z up) with timestamps in seconds:

1. **valid samples**: a sample with a NaN is dropped (the toolbox also drops eye vectors
   whose components sum to 0 or -3, Tobii's "missing" codes; pano rejects zero-length
   vectors instead and does not drop valid directions whose components happen to sum to 0);
2. **resampling** (when ``resample_hz`` is set): valid samples whose successor repeats any
   component are dropped, then a not-a-knot cubic spline of the x, y, z components
   (``scipy.interpolate.griddata(method="cubic")`` in 1-D, i.e. ``interp1d(kind="cubic")``,
   extrapolating) is evaluated at ``int(T * rate)`` points spread evenly over
   ``[t_first, t_last]`` of the whole recording (``linspace``, so the step is
   ``T / (n - 1)``, slightly more than ``1 / rate``), and re-normalised. Gaps (blinks) are
   bridged by the spline. Without resampling the valid samples are used as they are, the
   dropped ones simply skipped (the speed across a gap spans the gap);
3. **speed** ``v[i]`` = great-circle angle from sample ``i`` to ``i + 1`` over their time
   difference (the speed with which the gaze LEAVES sample ``i``); the last sample gets
   ``v[0]``, as the toolbox appends its first value;
4. **Savitzky-Golay smoothing of the speed signal** (not of the gaze), ``savgol_window``
   and ``savgol_order`` samples (``scipy.signal.savgol_filter`` defaults, ``mode="interp"``);
   0 turns it off (the toolbox's command line default; its example scripts use 9 / 2);
5. **I-VT**: a sample is a fixation when its speed is ``<= velocity_threshold_deg_s``;
6. **isolated labels** (``commons.fix_gen``): for ``i = 1 .. N-2`` in order, a label that
   differs from both neighbours takes its left neighbour's (already updated) label; then
   the first and last samples take their neighbour's label if they differ from it;
7. **short fixations** become saccades: a fixation run starting at sample ``a >= 2`` whose
   ``t[last] - t[a - 1]`` (from the saccade sample before it to its last sample) is below
   ``min_fixation_s``. A run starting at sample 0 (or 1) is never checked (the toolbox's
   loop looks for a saccade-to-fixation change from sample 1 on). There is no merging of
   close fixations.

Labels are :class:`~pano.em.EmEvent` codes on the detection grid: ``FIXATION`` or
``SACCADE`` (the toolbox has no "unknown"), ``BLINK`` for a sample dropped in step 1
(without resampling). The fixation list is pano's (:func:`pano.em.fixation_list`).
``docs/em.md`` lists where this differs from the toolbox and why.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import make_interp_spline
from scipy.signal import savgol_filter

from pano.em.params import EmEvent, EmParams
from pano.em.velocity import check_gaze, valid_runs
from pano.errors import InputDataError
from pano.geometry import normalize, orthodromic_distance

__all__ = [
    "drop_short_fixations",
    "forward_velocity",
    "resample_cubic",
    "run_salient360",
    "smooth_isolated_labels",
]

_FIX, _SAC, _BLINK = np.int8(EmEvent.FIXATION), np.int8(EmEvent.SACCADE), np.int8(EmEvent.BLINK)


def resample_cubic(
    times: np.ndarray, vecs: np.ndarray, rate_hz: float
) -> tuple[np.ndarray, np.ndarray]:
    """The toolbox's resampling (step 2 above).

    Args:
        times: ``(N,)`` seconds, strictly increasing.
        vecs: ``(N, 3)`` unit vectors, NaN rows missing.
        rate_hz: target rate; ``int((t[-1] - t[0]) * rate_hz)`` new samples.

    Returns:
        ``new_times (M,)`` seconds (``linspace(t[0], t[-1], M)``) and ``(M, 3)`` unit vectors.

    Raises:
        InputDataError: fewer than 4 usable samples (a cubic spline needs 4) or fewer than
            2 new samples.

    """
    valid = np.all(np.isfinite(vecs), axis=-1)
    with np.errstate(invalid="ignore"):
        changes = np.all(vecs[1:] != vecs[:-1], axis=1)  # a NaN neighbour counts as a change
    keep = valid & np.append(changes, True)
    n_new = int((times[-1] - times[0]) * rate_hz)
    if keep.sum() < 4 or n_new < 2:
        raise InputDataError(
            f"salient360 resampling needs at least 4 valid samples and 2 new ones, got "
            f"{int(keep.sum())} and {n_new}"
        )
    rel = times - times[0]
    grid = np.linspace(0.0, rel[-1], n_new)
    spline = make_interp_spline(rel[keep], vecs[keep], k=3)  # not-a-knot, extrapolates
    return times[0] + grid, normalize(spline(grid))


def forward_velocity(times: np.ndarray, vecs: np.ndarray) -> np.ndarray:
    """Speed leaving each sample, deg/s; the last sample gets the first's (step 3).

    Args:
        times: ``(N,)`` seconds, ``N >= 2``.
        vecs: ``(N, 3)`` unit vectors, all valid.

    Returns:
        ``(N,)`` float64 deg/s.

    """
    ang = np.rad2deg(orthodromic_distance(vecs[:-1], vecs[1:]))
    v = ang / np.diff(times)
    return np.append(v, v[0])


def smooth_isolated_labels(fix: np.ndarray) -> np.ndarray:
    """The toolbox's ``fix_gen`` on boolean fixation markers (step 6); returns a copy."""
    out = np.array(fix, dtype=bool, copy=True)
    n = out.size
    for i in range(1, n - 1):
        if out[i] != out[i - 1] and out[i] != out[i + 1]:
            out[i] = out[i - 1]
    if n >= 2:
        if out[0] != out[1]:
            out[0] = out[1]
        if out[-1] != out[-2]:
            out[-1] = out[-2]
    return out


def drop_short_fixations(fix: np.ndarray, times: np.ndarray, min_s: float) -> np.ndarray:
    """Fixation runs shorter than ``min_s`` become saccades (step 7); returns a copy.

    A run ``[a, b)`` with ``a >= 2`` lasts ``times[b - 1] - times[a - 1]``; it is dropped when
    that is below ``min_s`` (with a 1 ns tolerance: the toolbox compares whole
    milliseconds). A run starting at sample 0 or 1 is kept whatever its length.
    """
    out = np.array(fix, dtype=bool, copy=True)
    for a, b in valid_runs(out):
        if a >= 2 and times[b - 1] - times[a - 1] < min_s - 1e-9:
            out[a:b] = False
    return out


def run_salient360(
    times: np.ndarray, gaze: np.ndarray, params: EmParams, what: str = "gaze"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Steps 1-7 on one recording.

    Returns:
        ``times (M,)``, ``gaze (M, 3)`` (the grid used, NaN rows where dropped),
        ``velocity (M,)`` deg/s after smoothing (NaN where dropped), ``events (M,)`` int8,
        and the grid's sample interval in seconds (the resampled step, or the median
        interval).

    Raises:
        pano.errors.InputDataError: bad timestamps or gaze (:func:`pano.em.check_gaze`),
            fewer than 2 valid samples.

    """
    vecs = check_gaze(times, gaze, what)
    times = np.asarray(times, dtype=np.float64)
    if params.resample_hz is not None:
        try:
            times, vecs = resample_cubic(times, vecs, params.resample_hz)
        except InputDataError as err:
            raise InputDataError(f"{what}: {err}") from None
    valid = np.all(np.isfinite(vecs), axis=-1)
    if valid.sum() < 2:
        raise InputDataError(f"{what}: fewer than 2 valid gaze samples; cannot measure speed")
    dt = float(np.median(np.diff(times)))
    t_ok, v_ok = times[valid], vecs[valid]
    speed = forward_velocity(t_ok, v_ok)
    win = params.savgol_window
    if win and speed.size >= win:
        speed = savgol_filter(speed, win, params.savgol_order)
    fix = speed <= params.velocity_threshold_deg_s
    fix = smooth_isolated_labels(fix)
    fix = drop_short_fixations(fix, t_ok, params.min_fixation_s)
    events = np.full(times.shape, _BLINK, dtype=np.int8)
    events[valid] = np.where(fix, _FIX, _SAC)
    velocity = np.full(times.shape, np.nan)
    velocity[valid] = speed
    return times, vecs, velocity, events, dt
