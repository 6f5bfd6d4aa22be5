"""Eye-movement event detection on the sphere (pano.em), against hand-built gaze traces.

Every trace here is built by this file (its own cos/sin and Rodrigues rotations, not pano's
generator or slerp): fixations at known directions joined by constant-speed great-circle
saccades, one across the lon = +-180 seam and one to 88 deg latitude, so the expected
labels, fixation ranges, centres and durations are known exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from pano.em import (
    EmEvent,
    EmParams,
    angular_velocity,
    detect_events,
    fixation_list,
    label_ivt,
    postprocess,
    smooth_gaze,
)
from pano.errors import InputDataError, PanoError

FIX, SAC, BLINK, UNK = (
    int(e) for e in (EmEvent.FIXATION, EmEvent.SACCADE, EmEvent.BLINK, EmEvent.UNKNOWN)
)
DT = 0.01  # 100 Hz


def unit(lon_deg: float, lat_deg: float) -> np.ndarray:
    """pano's frame: +x front, +y left, +z up; lon positive LEFT, lat positive up."""
    lo, la = math.radians(lon_deg), math.radians(lat_deg)
    return np.array([math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)])


def arc(u: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    """``n`` points from u towards v at equal angle steps, the last one exactly ``v``."""
    axis = np.cross(u, v)
    axis /= np.linalg.norm(axis)
    total = math.acos(float(np.clip(u @ v, -1, 1)))
    pts = []
    for k in range(1, n + 1):
        a = total * k / n
        # Rodrigues: rotate u about axis by a.
        p = (
            u * math.cos(a)
            + np.cross(axis, u) * math.sin(a)
            + axis * (axis @ u) * (1 - math.cos(a))
        )
        pts.append(p)
    pts[-1] = v
    return np.array(pts)


def angle_deg(u: np.ndarray, v: np.ndarray) -> float:
    return math.degrees(
        math.acos(float(np.clip(u @ v / np.linalg.norm(u) / np.linalg.norm(v), -1, 1)))
    )


A, B, C = unit(170.0, 10.0), unit(-170.0, 10.0), unit(-170.0, 88.0)


def three_fixations() -> tuple[np.ndarray, np.ndarray]:
    """A for samples 0-29, 5-sample saccade to B (30-34, 34 = B) across the seam, B for
    35-64, 10-sample saccade to C near the north pole (65-74, 74 = C), C for 75-104."""
    gaze = np.concatenate(
        [np.tile(A, (30, 1)), arc(A, B, 5), np.tile(B, (30, 1)), arc(B, C, 10), np.tile(C, (30, 1))]
    )
    return np.arange(len(gaze)) * DT, gaze


RAW = EmParams(savgol_window=0, resample_hz=None)  # on the trace's own 100 Hz samples


def test_trace_speeds_are_what_the_test_assumes() -> None:
    # 5 steps across the seam (~19.7 deg) and 10 steps up to 88 deg (78 deg): both far above
    # the 120 deg/s threshold; the steps are equal.
    assert angle_deg(A, B) / 5 / DT == pytest.approx(393.9, abs=0.1)
    assert angle_deg(B, C) / 10 / DT == pytest.approx(780.0, abs=0.1)


def test_ivt_finds_the_three_fixations_exactly() -> None:
    times, gaze = three_fixations()
    res = detect_events(times, gaze, RAW)
    expected = np.array([FIX] * 30 + [SAC] * 5 + [FIX] * 30 + [SAC] * 10 + [FIX] * 30)
    np.testing.assert_array_equal(res.events, expected)
    fx = res.fixations
    assert len(fx) == 3
    np.testing.assert_array_equal(fx.first, [0, 35, 75])
    np.testing.assert_array_equal(fx.last, [29, 64, 104])
    np.testing.assert_allclose(fx.start_s, [0.0, 0.35, 0.75])
    np.testing.assert_allclose(fx.duration_s, [0.3, 0.3, 0.3])
    np.testing.assert_allclose(fx.vec, [A, B, C], atol=1e-12)
    np.testing.assert_allclose(fx.lon, [170.0, -170.0, -170.0], atol=1e-9)
    np.testing.assert_allclose(fx.lat, [10.0, 10.0, 88.0], atol=1e-9)
    # Saccade speeds are the hand-computed ones.
    np.testing.assert_allclose(res.velocity[30:35], angle_deg(A, B) / 5 / DT, rtol=1e-9)
    np.testing.assert_allclose(res.velocity[65:75], angle_deg(B, C) / 10 / DT, rtol=1e-9)


def test_ivt_with_default_smoothing_keeps_fixations_and_centres() -> None:
    times, gaze = three_fixations()
    res = detect_events(times, gaze)  # resampled to 90 Hz, Savitzky-Golay 9 / 2
    np.testing.assert_allclose(np.diff(res.times), 1 / 90)
    fx = res.fixations
    assert len(fx) == 3
    # Within two 90 Hz samples of the true starts (0, 0.35, 0.75 s) and last samples.
    assert np.all(np.abs(fx.start_s - [0.0, 0.35, 0.75]) <= 2 / 90 + 1e-9)
    assert np.all(np.abs(res.times[fx.last] - [0.29, 0.64, 1.04]) <= 2 / 90 + 1e-9)
    for got, want in zip(fx.vec, (A, B, C), strict=True):
        assert angle_deg(got, want) < 0.5
    np.testing.assert_allclose(np.linalg.norm(fx.vec, axis=1), 1.0)


def test_idt_on_the_same_trace() -> None:
    times, gaze = three_fixations()
    p = EmParams(
        method="idt", savgol_window=0, dispersion_deg=1.0, idt_window_s=0.1, resample_hz=None
    )
    res = detect_events(times, gaze, p)
    # The saccades' last samples ARE B and C, so I-DT's fixations start there.
    expected = np.array([FIX] * 30 + [SAC] * 4 + [FIX] * 31 + [SAC] * 9 + [FIX] * 31)
    np.testing.assert_array_equal(res.events, expected)
    fx = res.fixations
    np.testing.assert_array_equal(fx.first, [0, 34, 74])
    np.testing.assert_array_equal(fx.last, [29, 64, 104])
    np.testing.assert_allclose(fx.duration_s, [0.30, 0.31, 0.31])
    np.testing.assert_allclose(fx.vec, [A, B, C], atol=1e-12)


def test_velocity_of_a_known_great_circle_motion_with_a_gap_and_uneven_times() -> None:
    # 50 deg/s about a tilted axis; times uneven (dt 10 or 20 ms); sample 6 missing.
    axis = np.array([0.3, -0.5, 0.8])
    axis /= np.linalg.norm(axis)
    u = np.cross(axis, [1.0, 0.0, 0.0])
    u /= np.linalg.norm(u)
    w = np.cross(axis, u)
    times = np.cumsum([0.0] + [0.01, 0.02] * 10)
    ang = np.radians(50.0 * times)
    gaze = np.cos(ang)[:, None] * u + np.sin(ang)[:, None] * w
    gaze[6] = np.nan
    v = angular_velocity(times, gaze)
    assert np.isnan(v[6]) and np.isnan(v[7])
    ok = np.ones(v.size, bool)
    ok[[6, 7]] = False
    np.testing.assert_allclose(v[ok], 50.0, rtol=1e-9)


def test_smoothing_is_per_valid_run_and_stays_on_the_sphere() -> None:
    rng = np.random.default_rng(1)
    gaze = np.tile(A, (40, 1)) + rng.normal(0, 0.01, (40, 3))
    gaze /= np.linalg.norm(gaze, axis=1, keepdims=True)
    gaze[20] = np.nan
    out = smooth_gaze(gaze, 9, 2)
    assert np.isnan(out[20]).all() and np.isfinite(np.delete(out, 20, axis=0)).all()
    np.testing.assert_allclose(np.linalg.norm(np.delete(out, 20, axis=0), axis=1), 1.0)
    # Smoothing reduces the scatter about A.
    before = [angle_deg(g, A) for g in np.delete(gaze, 20, axis=0)]
    after = [angle_deg(g, A) for g in np.delete(out, 20, axis=0)]
    assert np.mean(after) < 0.7 * np.mean(before)


def test_blinks_are_labelled_and_do_not_split_a_merged_fixation() -> None:
    times, gaze = three_fixations()
    gaze[10:13] = np.nan  # a 30 ms blink inside fixation A
    res = detect_events(times, gaze, RAW)
    assert np.all(res.events[10:13] == BLINK)
    # Right after the gap the speed is unknown, so I-VT alone says UNKNOWN ...
    raw = label_ivt(res.velocity, np.isnan(res.gaze).any(axis=1), 120.0)
    assert raw[13] == UNK and np.all(raw[10:13] == BLINK)
    # ... and merging (gap 40 ms <= 75 ms, same centre) makes it part of the fixation.
    assert res.events[13] == FIX
    fx = res.fixations
    assert len(fx) == 3
    assert (fx.first[0], fx.last[0]) == (0, 29)


def _events(spec: list[tuple[int, int]]) -> np.ndarray:
    return np.concatenate([np.full(n, code, np.int8) for code, n in spec])


def test_merge_close_fixations_but_not_distant_ones() -> None:
    p = EmParams(merge_gap_s=0.05, merge_angle_deg=0.5, min_fixation_s=0.0)
    ev = _events([(FIX, 10), (SAC, 3), (FIX, 10)])
    same = np.tile(A, (23, 1))
    np.testing.assert_array_equal(postprocess(ev, same, DT, p), np.full(23, FIX))
    # Same gap, centres 5 deg apart: kept apart.
    apart = np.concatenate([np.tile(A, (13, 1)), np.tile(unit(165.0, 10.0), (10, 1))])
    np.testing.assert_array_equal(postprocess(ev, apart, DT, p), ev)
    # Gap of 6 samples = 60 ms > 50 ms: kept apart.
    ev6 = _events([(FIX, 10), (SAC, 6), (FIX, 10)])
    np.testing.assert_array_equal(postprocess(ev6, np.tile(A, (26, 1)), DT, p), ev6)
    # A blink in the gap stays a blink; the fixation list spans it.
    evb = _events([(FIX, 10), (SAC, 1), (BLINK, 2), (FIX, 10)])
    vb = np.tile(A, (23, 1))
    vb[11:13] = np.nan
    out = postprocess(evb, vb, DT, p)
    np.testing.assert_array_equal(out, _events([(FIX, 11), (BLINK, 2), (FIX, 10)]))
    fx = fixation_list(np.arange(23) * DT, vb, out, DT)
    assert (len(fx), int(fx.first[0]), int(fx.last[0])) == (1, 0, 22)


def test_short_fixations_are_dropped_to_unknown() -> None:
    p = EmParams(min_fixation_s=0.08, merge_gap_s=0.0)
    ev = _events([(FIX, 7), (SAC, 2), (FIX, 8), (SAC, 2), (FIX, 20)])
    v = np.concatenate([np.tile(A, (9, 1)), np.tile(B, (10, 1)), np.tile(C, (20, 1))])
    out = postprocess(ev, v, DT, p)
    # 7 samples = 70 ms < 80 ms: unknown; 8 samples = 80 ms: kept.
    np.testing.assert_array_equal(out, _events([(UNK, 7), (SAC, 2), (FIX, 8), (SAC, 2), (FIX, 20)]))


def test_resampling_to_a_fixed_rate() -> None:
    times, gaze = three_fixations()
    res = detect_events(times, gaze, EmParams(savgol_window=0, resample_hz=50.0))
    np.testing.assert_allclose(np.diff(res.times), 0.02)
    assert len(res.fixations) == 3
    np.testing.assert_allclose(res.fixations.vec, [A, B, C], atol=1e-9)


def _one_line_error(
    times: np.ndarray, gaze: np.ndarray, match: str, params: EmParams = RAW
) -> None:
    with pytest.raises(InputDataError, match=match) as info:
        detect_events(times, gaze, params, what="subject 2")
    assert isinstance(info.value, PanoError) and isinstance(info.value, ValueError)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("subject 2: ")


def test_bad_inputs_give_one_clear_line() -> None:
    times, gaze = three_fixations()
    t = times.copy()
    t[50] = t[49]
    _one_line_error(t, gaze, "not strictly increasing at sample 50")
    t = times.copy()
    t[40:] += 0.5  # a jump: the rate changes within the recording
    _one_line_error(t, gaze, "sample rate changes within the recording")
    t = times.copy()
    t[60:] = times[60] + (times[60:] - times[60]) * 2  # 100 Hz then 50 Hz
    _one_line_error(t, gaze, "sample rate changes")
    _one_line_error(times, np.full_like(gaze, np.nan), "every gaze sample is NaN")
    g = gaze.copy()
    g[7] = 0.0
    _one_line_error(times, g, "zero length at sample 7")
    # With resampling the uneven rate is fine.
    assert len(detect_events(t, gaze, EmParams(resample_hz=100.0, savgol_window=0)).fixations) == 3


def test_params_reject_an_even_savgol_window() -> None:
    with pytest.raises(ValidationError, match="odd"):
        EmParams(savgol_window=8)
    with pytest.raises(ValidationError, match="below savgol_window"):
        EmParams(savgol_window=5, savgol_order=5)
    assert EmParams(savgol_window=0).savgol_window == 0


def test_synthetic_truth_labels_do_not_change_the_gaze() -> None:
    from pano.synth.gaze import TRUE_FIXATION, TRUE_SACCADE, simulate_gaze, simulate_gaze_events
    from pano.synth.heads import simulate_heads
    from pano.synth.targets import default_target_specs, simulate_targets

    rng = np.random.default_rng(3)
    dt = 1 / 60
    targets = simulate_targets(default_target_specs(0, rng), 300, dt, rng)
    heads, att = simulate_heads(targets, dt, 3, rng)
    g1 = simulate_gaze(heads, targets, att, dt, np.random.default_rng(5))
    g2, truth = simulate_gaze_events(heads, targets, att, dt, np.random.default_rng(5))
    np.testing.assert_array_equal(g1, g2)
    assert set(np.unique(truth)) == {TRUE_FIXATION, TRUE_SACCADE}
    assert (TRUE_FIXATION, TRUE_SACCADE) == (FIX, SAC)
    # Saccade samples move; fixations on world points mostly do not.
    speed = np.degrees(np.arccos(np.clip((g2[:, 1:] * g2[:, :-1]).sum(-1), -1, 1))) / dt
    assert np.median(speed[truth[:, 1:] == TRUE_SACCADE]) > 100.0
