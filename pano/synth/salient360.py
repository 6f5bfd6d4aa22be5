"""Synthetic Salient360! (MMSys'18 video layout) files from simulated recordings.

Writes, under ``out``:

``H/Scanpaths/<video>_fixations.csv``
    every subject's HEAD direction sampled at :data:`HEAD_RATE_HZ` (every ``k``-th simulated
    sample, ``k = round(rate_hz / 5)``; the real files hold 100 samples per user over 20 s,
    i.e. 5 Hz), all users concatenated, ``Idx`` restarting at 0 for each user.
``HE/Scanpaths/<video>_fixations.csv`` (when the recordings have gaze)
    every subject's FIXATIONS of the gaze in the world: one row per run of true fixation
    samples (``pano.em.EmEvent.FIXATION``), at the normalised mean of its gaze vectors,
    starting at its first sample, lasting until one sample period after its last.
``H/SalMaps/<video>_<W>x<H>x<N>_32b.bin``, ``HE/SalMaps/...``
    ``N`` = the video's frames; per frame the mean over subjects of a Gaussian of the
    great-circle distance to the head (H, sigma 3.34 deg) or gaze (HE, sigma 2 deg) direction
    at the frame's time (nearest sample), each frame scaled to sum to 1; little-endian
    float32, row-major, :data:`MAP_SIZE` pixels.

Rows: ``Idx, longitude, latitude, start timestamp, duration, start frame, end frame`` with
the header's names after ``", "`` (leading spaces, as in the real files); longitude/latitude
are fractions of the ERP image from its left edge / top row
(:func:`pano.geometry.vec_to_salient360`), times in ms, frames ``floor(t * fps)``. Floats are
written with 17 significant digits (exact round trip).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pano.geometry import erp_grid_lonlat, lonlat_to_vec, vec_to_salient360
from pano.synth.recordings import SimDataset, SimRecording

HEAD_RATE_HZ = 5.0
MAP_SIZE = (64, 32)  # (W, H)
MAP_SIGMA_DEG = {"H": 3.34, "HE": 2.0}
HEADER = "Idx, longitude, latitude, start timestamp, duration, start frame, end frame"
FIXATION = 1  # pano.em.EmEvent.FIXATION


def write_salient360(data: SimDataset, out: Path) -> list[Path]:
    """Write H (and HE) scanpaths and saliency maps of every video; returns the files."""
    out = Path(out)
    step = max(1, round(data.rate_hz / HEAD_RATE_HZ))
    period = 1.0 / data.rate_hz
    written: list[Path] = []
    for video in data.videos:
        recs = data.of(video.name)
        rows: list[str] = []
        for rec in recs:
            idx = np.arange(0, rec.t.size, step)
            t = rec.t[idx]
            dur = np.diff(t, append=t[-1] + step * period)
            rows += _rows(rec.head[idx], t, dur, video.fps)
        written.append(_write_csv(out / "H" / "Scanpaths" / f"{video.name}_fixations.csv", rows))
        written.append(_write_map(out / "H" / "SalMaps", video.name, recs, "H", video.fps,
                                  video.n_frames))  # fmt: skip
        if all(r.gaze is not None and r.events is not None for r in recs):
            rows = []
            for rec in recs:
                centres, start, dur = _fixations(rec, period)
                rows += _rows(centres, start, dur, video.fps)
            path = out / "HE" / "Scanpaths" / f"{video.name}_fixations.csv"
            written.append(_write_csv(path, rows))
            written.append(_write_map(out / "HE" / "SalMaps", video.name, recs, "HE", video.fps,
                                      video.n_frames))  # fmt: skip
    return written


def _rows(vec: np.ndarray, t: np.ndarray, dur: np.ndarray, fps: float) -> list[str]:
    u, v = vec_to_salient360(vec)
    out = []
    for k in range(t.size):
        f0 = int(np.floor(t[k] * fps))
        f1 = int(np.floor((t[k] + dur[k]) * fps))
        out.append(
            f"{k}, {u[k]:.17g}, {v[k]:.17g}, {t[k] * 1000:.17g}, {dur[k] * 1000:.17g}, {f0}, {f1}"
        )
    return out


def _fixations(rec: SimRecording, period: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of fixation samples -> (centres (F, 3), start s (F,), duration s (F,))."""
    assert rec.gaze is not None and rec.events is not None
    fix = np.r_[False, rec.events == FIXATION, False]
    edges = np.flatnonzero(np.diff(fix.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    centres = np.array([rec.gaze[a:b].mean(axis=0) for a, b in zip(starts, ends, strict=True)])
    centres = centres.reshape(-1, 3)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    return centres, rec.t[starts], rec.t[ends - 1] - rec.t[starts] + period


def _write_csv(path: Path, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def _write_map(
    folder: Path, name: str, recs: list[SimRecording], cond: str, fps: float, n_frames: int
) -> Path:
    w, h = MAP_SIZE
    lon, lat = erp_grid_lonlat(w, h)
    grid = lonlat_to_vec(lon[None, :], lat[:, None])  # (H, W, 3)
    sigma = np.deg2rad(MAP_SIGMA_DEG[cond])
    maps = np.zeros((n_frames, h, w), dtype=np.float64)
    frame_t = np.arange(n_frames) / fps
    for rec in recs:
        vecs = rec.head if cond == "H" else rec.gaze
        assert vecs is not None
        k = np.clip(np.searchsorted(rec.t, frame_t), 0, rec.t.size - 1)
        cos = np.clip(np.einsum("hwc,fc->fhw", grid, vecs[k]), -1.0, 1.0)
        maps += np.exp(-(np.arccos(cos) ** 2) / (2 * sigma**2))
    maps /= maps.sum(axis=(1, 2), keepdims=True)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}_{w}x{h}x{n_frames}_32b.bin"
    path.write_bytes(maps.astype("<f4").tobytes(order="C"))
    return path
