"""Checking that a store's complete groups hold what they claim (``pano info --verify``).

Two levels (``docs/store.md``, "Completeness"):

* the **fast check** (every reader, :func:`pano.stores.reader.list_videos`): a group
  marked complete must have the metadata of every array it requires
  (:func:`pano.stores.schema.required_arrays`); one directory scan per store;
* the **full check** (:func:`verify_store` with ``full=True``): additionally every
  array's metadata is parsed, every chunk of a group written by this pano is present
  (its writer stores every chunk, empty ones included, so a missing chunk is damage, not
  "fill value"), and every chunk is read and decoded.

A group that fails is *damaged*: readers skip it (fast check) and ``pano ingest`` rewrites
it (with ``--verify``, also those only the full check finds).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pano.stores.reader import (
    StoreLike,
    child_groups,
    describe,
    open_root,
    quiet_debris,
    read_root_attrs,
)
from pano.stores.schema import ARRAYS_ATTR, COMPLETE_ATTR, VIDEOS_GROUP, required_arrays


@dataclass
class Problem:
    """One thing wrong with a group marked complete."""

    group: str  # e.g. "videos/A380"
    what: str  # e.g. "array 'scanpath' is missing"


@dataclass
class VerifyReport:
    """What :func:`verify_store` checked and found."""

    location: str
    full: bool
    groups: int = 0
    arrays: int = 0
    chunks: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no complete group is damaged."""
        return not self.problems

    @property
    def damaged(self) -> list[str]:
        """Paths of the damaged groups, sorted."""
        return sorted({p.group for p in self.problems})

    def format(self) -> str:
        """A few lines: what was checked, then one line per problem."""
        how = "every chunk read" if self.full else "array metadata only"
        head = (
            f"verify   {self.groups} complete groups, {self.arrays} arrays, {self.chunks} chunks "
            f"({how}): "
        )
        if self.ok:
            return head + "all present and readable"
        lines = [head + f"{len(self.damaged)} damaged"]
        lines += [f"  {p.group}: {p.what}" for p in self.problems]
        return "\n".join(lines)

    def one_line(self) -> str:
        """The problems in one line (for an error message)."""
        groups = self.damaged
        first = next(p for p in self.problems if p.group == groups[0])
        more = f" and {len(groups) - 1} more" if len(groups) > 1 else ""
        return (
            f"{self.location}: {len(groups)} group(s) marked complete are damaged "
            f"({first.group}: {first.what}{more})"
        )


def _complete_groups(root: Any, prefix: str | None) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """``(path, group, attrs)`` of every group marked complete (under ``prefix``)."""
    import zarr

    start = root if prefix is None else root[prefix]
    base = "" if prefix is None else f"{prefix}/"
    with quiet_debris():
        members = list(start.members(max_depth=None))
    for path, node in sorted(members, key=lambda m: m[0]):
        if isinstance(node, zarr.Group):
            attrs = node.attrs.asdict()
            if attrs.get(COMPLETE_ATTR) is True:
                yield f"{base}{path}", node, attrs


def _outer_blocks(arr: Any) -> Iterator[tuple[slice, ...]]:
    """Slices of every stored object of ``arr`` (shards if sharded, else chunks)."""
    outer = arr.shards or arr.chunks
    shape = arr.shape
    counts = [math.ceil(s / c) if s else 0 for s, c in zip(shape, outer, strict=True)]
    for idx in itertools.product(*(range(n) for n in counts)):
        yield tuple(
            slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(idx, outer, shape, strict=True)
        )


def _check_group(
    path: str, group: Any, attrs: dict[str, Any], full: bool, report: VerifyReport
) -> None:
    import zarr

    is_video = path.startswith(f"{VIDEOS_GROUP}/") and path.count("/") == 1
    with quiet_debris():
        names = sorted(set(group.array_keys()) | set(required_arrays(attrs, video=is_video)))
    every_chunk = ARRAYS_ATTR in attrs  # written by write_group: every chunk is stored
    for name in names:
        try:
            arr = group[name]
        except KeyError:
            report.problems.append(Problem(path, f"array {name!r} is missing"))
            continue
        except Exception as err:  # zarr raises many types for bad metadata
            report.problems.append(Problem(path, f"array {name!r} has unreadable metadata: {err}"))
            continue
        if not isinstance(arr, zarr.Array):
            report.problems.append(Problem(path, f"{name!r} is a group, not an array"))
            continue
        report.arrays += 1
        if not full:
            continue
        if every_chunk and arr.size and arr.nchunks_initialized < arr.nchunks:
            report.problems.append(
                Problem(
                    path,
                    f"array {name!r} lacks {arr.nchunks - arr.nchunks_initialized} of its "
                    f"{arr.nchunks} chunks",
                )
            )
            continue
        for block in _outer_blocks(arr):
            try:
                arr[block]
            except Exception as err:  # codecs raise many types for bad bytes
                start = tuple(s.start for s in block)
                msg = " ".join(str(err).split())[:200] or type(err).__name__
                report.problems.append(
                    Problem(path, f"array {name!r}: chunk at {start} unreadable ({msg})")
                )
                break
            report.chunks += 1


def verify_store(location: StoreLike, full: bool = True, prefix: str | None = None) -> VerifyReport:
    """Check every group marked complete (see the module docstring); read only.

    Args:
        location: store path/URL or an open root group.
        full: also parse every array's metadata, check every chunk is present and read
            every chunk; False: only the fast check (metadata present).
        prefix: only groups under this path (e.g. ``"videos"``); default: all.

    Returns:
        A :class:`VerifyReport` (``report.ok``, ``report.damaged``, ``report.format()``).

    Raises:
        StoreNotFoundError, StoreError: no (pano) store at ``location``.

    """
    root = open_root(location)
    read_root_attrs(root)
    report = VerifyReport(location=describe(location), full=full)
    if prefix is not None and prefix not in child_groups(root):
        return report
    for path, group, attrs in _complete_groups(root, prefix):
        report.groups += 1
        _check_group(path, group, attrs, full, report)
    return report


def damaged_video_names(report: VerifyReport) -> list[str]:
    """Names of the damaged video groups of a report (``videos/<name>`` -> ``name``)."""
    out = []
    for g in report.damaged:
        parent, _, name = g.partition("/")
        if parent == VIDEOS_GROUP and name and "/" not in name:
            out.append(name)
    return out


@dataclass
class VideoFileReport:
    """The full SHA-256 check of a store's video files (``pano info --verify``)."""

    checked: list[str] = field(default_factory=list)  # video names whose file matched
    mismatched: list[str] = field(default_factory=list)  # one line per mismatch
    unchecked: list[str] = field(default_factory=list)  # one line per file not found

    def format(self) -> str:
        """Lines for ``pano info --verify``."""
        lines = [f"video files: {len(self.checked)} match the SHA-256 recorded at ingest"]
        lines += [f"  {m}" for m in self.mismatched]
        lines += [f"  not checked: {u}" for u in self.unchecked]
        return "\n".join(lines)


def verify_video_files(
    location: StoreLike, videos_dir: str | os.PathLike[str] | None = None
) -> VideoFileReport:
    """Hash every complete video's file whole and compare with the SHA-256 recorded at ingest.

    A file that cannot be found (the videos are not on this machine) is listed as not
    checked, not as damage: the store itself is intact.

    Args:
        location: store path/URL.
        videos_dir: folder of the videos (default: the one recorded at ingest).

    """
    from pano.errors import InputFileNotFoundError
    from pano.probe import sha256_file
    from pano.stores.reader import list_videos, read_video_attrs
    from pano.stores.streaming import resolve_video_path

    root_attrs = read_root_attrs(location)
    loc = None if not isinstance(location, str | os.PathLike) else location
    report = VideoFileReport()
    for name in list_videos(location):
        src = read_video_attrs(location, name).video
        if src is None:
            report.unchecked.append(f"videos/{name}: stored without its video file (traces only)")
            continue
        try:
            path = resolve_video_path(loc, root_attrs, src.path, videos_dir)
        except InputFileNotFoundError:
            report.unchecked.append(f"videos/{name}: file {src.path!r} not found")
            continue
        found = sha256_file(path)
        if found != src.sha256:
            report.mismatched.append(
                f"{path}: not the video ingested as videos/{name} (recorded sha256 "
                f"{src.sha256[:16]}..., found {found[:16]}...)"
            )
        else:
            report.checked.append(name)
    return report


__all__ = [
    "Problem",
    "VerifyReport",
    "VideoFileReport",
    "damaged_video_names",
    "verify_store",
    "verify_video_files",
]
