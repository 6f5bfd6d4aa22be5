"""Reading AVTrack360 (Fremerey et al., MMSys'18; 20 videos x 48 subjects, 30 s).

Layout: ``Head_rotation/<subject>.json``, one JSON per subject::

    {"data": [{"filename": "2.mp4", "hmd": "vive",
               "pitch_yaw_roll_data_hmd": [{"pitch": -13, "roll": 2, "sec": 0.266, "yaw": 0}, ...]},
              ...]}

one entry per video watched, ~10 Hz, whole degrees, ``sec`` = playback time of the video.

Convention as read - the data set's README: "The subjects always started to watch the
video at the initial position (hence yaw=0°) while the range is from 180° to -180°.
Pitching the head up results in a negative pitch value, turning the head left leads to
a negative yaw value while tilting the head left results in a negative roll value".
So pano ``lon = -yaw``, ``lat = -pitch``, roll = +roll (pano's roll is positive towards
the right shoulder); converted through :func:`pano.rotations.ypr_to_quaternion`.
yaw 0 is the start position, which the README calls the initial position of the video:
taken as the ERP front centre (the README does not say where that is on the frame).

A subject who watched the same file twice gets subjects ``<subject>``, ``<subject>-2``.
Rows repeating the previous ``sec`` are dropped (a repair). A JSON holding the merged
data set (``merged_data``) is skipped: the per-subject files hold the same data.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from pano.errors import InputDataError, InputFileNotFoundError
from pano.rotations import rotate_vectors, ypr_to_quaternion
from pano.stores.rawtable import check_increasing, check_range
from pano.stores.traces import Repair, SourceConvention, Trace, TraceSet, VideoInfo

log = logging.getLogger("pano.stores.avtrack360")

DATASET = "avtrack360"
SAMPLES = "pitch_yaw_roll_data_hmd"
FIELDS = ("sec", "yaw", "pitch", "roll")

CONVENTION = SourceConvention(
    dataset=DATASET,
    representation="HMD Euler angles pitch, yaw, roll per sample",
    origin="yaw 0 = the subject's start position, taken as the ERP front centre",
    signs="looking UP gives NEGATIVE pitch, turning LEFT NEGATIVE yaw, tilting left "
    "negative roll (README: 'mathematical negative direction'); pano lon = -yaw, "
    "lat = -pitch, roll = +roll",
    units="degrees (whole degrees in the released files); yaw, roll in [-180, 180], "
    "pitch in [-90, 90]",
    angle_order="objects {pitch, yaw, roll, sec}; applied as pano's yaw, then pitch, "
    "then roll (the order does not change the viewing direction)",
    time_base="sec = video playback time in seconds, ~10 Hz",
    erp_alignment="yaw 0 = the video's initial position (README); assumed to be the ERP "
    "front centre - not stated by the data set",
)


def find_subject_files(source: Path) -> list[Path]:
    """The per-subject ``*.json`` files under ``source`` (or ``source`` itself).

    Raises:
        InputFileNotFoundError: ``source`` does not exist or holds no ``.json``.

    """
    source = Path(source)
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise InputFileNotFoundError(f"{source}: AVTrack360 folder not found")
    folder = source / "Head_rotation"
    folder = folder if folder.is_dir() else source
    files = sorted(p for p in folder.rglob("*.json") if p.is_file())
    if not files:
        raise InputFileNotFoundError(f"{source}: no <subject>.json files (Head_rotation/)")
    return files


def _samples(path: Path, i: int, entry: dict[str, Any]) -> np.ndarray:
    """``entry``'s samples as ``(N, 4)`` float64 (sec, yaw, pitch, roll)."""
    rows = entry.get(SAMPLES)
    if not isinstance(rows, list) or not rows:
        raise InputDataError(f"{path}: data[{i}].{SAMPLES} must be a non-empty list of samples")
    out = np.empty((len(rows), 4), dtype=np.float64)
    for r, row in enumerate(rows):
        for k, name in enumerate(FIELDS):
            value = row.get(name) if isinstance(row, dict) else None
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputDataError(
                    f"{path}: data[{i}].{SAMPLES}[{r}] (row {r + 1}): {name!r} is "
                    f"{value!r}, not a number; every sample needs pitch, yaw, roll, sec"
                )
            out[r, k] = float(value)
    return out


def read_avtrack360(source: Path) -> TraceSet:
    """Read AVTrack360's per-subject JSON files into pano's frame.

    Args:
        source: the data set folder (holding ``Head_rotation/``), that folder, or one
            subject's JSON.

    Returns:
        A checked :class:`TraceSet`; videos are the file names without extension.

    Raises:
        InputFileNotFoundError: no JSON found.
        InputDataError: bad JSON, a missing field, a non-number, time going backwards,
            an angle out of range (naming the file, entry and row).

    """
    traces: list[Trace] = []
    repairs: list[Repair] = []
    files = find_subject_files(Path(source))
    read: list[str] = []
    for path in files:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise InputDataError(f"{path}: not a readable JSON file ({err})") from None
        if isinstance(doc, dict) and "merged_data" in doc and "data" not in doc:
            log.info("%s: merged data set file skipped (per-subject files are read)", path)
            continue
        entries = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(entries, list):
            raise InputDataError(f"{path}: expected an object with a 'data' list of videos")
        read.append(str(path))
        seen: dict[str, int] = {}
        for i, entry in enumerate(entries):
            name = entry.get("filename") if isinstance(entry, dict) else None
            if not isinstance(name, str) or not name:
                raise InputDataError(f"{path}: data[{i}].filename is missing or not a text")
            video = Path(name).stem
            n = seen[video] = seen.get(video, 0) + 1
            subject = path.stem if n == 1 else f"{path.stem}-{n}"
            s = _samples(path, i, entry)
            where = [f"{path}: data[{i}].{SAMPLES}[{r}] (row {r + 1})" for r in range(len(s))]
            keep = check_increasing(s[:, 0], where, str(path))
            check_range(s[:, 1], -180.0, 180.0, where, "yaw")
            check_range(s[:, 2], -90.0, 90.0, where, "pitch")
            check_range(s[:, 3], -180.0, 180.0, where, "roll")
            if not keep.all():
                repairs.append(
                    Repair(
                        "drop-duplicate-time",
                        f"{path.name} data[{i}]: {int((~keep).sum())} samples repeated the "
                        "previous sec; dropped",
                        video=video,
                        subject=subject,
                    )
                )
            s = s[keep]
            q = ypr_to_quaternion(-s[:, 1], -s[:, 2], s[:, 3])
            head = rotate_vectors(q, np.array([1.0, 0.0, 0.0])).numpy()
            traces.append(Trace(video, subject, s[:, 0], head, where=f"{path}: data[{i}]"))
    videos = {v: VideoInfo(v) for v in sorted({tr.video for tr in traces})}
    out = TraceSet(DATASET, CONVENTION, traces, videos=videos, repairs=repairs, files=read)
    out.check()
    return out
