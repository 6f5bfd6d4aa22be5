"""Gaze prediction runs in a store: ``gaze/<dataset>/predictions/<run>``.

A run group holds one row per sample of the data set (aligned with ``gaze/<dataset>``'s
arrays), written by ``pano train-gaze`` from the driver, ``pano_complete`` set last
(:func:`pano.stores.writer.write_group`):

* ``gaze_xyz`` ``float64 (sample, xyz)`` predicted unit gaze, GazeHub camera axes
  (x right, y down, z forward; ``(0, 0, -1)`` looks into the camera); NaN where not scored;
* ``yaw``, ``pitch`` ``float64 (sample,)`` the model's GazeHub angles in radians
  (``yaw = atan2(-x, -z)``, ``pitch = asin(-y)``), NaN where not scored;
* ``sigma`` ``float64 (sample, angle)`` the model's [yaw, pitch] spread (radians), NaN
  where not scored;
* ``scored`` ``bool (sample,)`` the sample was predicted (it is a test sample of a fold
  the run trained); ``fold`` ``str (sample,)`` that fold's name (``""`` where not scored).

Attributes (provenance): ``config`` (the training config), ``folds`` (per fold: test,
validation and training persons, the selection rule, the selected checkpoint and its
SHA-256, the training persons' mean gaze), ``protocol``, ``run_dir``, ``created``,
``pano_version``, ``store_generation`` (the data trained on) and ``content_sha256``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pano.errors import StoreError
from pano.stores.gaze_samples import GAZE_GROUP
from pano.stores.reader import StoreLike, child_groups, describe, is_complete, open_root
from pano.stores.schema import CONTENT_HASH_ATTR

#: Sub-group of ``gaze/<dataset>`` that holds prediction runs.
GAZE_PREDICTIONS = "predictions"

#: The per-sample arrays a gaze prediction run holds.
GAZE_PREDICTION_ARRAYS = ("gaze_xyz", "yaw", "pitch", "sigma", "scored", "fold")


def gaze_prediction_path(dataset: str, run: str | None = None) -> str:
    """``gaze/<dataset>/predictions[/<run>]``."""
    base = f"{GAZE_GROUP}/{dataset}/{GAZE_PREDICTIONS}"
    return base if run is None else f"{base}/{run}"


def _runs(location: StoreLike, dataset: str) -> dict[str, Any]:
    root = open_root(location)
    node: Any = root
    for part in (GAZE_GROUP, dataset, GAZE_PREDICTIONS):
        groups = child_groups(node)
        if part not in groups:
            return {}
        node = groups[part]
    return child_groups(node)


def gaze_prediction_runs(location: StoreLike, dataset: str, complete: bool = True) -> list[str]:
    """Sorted names of the (complete, by default) gaze prediction runs of a data set."""
    return sorted(
        k for k, g in _runs(location, dataset).items() if not complete or is_complete(g.attrs)
    )


def write_gaze_predictions(
    location: StoreLike,
    dataset: str,
    run: str,
    arrays: Mapping[str, np.ndarray],
    attrs: Mapping[str, Any],
) -> str:
    """Write ``gaze/<dataset>/predictions/<run>`` (replacing one of that name), complete last.

    Call it holding the store's write lock; the store's generation is bumped first.

    Args:
        location: the store.
        dataset: the gaze data set's name.
        run: the run's name.
        arrays: the :data:`GAZE_PREDICTION_ARRAYS`, each with the data set's sample count
            as first axis.
        attrs: JSON-ready provenance attributes.

    Returns:
        The SHA-256 of the arrays (also the group's ``content_sha256`` attribute).

    Raises:
        StoreError: an array is missing or the lengths differ.

    """
    from pano.stores.generation import bump_generation
    from pano.stores.predictions import arrays_sha256
    from pano.stores.writer import ArraySpec, write_group

    missing = [k for k in GAZE_PREDICTION_ARRAYS if k not in arrays]
    n = {len(np.asarray(v)) for v in arrays.values()}
    if missing or len(n) != 1:
        raise StoreError(
            f"{describe(location)}: gaze predictions need {', '.join(GAZE_PREDICTION_ARRAYS)} "
            f"of one length; missing {missing}, lengths {sorted(n)}"
        )
    dims = {"gaze_xyz": ("sample", "xyz"), "sigma": ("sample", "angle")}
    specs = {
        k: ArraySpec(dims.get(k, ("sample",)), _stored(np.asarray(arrays[k])))
        for k in GAZE_PREDICTION_ARRAYS
    }
    # Hashed as fixed-width text: NumPy's StringDType has no byte order to normalise.
    digest = arrays_sha256(
        {k: np.asarray(np.asarray(arrays[k]).tolist()) if k == "fold" else specs[k].data
         for k in specs}
    )  # fmt: skip
    bump_generation(location)
    write_group(
        open_root(location, mode="a"),
        gaze_prediction_path(dataset, run),
        specs,
        {**attrs, CONTENT_HASH_ATTR: digest},
    )
    return digest


def _stored(a: np.ndarray) -> np.ndarray:
    """Text arrays as NumPy variable-width strings (Zarr's specified UTF-8 string type)."""
    return a.astype(np.dtypes.StringDType()) if a.dtype.kind in "UOT" else a


@dataclass
class GazePredictions:
    """A complete gaze prediction run read from a store (arrays in sample order)."""

    dataset: str
    run: str
    gaze_xyz: np.ndarray  # float64 (N, 3), NaN where not scored
    yaw: np.ndarray  # float64 (N,) radians
    pitch: np.ndarray  # float64 (N,) radians
    sigma: np.ndarray  # float64 (N, 2) radians, [yaw, pitch] spread
    scored: np.ndarray  # bool (N,)
    fold: np.ndarray  # str (N,)
    attrs: dict[str, Any]


def open_gaze_predictions(location: StoreLike, dataset: str, run: str) -> GazePredictions:
    """Read ``gaze/<dataset>/predictions/<run>``.

    Raises:
        StoreError: no such complete run (the message lists the runs there are).

    """
    runs = _runs(location, dataset)
    if run not in runs or not is_complete(runs[run].attrs):
        have = ", ".join(gaze_prediction_runs(location, dataset)) or "none"
        raise StoreError(
            f"{describe(location)}: no complete {gaze_prediction_path(dataset, run)}; gaze "
            f"prediction runs of {dataset}: {have} (train one with `pano train-gaze`)"
        )
    g = runs[run]
    got = {k: np.asarray(g[k][...]) for k in GAZE_PREDICTION_ARRAYS}
    return GazePredictions(
        dataset,
        run,
        got["gaze_xyz"].astype(np.float64),
        got["yaw"].astype(np.float64),
        got["pitch"].astype(np.float64),
        got["sigma"].astype(np.float64),
        got["scored"].astype(bool),
        np.asarray(got["fold"].tolist(), dtype=str).reshape(got["fold"].shape),
        g.attrs.asdict(),
    )


__all__ = [
    "GAZE_PREDICTIONS",
    "GAZE_PREDICTION_ARRAYS",
    "GazePredictions",
    "gaze_prediction_path",
    "gaze_prediction_runs",
    "open_gaze_predictions",
    "write_gaze_predictions",
]
