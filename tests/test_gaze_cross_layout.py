"""The same synthetic scenes through both gaze readers agree.

``pano synth-gaze`` renders the same scenes (same seed) as GazeHub's processed
MPIIFaceGaze (faces rendered straight through GazeHub's normalised camera) and as the raw
data set (full camera images + ``pXX.txt`` + calibration). GazeHub's reader takes the
labels as written; the raw reader normalises the camera images itself with kornia. The two
must give the same gaze direction and the same face crop, right-eye (mirrored) GazeHub
samples flipped back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pano.geometry import orthodromic_distance
from pano.stores.gazehub import read_gazehub
from pano.stores.mpiifacegaze_raw import read_person
from pano.synth.gaze_layouts import GazeSynthConfig, write_synthetic_gaze


def test_gazehub_layout_and_raw_layout_agree(tmp_path: Path) -> None:
    common = {"persons": 1, "samples_per_person": 5, "seed": 5, "supersample": 1}
    # The same camera for both layouts: the annotated head pose is fitted to landmarks
    # projected into the raw camera, so a different raw size gives a (slightly) different fc.
    common |= {"raw_width": 320, "raw_height": 240}
    # GazeHub's own script scales the 3-D gaze by S before normalising (scale=True); pano's
    # raw normalisation rotates by R only, so the comparison renders GazeHub's R g labels.
    write_synthetic_gaze(
        tmp_path / "gh", GazeSynthConfig(layout="gazehub", gaze_scale=False, **common)
    )
    write_synthetic_gaze(
        tmp_path / "raw",
        GazeSynthConfig(layout="mpiifacegaze-raw", **common),
    )
    hub = read_gazehub(tmp_path / "gh", "mpiifacegaze")
    raw = read_person(tmp_path / "raw", "p00")
    assert len(hub) == len(raw) == 5
    assert not raw.mirrored.any()

    unmirrored = hub.gaze_xyz.copy()
    unmirrored[hub.mirrored, 0] *= -1.0
    err = np.degrees(orthodromic_distance(unmirrored, raw.gaze_xyz))
    # Both sides normalise about the same annotated fc and head pose: equal to float precision.
    assert err.max() < 1e-6, err

    faces = hub.face.astype(np.float64)
    faces[hub.mirrored] = faces[hub.mirrored][:, :, ::-1]
    same = np.abs(faces - raw.face).mean(axis=(1, 2, 3))
    other = np.abs(faces - np.roll(raw.face, 1, axis=0)).mean(axis=(1, 2, 3))
    assert same.max() < 12.0, same  # grey levels of 255: JPEG, raw resolution, warp
    assert (same < other / 3).all(), (same, other)
