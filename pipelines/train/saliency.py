"""Per-step saliency maps for the saliency-driven forecasters (``saliency``, ``track``).

Every 5 Hz sample ``t`` of a video gets one ERP saliency map (world frame, pano's ERP
convention): from the video frame shown at ``rs_time[t]``
(:func:`pano.models.track.frame_saliency` on the decoded frame, area- or max-pooled
(``saliency_pool``) to the model's ``saliency_size``), or - with
``saliency_source: ground_truth`` - from every subject's head at that sample
(:func:`pano.models.track.gt_saliency`, the store's heatmap sigma): TRACK's ablation, an
**upper bound** that must never be reported as a forecast.

A window with origin sample ``o`` gets the maps of samples ``o, o + 1, .., o + H`` (clipped
to the video's last sample), i.e. row ``k`` is the frame ``k / rate`` seconds after the origin.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from pano.errors import ConfigError
from pano.pipelines.train.config import SaliencyModel
from pano.pipelines.train.data import VideoData

#: The label every output of a ground-truth-saliency run carries.
UPPER_BOUND_LABEL = (
    "UPPER BOUND: fed ground-truth saliency (every subject's head at each future step, "
    "the predicted subject included) - not a forecast"
)


def window_samples(origin: int, horizon: int, n_samples: int) -> np.ndarray:
    """5 Hz sample indices ``origin .. origin + horizon`` (clipped to ``n_samples - 1``)."""
    return np.minimum(origin + np.arange(horizon + 1), n_samples - 1)


class SaliencyBank:
    """The saliency map of every 5 Hz sample of some videos, ``(R, h, w)`` float32.

    Args:
        videos: the videos (their ``rs_xyz``/``rs_time`` and, for ``frames``, ``path``).
        model_cfg: the model's config (``saliency_size``, ``saliency_source``).
        horizon: the model's horizon ``H`` (maps per window: ``H + 1``).
        frame_width: decoded frames are resized to this width before the saliency.
        sigma_deg: ground-truth saliency's Gaussian width (the store's heatmap sigma).
        device: where the maps live.
        backend: :func:`pano.video.open_video` backend.

    """

    def __init__(
        self,
        videos: list[VideoData],
        model_cfg: SaliencyModel,
        horizon: int,
        frame_width: int,
        sigma_deg: float,
        device: torch.device,
        backend: str = "auto",
    ) -> None:
        from pano.models.track import frame_saliency, gt_saliency

        h, w = model_cfg.saliency_size
        self.horizon = int(horizon)
        self.upper_bound = model_cfg.upper_bound
        self.offsets: dict[str, int] = {}
        parts = []
        row = 0
        for v in videos:
            n = len(v.rs_time)
            if self.upper_bound:
                maps = torch.from_numpy(gt_saliency(v.rs_xyz, h, w, sigma_deg))
            else:
                maps = self._from_frames(
                    v, frame_width, (h, w), backend, frame_saliency, model_cfg.saliency_pool
                )
            parts.append(maps.to(device))
            self.offsets[v.name] = row
            row += n
        self.maps = torch.cat(parts) if parts else torch.zeros(0, h, w)

    @staticmethod
    def _from_frames(
        v: VideoData,
        frame_width: int,
        size: tuple[int, int],
        backend: str,
        fn: object,
        pool: str = "area",
    ) -> torch.Tensor:
        from pano.video import open_video

        if v.path is None:
            raise ConfigError(f"video {v.name}: no video file to compute saliency from")
        frames = v.rs_frame(np.arange(len(v.rs_time)))
        need, inv = np.unique(frames, return_inverse=True)
        with open_video(v.path, backend=backend, device="cpu", gray=False) as dec:
            x = dec.read(need.tolist()).to(torch.float32).div_(255.0)  # (N, 3, H, W)
        if x.shape[-1] != frame_width:
            x = F.interpolate(x, size=(max(1, frame_width // 2), frame_width), mode="area")
        sal = fn(x)  # type: ignore[operator]
        if pool == "max":
            sal = F.adaptive_max_pool2d(sal[:, None], size)[:, 0]
        else:
            sal = F.interpolate(sal[:, None], size=size, mode="area")[:, 0]
        return sal[torch.from_numpy(inv.reshape(-1))]

    def __call__(self, videos: list[VideoData], idx: np.ndarray) -> torch.Tensor:
        """``(B, H + 1, h, w)`` maps for windows ``idx`` (rows ``(video, subject, origin)``)."""
        rows = np.empty((len(idx), self.horizon + 1), dtype=np.int64)
        for j, (vi, _s, o) in enumerate(idx):
            v = videos[vi]
            rows[j] = self.offsets[v.name] + window_samples(int(o), self.horizon, len(v.rs_time))
        return self.maps[torch.from_numpy(rows.reshape(-1)).to(self.maps.device)].reshape(
            len(idx), self.horizon + 1, *self.maps.shape[1:]
        )
