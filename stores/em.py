"""Eye-movement events in a store: ``videos/<video>/em`` - writing, reading, state.

``pano em detect`` (:mod:`pano.pipelines.em_detect`) writes, per video with EM samples,
one sub-group ``videos/<video>/em`` holding the detected events, the fixation lists and
the EM ground truth (names, dims and attributes: :data:`EM_ARRAYS`, ``docs/em.md``,
``docs/store.md``). The sub-group is written whole by :func:`pano.stores.writer.write_group`
(``pano_complete`` last), so a killed run leaves a group that says incomplete, never
complete-looking events; readers here see only complete groups. Because it lives inside
the video group, re-ingesting a video (which rewrites its group) removes its events too:
events never outlive the samples they were detected on.

Reading:

* :func:`list_em_videos` - videos whose events are complete;
* :func:`open_em` - one video's events as a labelled :class:`xarray.Dataset` (with the
  video's ``subject``, ``step``, ``step_time``, ``lat``, ``lon`` coordinates). Events are
  on each subject's own detection grid: ``event_time (subject, event_sample)``, NaN-padded
  after ``event_count`` samples (subjects share it in PVS-HM groups; trace groups have a
  clock per subject);
* :func:`read_fixations` - the fixation lists as :class:`pano.em.Fixations`, per subject;
* :func:`read_em_array` - one array (or a block of its first axis) as NumPy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from pano.em import Fixations
from pano.errors import StoreError
from pano.stores.reader import (
    StoreLike,
    array_at,
    child_groups,
    describe,
    is_complete,
    list_videos,
    open_root,
    read_video_attrs,
)
from pano.stores.schema import VIDEOS_GROUP, EmGroupAttrs

if TYPE_CHECKING:
    import xarray as xr

    from pano.stores.writer import ArraySpec

#: Name of the events sub-group inside a video group.
EM_GROUP = "em"

#: Arrays of a complete ``videos/<video>/em`` group (all written, every time).
EM_ARRAYS: tuple[str, ...] = (
    "event_time", "event_count", "em_event", "em_velocity", "n_fixations",
    "fixation", "fix_subject", "fix_first", "fix_last", "fix_start", "fix_duration",
    "fix_lon", "fix_lat", "fix_xyz", "fixation_map", "eye_heatmap",
)  # fmt: skip


def em_path(video: str) -> str:
    """``videos/<video>/em``."""
    return f"{VIDEOS_GROUP}/{video}/{EM_GROUP}"


def _em_group(location: StoreLike, video: str) -> Any | None:
    root = open_root(location)
    videos = child_groups(root).get(VIDEOS_GROUP)
    if videos is None:
        return None
    vg = child_groups(videos).get(video)
    if vg is None:
        return None
    return child_groups(vg).get(EM_GROUP)


def em_state(location: StoreLike, video: str) -> str:
    """``"complete"``, ``"incomplete"`` (a killed run, or arrays missing) or ``"absent"``."""
    g = _em_group(location, video)
    if g is None:
        return "absent"
    attrs = g.attrs.asdict()
    with_arrays = set(g.array_keys())
    if is_complete(attrs) and set(EM_ARRAYS) <= with_arrays:
        return "complete"
    return "incomplete"


def list_em_videos(location: StoreLike) -> list[str]:
    """Sorted names of the complete videos whose EM events are complete."""
    return [v for v in list_videos(location) if em_state(location, v) == "complete"]


def _require(location: StoreLike, video: str) -> Any:
    g = _em_group(location, video)
    state = em_state(location, video)
    if g is None or state != "complete":
        what = "are incomplete (a run was interrupted)" if g is not None else "do not exist"
        raise StoreError(
            f"{describe(location)}: the eye-movement events of video {video!r} {what}; "
            "run `pano em detect STORE` (with --overwrite to replace them)"
        )
    return g


def read_em_attrs(location: StoreLike, video: str) -> EmGroupAttrs:
    """Validated attributes of a complete ``videos/<video>/em`` (EmParams included)."""
    g = _require(location, video)
    return EmGroupAttrs.from_attrs(g.attrs.asdict(), where=f"{describe(location)} {em_path(video)}")


def read_em_array(
    location: StoreLike, video: str, name: str, start: int | None = None, stop: int | None = None
) -> np.ndarray:
    """``videos/<video>/em/<name>[start:stop]`` (first axis) as NumPy (complete groups only)."""
    _require(location, video)
    return np.asarray(array_at(location, f"{em_path(video)}/{name}")[start:stop])


def read_fixations(location: StoreLike, video: str) -> list[Fixations]:
    """The fixation list of every subject of a video, as :class:`pano.em.Fixations`.

    Returns:
        One :class:`Fixations` per row ``0..M-1`` of the video's ``subject`` dimension
        (empty ones included), with ``first``/``last`` indices into that subject's row of
        ``event_time``.

    """
    g = _require(location, video)
    cols = {k: np.asarray(g[k][...]) for k in (
        "fix_subject", "fix_first", "fix_last", "fix_start", "fix_duration", "fix_xyz",
        "fix_lon", "fix_lat",
    )}  # fmt: skip
    m = int(np.asarray(g["n_fixations"]).shape[0])
    out = []
    for s in range(m):
        sel = cols["fix_subject"] == s
        out.append(
            Fixations(
                first=cols["fix_first"][sel].astype(np.int64),
                last=cols["fix_last"][sel].astype(np.int64),
                start_s=cols["fix_start"][sel],
                duration_s=cols["fix_duration"][sel],
                vec=cols["fix_xyz"][sel].reshape(-1, 3),
                lon=cols["fix_lon"][sel],
                lat=cols["fix_lat"][sel],
            )
        )
    return out


def open_em(location: StoreLike, video: str) -> xr.Dataset:
    """One video's events, fixations and EM ground truth as a labelled Dataset (lazy).

    The group's own arrays (``event_time (subject, event_sample)``, ``fixation``, ...) plus
    the video's
    ``subject``, ``step`` (with ``step_time``, ``step_frame``, ``step_sample``), ``lat``
    and ``lon``; attributes as stored (``em_params`` holds every detection parameter).

    Raises:
        StoreError: the video or its complete events are missing.

    """
    import xarray as xr

    from pano.stores.reader import open_video, zarr_store

    _require(location, video)
    if not isinstance(location, str) and not hasattr(location, "__fspath__"):
        raise StoreError("open_em needs the store's path or URL, not an open group")
    ds = xr.open_dataset(
        zarr_store(location),  # type: ignore[arg-type]
        group=em_path(video),
        engine="zarr",
        consolidated=False,
        zarr_format=3,
    )
    vid = open_video(location, video)
    coords = {k: vid[k] for k in ("subject", "step", "step_time", "step_frame", "step_sample",
                                  "lat", "lon") if k in vid.variables}  # fmt: skip
    return ds.assign_coords(coords)


def write_em_group(
    location: StoreLike, video: str, arrays: Mapping[str, ArraySpec], attrs: EmGroupAttrs
) -> None:
    """Write ``videos/<video>/em`` from scratch, complete flag last (the video must exist).

    An existing events group is marked incomplete, then deleted, first
    (:func:`pano.stores.writer.write_group`). Call it holding the store's write lock,
    after moving the generation on (:func:`pano.stores.generation.bump_generation`).
    """
    from pano.stores.writer import write_group

    missing = sorted(set(EM_ARRAYS) - set(arrays))
    if missing:
        raise StoreError(f"{em_path(video)}: arrays {missing} are missing from the write")
    read_video_attrs(location, video)  # the video group must exist (clear error otherwise)
    write_group(location, em_path(video), arrays, attrs.to_attrs())
