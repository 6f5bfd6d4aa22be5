"""Seeded synthetic data (PVS-HM-format videos, head and eye traces) with known answers.

A product feature (``pano synth``, ``pano demo``) and the data of pano's own tests. The main
entry point is :func:`write_synthetic_dataset`, which writes videos,
``FULLdata_per_video_frame.mat`` (HM), ``EMdata_per_video_frame.mat`` (EM) and a
``manifest.json`` in PVS-HM's exact layout; see :mod:`pano.synth.pvs_hm` for the format.
The lower-level builders are exported for users' own data and tests:

- :mod:`pano.synth.frames`: ERP frame rendering (background, discs, the barcode);
- :mod:`pano.synth.barcode`: the frame-index barcode that survives H.264;
- :mod:`pano.synth.targets`, :mod:`pano.synth.heads`, :mod:`pano.synth.gaze`: moving
  targets, head and gaze simulation on the unit sphere.

Writing frames to mp4 lives with the decoders: :func:`pano.video.make_video`.
A new synthetic format (another data set's files) goes in ``pano/synth/<format>.py``.
"""

from pano.synth.barcode import barcode_block, barcode_size, decode_barcode, encode_barcode
from pano.synth.frames import (
    erp_unit_vectors,
    make_background,
    paint_marker,
    render_frame,
    render_frame_yuv420p,
)
from pano.synth.gaze import MAX_OFFSET_DEG, simulate_gaze
from pano.synth.heads import FREE, simulate_heads
from pano.synth.pvs_hm import (
    DEFAULT_VIDEOS,
    EM_FILE,
    HM_FILE,
    MANIFEST_FILE,
    AttentionSegment,
    SynthConfig,
    SynthManifest,
    SynthTarget,
    SynthVideo,
    synthetic_video_names,
    write_synthetic_dataset,
)
from pano.synth.recordings import SimDataset, SimRecording, SimVideo, simulate_recordings
from pano.synth.targets import TARGET_COLORS, TargetSpec, default_target_specs, simulate_targets

__all__ = [
    "DEFAULT_VIDEOS",
    "EM_FILE",
    "FREE",
    "HM_FILE",
    "MANIFEST_FILE",
    "MAX_OFFSET_DEG",
    "TARGET_COLORS",
    "SimDataset",
    "SimRecording",
    "SimVideo",
    "AttentionSegment",
    "SynthConfig",
    "SynthManifest",
    "SynthTarget",
    "SynthVideo",
    "TargetSpec",
    "barcode_block",
    "barcode_size",
    "decode_barcode",
    "default_target_specs",
    "encode_barcode",
    "erp_unit_vectors",
    "make_background",
    "paint_marker",
    "render_frame",
    "render_frame_yuv420p",
    "simulate_gaze",
    "simulate_heads",
    "simulate_recordings",
    "simulate_targets",
    "synthetic_video_names",
    "write_synthetic_dataset",
]
