"""Streaming the viewports subjects saw, straight from the decoded video (nothing on disk).

Data only: batches of tensors. Drawing them (contact sheets, grid videos: ``pano viewport``)
is :mod:`pano.pipelines.viewport`.

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

from pano.errors import ConfigError, InputFileNotFoundError, VideoError
from pano.fov import VIEWPORT_FOV, FoVLike
from pano.geometry import lonlat_to_vec
from pano.stores.reader import open_video_group
from pano.stores.schema import RootAttrs, VideoAttrs, VideoSource
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
    expect: VideoSource | None = None,
) -> Path:
    """The video file of a video group: ``videos_dir`` (or the store's videos folder) + ``rel``.

    With ``expect`` (the group's recorded :class:`VideoSource`) the file found must match
    the fingerprint recorded at ingest (size + SHA-256 of its first and last MiB,
    :func:`pano.probe.file_fingerprint`): another file under the same name is refused
    instead of being decoded as if it were the ingested video.

    With ``videos_dir`` only ``videos_dir / rel`` is tried (an override, never a guess).
    Otherwise, in order: the ``videos`` folder recorded in the store's provenance at
    ingest (source role ``"videos"``) + ``rel``; next to the store (``STORE/../rel`` and
    ``STORE/../videos/rel``). ``rel`` must be a plain relative path (no absolute path, no
    ``..``: :func:`pano.stores.names.relative_store_path`).

    Raises:
        InputFileNotFoundError: none exists (the message lists where it looked).
        StoreError: ``rel`` is absolute or escapes with ``..``.
        VideoError: the file's fingerprint differs from the recorded one.

    """
    from pano.stores.names import relative_store_path

    rel = str(relative_store_path(rel, "video.path"))  # never a file outside the folder
    cands: list[Path] = []
    if videos_dir is not None:
        cands.append(Path(videos_dir) / rel)
    else:
        cands += [Path(s.path) / rel for s in root_attrs.provenance.sources if s.role == "videos"]
        if location is not None and "://" not in str(location):
            loc = Path(location)
            cands += [loc.parent / rel, loc.parent / "videos" / rel]
    for c in cands:
        if c.is_file():
            if expect is not None:
                check_video_fingerprint(c, expect)
            return c
    raise InputFileNotFoundError(
        f"video file {rel!r} not found "
        f"(looked in {', '.join(str(c) for c in cands) or 'nowhere'}); "
        "pass videos_dir= / --videos-dir pointing at the folder of the videos"
    )


def check_video_fingerprint(path: Path, expect: VideoSource) -> None:
    """Refuse a video file whose fingerprint differs from the one recorded at ingest.

    Stores written before fingerprints were recorded (``expect.fingerprint`` None) pass;
    ``pano info --verify`` checks their full SHA-256.

    Raises:
        VideoError: one line naming the file and the recorded and found values.

    """
    from pano.probe import file_fingerprint

    if expect.fingerprint is None:
        return
    found = file_fingerprint(path)
    if found != expect.fingerprint:
        raise VideoError(
            f"{path}: not the video ingested under this name (recorded size:sha256-of-ends "
            f"{_short(expect.fingerprint)}, found {_short(found)}); put the original file back, "
            "or re-run `pano ingest --overwrite` with this one"
        )


def _short(fp: str) -> str:
    size, _, digest = fp.partition(":")
    return f"{size}:{digest[:12]}"


def _last_valid(valid: np.ndarray) -> np.ndarray:
    """``(M, T)`` bool -> ``(M, T)`` index of the latest valid sample at or before t (-1: none)."""
    t = np.arange(valid.shape[1])
    return np.maximum.accumulate(np.where(valid, t, -1), axis=1)


def stream_viewports(
    store: str | os.PathLike | xr.DataTree,
    video: str,
    subjects: Sequence[int] | None = None,
    fov_deg: FoVLike = VIEWPORT_FOV,
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
    if (
        not math.isfinite(start_s)
        or start_s < 0
        or (seconds is not None and (not math.isfinite(seconds) or seconds <= 0))
    ):
        raise ConfigError(
            f"need start_s >= 0 and seconds > 0, got start_s={start_s}, seconds={seconds}"
        )
    ds, root, location = open_video_group(store, video)
    va = VideoAttrs.from_attrs(dict(ds.attrs), where=f"videos/{video}")
    src = va.require_video(location, video, "viewport streaming")
    path = resolve_video_path(location, root, src.path, videos_dir, expect=src)
    fps, n_frames = float(src.fps), int(src.n_frames)
    # Traces (per-subject timestamps): one sample per frame, slerped at the frame times.
    spf = 1.0 if va.layout == "traces" else float(va.samples_per_frame or 1.0)

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
    if va.layout == "traces":
        lon, lat = _traces_per_frame(ds, pick, n_frames, fps)
        valid = np.isfinite(lon) & np.isfinite(lat)
    else:
        lon = np.asarray(ds["hm_lon"].values, dtype=np.float64)[pick]
        lat = np.asarray(ds["hm_lat"].values, dtype=np.float64)[pick]
        valid = (
            np.asarray(ds["hm_valid"].values, dtype=bool)[pick]
            & np.isfinite(lon)
            & np.isfinite(lat)
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
        ss = sf if va.layout == "traces" else np.asarray(ds["step_sample"].values, dtype=np.int64)
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


def _traces_per_frame(
    ds: Any, pick: np.ndarray, n_frames: int, fps: float
) -> tuple[np.ndarray, np.ndarray]:
    """Head ``(lon, lat)`` ``(len(pick), n_frames)`` degrees at each frame's time ``f / fps``.

    For a group of the ``traces`` layout (per-subject timestamps ``time (subject, sample)``,
    NaN-padded): each subject's unit vectors are slerped
    (:func:`pano.geometry.resample_directions`) at the frame times; NaN outside its trace.
    """
    from pano.geometry import resample_directions, vec_to_lonlat

    t_all = np.asarray(ds["time"].values, dtype=np.float64)[pick]
    xyz_all = np.asarray(ds["hm_xyz"].values, dtype=np.float64)[pick]
    frame_t = np.arange(n_frames, dtype=np.float64) / fps
    out = np.full((len(pick), n_frames, 3), np.nan)
    for i in range(len(pick)):
        n = int(np.isfinite(t_all[i]).sum())
        if n >= 2:
            out[i] = resample_directions(t_all[i, :n], xyz_all[i, :n], frame_t)
    lon, lat = vec_to_lonlat(out)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
