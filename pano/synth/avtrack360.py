"""Simulated recordings written as AVTrack360's per-subject JSON files.

``<out>/Head_rotation/<subject>.json``: ``{"data": [{"filename": "<video>.mp4", "hmd":
"vive", "pitch_yaw_roll_data_hmd": [{"pitch", "roll", "sec", "yaw"}, ...]}, ...]}``, one
entry per video. Like the real files: ~10 Hz (every ``round(rate_hz / 10)``-th simulated
sample) and WHOLE degrees, in the data set's signs: ``yaw = -lon`` (turning left is
negative), ``pitch = -lat`` (looking up is negative), roll 0; ``sec`` = ``t`` (3 decimals).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pano.geometry import vec_to_lonlat
from pano.synth.recordings import SimDataset


def write_avtrack360(data: SimDataset, out: Path) -> list[Path]:
    """Write ``data`` as AVTrack360 JSON files under ``out/Head_rotation``; returns them."""
    folder = Path(out) / "Head_rotation"
    folder.mkdir(parents=True, exist_ok=True)
    step = max(1, round(data.rate_hz / 10.0))
    per_subject: dict[str, list[dict[str, object]]] = {}
    for rec in data.recordings:
        idx = np.arange(0, rec.t.size, step)
        lon, lat = vec_to_lonlat(rec.head[idx])
        samples = [
            {
                "pitch": int(np.rint(-la)) + 0,
                "roll": 0,
                "sec": round(float(t), 3),
                "yaw": int(np.rint(-lo)) + 0,
            }
            for t, lo, la in zip(rec.t[idx], lon, lat, strict=True)
        ]
        entry: dict[str, object] = {
            "filename": f"{rec.video}.mp4",
            "hmd": "vive",
            "pitch_yaw_roll_data_hmd": samples,
        }
        per_subject.setdefault(rec.subject, []).append(entry)
    written = []
    for subject, entries in per_subject.items():
        path = folder / f"{subject}.json"
        path.write_text(json.dumps({"data": entries}, indent=1), encoding="utf-8")
        written.append(path)
    return written
