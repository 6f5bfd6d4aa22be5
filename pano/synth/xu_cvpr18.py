"""Synthetic VR-EyeTracking (Xu et al., CVPR 2018) gaze txt files from simulated recordings.

Writes ``out/Gaze_txt_files/<subject>/<video>.txt`` (one line per video frame ``f = 1, 2,
...`` while ``f / fps`` lies within the recording) and ``out/fps.csv`` (``video,fps``, the
table the reader needs). Each line has 8 comma-separated fields, as
``pano.stores.xu_cvpr18`` documents the layout: ``f - 1, f, 0, head x, head y, 0, gaze x,
gaze y`` - head and gaze at time ``f / fps`` (slerp between simulated samples) as fractions of
the panorama from its BOTTOM-LEFT corner (:func:`pano.geometry.vec_to_bottomleft`), written
with 10 decimals. Fields 0, 2 and 5 are not read by pano (their meaning in the real files is
unverified); these files put the 0-based frame counter and zeros there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pano.errors import ParameterError
from pano.geometry import resample_directions, vec_to_bottomleft
from pano.synth.recordings import SimDataset

FPS_FILE = "fps.csv"


def write_xu_cvpr18(data: SimDataset, out: Path) -> list[Path]:
    """Write every recording's head and gaze per video frame; returns the files written.

    Raises:
        ParameterError: a recording has no gaze (simulate with ``gaze=True``).

    """
    out = Path(out)
    fps = {v.name: v.fps for v in data.videos}
    written: list[Path] = []
    for rec in data.recordings:
        if rec.gaze is None:
            raise ParameterError(
                f"xu-cvpr18 holds head and gaze; recording {rec.subject}/{rec.video} has no "
                "gaze (simulate with gaze=True)"
            )
        rate = fps[rec.video]
        frames = np.arange(1, int(np.floor(rec.t[-1] * rate + 1e-9)) + 1)
        ft = frames / rate
        hx, hy = vec_to_bottomleft(resample_directions(rec.t, rec.head, ft))
        gx, gy = vec_to_bottomleft(resample_directions(rec.t, rec.gaze, ft))
        lines = [
            f"{f - 1},{f},0,{a:.10f},{b:.10f},0,{c:.10f},{d:.10f}"
            for f, a, b, c, d in zip(frames, hx, hy, gx, gy, strict=True)
        ]
        path = out / "Gaze_txt_files" / rec.subject / f"{rec.video}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
        written.append(path)
    table = out / FPS_FILE
    table.write_text("video,fps\n" + "".join(f"{v},{r!r}\n" for v, r in fps.items()))
    written.append(table)
    return written
