"""Writing pano stores: the root group and one video group at a time.

Rules (see ``docs/store.md``):

* every array is Zarr format 3 with ``dimension_names`` and lossless Blosc zstd +
  bitshuffle (:data:`COMPRESSOR`);
* a video group is written by exactly one writer; it is created with
  ``pano_complete = false`` and the list of its arrays (``pano_arrays``), filled (every
  chunk stored, empty ones included, so a missing chunk is damage), and only then marked
  ``pano_complete = true``, so an interrupted write is never mistaken for a complete one;
* a group is marked incomplete *before* it is deleted or replaced, and a whole store
  before it is deleted (:func:`remove_store`), so a writer killed while deleting never
  leaves a group that says complete over missing arrays;
* only the process driving an ingest writes the root attributes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pano.errors import ShapeError, StoreError, StoreExistsError
from pano.stores.generation import GENERATION_ATTR, Generation
from pano.stores.reader import (
    child_groups,
    describe,
    interrupted_groups,
    local_path,
    open_root,
    quiet_debris,
    store_exists,
    store_root_path,
    zarr_store,
)
from pano.stores.schema import ARRAYS_ATTR, COMPLETE_ATTR, VIDEOS_GROUP, RootAttrs, VideoAttrs

#: Time samples per chunk of the (subject, time[, xyz]) arrays.
TIME_BLOCK = 4096
#: Steps per chunk of ``scanpath``.
STEP_BLOCK = 1024
#: Steps per shard of ``heatmap`` (one chunk per step inside).
HEATMAP_SHARD_STEPS = 64


def compressor() -> Any:
    """The codec every numeric array uses: Blosc zstd level 5 with bit shuffling (lossless)."""
    from zarr.codecs import BloscCodec

    return BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle")


@dataclass
class ArraySpec:
    """One array to write: its dimension names, data and attributes.

    ``chunks``/``shards`` default from :func:`default_chunks`.
    """

    dims: tuple[str, ...]
    data: np.ndarray
    attrs: dict[str, Any] = field(default_factory=dict)
    chunks: tuple[int, ...] | None = None
    shards: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.data.ndim != len(self.dims):
            raise ShapeError(f"ArraySpec: data has {self.data.ndim} dims but dims={self.dims}")


def default_chunks(
    dims: tuple[str, ...], shape: tuple[int, ...]
) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    """Chunk (and shard) shape for an array of the pano layout.

    * ``(step, lat, lon)`` maps: one chunk per step, :data:`HEATMAP_SHARD_STEPS` steps per
      shard (a reader of one step reads ~one map, a video has few files);
    * ``(subject, <time-like>, ...)``: all subjects x :data:`TIME_BLOCK` samples;
    * ``(step, subject, ...)``: :data:`STEP_BLOCK` steps x all subjects;
    * everything else: one chunk (1-D coordinates up to 65536 values per chunk).
    """
    shape = tuple(max(1, s) for s in shape)
    if dims[:1] == ("step",) and dims[1:] in (("lat", "lon"),):
        return (1, *shape[1:]), (min(shape[0], HEATMAP_SHARD_STEPS), *shape[1:])
    if len(dims) >= 2 and dims[0] == "subject":
        return (shape[0], min(shape[1], TIME_BLOCK), *shape[2:]), None
    if len(dims) >= 2 and dims[0] == "step":
        return (min(shape[0], STEP_BLOCK), *shape[1:]), None
    if len(dims) == 1:
        return (min(shape[0], 65536),), None
    return shape, None


def _fill_value(dtype: np.dtype) -> Any:
    if dtype.kind == "f":
        return np.nan
    if dtype.kind == "b":
        return False
    return 0


def create_root(
    location: str | os.PathLike, attrs: RootAttrs, previous: Generation | None = None
) -> Any:
    """Create a new store with root attributes and an empty ``videos`` group.

    The store starts at the generation after ``previous`` (that of a store it replaces;
    generation 1 for a new one), with a new UUID (:mod:`pano.stores.generation`).

    Raises:
        StoreExistsError: a store already exists at ``location``.

    """
    import zarr

    if store_exists(location):
        raise StoreExistsError(
            f"{location}: a store already exists; pass --overwrite to replace it"
        )
    path = local_path(location)
    if path is not None and path.exists() and any(path.iterdir()):
        raise StoreExistsError(
            f"{path}: the folder exists and is not empty (and holds no Zarr store); "
            "choose a new --store path"
        )
    store = zarr_store(location, read_only=False)
    # The attributes go into the one (atomic) write of zarr.json: a store never exists
    # without them. A process killed before the videos group exists is finished by the
    # next ingest (ensure_videos_group).
    first = (previous or Generation(0, "")).next()
    root = zarr.open_group(
        store,
        mode="w",
        zarr_format=3,
        attributes={**attrs.to_attrs(), GENERATION_ATTR: first.to_attrs()},
    )
    root.create_group(VIDEOS_GROUP)
    return root


def ensure_videos_group(location: Any) -> None:
    """Create the ``videos`` group if a killed :func:`create_root` left the store without it."""
    root = open_root(location, mode="a")
    if VIDEOS_GROUP not in child_groups(root):
        root.create_group(VIDEOS_GROUP)


def write_root_attrs(location: Any, attrs: RootAttrs) -> None:
    """Replace the root attributes (the ingest driver only)."""
    root = open_root(location, mode="a")
    root.attrs.put(attrs.to_attrs())
    if VIDEOS_GROUP not in child_groups(root):
        root.create_group(VIDEOS_GROUP)


def delete_video_group(location: Any, name: str) -> None:
    """Remove ``videos/<name>`` and everything in it, debris included (no-op if absent)."""
    root = open_root(location, mode="a")
    if VIDEOS_GROUP in child_groups(root):
        _delete_child(root, VIDEOS_GROUP, name)


def mark_incomplete(group: Any) -> list[str]:
    """Set ``pano_complete = false`` on ``group`` and every group under it that is complete.

    Returns the paths marked. Called before anything is deleted or replaced, so that a
    process killed while deleting leaves groups that say "incomplete", never groups that
    say "complete" over missing arrays.
    """
    import zarr

    marked = []
    with quiet_debris():
        nodes = [("", group), *group.members(max_depth=None)]
    for path, node in nodes:
        if isinstance(node, zarr.Group) and node.attrs.get(COMPLETE_ATTR) is True:
            node.attrs[COMPLETE_ATTR] = False
            marked.append(path)
    return marked


def delete_group(location: Any, path: str) -> None:
    """Delete the group at ``path`` (marked incomplete first; a no-op if absent)."""
    import zarr

    root = open_root(location, mode="a")
    parent_path = path.rpartition("/")[0]
    try:
        parent = root[parent_path] if parent_path else root
    except KeyError:
        return
    if isinstance(parent, zarr.Group):
        _delete_child(root, parent_path, path.rpartition("/")[2])


def _delete_child(root: Any, parent_path: str, name: str) -> None:
    """Delete the group ``parent_path/name``, or a folder there without metadata (debris)."""
    parent = root[parent_path] if parent_path else root
    base = store_root_path(root)
    folder = None if base is None else base.joinpath(*parent_path.split("/"), name)
    children = child_groups(parent)
    if name in children:
        mark_incomplete(children[name])
        del parent[name]
    elif folder is not None and folder.is_dir() and not (folder / "zarr.json").exists():
        shutil.rmtree(folder)  # a writer killed between creating the folder and its metadata


def write_group(
    location: Any, path: str, arrays: Mapping[str, ArraySpec], attrs: Mapping[str, Any]
) -> None:
    """Write the group at ``path`` from scratch, marking it complete last.

    An existing group (or debris) at ``path`` is deleted first; parents are created as
    needed. The group is created with ``pano_complete = false`` and ``attrs``, every array
    is written (Blosc zstd, default chunks unless the spec gives some, NaN / False / 0
    fill), then the attributes are rewritten with ``pano_complete = true``. Nothing
    outside ``path`` is touched. Used for video groups and prediction runs alike.

    Args:
        location: store path/URL or open root group (the store must exist).
        path: the group's path, e.g. ``"predictions/dhp/A380"``.
        arrays: name -> :class:`ArraySpec`; 1-D arrays named like their dimension are
            coordinates (xarray shows them as such).
        attrs: the group's attributes (``pano_complete`` is managed here).

    """
    root = open_root(location, mode="a")
    parent_path, _, name = path.rpartition("/")
    parent = root.require_group(parent_path) if parent_path else root
    _delete_child(root, parent_path, name)
    listed = {ARRAYS_ATTR: sorted(arrays)}
    group = parent.create_group(name, attributes={**attrs, **listed, COMPLETE_ATTR: False})
    comp = compressor()
    for key, spec in arrays.items():
        data = np.ascontiguousarray(spec.data)
        chunks, shards = default_chunks(spec.dims, data.shape)
        arr = group.create_array(
            key,
            shape=data.shape,
            dtype=data.dtype,
            chunks=spec.chunks or chunks,
            shards=spec.shards if spec.chunks else shards,
            compressors=comp,
            fill_value=_fill_value(data.dtype),
            dimension_names=list(spec.dims),
            attributes=spec.attrs,
            config={"write_empty_chunks": True},  # every chunk stored: a missing one is damage
        )
        if data.size:
            arr[...] = data
    group.attrs.put({**attrs, **listed, COMPLETE_ATTR: True})


def remove_debris(location: Any) -> list[str]:
    """Delete what a killed writer can leave in a local store; returns the removed paths.

    That is Zarr's ``*.partial`` temporary files (a process killed inside an atomic
    write; never data) and ``videos/<name>`` folders without group metadata (killed
    between creating the folder and writing its ``zarr.json``). Remote stores have
    neither (their writes are single requests): nothing is done there. Run it only while
    no other process writes to the store (the ingest calls it before it starts writing).
    """
    path = store_root_path(location)
    if path is None or not path.is_dir():
        return []
    removed = []
    for tmp in sorted(path.rglob("*.partial")):
        if tmp.is_file():
            tmp.unlink()
            removed.append(str(tmp.relative_to(path)))
    for name in interrupted_groups(location):
        shutil.rmtree(path / VIDEOS_GROUP / name)
        removed.append(f"{VIDEOS_GROUP}/{name}")
    return removed


def write_video_group(
    location: Any, name: str, arrays: Mapping[str, ArraySpec], attrs: VideoAttrs
) -> None:
    """Write one video group from scratch and mark it complete last (see :func:`write_group`).

    Args:
        location: store path/URL or open root group (the store must exist).
        name: video name (the group name under ``videos/``).
        arrays: name -> :class:`ArraySpec`.
        attrs: the group's attributes (``pano_complete`` is managed here).

    """
    root = open_root(location, mode="a")
    if VIDEOS_GROUP not in child_groups(root):
        raise StoreError(f"{describe(location)}: no '{VIDEOS_GROUP}' group; create the store first")
    write_group(root, f"{VIDEOS_GROUP}/{name}", arrays, attrs.to_attrs())


def remove_store(location: str | os.PathLike) -> Generation:
    """Delete a whole store (``ingest --overwrite``) so that no step can leave a lie.

    In order: the store's generation is bumped (:mod:`pano.stores.generation`) and the
    root attributes' ``videos`` and ``splits`` are emptied (one write); every group
    marked complete is marked incomplete (:func:`mark_incomplete`); everything but the
    root ``zarr.json`` is deleted; then ``zarr.json``; then the (empty) folder. A
    process killed at any point leaves groups that are complete and intact, or a store
    whose groups all say "incomplete" (a plain re-run of the ingest rewrites them), or
    an empty folder - never a group that says complete over missing arrays.

    Returns:
        The generation the store was moved to (a store that replaces it starts after it).
    """
    root = open_root(location, mode="a")
    gen = Generation.from_attrs(root.attrs.get(GENERATION_ATTR)).next()
    root.attrs.update(
        {
            "videos": [],
            "splits": {"train": [], "val": [], "test": []},
            GENERATION_ATTR: gen.to_attrs(),
        }
    )
    mark_incomplete(root)
    path = local_path(location)
    if path is not None:
        for entry in sorted(path.iterdir()):
            if entry.name == "zarr.json":
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        (path / "zarr.json").unlink()
        path.rmdir()
        return gen
    import fsspec

    fs, base = fsspec.core.url_to_fs(str(location))
    base = base.rstrip("/")
    for entry in sorted(fs.ls(base, detail=False)):
        if entry.rstrip("/").rsplit("/", 1)[-1] != "zarr.json":
            fs.rm(entry, recursive=True)
    fs.rm(f"{base}/zarr.json")
    if fs.exists(base):
        fs.rm(base, recursive=True)
    return gen
