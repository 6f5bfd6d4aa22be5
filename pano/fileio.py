"""Writing files so that nothing half-written or guessable is ever seen.

:func:`atomic_write_bytes` writes to a temporary file created *exclusively* with an
unpredictable name in the target's folder (:func:`tempfile.mkstemp`: ``O_EXCL``, random
suffix, so another user cannot pre-create or link it), fsyncs it, renames it over the
target (``os.replace``, atomic on POSIX) and fsyncs the folder. A process killed at any
point leaves the old file or the new one, plus at most a stray ``.<name>.*.tmp``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    """The process's umask, read without changing it (``/proc``; else the usual 022)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename inside it) to disk, where the platform can."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (exclusive temporary file + fsync + rename).

    The temporary file is ``<folder>/.<name>.<random>.tmp``; it gets the permissions a
    plain ``open(path, "wb")`` would (``0o666`` less the umask), not mkstemp's ``0o600``.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with contextlib.suppress(OSError):  # e.g. file systems without modes
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


__all__ = ["atomic_write_bytes", "fsync_dir"]
