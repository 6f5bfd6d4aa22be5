"""Simulated recordings written as Nguyen et al.'s MM'18 (PanoSalNet) pickle.

One file ``<out>/salient_ds_dict_w16_h9`` (pickle protocol 2, like the Python 2 original):
``{'360net': {video: {'timestamp': [N floats, s], 'headpos': [one (N, 3) float64 array per
subject], 'salient': (N, 9, 16) float32 zeros}}}``. Subjects are by position (subject
``k`` of :meth:`SimDataset.of` is ``headpos[k]``); every subject of a video shares the
timestamps (all simulated recordings of a video do).

Head vectors are in PanoSalNet's axes: for pano's ``(X, Y, Z)`` the file holds
``(x, y, z) = (-X, -Z, -Y)`` (``theta = atan2(-z, x)`` grows to the right on the frame,
``phi = asin(y)`` is -90 at the top row; see PanoSalNet's ``lstm.py``).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from pano.errors import ParameterError
from pano.synth.recordings import SimDataset

PICKLE_NAME = "salient_ds_dict_w16_h9"
#: pano (X, Y, Z) -> PanoSalNet (x, y, z) = (-X, -Z, -Y) (its own inverse).
PANO_TO_PANOSALNET = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, -1.0, 0.0]])


def write_nguyen_mm18(data: SimDataset, out: Path) -> list[Path]:
    """Write ``data`` as the Nguyen MM'18 pickle in ``out``; returns ``[the pickle]``.

    Raises:
        ParameterError: the subjects of a video do not share their timestamps.

    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    videos = {}
    for video in data.videos:
        recs = data.of(video.name)
        t = recs[0].t
        if any(r.t.shape != t.shape or not np.array_equal(r.t, t) for r in recs):
            raise ParameterError(
                f"nguyen-mm18 stores one timestamp list per video; {video.name}'s "
                "subjects have different sample times"
            )
        videos[video.name] = {
            "timestamp": [float(x) for x in t],
            "headpos": [np.ascontiguousarray(r.head @ PANO_TO_PANOSALNET.T) for r in recs],
            "salient": np.zeros((t.size, 9, 16), dtype=np.float32),
        }
    path = out / PICKLE_NAME
    with path.open("wb") as f:
        pickle.dump({"360net": videos}, f, protocol=2)
    return [path]
