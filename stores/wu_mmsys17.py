"""Reading Wu et al.'s MMSys'17 (Tsinghua) head-movement logs (18 videos x 48 users).

Layout: ``Experiment_<e>/<user>/video_<n>.csv``, one file per user and video, header
``Timestamp, PlaybackTime, UnitQuaternion.x, UnitQuaternion.y, UnitQuaternion.z,
UnitQuaternion.w, HmdPosition.x, HmdPosition.y, HmdPosition.z`` (comma separated; the
Timestamp is wall-clock time and is not used). The video is ``<n>`` (``e<e>-<n>`` when
several experiments are read together), the subject the folder name.

Convention as read. The quaternion ``(x, y, z, w)`` is the HMD's rotation in Unity's
LEFT-handed world frame (``+x`` right, ``+y`` up, ``+z`` forward); the viewing direction
is the rotated ``+z`` axis, ``f = R(q) e_z`` (the standard quaternion-to-matrix formula
holds in Unity's coordinates). The data set does not document how that frame sits on
the equirectangular video. Two public readers agree on it:

* PanoSalNet (Nguyen MM'18, built on these logs; ``get_qlist.py`` + ``lstm.py``
  ``create_fixation_map``) and
* DVMS's ``Wu_MMSys_17/Read_Dataset.py`` (``quaternion_to_cartesian`` -> TRACK's sphere,
  whose frame column is ``theta / 2 pi``):

both put ``f`` at frame column ``u = atan2(-f_z, f_x) / 360`` (mod 1) and looking up at
the top. So the ERP front centre is Unity's ``-x``, pano's LEFT is Unity's ``-z`` and up
is ``+y``: pano ``(X, Y, Z) = (-f_x, -f_z, f_y)`` (:data:`UNITY_TO_PANO`, det -1: the
left-to-right-handed flip). The identity quaternion looks at pano lon -90 (right of the
front centre); turning left in Unity terms (negative rotation about ``+y``) raises pano's
longitude (pinned by ``tests/test_wu_mmsys17_format.py``). ASSUMED, not verified against
the video frames.

Quaternions more than ``unit_tolerance`` from length 1 are bad input. ``PlaybackTime``
(seconds of video) is the time base; rows that repeat the previous time are dropped, and
rows logged before the playback restarted (time jumping back to below ``restart_s``,
DVMS drops such leading rows too) are dropped, each recorded as a repair.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from pano.errors import InputDataError, InputFileNotFoundError
from pano.rotations import quaternion_to_matrix
from pano.stores.rawtable import check_increasing, read_table
from pano.stores.traces import Repair, SourceConvention, Trace, TraceSet, VideoInfo

DATASET = "wu-mmsys17"
TIME = "PlaybackTime"
QUAT = ("UnitQuaternion.x", "UnitQuaternion.y", "UnitQuaternion.z", "UnitQuaternion.w")
#: Unity world coordinates -> pano's: pano = UNITY_TO_PANO @ unity (rows X, Y, Z).
UNITY_TO_PANO = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
_EXPERIMENT = re.compile(r"^Experiment_(\d+)$", re.IGNORECASE)

CONVENTION = SourceConvention(
    dataset=DATASET,
    representation="HMD orientation as a unit quaternion in Unity's world frame; the "
    "viewing direction is the rotated +z axis",
    origin="identity = looking along Unity +z, which is pano lon -90 (ERP column 0.75); "
    "the ERP front centre is Unity -x",
    signs="Unity left-handed frame: +x right, +y up, +z forward; pano (X, Y, Z) = "
    "(-f_x, -f_z, f_y) for the viewing direction f",
    units="quaternion components (unit length within the reader's tolerance)",
    angle_order="columns Timestamp, PlaybackTime, UnitQuaternion.x, .y, .z, .w, "
    "HmdPosition.x, .y, .z: quaternion stored (x, y, z, w), real part last",
    time_base="PlaybackTime, seconds of video; Timestamp (wall clock) not used",
    erp_alignment="not documented by the data set; ASSUMED as PanoSalNet (get_qlist.py + "
    "lstm.py create_fixation_map) and DVMS's Wu_MMSys_17/Read_Dataset.py "
    "(quaternion_to_cartesian into TRACK's sphere) both place it: frame column "
    "u = atan2(-f_z, f_x)/360, up at the top; not verified against the video frames",
    notes="HmdPosition not used",
)


def find_logs(source: Path) -> list[Path]:
    """Every ``*.csv`` log under ``source`` (a data set root, an experiment, or one file).

    Raises:
        InputFileNotFoundError: ``source`` does not exist or holds no ``.csv``.

    """
    source = Path(source)
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise InputFileNotFoundError(f"{source}: Wu MMSys'17 data set folder not found")
    files = sorted(p for p in source.rglob("*.csv") if p.is_file())
    if not files:
        raise InputFileNotFoundError(
            f"{source}: no <user>/video_<n>.csv logs (expected under Experiment_<e>/)"
        )
    return files


def _experiment(path: Path) -> str | None:
    for part in reversed(path.parts[:-1]):
        m = _EXPERIMENT.match(part)
        if m:
            return m.group(1)
    return None


def read_log(
    path: Path, unit_tolerance: float = 1e-3, restart_s: float = 0.5
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """One log -> ``(t, head, n_stale, n_duplicates)`` in pano's frame.

    Returns:
        ``t`` ``(N,)`` seconds of video, ``head`` ``(N, 3)`` unit vectors, the number of
        leading rows dropped (logged before a playback restart) and of rows dropped for
        repeating the previous time.

    Raises:
        InputDataError: a wrong field count, a non-number, time going backwards (other
            than one restart to below ``restart_s``), a non-unit quaternion (naming the row).

    """
    table = read_table(path, sep=",", what="Wu MMSys'17 log")
    cols = [table.column(TIME)] + [table.column(c) for c in QUAT]
    vals = table.floats(cols, [TIME, *QUAT])
    where = table.wheres()
    t, q_xyzw = vals[:, 0], vals[:, 1:]
    stale = 0
    back = np.flatnonzero(np.diff(t) < 0)
    if back.size and t[back[0] + 1] < restart_s:
        stale = int(back[0]) + 1
        t, q_xyzw, where = t[stale:], q_xyzw[stale:], where[stale:]
    keep = check_increasing(t, where, str(path))
    norms = np.linalg.norm(q_xyzw, axis=1)
    bad = np.flatnonzero(~np.isfinite(norms) | (np.abs(norms - 1.0) > unit_tolerance))
    if bad.size:
        i = int(bad[0])
        raise InputDataError(
            f"{where[i]}: quaternion (x, y, z, w) = {q_xyzw[i].tolist()} has length "
            f"{norms[i]:.6g}, not 1 (tolerance {unit_tolerance:g}); fix or remove the row"
        )
    t, q_xyzw = t[keep], q_xyzw[keep]
    q_wxyz = np.concatenate([q_xyzw[:, 3:], q_xyzw[:, :3]], axis=1)
    fwd_unity = quaternion_to_matrix(q_wxyz)[..., :, 2].numpy()  # R(q) e_z
    head = fwd_unity @ UNITY_TO_PANO.T
    return t, head, stale, int((~keep).sum())


def read_wu_mmsys17(source: Path, unit_tolerance: float = 1e-3, restart_s: float = 0.5) -> TraceSet:
    """Read Wu MMSys'17's logs into pano's frame.

    Args:
        source: the data set root (``Experiment_1/``, ``Experiment_2/``), one experiment
            folder, or one log file.
        unit_tolerance: how far from length 1 a quaternion may be.
        restart_s: leading rows are dropped when PlaybackTime once jumps back to below
            this many seconds (the log began before the video restarted).

    Returns:
        A checked :class:`TraceSet`; ``t`` is PlaybackTime in seconds.

    Raises:
        InputFileNotFoundError: no log found.
        InputDataError: a bad row (naming the file and row).

    """
    files = find_logs(Path(source))
    exps = {_experiment(p) for p in files}
    traces: list[Trace] = []
    repairs: list[Repair] = []
    for path in files:
        exp = _experiment(path)
        video = path.stem.removeprefix("video_")
        if len(exps) > 1 and exp is not None:
            video = f"e{exp}-{video}"
        subject = path.parent.name
        t, head, stale, dup = read_log(path, unit_tolerance, restart_s)
        if stale:
            repairs.append(
                Repair(
                    "drop-leading-rows",
                    f"{path.name}: the first {stale} rows were logged before playback "
                    f"restarted (PlaybackTime jumps back to below {restart_s:g} s); dropped",
                    video=video,
                    subject=subject,
                )
            )
        if dup:
            repairs.append(
                Repair(
                    "drop-duplicate-time",
                    f"{path.name}: {dup} rows repeated the previous PlaybackTime; dropped",
                    video=video,
                    subject=subject,
                )
            )
        traces.append(Trace(video, subject, t, head, where=str(path)))
    videos = {v: VideoInfo(v) for v in sorted({tr.video for tr in traces})}
    out = TraceSet(
        DATASET, CONVENTION, traces, videos=videos, repairs=repairs,
        files=[str(f) for f in files],
    )  # fmt: skip
    out.check()
    return out
