"""A synthetic data set in exactly PVS-HM's file formats.

:func:`write_synthetic_dataset` writes into one folder:

``<file stem>.mp4`` (one per video)
    H.264 (libx264, yuv420p) equirectangular video, ``width x width/2`` pixels,
    ``round(seconds * fps)`` frames at ``fps``. A textured, seamless background with 2-3
    bright coloured discs (targets) moving on smooth, nearly great-circle paths at
    10-40 deg/s; every frame carries its index as a barcode in the top-left corner
    (:func:`pano.synth.decode_barcode`). File stems are the PVS-HM video names except
    ``NotBeAloneTonight`` -> ``Let'sNotBeAloneTonight.mp4`` (as in the real data).

``FULLdata_per_video_frame.mat`` (head movement, HM)
    MATLAB v5 file (``scipy.io.savemat``), one variable per video named after the video,
    float64 ``[n_samples, 2 * n_subjects]`` with ``n_samples = n_frames *
    samples_per_frame``: column ``2k`` = latitude, column ``2k + 1`` = longitude of subject
    ``k``'s head direction, in degrees, origin at the front centre, UP and LEFT positive
    (pano's convention = PVS-HM's). Sample ``j`` is at time ``j / (fps *
    samples_per_frame)`` s; frame ``f`` shows time ``f / fps`` (= sample ``f *
    samples_per_frame``). A few entries are NaN (both columns of a subject at a sample,
    never at sample 0), like the real file.

``EMdata_per_video_frame.mat`` (eye movement, EM; unless ``em=False``)
    The SAME layout, variables and sample times as the HM file; each pair of columns is
    the subject's GAZE direction (latitude, longitude, degrees) in world/panorama
    coordinates: the head direction plus an eye-in-head offset within ±30° made of
    fixations (hundreds of ms) and saccades (tens of ms, peaks of several hundred deg/s).
    Its NaNs are placed independently of the HM file's.

``manifest.json``
    The config, and per video: name (= ``.mat`` variable), file, fps, n_frames, width,
    height, samples_per_frame, n_samples, DHP split, each target's position per frame
    (pano lon/lat degrees, radius, colour, role) and per subject the attention segments
    (which target the head follows over which samples; -1 = none). See
    :class:`SynthManifest`.

Subjects start looking near the front centre, follow targets with a lag of 0.3-0.75 s,
switch targets every few seconds and prefer the equator (see :mod:`pano.synth.heads`).
The same config (incl. ``seed``) gives identical ``.mat`` files and manifest.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, field_validator, model_validator

from pano.config import PanoConfig
from pano.errors import ConfigError, StoreExistsError, UnknownKeyError
from pano.geometry import vec_to_lonlat
from pano.pvs_hm_facts import PVS_HM_VIDEOS, dhp_split, video_file_stem
from pano.synth.barcode import MAX_INDEX
from pano.synth.frames import make_background, render_frame_yuv420p
from pano.synth.gaze import simulate_gaze
from pano.synth.heads import simulate_heads
from pano.synth.targets import default_target_specs, simulate_targets
from pano.video.writer import X264Preset, make_video, rgb_to_yuv420p

HM_FILE = "FULLdata_per_video_frame.mat"
EM_FILE = "EMdata_per_video_frame.mat"
MANIFEST_FILE = "manifest.json"

#: The first six synthetic videos: four DHP training videos, then two test videos.
DEFAULT_VIDEOS: tuple[str, ...] = (
    "A380",
    "Camping",
    "NotBeAloneTonight",
    "Surfing",
    "KingKong",
    "Dancing",
)


def synthetic_video_names(n: int) -> list[str]:
    """Names of the first ``n`` synthetic videos: :data:`DEFAULT_VIDEOS`, then PVS-HM order."""
    rest = [v for v in PVS_HM_VIDEOS if v not in DEFAULT_VIDEOS]
    return [*DEFAULT_VIDEOS, *rest][:n]


class SynthConfig(PanoConfig):
    """Size and randomness of a synthetic PVS-HM-format data set (defaults: small and fast)."""

    videos: int = Field(
        default=6, ge=1, le=len(PVS_HM_VIDEOS), description="number of videos (PVS-HM names)"
    )
    subjects: int = Field(default=12, ge=1, le=1000, description="subjects per video (PVS-HM: 58)")
    seconds: float = Field(default=10.0, gt=0, le=3600, description="video length in seconds")
    width: int = Field(default=640, ge=128, le=8192, description="frame width; height = width // 2")
    fps: float = Field(default=30.0, gt=0, le=240, description="frames per second")
    seed: int = Field(default=0, ge=0, description="random seed (same seed -> same data)")
    samples_per_frame: int = Field(
        default=2, ge=1, le=16, description="HM/EM samples per video frame (PVS-HM: 2)"
    )
    em: bool = Field(default=True, description="also write the eye-movement file")
    nan_fraction: float = Field(
        default=0.002, ge=0, le=0.5, description="fraction of (sample, subject) entries set to NaN"
    )
    crf: int = Field(
        default=18, ge=0, le=51, description="x264 constant rate factor (quality; lower is better)"
    )
    preset: X264Preset = Field(default="veryfast", description="x264 speed preset")

    @field_validator("width")
    @classmethod
    def _width_multiple_of_4(cls, v: int) -> int:
        if v % 4:
            raise ConfigError("must be a multiple of 4 so that width and height = width/2 are even")
        return v

    @model_validator(mode="after")
    def _frames_fit(self) -> SynthConfig:
        n = self.n_frames
        if n < 2:
            raise ConfigError(f"seconds * fps gives {n} frame(s); at least 2 are needed")
        if n > MAX_INDEX + 1:
            raise ConfigError(
                f"seconds * fps gives {n} frames; the barcode holds at most {MAX_INDEX + 1}"
            )
        return self

    @property
    def height(self) -> int:
        """Frame height in pixels (``width // 2``)."""
        return self.width // 2

    @property
    def n_frames(self) -> int:
        """Frames per video: ``round(seconds * fps)``."""
        return round(self.seconds * self.fps)

    @property
    def n_samples(self) -> int:
        """HM/EM samples per video: ``n_frames * samples_per_frame``."""
        return self.n_frames * self.samples_per_frame

    @property
    def sample_rate(self) -> float:
        """HM/EM samples per second."""
        return self.fps * self.samples_per_frame


class SynthTarget(BaseModel):
    """One moving target of a synthetic video; positions per FRAME, pano degrees."""

    id: int
    role: str
    radius_deg: float
    color: tuple[int, int, int]
    lon: list[float]
    lat: list[float]


class AttentionSegment(BaseModel):
    """Samples ``[start, end)`` during which a subject's head follows ``target`` (-1: none)."""

    start: int
    end: int
    target: int


class SynthVideo(BaseModel):
    """One video of a synthetic data set."""

    name: str
    file: str
    fps: float
    n_frames: int
    width: int
    height: int
    samples_per_frame: int
    n_samples: int
    split: Literal["train", "test"]
    targets: list[SynthTarget]
    attention: list[list[AttentionSegment]]

    def target_lonlat(self, target: int) -> np.ndarray:
        """``(n_frames, 2)`` pano ``(lon, lat)`` degrees of one target per frame."""
        t = self.targets[target]
        return np.stack([np.asarray(t.lon), np.asarray(t.lat)], -1)

    def attention_per_sample(self) -> np.ndarray:
        """``(n_subjects, n_samples)`` int: attended target per sample (-1 none)."""
        out = np.full((len(self.attention), self.n_samples), -1, dtype=np.int64)
        for s, segs in enumerate(self.attention):
            for seg in segs:
                out[s, seg.start : seg.end] = seg.target
        return out


class SynthManifest(BaseModel):
    """What :func:`write_synthetic_dataset` wrote (also saved as ``manifest.json``)."""

    format: Literal["pano-synthetic-pvs-hm"] = "pano-synthetic-pvs-hm"
    format_version: int = 1
    config: SynthConfig
    hm_file: str = HM_FILE
    em_file: str | None = EM_FILE
    convention: str = (
        "HM/EM .mat: per video float64 [n_samples, 2*subjects], column 2k = latitude, 2k+1 = "
        "longitude of subject k, degrees, origin front centre, UP and LEFT positive; "
        "sample j at time j / (fps * samples_per_frame)"
    )
    videos: list[SynthVideo]

    @classmethod
    def load(cls, path: str | Path) -> SynthManifest:
        """Read a ``manifest.json`` (or the one inside a data-set folder)."""
        path = Path(path)
        if path.is_dir():
            path = path / MANIFEST_FILE
        return cls.model_validate_json(path.read_text(encoding="utf-8"))

    def video(self, name: str) -> SynthVideo:
        """The video called ``name`` (the ``.mat`` variable name)."""
        for v in self.videos:
            if v.name == name:
                return v
        raise UnknownKeyError(
            f"no video {name!r} in the manifest; have {[v.name for v in self.videos]}"
        )


def _rngs(seed: int, video: int) -> dict[str, np.random.Generator]:
    """Independent random streams per video and purpose (so ``em=False`` keeps the HM)."""
    names = ("targets", "background", "heads", "gaze", "hm_nan", "em_nan")
    return {k: np.random.default_rng([seed, video, i]) for i, k in enumerate(names)}


def _segments(att: np.ndarray) -> list[AttentionSegment]:
    change = np.nonzero(np.diff(att))[0] + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [att.size]])
    return [
        AttentionSegment(start=int(a), end=int(b), target=int(att[a]))
        for a, b in zip(starts, ends, strict=True)
    ]


def _to_mat_columns(vecs: np.ndarray) -> np.ndarray:
    """``(S, N, 3)`` unit vectors -> ``(N, 2S)`` float64 [lat, lon] per subject."""
    lon, lat = vec_to_lonlat(vecs)
    out = np.empty((vecs.shape[1], 2 * vecs.shape[0]))
    out[:, 0::2] = lat.T
    out[:, 1::2] = lon.T
    return out


def _add_nans(data: np.ndarray, fraction: float, rng: np.random.Generator) -> None:
    """Set ``fraction`` of the (sample, subject) pairs to NaN (both columns), never sample 0."""
    n, s2 = data.shape
    s = s2 // 2
    if fraction <= 0 or n < 2:
        return
    count = max(1, round(fraction * (n - 1) * s))
    flat = rng.choice((n - 1) * s, size=min(count, (n - 1) * s), replace=False)
    rows, subj = 1 + flat // s, flat % s
    data[rows, 2 * subj] = np.nan
    data[rows, 2 * subj + 1] = np.nan


def _simulate_video(index: int, name: str, cfg: SynthConfig) -> dict[str, Any]:
    """Targets, heads and gaze of one video (no files)."""
    rng = _rngs(cfg.seed, index)
    dt = 1.0 / cfg.sample_rate
    specs = default_target_specs(index, rng["targets"])
    targets = simulate_targets(specs, cfg.n_samples, dt, rng["targets"])
    heads, attention = simulate_heads(targets, dt, cfg.subjects, rng["heads"])
    hm = _to_mat_columns(heads)
    _add_nans(hm, cfg.nan_fraction, rng["hm_nan"])
    em = None
    if cfg.em:
        gaze = simulate_gaze(heads, targets, attention, dt, rng["gaze"])
        em = _to_mat_columns(gaze)
        _add_nans(em, cfg.nan_fraction, rng["em_nan"])
    frame_vecs = targets[:, :: cfg.samples_per_frame]
    tlon, tlat = vec_to_lonlat(frame_vecs)
    video = SynthVideo(
        name=name,
        file=video_file_stem(name) + ".mp4",
        fps=cfg.fps,
        n_frames=cfg.n_frames,
        width=cfg.width,
        height=cfg.height,
        samples_per_frame=cfg.samples_per_frame,
        n_samples=cfg.n_samples,
        split=dhp_split(name),
        targets=[
            SynthTarget(
                id=k, role=sp.role, radius_deg=round(sp.radius_deg, 6), color=sp.color,
                lon=np.round(tlon[k], 6).tolist(), lat=np.round(tlat[k], 6).tolist(),
            )
            for k, sp in enumerate(specs)
        ],
        attention=[_segments(a) for a in attention],
    )  # fmt: skip
    return {"video": video, "hm": hm, "em": em, "rng_bg": rng["background"]}


def _render_video(
    path: Path, video: SynthVideo, cfg: SynthConfig, rng_bg: np.random.Generator
) -> None:
    background = rgb_to_yuv420p(make_background(cfg.width, cfg.height, rng_bg))
    lonlat = np.stack([video.target_lonlat(k) for k in range(len(video.targets))], 0)  # (T, F, 2)
    radii = [t.radius_deg for t in video.targets]
    colors = [t.color for t in video.targets]
    make_video(
        path,
        lambda f: render_frame_yuv420p(background, lonlat[:, f], radii, colors, index=f),
        cfg.fps,
        n_frames=cfg.n_frames,
        crf=cfg.crf,
        preset=cfg.preset,
        pix_fmt="yuv420p",
    )


def write_synthetic_dataset(
    out_dir: str | Path,
    cfg: SynthConfig | None = None,
    *,
    overwrite: bool = False,
    workers: int | None = None,
) -> SynthManifest:
    """Write a synthetic PVS-HM-format data set (videos, HM/EM ``.mat``, manifest) to ``out_dir``.

    Args:
        out_dir: folder to write (created if missing).
        cfg: sizes and seed (default :class:`SynthConfig`).
        overwrite: replace a data set already in ``out_dir`` (one with a manifest).
            Without it, such a folder raises :class:`pano.errors.StoreExistsError`.
        workers: threads rendering/encoding videos in parallel (default: CPU count, at
            most 4); does not change the output.

    Returns:
        The :class:`SynthManifest`, also written to ``out_dir/manifest.json`` - last, so
        a folder without it holds an incomplete data set.

    """
    import scipy.io

    cfg = cfg if cfg is not None else SynthConfig()
    out = Path(out_dir)
    manifest_path = out / MANIFEST_FILE
    if manifest_path.exists():
        if not overwrite:
            raise StoreExistsError(
                f"{out}: already holds a synthetic data set ({MANIFEST_FILE}); "
                "pass --overwrite (overwrite=True) or choose another folder"
            )
        _remove_previous(out)
    if out.exists() and not out.is_dir():
        raise StoreExistsError(f"{out}: exists and is not a folder; choose another output folder")
    out.mkdir(parents=True, exist_ok=True)
    names = synthetic_video_names(cfg.videos)
    n_workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    n_workers = max(1, min(n_workers, len(names)))

    def one(i: int) -> dict[str, Any]:
        sim = _simulate_video(i, names[i], cfg)
        _render_video(out / sim["video"].file, sim["video"], cfg, sim.pop("rng_bg"))
        return sim

    if n_workers == 1:
        results = [one(i) for i in range(len(names))]
    else:
        with ThreadPoolExecutor(n_workers) as pool:
            results = list(pool.map(one, range(len(names))))
    scipy.io.savemat(out / HM_FILE, {r["video"].name: r["hm"] for r in results}, format="5")
    if cfg.em:
        scipy.io.savemat(out / EM_FILE, {r["video"].name: r["em"] for r in results}, format="5")
    manifest = SynthManifest(
        config=cfg, em_file=EM_FILE if cfg.em else None, videos=[r["video"] for r in results]
    )
    manifest_path.write_text(manifest.model_dump_json(indent=1), encoding="utf-8")
    return manifest


def _remove_previous(out: Path) -> None:
    """Delete the files an earlier synthetic data set in ``out`` listed (nothing else)."""
    try:
        old = json.loads((out / MANIFEST_FILE).read_text(encoding="utf-8"))
        files = [v["file"] for v in old.get("videos", [])]
    except (OSError, ValueError, KeyError, TypeError):
        files = []
    for f in [*files, HM_FILE, EM_FILE, MANIFEST_FILE]:
        p = out / Path(f).name
        if p.is_file():
            p.unlink()
