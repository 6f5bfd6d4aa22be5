"""Store generations: what lets a reader tell that the store changed under it.

A store's root attributes hold ``pano_generation = {"counter": n, "uuid": "<hex>"}``.
Every writer of data that readers consume bumps it (a new UUID, the counter plus one)
while it holds the store's write lock (:mod:`pano.stores.lock`) and **before** it
changes anything:

* ``pano ingest`` - when it is about to write or repair video groups
  (:func:`pano.pipelines.ingest`'s store preparation), and ``--overwrite`` when it
  starts deleting (:func:`pano.stores.writer.remove_store`) and again in the new
  store's first ``zarr.json`` (:func:`pano.stores.writer.create_root`: the counter
  carries on, the UUID is new);
* prediction writers (``pano predict-hm``, ``pano train-hm --predict``) when they create
  a prediction run (:func:`pano.stores.predictions.create_prediction_run`).

Results groups (``pano eval``) do not bump it: no reader takes its input from them, and
two evaluations of the same store must not fail each other.

A reader that must see one snapshot (``pano eval``, ``pano train-hm``) reads the
generation when it starts (:func:`read_generation`) and, before it marks anything
complete, checks it again under the write lock (:func:`check_unchanged`): any writer that
ran meanwhile has bumped it (it takes the lock, then bumps, then writes), and one that
still runs holds the lock. A store written by an older pano has no generation: it reads
as counter 0 with an empty UUID until its first writer bumps it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pano.errors import StoreChangedError
from pano.stores.reader import StoreLike, describe, open_root

#: Root attribute holding the generation.
GENERATION_ATTR = "pano_generation"


@dataclass(frozen=True)
class Generation:
    """One state of a store: a counter (for people) and a UUID (unique per bump)."""

    counter: int
    uuid: str

    def to_attrs(self) -> dict[str, Any]:
        """The root attribute's value."""
        return {"counter": self.counter, "uuid": self.uuid}

    @classmethod
    def from_attrs(cls, value: Any) -> Generation:
        """Parse the root attribute (absent or malformed: generation 0, empty UUID)."""
        if isinstance(value, dict):
            try:
                return cls(int(value["counter"]), str(value["uuid"]))
            except (KeyError, TypeError, ValueError):
                pass
        return cls(0, "")

    def next(self) -> Generation:
        """The generation a writer moves the store to."""
        return Generation(self.counter + 1, uuid.uuid4().hex)

    def describe(self) -> str:
        """``'generation 3 (ab12cd34)'`` for messages."""
        return f"generation {self.counter} ({self.uuid[:8] or 'none'})"


def read_generation(location: StoreLike) -> Generation:
    """The store's current generation (generation 0 for a store without one)."""
    return Generation.from_attrs(open_root(location).attrs.get(GENERATION_ATTR))


def bump_generation(location: StoreLike) -> Generation:
    """Move the store to a new generation; call it holding the write lock, before writing.

    Returns:
        The new generation.

    """
    root = open_root(location, mode="a")
    new = Generation.from_attrs(root.attrs.get(GENERATION_ATTR)).next()
    root.attrs.update({GENERATION_ATTR: new.to_attrs()})
    return new


def check_unchanged(location: StoreLike, seen: Generation, what: str) -> None:
    """Refuse to go on when the store is not at generation ``seen`` or is being written.

    Call it holding the write lock (then no writer can start meanwhile), or accept that
    a writer may start right after the check (the caller then only warns).

    Args:
        location: store path/URL (or open root group).
        seen: the generation read when the reader started.
        what: what is refused, for the message (e.g. ``"results/r1 were not written"``).

    Raises:
        StoreChangedError: one line naming both generations or the writer.

    """
    from pano.stores.lock import current_writer

    writer = current_writer(location)
    if writer is not None:
        raise StoreChangedError(
            f"{describe(location)}: the store is being written by {writer.describe()} "
            f"since this started; {what}. Run this again after it has finished"
        )
    try:
        now = read_generation(location)
    except Exception as err:  # gone or unreadable: it changed
        raise StoreChangedError(
            f"{describe(location)}: the store changed while this ran (it cannot be read now: "
            f"{' '.join(str(err).split())}); {what}. Run this again"
        ) from err
    if now != seen:
        raise StoreChangedError(
            f"{describe(location)}: the store changed while this ran (it was at "
            f"{seen.describe()}, now {now.describe()}); {what}. Run this again"
        )


__all__ = [
    "GENERATION_ATTR",
    "Generation",
    "bump_generation",
    "check_unchanged",
    "read_generation",
]
