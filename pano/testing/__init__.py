"""Test fixtures: tiny inputs with known answers, for pano's tests and users' own tests.

Only tests import this package; production code must not (``tests/test_layering.py``
checks it). The synthetic data sets themselves are a product feature and live in
:mod:`pano.synth`; writing mp4 files lives with the decoders (:func:`pano.video.make_video`).

- :func:`barcode_frame` / :func:`write_barcode_video`: noise frames carrying their frame
  index as a barcode, and a clip of them, for frame-accuracy tests of decoders and readers.
- :func:`marker_frame`: a black ERP frame with one white disc at a known direction, for
  tests of viewport extraction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pano.synth.barcode import encode_barcode
from pano.synth.frames import paint_marker
from pano.video.writer import make_video

__all__ = ["barcode_frame", "marker_frame", "write_barcode_video"]


def barcode_frame(index: int, width: int = 256, height: int = 128) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 RGB noise frame (levels 40-199) with ``index`` as a barcode.

    The noise depends on ``index % 3`` only, so neighbouring frames differ (a decoder that
    returns the wrong frame cannot pass by accident) and the result is reproducible. Read
    the index back with :func:`pano.synth.decode_barcode`.
    """
    rng = np.random.default_rng(index % 3)
    frame = rng.integers(40, 200, (height, width, 3), dtype=np.uint8)
    return encode_barcode(frame, index)


def write_barcode_video(
    path: str | Path,
    n_frames: int,
    width: int = 256,
    height: int = 128,
    fps: float = 30.0,
    gop: int | None = 8,
) -> Path:
    """Write ``n_frames`` :func:`barcode_frame` s as an H.264 mp4 (key frame every ``gop``).

    Frame ``i`` of the file carries the barcode ``i``. Returns ``path``.
    """
    make_video(
        path,
        lambda i: barcode_frame(i, width, height),
        fps=fps,
        n_frames=n_frames,
        gop=gop,
    )
    return Path(path)


def marker_frame(
    lon: float, lat: float, radius_deg: float = 5.0, width: int = 256, height: int = 128
) -> torch.Tensor:
    """A ``(3, H, W)`` uint8 black ERP frame with one white disc centred at ``(lon, lat)``.

    Args:
        lon, lat: disc centre in degrees, pano convention (lon positive LEFT, lat positive
            UP, origin at the front centre; see :mod:`pano.geometry`).
        radius_deg: angular radius of the disc in degrees (great-circle distance).
        width, height: frame size in pixels.

    """
    frame = np.zeros((height, width, 3), np.uint8)
    paint_marker(frame, lon, lat, radius_deg, (255, 255, 255))
    return torch.from_numpy(frame).permute(2, 0, 1).contiguous()
