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
    "fan-nossdav17": DataFormat(
        "fan-nossdav17", "pano.stores.fan_nossdav17", "read_fan_nossdav17",
        "Fan NOSSDAV'17 sensory/orientation/<video>_userNN_orientation.csv (30 fps yaw/pitch)",
    ),
    "nguyen-mm18": DataFormat(
        "nguyen-mm18", "pano.stores.nguyen_mm18", "read_nguyen_mm18",
        "Nguyen MM'18 (PanoSalNet) pickle of head unit vectors (restricted unpickler)",
    ),
    "wu-mmsys17": DataFormat(
        "wu-mmsys17", "pano.stores.wu_mmsys17", "read_wu_mmsys17",
        "Wu MMSys'17 Experiment_<e>/<user>/video_<n>.csv Unity quaternions",
    ),
    "avtrack360": DataFormat(
        "avtrack360", "pano.stores.avtrack360", "read_avtrack360",
        "AVTrack360 Head_rotation/<subject>.json pitch/yaw/roll (~10 Hz, degrees)",
    ),
    "traces": DataFormat(
        "traces", "pano.stores.lab_traces", "read_traces",
        "A lab's own CSV/TSV head (and eye) recordings described by options.spec=SPEC.yaml",
    ),
    "pvs-hm-txt": DataFormat(
        "pvs-hm-txt", "pano.stores.pvs_hm_txt", "read_pvs_hm_txt",
        "PVS-HM raw per-user txt traces (<user>/<video>.txt, ~60 Hz intervals, trailer line)",
    ),
    "salient360": DataFormat(
        "salient360", "pano.stores.salient360", "read_salient360",
        "Salient360! scanpaths (H head, HE gaze fixations; videos and images) and .bin maps",
    ),
    "xu-cvpr18": DataFormat(
        "xu-cvpr18", "pano.stores.xu_cvpr18", "read_xu_cvpr18",
        "VR-EyeTracking (Xu CVPR'18): head and gaze per frame, bottom-left fractions",
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
