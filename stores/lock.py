"""One writer at a time: the store's write lock.

Every pano command that writes a store (``pano ingest``, ``pano train-hm --predict``,
``pano predict-hm``) holds the store's lock while it writes; a second writer is refused
with one line naming the holder; readers that must not see a half-written store
(``pano eval``, ``pano train-hm``) call :func:`assert_no_writer` first.

Where the lock is, by kind of location (``docs/store.md``, "One writer at a time"):

* **Local paths and ``file://`` URLs**: a file *beside* the store, ``<store>.pano-lock``
  (so ``ingest --overwrite``, which deletes the store folder, cannot delete it). It holds
  JSON: the owner (user), host, pid, the process's start time (``/proc/<pid>/stat``, in
  clock ticks since boot, with the boot id), the command, and since when it is held. It
  is written to a temporary file created with ``O_EXCL`` and then hard-linked to the lock
  name: ``link`` fails when the name exists, so of two processes exactly one gets the
  lock, and a lock file is never seen half-written (where a file system has no hard
  links, the lock file itself is created with ``O_EXCL``).
* **Stale locks**: a lock whose process is gone - same host, and the pid is not running,
  is a zombie, or runs but started at another time (pid reused), or the machine rebooted -
  is taken over, with a warning in the log. Take-overs are serialised by a second
  exclusive file (``<lock>.takeover``), so two processes cannot both remove the same
  stale lock. A lock held on *another host* cannot be checked from here: it is refused,
  and the message says which file to delete if that process is gone.
* **``memory://`` stores** exist only inside this process: the lock is an in-process one
  (a second writer thread is refused).
* **Other fsspec URLs** (``s3://``, ``gs://``, ...): a best-effort, *advisory* lock object
  ``<store>.pano-lock`` beside the store, written and read back with the fsspec file
  system. Object stores have no exclusive create, so two writers starting within the
  same instant can both pass; it protects against the common case (a second command
  started while the first runs), not against a race.

The lock is re-entrant within one thread of a process (a pipeline holding it may call
another that takes it). A process killed outright leaves its lock file; the next writer
takes it over (same host) as above.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import getpass
import json
import logging
import os
import posixpath
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pano.errors import StoreLockedError

log = logging.getLogger("pano.stores.lock")

#: Suffix of the lock file/object next to a store (``pvs.zarr`` -> ``pvs.zarr.pano-lock``).
LOCK_SUFFIX = ".pano-lock"
#: Suffix of the short-lived file that serialises take-overs of a stale lock.
TAKEOVER_SUFFIX = ".takeover"
#: A take-over guard older than this (seconds) was left by a killed process: removed.
TAKEOVER_STALE_S = 30.0
#: An unreadable lock file younger than this (seconds) may be one being written.
UNREADABLE_GRACE_S = 10.0

State = Literal["live", "stale", "unknown"]


@dataclass(frozen=True)
class LockInfo:
    """Who holds a store's write lock (the lock file's JSON)."""

    command: str
    owner: str
    host: str
    pid: int
    since: str  # ISO 8601 UTC time the lock was taken
    token: str  # unique per acquisition
    proc_start: int | None = None  # process start, clock ticks since boot (/proc/<pid>/stat)
    boot_id: str | None = None  # /proc/sys/kernel/random/boot_id
    argv: str = ""

    def describe(self) -> str:
        """``'pano ingest pvs-hm' (pid 12 on host h, user u, since 2026-...)`` for messages."""
        if not self.token:
            return "another pano process (its lock file is being written)"
        return (
            f"{self.command!r} (pid {self.pid} on host {self.host}, user {self.owner}, "
            f"since {self.since})"
        )

    def to_json(self) -> bytes:
        """The lock file's content."""
        return (json.dumps(asdict(self), indent=1) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes) -> LockInfo | None:
        """Parse a lock file's content; None when it is not a complete lock record."""
        try:
            raw = json.loads(data.decode())
            return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


# ---------------------------------------------------------------------------
# This process
# ---------------------------------------------------------------------------


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """``(state, start ticks)`` of a process from ``/proc/<pid>/stat``, or None (no /proc)."""
    text = _read_text(f"/proc/{pid}/stat")
    if text is None:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def _boot_id() -> str | None:
    text = _read_text("/proc/sys/kernel/random/boot_id")
    return text.strip() if text else None


def _owner() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _argv() -> str:
    args = list(sys.argv)
    if args and Path(args[0]).name == "__main__.py":
        args[0] = "pano"
    elif args:
        args[0] = Path(args[0]).name
    return " ".join(args)[:500]


def _new_info(command: str | None) -> LockInfo:
    stat = _proc_stat(os.getpid())
    argv = _argv()
    return LockInfo(
        command=(command or argv or "python")[:200],
        owner=_owner(),
        host=socket.gethostname(),
        pid=os.getpid(),
        since=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        token=uuid.uuid4().hex,
        proc_start=None if stat is None else stat[1],
        boot_id=_boot_id(),
        argv=argv,
    )


def lock_state(info: LockInfo) -> State:
    """Whether the process holding a lock still runs: ``live``, ``stale`` or ``unknown``.

    ``unknown``: the lock was taken on another host, or this system cannot tell (Windows,
    where ``os.kill(pid, 0)`` would signal the process).
    """
    if info.host != socket.gethostname() or os.name == "nt":
        return "unknown"
    boot = _boot_id()
    if info.boot_id and boot and info.boot_id != boot:
        return "stale"  # taken before the machine rebooted
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        return "stale"
    except PermissionError:
        pass  # runs, as another user
    except OSError:
        return "unknown"
    stat = _proc_stat(info.pid)
    if stat is not None:
        state, start = stat
        if state in ("Z", "X"):
            return "stale"  # killed, not yet reaped
        if info.proc_start is not None and start != info.proc_start:
            return "stale"  # the pid now belongs to another process
    return "live"


# ---------------------------------------------------------------------------
# Locks held by this process (re-entrancy, memory:// stores)
# ---------------------------------------------------------------------------


@dataclass
class _Held:
    info: LockInfo
    thread: int
    count: int = 1
    created: list[Path] = field(default_factory=list)  # folders made for a local lock file
    fs: Any = None  # fsspec file system of an fsspec lock
    fs_path: str = ""


_HELD: dict[str, _Held] = {}
_HELD_GUARD = threading.Lock()


def _held_here(key: str) -> _Held | None:
    held = _HELD.get(key)
    if held is not None and held.info.pid != os.getpid():  # inherited through fork
        return None
    return held


# ---------------------------------------------------------------------------
# Where the lock is
# ---------------------------------------------------------------------------


def _kind(location: str | os.PathLike[str]) -> tuple[Literal["local", "memory", "fsspec"], str]:
    """The kind of lock and its key: a local lock file path, a memory URL or a lock URL."""
    text = os.fspath(location)
    if text.startswith("file://"):
        text = text[len("file://") :]
    elif text.startswith("memory://"):
        return "memory", text.rstrip("/")
    elif "://" in text:
        scheme, _, rest = text.partition("://")
        parent, name = posixpath.split(rest.rstrip("/"))
        if not name or not parent:  # a bucket's root: the lock goes inside
            return "fsspec", f"{scheme}://{rest.rstrip('/')}/{LOCK_SUFFIX}"
        return "fsspec", f"{scheme}://{parent}/{name}{LOCK_SUFFIX}"
    path = Path(text).expanduser().resolve()
    if not path.name:
        return "local", str(path / LOCK_SUFFIX)
    return "local", str(path.with_name(path.name + LOCK_SUFFIX))


def lock_path(location: str | os.PathLike[str]) -> str:
    """Where the write lock of a store is (a local path or a URL; ``memory://`` has none)."""
    return _kind(location)[1]


# ---------------------------------------------------------------------------
# Local lock files
# ---------------------------------------------------------------------------


def _write_new(path: str, data: bytes) -> None:
    """Create ``path`` holding ``data``, failing with FileExistsError if it exists."""
    tmp = f"{path}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # atomic; EEXIST when held
            return
        except FileExistsError:
            raise
        except OSError:
            pass  # no hard links here: fall back to O_EXCL on the lock name
        fd2 = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        with os.fdopen(fd2, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _read_local(path: str) -> tuple[bytes, float] | None:
    """Raw content and age (s) of a lock file, or None when there is none."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        age = time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        return None
    return data, age


def _local_state(data: bytes, age: float) -> tuple[LockInfo | None, State]:
    """The holder of a lock file and its state (callers know this process does not hold it)."""
    info = LockInfo.from_json(data)
    if info is None:  # being written (O_EXCL fallback), or left half-written by a kill
        return None, ("live" if age < UNREADABLE_GRACE_S else "stale")
    if info.pid == os.getpid() and info.host == socket.gethostname():
        stat = _proc_stat(os.getpid())
        if stat is None or info.proc_start in (None, stat[1]):
            return info, "stale"  # this very process, but not held: a leaked lock
    return info, lock_state(info)


def _take_over(path: str, seen: bytes) -> bool:
    """Remove the stale lock ``path`` if it still holds ``seen``; True when removed."""
    guard = path + TAKEOVER_SUFFIX
    try:
        fd = os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        with contextlib.suppress(OSError):
            if time.time() - os.stat(guard).st_mtime > TAKEOVER_STALE_S:
                os.unlink(guard)  # left by a process killed while taking over
        return False
    try:
        now = _read_local(path)
        if now is None or now[0] != seen:
            return False  # released or taken over meanwhile: try again
        os.unlink(path)
        return True
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(guard)


def _refusal(location: Any, info: LockInfo | None, path: str, state: State) -> StoreLockedError:
    who = "another pano process" if info is None else info.describe()
    if state == "unknown":
        todo = (
            f"wait for it to finish; if that process is gone, delete {path} (pano cannot check "
            "a process on another host)"
        )
    else:
        todo = "wait for it to finish (or stop it), then run this again"
    return StoreLockedError(f"{location}: the store is being written by {who}; {todo}")


def _acquire_local(location: Any, path: str, info: LockInfo) -> list[Path]:
    """Take the lock file ``path``; returns the folders created for it (removed on release)."""
    created = []
    parent = Path(path).parent
    for d in [*reversed(parent.parents), parent]:
        if not d.exists():
            with contextlib.suppress(FileExistsError):
                d.mkdir()
                created.append(d)
    for _ in range(200):
        try:
            _write_new(path, info.to_json())
            return created
        except FileExistsError:
            pass
        seen = _read_local(path)
        if seen is None:
            continue  # released meanwhile
        holder, state = _local_state(*seen)
        if state != "stale":
            _remove_empty(created)
            raise _refusal(location, holder, path, state)
        if _take_over(path, seen[0]):
            log.warning(
                "%s: took over the stale write lock of %s (that process is not running)",
                location,
                "an unreadable lock file" if holder is None else holder.describe(),
            )
        else:
            time.sleep(0.01)
    _remove_empty(created)
    raise StoreLockedError(f"{location}: could not take the write lock {path} (contention)")


def _remove_empty(folders: list[Path]) -> None:
    for d in reversed(folders):
        with contextlib.suppress(OSError):
            d.rmdir()


def _release_local(location: Any, path: str, info: LockInfo, created: list[Path]) -> None:
    seen = _read_local(path)
    mine = seen is not None and LockInfo.from_json(seen[0]) == info
    if mine:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    else:
        log.warning(
            "%s: the write lock %s is no longer ours (taken over?): left as is", location, path
        )
    _remove_empty(created)


# ---------------------------------------------------------------------------
# fsspec URLs (advisory)
# ---------------------------------------------------------------------------


def _acquire_fsspec(location: Any, fs: Any, path: str, url: str, info: LockInfo) -> None:
    """Best-effort lock object at ``path`` on ``fs`` (see the module docstring)."""
    if fs.exists(path):
        data = fs.cat_file(path)
        holder = LockInfo.from_json(data)
        state: State = "stale" if holder is None else lock_state(holder)
        if state != "stale":
            raise _refusal(location, holder, url, state)
        fs.rm(path)
        log.warning("%s: removed the stale write lock %s", location, url)
    fs.pipe_file(path, info.to_json())
    back = LockInfo.from_json(fs.cat_file(path))
    if back != info:  # another writer wrote its lock at the same time
        raise _refusal(location, back, url, "live" if back is None else lock_state(back))


def _release_fsspec(fs: Any, path: str, info: LockInfo) -> None:
    with contextlib.suppress(FileNotFoundError):
        if LockInfo.from_json(fs.cat_file(path)) == info:
            fs.rm(path)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def store_write_lock(
    location: str | os.PathLike[str], command: str | None = None
) -> Iterator[LockInfo]:
    """Hold a store's write lock for the ``with`` block (see the module docstring).

    Args:
        location: the store's path or URL (it need not exist yet).
        command: what writes, for the message a second writer gets (e.g.
            ``"pano ingest pvs-hm"``); default: this process's command line.

    Yields:
        The lock's :class:`LockInfo` (of the outermost holder when re-entered).

    Raises:
        StoreLockedError: another live process (or another thread of this one) holds it.

    """
    kind, key = _kind(location)
    with _HELD_GUARD:  # held while acquiring: other threads see the lock as ours only once taken
        held = _held_here(key)
        if held is not None:
            if held.thread != threading.get_ident():
                raise StoreLockedError(
                    f"{location}: the store is being written by another thread of this process "
                    f"({held.info.describe()}); wait for it to finish"
                )
            held.count += 1
        else:
            held = _Held(_new_info(command), threading.get_ident())
            if kind == "local":
                held.created = _acquire_local(location, key, held.info)
            elif kind == "fsspec":
                import fsspec

                held.fs, held.fs_path = fsspec.core.url_to_fs(key)
                _acquire_fsspec(location, held.fs, held.fs_path, key, held.info)
            _HELD[key] = held
    try:
        yield held.info
    finally:
        with _HELD_GUARD:
            held.count -= 1
            if held.count == 0:
                _HELD.pop(key, None)
                if kind == "local":
                    _release_local(location, key, held.info, held.created)
                elif kind == "fsspec":
                    _release_fsspec(held.fs, held.fs_path, held.info)


def current_writer(location: Any) -> LockInfo | None:
    """The live holder of a store's write lock other than this process, or None.

    A stale lock (its process is gone) counts as none; a lock taken on another host is
    returned (it cannot be checked from here). An open Zarr group gives None.
    """
    if not isinstance(location, str | os.PathLike):
        return None
    kind, key = _kind(location)
    held = _held_here(key)
    if held is not None:
        return None if kind != "memory" or held.thread == threading.get_ident() else held.info
    if kind == "memory":
        return None
    if kind == "local":
        seen = _read_local(key)
        if seen is None:
            return None
        info, state = _local_state(*seen)
        if state == "stale":
            return None
        return info or LockInfo("", "?", "?", 0, "?", "")  # unreadable: being written
    import fsspec

    fs, path = fsspec.core.url_to_fs(key)
    if not fs.exists(path):
        return None
    info = LockInfo.from_json(fs.cat_file(path))
    return None if info is None or lock_state(info) == "stale" else info


def assert_no_writer(location: Any, action: str = "run this") -> None:
    """Refuse to read a store while another process writes it.

    Call it before reading anything that must be consistent (eval, training); the
    process holding the lock itself passes.

    Args:
        location: the store's path or URL (an open Zarr group passes unchecked).
        action: what to do afterwards, for the message (default ``"run this"``).

    Raises:
        StoreLockedError: one line naming the writer.

    """
    info = current_writer(location)
    if info is not None:
        raise StoreLockedError(
            f"{location}: the store is being written by {info.describe()}; {action} after it "
            "has finished (reading it now could mix old and new data)"
        )
