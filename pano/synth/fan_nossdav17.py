"""Simulated recordings written as Fan et al.'s NOSSDAV'17 orientation files.

``<out>/sensory/orientation/<video>_userNN_orientation.csv``, one file per subject and
video, one row per video frame at 30 fps (the simulation is resampled by slerp to the
frame times ``(frame - 1) / 30`` s), header
``no. frames, raw x, raw y, raw z, raw yaw, raw pitch, raw roll, cal. yaw, cal. pitch, cal. roll``,
fields separated by ``", "``, frame numbers ``%05d`` from 1.

Angles are written in the data set's own convention (degrees): ``yaw = -lon`` (positive to
the viewer's right) and ``pitch = -lat`` (positive down, users 21-50) - and, like the real
data, users 01-20 with the pitch FLIPPED (``pitch = +lat``), so a reader must repair them.
Subject ``k`` (in the order of :meth:`SimDataset.of`) becomes ``user{k+1:02d}``. The raw
columns hold the same angles (no calibration offset), positions are 0, roll is 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pano.errors import ParameterError
from pano.geometry import resample_directions, vec_to_lonlat
from pano.synth.recordings import SimDataset

FPS = 30.0
HEADER = (
    "no. frames, raw x, raw y, raw z, raw yaw, raw pitch, raw roll, cal. yaw, cal. pitch, cal. roll"
)
#: Users whose pitch the real data set stores flipped (written flipped here too).
FLIPPED_USERS = range(1, 21)


def write_fan_nossdav17(data: SimDataset, out: Path) -> list[Path]:
    """Write ``data`` as Fan NOSSDAV'17 orientation files under ``out``; returns the files.

    Raises:
        ParameterError: more than 50 subjects (the format numbers users 01-50).

    """
    out = Path(out)
    folder = out / "sensory" / "orientation"
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for video in data.videos:
        recs = data.of(video.name)
        if len(recs) > 50:
            raise ParameterError(f"fan-nossdav17 numbers users 01-50 (got {len(recs)} subjects)")
        for k, rec in enumerate(recs):
            n_frames = int(np.floor(rec.t[-1] * FPS + 1e-9)) + 1
            tf = np.arange(n_frames) / FPS
            head = resample_directions(rec.t, rec.head, tf)
            lon, lat = vec_to_lonlat(head)
            user = k + 1
            yaw = -lon
            pitch = lat if user in FLIPPED_USERS else -lat
            path = folder / f"{video.name}_user{user:02d}_orientation.csv"
            lines = [HEADER]
            for f in range(n_frames):
                y, p = float(yaw[f]), float(pitch[f])
                lines.append(
                    f"{f + 1:05d}, 0.0, 0.0, 0.0, {y:.6f}, {p:.6f}, 0.0, {y:.6f}, {p:.6f}, 0.0"
                )
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            written.append(path)
    return written
