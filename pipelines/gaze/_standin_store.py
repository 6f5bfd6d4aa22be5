"""TEMPORARY stand-in for gaze-store's ``stores/gaze.py`` (deleted once it lands on main)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pano.errors import StoreError
from pano.stores.gaze_samples import GAZE_GROUP, GazeProtocol, GazeSamples


@dataclass
class GazeData:
    """Stand-in lazy view."""

    dataset: str
    face: Any
    gaze_xyz: Any
    subject: Any
    mirrored: Any
    split: Any | None
    head_xyz: Any | None
    protocol: GazeProtocol


def write_gaze(store: str, dataset: str, s: GazeSamples, protocol: GazeProtocol) -> None:
    """Stand-in writer."""
    import zarr

    from pano.stores.writer import ArraySpec, write_group

    root = zarr.open_group(store, mode="a", zarr_format=3)
    arrays = {
        "face": ArraySpec(("sample", "y", "x", "rgb"), s.face, chunks=(16, *s.face.shape[1:])),
        "gaze_xyz": ArraySpec(("sample", "xyz"), s.gaze_xyz),
        "subject": ArraySpec(("sample",), s.subject.astype(np.dtypes.StringDType())),
        "mirrored": ArraySpec(("sample",), s.mirrored),
    }
    if s.split is not None:
        arrays["split"] = ArraySpec(("sample",), s.split.astype(np.dtypes.StringDType()))
    if s.head_xyz is not None:
        arrays["head_xyz"] = ArraySpec(("sample", "xyz"), s.head_xyz)
    write_group(root, f"{GAZE_GROUP}/{dataset}", arrays, {"protocol": protocol.to_attrs()})


def open_gaze(store: str, dataset: str) -> GazeData:
    """Stand-in reader."""
    import zarr

    try:
        g = zarr.open_group(store, mode="r", path=f"{GAZE_GROUP}/{dataset}")
    except Exception as err:
        raise StoreError(f"{store}: no gaze data set {dataset!r}") from err
    p = g.attrs["protocol"]
    names = set(g.array_keys())
    return GazeData(
        dataset,
        g["face"],
        np.asarray(g["gaze_xyz"][:]),
        np.asarray(g["subject"][:].tolist(), dtype=str),
        np.asarray(g["mirrored"][:]),
        np.asarray(g["split"][:].tolist(), dtype=str) if "split" in names else None,
        np.asarray(g["head_xyz"][:]) if "head_xyz" in names else None,
        GazeProtocol(p["kind"], tuple(p["folds"]), p.get("description", "")),
    )
