"""``pano ingest mpiifacegaze --raw DIR``: the original MPIIFaceGaze, normalised by pano.

1. every ``pXX.txt`` and ``Calibration/Camera.mat`` is read and checked and every image's
   existence verified (:func:`pano.stores.mpiifacegaze_raw.scan_raw`) before the store is
   touched, so bad input leaves the store as it was;
2. under the store's write lock, ``gaze/<name>`` is created or resumed by the gaze store
   writer (:class:`pano.stores.gaze.GazeWriter`; same input = same SHA-256 fingerprint of the
   annotation and calibration files and the same normalisation parameters);
3. one Dask task per pending part (``block`` consecutive samples, in person order) decodes
   its JPEGs, normalises them (kornia warp on ``device``) and writes its rows; a corrupt
   image stops its part with one line and leaves the group incomplete;
4. the driver marks the group complete when every part is written.

Re-running after an interruption writes only the missing parts; on a complete group it does
nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from pano._version import __version__
from pano.errors import ConfigError
from pano.gaze.normalize import NormalisationParams
from pano.pipelines.ingest import _file_source, _now
from pano.pipelines.ingest_config import StoreIngestSettings
from pano.pipelines.ingest_gaze import check_store_to_add_to, write_gaze_parts
from pano.stores.gaze import DEFAULT_BLOCK, FACE_CHUNK, GazeLayout, GazeWriter, gaze_path
from pano.stores.gaze_samples import GAZE_GROUP
from pano.stores.mpiifacegaze_raw import DATASET_NAME, RawIndex

log = logging.getLogger("pano.pipelines.ingest_mpiifacegaze")

#: The optional GazeSamples fields this reader fills.
_FIELDS = ("gaze_origin", "head_angles", "head_xyz", "rmat", "smat")


class RawMpiiIngestConfig(StoreIngestSettings):
    """Configuration of ``pano ingest mpiifacegaze``.

    Example: ``pipelines/configs/ingest_mpiifacegaze.yaml``.

    Of the shared ingest settings, ``store``, ``device`` (the warp's torch device),
    ``workers``, ``scheduler``, ``dashboard`` and ``overwrite`` apply; the heatmap,
    resampling, frame-count and verify settings are those of video groups.
    """

    raw: Path = Field(description="the original MPIIFaceGaze folder (holding p00 .. p14)")
    persons: list[str] | None = Field(
        default=None, description="persons to ingest, e.g. [p00, p01] (default: all present)"
    )
    name: str = Field(default=DATASET_NAME, description="group name under gaze/")
    normalisation: NormalisationParams = Field(default_factory=lambda: NormalisationParams())
    block: int = Field(
        default=DEFAULT_BLOCK, gt=0,
        description=f"samples per part (one Dask task; a multiple of {FACE_CHUNK})",
    )  # fmt: skip
    batch: int = Field(default=64, gt=0, description="images per kornia warp call")
    limit: int | None = Field(
        default=None, gt=0, description="only the first LIMIT lines of each person (previews)"
    )

    @field_validator("block")
    @classmethod
    def _block(cls, v: int) -> int:
        if v % FACE_CHUNK:
            raise ConfigError(f"must be a multiple of {FACE_CHUNK} (samples per image chunk)")
        return v


class RawMpiiIngestSummary(BaseModel):
    """What ``pano ingest mpiifacegaze`` did (printed by the CLI)."""

    store: str
    group: str
    n_samples: int
    n_subjects: int
    face_shape: tuple[int, int]
    protocol: str
    parts: int
    parts_written: int
    status: Literal["written", "complete"]
    normalisation: str
    device: str
    store_bytes: int = 0
    seconds: float = 0.0

    def format(self) -> str:
        """Human-readable summary (a few lines)."""
        done = (
            f"{self.parts_written} of {self.parts} parts written this run"
            if self.status == "written"
            else "already complete: nothing written"
        )
        h, w = self.face_shape
        return "\n".join([
            f"store    {self.store}",
            f"gaze     {self.group} (raw MPIIFaceGaze, normalised by pano): {done}",
            f"samples  {self.n_samples} from {self.n_subjects} persons; face {h}x{w}",
            f"normal.  {self.normalisation}; warps on {self.device}",
            f"protocol {self.protocol}",
            f"size     {self.store_bytes} bytes ({self.store_bytes / 2**20:.2f} MiB), "
            f"{self.seconds:.1f} s",
        ])  # fmt: skip


@dataclass
class _PartJob:
    store: str
    name: str
    part: int
    index: RawIndex  # the part's rows only
    params: NormalisationParams
    device: str
    batch: int


def _write_part_task(job: _PartJob) -> int:
    """Decode, normalise and write one part's rows (a Dask task); returns the part."""
    from pano.stores.mpiifacegaze_raw import normalise_index_rows

    samples = normalise_index_rows(
        job.index, 0, len(job.index), job.params, job.device, job.batch
    ).check(f"{gaze_path(job.name)} part {job.part}")
    GazeWriter.open(job.store, job.name).write_part(job.part, samples)
    return job.part


def ingest_mpiifacegaze_raw(cfg: RawMpiiIngestConfig) -> RawMpiiIngestSummary:
    """Ingest (or finish ingesting) the raw MPIIFaceGaze, holding the store's write lock.

    Raises:
        InputFileNotFoundError, InputDataError: bad input (one line: file, line, field).
        StoreExistsError: the group exists from other input or parameters (without
            ``overwrite``), or the location holds something that is not a pano store.
        StoreLockedError: another process writes the store.
        DeviceError: ``device`` names a device that is not available.

    """
    from pano.device import resolve_device
    from pano.stores.lock import store_write_lock
    from pano.stores.names import validate_name
    from pano.stores.preflight import check_store_location

    validate_name(cfg.name, "--name")
    resolve_device(cfg.device)
    check_store_location(cfg.store, write=True, groups=(GAZE_GROUP,), option="--store")
    with store_write_lock(cfg.store, command="pano ingest mpiifacegaze"):
        return _ingest(cfg)


def _ingest(cfg: RawMpiiIngestConfig) -> RawMpiiIngestSummary:
    from pano.device import resolve_device
    from pano.stores.mpiifacegaze_raw import convention, protocol, scan_raw
    from pano.stores.reader import store_nbytes

    t0 = time.perf_counter()
    index = scan_raw(cfg.raw, cfg.persons, cfg.limit)
    existed = check_store_to_add_to(cfg.store)
    params = cfg.normalisation
    face = (params.height_px, params.width_px)
    layout = GazeLayout(
        len(index), {"face": face}, _FIELDS, block=cfg.block,
        fingerprint=f"{DATASET_NAME}:{index.fingerprint}:{params.model_dump_json()}",
    )  # fmt: skip
    conv, proto = convention(params), protocol(index.persons)
    provenance = {
        "pano_version": __version__,
        "created": _now(),
        "command": "pano ingest mpiifacegaze",
        "root": str(index.root.resolve()),
        "sources": [_file_source("annotation", f).to_attrs() for f in index.files],
        "parameters": {
            "normalisation": params.model_dump(mode="json"),
            "persons": list(index.persons),
            "limit": cfg.limit,
            "block": cfg.block,
        },
    }
    device = str(resolve_device(cfg.device))
    written, was_complete = write_gaze_parts(
        cfg, cfg.name, existed, layout, conv, proto, list(index.persons), provenance,
        lambda store, p: _PartJob(
            store, cfg.name, p, index.subset(*layout.part_rows(p)), params, device, cfg.batch
        ),
        _write_part_task, "normalising into", index.images_digest,
    )  # fmt: skip
    status: Literal["written", "complete"] = "complete" if was_complete else "written"
    return RawMpiiIngestSummary(
        store=str(cfg.store), group=gaze_path(cfg.name), n_samples=len(index),
        n_subjects=len(index.persons), face_shape=face,
        protocol=f"{proto.kind}: {proto.description}", parts=layout.n_parts,
        parts_written=written, status=status, normalisation=params.describe(), device=device,
        store_bytes=store_nbytes(cfg.store), seconds=time.perf_counter() - t0,
    )  # fmt: skip


__all__ = ["RawMpiiIngestConfig", "RawMpiiIngestSummary", "ingest_mpiifacegaze_raw"]
