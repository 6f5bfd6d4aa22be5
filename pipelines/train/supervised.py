"""Supervised training of trajectory forecasters (seq2seq, content-aware) on 5 Hz windows."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from pano.geometry import vec_to_lonlat
from pano.models import build_model
from pano.models.base import HMForecaster
from pano.models.sphere import angle_between
from pano.pipelines.train.config import ContentModel, TrainConfig
from pano.pipelines.train.data import FrameBank, StoreData, VideoData, gather_windows, windows
from pano.pipelines.train.dist import DistInfo


def make_forecaster(cfg: TrainConfig) -> HMForecaster:
    """Build the trajectory model named by ``cfg.model``."""
    kw: dict[str, Any] = cfg.model.model_dump(exclude={"kind"})
    m = build_model(cfg.model.kind, history=cfg.data.history, horizon=cfg.data.horizon, **kw)
    assert isinstance(m, HMForecaster)
    return m


class ViewRenderer:
    """Renders a content model's viewports for windows, from a :class:`FrameBank`."""

    def __init__(self, model_cfg: ContentModel, bank: FrameBank) -> None:
        from pano.viewport import ViewportSampler

        self.cfg = model_cfg
        self.bank = bank
        self.sampler = ViewportSampler(
            fov_deg=model_cfg.fov_deg,
            size=tuple(model_cfg.size),
            mode="bilinear",
            antialias=True,
        )
        self.steps = np.asarray(model_cfg.content_steps, dtype=np.int64)

    def __call__(self, videos: list[VideoData], idx: np.ndarray) -> torch.Tensor:
        """``(B, K, C, h, w)`` views for windows ``idx`` (rows ``(video, subject, origin)``)."""
        k = len(self.steps)
        yaw = np.empty((len(idx), k))
        pitch = np.empty((len(idx), k))
        rows = np.empty((len(idx), k), dtype=np.int64)
        for j, (vi, s, o) in enumerate(idx):
            v = videos[vi]
            lon, lat = vec_to_lonlat(v.rs_xyz[s, o])
            yaw[j], pitch[j] = lon, lat
            t = np.minimum(o + self.steps, len(v.rs_time) - 1)
            rows[j] = self.bank.rows(v, v.rs_frame(t))
        dev = self.bank.frames.device
        views = self.sampler(
            self.bank.frames,
            torch.from_numpy(yaw.reshape(-1)).to(dev),
            torch.from_numpy(pitch.reshape(-1)).to(dev),
            frame_index=torch.from_numpy(rows.reshape(-1)).to(dev),
        )
        return views.reshape(len(idx), k, *views.shape[1:])


def frames_for_windows(videos: list[VideoData]) -> list[np.ndarray]:
    """Frames a content model may need: the frame of every 5 Hz sample of each video."""
    return [v.rs_frame(np.arange(len(v.rs_time))) for v in videos]


class SupervisedTask:
    """One parameter update = one minibatch of windows per rank; loss = mean orthodromic angle."""

    higher_is_better = False

    def __init__(self, cfg: TrainConfig, data: StoreData, info: DistInfo) -> None:
        self.cfg = cfg
        self.data = data
        self.info = info
        self.model = make_forecaster(cfg).to(info.device)
        h, f = cfg.data.history, cfg.data.horizon
        self.videos = data.train + data.val
        n_train = len(data.train)
        every = windows(data.train, h, f, exclude=data.val_subjects)
        self.train_idx = every[self.info.rank :: self.info.world]
        val_a = (
            windows(data.train, h, f, subjects=data.val_subjects)
            if data.val_subjects
            else np.zeros((0, 3), np.int64)
        )
        val_b = windows(data.val, h, f)
        val_b[:, 0] += n_train
        self.val_idx = np.concatenate([val_a, val_b])
        if len(self.train_idx) == 0:
            from pano.errors import StoreError

            raise StoreError(
                f"{data.location}: no complete training window of {h} + {f} samples at "
                f"{data.rate_hz:g} Hz in the train split (videos too short or horizon too long)"
            )
        self.renderer: ViewRenderer | None = None
        if isinstance(cfg.model, ContentModel):
            bank = FrameBank(
                self.videos,
                frames_for_windows(self.videos),
                cfg.data.frame_width,
                gray=cfg.model.channels == 1,
                device=info.device,
                backend=cfg.data.decode_backend,
            )
            self.renderer = ViewRenderer(cfg.model, bank)
        self.batch_local = max(1, cfg.optim.batch_size // info.world)
        self._baseline: torch.Tensor | None = None

    # ------------------------------------------------------------------ helpers

    def _batch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        hist, fut = gather_windows(self.videos, idx, self.cfg.data.history, self.cfg.data.horizon)
        dev = self.info.device
        views = self.renderer(self.videos, idx) if self.renderer is not None else None
        return hist.float().to(dev), fut.float().to(dev), views

    def loss(
        self, module: nn.Module, update: int, gen: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss of one minibatch drawn with ``gen`` (this rank's shard)."""
        pick = torch.randint(len(self.train_idx), (self.batch_local,), generator=gen).numpy()
        hist, fut, views = self._batch(self.train_idx[pick])
        if self.cfg.optim.mirror:
            # Mirror half of the windows left/right: world y -> -y (lon -> -lon), which
            # flips the origin-centred viewports horizontally.
            flip = torch.rand(len(pick), generator=gen).to(hist.device) < 0.5
            sign = torch.tensor([1.0, -1.0, 1.0], device=hist.device)
            hist = torch.where(flip[:, None, None], hist * sign, hist)
            fut = torch.where(flip[:, None, None], fut * sign, fut)
            if views is not None:
                views = torch.where(flip[:, None, None, None, None], views.flip(-1), views)
        if views is not None and self.cfg.optim.color_augment and views.shape[2] == 3:
            # Colour augmentation: a random RGB channel order and gain per window, so the
            # encoder learns "salient vs background" rather than the training videos' colours.
            b = views.shape[0]
            perm = torch.argsort(torch.rand(b, 3, generator=gen), dim=1).to(views.device)
            views = torch.gather(views, 2, perm[:, None, :, None, None].expand_as(views))
            gain = (0.75 + 0.5 * torch.rand(b, generator=gen)).to(views.device)
            views = (views * gain[:, None, None, None, None]).clamp(0.0, 1.0)
        pred = module(hist, views)
        ang = angle_between(pred, fut)  # (B, H) radians
        loss = ang.mean()
        return loss, {"train/loss_deg": float(torch.rad2deg(loss.detach()))}

    @torch.no_grad()
    def errors(self, model: HMForecaster, idx: np.ndarray, batch: int = 512) -> torch.Tensor:
        """Orthodromic error ``(N, H)`` in degrees (float64) of ``model`` on windows ``idx``."""
        out = []
        for i in range(0, len(idx), batch):
            hist, fut, views = self._batch(idx[i : i + batch])
            pred = model.forecast(hist, views)
            out.append(torch.rad2deg(angle_between(pred.double(), fut.double(), eps=0.0)).cpu())
        return torch.cat(out) if out else torch.zeros(0, self.cfg.data.horizon, dtype=torch.float64)

    def validate(self, model: nn.Module) -> tuple[float | None, dict[str, float]]:
        """Mean validation error in degrees over all horizon steps (lower is better)."""
        if len(self.val_idx) == 0:
            return None, {}
        assert isinstance(model, HMForecaster)
        was = model.training
        model.eval()
        err = self.errors(model, self.val_idx).mean(0)
        model.train(was)
        if self._baseline is None:
            from pano.models import NoMotion

            nm = NoMotion(self.cfg.data.history, self.cfg.data.horizon)
            self._baseline = self.errors(nm, self.val_idx).mean(0)
        rate = self.data.rate_hz
        scalars = {
            "val/orthodromic_deg": float(err.mean()),
            "val/no_motion_deg": float(self._baseline.mean()),  # same windows, all horizons
        }
        for sec in (1, 2, 3, 5):
            h = round(sec * rate)
            if 1 <= h <= len(err):
                scalars[f"val/orthodromic_deg_{sec}s"] = float(err[h - 1])
                scalars[f"val/no_motion_deg_{sec}s"] = float(self._baseline[h - 1])
        return float(err.mean()), scalars

    def extra_state(self) -> dict[str, Any]:
        """Nothing besides model/optimiser: minibatches are drawn from per-update seeds."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """See :meth:`extra_state`."""
