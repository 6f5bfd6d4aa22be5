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
from pano.pipelines.train.config import ContentModel, SaliencyModel, TrainConfig
from pano.pipelines.train.data import (
    FrameBank,
    StoreData,
    VideoData,
    gather_windows,
    random_channel_orders,
    reorder_channels,
    windows,
)
from pano.pipelines.train.dist import DistInfo


def make_forecaster(cfg: TrainConfig) -> HMForecaster:
    """Build the trajectory model named by ``cfg.model``."""
    # saliency_source / saliency_pool say how the input maps are made (the data side).
    kw: dict[str, Any] = cfg.model.model_dump(exclude={"kind", "saliency_source", "saliency_pool"})
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


#: The checkpoint selection rule of supervised runs (``summary.json``'s ``selection.rule``).
SELECTION_RULE = (
    "lowest val/orthodromic_deg: the orthodromic error in degrees averaged over all horizon "
    "steps and over the validation windows of each validation video, then over the videos "
    "(each video weighs the same); validation videos come from the train split only (the "
    "test split is never read); no-motion and constant velocity are scored on the same windows"
)


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
        self.renderer: Any = None
        if isinstance(cfg.model, SaliencyModel):
            from pano.pipelines.train.saliency import SaliencyBank

            self.renderer = SaliencyBank(
                self.videos,
                cfg.model,
                cfg.data.horizon,
                cfg.data.frame_width,
                float(data.root_attrs.heatmap.sigma_deg),
                info.device,
                cfg.data.decode_backend,
            )
        elif isinstance(cfg.model, ContentModel):
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
        self._baseline: dict[str, torch.Tensor] | None = None

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
                fv = flip.reshape(-1, *([1] * (views.ndim - 1)))
                views = torch.where(fv, views.flip(-1), views)
        if (
            views is not None
            and self.cfg.optim.color_augment
            and views.ndim == 5
            and views.shape[2] == 3
        ):
            # Colour augmentation: a random RGB channel order and gain per window, so the
            # encoder learns "salient vs background" rather than the training videos' colours.
            b = views.shape[0]
            views = reorder_channels(views, random_channel_orders(b, gen))
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

    def _per_video_mean(self, err: torch.Tensor) -> torch.Tensor:
        """``(N, H)`` window errors -> ``(H,)``: mean per validation video, then over videos."""
        vids = self.val_idx[:, 0]
        parts = [err[torch.from_numpy(vids == v)].mean(0) for v in np.unique(vids)]
        return torch.stack(parts).mean(0)

    def _baselines(self) -> dict[str, torch.Tensor]:
        """No-motion and constant velocity on the validation windows, ``(H,)`` each."""
        if self._baseline is None:
            from pano.models import ConstantVelocity, NoMotion

            h, f = self.cfg.data.history, self.cfg.data.horizon
            self._baseline = {
                "no_motion": self._per_video_mean(self.errors(NoMotion(h, f), self.val_idx)),
                "const_velocity": self._per_video_mean(
                    self.errors(ConstantVelocity(h, f), self.val_idx)
                ),
            }
        return self._baseline

    def validate(self, model: nn.Module) -> tuple[float | None, dict[str, float]]:
        """Validation error in degrees (lower is better): see :data:`SELECTION_RULE`.

        Every validation video weighs the same (a video with more subjects or windows does
        not dominate); no-motion and constant velocity are scored on the same windows.
        """
        if len(self.val_idx) == 0:
            return None, {}
        assert isinstance(model, HMForecaster)
        was = model.training
        model.eval()
        err = self._per_video_mean(self.errors(model, self.val_idx))
        model.train(was)
        base = self._baselines()
        rate = self.data.rate_hz
        scalars = {
            "val/orthodromic_deg": float(err.mean()),
            "val/no_motion_deg": float(base["no_motion"].mean()),  # same windows
            "val/const_velocity_deg": float(base["const_velocity"].mean()),
        }
        for sec in (1, 2, 3, 5):
            h = round(sec * rate)
            if 1 <= h <= len(err):
                scalars[f"val/orthodromic_deg_{sec}s"] = float(err[h - 1])
                scalars[f"val/no_motion_deg_{sec}s"] = float(base["no_motion"][h - 1])
                scalars[f"val/const_velocity_deg_{sec}s"] = float(base["const_velocity"][h - 1])
        return float(err.mean()), scalars

    def selection(self) -> dict[str, Any]:
        """How the checkpoint is chosen, written into ``summary.json`` (``selection``).

        ``windows_sha256`` identifies the validation windows (video name, subject, origin),
        so two runs' validation scores can be checked to come from the same windows.
        """
        import hashlib

        names = [self.videos[int(v)].name for v in self.val_idx[:, 0]]
        text = "\n".join(f"{n},{s},{o}" for n, (_, s, o) in zip(names, self.val_idx, strict=True))
        return {
            "metric": "val/orthodromic_deg",
            "rule": SELECTION_RULE,
            "select": self.cfg.log.select,
            "videos": sorted(set(names)),
            "windows": len(self.val_idx),
            "windows_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "test_split_read": False,
        }

    def extra_state(self) -> dict[str, Any]:
        """Nothing besides model/optimiser: minibatches are drawn from per-update seeds."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """See :meth:`extra_state`."""
