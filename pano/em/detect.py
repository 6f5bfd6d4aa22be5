"""Eye-movement event detection on the sphere: I-VT, I-DT, post-processing, fixation lists.

Input is one recording (one subject, one eye or the eyes' mean) of gaze unit vectors in
pano's world frame (+x front, +y left, +z up) with timestamps in seconds; NaN rows are
missing samples. :func:`detect_events` runs the whole pipeline of an :class:`EmParams`:

1. check the input (:func:`pano.em.velocity.check_gaze`);
2. resample to ``resample_hz`` by slerp, or else check that the rate is constant;
3. Savitzky-Golay smoothing of the vector components, re-normalised;
4. label every sample (:class:`EmEvent`) with I-VT or I-DT;
5. merge fixations separated by a short gap whose centres are close, then turn fixations
   shorter than ``min_fixation_s`` into ``UNKNOWN``;
6. list the fixations (:class:`Fixations`).

Longitudes and latitudes are degrees in pano's convention: lon in ``[-180, 180)``, 0 at
the front, POSITIVE TO THE LEFT; lat positive up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pano.em.params import EmEvent, EmParams
from pano.em.velocity import (
    angular_velocity,
    check_gaze,
    check_rate,
    resample_gaze,
    smooth_gaze,
    valid_runs,
)
from pano.geometry import normalize, orthodromic_distance, vec_to_lonlat

__all__ = [
    "EmResult",
    "Fixations",
    "detect_events",
    "fixation_list",
    "label_idt",
    "label_ivt",
    "postprocess",
]

_FIX, _SAC, _BLINK, _UNK = (
    np.int8(EmEvent.FIXATION),
    np.int8(EmEvent.SACCADE),
    np.int8(EmEvent.BLINK),
    np.int8(EmEvent.UNKNOWN),
)


@dataclass(frozen=True)
class Fixations:
    """The fixations of one recording, ``K`` rows, in time order.

    Attributes:
        first: ``(K,)`` int64 index of the first sample (of the detection's sample grid).
        last: ``(K,)`` int64 index of the last sample (inclusive).
        start_s: ``(K,)`` time of the first sample, seconds.
        duration_s: ``(K,)`` number of samples from first to last (inclusive) times the
            sample interval, seconds (so one sample lasts one interval).
        vec: ``(K, 3)`` centre: the normalised mean of the fixation's valid unit vectors.
        lon, lat: ``(K,)`` the centre in degrees (pano's convention, +lon LEFT, +lat up).
    """

    first: np.ndarray
    last: np.ndarray
    start_s: np.ndarray
    duration_s: np.ndarray
    vec: np.ndarray
    lon: np.ndarray
    lat: np.ndarray

    def __len__(self) -> int:
        return int(self.first.size)


@dataclass(frozen=True)
class EmResult:
    """Output of :func:`detect_events` for one recording.

    Attributes:
        times: ``(M,)`` seconds of the sample grid used (the input's, or the resampled one).
        gaze: ``(M, 3)`` the unit vectors labelled (after resampling and smoothing).
        velocity: ``(M,)`` angular speed in deg/s (:func:`pano.em.velocity.angular_velocity`).
        events: ``(M,)`` int8 :class:`EmEvent` codes.
        fixations: the fixation list.
        params: the parameters used.
    """

    times: np.ndarray
    gaze: np.ndarray
    velocity: np.ndarray
    events: np.ndarray
    fixations: Fixations
    params: EmParams


def label_ivt(velocity: np.ndarray, missing: np.ndarray, threshold_deg_s: float) -> np.ndarray:
    """I-VT: a sample faster than the threshold is a saccade, else a fixation.

    Args:
        velocity: ``(N,)`` deg/s from :func:`pano.em.velocity.angular_velocity`.
        missing: ``(N,)`` bool, the gaze sample is NaN.
        threshold_deg_s: velocity threshold, deg/s (strictly greater is a saccade).

    Returns:
        ``(N,)`` int8 codes: missing samples are ``BLINK``; a valid sample whose velocity is
        NaN (its predecessor is missing) is ``UNKNOWN``.

    """
    out = np.where(velocity > threshold_deg_s, _SAC, _FIX).astype(np.int8)
    out[np.isnan(velocity)] = _UNK
    out[missing] = _BLINK
    return out


def _dispersion_deg(vecs: np.ndarray) -> float:
    """Largest great-circle angle (deg) of ``vecs (n, 3)`` from their normalised mean."""
    centre = normalize(vecs.sum(axis=0))
    return float(np.rad2deg(orthodromic_distance(vecs, centre[None, :]).max()))


def label_idt(vecs: np.ndarray, dt: float, dispersion_deg: float, window_s: float) -> np.ndarray:
    """I-DT (Salvucci & Goldberg 2000) with dispersion measured on the sphere.

    Dispersion of a window = the largest great-circle angle of its samples from their mean
    direction (normalised mean of the unit vectors), in degrees. Within each run of valid
    samples: a window of ``ceil(window_s / dt)`` samples whose dispersion is at most
    ``dispersion_deg`` starts a fixation, which grows one sample at a time while the
    dispersion stays within the threshold; otherwise the window's first sample is a
    saccade and the window moves on by one. Runs shorter than the window, and the last
    samples of a run that never start a full window, are ``UNKNOWN``; missing samples are
    ``BLINK``.

    Args:
        vecs: ``(N, 3)`` unit vectors, NaN rows missing.
        dt: sample interval, seconds.
        dispersion_deg: threshold, degrees.
        window_s: minimum fixation window, seconds.

    Returns:
        ``(N,)`` int8 :class:`EmEvent` codes.

    """
    n = vecs.shape[0]
    valid = np.all(np.isfinite(vecs), axis=-1)
    out = np.full(n, _BLINK, dtype=np.int8)
    w = max(2, int(np.ceil(window_s / dt - 1e-9)))
    for a, b in valid_runs(valid):
        out[a:b] = _UNK
        i = a
        while i + w <= b:
            if _dispersion_deg(vecs[i : i + w]) <= dispersion_deg:
                j = i + w
                while j < b and _dispersion_deg(vecs[i : j + 1]) <= dispersion_deg:
                    j += 1
                out[i:j] = _FIX
                i = j
            else:
                out[i] = _SAC
                i += 1
        # A run's last samples that never start a full window stay UNKNOWN.
    return out


def _segments(events: np.ndarray, code: np.int8) -> list[tuple[int, int]]:
    return valid_runs(events == code)


def _centre(vecs: np.ndarray) -> np.ndarray:
    seg = vecs[np.all(np.isfinite(vecs), axis=-1)]
    return normalize(seg.sum(axis=0))


def postprocess(events: np.ndarray, vecs: np.ndarray, dt: float, params: EmParams) -> np.ndarray:
    """Merge close fixations, then drop short ones; returns new ``(N,)`` int8 codes.

    Merge: two consecutive fixations are joined when the samples between them last at most
    ``merge_gap_s`` (count x ``dt``) and their centres (normalised mean directions) are at
    most ``merge_angle_deg`` apart; the gap's samples become ``FIXATION`` except missing ones,
    which stay ``BLINK`` (a blink inside a fixation). Merging runs left to right, so a chain
    of close fixations becomes one. Then a fixation lasting less than ``min_fixation_s``
    (samples x ``dt``, from its first to its last sample) becomes ``UNKNOWN``.
    """
    out = np.array(events, dtype=np.int8, copy=True)
    segs = _segments(out, _FIX)
    merged: list[tuple[int, int]] = []
    for a, b in segs:
        if merged:
            pa, pb = merged[-1]
            gap = a - pb
            close = np.rad2deg(orthodromic_distance(_centre(vecs[pa:pb]), _centre(vecs[a:b])))
            if gap * dt <= params.merge_gap_s + 1e-9 and close <= params.merge_angle_deg:
                between = out[pb:a]
                out[pb:a] = np.where(between == _BLINK, _BLINK, _FIX)
                merged[-1] = (pa, b)
                continue
        merged.append((a, b))
    for a, b in merged:
        if (b - a) * dt < params.min_fixation_s - 1e-9:
            seg = out[a:b]
            out[a:b] = np.where(seg == _FIX, _UNK, seg)
    return out


def _fixation_spans(events: np.ndarray) -> list[tuple[int, int]]:
    """``[first, stop)`` of each fixation: FIXATION runs joined across BLINK samples inside."""
    spans: list[tuple[int, int]] = []
    for a, b in _segments(events, _FIX):
        if spans and np.all(events[spans[-1][1] : a] == _BLINK):
            spans[-1] = (spans[-1][0], b)
        else:
            spans.append((a, b))
    return spans


def fixation_list(times: np.ndarray, vecs: np.ndarray, events: np.ndarray, dt: float) -> Fixations:
    """The fixations of labelled samples (a blink inside a merged fixation stays inside it).

    Args:
        times: ``(N,)`` seconds.
        vecs: ``(N, 3)`` unit vectors, NaN rows missing.
        events: ``(N,)`` :class:`EmEvent` codes.
        dt: sample interval, seconds.

    """
    spans = _fixation_spans(np.asarray(events))
    first = np.array([a for a, _ in spans], dtype=np.int64)
    last = np.array([b - 1 for _, b in spans], dtype=np.int64)
    vec = np.array([_centre(vecs[a:b]) for a, b in spans], dtype=np.float64).reshape(-1, 3)
    lon, lat = vec_to_lonlat(vec)
    return Fixations(
        first=first,
        last=last,
        start_s=np.asarray(times, dtype=np.float64)[first],
        duration_s=(last - first + 1) * dt,
        vec=vec,
        lon=np.asarray(lon, dtype=np.float64),
        lat=np.asarray(lat, dtype=np.float64),
    )


def detect_events(
    times: np.ndarray, gaze: np.ndarray, params: EmParams | None = None, what: str = "gaze"
) -> EmResult:
    """Run the whole detection pipeline on one recording.

    Under ``params.profile == "salient360"`` the Salient360! toolbox's steps run instead
    (:func:`pano.em.salient360.run_salient360`); the fixation list is built the same way.

    Args:
        times: ``(N,)`` sample times in seconds, strictly increasing.
        gaze: ``(N, 3)`` gaze directions in pano's world frame (normalised here), NaN rows
            for missing samples.
        params: the parameters (default :class:`EmParams()`).
        what: name of the recording in error messages (e.g. ``"video 3, subject 7"``).

    Returns:
        :class:`EmResult` on the detection's sample grid (the input's, or the resampled one).

    Raises:
        pano.errors.InputDataError: bad timestamps, a changing sample rate without
            resampling, an all-NaN recording, a zero-length gaze vector.
        pano.errors.ShapeError: shapes are not ``(N,)`` and ``(N, 3)``.

    """
    params = params or EmParams()
    if params.profile == "salient360":
        from pano.em.salient360 import run_salient360

        grid, vecs, velocity, events, dt = run_salient360(times, gaze, params, what)
        return EmResult(grid, vecs, velocity, events, fixation_list(grid, vecs, events, dt), params)
    vecs = check_gaze(times, gaze, what)
    times = np.asarray(times, dtype=np.float64)
    if params.resample_hz is not None:
        times, vecs = resample_gaze(times, vecs, params.resample_hz)
        dt = 1.0 / params.resample_hz
    else:
        dt = check_rate(times, params.rate_tolerance, what)
    vecs = smooth_gaze(vecs, params.savgol_window, params.savgol_order)
    velocity = angular_velocity(times, vecs)
    missing = ~np.all(np.isfinite(vecs), axis=-1)
    if params.method == "ivt":
        events = label_ivt(velocity, missing, params.velocity_threshold_deg_s)
    else:
        events = label_idt(vecs, dt, params.dispersion_deg, params.idt_window_s)
    events = postprocess(events, vecs, dt, params)
    fixations = fixation_list(times, vecs, events, dt)
    return EmResult(times, vecs, velocity, events, fixations, params)
