"""The Salient360! toolbox's I-VT pipeline (``EmParams.preset("salient360")``) on hand-built traces.

Each trace is built here (its own cos/sin along the equator); the expected labels are
derived by hand in the comments from the toolbox's rules (``Salient360Toolbox/processing/
identify/I_VT.py`` and ``commons.fix_gen``, github.com/David-Ef/salient360Toolbox): speed
leaving each sample, ``<=`` threshold is a fixation, isolated labels flipped left to right,
fixations shorter than 80 ms (from the saccade sample before them) become saccades except
a first fixation starting at sample 0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.interpolate import interp1d
from scipy.signal import savgol_filter

from pano.em import EmEvent, EmParams, detect_events
from pano.em.salient360 import drop_short_fixations, smooth_isolated_labels
from pano.errors import ParameterError

FIX, SAC, BLINK = int(EmEvent.FIXATION), int(EmEvent.SACCADE), int(EmEvent.BLINK)
DT = 0.01  # 100 Hz
RAW360 = EmParams.preset("salient360", resample_hz=None, savgol_window=0)


def equator(lon_deg: np.ndarray) -> np.ndarray:
    lo = np.radians(lon_deg)
    return np.stack([np.cos(lo), np.sin(lo), np.zeros_like(lo)], axis=-1)


# Per sample i, whether the step i -> i+1 is fast (3 deg = 300 deg/s) or slow
# (0.2 deg = 20 deg/s); the last sample has no step (it gets sample 0's speed: slow).
#   0-3 F | 4-5 S, 6 F (isolated), 7-8 S | 9-14 F, 15 S (isolated), 16-20 F | 21-24 S
#   25-31 F (7 samples) | 32-33 S | 34-41 F (8 samples) | 42-45 S | 46-59 F
FAST = np.zeros(60, bool)
FAST[[4, 5, 7, 8, 15, 21, 22, 23, 24, 32, 33, 42, 43, 44, 45]] = True


def trace() -> tuple[np.ndarray, np.ndarray]:
    steps = np.where(FAST[:-1], 3.0, 0.2)
    lon = np.concatenate([[0.0], np.cumsum(steps)])
    return np.arange(60) * DT, equator(lon)


def spans(spec: list[tuple[int, int]]) -> np.ndarray:
    return np.concatenate([np.full(n, code) for code, n in spec])


def test_ivt_labels_by_hand() -> None:
    times, gaze = trace()
    res = detect_events(times, gaze, RAW360)
    # Speeds: the step leaving each sample; the last sample repeats sample 0's.
    want_v = np.append(np.where(FAST[:-1], 300.0, 20.0), 20.0)
    np.testing.assert_allclose(res.velocity, want_v, rtol=1e-9)
    # fix_gen, left to right: 6 (F between S, S) -> S; 15 (S between F, F) -> F.
    # Short fixations: 25-31 lasts t[31] - t[24] = 70 ms < 80 -> S; 34-41 lasts
    # t[41] - t[33] = 80 ms -> kept; 0-3 (40 ms) starts at sample 0 -> never checked.
    want = spans([(FIX, 4), (SAC, 5), (FIX, 12), (SAC, 13), (FIX, 8), (SAC, 4), (FIX, 14)])
    np.testing.assert_array_equal(res.events, want)
    fx = res.fixations
    np.testing.assert_array_equal(fx.first, [0, 9, 34, 46])
    np.testing.assert_array_equal(fx.last, [3, 20, 41, 59])
    np.testing.assert_allclose(fx.duration_s, [0.04, 0.12, 0.08, 0.14])
    # pano's own pipeline on the same trace (arriving speed, merging, UNKNOWN) differs.
    own = detect_events(times, gaze, EmParams(resample_hz=None, savgol_window=0))
    assert not np.array_equal(own.events, res.events)


def test_isolated_label_rule_is_sequential() -> None:
    # F S F S F: i=1 flips to F, then i=2 (F, F, S) stays, i=3 flips: all F.
    np.testing.assert_array_equal(
        smooth_isolated_labels(np.array([1, 0, 1, 0, 1], bool)), np.ones(5, bool)
    )
    # First / last samples take their neighbour's label.
    np.testing.assert_array_equal(
        smooth_isolated_labels(np.array([0, 1, 1, 1, 0], bool)), np.ones(5, bool)
    )
    # A short fixation at samples 1-2 (after a 1-sample saccade) is not checked either.
    t = np.arange(8) * DT
    fix = np.array([0, 1, 1, 0, 0, 1, 1, 0], bool)
    np.testing.assert_array_equal(
        drop_short_fixations(fix, t, 0.08), np.array([0, 1, 1, 0, 0, 0, 0, 0], bool)
    )


def test_savitzky_golay_smooths_the_speed_not_the_gaze() -> None:
    times, gaze = trace()
    res = detect_events(times, gaze, RAW360.model_copy(update={"savgol_window": 9}))
    raw_v = np.append(np.where(FAST[:-1], 300.0, 20.0), 20.0)
    np.testing.assert_allclose(res.velocity, savgol_filter(raw_v, 9, 2), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(res.gaze, gaze, atol=1e-15)  # the gaze itself is untouched


def test_missing_samples_are_skipped_without_resampling() -> None:
    times, gaze = trace()
    gaze[12:15] = np.nan  # a 30 ms blink inside the fixation 9-20
    res = detect_events(times, gaze, RAW360)
    assert np.all(res.events[12:15] == BLINK)
    # The speed leaving sample 11 spans the gap: 4 slow steps (0.8 deg) over 40 ms.
    assert res.velocity[11] == pytest.approx(0.8 / 0.04, rel=1e-9)
    assert np.all(res.events[9:12] == FIX) and np.all(res.events[15:21] == FIX)
    assert list(res.fixations.first) == [0, 9, 34, 46]  # one fixation across the blink


def test_resampling_is_the_toolbox_cubic_spline_on_a_linspace_grid() -> None:
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.uniform(0.008, 0.012, 80))  # about 100 Hz, uneven
    lon = np.cumsum(rng.normal(0, 0.5, 80))
    gaze = equator(lon) + np.array([0, 0, 0.05]) * np.sin(np.arange(80))[:, None]
    gaze[30:33] = np.nan  # dropped before the spline, bridged by it
    gaze[50] = gaze[49]  # a repeated sample: its predecessor is dropped
    res = detect_events(times, gaze, EmParams.preset("salient360"))
    # The toolbox's grid: int(T * 90) points from the first to the last timestamp.
    n = int((times[-1] - times[0]) * 90.0)
    np.testing.assert_allclose(res.times, times[0] + np.linspace(0, times[-1] - times[0], n))
    # Its values: griddata(cubic) = interp1d(kind="cubic", fill_value="extrapolate") over
    # the valid, non-repeated samples (sample 49 repeats in 50: dropped), re-normalised.
    unit = gaze / np.linalg.norm(gaze, axis=1, keepdims=True)
    keep = np.all(np.isfinite(unit), axis=1)
    keep[49] = False
    f = interp1d(
        times[keep] - times[0],
        unit[keep],
        kind="cubic",
        axis=0,
        fill_value="extrapolate",
        bounds_error=False,
    )
    want = f(res.times - times[0])
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    np.testing.assert_allclose(res.gaze, want, atol=1e-12)
    assert not np.any(res.events == BLINK)  # the blink is bridged, as in the toolbox


def test_preset_values_and_checks() -> None:
    p = EmParams.preset("salient360")
    assert (p.profile, p.method, p.resample_hz, p.savgol_window, p.savgol_order) == (
        "salient360",
        "ivt",
        90.0,
        9,
        2,
    )
    assert (p.velocity_threshold_deg_s, p.min_fixation_s, p.merge_gap_s) == (120.0, 0.08, 0.0)
    assert EmParams.preset("pano") == EmParams()
    with pytest.raises(ParameterError, match="unknown em preset 'tobii'"):
        EmParams.preset("tobii")
    with pytest.raises(ValidationError, match="without merging"):
        EmParams(profile="salient360")  # pano's default merge_gap_s is not 0
    with pytest.raises(ValidationError, match="method='ivt'"):
        EmParams.preset("salient360", method="idt")
    assert math.isclose(EmParams().resample_hz or 0.0, 90.0)
