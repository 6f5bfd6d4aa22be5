"""Frame-accurate video decoding to torch tensors, on the CPU or straight to the GPU.

One interface, :class:`VideoDecoder`, three backends: ``pyav`` (reference and fallback,
CPU), ``decord`` (CPU wheel; GPU only in CUDA builds) and ``torchcodec`` (NVDEC, only
where it imports with CUDA). :func:`open_video` picks the fastest correct one for the file
and device and logs its choice; :class:`Prefetcher` overlaps decoding with computation.
:func:`make_video` (:mod:`pano.video.writer`) writes frames as an H.264 mp4.

Decoders are not picklable: open them inside each worker or task.
"""

from pano.video.base import LUMA_WEIGHTS, VideoDecoder, rgb_to_luma
from pano.video.decord_backend import DecordDecoder
from pano.video.prefetch import Prefetcher
from pano.video.pyav_backend import PyAVDecoder
from pano.video.select import BACKENDS, available_backends, choose_backend, open_video
from pano.video.torchcodec_backend import TorchCodecDecoder
from pano.video.writer import make_video

__all__ = [
    "BACKENDS",
    "LUMA_WEIGHTS",
    "DecordDecoder",
    "Prefetcher",
    "PyAVDecoder",
    "TorchCodecDecoder",
    "VideoDecoder",
    "available_backends",
    "choose_backend",
    "make_video",
    "open_video",
    "rgb_to_luma",
]
