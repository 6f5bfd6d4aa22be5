"""Seeded synthetic data builders (PVS-HM-format videos, head and eye traces) for tests and demos.

The main entry point is :func:`write_synthetic_dataset` (also ``pano synth``), which writes
videos, ``FULLdata_per_video_frame.mat`` (HM), ``EMdata_per_video_frame.mat`` (EM) and a
``manifest.json`` in PVS-HM's exact layout; see :mod:`pano.testing.synth` for the format.
The lower-level builders (frame rendering, markers, barcodes, H.264 writing, head and gaze
simulation) are exported for tests of other parts and for users' own tests.
"""

from pano.testing.barcode import barcode_block, barcode_size, decode_barcode, encode_barcode
from pano.testing.gaze import MAX_OFFSET_DEG, simulate_gaze
from pano.testing.heads import FREE, simulate_heads
from pano.testing.synth import (
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
from pano.testing.targets import TARGET_COLORS, TargetSpec, default_target_specs, simulate_targets
from pano.testing.video import (
    erp_unit_vectors,
    make_background,
    make_video,
    paint_marker,
    render_frame,
    render_frame_yuv420p,
    rgb_to_yuv420p,
    yuv420p_planes,
)

__all__ = [
    "DEFAULT_VIDEOS",
    "EM_FILE",
    "FREE",
    "HM_FILE",
    "MANIFEST_FILE",
    "MAX_OFFSET_DEG",
    "TARGET_COLORS",
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
    "make_video",
    "paint_marker",
    "render_frame",
    "render_frame_yuv420p",
    "rgb_to_yuv420p",
    "simulate_gaze",
    "simulate_heads",
    "simulate_targets",
    "synthetic_video_names",
    "write_synthetic_dataset",
    "yuv420p_planes",
]
