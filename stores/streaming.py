"""Streaming the viewports subjects saw, straight from the decoded video (nothing on disk).

:func:`stream_viewports` reads a video's head-movement samples from a pano store, decodes
the video (on the GPU where a GPU decoder is usable, else on the CPU with pinned,
non-blocking copies; decoding runs ahead in a background thread) and renders every chosen
subject's viewport of each frame with one batched :class:`pano.viewport.ViewportSampler`
call per frame.

Alignment (as DHP): frame ``f`` uses HM sample ``round(f * samples_per_frame)`` (rounding
half up, clipped to the last sample); with ``every="step"`` the store's own step grid
(``step_frame``, ``step_sample``) is used.

Missing samples: a subject whose sample is NaN gets ``valid=False``; its viewport is
rendered at its **last valid position** (the latest earlier valid sample of the whole
recording, not only of the streamed range) and ``xyz``/``lon``/``lat`` hold that position.
A subject with no earlier valid sample gets an all-zero viewport and NaN angles.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from pano.errors import ConfigError, InputFileNotFoundError, StoreError
from pano.geometry import lonlat_to_vec
from pano.stores.schema import COMPLETE_ATTR, VIDEOS_GROUP, RootAttrs, VideoAttrs
from pano.threads import hot_loop_threads

if TYPE_CHECKING:
    import xarray as xr

log = logging.getLogger("pano.stores")

__all__ = ["ViewportBatch", "resolve_video_path", "stream_viewports"]


@dataclass
class ViewportBatch:
    """The viewports of one video frame.

    Attributes:
        frame_index: video frame index.
        time_s: ``frame_index / fps`` seconds.
        sample_index: HM sample used (``round(frame_index * samples_per_frame)``).
        viewports: ``(M, C, h, w)`` float32 in ``[0, 1]`` on the stream's device
            (``C = 1`` with ``gray=True``).
        xyz: ``(M, 3)`` float32 unit vectors of the viewing directions used.
        lon, lat: ``(M,)`` float32 degrees (pano convention: lon positive LEFT).
        valid: ``(M,)`` bool, False where the subject's sample is NaN (see module doc).
        subjects: ``(M,)`` long subject indices (store coordinate ``subject``).
        frame: the decoded ERP frame ``(C, H, W)`` uint8 when ``with_frames=True``, else None.

    """

    frame_index: int
    time_s: float
    sample_index: int
    viewports: torch.Tensor
    xyz: torch.Tensor
    lon: torch.Tensor
    lat: torch.Tensor
    valid: torch.Tensor
    subjects: torch.Tensor
    frame: torch.Tensor | None = None


def resolve_video_path(
    location: str | os.PathLike | None,
    root_attrs: RootAttrs,
    rel: str,
    videos_dir: str | os.PathLike | None = None,
) -> Path:
    """The video file of a video group: ``videos_dir`` (or the store's videos folder) + ``rel``.

    With ``videos_dir`` only ``videos_dir / rel`` is tried (an override, never a guess).
    Otherwise, in order: ``rel`` if absolute; the ``videos`` folder recorded in the
    store's provenance at ingest (source role ``"videos"``) + ``rel``; next to the store
    (``STORE/../rel`` and ``STORE/../videos/rel``).

    Raises:
        InputFileNotFoundError: none exists (the message lists where it looked).

    """
    cands: list[Path] = []
    if videos_dir is not None:
        cands.append(Path(videos_dir) / rel)
    else:
        if Path(rel).is_absolute():
            cands.append(Path(rel))
        cands += [Path(s.path) / rel for s in root_attrs.provenance.sources if s.role == "videos"]
        if location is not None and "://" not in str(location):
            loc = Path(location)
            cands += [loc.parent / rel, loc.parent / "videos" / rel]
    for c in cands:
        if c.is_file():
            return c
    raise InputFileNotFoundError(
        f"video file {rel!r} not found "
        f"(looked in {', '.join(str(c) for c in cands) or 'nowhere'}); "
        "pass videos_dir= / --videos-dir pointing at the folder of the videos"
    )


def _open_video_group(store: Any, video: str) -> tuple[xr.Dataset, RootAttrs, str | None]:
    """The video's dataset, validated root attributes and the store location (None for trees)."""
    import xarray as xr

    if isinstance(store, xr.DataTree):
        root = RootAttrs.from_attrs(dict(store.attrs), where="store root")
        videos = store.children.get(VIDEOS_GROUP)
        if videos is None or video not in videos.children:
            have = sorted(videos.children) if videos is not None else []
            raise StoreError(f"store has no video {video!r}; it has {have or 'no videos'}")
        ds = videos[video].to_dataset()
        if ds.attrs.get(COMPLETE_ATTR) is not True:
            raise StoreError(f"videos/{video} is incomplete (re-run the ingest to finish it)")
        return ds, root, None
    from pano.stores.reader import open_video, read_root_attrs

    return open_video(store, video), read_root_attrs(store), str(store)


def _last_valid(valid: np.ndarray) -> np.ndarray:
    """``(M, T)`` bool -> ``(M, T)`` index of the latest valid sample at or before t (-1: none)."""
    t = np.arange(valid.shape[1])
    return np.maximum.accumulate(np.where(valid, t, -1), axis=1)


def stream_viewports(
    store: str | os.PathLike | xr.DataTree,
    video: str,
    subjects: Sequence[int] | None = None,
    fov_deg: float | Sequence[float] = (90.0, 90.0),
    size: int | Sequence[int] = (224, 224),
    every: Literal["frame", "step"] = "frame",
    device: str | torch.device = "auto",
    backend: str = "auto",
    gray: bool = False,
    start_s: float = 0.0,
    seconds: float | None = None,
    prefetch: int = 4,
    videos_dir: str | os.PathLike | None = None,
    mode: str = "bilinear",
    antialias: bool = True,
    frames: Sequence[int] | None = None,
    with_frames: bool = False,
) -> Iterator[ViewportBatch]:
    """Yield the subjects' viewports frame by frame, decoded and rendered on the fly.

    Args:
        store: store path/URL, or a tree from :func:`pano.stores.open_store`. Only
            complete video groups are read.
        video: video group name.
        subjects: subject indices (store coordinate ``subject``); default all.
        fov_deg, size, mode, antialias: viewport camera, see :class:`pano.viewport.ViewportSampler`.
        every: ``"frame"`` (every video frame) or ``"step"`` (the ground-truth steps).
        device: ``"auto"``, ``"cpu"``, ``"cuda[:N]"``.
        backend: decoder backend, see :func:`pano.video.open_video`.
        gray: luma viewports ``(M, 1, h, w)`` (decoded as luma: the Y plane as coded
            where the backend can, with its black/white levels applied by the sampler).
        start_s, seconds: time range; default from 0 to the end.
        prefetch: frames decoded ahead in a background thread (0: decode inline). On the
            CPU the sampler then keeps one core free for the decoder (pano's thread policy,
            :mod:`pano.threads`, with ``reserve=1``; restored between batches).
        videos_dir: folder of the video files (default: the one recorded at ingest, see
            :func:`resolve_video_path`).
        frames: explicit increasing frame indices to render instead of ``every`` /
            ``start_s`` / ``seconds`` (e.g. a few frames for a contact sheet).
        with_frames: also return each decoded ERP frame (``ViewportBatch.frame``).

    Yields:
        :class:`ViewportBatch` per frame, in frame order.

    Raises:
        StoreError: no such (complete) video; StoreNotFoundError: no store.
        InputFileNotFoundError: the video file is not found; VideoError: it cannot be decoded.
        ConfigError: bad ``every``, ``subjects``, time range.

    """
    from pano.device import resolve_device
    from pano.video import Prefetcher, open_video
    from pano.viewport import ViewportSampler

    if every not in ("frame", "step"):
        raise ConfigError(f"every must be 'frame' or 'step', got {every!r}")
    if start_s < 0 or (seconds is not None and seconds <= 0):
        raise ConfigError(
            f"need start_s >= 0 and seconds > 0, got start_s={start_s}, seconds={seconds}"
        )
    ds, root, location = _open_video_group(store, video)
    va = VideoAttrs.from_attrs(dict(ds.attrs), where=f"videos/{video}")
    path = resolve_video_path(location, root, va.video.path, videos_dir)
    fps, n_frames, spf = float(va.video.fps), int(va.video.n_frames), float(va.samples_per_frame)

    all_subjects = np.asarray(ds["subject"].values, dtype=np.int64)
    if subjects is None:
        pick = np.arange(all_subjects.size)
    else:
        wanted = np.asarray(list(subjects), dtype=np.int64).reshape(-1)
        pos = {int(s): i for i, s in enumerate(all_subjects)}
        missing = [int(s) for s in wanted if int(s) not in pos]
        if missing or wanted.size == 0:
            raise ConfigError(
                f"videos/{video}: subjects {missing or '[]'} not in the store "
                f"(it has 0..{all_subjects.size - 1})"
            )
        pick = np.array([pos[int(s)] for s in wanted])
    lon = np.asarray(ds["hm_lon"].values, dtype=np.float64)[pick]
    lat = np.asarray(ds["hm_lat"].values, dtype=np.float64)[pick]
    valid = (
        np.asarray(ds["hm_valid"].values, dtype=bool)[pick] & np.isfinite(lon) & np.isfinite(lat)
    )
    n_samples = lon.shape[1]
    last = _last_valid(valid)

    f0 = math.floor(start_s * fps + 0.5)
    f1 = n_frames if seconds is None else min(n_frames, math.floor((start_s + seconds) * fps + 0.5))
    if frames is not None:
        frame_ids = np.asarray(list(frames), dtype=np.int64).reshape(-1)
        if frame_ids.size and (
            frame_ids.min() < 0 or frame_ids.max() >= n_frames or np.any(np.diff(frame_ids) <= 0)
        ):
            raise ConfigError(
                f"videos/{video}: frames must increase strictly within [0, {n_frames}), "
                f"got {frame_ids.tolist()[:8]}"
            )
        samples = np.minimum(np.floor(frame_ids * spf + 0.5).astype(np.int64), n_samples - 1)
    elif every == "frame":
        frame_ids = np.arange(f0, f1, dtype=np.int64)
        samples = np.minimum(np.floor(frame_ids * spf + 0.5).astype(np.int64), n_samples - 1)
    else:
        sf = np.asarray(ds["step_frame"].values, dtype=np.int64)
        ss = np.asarray(ds["step_sample"].values, dtype=np.int64)
        keep = (sf >= f0) & (sf < f1)
        frame_ids, samples = sf[keep], ss[keep]
    if frame_ids.size == 0:
        raise ConfigError(
            f"videos/{video}: no frames from {start_s:g} s for "
            f"{'the rest' if seconds is None else f'{seconds:g} s'} "
            f"(the video has {n_frames} frames at {fps:g} fps)"
        )

    dev = resolve_device(device)
    sampler = ViewportSampler(fov_deg=fov_deg, size=size, mode=mode, antialias=antialias)
    # Luma as coded (no full-frame range conversion): the sampler maps the levels on its
    # small pre-filtered level. Frames handed to the caller stay full range.
    coded = gray and not with_frames
    decoder = open_video(
        path, backend=backend, device=dev, gray=gray, luma="coded" if coded else "full"
    )
    if len(decoder) != n_frames:
        log.warning(
            "%s: the file has %d frames, the store recorded %d", path.name, len(decoder), n_frames
        )
    step = int(frame_ids[1] - frame_ids[0]) if frame_ids.size > 1 else 1
    regular = step >= 1 and bool(np.all(np.diff(frame_ids) == step))
    source: Any = (
        decoder.iter_frames(int(frame_ids[0]), int(frame_ids[-1]) + 1, step)
        if regular
        else (decoder.read([int(f)])[0] for f in frame_ids)
    )
    stream: Any = Prefetcher(source, depth=prefetch) if prefetch > 0 else source
    subj_t = torch.as_tensor(all_subjects[pick], device=dev)
    # On the CPU the decoding thread needs a core: sampling with every core makes torch's
    # thread team wait on the decoder at each op (measured 3x slower on 2 cores). The
    # sampler runs under pano's thread policy with that core reserved.
    reserve = 1 if dev.type == "cpu" and prefetch > 0 else 0
    k = -1
    try:
        for k, frame in enumerate(stream):
            if k >= frame_ids.size:
                break
            s = int(samples[k])
            at = last[:, s]
            has = at >= 0
            rows = np.arange(at.size)
            plon = np.where(has, lon[rows, np.maximum(at, 0)], np.nan)
            plat = np.where(has, lat[rows, np.maximum(at, 0)], np.nan)
            with hot_loop_threads(device=dev, reserve=reserve):
                levels = decoder.luma_levels if coded else None
                views = sampler(frame, np.nan_to_num(plon), np.nan_to_num(plat), levels=levels)
            if not has.all():
                views[torch.as_tensor(~has, device=views.device)] = 0.0
            xyz = lonlat_to_vec(plon, plat)
            yield ViewportBatch(
                frame_index=int(frame_ids[k]),
                time_s=float(frame_ids[k]) / fps,
                sample_index=s,
                viewports=views,
                xyz=torch.as_tensor(xyz, dtype=torch.float32).to(dev, non_blocking=True),
                lon=torch.as_tensor(plon, dtype=torch.float32).to(dev, non_blocking=True),
                lat=torch.as_tensor(plat, dtype=torch.float32).to(dev, non_blocking=True),
                valid=torch.as_tensor(valid[:, s]).to(dev, non_blocking=True),
                subjects=subj_t,
                frame=frame if with_frames else None,
            )
        if k + 1 < frame_ids.size:
            log.warning(
                "%s: decoding ended after %d of %d frames", path.name, k + 1, frame_ids.size
            )
    finally:
        if isinstance(stream, Prefetcher):
            stream.close()
        decoder.close()


# ---------------------------------------------------------------------------- pictures

#: Default number of subjects drawn by :func:`render_viewports` (and ``pano viewport``).
DEFAULT_RENDER_SUBJECTS = 4


def _colors(n: int) -> list[tuple[float, float, float]]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return [tuple(cmap(k % 10)[:3]) for k in range(n)]  # type: ignore[misc]


class _Panel:
    """One ERP frame with the subjects' positions and viewport outlines, plus their tiles.

    With ``animated=True`` every per-frame artist is left out of full redraws, so a video
    draws the static parts (axes, ticks, titles) once and blits only what changes.
    """

    def __init__(
        self,
        fig: Any,
        erp_spec: Any,
        tile_specs: list[Any],
        labels: list[str],
        fov: tuple[float, float],
        animated: bool = False,
    ) -> None:
        from pano.stores.accessor import _erp_axes

        self.fig, self.fov, self.animated = fig, fov, animated
        self.colors = _colors(len(labels))
        self.ax = fig.add_subplot(erp_spec)
        self.img = self.ax.imshow(
            np.zeros((2, 4, 3)), extent=(180, -180, -90, 90), interpolation="antialiased",
            animated=animated,
        )  # fmt: skip
        _erp_axes(self.ax)
        self.ax.set_xticks(np.arange(180, -181, -90))
        self.ax.set_aspect("equal")
        self.title = self.ax.text(
            0.5, 1.03, "", transform=self.ax.transAxes, ha="center", va="bottom", fontsize=9,
            animated=animated,
        )  # fmt: skip
        self.dots = self.ax.scatter(
            np.zeros(len(labels)), np.zeros(len(labels)), s=46, c=self.colors, edgecolors="white",
            linewidths=1.2, zorder=4, animated=animated,
        )  # fmt: skip
        box = {"facecolor": "white", "alpha": 0.7, "pad": 1, "edgecolor": "none"}
        self.names = [
            self.ax.text(0, 0, lab.split()[0], color=c, fontsize=8, fontweight="bold", zorder=5,
                         ha="center", va="center", bbox=box, animated=animated)
            for lab, c in zip(labels, self.colors, strict=True)
        ]  # fmt: skip
        self.outlines: list[Any] = []
        self.tile_imgs, self.tile_texts = [], []
        for spec, lab, c in zip(tile_specs, labels, self.colors, strict=True):
            ax = fig.add_subplot(spec)
            self.tile_imgs.append(
                ax.imshow(np.zeros((2, 2, 3)), interpolation="nearest", animated=animated)
            )
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_color(c)
                side.set_linewidth(3)
            ax.set_title(lab, color=c, fontsize=9, fontweight="bold")
            self.tile_texts.append(
                ax.text(0.5, -0.04, "", transform=ax.transAxes, ha="center", va="top",
                        fontsize=7, animated=animated)
            )  # fmt: skip

    def artists(self) -> list[Any]:
        """The artists that change from frame to frame (drawn by :meth:`blit`)."""
        return [self.img, *self.outlines, self.dots, *self.names, self.title, *self.tile_imgs,
                *self.tile_texts]  # fmt: skip

    def update(self, batch: ViewportBatch, title: str) -> None:
        """Show ``batch`` (which must carry its frame)."""
        from pano.stores.accessor import split_seam
        from pano.viewport import viewport_outline

        if batch.frame is None:
            raise ValueError("render needs batches streamed with with_frames=True")
        img = batch.frame.detach().cpu().permute(1, 2, 0).numpy()
        self.img.set_data(np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img)
        self.title.set_text(title)
        lon, lat = batch.lon.cpu().numpy(), batch.lat.cpu().numpy()
        valid = batch.valid.cpu().numpy()
        self.dots.set_offsets(np.stack([np.nan_to_num(lon), np.nan_to_num(lat)], -1))
        self.dots.set_facecolors(
            [c if v else (1, 1, 1) for c, v in zip(self.colors, valid, strict=True)]
        )
        for line in self.outlines:
            line.remove()
        self.outlines = []
        views = batch.viewports.detach().float().clamp(0, 1).cpu().permute(0, 2, 3, 1).numpy()
        for k, name in enumerate(self.names):
            has = bool(np.isfinite(lon[k]))
            name.set_visible(has)
            if has:  # labels fan out around the dot so clustered subjects stay readable
                ang = 2.0 * math.pi * k / len(self.names) + math.pi / 4.0
                name.set_position((lon[k] + 16.0 * math.cos(ang), lat[k] + 11.0 * math.sin(ang)))
                ol, la = viewport_outline(float(lon[k]), float(lat[k]), 0.0, self.fov, n=24)
                for seg_lon, seg_lat in split_seam(ol, la):
                    (line,) = self.ax.plot(
                        seg_lon,
                        seg_lat,
                        color=self.colors[k],
                        lw=1.2,
                        zorder=3,
                        animated=self.animated,
                    )
                    self.outlines.append(line)
            v = views[k]
            self.tile_imgs[k].set_data(np.repeat(v, 3, axis=2) if v.shape[2] == 1 else v)
            where = f"lon {lon[k]:+.0f}, lat {lat[k]:+.0f}" if has else "no position yet"
            self.tile_texts[k].set_text(where + ("" if valid[k] else " (NaN: last)"))

    def blit(self, background: Any) -> np.ndarray:
        """Draw the changing artists over the static ``background``; RGB uint8 of the figure."""
        canvas = self.fig.canvas
        canvas.restore_region(background)
        for artist in self.artists():
            self.fig.draw_artist(artist)
        return np.asarray(canvas.buffer_rgba())[..., :3]


def render_viewports(
    store: str | os.PathLike | xr.DataTree,
    video: str,
    out: str | os.PathLike,
    subjects: Sequence[int] | None = None,
    fov_deg: float | Sequence[float] = (90.0, 90.0),
    size: int | Sequence[int] = (224, 224),
    start_s: float = 0.0,
    seconds: float | None = None,
    videos_dir: str | os.PathLike | None = None,
    rows: int = 4,
    device: str | torch.device = "auto",
    backend: str = "auto",
) -> Path:
    """Draw what the subjects saw: a contact sheet (``.png``) or a grid video (``.mp4``).

    Each panel shows the ERP frame with every subject's head direction (a dot, white when
    the sample is missing) and viewport outline in the subject's colour, next to the
    subjects' viewport tiles framed in the same colours. A ``.png`` has ``rows`` panels at
    evenly spaced frames of the range; an ``.mp4`` has one panel per frame of the range,
    at the video's frame rate.

    Args:
        store, video, fov_deg, size, start_s, seconds, videos_dir, device, backend: as for
            :func:`stream_viewports`.
        out: output file, ``.png`` or ``.mp4`` (parent folders are created).
        subjects: subject indices; default the first :data:`DEFAULT_RENDER_SUBJECTS`.
        rows: panels of a ``.png`` contact sheet.

    Returns:
        The written path.

    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec

    out = Path(out)
    kind = out.suffix.lower()
    if kind not in (".png", ".mp4"):
        raise ConfigError(f"{out}: the output must end in .png (contact sheet) or .mp4 (video)")
    if rows < 1:
        raise ConfigError(f"rows must be >= 1, got {rows}")
    ds, root, _ = _open_video_group(store, video)
    va = VideoAttrs.from_attrs(dict(ds.attrs), where=f"videos/{video}")
    if subjects is None:
        subjects = list(range(min(DEFAULT_RENDER_SUBJECTS, int(ds.sizes["subject"]))))
    subjects = list(subjects)
    ids = root.subjects
    labels = [
        f"S{s}" + (f" ({ids[s]})" if s < len(ids) and ids[s] != str(s) else "") for s in subjects
    ]
    fov = _fov_pair(fov_deg)
    fps, n_frames = float(va.video.fps), int(va.video.n_frames)
    kw: dict[str, Any] = {
        "subjects": subjects, "fov_deg": fov, "size": size, "device": device, "backend": backend,
        "videos_dir": videos_dir, "with_frames": True,
    }  # fmt: skip
    n_tiles = len(subjects)
    per_row = min(n_tiles, 6)
    tile_rows = -(-n_tiles // per_row)
    out.parent.mkdir(parents=True, exist_ok=True)

    def title(b: ViewportBatch) -> str:
        return (
            f"{video}  frame {b.frame_index}  t = {b.time_s:.2f} s  (FoV {fov[0]:g}x{fov[1]:g} deg)"
        )

    if kind == ".png":
        f0 = math.floor(start_s * fps + 0.5)
        f1 = (
            n_frames
            if seconds is None
            else min(n_frames, math.floor((start_s + seconds) * fps + 0.5))
        )
        if f1 <= f0:
            raise ConfigError(
                f"videos/{video}: no frames from {start_s:g} s (the video has {n_frames} frames)"
            )
        picks = np.unique(np.linspace(f0, f1 - 1, rows).round().astype(int)).tolist()
        fig = plt.figure(figsize=(4.2 + 1.9 * per_row, 2.3 * max(tile_rows, 1.2) * len(picks)))
        grid = GridSpec(len(picks) * tile_rows, 2 + per_row, figure=fig, wspace=0.15, hspace=0.55)
        batches = stream_viewports(store, video, frames=picks, **kw)
        for r, batch in enumerate(batches):
            erp = grid[r * tile_rows : (r + 1) * tile_rows, :2]
            specs = [grid[r * tile_rows + i // per_row, 2 + i % per_row] for i in range(n_tiles)]
            _Panel(fig, erp, specs, labels, fov).update(batch, title(batch))
        fig.savefig(out, dpi=110, bbox_inches="tight")
        plt.close(fig)
        return out

    from pano.testing.video import make_video

    dpi = 100
    width_in = 1.0 + 1.9 * per_row
    erp_h = (width_in - 1.0) / 2.0
    fig = plt.figure(figsize=(width_in, erp_h + 2.1 * tile_rows + 1.2), dpi=dpi)
    grid = GridSpec(
        2, 1, figure=fig, height_ratios=[erp_h, 2.1 * tile_rows], hspace=0.3,
        left=0.1, right=0.97, top=0.95, bottom=0.04,
    )  # fmt: skip
    sub = grid[1].subgridspec(tile_rows, per_row, wspace=0.12, hspace=0.35)
    specs = [sub[i // per_row, i % per_row] for i in range(n_tiles)]
    panel = _Panel(fig, grid[0], specs, labels, fov, animated=True)
    fig.canvas.draw()
    background = fig.canvas.copy_from_bbox(fig.bbox)  # type: ignore[attr-defined]

    def frames() -> Iterator[np.ndarray]:
        for batch in stream_viewports(store, video, start_s=start_s, seconds=seconds, **kw):
            panel.update(batch, title(batch))
            rgb = panel.blit(background)
            h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2  # yuv420p needs even sizes
            yield np.ascontiguousarray(rgb[:h, :w])

    try:
        make_video(out, frames(), fps=fps, crf=20)
    finally:
        plt.close(fig)
    return out


def _fov_pair(fov_deg: float | Sequence[float]) -> tuple[float, float]:
    if isinstance(fov_deg, (int, float)):
        return float(fov_deg), float(fov_deg)
    a, b = fov_deg
    return float(a), float(b)
