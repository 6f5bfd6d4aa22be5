"""Atomic, verified checkpoints with a manifest naming the latest COMPLETE one.

Layout of a run directory's ``checkpoints/``::

    ckpt-00000200.pt      torch.save of a dict of tensors / plain containers
    ckpt-00000400.pt
    manifest.json         {"latest": ..., "best": ..., "checkpoints": [{file, step, sha256,
                           val, bytes}, ...]}

A checkpoint is serialised in memory, written to a temporary file in the same folder,
flushed and fsync'ed, then renamed over its final name (``os.replace``, atomic on POSIX);
only then is the manifest rewritten the same way. A process killed at any moment leaves
either the old manifest (pointing at complete, verified files) or the new one; stray
``*.tmp`` files are ignored and removed by the next save. Loading re-hashes the file and
checks it against the manifest's SHA-256: a corrupted or truncated checkpoint is never
used (the next older verified one is, with a warning). Files are read with
``torch.load(weights_only=True)``, so a checkpoint cannot run code.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

import torch

from pano.errors import CheckpointError

log = logging.getLogger("pano.train")

MANIFEST = "manifest.json"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + fsync + ``os.replace``).

    The temporary file has an unpredictable name and is created exclusively (``O_EXCL``):
    a file or symlink planted under a guessable name is never written through.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class CheckpointManager:
    """Save and load checkpoints of one run.

    Args:
        folder: the ``checkpoints/`` folder (created on the first save).
        keep: most recent checkpoints kept (the best one is always kept too).

    """

    def __init__(self, folder: str | Path, keep: int = 3) -> None:
        self.folder = Path(folder)
        self.keep = max(1, int(keep))

    # ------------------------------------------------------------------ manifest

    def manifest(self) -> dict[str, Any]:
        """The manifest (empty structure when there is none or it is unreadable)."""
        path = self.folder / MANIFEST
        empty: dict[str, Any] = {"latest": None, "best": None, "checkpoints": []}
        if not path.is_file():
            return empty
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            log.warning("%s is unreadable (%s); ignoring it", path, err)
            return empty
        if not isinstance(data, dict) or not isinstance(data.get("checkpoints"), list):
            log.warning("%s has an unexpected layout; ignoring it", path)
            return empty
        return data

    def _write_manifest(self, data: dict[str, Any]) -> None:
        atomic_write_bytes(self.folder / MANIFEST, json.dumps(data, indent=1).encode())

    # ------------------------------------------------------------------ saving

    def save(
        self, step: int, state: dict[str, Any], val: float | None = None, best: bool = False
    ) -> Path:
        """Write checkpoint ``step`` and make it the latest (and the best if ``best``)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(".ckpt-*.tmp"):
            stale.unlink(missing_ok=True)
        buf = io.BytesIO()
        torch.save(state, buf)
        data = buf.getvalue()
        name = f"ckpt-{step:08d}.pt"
        atomic_write_bytes(self.folder / name, data)
        man = self.manifest()
        entries = [e for e in man["checkpoints"] if e.get("file") != name]
        entries.append(
            {
                "file": name,
                "step": int(step),
                "sha256": _sha256(data),
                "bytes": len(data),
                "val": val,
            }
        )
        entries.sort(key=lambda e: e["step"])
        man["checkpoints"] = entries
        man["latest"] = name
        if best:
            man["best"] = name
        # Prune: keep the newest `keep` plus the best.
        keep = {e["file"] for e in entries[-self.keep :]} | {man.get("best")}
        removed = [e for e in entries if e["file"] not in keep]
        man["checkpoints"] = [e for e in entries if e["file"] in keep]
        self._write_manifest(man)
        for e in removed:
            (self.folder / e["file"]).unlink(missing_ok=True)
        return self.folder / name

    # ------------------------------------------------------------------ loading

    def _verified(self, entry: dict[str, Any]) -> dict[str, Any] | None:
        path = self.folder / str(entry.get("file"))
        try:
            data = path.read_bytes()
        except OSError as err:
            log.warning("checkpoint %s is unreadable (%s); skipping it", path, err)
            return None
        if _sha256(data) != entry.get("sha256"):
            log.warning(
                "checkpoint %s does not match its manifest checksum (corrupted); skipping it", path
            )
            return None
        try:
            obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as err:
            log.warning("checkpoint %s cannot be loaded (%s); skipping it", path, err)
            return None
        if not isinstance(obj, dict):
            return None
        return obj

    def load(
        self, which: str = "latest", strict: bool = False
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Load the ``"latest"`` or ``"best"`` complete checkpoint, or one named by its file.

        Args:
            which: ``"latest"``, ``"best"`` or a checkpoint file name (``ckpt-00000004.pt``).
            strict: the user chose ``which``: a checkpoint file name the manifest does not
                list, or one that fails verification, is an error instead of falling back to
                another checkpoint (which would silently write predictions of the wrong one).

        Returns:
            ``(state, entry)``: the saved dict and its manifest entry.

        Raises:
            CheckpointError: no verified checkpoint exists; with ``strict``, the named one
                does not exist or is not intact (the message lists those that exist).

        """
        man = self.manifest()
        entries = sorted(man["checkpoints"], key=lambda e: e["step"], reverse=True)
        wanted = man.get(which) if which in ("latest", "best") else which
        names = [e["file"] for e in entries]
        if strict and which not in ("latest", "best") and which not in names:
            raise CheckpointError(
                f"{self.folder}: --checkpoint {which!r} does not exist; choose best, latest or "
                f"one of: {', '.join(names) or '(none: train first)'}"
            )
        if strict and wanted is not None:
            entry = next(e for e in entries if e["file"] == wanted)
            state = self._verified(entry)
            if state is None:
                raise CheckpointError(
                    f"{self.folder}: checkpoint {wanted!r} is damaged or incomplete; choose "
                    f"another of: {', '.join(n for n in names if n != wanted) or '(none)'}"
                )
            return state, entry
        if wanted is not None:
            entries.sort(key=lambda e: e["file"] != wanted)  # the named one first, stable
        for e in entries:
            state = self._verified(e)
            if state is not None:
                if e["file"] != wanted:
                    log.warning("using checkpoint %s instead of %s", e["file"], wanted)
                return state, e
        raise CheckpointError(
            f"{self.folder}: no complete, verified checkpoint "
            "(train first, or start without --resume)"
        )

    def has_checkpoint(self) -> bool:
        """True when the manifest lists at least one checkpoint."""
        return bool(self.manifest()["checkpoints"])
