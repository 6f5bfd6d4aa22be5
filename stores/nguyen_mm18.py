"""Reading Nguyen et al.'s MM'18 (PanoSalNet) head-movement pickle (9 videos x 48 users).

The data set is ONE Python 2 pickle (``salient_ds_dict_w16_h9``, read with
``encoding='latin1'``): ``d['360net'][video]`` holds ``'timestamp'`` (``N`` seconds, one
list shared by every user of the video), ``'headpos'`` (one ``(N, 3)`` series of unit
vectors per user, users by position 0..47) and ``'salient'`` (saliency maps, not read
here). It is loaded by :func:`pano.stores.safe_pickle.load_data_pickle`, which admits only
containers, numbers and NumPy arrays and refuses anything that could run code.

Convention as read (PanoSalNet's axes): a head vector ``v = (x, y, z)`` is placed on the
equirectangular frame by PanoSalNet's own ``lstm.py`` (``vector_to_ang``,
``ang_to_geoxy``, ``create_fixation_map``, which TRACK's ``Nguyen_MM_18/Read_Dataset.py``
copies): ``theta = atan2(-z, x)`` is the frame column ``u = theta / 360`` (mod 1; left
edge 0, centre ±180), ``phi = asin(y)`` with the TOP row at ``phi = -90``. So in pano's
frame ``(X, Y, Z) = (-x, -z, -y)`` (a proper rotation: no mirror). The videos come from
Wu MMSys'17 and PanoSalNet built ``v`` from its Unity quaternions (``get_qlist.py``); this
agrees with :mod:`pano.stores.wu_mmsys17`'s reading of those quaternions.

Time: ``'timestamp'`` is video playback time in seconds (~0.063 s apart). Some videos are
two segments concatenated: the timestamps jump BACK inside the list (TRACK found the
segments overlap in video time: the same saliency map appears in both). By default each
segment becomes its own trace (subject ``<user>-seg<k>``); ``segments="sort"`` instead
sorts the samples by time as TRACK does. Timestamps stay video time (a segment starts
where it starts, not at 0) unless ``rebase=True``. Every such change is a
:class:`pano.stores.traces.Repair`.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pano.errors import InputDataError, InputFileNotFoundError, ParameterError
from pano.stores.safe_pickle import load_data_pickle
from pano.stores.traces import Repair, SourceConvention, Trace, TraceSet, VideoInfo

DATASET = "nguyen-mm18"
#: Default file name of the data set's pickle inside its folder.
PICKLE_NAME = "salient_ds_dict_w16_h9"
#: PanoSalNet axes -> pano's: pano = M @ v (rows: X = -x, Y = -z, Z = -y).
PANOSALNET_TO_PANO = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, -1.0, 0.0]])
#: What PanoSalNet's ``get_fixation.py`` says of each video: file, duration (s), width, height.
VIDEOS: dict[str, tuple[str, float, int, int]] = {
    "0": ("conan1.mp4", 164.1973, 2560, 1440),
    "1": ("skiing.mp4", 201.13426, 2560, 1440),
    "2": ("alien.mp4", 293.2333, 2560, 1440),
    "3": ("conan2.mp4", 172.5724, 2560, 1440),
    "4": ("surfing.mp4", 205.7055, 2560, 1440),
    "5": ("war.mp4", 655.0544, 2160, 1080),
    "6": ("cooking.mp4", 451.12, 2560, 1440),
    "7": ("football.mp4", 164.8, 2560, 1440),
    "8": ("rhinos.mp4", 292.0584, 2560, 1440),
}

CONVENTION = SourceConvention(
    dataset=DATASET,
    representation="head direction unit vectors (x, y, z) in PanoSalNet's axes",
    origin="ERP front centre = (-1, 0, 0); pano (X, Y, Z) = (-x, -z, -y)",
    signs="theta = atan2(-z, x) grows to the RIGHT on the frame (u = theta/360, left edge "
    "0); phi = asin(y) is -90 at the TOP row (looking up = negative y)",
    units="unit vectors (checked to 1e-3, then normalised)",
    angle_order="headpos[user][sample] = (x, y, z)",
    time_base="'timestamp' = video playback time in seconds, shared by the video's users, "
    "~0.063 s apart; some videos are two concatenated segments (time jumps back)",
    erp_alignment="as PanoSalNet's lstm.py create_fixation_map places head vectors on the "
    "data set's saliency maps (copied by TRACK's Nguyen_MM_18/Read_Dataset.py); consistent "
    "with PanoSalNet's get_qlist.py built from Wu MMSys'17 Unity quaternions; not checked "
    "against the video frames",
    notes="users are positions 0..47 in each video's headpos list; 'salient' maps not read",
)


def _find_pickle(source: Path) -> Path:
    source = Path(source)
    if source.is_dir():
        cand = source / PICKLE_NAME
        if cand.is_file():
            return cand
        files = sorted(p for p in source.iterdir() if p.is_file() and p.name.startswith("salient"))
        if len(files) == 1:
            return files[0]
        raise InputFileNotFoundError(
            f"{source}: no Nguyen MM'18 pickle ({PICKLE_NAME}) in this folder; give the file"
        )
    if not source.exists():
        raise InputFileNotFoundError(f"{source}: Nguyen MM'18 pickle not found")
    return source


def _series(path: Path, key: str, value: Any, shape_tail: tuple[int, ...]) -> np.ndarray:
    """``value`` as a float64 array of shape ``(N, *shape_tail)`` (one line if not)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputDataError(
            f"{path}: {key} holds something that is not numbers "
            f"({type(value).__name__}); expected a list of numbers"
        ) from None
    if arr.ndim != 1 + len(shape_tail) or arr.shape[1:] != shape_tail:
        want = "(N,)" if not shape_tail else f"(N, {', '.join(map(str, shape_tail))})"
        raise InputDataError(f"{path}: {key} has shape {arr.shape}, expected {want}")
    return arr


def _segments(t: np.ndarray) -> list[slice]:
    """Slices of ``t`` between the points where time jumps back."""
    cuts = [0, *(np.flatnonzero(np.diff(t) < 0) + 1).tolist(), t.size]
    return [slice(a, b) for a, b in pairwise(cuts) if b > a]


def read_nguyen_mm18(
    source: Path,
    segments: Literal["split", "sort"] = "split",
    rebase: bool = False,
    group: str = "360net",
    unit_tolerance: float = 1e-3,
) -> TraceSet:
    """Read the Nguyen MM'18 pickle into pano's frame.

    Args:
        source: the pickle, or the folder holding ``salient_ds_dict_w16_h9``.
        segments: concatenated segments (time jumps back): ``"split"`` makes each one a
            trace of subject ``<user>-seg<k>`` (default); ``"sort"`` orders all samples
            by time (TRACK's reading; duplicate times keep the first sample).
        rebase: start every trace at t = 0 (default: keep video time).
        group: the top-level key of the data (``"360net"``).
        unit_tolerance: how far from length 1 a head vector may be (then normalised).

    Returns:
        A checked :class:`TraceSet`; subjects are the users' positions (``"0"``..).

    Raises:
        InputFileNotFoundError: no pickle.
        InputDataError: a refused/unreadable pickle, a missing key, a wrong shape, a
            non-finite time or a vector that is not unit length (naming the key and sample).
        ParameterError: an unknown ``segments``.

    """
    if segments not in ("split", "sort"):
        raise ParameterError(f"segments must be 'split' or 'sort' (got {segments!r})")
    path = _find_pickle(Path(source))
    data = load_data_pickle(path, what="Nguyen MM'18 pickle")
    if not isinstance(data, dict) or group not in data or not isinstance(data[group], dict):
        top = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise InputDataError(f"{path}: expected a dict with key {group!r} (top level: {top})")
    traces: list[Trace] = []
    repairs: list[Repair] = []
    videos: dict[str, VideoInfo] = {}
    for vkey in sorted(data[group], key=str):
        video = str(vkey)
        entry = data[group][vkey]
        at = f"[{group!r}][{vkey!r}]"
        if not isinstance(entry, dict) or "timestamp" not in entry or "headpos" not in entry:
            raise InputDataError(f"{path}: {at} needs keys 'timestamp' and 'headpos'")
        t_all = _series(path, f"{at}['timestamp']", entry["timestamp"], ())
        bad = np.flatnonzero(~np.isfinite(t_all))
        if bad.size:
            raise InputDataError(
                f"{path}: {at}['timestamp'] sample {int(bad[0])} is not a finite number"
            )
        heads = entry["headpos"]
        if not isinstance(heads, list | tuple | np.ndarray):
            raise InputDataError(f"{path}: {at}['headpos'] must be a list of per-user series")
        parts = _segments(t_all)
        if len(parts) > 1:
            jumps = ", ".join(
                f"sample {p.start} ({t_all[p.start - 1]:.3f} s -> {t_all[p.start]:.3f} s)"
                for p in parts[1:]
            )
            done = (
                f"split into {len(parts)} traces per user (subject <user>-seg<k>)"
                if segments == "split"
                else "samples sorted by time (TRACK's reading), repeated times dropped"
            )
            repairs.append(
                Repair(
                    "split-segments" if segments == "split" else "sort-segments",
                    f"time jumps back at {jumps}: {len(parts)} segments concatenated; {done}",
                    video=video,
                )
            )
        if rebase:
            repairs.append(
                Repair("rebase-time", "every trace starts at t = 0 (rebase=True)", video=video)
            )
        for u, series in enumerate(heads):
            key = f"{at}['headpos'][{u}]"
            v = _series(path, key, series, (3,))
            if v.shape[0] != t_all.size:
                raise InputDataError(
                    f"{path}: {key} has {v.shape[0]} samples but the video has "
                    f"{t_all.size} timestamps; every user needs one vector per timestamp"
                )
            norms = np.linalg.norm(v, axis=1)
            off = np.flatnonzero(np.isfinite(norms) & (np.abs(norms - 1.0) > unit_tolerance))
            if off.size:
                i = int(off[0])
                raise InputDataError(
                    f"{path}: {key} sample {i}: vector {v[i].tolist()} has length "
                    f"{norms[i]:.6g}, not 1 (within {unit_tolerance:g}); head positions "
                    "must be unit vectors"
                )
            vec = (v / norms[:, None]) @ PANOSALNET_TO_PANO.T
            pieces: list[tuple[str, np.ndarray, np.ndarray]]
            if len(parts) == 1:
                pieces = [(str(u), t_all, vec)]
            elif segments == "split":
                pieces = [(f"{u}-seg{k + 1}", t_all[p], vec[p]) for k, p in enumerate(parts)]
            else:
                order = np.argsort(t_all, kind="stable")
                pieces = [(str(u), t_all[order], vec[order])]
            for subject, tt, vv in pieces:
                keep = np.ones(tt.size, dtype=bool)
                keep[1:] = np.diff(tt) > 0
                if not keep.all():
                    repairs.append(
                        Repair(
                            "drop-duplicate-time",
                            f"{key}: {int((~keep).sum())} samples repeated the previous "
                            "timestamp; dropped",
                            video=video,
                            subject=subject,
                        )
                    )
                    tt, vv = tt[keep], vv[keep]
                if tt.size < 2:
                    repairs.append(
                        Repair(
                            "drop-trace",
                            f"{key}: a segment of {tt.size} sample is too short; left out",
                            video=video,
                            subject=subject,
                        )
                    )
                    continue
                tt = tt - tt[0] if rebase else tt
                traces.append(Trace(video, subject, tt, vv, where=f"{path}: {key}"))
        info = VIDEOS.get(video)
        videos[video] = (
            VideoInfo(video, duration_s=info[1], width=info[2], height=info[3])
            if info
            else VideoInfo(video)
        )
    out = TraceSet(DATASET, CONVENTION, traces, videos=videos, repairs=repairs, files=[str(path)])
    out.check()
    return out
