"""Evaluation results in a store: ``results/<run>`` - writing, opening, staleness.

A results group is one :class:`xarray.Dataset` of per-step scores written by ``pano eval``
(layout: ``docs/eval.md``), from one process, as whole arrays, ``pano_complete`` set last.
Its ``scored_predictions`` attribute records, per prediction run it scored, the run's
identity at scoring time (:func:`pano.stores.predictions.prediction_identity`: checkpoint,
written-at time, content hashes); :func:`stale_reasons` compares that record with the
run's current identity, so ``pano info`` can flag results that no longer describe the
predictions in the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pano.errors import StoreError, StoreExistsError
from pano.stores.predictions import prediction_identity, prediction_path
from pano.stores.reader import (
    StoreLike,
    child_groups,
    describe,
    is_complete,
    open_root,
    zarr_store,
)
from pano.stores.schema import ARRAYS_ATTR, COMPLETE_ATTR, RESULTS_GROUP, SCORED_PREDICTIONS_ATTR

if TYPE_CHECKING:
    import xarray as xr
    import zarr


def results_path(run: str) -> str:
    """``results/<run>``."""
    return f"{RESULTS_GROUP}/{run}"


def _results_groups(root: zarr.Group) -> dict[str, zarr.Group]:
    groups = child_groups(root)
    return child_groups(groups[RESULTS_GROUP]) if RESULTS_GROUP in groups else {}


def list_results(location: StoreLike, complete: bool | None = True) -> list[str]:
    """Sorted names of the results groups of a store.

    Args:
        location: store path/URL or open root group.
        complete: True lists complete groups, False incomplete ones, None all.

    """
    groups = _results_groups(open_root(location))
    return sorted(
        k for k, g in groups.items() if complete is None or is_complete(g.attrs) == complete
    )


def check_results_writable(location: StoreLike, run: str, overwrite: bool) -> None:
    """Refuse to replace a complete ``results/<run>`` unless ``overwrite``.

    An incomplete group (a killed ``pano eval``) holds no scores and is replaced freely.

    Raises:
        StoreExistsError: the group exists, is complete, and ``overwrite`` is False.

    """
    if overwrite or run not in list_results(location, complete=True):
        return
    raise StoreExistsError(
        f"{describe(location)}: {results_path(run)} already exists; pass --overwrite to "
        "replace it or choose another --run name"
    )


def write_results(location: StoreLike, run: str, ds: xr.Dataset, overwrite: bool = False) -> str:
    """Write ``ds`` as ``results/<run>`` (whole arrays: chunks aligned), complete flag last.

    Numeric variables use pano's lossless codec. Call it from one process only.

    Returns:
        The group path, ``"results/<run>"``.

    Raises:
        StoreExistsError: a complete group of that name exists and ``overwrite`` is False.

    """
    from pano.stores.writer import compressor, delete_group

    check_results_writable(location, run, overwrite)
    root = open_root(location, mode="a")
    group = results_path(run)
    delete_group(root, group)  # an old group is marked incomplete before it is deleted
    enc = {
        str(name): {"compressors": compressor()}
        for name, v in ds.data_vars.items()
        if v.dtype.kind in "fiu"
    }
    out = ds.copy(deep=False)
    arrays = sorted(str(k) for k in out.variables)  # all must be present (schema.ARRAYS_ATTR)
    out.attrs = {**ds.attrs, ARRAYS_ATTR: arrays, COMPLETE_ATTR: False}
    out.to_zarr(
        root.store,
        group=group,
        mode="w",
        zarr_format=3,
        consolidated=False,
        encoding=enc,
        write_empty_chunks=True,  # an all-NaN score (one person's spread) is stored, not absent
    )
    root[group].attrs[COMPLETE_ATTR] = True
    return group


def open_results(location: str, run: str) -> xr.Dataset:
    """Open ``results/<run>`` of a store as an :class:`xarray.Dataset` (lazy).

    Raises:
        StoreError: no such complete results group.

    """
    import xarray as xr

    root = open_root(location)
    runs = sorted(_results_groups(root))
    if run not in runs or not is_complete(_results_groups(root)[run].attrs):
        raise StoreError(
            f"{location}: no complete {results_path(run)}; "
            f"results in the store: {', '.join(runs) or 'none'}"
        )
    return xr.open_dataset(
        zarr_store(location),  # type: ignore[arg-type]  # xarray accepts zarr Store objects
        group=results_path(run),
        engine="zarr",
        consolidated=False,
        zarr_format=3,
    )


def stale_reasons(location: StoreLike, run: str) -> list[str]:
    """Why ``results/<run>`` no longer describes the predictions in the store ([]: current).

    A scored prediction run is *stale* when it is gone, when a scored video's group is
    gone, incomplete or holds other content (its content hash differs), or when it now
    comes from another checkpoint. A run rewritten with identical content (another
    written-at time only) is current: the scores still describe it.

    Raises:
        StoreError: no such results group.

    """
    root = open_root(location)
    groups = _results_groups(root)
    if run not in groups:
        raise StoreError(f"{describe(location)}: no {results_path(run)}")
    attrs = groups[run].attrs.asdict()
    listed = attrs.get("predictions")
    scored = [str(r) for r in listed] if isinstance(listed, list) else []
    record: Any = attrs.get(SCORED_PREDICTIONS_ATTR)
    if not scored:
        return []
    if not isinstance(record, dict):
        return [
            "records no identity of the predictions it scored (written by an older pano); "
            "re-run pano eval"
        ]
    from pano.stores.predictions import prediction_runs

    runs = set(prediction_runs(root))
    reasons = []
    for r in scored:
        rec = record.get(r)
        where = prediction_path(r)
        if r not in runs:
            reasons.append(f"{where} no longer exists")
            continue
        if not isinstance(rec, dict) or not isinstance(rec.get("videos"), dict):
            reasons.append(f"no record of {where}")
            continue
        now = prediction_identity(root, r, list(rec["videos"]))
        if now["checkpoint"] != rec.get("checkpoint"):
            reasons.append(
                f"{where} is now from checkpoint {now['checkpoint']!r} "
                f"(scored: {rec.get('checkpoint')!r}, written {rec.get('created')})"
            )
            continue
        gone = [v for v, h in now["videos"].items() if h is None]
        changed = [v for v, h in now["videos"].items() if h is not None and h != rec["videos"][v]]
        if gone:
            reasons.append(f"{where} lost video(s) {', '.join(gone)}")
        if now["incomplete"]:
            reasons.append(
                f"{where} is being rewritten ({', '.join(now['incomplete'])} incomplete)"
            )
        elif changed:
            reasons.append(
                f"{where} was rewritten with other content ({', '.join(changed)}; "
                f"scored: written {rec.get('created')}, now: written {now['created']})"
            )
    return reasons


__all__ = [
    "check_results_writable",
    "list_results",
    "open_results",
    "results_path",
    "stale_reasons",
    "write_results",
]
