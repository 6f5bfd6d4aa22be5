"""Checks run before any work: is a store location usable, is an output path writable.

Every command that reads or writes a store calls :func:`check_store_location` first, so a
``--store`` that is a file, a URL with a protocol fsspec does not know, or a store the
user cannot write is refused in one line before anything is probed, trained or scored
(not after the whole job, as it would be when the first write fails).

Writability is asked of the kernel (``access(2)`` for the effective user: permission
bits, ACLs and read-only mounts), not tried with a probe file: a probe created inside a
store could make a concurrent writer's deletion of that folder fail ("Directory not
empty"). Remote URLs (``s3://`` ...) are only checked for a known protocol: their
permissions show at the first write.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from pano.errors import ConfigError, StoreError
from pano.stores.reader import is_url, local_path


def _check_protocol(location: str, option: str) -> None:
    import fsspec
    from fsspec.registry import known_implementations

    scheme = location.split("://", 1)[0]
    try:
        fsspec.get_filesystem_class(scheme)
    except (ValueError, ImportError) as err:
        common = ("file", "memory", "s3", "gs", "az", "http", "https", "sftp")
        known = ", ".join(k for k in common if k in known_implementations)
        why = "unknown protocol" if isinstance(err, ValueError) else "protocol not installed"
        raise StoreError(
            f"{option} {location}: {why} '{scheme}://'; use a local path (e.g. pvs.zarr) or a "
            f"URL fsspec knows ({known}, ...)"
        ) from err


def _check_writable(folder: Path, what: str, option: str) -> None:
    """Refuse ``folder`` when this process may not create files in it.

    Asks the kernel (``access(2)`` with the effective user, as a write would be checked:
    permission bits, ACLs and read-only mounts) instead of creating a probe file, so a
    check never puts a file into a store another process may be deleting or listing.
    """
    kw = {"effective_ids": True} if os.access in os.supports_effective_ids else {}
    if os.access(folder, os.W_OK | os.X_OK, **kw):
        return
    why = "permission denied"
    with contextlib.suppress(OSError):
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            why = "read-only file system"
    raise StoreError(
        f"{option} {what}: cannot write in {folder} ({why}); make it writable or choose "
        "another location"
    )


def _nearest_existing(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_store_location(
    location: str | os.PathLike[str],
    *,
    write: bool,
    groups: tuple[str, ...] = (),
    option: str = "store",
) -> None:
    """Refuse a store location that cannot work, before any work starts.

    Args:
        location: the store's path or fsspec URL (it need not exist when ``write``).
        write: the command will write the store (ingest, predictions, results): a local
            store folder (or, for a new store, the nearest existing parent) must be
            writable; the lock file goes beside the store, so its parent folder is checked
            too.
        groups: sub-folders (e.g. ``("results",)``) the command writes into, checked too
            where they exist.
        option: the option named in messages.

    Raises:
        StoreError: one line naming the location and what to change: the path is a file
            (or lies under a file), the URL's protocol is unknown, or a folder is not
            writable.

    """
    text = str(location)
    if is_url(text) and not text.startswith("file://"):
        _check_protocol(text, option)
        return
    path = local_path(text) or Path(text)  # a local path here (remote URLs returned above)
    if path.exists() and not path.is_dir():
        raise StoreError(
            f"{option} {text}: is a file, not a store folder; give a folder path such as "
            f"{path.with_suffix('.zarr').name if path.suffix != '.zarr' else 'pvs.zarr'}"
        )
    base = _nearest_existing(path)
    if not base.is_dir():
        raise StoreError(
            f"{option} {text}: {base} is a file, so no store can be created under it; "
            "choose another path"
        )
    if not write:
        return
    _check_writable(base, text, option)
    if base == path.absolute():  # an existing store: also the lock's folder and the groups
        _check_writable(path.absolute().parent, text, option)
        for g in groups:
            sub = path / g
            if sub.is_dir():
                _check_writable(sub, text, option)


def check_output_folder(path: str | os.PathLike[str], option: str) -> None:
    """Refuse an output folder that is a file or lies in a folder that cannot be written.

    Raises:
        ConfigError: one line naming the option and the path.

    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{option} {p}: is a file, not a folder; give a folder path")
    base = _nearest_existing(p)
    if not base.is_dir():
        raise ConfigError(f"{option} {p}: {base} is a file, so no folder can be made there")
    try:
        _check_writable(base, str(p), option)
    except StoreError as err:
        raise ConfigError(str(err)) from err


def check_output_file(path: str | os.PathLike[str], option: str) -> None:
    """Refuse an output file path that is a folder or whose folder cannot be written.

    Raises:
        ConfigError: one line naming the option and the path.

    """
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{option} {p}: is a folder; give a file name")
    base = _nearest_existing(p.parent)
    if not base.is_dir():
        raise ConfigError(f"{option} {p}: {base} is a file, so no file can be made under it")
    try:
        _check_writable(base, str(p), option)
    except StoreError as err:
        raise ConfigError(str(err)) from err
