"""Reading Fan et al.'s NOSSDAV'17 360° video viewing data set (10 videos x 50 users).

Layout: ``sensory/orientation/<video>_<user>_orientation.csv`` (``user01`` .. ``user50``),
one row per video frame at 30 fps, header
``no. frames, raw x, raw y, raw z, raw yaw, raw pitch, raw roll, cal. yaw, cal. pitch, cal. roll``
(fields separated by a comma and spaces: the released files use ``", "``, the data set's
own generator also writes ``" ,"``; this reader splits on the comma and strips spaces).
Only ``no. frames``, ``cal. yaw`` and ``cal. pitch`` are used; ``raw x/y/z`` are
OpenTrack positions, not a quaternion.

Convention as read (degrees, front centre of the ERP frame = yaw 0, pitch 0):

* ``cal. yaw`` in ``[-180, 180]``, positive to the viewer's RIGHT: the data set's tile
  files (tiles numbered from the upper-left of the ERP frame) are reproduced with the
  frame column ``u = 0.5 + yaw / 360``, both by the data set's own generator script
  (``x = R * yaw + W / 2``) and by TRACK's ``Fan_NOSSDAV_17/Read_Dataset.py``
  (``verify_tile_probability_replica``, < 8 % of tiles wrong). pano: ``lon = -yaw``.
* ``cal. pitch``: users 21-50 positive DOWN (pitch -90 = north pole in TRACK's replica
  that matches the tile files); users 01-20 have it FLIPPED (TRACK had to mirror their
  replica vertically). Repair (default): users 01-20's pitch is negated, then
  ``lat = -pitch`` for every user. Values beyond ±90 go over the pole (the generator
  does not clamp); the conversion is through the rotation, so they land correctly.
* time: ``t = (no. frames - 1) / 30`` s (frame 1 is the first frame of the video; TRACK
  uses ``frame / 30``, 1/30 s later).
* The trace user17/sport is broken (> 25 % of its tiles disagree with its own
  orientation): dropped by default.

Each repair is a :class:`pano.stores.traces.Repair` in the returned set.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import numpy as np

from pano.errors import InputDataError, InputFileNotFoundError, ParameterError
from pano.rotations import rotate_vectors, ypr_to_quaternion
from pano.stores.rawtable import check_increasing, check_range, read_table
from pano.stores.traces import Repair, SourceConvention, Trace, TraceSet, VideoInfo

DATASET = "fan-nossdav17"
#: The columns this reader needs (the files have more).
FRAME, YAW, PITCH = "no. frames", "cal. yaw", "cal. pitch"
#: Video frame rate of every video in the set (the paper and TRACK's ``fps_per_video``).
FPS = 30.0
#: Traces known to be broken (TRACK: its tiles disagree with its own orientation).
BROKEN_TRACES: tuple[tuple[str, str], ...] = (("user17", "sport"),)
_NAME = re.compile(r"^(?P<video>.+)_(?P<user>user(?P<num>\d+))_orientation\.csv$")

CONVENTION = SourceConvention(
    dataset=DATASET,
    representation="calibrated head yaw and pitch per video frame (cal. yaw, cal. pitch)",
    origin="yaw 0, pitch 0 = front centre of the equirectangular frame",
    signs="yaw positive to the viewer's RIGHT (frame column u = 0.5 + yaw/360); pitch "
    "positive DOWN for users 21-50 and UP for users 01-20 (flipped; repaired to 21-50's)",
    units="degrees, yaw and pitch in [-180, 180] (pitch beyond ±90 goes over the pole)",
    angle_order="columns: no. frames, raw x, raw y, raw z, raw yaw, raw pitch, raw roll, "
    "cal. yaw, cal. pitch, cal. roll; only the frame number, cal. yaw and cal. pitch read",
    time_base="t = (no. frames - 1) / 30 fps (frame 1 = video start)",
    erp_alignment="verified against the data set's tile files as reproduced by its "
    "generator script (x = R*yaw + W/2, y = H/2 - R*tan(pitch) for users 01-20) and by "
    "TRACK's Fan_NOSSDAV_17/Read_Dataset.py tile replica (users 21-50 unflipped)",
    notes="cal. roll (= raw roll) is not used: its sign is not documented and a head "
    "direction does not depend on it",
)


def find_orientation_files(source: Path) -> list[Path]:
    """The ``*_orientation.csv`` files under ``source`` (the data set root or the folder).

    Raises:
        InputFileNotFoundError: ``source`` does not exist or holds no orientation file.

    """
    source = Path(source)
    if not source.exists():
        raise InputFileNotFoundError(f"{source}: Fan NOSSDAV'17 data set folder not found")
    folder = source / "sensory" / "orientation"
    folder = folder if folder.is_dir() else source
    files = sorted(folder.glob("*_orientation.csv")) if folder.is_dir() else [source]
    files = [f for f in files if _NAME.match(f.name)]
    if not files:
        raise InputFileNotFoundError(
            f"{source}: no <video>_userNN_orientation.csv files (expected under "
            "sensory/orientation/ of the data set)"
        )
    return files


def read_orientation_file(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """One orientation file -> ``(t, yaw, pitch, n_duplicates)``.

    Returns:
        ``t`` ``(N,)`` seconds (frame 1 = 0 s), ``yaw`` and ``pitch`` ``(N,)`` degrees as
        stored, and how many rows repeated the previous frame number (dropped).

    Raises:
        InputDataError: wrong field count, a non-number, frames going backwards, an angle
            outside [-180, 180] (each naming the row).

    """
    table = read_table(path, sep=",", what="Fan NOSSDAV'17 orientation file")
    cols = [table.column(FRAME), table.column(YAW), table.column(PITCH)]
    values = table.floats(cols, [FRAME, YAW, PITCH])
    where = table.wheres()
    frames, yaw, pitch = values[:, 0], values[:, 1], values[:, 2]
    keep = check_increasing(frames, where, str(path))
    check_range(yaw, -180.0, 180.0, where, YAW)
    check_range(pitch, -180.0, 180.0, where, PITCH)
    t = (frames - 1.0) / FPS
    return t[keep], yaw[keep], pitch[keep], int((~keep).sum())


def read_fan_nossdav17(
    source: Path,
    pitch_repair: Literal["flip", "drop"] = "flip",
    flipped_users: tuple[int, int] = (1, 20),
    drop_broken: bool = True,
) -> TraceSet:
    """Read Fan NOSSDAV'17's orientation files into pano's frame.

    Args:
        source: the data set root (holding ``sensory/orientation/``), that folder, or
            one ``*_orientation.csv`` file.
        pitch_repair: what to do with the users whose pitch is flipped: ``"flip"``
            negates their pitch (default), ``"drop"`` leaves them out (TRACK's choice).
        flipped_users: first and last user number (inclusive) with flipped pitch.
        drop_broken: leave out the known broken traces (:data:`BROKEN_TRACES`).

    Returns:
        A checked :class:`TraceSet` (head unit vectors, ``t`` in seconds from frame 1),
        its repairs listed.

    Raises:
        InputFileNotFoundError: no orientation file found.
        InputDataError: a bad row (naming the file and row).
        ParameterError: an unknown ``pitch_repair``.

    """
    if pitch_repair not in ("flip", "drop"):
        raise ParameterError(f"pitch_repair must be 'flip' or 'drop' (got {pitch_repair!r})")
    lo, hi = flipped_users
    traces: list[Trace] = []
    repairs: list[Repair] = []
    files = find_orientation_files(Path(source))
    flipped, dropped_users = [], []
    for path in files:
        m = _NAME.match(path.name)
        assert m is not None  # filtered by find_orientation_files
        video, user, num = m["video"], m["user"], int(m["num"])
        if drop_broken and (user, video) in BROKEN_TRACES:
            repairs.append(
                Repair(
                    "drop-trace",
                    f"{path.name}: known broken trace (its tiles disagree with its own "
                    "orientation by > 25 %, TRACK's analysis); left out",
                    video=video,
                    subject=user,
                )
            )
            continue
        is_flipped = lo <= num <= hi
        if is_flipped and pitch_repair == "drop":
            dropped_users.append(user)
            continue
        t, yaw, pitch, dup = read_orientation_file(path)
        if is_flipped:
            pitch = -pitch
            flipped.append(user)
        if dup:
            repairs.append(
                Repair(
                    "drop-duplicate-time",
                    f"{path.name}: {dup} rows repeated the previous frame number; dropped",
                    video=video,
                    subject=user,
                )
            )
        # Source -> pano: lon = -yaw (yaw is positive right), lat = -pitch (positive down).
        q = ypr_to_quaternion(-yaw, -pitch, 0.0)
        head = rotate_vectors(q, np.array([1.0, 0.0, 0.0])).numpy()
        traces.append(Trace(video, user, t, head, where=str(path)))
    if flipped:
        users = sorted(set(flipped))
        repairs.append(
            Repair(
                "flip-pitch",
                f"users {lo:02d}-{hi:02d} store pitch with the opposite sign to users "
                f"{hi + 1:02d}-50 (TRACK's tile replica); pitch negated for "
                f"{len(users)} users ({', '.join(users)})",
            )
        )
    if dropped_users:
        users = sorted(set(dropped_users))
        repairs.append(
            Repair(
                "drop-trace",
                f"users {lo:02d}-{hi:02d} have flipped pitch; pitch_repair='drop' left out "
                f"{len(users)} users ({', '.join(users)}), as TRACK does",
            )
        )
    if not traces:
        raise InputDataError(f"{source}: every Fan NOSSDAV'17 trace was left out")
    videos = {v: VideoInfo(v, fps=FPS) for v in sorted({tr.video for tr in traces})}
    out = TraceSet(
        DATASET, CONVENTION, traces, videos=videos, repairs=repairs,
        files=[str(f) for f in files],
    )  # fmt: skip
    out.check()
    return out
