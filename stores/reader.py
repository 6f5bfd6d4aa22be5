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
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from pano.errors import StoreError, StoreNotFoundError
from pano.stores.schema import (
    COMPLETE_ATTR,
    VIDEOS_GROUP,
    RootAttrs,
    VideoAttrs,
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
    import zarr

    root = open_root(location)
    try:
        node = root[path]
    except KeyError as err:
        raise StoreError(f"{describe(root)}: no array {path!r} in the store") from err
    if not isinstance(node, zarr.Array):
        raise StoreError(f"{describe(root)}: {path!r} is a group, expected an array")
    return np.asarray(node[...])


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


def _is_complete(attrs: Mapping[Any, Any]) -> bool:
    return attrs.get(COMPLETE_ATTR) is True


def list_videos(location: StoreLike | xr.DataTree, complete: bool = True) -> list[str]:
    """Sorted names of the video groups of a store.

    Args:
        location: path, URL, open root group, or a tree from :func:`open_store`.
        complete: True (default) lists only complete groups (``pano_complete`` true);
            False lists only the *incomplete* ones (left by an interrupted ingest), debris
            folders without group metadata included.

    """
    import xarray as xr

    if isinstance(location, xr.DataTree):
        if VIDEOS_GROUP not in location.children:
            return []
        items: dict[str, Mapping[Any, Any]] = {
            str(k): v.attrs for k, v in location[VIDEOS_GROUP].children.items()
        }
    else:
        items = {k: g.attrs.asdict() for k, g in _video_groups(open_root(location)).items()}
        if not complete:
            items.update({k: {} for k in interrupted_groups(location)})
    return sorted(k for k, a in items.items() if _is_complete(a) == complete)


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


def _walk(group: zarr.Group, prefix: str = "") -> list[str]:
    """Paths of all groups under ``group`` that readers should see (complete ones)."""
    out = []
    for name, child in sorted(child_groups(group).items()):
        path = f"{prefix}{name}"
        attrs = child.attrs.asdict()
        parent_is_videos = prefix == f"{VIDEOS_GROUP}/"
        if COMPLETE_ATTR in attrs or parent_is_videos:
            if not _is_complete(attrs):
                continue
        out.append(path)
        out.extend(_walk(child, f"{path}/"))
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
        paths = _walk(root)

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
        if ds.attrs.get(COMPLETE_ATTR) is not True:
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


@dataclass
class VideoRow:
    """One line of a store summary."""

    name: str
    split: str
    n_frames: int
    fps: float
    n_subjects: int
    n_samples: int
    n_nan_samples: int
    n_steps: int
    has_em: bool


@dataclass
class RunRow:
    """One prediction run (``predictions/<name>``) or results group (``results/<name>``)."""

    group: str
    complete: bool
    detail: str


@dataclass
class StoreSummary:
    """What ``pano info`` prints: per video and totals, then prediction runs and results."""

    location: str
    dataset: str
    schema_version: int
    n_subjects: int
    heatmap: dict[str, Any]
    videos: list[VideoRow] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    store_bytes: int = 0
    runs: list[RunRow] = field(default_factory=list)

    @property
    def total_samples(self) -> int:
        """Sum over videos of subjects x samples."""
        return sum(v.n_subjects * v.n_samples for v in self.videos)

    @property
    def total_nan_samples(self) -> int:
        """Sum over videos of NaN (subject, sample) pairs."""
        return sum(v.n_nan_samples for v in self.videos)

    def format(self) -> str:
        """Human-readable multi-line summary."""
        hm = self.heatmap
        lines = [
            f"store    {self.location}",
            f"dataset  {self.dataset} (pano schema v{self.schema_version}), "
            f"{self.n_subjects} subjects, {len(self.videos)} complete videos",
            f"heatmap  {hm.get('width')}x{hm.get('height')}, sigma {hm.get('sigma_deg')} deg, "
            f"every {hm.get('step_frames')} frames, normalize {hm.get('normalize')}",
            "",
            f"{'video':<24} {'split':<5} {'frames':>7} {'fps':>7} {'subj':>5} {'samples':>8} "
            f"{'NaNs':>6} {'steps':>6} {'EM':>3}",
        ]
        for v in self.videos:
            lines.append(
                f"{v.name:<24} {v.split:<5} {v.n_frames:>7} {v.fps:>7.3f} {v.n_subjects:>5} "
                f"{v.n_samples:>8} {v.n_nan_samples:>6} {v.n_steps:>6} "
                f"{'yes' if v.has_em else 'no':>3}"
            )
        lines += [
            "",
            f"total    {len(self.videos)} videos, {sum(v.n_frames for v in self.videos)} frames, "
            f"{self.total_samples} samples (subject x time), {self.total_nan_samples} NaN samples, "
            f"{sum(v.n_steps for v in self.videos)} heatmaps",
            f"size     {self.store_bytes} bytes ({self.store_bytes / 2**20:.1f} MiB)",
        ]
        if self.incomplete:
            lines.append(f"incomplete (re-run the ingest to finish): {', '.join(self.incomplete)}")
        if self.runs:
            width = max(len(r.group) for r in self.runs)
            lines += ["", "runs"]
            for r in self.runs:
                flag = "" if r.complete else "  [incomplete: re-run to finish]"
                lines.append(f"  {r.group:<{width}}  {r.detail}{flag}")
        return "\n".join(lines)


def store_summary(location: str | os.PathLike) -> StoreSummary:
    """Summarise a store (per video: split, frames, fps, samples, NaNs; totals; bytes)."""
    root = open_root(location)
    ra = read_root_attrs(root)
    rows = []
    for name in list_videos(root):
        va = read_video_attrs(root, name)
        rows.append(
            VideoRow(
                name=name, split=va.split, n_frames=va.video.n_frames, fps=va.video.fps,
                n_subjects=va.n_subjects, n_samples=va.n_samples, n_nan_samples=va.n_nan_samples,
                n_steps=va.n_steps, has_em=va.has_em,
            )
        )  # fmt: skip
    return StoreSummary(
        location=str(location),
        dataset=ra.dataset,
        schema_version=ra.pano_schema_version,
        n_subjects=len(ra.subjects),
        heatmap=ra.heatmap.model_dump(),
        videos=rows,
        incomplete=list_videos(root, complete=False),
        store_bytes=store_nbytes(location),
        runs=_run_rows(root),
    )


def _run_rows(root: zarr.Group) -> list[RunRow]:
    """The store's prediction runs and results groups, described in one line each."""
    groups = child_groups(root)
    rows = []
    if "predictions" in groups:
        for name, g in sorted(child_groups(groups["predictions"]).items()):
            videos = child_groups(g)
            done = sum(_is_complete(v.attrs) for v in videos.values())
            a = g.attrs.asdict()
            rows.append(
                RunRow(
                    f"predictions/{name}",
                    bool(videos) and done == len(videos),
                    f"model {a.get('model', '?')}, split {a.get('split', '?')}, "
                    f"{done}/{len(videos)} videos",
                )
            )
    if "results" in groups:
        for name, g in sorted(child_groups(groups["results"]).items()):
            a = g.attrs.asdict()
            models = [str(m) for m in np.asarray(g["model"])] if "model" in g.array_keys() else []
            profile = a.get("profile", {})
            rows.append(
                RunRow(
                    f"results/{name}",
                    _is_complete(a),
                    f"split {a.get('split', '?')}, profile "
                    f"{profile.get('name', '?') if isinstance(profile, dict) else profile}, "
                    f"{len(models)} models: {', '.join(models)}",
                )
            )
    return rows
