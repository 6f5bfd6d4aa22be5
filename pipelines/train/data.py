"""Training data from a pano store: 5 Hz HM windows, ground-truth steps and decoded frames.

Everything a trainer needs is read once into memory (the synthetic and the real PVS-HM
HM data are small): per video the resampled head directions ``hm_rs_xyz``, the ground
truth step grid (``step_frame``, ``scanpath``) and, for models that look at the video, the
decoded frames they need - resized to ``data.frame_width`` and kept as one tensor on the
training device (:class:`FrameBank`). Viewports are rendered from that bank on the fly,
one batched ``grid_sample`` per call, by :class:`pano.viewport.ViewportSampler` with
``frame_index`` choosing each view's frame.

Validation data come from the store's TRAIN split only (held-out videos and/or subjects),
or from its ``val`` split when it has one; the TEST split is never read for training or
model selection.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from pano.errors import ConfigError, StoreError
from pano.geometry import lonlat_to_vec
from pano.pipelines.train.config import TrainConfig

log = logging.getLogger("pano.train")


@dataclass
class VideoData:
    """One video's arrays (NumPy, float64 unless noted)."""

    name: str
    split: str
    fps: float
    n_frames: int
    path: Path | None
    rs_time: np.ndarray  # (T,)
    rs_xyz: np.ndarray  # (S, T, 3), NaN = gap
    step_frame: np.ndarray  # (N_steps,) int
    scan_xyz: np.ndarray  # (N_steps, S, 3), NaN = missing
    subjects: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # (S,) ids
    frame_rows: np.ndarray | None = None  # (n_frames,) row of each frame in the bank, -1 = absent

    def rs_frame(self, idx: np.ndarray) -> np.ndarray:
        """Video frame shown at resampled sample(s) ``idx`` (nearest frame, clipped)."""
        f = np.rint(self.rs_time[idx] * self.fps).astype(np.int64)
        return np.clip(f, 0, self.n_frames - 1)


@dataclass
class StoreData:
    """The videos of one store, divided for training."""

    location: str
    root_attrs: Any
    train: list[VideoData]
    val: list[VideoData]
    val_subjects: dict[str, np.ndarray]  # per train video: subject indices held out
    rate_hz: float


def _load_video(
    location: str, name: str, root_attrs: Any, cfg: TrainConfig, need_video: bool
) -> VideoData:
    from pano.stores import open_video, read_video_attrs

    va = read_video_attrs(location, name)
    ds = open_video(location, name)
    for var in ("hm_rs_xyz", "rs_time", "step_frame", "scanpath"):
        if var not in ds.variables:
            raise StoreError(f"{location}: videos/{name} has no {var!r}; re-run `pano ingest`")
    scan = np.asarray(ds["scanpath"].values, dtype=np.float64)  # (step, subject, lonlat)
    path = None
    if need_video:
        from pano.stores import resolve_video_path

        src = va.require_video(location, name, "a content model (train-hm with frames)")
        # Raises InputFileNotFoundError listing where it looked; --videos is an override.
        path = resolve_video_path(location, root_attrs, src.path, cfg.data.videos_dir, expect=src)
    return VideoData(
        name=name,
        split=va.split,
        fps=va.frame_rate(),
        n_frames=va.frame_count(),
        path=path,
        rs_time=np.asarray(ds["rs_time"].values, dtype=np.float64),
        rs_xyz=np.asarray(ds["hm_rs_xyz"].values, dtype=np.float64),
        step_frame=np.asarray(ds["step_frame"].values, dtype=np.int64),
        scan_xyz=lonlat_to_vec(scan[..., 0], scan[..., 1]),
        subjects=np.asarray(ds["subject"].values),
    )


def load_split_videos(
    location: str, cfg: TrainConfig, split: str, need_video: bool
) -> list[VideoData]:
    """Load every complete video of ``split`` (e.g. the test split for predictions).

    Raises:
        StoreError: the store has no such split or it is empty.
        ConfigError: ``predict.sigma_deg`` differs from the store's heatmap sigma.

    """
    from pano.stores import list_videos, read_root_attrs

    root = read_root_attrs(location)
    cfg.predict.check_store_heatmap(root.heatmap, location)
    names = list(getattr(root.splits, split, None) or [])
    complete = set(list_videos(location))
    names = [n for n in names if n in complete]
    if not names:
        raise StoreError(
            f"{location}: the store has no complete videos in split {split!r} "
            f"(splits: { {k: len(v) for k, v in root.splits.model_dump().items()} })"
        )
    return [_load_video(location, n, root, cfg, need_video) for n in sorted(names)]


def load_store_data(location: str, cfg: TrainConfig, need_video: bool) -> StoreData:
    """Read the train split and divide it into training and validation parts.

    Raises:
        StoreError: no store, no train split, or too few train videos for the validation
            hold-out.
        ConfigError: the store's resampling rate disagrees with the protocol, or
            ``predict.sigma_deg`` differs from the store's heatmap sigma.

    """
    from pano.stores import list_videos, read_root_attrs

    root = read_root_attrs(location)
    cfg.predict.check_store_heatmap(root.heatmap, location)
    complete = set(list_videos(location))
    train_names = sorted(n for n in root.splits.train if n in complete)
    val_names = sorted(n for n in root.splits.val if n in complete)
    if not train_names:
        raise StoreError(
            f"{location}: the store has no complete videos in its 'train' split; "
            "train-hm needs one (ingest with a split, e.g. the DHP split)"
        )
    if cfg.data.max_videos is not None:
        train_names = train_names[: cfg.data.max_videos]
    if not val_names and cfg.data.val_videos:
        if len(train_names) <= cfg.data.val_videos:
            raise StoreError(
                f"{location}: {len(train_names)} train video(s) cannot spare "
                f"data.val_videos={cfg.data.val_videos} for validation; lower it "
                "(--set data.val_videos=0 --set data.val_subject_fraction=0.2)"
            )
        k = cfg.data.val_videos
        lo = len(train_names) - k if cfg.data.val_fold is None else cfg.data.val_fold * k
        if lo + k > len(train_names):
            raise StoreError(
                f"{location}: data.val_fold={cfg.data.val_fold} needs train videos "
                f"{lo}..{lo + k - 1} but the train split has {len(train_names)}; use a fold "
                f"below {len(train_names) // k}"
            )
        val_names = train_names[lo : lo + k]
        train_names = train_names[:lo] + train_names[lo + k :]
    train = [_load_video(location, n, root, cfg, need_video) for n in train_names]
    val = [_load_video(location, n, root, cfg, need_video) for n in val_names]
    val_subjects: dict[str, np.ndarray] = {}
    if cfg.data.val_subject_fraction > 0:
        for v in train:
            s = v.rs_xyz.shape[0]
            k = max(1, round(s * cfg.data.val_subject_fraction)) if s > 1 else 0
            rng = np.random.default_rng(cfg.seed + 7919)
            val_subjects[v.name] = np.sort(rng.permutation(s)[:k])
    if not val and not val_subjects:
        log.warning(
            "no validation data (data.val_videos=0, no val split): the last checkpoint is used"
        )
    return StoreData(location, root, train, val, val_subjects, float(root.resample.rate_hz))


# ---------------------------------------------------------------------------
# Windows of the 5 Hz series
# ---------------------------------------------------------------------------


def windows(
    videos: list[VideoData],
    history: int,
    horizon: int,
    subjects: dict[str, np.ndarray] | None = None,
    exclude: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """All complete ``(video, subject, origin)`` windows, shape ``(N, 3)`` int64.

    A window is kept when the ``history`` samples up to ``origin`` and the ``horizon``
    samples after it are all valid. ``subjects`` restricts, ``exclude`` removes subjects
    per video name.
    """
    rows = []
    for vi, v in enumerate(videos):
        ok = ~np.isnan(v.rs_xyz).any(-1)  # (S, T)
        s_n, t_n = ok.shape
        span = history + horizon
        if t_n < span:
            continue
        # Windows fully valid: sliding-window minimum via cumulative sums.
        bad = np.concatenate([np.zeros((s_n, 1)), np.cumsum(~ok, axis=1)], axis=1)
        nbad = bad[:, span:] - bad[:, :-span]  # (S, T - span + 1), start index i
        subj_ok = np.ones(s_n, dtype=bool)
        if subjects is not None and v.name in subjects:
            subj_ok[:] = False
            subj_ok[subjects[v.name]] = True
        if exclude is not None and v.name in exclude:
            subj_ok[exclude[v.name]] = False
        s_idx, start = np.nonzero((nbad == 0) & subj_ok[:, None])
        origin = start + history - 1
        rows.append(np.stack([np.full_like(s_idx, vi), s_idx, origin], 1))
    if not rows:
        return np.zeros((0, 3), dtype=np.int64)
    return np.concatenate(rows).astype(np.int64)


def gather_windows(
    videos: list[VideoData], idx: np.ndarray, history: int, horizon: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """History ``(B, history, 3)`` and future ``(B, horizon, 3)`` float64 tensors."""
    hist = np.empty((len(idx), history, 3))
    fut = np.empty((len(idx), horizon, 3))
    for j, (vi, s, o) in enumerate(idx):
        xyz = videos[vi].rs_xyz[s]
        hist[j] = xyz[o - history + 1 : o + 1]
        fut[j] = xyz[o + 1 : o + 1 + horizon]
    return torch.from_numpy(hist), torch.from_numpy(fut)


# ---------------------------------------------------------------------------
# Decoded frames held in memory
# ---------------------------------------------------------------------------


def random_channel_orders(n: int, gen: torch.Generator) -> torch.Tensor:
    """``n`` random orders of the three colour channels: ``(n, 3)`` int64, a permutation per row."""
    return torch.argsort(torch.rand(n, 3, generator=gen), dim=1)


def reorder_channels(views: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """``views (B, ..., 3k, H, W)`` with each sample's RGB channels put in ``order (B, 3)``.

    The channel axis is the third from last and holds ``k`` RGB frames one after another;
    every frame of sample ``b`` gets the same order ``order[b]`` (channel ``c`` of the result
    is input channel ``order[b, c]``). Colour augmentation: a policy or encoder that sees
    each sample in a random channel order cannot learn its training videos' colours, only
    what differs from the background.
    """
    b, c, h, w = views.shape[0], views.shape[-3], views.shape[-2], views.shape[-1]
    if c % 3:  # luma (or another non-RGB stack): nothing to reorder
        return views
    x = views.reshape(b, -1, 3, h, w)  # (B, frames, 3, H, W); c = 3k
    idx = order.to(views.device)[:, None, :, None, None].expand_as(x)
    return torch.gather(x, 2, idx).reshape(views.shape)


class FrameBank:
    """The frames a trainer needs, decoded once, resized, stacked as ``(F, C, h, w)`` float32.

    Args:
        videos: videos whose ``frame_rows`` this fills in.
        frames_needed: per video, the frame indices to decode.
        width: output width (height = width / 2), area-filtered.
        gray: decode luma only.
        device: where the bank lives.
        backend: :func:`pano.video.open_video` backend.

    """

    def __init__(
        self,
        videos: list[VideoData],
        frames_needed: list[np.ndarray],
        width: int,
        gray: bool,
        device: torch.device,
        backend: str = "auto",
    ) -> None:
        from pano.video import open_video

        parts = []
        row = 0
        for v, need in zip(videos, frames_needed, strict=True):
            need = np.unique(np.clip(need, 0, v.n_frames - 1))
            if v.path is None:
                raise ConfigError(f"video {v.name}: no video file to decode")
            with open_video(v.path, backend=backend, device="cpu", gray=gray) as dec:
                frames = dec.read(need.tolist())  # (N, C, H, W) uint8
            x = frames.to(torch.float32).div_(255.0)
            h = max(1, width // 2)
            if x.shape[-1] != width:
                x = F.interpolate(x, size=(h, width), mode="area")
            parts.append(x.to(device))
            rows = np.full(v.n_frames, -1, dtype=np.int64)
            rows[need] = np.arange(row, row + len(need))
            v.frame_rows = rows
            row += len(need)
        self.frames = (
            torch.cat(parts) if parts else torch.zeros(0, 1 if gray else 3, width // 2, width)
        )
        self.channels = int(self.frames.shape[1])

    def rows(self, video: VideoData, frames: np.ndarray) -> np.ndarray:
        """Bank rows of ``frames`` of ``video`` (nearest decoded frame if one is missing)."""
        assert video.frame_rows is not None
        r = video.frame_rows[np.clip(frames, 0, video.n_frames - 1)]
        if (r < 0).any():
            have = np.nonzero(video.frame_rows >= 0)[0]
            near = have[np.abs(have[None, :] - np.asarray(frames).reshape(-1, 1)).argmin(1)]
            r = np.where(r < 0, video.frame_rows[near].reshape(r.shape), r)
        return r
