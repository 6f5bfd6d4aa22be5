"""Synthetic head movement: subjects who watch the salient targets like people do.

Each subject (vectorised over subjects, stepped in time at the HM sample rate):

* starts looking near the front centre (within ~20°) and holds still for 0.2-1 s;
* then attends to a target, preferring targets near its current view and near the
  equator, or now and then looks at a free point near the equator;
* follows the attended target with smooth pursuit: it aims at where the target was
  ``delay`` ago (0.1-0.35 s) through a critically damped second-order controller
  (natural frequency 5-9 rad/s, adding 0.2-0.4 s of lag), so the total lag is 0.3-0.75 s;
* pitches less than the target (equator bias: the aimed latitude is scaled by 0.75-0.95);
* aims with a small personal offset plus slowly wandering noise (a few degrees);
* turns no faster than its own peak speed (45-85 deg/s) and accelerates at most
  300-700 deg/s²;
* switches attention stochastically, on average every 3-6 s (its own mean dwell time).

Heads move along great circles (exponential map on the sphere), so nothing jumps at the
±180° seam or at the poles. All randomness comes from the ``rng`` argument.
"""

from __future__ import annotations

import numpy as np

from pano.geometry import lonlat_to_vec, normalize, vec_to_lonlat

FREE = -1  # attention code of free viewing (no target) and of the initial hold


def chord_angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Great-circle angle (rad) between unit vectors ``(..., 3)``: ``2 asin(|u - v| / 2)``.

    A cheaper stand-in for :func:`pano.geometry.orthodromic_distance` (no cross product),
    accurate for unit inputs at all angles the simulators use (it loses precision only
    near 180°). NaN in, NaN out.
    """
    d = u - v
    return 2.0 * np.arcsin(np.minimum(np.sqrt((d * d).sum(-1)) / 2.0, 1.0))


def _tangent_log(h: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Log map: tangent vector at ``h`` pointing to ``a`` with length = angle (rad)."""
    ang = chord_angle(h, a)[..., None]
    w = a - (h * a).sum(-1, keepdims=True) * h
    n = np.linalg.norm(w, axis=-1, keepdims=True)
    return np.where(n > 1e-12, w / np.maximum(n, 1e-300) * ang, 0.0)


def _exp_step(h: np.ndarray, v: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Move ``h`` along the great circle of velocity ``v`` (rad/s) for ``dt``; transport ``v``."""
    speed = np.linalg.norm(v, axis=-1, keepdims=True)
    ang = speed * dt
    d = np.where(speed > 1e-12, v / np.maximum(speed, 1e-300), 0.0)
    h_new = normalize(np.cos(ang) * h + np.sin(ang) * d)
    d_new = -np.sin(ang) * h + np.cos(ang) * d
    return h_new, d_new * speed


def simulate_heads(
    targets: np.ndarray,
    dt: float,
    n_subjects: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate head directions of ``n_subjects`` watching ``targets``.

    Args:
        targets: ``(T, N, 3)`` unit vectors of the targets at each of ``N`` samples.
        dt: sample interval in seconds.
        n_subjects: number of subjects ``S``.
        rng: random generator.

    Returns:
        ``heads`` ``(S, N, 3)`` float64 unit vectors and ``attention`` ``(S, N)`` int:
        the index of the target each subject attends to at each sample, or
        :data:`FREE` (-1) while holding still at the start or viewing freely.

    """
    targets = np.asarray(targets, dtype=np.float64)
    n_t, n, _ = targets.shape
    s = n_subjects
    # Per-subject traits.
    delay = np.rint(rng.uniform(0.10, 0.35, s) / dt).astype(np.int64)
    w0 = rng.uniform(5.0, 9.0, s)[:, None]
    vmax = np.deg2rad(rng.uniform(45.0, 85.0, s))[:, None]
    amax = np.deg2rad(rng.uniform(300.0, 700.0, s))[:, None]
    lat_gain = rng.uniform(0.75, 0.95, s)
    dwell = rng.uniform(3.0, 6.0, s)
    p_free = rng.uniform(0.05, 0.2, s)
    bias = rng.normal(0.0, 2.5, (s, 2))  # personal aim offset (lon, lat) degrees
    # Start near the front centre, hold for 0.2-1 s.
    lon0 = np.clip(rng.normal(0.0, 8.0, s), -16.0, 16.0)
    lat0 = np.clip(rng.normal(0.0, 5.0, s), -12.0, 12.0)  # so within 20° of the front centre
    h = lonlat_to_vec(lon0, lat0)
    v = np.zeros((s, 3))
    att = np.full(s, FREE, dtype=np.int64)
    free_pt = h.copy()
    next_switch = np.rint(rng.uniform(0.2, 1.0, s) / dt).astype(np.int64)
    # Aim noise: Ornstein-Uhlenbeck in (lon, lat) degrees, std 2.5, time constant 1 s.
    ou = np.zeros((s, 2))
    a_ou = np.exp(-dt / 1.0)
    b_ou = 2.5 * np.sqrt(1.0 - a_ou * a_ou)
    noise = rng.normal(size=(n, s, 2))
    heads = np.empty((s, n, 3))
    attention = np.empty((s, n), dtype=np.int64)
    started = np.zeros(s, dtype=bool)  # False while holding still at the start
    for i in range(n):
        # Attention switches.
        for j in np.nonzero(i >= next_switch)[0]:
            started[j] = True
            if n_t == 0 or rng.random() < p_free[j]:
                att[j] = FREE
                lon_h, _ = vec_to_lonlat(h[j])
                free_pt[j] = lonlat_to_vec(lon_h + rng.uniform(-45, 45), rng.normal(0, 10))
            else:
                cand = targets[:, i]
                dist = np.rad2deg(chord_angle(h[j], cand))
                _, tlat = vec_to_lonlat(cand)
                wgt = np.exp(-dist / 35.0) * np.exp(-((tlat / 45.0) ** 2)) + 1e-6
                if att[j] >= 0 and n_t > 1:
                    wgt[att[j]] *= 0.1  # prefer a change
                att[j] = int(rng.choice(n_t, p=wgt / wgt.sum()))
            next_switch[j] = i + max(1, round(rng.exponential(dwell[j]) / dt))
        attention[:, i] = att
        # Where each subject aims now: the attended target as it was `delay` ago.
        aim = free_pt.copy()
        following = att >= 0
        if np.any(following):
            aim[following] = targets[att[following], np.maximum(i - delay[following], 0)]
        ou = a_ou * ou + b_ou * noise[i]
        alon, alat = vec_to_lonlat(aim)
        aim = lonlat_to_vec(
            alon + bias[:, 0] + ou[:, 0],
            np.clip(alat * lat_gain + bias[:, 1] + ou[:, 1], -89.0, 89.0),
        )
        aim[~started] = free_pt[~started]
        # Critically damped pursuit with speed and acceleration limits.
        err = _tangent_log(h, aim)
        acc = w0 * w0 * err - 2.0 * w0 * v
        an = np.linalg.norm(acc, axis=-1, keepdims=True)
        acc = np.where(an > amax, acc * amax / np.maximum(an, 1e-300), acc)
        v = v + acc * dt
        vn = np.linalg.norm(v, axis=-1, keepdims=True)
        v = np.where(vn > vmax, v * vmax / np.maximum(vn, 1e-300), v)
        heads[:, i] = h
        h, v = _exp_step(h, v, dt)
    return heads, attention
