"""Synthetic eye movement: gaze = head direction plus an eye-in-head offset.

Per subject, gaze alternates between

* **fixations** of 100-1000 ms (gamma distributed, mean ~300 ms), either on the attended
  target (the eye pursues it) or on a point fixed in the world (the eye counter-rotates
  as the head turns), and
* **saccades**: fast jumps of duration ``21 + 2.2 * amplitude`` ms (the main sequence,
  a few tens of ms) with a minimum-jerk profile, so the peak speed of a 20° saccade is
  about 1.875 x 20° / 65 ms ~ 580 deg/s.

A saccade goes to the attended target with probability 0.65 (when it is within 25° of
where the head will point), else to a random point within ~25° of the head. The
eye-in-head offset never exceeds :data:`MAX_OFFSET_DEG` (a fixation that would need more
ends in a saccade, and the offset is finally clamped). Directions are unit vectors in
pano's world frame.
"""

from __future__ import annotations

import numpy as np

from pano.geometry import normalize, rotation_matrix, slerp, vec_to_lonlat
from pano.synth.heads import chord_angle

#: Largest angle in degrees between gaze and head direction.
MAX_OFFSET_DEG = 30.0


def _min_jerk(tau: np.ndarray) -> np.ndarray:
    return tau**3 * (10.0 - 15.0 * tau + 6.0 * tau * tau)


def _towards(h: np.ndarray, g: np.ndarray, max_deg: float) -> np.ndarray:
    """Pull ``g`` (``(..., 3)``) onto the cap of radius ``max_deg`` around ``h``."""
    ang = np.rad2deg(chord_angle(h, g))
    frac = np.where(ang > max_deg, max_deg / np.maximum(ang, 1e-12), 1.0)
    return slerp(h, g, frac)


def _head_offset(h: np.ndarray, off_yaw: float, off_pitch: float) -> np.ndarray:
    """The direction at eye-in-head angles (yaw left, pitch up, degrees) of head ``h``."""
    lon, lat = vec_to_lonlat(h)
    rot = rotation_matrix(lon, lat)
    cy, sy = np.cos(np.deg2rad(off_yaw)), np.sin(np.deg2rad(off_yaw))
    cp, sp = np.cos(np.deg2rad(off_pitch)), np.sin(np.deg2rad(off_pitch))
    return rot @ np.array([cp * cy, cp * sy, sp])


#: Truth label of a fixation sample in :func:`simulate_gaze_events` (= ``pano.em.EmEvent``).
TRUE_FIXATION = 1
#: Truth label of a saccade sample in :func:`simulate_gaze_events` (= ``pano.em.EmEvent``).
TRUE_SACCADE = 2


def simulate_gaze(
    heads: np.ndarray,
    targets: np.ndarray,
    attention: np.ndarray,
    dt: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Simulate gaze directions for the head traces ``heads``.

    The gaze of :func:`simulate_gaze_events` without its truth labels (same draws, same
    output).

    Args:
        heads: ``(S, N, 3)`` unit head directions (no NaN).
        targets: ``(T, N, 3)`` unit target directions.
        attention: ``(S, N)`` attended target index per sample, -1 for none.
        dt: sample interval in seconds.
        rng: random generator.

    Returns:
        ``(S, N, 3)`` float64 unit gaze directions in world coordinates.

    """
    return simulate_gaze_events(heads, targets, attention, dt, rng)[0]


def simulate_gaze_events(
    heads: np.ndarray,
    targets: np.ndarray,
    attention: np.ndarray,
    dt: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate gaze and return the true event of every sample as well.

    Args: as :func:`simulate_gaze`.

    Returns:
        ``gaze (S, N, 3)`` float64 unit directions (world frame) and ``events (S, N)``
        int8: :data:`TRUE_FIXATION` (1) for samples of a fixation (on a world point or
        pursuing a target), :data:`TRUE_SACCADE` (2) for samples of a saccade, whose last
        sample is the saccade's goal. Codes match ``pano.em.EmEvent``.

    """
    heads = np.asarray(heads, dtype=np.float64)
    s_n, n, _ = heads.shape
    gaze = np.empty_like(heads)
    events = np.full((s_n, n), TRUE_FIXATION, dtype=np.int8)
    for s in range(s_n):
        hs, gs = heads[s], gaze[s]
        g = hs[0]
        i = 0
        on_target = -1
        while i < n:
            # Fixation on [i, i + f).
            f = max(1, round(float(np.clip(rng.gamma(4.0, 0.075), 0.1, 1.0)) / dt))
            seg = slice(i, min(n, i + f))
            if on_target >= 0:
                fix = targets[on_target, seg]
            else:
                fix = np.broadcast_to(g, (seg.stop - seg.start, 3))
            off = np.rad2deg(chord_angle(hs[seg], fix))
            over = np.nonzero(off > MAX_OFFSET_DEG)[0]
            stop = seg.start + (int(over[0]) if over.size else seg.stop - seg.start)
            gs[seg.start : stop] = fix[: stop - seg.start]
            i = stop
            if i >= n:
                break
            g0 = gs[i - 1] if i > 0 else hs[0]
            # Saccade goal and duration (the goal is where things will be at its end).
            k = int(attention[s, i])
            on_target = -1
            amp_guess = 15.0
            end = min(n - 1, i + max(1, round((0.021 + 0.0022 * amp_guess) / dt)))
            if k >= 0 and rng.random() < 0.65:
                goal = targets[k, end]
                if np.rad2deg(chord_angle(hs[end], goal)) <= 25.0:
                    on_target = k
                else:
                    goal = _towards(hs[end], goal, 20.0)
            else:
                goal = _head_offset(hs[end], rng.normal(0, 10), rng.normal(0, 7))
                goal = _towards(hs[end], goal, 25.0)
            amp = float(np.rad2deg(chord_angle(g0, goal)))
            d = max(1, round((0.021 + 0.0022 * amp) / dt))
            stop = min(n, i + d)
            tau = (np.arange(i, stop) - i + 1) / d
            gs[i:stop] = slerp(
                np.broadcast_to(g0, (stop - i, 3)),
                np.broadcast_to(goal, (stop - i, 3)),
                _min_jerk(tau),
            )
            events[s, i:stop] = TRUE_SACCADE
            g = goal
            i = stop
    # Hard limit on the eye-in-head offset.
    return normalize(_towards(heads, gaze, MAX_OFFSET_DEG)), events
