"""The ``gaze`` data set kind of a pano store: ``gaze/<dataset>/`` (face crops and 3-D gaze).

A store may hold gaze data sets alone or beside its ``videos``. One group per data set:

* ``face`` ``uint8 (sample, height, width, rgb)`` RGB face crops, :data:`FACE_CHUNK`
  samples per chunk (Blosc zstd like the rest of the store); ``left``/``right`` ``uint8
  (sample, eye_height, eye_width, rgb)`` eye crops where the source gives them;
* ``gaze_xyz`` ``float64 (sample, xyz)`` unit gaze vectors in GazeHub camera axes of the
  normalised camera (x right, y down, z forward; attrs ``frame``, ``units``);
  ``head_xyz`` the same for the head's frontal axis; ``gaze_angles``/``head_angles``
  ``float64 (sample, angle)`` the source's own angle pair (attrs ``order``, ``units``);
* ``subject``, ``source`` (str), ``mirrored`` (bool), ``split`` (str, split protocols),
  ``rmat``/``smat`` ``float64 (sample, row, col)``, ``gaze_origin`` ``float64 (sample, xyz)``
  millimetres in the original camera frame;
* ``part_complete`` ``bool (part,)``: the writing progress, one entry per block of
  :attr:`GazeLayout.block` samples.

Writing (:class:`GazeWriter`) goes in *parts* of ``block`` consecutive samples so that
a data set never sits in memory at once and parts can be written by parallel workers
(``block`` is a multiple of the chunk size: no two parts share a chunk). A part is marked
in ``part_complete`` only after its rows are written; a re-run skips marked parts and
rewrites the others whole. :meth:`GazeWriter.finish` marks the group complete
(``pano_complete``) last. A ``predictions`` sub-group (written by other commands) is no
part of the data set's completeness.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from pano.errors import ShapeError, StoreError, StoreExistsError
from pano.stores.gaze_samples import (
    GAZE_CAMERA_FRAME,
    GAZE_GROUP,
    GazeConvention,
    GazeProtocol,
    GazeSamples,
)
from pano.stores.reader import (
    StoreLike,
    child_groups,
    describe,
    is_complete,
    open_root,
    store_exists,
)
from pano.stores.schema import ARRAYS_ATTR, COMPLETE_ATTR

if TYPE_CHECKING:
    import zarr

#: Face (and eye) crops per chunk: a random sample reads ~FACE_CHUNK x 150 KiB raw.
FACE_CHUNK = 32
#: Default samples per part (a multiple of :data:`FACE_CHUNK`).
DEFAULT_BLOCK = 512
#: Attribute of a gaze group saying what it is.
KIND_ATTR = "pano_kind"
#: The command named in messages about an incomplete group.
#: Group attribute: SHA-256 of the input images' paths and byte sizes, set when complete.
IMAGES_DIGEST_ATTR = "images_digest"

FINISH_HINT = "re-run the `pano ingest` command that wrote it (it resumes)"

_IMAGES = ("face", "left", "right")
_OPTIONAL = ("left", "right", "head_xyz", "head_angles", "split", "rmat", "smat", "gaze_origin")
_DIMS: dict[str, tuple[str, ...]] = {
    "face": ("sample", "height", "width", "rgb"),
    "left": ("sample", "eye_height", "eye_width", "rgb"),
    "right": ("sample", "eye_height", "eye_width", "rgb"),
    "gaze_xyz": ("sample", "xyz"),
    "head_xyz": ("sample", "xyz"),
    "gaze_angles": ("sample", "angle"),
    "head_angles": ("sample", "angle"),
    "subject": ("sample",),
    "source": ("sample",),
    "mirrored": ("sample",),
    "split": ("sample",),
    "rmat": ("sample", "row", "col"),
    "smat": ("sample", "row", "col"),
    "gaze_origin": ("sample", "xyz"),
}
_STRINGS = ("subject", "source", "split")


def gaze_path(dataset: str) -> str:
    """The group path of a gaze data set: ``gaze/<dataset>``."""
    return f"{GAZE_GROUP}/{dataset}"


@dataclass(frozen=True)
class GazeLayout:
    """The shape of a gaze group, fixed when it is created (attr ``layout``).

    ``image_shapes``: ``(H, W)`` per image array (``face`` always; ``left``/``right``
    when present). ``fields``: the optional fields present. ``fingerprint``: the
    caller's identity of the input (e.g. SHA-256 of the label files); a group with another
    fingerprint is not resumed.
    """

    n_samples: int
    image_shapes: dict[str, tuple[int, int]]
    fields: tuple[str, ...]
    block: int = DEFAULT_BLOCK
    chunk: int = FACE_CHUNK
    fingerprint: str = ""

    def __post_init__(self) -> None:
        # canonical forms, so that a layout equals the one read back from the attributes
        object.__setattr__(self, "fields", tuple(sorted(self.fields)))
        shapes = {k: (int(v[0]), int(v[1])) for k, v in self.image_shapes.items()}
        object.__setattr__(self, "image_shapes", shapes)
        if self.n_samples < 1:
            raise ShapeError(f"a gaze data set needs at least one sample, got {self.n_samples}")
        if self.chunk < 1 or self.block < self.chunk or self.block % self.chunk:
            raise ShapeError(
                f"block {self.block} must be a positive multiple of the chunk {self.chunk}"
            )
        if "face" not in self.image_shapes:
            raise ShapeError("image_shapes must give the face crop size (H, W)")
        unknown = sorted(set(self.fields) - set(_OPTIONAL))
        if unknown:
            raise ShapeError(f"unknown gaze fields {unknown}; optional fields are {_OPTIONAL}")
        for eye in ("left", "right"):
            if (eye in self.fields) != (eye in self.image_shapes):
                raise ShapeError(f"field {eye} needs an image shape and vice versa")

    @property
    def n_parts(self) -> int:
        """Number of parts (blocks of samples)."""
        return math.ceil(self.n_samples / self.block)

    def part_rows(self, part: int) -> tuple[int, int]:
        """``(start, stop)`` sample rows of ``part``."""
        if not 0 <= part < self.n_parts:
            raise ShapeError(f"part {part} out of range 0..{self.n_parts - 1}")
        return part * self.block, min(self.n_samples, (part + 1) * self.block)

    def arrays(self) -> tuple[str, ...]:
        """Sorted names of the arrays of the group."""
        base = ("face", "gaze_xyz", "gaze_angles", "subject", "source", "mirrored")
        return tuple(sorted({*base, *self.fields, "part_complete"}))

    def to_attrs(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "n_samples": self.n_samples,
            "image_shapes": {k: list(v) for k, v in sorted(self.image_shapes.items())},
            "fields": sorted(self.fields),
            "block": self.block,
            "chunk": self.chunk,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_attrs(cls, a: Mapping[str, Any]) -> GazeLayout:
        """Inverse of :meth:`to_attrs`."""
        return cls(
            n_samples=int(a["n_samples"]),
            image_shapes={k: (int(v[0]), int(v[1])) for k, v in a["image_shapes"].items()},
            fields=tuple(sorted(a["fields"])),
            block=int(a["block"]),
            chunk=int(a["chunk"]),
            fingerprint=str(a.get("fingerprint", "")),
        )


def _array_attrs(name: str, convention: GazeConvention) -> dict[str, Any]:
    if name in ("gaze_xyz", "head_xyz"):
        return {"frame": GAZE_CAMERA_FRAME, "units": "unit vector"}
    if name in ("gaze_angles", "head_angles"):
        return {"order": convention.angle_order, "units": convention.units,
                "frame": convention.frame}  # fmt: skip
    if name == "gaze_origin":
        return {"frame": "original camera frame", "units": "millimetres"}
    if name in ("rmat", "smat"):
        return {"meaning": "normalisation matrix, original camera -> normalised camera"}
    if name in _IMAGES:
        return {"colour": "RGB", "dtype": "uint8"}
    return {}


def _spec(name: str, layout: GazeLayout) -> tuple[tuple[int, ...], Any, tuple[int, ...]]:
    """``(shape, dtype, chunks)`` of array ``name``."""
    n, b = layout.n_samples, min(layout.block, layout.n_samples)
    if name in _IMAGES:
        h, w = layout.image_shapes[name]
        return (n, h, w, 3), np.uint8, (min(layout.chunk, n), h, w, 3)
    if name in _STRINGS:
        return (n,), str, (b,)
    if name == "mirrored":
        return (n,), np.bool_, (b,)
    if name == "part_complete":
        return (layout.n_parts,), np.bool_, (1,)
    if name in ("rmat", "smat"):
        return (n, 3, 3), np.float64, (b, 3, 3)
    width = 2 if name.endswith("angles") else 3
    return (n, width), np.float64, (b, width)


class GazeWriter:
    """Writes one ``gaze/<dataset>`` group part by part (see the module docstring).

    Create it with :meth:`create` (the driver, once) and re-open it in workers with
    :meth:`open`; each worker writes whole parts (:meth:`write_part`).
    """

    def __init__(self, root: zarr.Group, dataset: str) -> None:
        self.root = root
        self.dataset = dataset
        self.path = gaze_path(dataset)
        g = root[self.path]
        self.group: zarr.Group = g  # type: ignore[assignment]
        self.layout = GazeLayout.from_attrs(_attrs(self.group)["layout"])

    @classmethod
    def create(
        cls,
        store: StoreLike,
        dataset: str,
        layout: GazeLayout,
        convention: GazeConvention,
        protocol: GazeProtocol,
        subjects: Sequence[str],
        provenance: Mapping[str, Any],
        overwrite: bool = False,
    ) -> GazeWriter:
        """Create ``gaze/<dataset>`` (and the store if there is none), or resume it.

        An existing group with the same layout (fingerprint included) is resumed: its
        complete parts are kept (a complete group stays complete). One with another layout
        is refused unless ``overwrite``, which deletes it (marked incomplete first; its
        ``predictions`` go with it) and starts afresh.

        Raises:
            StoreExistsError: the group exists with another layout and not ``overwrite``.

        """
        from pano.stores.names import validate_name
        from pano.stores.writer import _delete_child, compressor

        validate_name(dataset, "gaze data set name")
        root = _root_for_writing(store, dataset)
        parent = root.require_group(GAZE_GROUP)
        existing = child_groups(parent).get(dataset)
        if existing is not None and not overwrite:
            old = _attrs(existing).get("layout")
            try:
                same = old is not None and GazeLayout.from_attrs(old) == layout
            except (KeyError, TypeError, ValueError, ShapeError):
                same = False
            if same:
                return cls(root, dataset)
            raise StoreExistsError(
                f"{describe(store)}: {gaze_path(dataset)} was written from other input or with "
                "another layout; pass --overwrite to replace it (its predictions go with it)"
            )
        _delete_child(root, GAZE_GROUP, dataset)
        attrs = {
            KIND_ATTR: "gaze",
            "dataset": dataset,
            "conventions": convention.to_attrs(),
            "protocol": protocol.to_attrs(),
            "subjects": list(subjects),
            "n_samples": layout.n_samples,
            "layout": layout.to_attrs(),
            "provenance": dict(provenance),
            ARRAYS_ATTR: list(layout.arrays()),
            COMPLETE_ATTR: False,
        }
        group = parent.create_group(dataset, attributes=attrs)
        comp = compressor()
        for name in layout.arrays():
            shape, dtype, chunks = _spec(name, layout)
            kw: dict[str, Any] = {} if dtype is str else {"compressors": comp}
            group.create_array(
                name, shape=shape, dtype=dtype, chunks=chunks,
                fill_value="" if dtype is str else (False if dtype is np.bool_ else (
                    0 if dtype is np.uint8 else np.nan)),
                dimension_names=list(_DIMS.get(name, ("part",))),
                attributes=_array_attrs(name, convention),
                config={"write_empty_chunks": True}, **kw,
            )  # fmt: skip
        return cls(root, dataset)

    @classmethod
    def open(cls, store: StoreLike, dataset: str) -> GazeWriter:
        """Re-open a group made by :meth:`create` for writing (in a worker)."""
        root = open_root(store, mode="a")
        if dataset not in child_groups(_gaze_parent(root, store)):
            raise StoreError(f"{describe(store)}: no {gaze_path(dataset)}; create it first")
        return cls(root, dataset)

    @property
    def complete(self) -> bool:
        """True when the group is marked complete."""
        return is_complete(self.group.attrs.asdict())

    def done_parts(self) -> np.ndarray:
        """``bool (n_parts,)``: which parts are written."""
        return np.asarray(self._array("part_complete")[...], dtype=bool)

    def pending_parts(self) -> list[int]:
        """Indices of the parts still to write."""
        return [int(i) for i in np.flatnonzero(~self.done_parts())]

    def _array(self, name: str) -> zarr.Array:
        # write_empty_chunks is run-time configuration, not stored with the array: a writer
        # that re-opens the group (a Dask worker) must ask again, or an all-False / all-fill
        # chunk (``mirrored`` of a data set without mirroring) is skipped and reads as damage.
        arr: zarr.Array = self.group[name]  # type: ignore[assignment]
        return arr.with_config({"write_empty_chunks": True})

    def write_rows(self, start: int, samples: GazeSamples) -> None:
        """Write ``samples`` to rows ``start .. start + len(samples)`` (no part mark).

        ``start`` must be a part boundary (parts never share a chunk) and the samples must
        carry exactly the layout's fields and image sizes.

        Raises:
            ShapeError: misaligned rows, other fields or other image sizes.

        """
        lay = self.layout
        n = len(samples)
        stop = start + n
        if start % lay.block or stop > lay.n_samples or n == 0:
            raise ShapeError(
                f"{self.path}: rows {start}..{stop} must start on a part boundary "
                f"(multiple of {lay.block}) and lie within {lay.n_samples} samples"
            )
        got = samples.arrays()
        present = {k for k in got if k in _OPTIONAL}
        if present != set(lay.fields):
            raise ShapeError(
                f"{self.path}: samples carry fields {sorted(present)}, the group "
                f"{sorted(lay.fields)}"
            )
        for name in _IMAGES:
            if name in got and got[name].shape[1:3] != lay.image_shapes[name]:
                raise ShapeError(
                    f"{self.path}: {name} crops are {got[name].shape[1:3]}, the group holds "
                    f"{lay.image_shapes[name]}"
                )
        for name, data in got.items():
            arr = self._array(name)
            if name in _STRINGS:
                data = np.asarray(data, dtype=str)
            arr[start:stop] = np.ascontiguousarray(data)

    def write_part(self, part: int, samples: GazeSamples) -> None:
        """Write all rows of ``part`` and then mark it done."""
        start, stop = self.layout.part_rows(part)
        if len(samples) != stop - start:
            raise ShapeError(
                f"{self.path}: part {part} holds rows {start}..{stop}, got {len(samples)} samples"
            )
        self.write_rows(start, samples)
        self._array("part_complete")[part] = True

    @property
    def images_digest(self) -> str:
        """The input images' digest recorded when the group was completed ("" if none)."""
        return str(self.group.attrs.get(IMAGES_DIGEST_ATTR, ""))

    def finish(self, images_digest: str = "") -> None:
        """Mark the group complete - after checking that every part is written.

        ``images_digest`` (the reader's digest of the input images' paths and sizes) is
        recorded with the mark, for :attr:`images_digest`.

        Raises:
            StoreError: parts are missing (names how many and the command that resumes).

        """
        if self.complete:
            return
        missing = self.pending_parts()
        if missing:
            raise StoreError(
                f"{self.path}: {len(missing)} of {self.layout.n_parts} parts are not written "
                f"(first: part {missing[0]}); {FINISH_HINT}"
            )
        if images_digest:
            self.group.attrs[IMAGES_DIGEST_ATTR] = images_digest
        self.group.attrs[COMPLETE_ATTR] = True


def _attrs(group: zarr.Group) -> dict[str, Any]:
    """A group's attributes as a plain ``dict`` (JSON values)."""
    return dict(group.attrs.asdict())


def _root_for_writing(store: StoreLike, dataset: str) -> zarr.Group:
    """The root of ``store`` opened for writing, a new gaze-only store if there is none."""
    import zarr

    from pano._version import __version__
    from pano.geometry import CANONICAL_FRAME
    from pano.stores.schema import Conventions, Provenance, RootAttrs
    from pano.stores.writer import create_root

    if isinstance(store, zarr.Group) or store_exists(store):
        return open_root(store, mode="a")
    from datetime import UTC, datetime

    attrs = RootAttrs(
        dataset="gaze",
        conventions=Conventions(
            canonical_frame=dict(CANONICAL_FRAME),
            source={"gaze": f"gaze data sets under {GAZE_GROUP}/<dataset>; {GAZE_CAMERA_FRAME}"},
        ),
        provenance=Provenance(
            pano_version=__version__, created=datetime.now(UTC).isoformat(timespec="seconds"),
            parameters={"first_gaze_dataset": dataset},
        ),
    )  # fmt: skip
    create_root(store, attrs)
    return open_root(store, mode="a")


def _gaze_parent(root: zarr.Group, where: StoreLike) -> zarr.Group:
    import zarr

    groups = child_groups(root)
    parent = groups.get(GAZE_GROUP)
    if parent is None or not isinstance(parent, zarr.Group):
        raise StoreError(
            f"{describe(where)}: the store holds no gaze data sets; "
            "run `pano ingest gazehub` (or `pano ingest mpiifacegaze`) first"
        )
    return parent


def _state(group: zarr.Group) -> tuple[bool, list[str]]:
    """``(marked complete, missing arrays)`` of a gaze group; sub-groups are ignored."""
    attrs = _attrs(group)
    listed = attrs.get(ARRAYS_ATTR)
    want = set(listed) if isinstance(listed, list) else set()
    have = {str(k) for k in group.array_keys()}
    return is_complete(attrs), sorted(want - have)


def list_gaze(store: StoreLike, complete: bool | None = True) -> list[str]:
    """Sorted names of the gaze data sets of a store (``[]`` when it holds none).

    ``complete``: True lists complete ones (marked complete, every array present), False
    the incomplete or damaged ones, None all.
    """
    root = open_root(store)
    parent = child_groups(root).get(GAZE_GROUP)
    if parent is None:
        return []
    out = []
    for name, g in child_groups(parent).items():
        done, missing = _state(g)
        ok = done and not missing and g.attrs.get(KIND_ATTR) == "gaze"
        if complete is None or ok == complete:
            out.append(name)
    return sorted(out)


@dataclass
class GazeData:
    """A complete gaze data set of a store, read lazily.

    ``arrays`` maps names to lazy :class:`zarr.Array` objects (slice them to read);
    :meth:`array` reads one whole array as numpy; :meth:`samples` reads chosen rows as
    :class:`GazeSamples`.
    """

    location: str
    dataset: str
    convention: GazeConvention
    protocol: GazeProtocol
    subjects: list[str]
    n_samples: int
    layout: GazeLayout
    attrs: dict[str, Any]
    arrays: dict[str, zarr.Array] = field(repr=False)
    _cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return self.n_samples

    def array(self, name: str) -> np.ndarray:
        """The whole array ``name`` as numpy (strings as ``str``; cached for 1-D fields)."""
        if name not in self.arrays:
            raise StoreError(
                f"{self.location}: {gaze_path(self.dataset)} has no array {name!r}; it has "
                f"{', '.join(sorted(self.arrays))}"
            )
        if name in self._cache:
            return self._cache[name]
        data = np.asarray(self.arrays[name][...])
        if name in _STRINGS:
            data = _as_str(data)
        if name not in _IMAGES:
            self._cache[name] = data
        return data

    def indices(self, subject: str | Sequence[str] | None = None,
                split: str | Sequence[str] | None = None) -> np.ndarray:  # fmt: skip
        """``int64`` sample indices (ascending) of the given subject(s) and/or split(s).

        Raises:
            StoreError: an unknown subject, or ``split`` on a data set without splits.

        """
        keep = np.ones(self.n_samples, dtype=bool)
        if subject is not None:
            want = [subject] if isinstance(subject, str) else list(subject)
            unknown = sorted(set(want) - set(self.subjects))
            if unknown:
                raise StoreError(
                    f"{gaze_path(self.dataset)}: no subject {', '.join(unknown)}; it has "
                    f"{', '.join(self.subjects)}"
                )
            keep &= np.isin(self.array("subject"), want)
        if split is not None:
            if "split" not in self.arrays:
                raise StoreError(
                    f"{gaze_path(self.dataset)} has no splits (protocol {self.protocol.kind}); "
                    "select by subject instead"
                )
            want = [split] if isinstance(split, str) else list(split)
            keep &= np.isin(self.array("split"), want)
        return np.flatnonzero(keep).astype(np.int64)

    def samples(self, index: np.ndarray | slice | None = None) -> GazeSamples:
        """The samples at ``index`` (ascending indices, or a slice; None = all) as numpy."""
        sel: Any = slice(None) if index is None else index
        out: dict[str, np.ndarray] = {}
        for name in self.arrays:
            if name == "part_complete":
                continue
            arr = self.arrays[name]
            if isinstance(sel, slice):
                data = np.asarray(arr[sel])
            else:
                idx = np.asarray(sel, dtype=np.int64)
                data = np.asarray(arr.get_orthogonal_selection((idx,)))
            out[name] = _as_str(data) if name in _STRINGS else data
        return GazeSamples(**out)


def _as_str(data: np.ndarray) -> np.ndarray:
    """Zarr's variable-length strings (numpy ``StringDType``) as a fixed-width ``str`` array."""
    return np.array(data.tolist(), dtype=str).reshape(data.shape)


def open_gaze(store: StoreLike, dataset: str) -> GazeData:
    """Open the complete gaze data set ``gaze/<dataset>`` of a store.

    Raises:
        StoreNotFoundError: no store at ``store``.
        StoreError: the store holds no such data set (the message lists those it holds),
            or it is incomplete or damaged (the message says how to finish it).

    """
    root = open_root(store)
    parent = _gaze_parent(root, store)
    groups = child_groups(parent)
    if dataset not in groups:
        have = list_gaze(root)
        raise StoreError(
            f"{describe(store)}: no gaze data set {dataset!r}; it holds "
            f"{', '.join(have) or 'none complete'}"
        )
    g = groups[dataset]
    done, missing = _state(g)
    if not done or missing:
        what = "is incomplete" if not done else f"is damaged (no {', '.join(missing)})"
        raise StoreError(f"{describe(store)}: {gaze_path(dataset)} {what}; {FINISH_HINT}")
    attrs = _attrs(g)
    try:
        conv = GazeConvention(**attrs["conventions"])
        p = attrs["protocol"]
        protocol = GazeProtocol(p["kind"], tuple(p.get("folds", ())), p.get("description", ""))
        layout = GazeLayout.from_attrs(attrs["layout"])
    except (KeyError, TypeError, ValueError, ShapeError) as err:
        raise StoreError(
            f"{describe(store)}: {gaze_path(dataset)} attributes do not match this pano ({err})"
        ) from err
    arrays = {str(k): v for k, v in g.arrays()}
    return GazeData(
        location=describe(store), dataset=dataset, convention=conv, protocol=protocol,
        subjects=[str(s) for s in attrs.get("subjects", [])],
        n_samples=int(attrs["n_samples"]), layout=layout, attrs=attrs,
        arrays=arrays,
    )  # fmt: skip


def write_gaze(
    store: str | os.PathLike,
    dataset: str,
    samples: GazeSamples,
    convention: GazeConvention,
    protocol: GazeProtocol,
    provenance: Mapping[str, Any],
    overwrite: bool = False,
    block: int = DEFAULT_BLOCK,
    chunk: int | None = None,
) -> GazeData:
    """Write a whole in-memory data set in one call (small data sets, tests); see GazeWriter.

    ``chunk``: images per chunk (default :data:`FACE_CHUNK`, or ``block`` when smaller).
    """
    samples.check(f"{dataset} samples")
    shapes = {k: (int(v.shape[1]), int(v.shape[2])) for k, v in samples.arrays().items()
              if k in _IMAGES}  # fmt: skip
    fields = tuple(k for k in samples.arrays() if k in _OPTIONAL)
    chunk = chunk or min(FACE_CHUNK, block)
    layout = GazeLayout(len(samples), shapes, fields, block=block, chunk=chunk)
    subjects = sorted(set(np.asarray(samples.subject, dtype=str).tolist()))
    w = GazeWriter.create(store, dataset, layout, convention, protocol, subjects, provenance,
                          overwrite=overwrite)  # fmt: skip
    for part in w.pending_parts():
        a, b = layout.part_rows(part)
        w.write_part(part, _take(samples, slice(a, b)))
    w.finish()
    return open_gaze(store, dataset)


def _take(samples: GazeSamples, sel: slice | np.ndarray) -> GazeSamples:
    """Rows ``sel`` of ``samples``."""
    from dataclasses import replace

    return replace(samples, **{k: v[sel] for k, v in samples.arrays().items()})


__all__ = [
    "DEFAULT_BLOCK", "FACE_CHUNK", "GazeData", "GazeLayout", "GazeWriter", "gaze_path",
    "list_gaze", "open_gaze", "write_gaze",
]  # fmt: skip


def gaze_summary(store: StoreLike) -> list[str]:
    """One line per gaze data set of a store, for ``pano info`` (attributes only)."""
    root = open_root(store)
    parent = child_groups(root).get(GAZE_GROUP)
    if parent is None:
        return []
    lines = []
    for name, g in sorted(child_groups(parent).items()):
        a = _attrs(g)
        done, missing = _state(g)
        lay = a.get("layout", {})
        shape = lay.get("image_shapes", {}).get("face", ["?", "?"])
        proto = a.get("protocol", {})
        folds = proto.get("folds", [])
        detail = (
            f"{a.get('n_samples', '?')} samples, {len(a.get('subjects', []))} subjects, face "
            f"{shape[0]}x{shape[1]}, protocol {proto.get('kind', '?')}"
            + (f" ({len(folds)} folds)" if folds else "")
            + f", angles {a.get('conventions', {}).get('angle_order', '?')}"
        )
        if not done:
            detail += f"  [incomplete: {FINISH_HINT}]"
        elif missing:
            detail += f"  [damaged: no {', '.join(missing)}; {FINISH_HINT} with --overwrite]"
        lines.append(f"  {gaze_path(name)}  {detail}")
    return lines
