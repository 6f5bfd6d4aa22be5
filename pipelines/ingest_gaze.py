"""``pano ingest gazehub``: a GazeHub-processed gaze data set into ``gaze/<name>`` of a store.

1. every label file is read and checked (:func:`pano.stores.gazehub.scan_gazehub`: column
   counts, vectors, finite angle pairs, every image present, the first of each kind
   decoded) - before the store is touched, so bad labels leave the store as it was;
2. under the store's write lock, the store is created if there is none (a store may hold
   videos and gaze data sets together) and ``gaze/<name>`` is created or resumed
   (:class:`pano.stores.gaze.GazeWriter`): a group from the same label files (their
   SHA-256) keeps its written parts, one from other input needs ``--overwrite`` (which
   replaces that group only, never the rest of the store);
3. one Dask task per pending part (:data:`~pano.stores.gaze.DEFAULT_BLOCK` consecutive
   samples) decodes its JPEGs and writes its rows, then marks the part written; a corrupt
   image stops its part (one line: label file, line, image) and leaves the group
   incomplete;
4. the driver marks the group complete when every part is written.

Re-running after an interruption writes only the missing parts; on a complete group it
does nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from pano._version import __version__
from pano.errors import ConfigError, StoreError, StoreExistsError
from pano.pipelines.ingest import _file_source, _now, _raise_first
from pano.pipelines.ingest_config import StoreIngestSettings
from pano.pipelines.runner import dask_runner
from pano.stores.gaze import DEFAULT_BLOCK, FACE_CHUNK, GazeLayout, GazeWriter, gaze_path
from pano.stores.gaze_samples import GAZE_GROUP, GazeConvention, GazeProtocol
from pano.stores.gazehub import GazeHubIndex

log = logging.getLogger("pano.pipelines.ingest_gaze")


class GazeHubIngestConfig(StoreIngestSettings):
    """Configuration of ``pano ingest gazehub`` (``pipelines/configs/ingest_gazehub.yaml``).

    Of the shared ingest settings, ``store``, ``workers``, ``scheduler``, ``dashboard`` and
    ``overwrite`` apply; the heatmap, resampling, device, frame-count and verify settings
    are those of video groups and are not used here.
    """

    root: Path = Field(description="GazeHub's folder of the data set (holding Image/ and Label/)")
    dataset: Literal["mpiifacegaze", "gaze360", "eyediap"] = Field(
        description="which GazeHub data set the folder holds"
    )
    name: str | None = Field(
        default=None, description="group name under gaze/ (default: the dataset)"
    )
    block: int = Field(
        default=DEFAULT_BLOCK, gt=0,
        description=f"samples per part (one Dask task; a multiple of {FACE_CHUNK})",
    )  # fmt: skip

    @field_validator("block")
    @classmethod
    def _block(cls, v: int) -> int:
        if v % FACE_CHUNK:
            raise ConfigError(f"must be a multiple of {FACE_CHUNK} (samples per image chunk)")
        return v

    @property
    def group_name(self) -> str:
        """The data set's name under ``gaze/``."""
        return self.name or self.dataset


class GazeIngestSummary(BaseModel):
    """What ``pano ingest gazehub`` did (printed by the CLI)."""

    store: str
    group: str
    dataset: str
    n_samples: int
    n_subjects: int
    image_shapes: dict[str, tuple[int, int]]
    protocol: str
    parts: int
    parts_written: int
    status: Literal["written", "complete"]
    notes: str
    store_bytes: int = 0
    seconds: float = 0.0

    def format(self) -> str:
        """Human-readable summary (a few lines)."""
        shapes = ", ".join(f"{k} {h}x{w}" for k, (h, w) in sorted(self.image_shapes.items()))
        done = (
            f"{self.parts_written} of {self.parts} parts written this run"
            if self.status == "written"
            else "already complete: nothing written"
        )
        return "\n".join([
            f"store    {self.store}",
            f"gaze     {self.group} (GazeHub {self.dataset}): {done}",
            f"samples  {self.n_samples} from {self.n_subjects} subjects; {shapes}",
            f"protocol {self.protocol}",
            f"labels   {self.notes}",
            f"size     {self.store_bytes} bytes ({self.store_bytes / 2**20:.2f} MiB), "
            f"{self.seconds:.1f} s",
        ])  # fmt: skip


@dataclass
class _PartJob:
    store: str
    name: str
    part: int
    rows: GazeHubIndex  # the part's rows only


def _write_part_task(job: _PartJob) -> int:
    """Decode one part's images and write its rows (a Dask task); returns the part."""
    samples = job.rows.samples().check(f"{gaze_path(job.name)} part {job.part}")
    GazeWriter.open(job.store, job.name).write_part(job.part, samples)
    return job.part


def _rows(index: GazeHubIndex, start: int, stop: int) -> GazeHubIndex:
    """Rows ``start:stop`` of an index (what one task needs)."""
    sel = slice(start, stop)
    return replace(
        index, face=index.face[sel], left=index.left[sel], right=index.right[sel],
        where=index.where[sel], fields={k: v[sel] for k, v in index.fields.items()},
    )  # fmt: skip


def check_store_to_add_to(store: Path | str) -> bool:
    """True when ``store`` exists (and is a pano store a gaze group can be added to).

    Raises:
        StoreExistsError: something is there that is not a pano store this pano reads.
    """
    from pano.stores.reader import read_root_attrs, store_exists

    if not store_exists(store):
        return False
    try:
        read_root_attrs(store)
    except StoreError as err:
        raise StoreExistsError(
            f"{store}: exists but is not a pano store this pano can add to ({err}); "
            "choose another --store"
        ) from err
    return True


def write_gaze_parts(
    cfg: StoreIngestSettings,
    name: str,
    existed: bool,
    layout: GazeLayout,
    convention: GazeConvention,
    protocol: GazeProtocol,
    subjects: list[str],
    provenance: dict[str, Any],
    make_job: Callable[[str, int], Any],
    task: Callable[[Any], int],
    label: str,
    images_digest: str = "",
) -> tuple[int, bool]:
    """Create (or resume) ``gaze/<name>``, write its pending parts on Dask, mark it complete.

    The one write path of every gaze ingest (``pano ingest gazehub``, ``pano ingest
    mpiifacegaze``): a re-run with the same layout resumes (what an interrupted run left is
    removed and the store's generation bumped); a complete group is left alone.

    Args:
        make_job: ``(store location for tasks, part index) -> job`` for ``task``.
        task: the Dask task writing one part (returns its row count).
        label: progress label (``"writing"``, ``"normalising into"``).
        images_digest: the reader's digest of the input images (paths, byte sizes),
            recorded when the group is completed; a complete group recorded with another
            digest is refused (an image was replaced since) unless ``overwrite``.

    Returns:
        ``(parts written by this run, whether the group was already complete)``.
    """
    from pano.stores.reader import describe, local_path

    writer = GazeWriter.create(
        cfg.store, name, layout, convention, protocol, subjects, provenance,
        overwrite=cfg.overwrite,
    )  # fmt: skip
    was_complete = writer.complete
    if was_complete and images_digest and writer.images_digest not in ("", images_digest):
        raise StoreExistsError(
            f"{describe(cfg.store)}: {gaze_path(name)} is complete, but the images under "
            "its label files are not those it was ingested from (a file's size differs); "
            "pass --overwrite to ingest them again"
        )
    pending = [] if was_complete else writer.pending_parts()
    if existed and (pending or not was_complete):
        from pano.stores.generation import bump_generation
        from pano.stores.writer import remove_debris

        bump_generation(cfg.store)
        removed = remove_debris(cfg.store)
        if removed:
            log.info("removed what an interrupted ingest left: %s", ", ".join(removed))
    path = local_path(cfg.store)
    task_store = cfg.store if path is None else str(path.resolve())
    jobs = [make_job(task_store, p) for p in pending]
    with dask_runner(
        cfg.store, cfg.workers, cfg.scheduler, len(jobs), dashboard=cfg.dashboard
    ) as runner:
        results = runner.map(
            task, jobs, f"{label} {gaze_path(name)}", scatter=True, return_errors=True
        )
    _raise_first([r for r in results if isinstance(r, BaseException)])
    GazeWriter.open(cfg.store, name).finish(images_digest)
    return len(jobs), was_complete


def ingest_gazehub(cfg: GazeHubIngestConfig) -> GazeIngestSummary:
    """Ingest (or finish ingesting) a GazeHub data set, holding the store's write lock.

    Raises:
        InputFileNotFoundError, InputDataError: bad input (one line: file, line, field).
        StoreExistsError: the group exists from other input (without ``overwrite``), or the
            location holds something that is not a pano store.
        StoreLockedError: another process writes the store.

    """
    from pano.stores.lock import store_write_lock
    from pano.stores.names import validate_name
    from pano.stores.preflight import check_store_location

    validate_name(cfg.group_name, "--name")
    check_store_location(cfg.store, write=True, groups=(GAZE_GROUP,), option="--store")
    with store_write_lock(cfg.store, command="pano ingest gazehub"):
        return _ingest(cfg)


def _ingest(cfg: GazeHubIngestConfig) -> GazeIngestSummary:
    from pano.stores.gazehub import label_files, scan_gazehub
    from pano.stores.reader import store_nbytes

    t0 = time.perf_counter()
    index = scan_gazehub(cfg.root, cfg.dataset)
    existed = check_store_to_add_to(cfg.store)
    fields = tuple(k for k in index.fields if k not in
                   ("gaze_xyz", "gaze_angles", "subject", "source", "mirrored"))  # fmt: skip
    fields += ("left", "right")
    layout = GazeLayout(
        len(index), index.image_shapes, fields, block=cfg.block,
        fingerprint=f"{cfg.dataset}:{index.fingerprint}",
    )  # fmt: skip
    root = cfg.root.resolve()
    provenance = {
        "pano_version": __version__,
        "created": _now(),
        "command": "pano ingest gazehub",
        "root": str(root),
        "sources": [_file_source("label", f).to_attrs() for f in label_files(root, cfg.dataset)],
        "parameters": {"dataset": cfg.dataset, "block": cfg.block},
    }
    name = cfg.group_name
    written, was_complete = write_gaze_parts(
        cfg, name, existed, layout, index.convention, index.protocol, index.subjects,
        provenance, lambda store, p: _PartJob(store, name, p, _rows(index, *layout.part_rows(p))),
        _write_part_task, "writing", index.images_digest,
    )  # fmt: skip
    return GazeIngestSummary(
        store=str(cfg.store), group=gaze_path(name), dataset=cfg.dataset,
        n_samples=len(index), n_subjects=len(index.subjects),
        image_shapes=index.image_shapes,
        protocol=f"{index.protocol.kind}: {index.protocol.description}",
        parts=layout.n_parts, parts_written=written,
        status="complete" if was_complete else "written", notes=index.convention.notes,
        store_bytes=store_nbytes(cfg.store), seconds=time.perf_counter() - t0,
    )  # fmt: skip


__all__ = [
    "GazeHubIngestConfig", "GazeIngestSummary", "check_store_to_add_to", "ingest_gazehub",
    "write_gaze_parts",
]  # fmt: skip
