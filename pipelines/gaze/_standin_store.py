"""TEMPORARY stand-in for gaze-store's ``stores/gaze.py`` (deleted once it lands on main)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pano.errors import StoreError
from pano.stores.gaze_samples import GAZE_GROUP, GazeConvention, GazeProtocol, GazeSamples

_STRINGS = ("subject", "split", "source")


@dataclass
class GazeData:
    """Stand-in lazy view."""

    dataset: str
    protocol: GazeProtocol
    n_samples: int
    arrays: dict[str, Any] = field(repr=False)

    def array(self, name: str) -> np.ndarray:
        """Whole array."""
        data = np.asarray(self.arrays[name][...])
        return np.array(data.tolist(), dtype=str) if name in _STRINGS else data


def write_gaze(
    store: str,
    dataset: str,
    s: GazeSamples,
    convention: GazeConvention,
    protocol: GazeProtocol,
    provenance: Mapping[str, Any],
) -> None:
    """Stand-in writer."""
    import zarr

    from pano.stores.writer import ArraySpec, write_group

    root = zarr.open_group(store, mode="a", zarr_format=3)
    st = np.dtypes.StringDType()
    arrays = {
        "face": ArraySpec(("sample", "y", "x", "rgb"), s.face, chunks=(16, *s.face.shape[1:])),
        "gaze_xyz": ArraySpec(("sample", "xyz"), s.gaze_xyz),
        "subject": ArraySpec(("sample",), s.subject.astype(st)),
        "mirrored": ArraySpec(("sample",), s.mirrored),
    }
    if s.split is not None:
        arrays["split"] = ArraySpec(("sample",), s.split.astype(st))
    if s.head_xyz is not None:
        arrays["head_xyz"] = ArraySpec(("sample", "xyz"), s.head_xyz)
    write_group(
        root, f"{GAZE_GROUP}/{dataset}", arrays, {"protocol": protocol.to_attrs(), "n": len(s)}
    )


def open_gaze(store: str, dataset: str) -> GazeData:
    """Stand-in reader."""
    import zarr

    try:
        g = zarr.open_group(store, mode="r", path=f"{GAZE_GROUP}/{dataset}")
    except Exception as err:
        raise StoreError(f"{store}: no gaze data set {dataset!r}") from err
    p: Any = g.attrs["protocol"]
    n: Any = g.attrs["n"]
    return GazeData(
        dataset,
        GazeProtocol(p["kind"], tuple(p["folds"]), p.get("description", "")),
        int(n),
        {str(k): v for k, v in g.arrays()},
    )
