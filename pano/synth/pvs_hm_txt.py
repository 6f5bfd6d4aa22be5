"""Synthetic PVS-HM raw txt traces (``<user>/<video>.txt``) from simulated recordings.

Layout (as ``pano.stores.pvs_hm_txt`` documents it): one folder per subject, one
``<video>.txt`` per video, whitespace (one space) separated, CRLF line endings (as many of
the real files have), one line per sample: interval since the previous sample in ms,
latitude (degrees, + up), longitude (degrees, + left), then three more columns; the last
line is the sum of the intervals in seconds. The first sample's interval is its own time
(``t[0] * 1000``, 0 for a recording that starts at 0 s), so the cumulative sum of the
intervals is each sample's time.

The real files' columns 4-6 are unlabelled; these synthetic files put the head direction's
unit vector (pano frame: +x front, +y left, +z up) there. Angles are written with 6
decimals (1e-6 degrees), intervals with 6 decimals of a millisecond.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pano.geometry import vec_to_lonlat
from pano.synth.recordings import SimDataset


def write_pvs_hm_txt(data: SimDataset, out: Path) -> list[Path]:
    """Write every recording's head as ``out/<subject>/<video>.txt``; returns the files."""
    out = Path(out)
    written: list[Path] = []
    for rec in data.recordings:
        lon, lat = vec_to_lonlat(rec.head)
        interval_ms = np.diff(rec.t, prepend=0.0) * 1000.0
        lines = [
            f"{dt:.6f} {la:.6f} {lo:.6f} {x:.6f} {y:.6f} {z:.6f}"
            for dt, la, lo, (x, y, z) in zip(interval_ms, lat, lon, rec.head, strict=True)
        ]
        lines.append(f"{interval_ms.sum() / 1000.0:.6f}")
        path = out / rec.subject / f"{rec.video}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(("\r\n".join(lines) + "\r\n").encode("ascii"))
        written.append(path)
    return written
