"""The raw data-set formats ``pano ingest <format>`` reads: one table, one entry per reader.

Each entry names the module and function of a reader (``stores/<dataset>.py``) that turns a
downloaded copy of the data set into a :class:`pano.stores.traces.TraceSet`:
``read(source: Path, **options) -> TraceSet``. Readers are imported only when used, so
listing the formats costs nothing. A new data set adds one line to :data:`FORMATS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from pano.errors import UnknownNameError
from pano.stores.traces import TraceSet


@dataclass(frozen=True)
class DataFormat:
    """One raw format: its ``pano ingest`` name, where its reader lives, and a summary line."""

    name: str
    module: str  # e.g. "pano.stores.salient360"
    function: str  # e.g. "read_salient360"
    summary: str

    def reader(self) -> Callable[..., TraceSet]:
        """The reader function (imported on first use)."""
        mod = importlib.import_module(self.module)
        return cast(Callable[..., TraceSet], getattr(mod, self.function))

    def read(self, source: Any, **options: Any) -> TraceSet:
        """Read a downloaded copy of the data set at ``source``."""
        return self.reader()(source, **options)


#: Every format pano reads besides PVS-HM's ``.mat`` (``pano ingest pvs-hm``), by name.
FORMATS: dict[str, DataFormat] = {
    "track": DataFormat(
        "track", "pano.stores.track", "read_track",
        "TRACK's common format: <root>/<video>/<user> CSV rows t, x, y, z (0.2 s).",
    ),
}  # fmt: skip


def get_format(name: str) -> DataFormat:
    """The format called ``name``.

    Raises:
        UnknownNameError: no such format (the message lists those that exist).

    """
    try:
        return FORMATS[name]
    except KeyError:
        known = ", ".join(["pvs-hm", *sorted(FORMATS)])
        msg = f"unknown data-set format {name!r}; known formats: {known}"
        raise UnknownNameError(msg) from None
