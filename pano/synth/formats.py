"""Synthetic files in each data set's raw format, written from one :class:`SimDataset`.

``pano synth --format <name>`` looks its writer up here. A writer is
``write(data: SimDataset, out: Path) -> list[Path]`` (the files it wrote) and lives in
``pano/synth/<format>.py``; it converts pano's canonical unit vectors to the format's own
conventions, so the same simulated motion can be ingested from every format and compared.
A new format adds one line to :data:`SYNTH_FORMATS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from pano.errors import UnknownNameError
from pano.synth.recordings import SimDataset


@dataclass(frozen=True)
class SynthFormat:
    """One synthetic format: its name, where its writer lives, and a summary line."""

    name: str
    module: str  # e.g. "pano.synth.salient360"
    function: str  # e.g. "write_salient360"
    summary: str

    def write(self, data: SimDataset, out: Path) -> list[Path]:
        """Write ``data`` under ``out`` in this format; returns the files written."""
        mod = importlib.import_module(self.module)
        fn = cast(Callable[[SimDataset, Path], list[Path]], getattr(mod, self.function))
        return fn(data, out)


#: Writers of raw formats other than PVS-HM's ``.mat`` + mp4 (``pano synth``'s default), by name.
SYNTH_FORMATS: dict[str, SynthFormat] = {
    "track": SynthFormat(
        "track", "pano.synth.track", "write_track",
        "TRACK's common format: <out>/<video>/<user> CSV rows t, x, y, z at 0.2 s.",
    ),
}  # fmt: skip


def get_synth_format(name: str) -> SynthFormat:
    """The synthetic format called ``name``.

    Raises:
        UnknownNameError: no such format (the message lists those that exist).

    """
    try:
        return SYNTH_FORMATS[name]
    except KeyError:
        known = ", ".join(["pvs-hm", *sorted(SYNTH_FORMATS)])
        msg = f"unknown synthetic format {name!r}; known formats: {known}"
        raise UnknownNameError(msg) from None
