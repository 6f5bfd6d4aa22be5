"""``pano eval --target eye``: the eye-movement ground truth the metrics score against.

With ``target="eye"`` the ground truth comes from ``videos/<video>/em`` (written by
``pano em detect``; layout in ``docs/em.md``) instead of the head data:

* **density maps** (CC, KLD, SIM): ``eye_heatmap[step]`` - the fixations active at the
  step blurred by the eye sigma (~2 degrees);
* **fixations** (NSS, the AUCs, IG, and the shuffled-AUC negatives of other frames):
  each subject's fixation *active* at the step (``start_s <= step_time < start_s +
  duration_s``; :func:`pano.em.maps.active_fixation_points`), its centre placed in the
  map pixel that contains it - at most one per subject and step, none while the subject
  makes a saccade, blinks or is unlabelled;
* **scanpaths** (DTW, MultiMatch, Jarodzka-360): each subject's fixation centres in
  order of onset (``fix_xyz``), padded with NaN rows to the longest list (the metrics
  drop NaN rows);
* the **fitted baselines** (FCB width, equator bias, IG's equator baseline) are fitted
  on the active fixations of the train split's steps, and ``inter_observer`` blurs one
  half of the subjects' active fixations with the eye heatmap recipe.

Every function here reads complete events groups only (:mod:`pano.stores.em`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from pano.errors import StoreError

#: What ``pano eval`` scores against: the head data or the detected eye fixations.
Target = Literal["head", "eye"]
TARGETS: tuple[str, ...] = ("head", "eye")


def check_eye_events(store: str, videos: Sequence[str], why: str) -> None:
    """Raise one line unless every video in ``videos`` has complete eye-movement events.

    Args:
        store: the store's path or URL.
        videos: video names that need events.
        why: what needs them (``"split 'test'"``, ``"the train split's fitted baselines"``).

    Raises:
        StoreError: some video has no (or incomplete) events; the message names them and
            the command that makes them (``pano em detect``).

    """
    from pano.stores.em import em_state

    states = {v: em_state(store, v) for v in videos}
    bad = sorted(v for v, s in states.items() if s != "complete")
    if not bad:
        return
    shown = ", ".join(f"{v} ({states[v]})" for v in bad[:6]) + (" ..." if len(bad) > 6 else "")
    raise StoreError(
        f"{store}: --target eye needs complete eye-movement events, and {len(bad)} video(s) of "
        f"{why} have none: {shown}; run `pano em detect {store}` first (or use --target head)"
    )


def eye_points(
    location: Any, video: str, start: int | None = None, stop: int | None = None
) -> np.ndarray:
    """Centres of each subject's active fixation at each step ``[start, stop)``.

    Returns:
        ``(S, M, 3)`` float64 unit vectors in pano's frame (+x front, +y left, +z up);
        NaN rows where a subject holds no fixation at the step.

    """
    from pano.em.maps import active_fixation_points
    from pano.stores import read_video_array
    from pano.stores.em import read_fixations

    step_time = np.asarray(read_video_array(location, video, "step_time"), np.float64)
    return active_fixation_points(read_fixations(location, video), step_time[start:stop])


def eye_lonlat(
    location: Any, video: str, start: int | None = None, stop: int | None = None
) -> np.ndarray:
    """:func:`eye_points` as pano lon/lat degrees ``(S, M, 2)`` (+lon LEFT, +lat up; NaN kept)."""
    from pano.geometry import vec_to_lonlat

    pts = eye_points(location, video, start, stop)
    lon, lat = vec_to_lonlat(pts)
    return np.stack([np.asarray(lon, np.float64), np.asarray(lat, np.float64)], axis=-1)


def fixation_scanpaths(location: Any, video: str) -> np.ndarray:
    """Each subject's fixation centres in order of onset, ``(M, n_max, 3)`` (NaN padded).

    ``n_max`` is the longest fixation list (at least 1); a subject without fixations is
    all NaN (the scanpath metrics then give NaN for its pairs).
    """
    from pano.stores.em import read_fixations

    fixations = read_fixations(location, video)
    n = max([len(f) for f in fixations] + [1])
    out = np.full((len(fixations), n, 3), np.nan)
    for m, f in enumerate(fixations):
        order = np.argsort(f.start_s, kind="stable")
        out[m, : len(f)] = np.asarray(f.vec, np.float64)[order]
    return out


def eye_heatmap_params(location: Any, video: str) -> Any:
    """The :class:`~pano.heatmap_params.HeatmapParams` the video's ``eye_heatmap`` was made with."""
    from pano.stores.em import read_em_attrs

    return read_em_attrs(location, video).eye_heatmap
