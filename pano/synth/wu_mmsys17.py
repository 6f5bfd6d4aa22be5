"""Simulated recordings written as Wu et al.'s MMSys'17 (Tsinghua) head-movement logs.

``<out>/Experiment_1/<subject>/video_<video>.csv``, header ``Timestamp, PlaybackTime,
UnitQuaternion.x, UnitQuaternion.y, UnitQuaternion.z, UnitQuaternion.w, HmdPosition.x,
HmdPosition.y, HmdPosition.z``, one row per simulated sample (PlaybackTime = ``t``, 6
decimals; Timestamp a wall-clock string; positions 0).

The quaternion is the head rotation (roll 0) in Unity's left-handed frame (``+x`` right,
``+y`` up, ``+z`` forward) under the alignment pano assumes for this data set (see
``pano.stores.wu_mmsys17``): Unity ``(x, y, z) = (-X, Z, -Y)`` for pano's ``(X, Y, Z)``,
the viewing direction is the rotated ``+z`` and the head's up the rotated ``+y``. The
rotation matrix is built with :func:`pano.rotations.ypr_to_matrix` and turned into a
quaternion by :func:`pano.rotations.matrix_to_quaternion` (kornia), 9 decimals.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from pano.geometry import vec_to_lonlat
from pano.rotations import matrix_to_quaternion, ypr_to_matrix
from pano.synth.recordings import SimDataset

HEADER = (
    "Timestamp,PlaybackTime,UnitQuaternion.x,UnitQuaternion.y,UnitQuaternion.z,"
    "UnitQuaternion.w,HmdPosition.x,HmdPosition.y,HmdPosition.z"
)
#: Unity coordinates of pano's axes: unity = PANO_TO_UNITY @ pano.
PANO_TO_UNITY = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
#: Head-frame axes: Unity (right, up, forward) columns in pano head axes (fwd, left, up).
_HEAD_AXES = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
_EPOCH = datetime(2016, 11, 17, 1, 0, 0)


def unity_quaternions(head: np.ndarray) -> np.ndarray:
    """Head directions ``(N, 3)`` (pano frame) -> Unity quaternions ``(N, 4)`` ``(x, y, z, w)``."""
    lon, lat = vec_to_lonlat(np.asarray(head, dtype=np.float64))
    rot_pano = ypr_to_matrix(lon, lat, 0.0).numpy()  # columns: forward, left, up (pano)
    rot_unity = PANO_TO_UNITY @ rot_pano @ _HEAD_AXES
    q = matrix_to_quaternion(rot_unity).numpy()  # (w, x, y, z)
    return np.concatenate([q[:, 1:], q[:, :1]], axis=1)


def write_wu_mmsys17(data: SimDataset, out: Path) -> list[Path]:
    """Write ``data`` as Wu MMSys'17 logs under ``out/Experiment_1``; returns the files."""
    out = Path(out)
    written: list[Path] = []
    for rec in data.recordings:
        folder = out / "Experiment_1" / rec.subject
        folder.mkdir(parents=True, exist_ok=True)
        q = unity_quaternions(rec.head)
        lines = [HEADER]
        for t, (x, y, z, w) in zip(rec.t, q, strict=True):
            stamp = (_EPOCH + timedelta(seconds=float(t))).strftime("%Y-%m-%d %H:%M:%S.%f")
            lines.append(f"{stamp},{t:.6f},{x:.9f},{y:.9f},{z:.9f},{w:.9f},0,0,0")
        path = folder / f"video_{rec.video}.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        written.append(path)
    return written
