"""Prediction runs in a store: ``predictions/<run>/<video>`` - writing, checking, identity.

Layout (``docs/store.md``): a run group ``predictions/<run>`` carries the run's attributes
(``model``, ``config``, ``checkpoint``, ``created``, ``pano_version``, ``split``) and holds
one group per video with any of ``heatmap (step, lat, lon)``, ``scanpath (step, rollout,
lonlat)`` and ``forecast (subject, origin, horizon, xyz)`` (+ its ``origin`` coordinate).

* Writing: :func:`create_prediction_run` replaces the run group; :func:`write_prediction_video`
  writes one video group through :func:`pano.stores.writer.write_group` (``pano_complete``
  last) and records the SHA-256 of its arrays (:func:`arrays_sha256`) in the group's
  ``content_sha256`` attribute.
* Checking: :func:`check_predictions` holds a run against the ground truth's sizes
  before anything is scored.
* Identity: :func:`prediction_identity` says exactly which predictions a run holds now
  (checkpoint, written-at time, content hashes); ``pano eval`` records it in its results
  and ``pano info`` compares it with the run's current identity (stale results).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from pano.errors import StoreError
from pano.stores.reader import (
    StoreLike,
    VideoShape,
    array_at,
    child_groups,
    describe,
    is_complete,
    missing_arrays,
    open_root,
    present_arrays,
)
from pano.stores.schema import CONTENT_HASH_ATTR, PREDICTIONS_GROUP

if TYPE_CHECKING:
    import zarr

    from pano.stores.writer import ArraySpec

#: The outputs a prediction video group may hold.
PREDICTION_OUTPUTS = ("heatmap", "scanpath", "forecast")

#: Bytes hashed per block when hashing a stored array (it is never loaded whole).
HASH_BLOCK_BYTES = 64 * 2**20


def prediction_path(run: str, video: str | None = None) -> str:
    """``predictions/<run>`` or ``predictions/<run>/<video>``."""
    return f"{PREDICTIONS_GROUP}/{run}" + ("" if video is None else f"/{video}")


def _run_groups(root: zarr.Group) -> dict[str, zarr.Group]:
    groups = child_groups(root)
    return child_groups(groups[PREDICTIONS_GROUP]) if PREDICTIONS_GROUP in groups else {}


def prediction_runs(location: StoreLike) -> list[str]:
    """Sorted names of the prediction runs of a store (complete or not)."""
    return sorted(_run_groups(open_root(location)))


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def arrays_sha256(arrays: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of named arrays' content; equal for NumPy arrays and their stored copies.

    For each array in name order: its name, little-endian dtype and shape, then its
    elements in C order as little-endian bytes, read in blocks along the first axis
    (a Zarr array is hashed without loading it whole). Codecs and chunking do not enter:
    the same values give the same hash however they are stored.

    Args:
        arrays: name -> array (NumPy, Zarr, or anything sliceable with ``dtype``/``shape``).

    """
    h = hashlib.sha256(b"pano-arrays-v1\0")
    for name in sorted(arrays):
        arr = arrays[name]
        dtype = np.dtype(arr.dtype)
        dtype = np.dtype(str) if dtype.kind == "O" else dtype.newbyteorder("<")
        shape = tuple(int(n) for n in arr.shape)
        h.update(f"{name}\0{dtype.str}\0{shape}\0".encode())
        if not shape:
            h.update(np.asarray(arr[()]).astype(dtype).tobytes())
            continue
        row = dtype.itemsize * math.prod(shape[1:])
        step = max(1, HASH_BLOCK_BYTES // max(1, row))
        for i in range(0, shape[0], step):
            block = np.ascontiguousarray(np.asarray(arr[i : i + step]).astype(dtype, copy=False))
            h.update(block.data)
    return h.hexdigest()


def create_prediction_run(location: StoreLike, run: str, attrs: Mapping[str, Any]) -> None:
    """Create ``predictions/<run>`` with ``attrs``, replacing a run of that name.

    A replaced run is marked incomplete before it is deleted (``writer.delete_group``).
    The store's generation is bumped first (:mod:`pano.stores.generation`): call it
    holding the store's write lock.
    """
    from pano.stores.generation import bump_generation
    from pano.stores.writer import delete_group

    bump_generation(location)
    root = open_root(location, mode="a")
    preds = root.require_group(PREDICTIONS_GROUP)
    delete_group(root, prediction_path(run))
    preds.create_group(run, attributes=dict(attrs))


def write_prediction_video(
    location: StoreLike,
    run: str,
    video: str,
    arrays: Mapping[str, ArraySpec],
    attrs: Mapping[str, Any],
) -> str:
    """Write ``predictions/<run>/<video>`` (complete flag last) with its content hash.

    Returns:
        The SHA-256 of the arrays (:func:`arrays_sha256`), also stored in the group's
        ``content_sha256`` attribute.

    """
    from pano.stores.writer import write_group

    digest = arrays_sha256({k: s.data for k, s in arrays.items()})
    write_group(location, prediction_path(run, video), arrays, {**attrs, CONTENT_HASH_ATTR: digest})
    return digest


# ---------------------------------------------------------------------------
# Reading and checking
# ---------------------------------------------------------------------------


def read_prediction_array(
    location: StoreLike,
    run: str,
    video: str,
    name: str,
    start: int | None = None,
    stop: int | None = None,
) -> np.ndarray:
    """Read ``predictions/<run>/<video>/<name>[start:stop]`` (first axis) as NumPy."""
    return np.asarray(array_at(location, f"{prediction_path(run, video)}/{name}")[start:stop])


@dataclass
class PredictionRun:
    """A prediction run checked against the ground truth (:func:`check_predictions`)."""

    name: str
    attrs: dict[str, Any]  # the run group's attributes
    outputs: dict[str, bool]  # heatmap / scanpath / forecast -> present in every video
    origins: dict[str, np.ndarray] = field(default_factory=dict)  # forecast origins per video
    horizon: int | None = None  # forecast steps, None without forecasts


def check_predictions(
    location: StoreLike, run: str, videos: Sequence[VideoShape], split: str
) -> PredictionRun:
    """Check ``predictions/<run>`` against the ground truth of ``videos`` (of ``split``).

    Every video must have a complete group with the same outputs; heatmaps must be on the
    ground truth's ``(step, lat, lon)`` grid, scanpaths ``(step, rollout, 2)`` and
    forecasts ``(subject, origin, horizon, 3)`` with ``origin`` indices into ``rs_time``.

    Raises:
        StoreError: one line naming the run, the video and what to change.

    """
    root = open_root(location)
    where = f"{describe(location)}: {prediction_path(run)}"
    runs = _run_groups(root)
    if run not in runs:
        raise StoreError(
            f"{where} does not exist; runs in the store: {', '.join(sorted(runs)) or 'none'}"
        )
    grp = runs[run]
    have_videos = set(child_groups(grp))
    missing = [v.name for v in videos if v.name not in have_videos]
    if missing:
        raise StoreError(
            f"{where} has no predictions for video(s) {missing} of split {split!r}; "
            "predict them or restrict --videos"
        )
    kinds: dict[str, bool] = {}
    origins: dict[str, np.ndarray] = {}
    horizon: int | None = None
    for info in videos:
        v = child_groups(grp)[info.name]
        if v.attrs.get("pano_complete") is False:
            raise StoreError(f"{where}/{info.name} is incomplete (pano_complete is false)")
        arrays = set(v.array_keys())
        lost = missing_arrays(v.attrs.asdict(), arrays, video=False)
        if lost:
            raise StoreError(
                f"{where}/{info.name} is damaged (no {', '.join(lost)}); predict it again"
            )
        has = {k: k in arrays for k in PREDICTION_OUTPUTS}
        if not any(has.values()):
            raise StoreError(f"{where}/{info.name} has none of heatmap, scanpath, forecast")
        if kinds and has != kinds:
            raise StoreError(
                f"{where}: videos differ in what they predict ({info.name}: "
                f"{sorted(k for k, x in has.items() if x)}, others: "
                f"{sorted(k for k, x in kinds.items() if x)})"
            )
        kinds = has
        if has["heatmap"]:
            shape = tuple(array_at(v, "heatmap").shape)
            want = (info.n_steps, *info.grid)
            if shape != want:
                raise StoreError(
                    f"{where}/{info.name}/heatmap has shape {shape} but the ground truth "
                    f"videos/{info.name}/heatmap is {want} (steps, lat, lon); predict on the "
                    "store's step grid and heatmap size"
                )
            _check_heatmap_values(array_at(v, "heatmap"), f"{where}/{info.name}/heatmap")
        if has["scanpath"]:
            shape = tuple(array_at(v, "scanpath").shape)
            if len(shape) != 3 or shape[0] != info.n_steps or shape[2] != 2:
                raise StoreError(
                    f"{where}/{info.name}/scanpath has shape {shape}; expected "
                    f"({info.n_steps}, rollouts, 2) (step, rollout, lon/lat)"
                )
        if has["forecast"]:
            shape = tuple(array_at(v, "forecast").shape)
            if len(shape) != 4 or shape[0] != info.n_subjects or shape[3] != 3:
                raise StoreError(
                    f"{where}/{info.name}/forecast has shape {shape}; expected "
                    f"({info.n_subjects}, origins, horizon, 3) (subject, origin, horizon, xyz)"
                )
            if "origin" not in arrays:
                raise StoreError(f"{where}/{info.name} has a forecast but no 'origin' coordinate")
            o = np.asarray(array_at(v, "origin")[:], dtype=np.int64)
            if o.shape != (shape[1],) or (o.size and (o.min() < 0 or o.max() >= info.n_rs)):
                raise StoreError(
                    f"{where}/{info.name}/origin must hold {shape[1]} indices into rs_time "
                    f"[0, {info.n_rs})"
                )
            _check_forecast_values(array_at(v, "forecast"), f"{where}/{info.name}/forecast")
            if horizon is not None and shape[2] != horizon:
                raise StoreError(f"{where}: videos have different forecast horizons")
            horizon = int(shape[2])
            origins[info.name] = o
    return PredictionRun(run, dict(grp.attrs.asdict()), kinds, origins, horizon)


def _check_heatmap_values(arr: zarr.Array, where: str) -> None:
    """Refuse a predicted heatmap with NaN/inf or negative values (read one step at a time).

    Saliency metrics take a map as a density (>= 0); a negative value would give
    meaningless KLD/NSS/IG scores rather than an error.
    """
    for i in range(int(arr.shape[0])):
        m = np.asarray(arr[i])
        if not np.isfinite(m).all():
            raise StoreError(
                f"{where} has NaN or infinite values at step {i}; a predicted heatmap must be "
                "finite - predict it again"
            )
        if m.size and float(m.min()) < 0:
            raise StoreError(
                f"{where} has negative values (min {float(m.min()):.4g} at step {i}); a "
                "saliency map must be >= 0 - clip or predict it again"
            )


def _check_forecast_values(arr: zarr.Array, where: str) -> None:
    """Refuse a predicted forecast that is NaN everywhere (nothing would be scored)."""
    v = np.asarray(arr[:])
    if v.size and np.isnan(v).all():
        raise StoreError(
            f"{where} is all NaN (no forecast at any subject, origin or horizon); nothing could "
            "be scored - predict it again"
        )


# ---------------------------------------------------------------------------
# Identity: which predictions a run holds now
# ---------------------------------------------------------------------------


def video_content_hash(group: zarr.Group) -> str:
    """A prediction video group's content hash: recorded at write, else computed.

    Groups written by :func:`write_prediction_video` carry ``content_sha256``; groups
    written by other tools are hashed from their arrays (:func:`arrays_sha256`), which
    gives the same value for the same arrays.
    """
    recorded = group.attrs.get(CONTENT_HASH_ATTR)
    if isinstance(recorded, str):
        return recorded
    return arrays_sha256({k: array_at(group, k) for k in group.array_keys()})


def prediction_identity(
    location: StoreLike, run: str, videos: Sequence[str] | None = None
) -> dict[str, Any]:
    """Exactly which predictions ``predictions/<run>`` holds now.

    Args:
        location: store path/URL or open root group.
        run: the run name.
        videos: the videos to describe (default: every video group of the run).

    Returns:
        ``{"run", "checkpoint", "created", "videos": {video: sha256 or None}, "incomplete":
        [videos], "content_sha256"}``: the run's checkpoint name and written-at time (its
        attributes), each video's content hash (None: no such video group) and one hash
        over the ``video:hash`` pairs in name order.

    Raises:
        StoreError: no such run.

    """
    runs = _run_groups(open_root(location))
    if run not in runs:
        raise StoreError(f"{describe(location)}: {prediction_path(run)} does not exist")
    grp = runs[run]
    groups = child_groups(grp)
    names = sorted(groups if videos is None else videos)
    hashes = {v: (video_content_hash(groups[v]) if v in groups else None) for v in names}
    total = hashlib.sha256()
    for v in names:
        total.update(f"{v}:{hashes[v]}\n".encode())
    a = grp.attrs.asdict()
    return {
        "run": run,
        "checkpoint": a.get("checkpoint"),
        "created": a.get("created"),
        "videos": hashes,
        "incomplete": [v for v in names if v in groups and not is_complete(groups[v].attrs)],
        "content_sha256": total.hexdigest(),
    }


def run_progress(location: StoreLike, run: str) -> tuple[int, int]:
    """``(complete, total)`` video groups of ``predictions/<run>`` (damaged ones not complete)."""
    root = open_root(location)
    videos = child_groups(_run_groups(root)[run])
    have = present_arrays(root, prediction_path(run)) if videos else {}
    done = sum(
        is_complete(a := v.attrs.asdict()) and not missing_arrays(a, have.get(k, set()), False)
        for k, v in videos.items()
    )
    return done, len(videos)


__all__ = [
    "PREDICTION_OUTPUTS",
    "PredictionRun",
    "arrays_sha256",
    "check_predictions",
    "create_prediction_run",
    "prediction_identity",
    "prediction_path",
    "prediction_runs",
    "read_prediction_array",
    "run_progress",
    "video_content_hash",
    "write_prediction_video",
]
