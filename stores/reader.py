"""Opening and reading pano stores: local paths and fsspec URLs through one code path.

A *location* is a local path (``"pvs.zarr"``, :class:`pathlib.Path`) or an fsspec URL
(``"file:///data/pvs.zarr"``, ``"memory://pvs.zarr"``, ``"s3://bucket/pvs.zarr"``, ...).
:func:`zarr_store` turns it into a Zarr store object; everything else here takes a
location (or an already opened root :class:`zarr.Group`).

Readers skip *incomplete* video groups (``pano_complete`` not true): they are what a
killed ingest leaves behind and are rewritten by the next ingest run. A process killed
at the wrong instant can also leave *debris* on a local store: a ``videos/<name>``
folder without group metadata (killed between creating the folder and writing its
``zarr.json``) and Zarr's ``*.partial`` temporary files (killed inside an atomic write).
Listing ignores debris (it is counted as an incomplete video); the next ingest removes it
(:func:`pano.stores.writer.remove_debris`).

A group is *complete* only if its ``pano_complete`` is true **and** every array it
requires (:func:`pano.stores.schema.required_arrays`) has its metadata: a group marked
complete with arrays missing is *damaged* (:func:`damaged_videos`); readers skip it like an
incomplete one, ``pano info`` names it, and the next ingest rewrites it. ``pano info
--verify`` (:func:`pano.stores.verify.verify_store`) also reads every chunk.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from pano.errors import StoreError, StoreNotFoundError
from pano.stores.schema import (
    COMPLETE_ATTR,
    VIDEOS_GROUP,
    RootAttrs,
    VideoAttrs,
    required_arrays,
)

if TYPE_CHECKING:
    import xarray as xr
    import zarr
    from zarr.abc.store import Store

#: A store location (path or URL), or an open root group.
StoreLike = Union[str, os.PathLike, "zarr.Group"]


def is_url(location: str | os.PathLike) -> bool:
    """True for ``scheme://...`` locations (fsspec URLs), False for local paths."""
    return "://" in str(location)


def local_path(location: str | os.PathLike) -> Path | None:
    """The local path of a location (``file://`` URLs included), or None for remote URLs."""
    text = str(location)
    if text.startswith("file://"):
        return Path(text[len("file://") :])
    if is_url(text):
        return None
    return Path(text)


def zarr_store(
    location: str | os.PathLike,
    read_only: bool = True,
    storage_options: Mapping[str, Any] | None = None,
) -> Store:
    """A Zarr store object for a path or URL.

    Local paths and ``file://`` URLs give a :class:`zarr.storage.LocalStore`; other URLs an
    :class:`zarr.storage.FsspecStore` (``storage_options`` go to fsspec).
    """
    from zarr.storage import FsspecStore, LocalStore

    path = local_path(location)
    if path is not None:
        return LocalStore(path, read_only=read_only)
    return FsspecStore.from_url(
        str(location), read_only=read_only, storage_options=dict(storage_options or {})
    )


def describe(location: StoreLike) -> str:
    """A short name of a location for messages."""
    import zarr

    if isinstance(location, zarr.Group):
        return str(location.store)
    return str(location)


def store_exists(location: str | os.PathLike) -> bool:
    """True when a Zarr hierarchy (a root ``zarr.json``) exists at ``location``."""
    path = local_path(location)
    if path is not None:
        return (path / "zarr.json").is_file()
    import fsspec

    from pano.stores.preflight import check_store_location

    check_store_location(location, write=False)  # an unknown protocol: one line
    fs, root = fsspec.core.url_to_fs(str(location))
    return bool(fs.exists(f"{root.rstrip('/')}/zarr.json"))


def open_root(location: StoreLike, mode: str = "r") -> zarr.Group:
    """Open the root group of a store.

    Args:
        location: path, URL or an open root group (returned as is).
        mode: ``"r"`` (read only) or ``"a"`` (read/write; the store must exist).

    Raises:
        StoreNotFoundError: nothing exists at ``location``.
        StoreError: something exists there but it is not a Zarr format 3 group.

    """
    import zarr

    if isinstance(location, zarr.Group):
        return location
    if not store_exists(location):
        path = local_path(location)
        if path is not None and path.is_file():
            raise StoreNotFoundError(
                f"{location}: is a file, not a store folder; give the store's folder (OUT.zarr)"
            )
        raise StoreNotFoundError(
            f"{location}: no pano store here (no zarr.json); run `pano ingest` first"
        )
    store = zarr_store(location, read_only=(mode == "r"))
    try:
        return zarr.open_group(store, mode="r" if mode == "r" else "r+", zarr_format=3)
    except (ValueError, TypeError, KeyError, FileNotFoundError) as err:
        raise StoreError(f"{location}: not a Zarr format 3 group ({err})") from err


def read_array(location: StoreLike, path: str) -> np.ndarray:
    """The whole Zarr array at ``path`` (e.g. ``"videos/A380/scanpath"``) as numpy.

    Raises:
        StoreError: nothing at ``path``, or a group rather than an array.

    """
    return np.asarray(array_at(location, path)[...])


def read_root_attrs(location: StoreLike) -> RootAttrs:
    """Validated root attributes of a pano store.

    Raises:
        StoreError: the store has no ``pano_schema_version`` (not a pano store) or its
            attributes do not match the schema.

    """
    root = open_root(location)
    attrs = root.attrs.asdict()
    if "pano_schema_version" not in attrs:
        raise StoreError(
            f"{describe(location)}: a Zarr store but not a pano store (no pano_schema_version)"
        )
    return RootAttrs.from_attrs(attrs, where=f"{describe(location)} root")


@contextlib.contextmanager
def quiet_debris() -> Iterator[None]:
    """Silence Zarr's warning about folder entries that are not Zarr nodes (debris).

    Zarr warns "Object at ... is not recognized as a component of a Zarr hierarchy" when a
    group's folder holds a ``*.partial`` file or a folder without metadata - what a killed
    writer leaves (see the module docstring). Readers skip such entries anyway.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Object at .* is not recognized", UserWarning)
        yield


def child_groups(group: zarr.Group) -> dict[str, zarr.Group]:
    """The sub-groups of ``group`` by name, ignoring debris (see :func:`quiet_debris`)."""
    with quiet_debris():
        return dict(group.groups())


def _node_at(location: StoreLike, path: str, kind: type[Any]) -> Any:
    """The node at ``path`` if it is a ``kind`` (``zarr.Group`` or ``zarr.Array``)."""
    want, other = ("group", "array") if kind.__name__ == "Group" else ("array", "group")
    root = open_root(location)
    try:
        node = root[path]
    except KeyError:
        raise StoreError(f"{describe(root)}: no {want} {path!r} in the store") from None
    if not isinstance(node, kind):
        raise StoreError(
            f"{describe(root)}: {path!r} is {'an' if other == 'array' else 'a'} "
            f"{other}, expected {'an' if want == 'array' else 'a'} {want}"
        )
    return node


def group_at(location: StoreLike, path: str) -> zarr.Group:
    """The group at ``path`` in a store.

    Raises:
        StoreError: nothing there, or an array instead of a group.

    """
    import zarr

    group: zarr.Group = _node_at(location, path, zarr.Group)
    return group


def array_at(location: StoreLike, path: str) -> zarr.Array:
    """The array at ``path`` in a store (lazy: nothing is read).

    Raises:
        StoreError: nothing there, or a group instead of an array.

    """
    import zarr

    array: zarr.Array = _node_at(location, path, zarr.Array)
    return array


def _video_groups(root: zarr.Group) -> dict[str, zarr.Group]:
    if VIDEOS_GROUP not in child_groups(root):
        return {}
    import zarr

    videos = root[VIDEOS_GROUP]
    if not isinstance(videos, zarr.Group):
        raise StoreError(f"{root.store}: '{VIDEOS_GROUP}' is an array, not a group")
    return child_groups(videos)


def store_root_path(location: StoreLike) -> Path | None:
    """The folder of a local store (path, ``file://`` URL or open group), else None."""
    import zarr
    from zarr.storage import LocalStore

    if isinstance(location, zarr.Group):
        store = location.store
        return Path(store.root) if isinstance(store, LocalStore) else None
    return local_path(location)


def interrupted_groups(location: StoreLike) -> list[str]:
    """Names of ``videos/<name>`` folders with no group metadata (local stores; else []).

    A process killed between creating a video group's folder and writing its
    ``zarr.json`` leaves such a folder; Zarr does not see it as a group.
    """
    path = store_root_path(location)
    videos = None if path is None else path / VIDEOS_GROUP
    if videos is None or not videos.is_dir():
        return []
    return sorted(d.name for d in videos.iterdir() if d.is_dir() and not (d / "zarr.json").exists())


def is_complete(attrs: Mapping[Any, Any]) -> bool:
    """True when a group's attributes say it is complete (``pano_complete`` is true)."""
    return attrs.get(COMPLETE_ATTR) is True


def present_arrays(root: zarr.Group, parent: str) -> dict[str, set[str]]:
    """Names of the arrays with metadata (``zarr.json``) in each group ``parent/<name>``.

    One directory scan (local stores) or one key listing of ``parent/`` (other stores); the
    arrays' metadata is not parsed (that is :func:`pano.stores.verify.verify_store`).
    """
    from zarr.storage import LocalStore

    out: dict[str, set[str]] = {}
    store = root.store
    if isinstance(store, LocalStore):
        base = Path(store.root).joinpath(*parent.split("/"))
        if not base.is_dir():
            return out
        for g in os.scandir(base):
            if g.is_dir():
                out[g.name] = {
                    a.name
                    for a in os.scandir(g.path)
                    if a.is_dir() and os.path.isfile(os.path.join(a.path, "zarr.json"))
                }
        return out
    from zarr.core.sync import sync

    async def keys() -> list[str]:
        return [k async for k in store.list_prefix(f"{parent}/")]

    for key in sync(keys()):
        parts = key[len(parent) + 1 :].split("/")
        if len(parts) == 3 and parts[2] == "zarr.json":
            out.setdefault(parts[0], set()).add(parts[1])
    return out


def missing_arrays(attrs: Mapping[str, Any], present: set[str], video: bool = True) -> list[str]:
    """Arrays a group requires (:func:`~pano.stores.schema.required_arrays`) but lacks."""
    return sorted(set(required_arrays(attrs, video=video)) - present)


def _video_states(location: StoreLike | xr.DataTree) -> dict[str, tuple[bool, list[str]]]:
    """Per video group: ``(pano_complete is true, missing arrays)``; debris included."""
    import xarray as xr

    out: dict[str, tuple[bool, list[str]]] = {}
    if isinstance(location, xr.DataTree):
        if VIDEOS_GROUP not in location.children:
            return out
        for k, v in location[VIDEOS_GROUP].children.items():
            attrs = {str(a): val for a, val in v.attrs.items()}
            out[str(k)] = (
                is_complete(attrs),
                missing_arrays(attrs, {str(n) for n in v.variables}),
            )
        return out
    root = open_root(location)
    groups = _video_groups(root)
    present = present_arrays(root, VIDEOS_GROUP) if groups else {}
    for k, g in groups.items():
        attrs = g.attrs.asdict()
        out[k] = (is_complete(attrs), missing_arrays(attrs, present.get(k, set())))
    for k in interrupted_groups(location):
        out.setdefault(k, (False, []))
    return out


def damaged_videos(location: StoreLike | xr.DataTree) -> dict[str, list[str]]:
    """Video groups marked complete with required arrays missing: ``{name: missing}``."""
    return {k: m for k, (done, m) in sorted(_video_states(location).items()) if done and m}


def list_videos(location: StoreLike | xr.DataTree, complete: bool = True) -> list[str]:
    """Sorted names of the video groups of a store.

    Args:
        location: path, URL, open root group, or a tree from :func:`open_store`.
        complete: True (default) lists only complete groups (``pano_complete`` true and
            every required array present); False lists only the others: *incomplete*
            ones (left by an interrupted ingest, debris folders without group metadata
            included) and *damaged* ones (:func:`damaged_videos`).

    """
    states = _video_states(location)
    return sorted(k for k, (done, missing) in states.items() if (done and not missing) == complete)


def read_video_attrs(location: StoreLike | xr.DataTree, name: str) -> VideoAttrs:
    """Validated attributes of ``videos/<name>``.

    Raises:
        StoreError: no such video group, or its attributes do not match the schema.

    """
    import xarray as xr

    if isinstance(location, xr.DataTree):
        videos = location.children.get(VIDEOS_GROUP)
        if videos is None or name not in videos.children:
            raise StoreError(f"store has no video {name!r}")
        attrs = dict(videos[name].attrs)
        where = f"videos/{name}"
    else:
        groups = _video_groups(open_root(location))
        if name not in groups:
            raise StoreError(
                f"{describe(location)}: no video {name!r}; it has {sorted(groups) or 'no videos'}"
            )
        attrs = groups[name].attrs.asdict()
        where = f"{describe(location)} videos/{name}"
    return VideoAttrs.from_attrs(attrs, where=where)


def _walk(group: zarr.Group, prefix: str = "", skip: frozenset[str] = frozenset()) -> list[str]:
    """Paths of all groups under ``group`` that readers should see (complete ones)."""
    out = []
    for name, child in sorted(child_groups(group).items()):
        path = f"{prefix}{name}"
        attrs = child.attrs.asdict()
        parent_is_videos = prefix == f"{VIDEOS_GROUP}/"
        if COMPLETE_ATTR in attrs or parent_is_videos:
            if not is_complete(attrs) or path in skip:
                continue
        out.append(path)
        out.extend(_walk(child, f"{path}/", skip))
    return out


def open_store(
    location: str | os.PathLike,
    include_incomplete: bool = False,
    storage_options: Mapping[str, Any] | None = None,
) -> xr.DataTree:
    """Open a pano store as a labelled :class:`xarray.DataTree` (lazy: arrays load on use).

    ``tree["videos/A380"].dataset`` is one video's dataset; root attributes (subjects,
    splits, heatmap parameters, provenance, ...) are ``tree.attrs``.

    Args:
        location: local path or fsspec URL (``memory://``, ``file://``, ``s3://`` ...).
        include_incomplete: also show groups whose ``pano_complete`` is not true (for
            debugging an interrupted ingest). By default they are left out.
        storage_options: passed to fsspec for URLs.

    Raises:
        StoreNotFoundError: no store at ``location``.
        StoreError: not a pano store.

    """
    import xarray as xr
    import zarr

    if not store_exists(location):
        path = local_path(location)
        if path is not None and path.is_file():
            raise StoreNotFoundError(
                f"{location}: is a file, not a store folder; give the store's folder (OUT.zarr)"
            )
        raise StoreNotFoundError(
            f"{location}: no pano store here (no zarr.json); run `pano ingest` first"
        )
    store = zarr_store(location, read_only=True, storage_options=storage_options)
    root = zarr.open_group(store, mode="r", zarr_format=3)
    if "pano_schema_version" not in root.attrs:
        raise StoreError(f"{location}: a Zarr store but not a pano store (no pano_schema_version)")
    read_root_attrs(root)  # validates (e.g. a schema version newer than this pano)
    if include_incomplete:
        with quiet_debris():
            members = root.members(max_depth=None)
        paths = [p for p, _ in members if isinstance(_, zarr.Group)]
    else:
        paths = _walk(root, skip=frozenset(f"{VIDEOS_GROUP}/{n}" for n in damaged_videos(root)))

    def ds(path: str | None) -> xr.Dataset:
        with quiet_debris():
            return xr.open_dataset(
                store,  # type: ignore[arg-type]  # xarray accepts zarr Store objects
                group=path,
                engine="zarr",
                consolidated=False,
                zarr_format=3,
                chunks=None,
            )

    nodes: dict[str, xr.Dataset] = {"/": ds(None)}
    for p in sorted(paths):
        nodes[f"/{p}"] = ds(p)
    return xr.DataTree.from_dict(nodes)


def open_video(location: str | os.PathLike, name: str) -> xr.Dataset:
    """Open one complete video group as a lazy :class:`xarray.Dataset`.

    Raises:
        StoreError: the video is missing or incomplete.

    """
    import xarray as xr

    have = list_videos(location)
    if name not in have:
        if name in list_videos(location, complete=False):
            raise StoreError(
                f"{location}: video {name!r} is incomplete (re-run the ingest to finish it)"
            )
        raise StoreError(
            f"{location}: video {name!r} is not in the store; it has "
            f"{', '.join(have) or 'no complete videos'}"
        )
    return xr.open_dataset(
        zarr_store(location),  # type: ignore[arg-type]
        group=f"{VIDEOS_GROUP}/{name}",
        engine="zarr",
        consolidated=False,
        zarr_format=3,
    )


@dataclass(frozen=True)
class VideoShape:
    """The sizes of one video group's ground truth (what predictions are checked against)."""

    name: str
    n_steps: int  # ground-truth steps (heatmap and scanpath length)
    n_subjects: int  # subjects (scanpath and hm_rs_xyz)
    n_rs: int  # samples of the resampled HM grid (rs_time)
    grid: tuple[int, int]  # heatmap (H, W) = (lat, lon)


#: Arrays every video group needs for evaluation.
_GROUND_TRUTH_ARRAYS = ("heatmap", "scanpath", "hm_rs_xyz")


def video_shape(location: StoreLike, name: str) -> VideoShape:
    """The ground-truth sizes of ``videos/<name>`` (read from array metadata only).

    Raises:
        StoreError: the group lacks ``heatmap``, ``scanpath`` or ``hm_rs_xyz``, or their
            step counts differ.

    """
    root = open_root(location)
    g = group_at(root, f"{VIDEOS_GROUP}/{name}")
    arrays = set(g.array_keys())
    for arr in _GROUND_TRUTH_ARRAYS:
        if arr not in arrays:
            raise StoreError(f"{VIDEOS_GROUP}/{name} has no '{arr}' array; re-run the ingest")
    hm, sp, rs = (array_at(g, a).shape for a in _GROUND_TRUTH_ARRAYS)
    if sp[0] != hm[0]:
        raise StoreError(f"{VIDEOS_GROUP}/{name}: scanpath has {sp[0]} steps, heatmap {hm[0]}")
    return VideoShape(name, int(hm[0]), int(sp[1]), int(rs[1]), (int(hm[1]), int(hm[2])))


def read_video_array(
    location: StoreLike, video: str, name: str, start: int | None = None, stop: int | None = None
) -> np.ndarray:
    """Read ``videos/<video>/<name>[start:stop]`` (along its first axis) as NumPy.

    Only the chunks of the block are read: Dask tasks call this with an open root
    (:func:`open_root`) and their block of steps.
    """
    return np.asarray(array_at(location, f"{VIDEOS_GROUP}/{video}/{name}")[start:stop])


def open_video_group(
    store: str | os.PathLike | xr.DataTree, video: str
) -> tuple[xr.Dataset, RootAttrs, str | None]:
    """One complete video group, the store's validated root attributes, and its location.

    Args:
        store: store path/URL, or a tree from :func:`open_store`.
        video: video group name.

    Returns:
        ``(dataset, root attributes, location)``; the location is None for a tree.

    Raises:
        StoreError: no such video (the message lists the videos the store has), or it is
            incomplete.

    """
    import xarray as xr

    if isinstance(store, xr.DataTree):
        root = RootAttrs.from_attrs({str(k): v for k, v in store.attrs.items()}, where="store root")
        videos = store.children.get(VIDEOS_GROUP)
        if videos is None or video not in videos.children:
            have = sorted(videos.children) if videos is not None else []
            raise StoreError(
                f"store has no video {video!r}; it has {', '.join(have) or 'no videos'}"
            )
        ds = videos[video].to_dataset()
        if video not in list_videos(store):  # not marked complete, or arrays missing
            raise StoreError(f"videos/{video} is incomplete (re-run the ingest to finish it)")
        return ds, root, None
    return open_video(store, video), read_root_attrs(store), str(store)


def store_nbytes(location: str | os.PathLike) -> int:
    """Total bytes of all objects of a store (metadata included)."""
    path = local_path(location)
    if path is not None:
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    import fsspec

    fs, root = fsspec.core.url_to_fs(str(location))
    return int(fs.du(root, total=True))
