"""Synthetic data in TRACK's common format (``pano synth --format track``).

TRACK (Rondon et al., TPAMI 2021) stores every data set as ``<out>/<video>/<user>``: no
extension, no header, rows ``t, x, y, z`` every 0.2 s - ``t`` seconds, ``(x, y, z)`` a unit
vector on TRACK's sphere (``x = cos(theta) sin(phi)``, ``y = sin(theta) sin(phi)``, ``z =
cos(phi)``, theta the longitude, phi the colatitude). This writer uses TRACK's PVS-HM
alignment (``theta = rad(lon + 180)``, lon positive LEFT; :func:`pano.geometry.vec_to_track`),
the default of ``pano ingest track``.

Each simulated head trace is slerped (:func:`pano.geometry.resample_directions`) onto
``0, 0.2, 0.4, ... <= `` its last timestamp, as TRACK resamples; values are written with
Python's shortest round-trip text (17 significant digits at most).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pano.geometry import resample_directions, vec_to_track
from pano.synth.recordings import SimDataset

#: TRACK's sampling period, seconds.
TRACK_PERIOD_S = 0.2


def write_track(data: SimDataset, out: Path) -> list[Path]:
    """Write every recording's head trace as ``out/<video>/<subject>``; returns the files."""
    out = Path(out)
    files = []
    for rec in data.recordings:
        grid = np.arange(0.0, rec.t[-1] + 1e-9, TRACK_PERIOD_S)
        vec = np.asarray(vec_to_track(resample_directions(rec.t, rec.head, grid)))
        vdir = out / rec.video
        vdir.mkdir(parents=True, exist_ok=True)
        text = "".join(
            f"{float(t)!r},{float(x)!r},{float(y)!r},{float(z)!r}\n"
            for t, (x, y, z) in zip(grid, vec, strict=True)
            if np.isfinite([x, y, z]).all()
        )
        path = vdir / rec.subject
        tmp = vdir / f".{rec.subject}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        files.append(path)
    return files
