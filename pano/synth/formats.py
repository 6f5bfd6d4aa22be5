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
    "fan-nossdav17": SynthFormat(
        "fan-nossdav17", "pano.synth.fan_nossdav17", "write_fan_nossdav17",
        "Fan NOSSDAV'17 orientation CSVs (30 fps; users 01-20 with flipped pitch)",
    ),
    "nguyen-mm18": SynthFormat(
        "nguyen-mm18", "pano.synth.nguyen_mm18", "write_nguyen_mm18",
        "Nguyen MM'18 pickle (protocol 2, NumPy head vectors in PanoSalNet's axes)",
    ),
    "wu-mmsys17": SynthFormat(
        "wu-mmsys17", "pano.synth.wu_mmsys17", "write_wu_mmsys17",
        "Wu MMSys'17 per-user/video CSVs of Unity quaternions",
    ),
    "avtrack360": SynthFormat(
        "avtrack360", "pano.synth.avtrack360", "write_avtrack360",
        "AVTrack360 per-subject JSON (10 Hz, whole degrees)",
    ),
    "traces": SynthFormat(
        "traces", "pano.synth.lab_traces", "write_lab_traces",
        "A generic lab CSV (head Euler angles + eye-in-head vectors) and its spec.yaml",
    ),
    "pvs-hm-txt": SynthFormat(
        "pvs-hm-txt", "pano.synth.pvs_hm_txt", "write_pvs_hm_txt",
        "PVS-HM raw txt traces, <subject>/<video>.txt (CRLF, trailer line)",
    ),
    "salient360": SynthFormat(
        "salient360", "pano.synth.salient360", "write_salient360",
        "Salient360! H/HE scanpaths (<video>_fixations.csv) and float32 .bin maps",
    ),
    "xu-cvpr18": SynthFormat(
        "xu-cvpr18", "pano.synth.xu_cvpr18", "write_xu_cvpr18",
        "VR-EyeTracking Gaze_txt_files/<subject>/<video>.txt and fps.csv",
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
