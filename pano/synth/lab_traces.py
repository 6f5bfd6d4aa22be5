"""Simulated recordings written as a generic lab CSV plus the spec that reads it.

``<out>/recordings.csv`` (one row per simulated sample, all subjects and videos) with
columns ``time_ms, clip, participant, yaw_deg, pitch_deg, roll_deg`` and, when the
simulation has gaze, ``eye_x, eye_y, eye_z``; and ``<out>/spec.yaml`` for
``pano ingest traces recordings.csv --spec spec.yaml``.

Conventions written (a typical HMD log, deliberately not pano's own): time in
milliseconds (3 decimals); yaw positive to the RIGHT (``yaw = -lon``), pitch positive UP
(``pitch = lat``), roll 0, degrees (6 decimals); the eye-in-head direction in head axes
``x`` right, ``y`` up, ``z`` forward (unit vectors, 9 decimals), i.e. the gaze rotated
into the head frame by the inverse head rotation (:mod:`pano.rotations`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pano.geometry import vec_to_lonlat
from pano.rotations import quaternion_conjugate, rotate_vectors, ypr_to_quaternion
from pano.synth.recordings import SimDataset

SPEC = """\
# pano ingest traces recordings.csv --spec spec.yaml
time: {column: time_ms, unit: ms}
video: {column: clip}
subject: {column: participant}
head:
  euler:
    yaw: yaw_deg
    pitch: pitch_deg
    roll: roll_deg
    units: deg
    yaw_positive: right
    pitch_positive: up
"""
EYE_SPEC = """\
eye:
  mean: {x: eye_x, y: eye_y, z: eye_z}
  axes: {x: right, y: up, z: forward}
"""


def write_lab_traces(data: SimDataset, out: Path) -> list[Path]:
    """Write ``data`` as ``recordings.csv`` + ``spec.yaml`` in ``out``; returns both paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    has_gaze = all(r.gaze is not None for r in data.recordings)
    header = "time_ms,clip,participant,yaw_deg,pitch_deg,roll_deg"
    lines = [header + (",eye_x,eye_y,eye_z" if has_gaze else "")]
    for rec in data.recordings:
        lon, lat = vec_to_lonlat(rec.head)
        eye = None
        if has_gaze and rec.gaze is not None:
            q = ypr_to_quaternion(lon, lat, 0.0)
            e = rotate_vectors(quaternion_conjugate(q), rec.gaze).numpy()  # fwd, left, up
            eye = np.stack([-e[:, 1], e[:, 2], e[:, 0]], axis=1)  # right, up, forward
        for i, t in enumerate(rec.t):
            row = f"{t * 1e3:.3f},{rec.video},{rec.subject},{-lon[i]:.6f},{lat[i]:.6f},0"
            if eye is not None:
                row += f",{eye[i, 0]:.9f},{eye[i, 1]:.9f},{eye[i, 2]:.9f}"
            lines.append(row)
    csv = out / "recordings.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = out / "spec.yaml"
    spec.write_text(SPEC + (EYE_SPEC if has_gaze else ""), encoding="utf-8")
    return [csv, spec]
