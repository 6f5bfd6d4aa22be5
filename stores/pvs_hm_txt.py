r"""PVS-HM's raw per-user head-movement traces (``<user>/<video>.txt``), checked against the .mat.

The layout, as read (verified against TRACK's ``Xu_PAMI_18/Read_Dataset.py``, which reads
these files with ``sep=r"\s*"``, takes column 0 as "the rate in milliseconds", cumulates it
and divides by 1000 for the time, reads columns 1 and 2 as pitch (latitude) and yaw
(longitude), and drops the last row as "the sum of the rates"):

* one folder per user, one ``<video>.txt`` per video the user watched;
* whitespace-separated, 6 columns per sample line, CRLF or LF line endings:
  column 1 = interval since the previous sample in **milliseconds** (~16.7 ms, ~60 Hz),
  column 2 = **latitude** in degrees (positive UP), column 3 = **longitude** in degrees
  (positive LEFT, 0 = front centre), columns 4-6 unlabelled (one public reader calls them
  "x, y, z of the gaze"; unverified: kept in :attr:`Trace.extra` as ``col3``-``col5``,
  never interpreted);
* the LAST line holds one number: the sum of the intervals, in **seconds** (checked).

Sample ``k`` (0-based) is at ``t_k = (interval_0 + ... + interval_k) / 1000`` seconds -
the cumulative sum including the first line's interval, as TRACK computes it. The angles are
PVS-HM's (= the ``.mat``'s = pano's own) convention, so the conversion is
:func:`pano.geometry.lonlat_to_vec`. A repeated timestamp (an interval of 0 ms) keeps the
first sample and is listed as a :class:`Repair`; a negative interval is an error.

:func:`compare_txt_with_mat` pairs a txt :class:`TraceSet` with the ``.mat`` variables of the
same videos (``stores/pvs_hm.py``) sample by sample and reports the largest difference in
degrees per video; :meth:`TxtMatComparison.check` refuses a disagreement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from pano.errors import InputDataError, ParameterError
from pano.geometry import lonlat_to_vec, orthodromic_distance
from pano.stores.raw_text import check_range, increasing_times, parse_rows, read_lines, require_dir
from pano.stores.traces import Repair, SourceConvention, Trace, TraceSet, VideoInfo

#: Sample lines have this many whitespace-separated fields.
N_COLUMNS = 6
#: Angles may overshoot their range by this much (degrees) and are kept as given.
ANGLE_TOLERANCE_DEG = 1e-3

CONVENTION = SourceConvention(
    dataset="pvs-hm",
    representation=(
        "raw per-user text traces <user>/<video>.txt: interval (ms), latitude, longitude "
        "(degrees) and three unlabelled columns per sample; last line = sum of the intervals (s)"
    ),
    origin="lat 0, lon 0 = front centre of the panorama (centre of the ERP frame), as the .mat",
    signs="latitude positive UP, longitude positive LEFT (as the .mat; pano's own convention)",
    units="degrees; intervals in milliseconds; the trailer line in seconds",
    angle_order="column 2 latitude, column 3 longitude (1-based); columns 4-6 not interpreted",
    time_base=(
        "t_k = cumulative sum of the intervals of lines 1..k / 1000 s (first sample at its own "
        "interval, as TRACK's Xu_PAMI_18 reader computes it)"
    ),
    erp_alignment="as PVS-HM's .mat: lon 0 = centre column of the ERP video, +90 = left quarter",
    notes=(
        "Layout and signs verified against TRACK's Xu_PAMI_18/Read_Dataset.py (columns "
        "[rate ms, latitude, longitude, x, y, z], last row = sum of the rates; 'upper & left "
        "as the positive direction') and pinned by a landmark test. Columns 4-6 are kept as "
        "extra columns col3, col4, col5 (one public reader calls them the gaze's x, y, z; "
        "unverified). TRACK reports the txt set equal to the .mat except a few NaN entries, "
        "and 5 videos absent from the .mat (LOL, Help2, RollerCoaster, Dota2, Soldier)."
    ),
)

TrailerMode = Literal["check", "ignore"]


def read_pvs_hm_txt(
    source: str | Path,
    *,
    trailer: TrailerMode = "check",
    trailer_tolerance_s: float = 0.01,
    videos: Sequence[str] | None = None,
) -> TraceSet:
    """Read PVS-HM's raw txt traces under ``source`` (one folder per user).

    Args:
        source: the folder holding ``<user>/<video>.txt``.
        trailer: ``"check"`` (default): the last line must be the sum of the intervals in
            seconds, within ``trailer_tolerance_s``; ``"ignore"``: the last line is still
            required to be the one-number trailer but its value is not compared.
        trailer_tolerance_s: largest accepted |trailer - sum of intervals| in seconds.
        videos: read only these videos (file stems); default every ``.txt``.

    Returns:
        A checked :class:`TraceSet`: one head-only :class:`Trace` per (user, video) with
        ``t`` in seconds, ``head`` unit vectors (NaN angles give NaN rows) and ``extra``
        columns ``col3``, ``col4``, ``col5`` (as given) and ``source_row`` (0-based sample
        line the kept sample came from, for :func:`compare_txt_with_mat`).

    Raises:
        InputFileNotFoundError: ``source`` is not a folder.
        InputDataError: no traces, or a malformed file (one line naming the file, the line
            and what to change): wrong column count, a field that is not a number, a
            missing or wrong trailer, a negative interval (time going backwards), an angle
            out of range.
        ParameterError: an unknown ``trailer`` mode or a negative tolerance.

    """
    if trailer not in ("check", "ignore"):
        raise ParameterError(f"pvs-hm-txt: trailer must be 'check' or 'ignore' (got {trailer!r})")
    if not trailer_tolerance_s >= 0:
        raise ParameterError(
            f"pvs-hm-txt: trailer_tolerance_s must be >= 0 (got {trailer_tolerance_s})"
        )
    root = require_dir(source, "PVS-HM txt traces")
    wanted = None if videos is None else set(videos)
    files = [
        f
        for user in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        for f in sorted(user.glob("*.txt"))
        if wanted is None or f.stem in wanted
    ]
    if not files:
        raise InputDataError(
            f"{root}: no <user>/<video>.txt files found; give the folder that holds one "
            "folder per user"
        )
    traces: list[Trace] = []
    repairs: list[Repair] = []
    for f in files:
        tr, n_rep = _read_file(f, trailer, trailer_tolerance_s)
        traces.append(tr)
        if n_rep:
            repairs.append(
                Repair(
                    "drop-duplicate-time",
                    f"{n_rep} sample(s) with a 0 ms interval (same time as the previous "
                    "sample) dropped; the first of each kept",
                    video=tr.video,
                    subject=tr.subject,
                )
            )
    ts = TraceSet(
        dataset="pvs-hm",
        convention=CONVENTION,
        traces=traces,
        videos={v: VideoInfo(v, kind="video") for v in sorted({t.video for t in traces})},
        repairs=repairs,
        files=[str(f) for f in files],
    )
    ts.check()
    return ts


def _read_file(path: Path, trailer: TrailerMode, tol: float) -> tuple[Trace, int]:
    """One ``<user>/<video>.txt`` -> its trace and the number of repeated timestamps dropped."""
    numbered = [(i + 1, ln.split()) for i, ln in enumerate(read_lines(path)) if ln.strip()]
    if len(numbered) < 2:
        raise InputDataError(
            f"{path}: {len(numbered)} non-empty line(s); a trace needs sample lines and the "
            "trailer line (the sum of the intervals in seconds)"
        )
    last_line, last = numbered[-1]
    if len(last) != 1:
        raise InputDataError(
            f"{path}: line {last_line}: the last line has {len(last)} fields; PVS-HM's last "
            "line is one number, the sum of the intervals in seconds - is the file cut short?"
        )
    body = numbered[:-1]
    for line, fields in body:
        if len(fields) != N_COLUMNS:
            raise InputDataError(
                f"{path}: line {line} has {len(fields)} fields, expected {N_COLUMNS} "
                "(interval ms, latitude, longitude and three more, whitespace separated)"
            )
    lines = [ln for ln, _ in body]
    rows = [fl for _, fl in body]
    labels = ("interval ms", "latitude", "longitude", "col3", "col4", "col5")
    data = parse_rows(path, rows, lines, range(N_COLUMNS), labels)
    trailer_value = parse_rows(path, [last], [last_line], [0], ["sum of intervals s"])[0, 0]
    interval = data[:, 0]
    if not np.isfinite(interval).all():
        i = int(np.flatnonzero(~np.isfinite(interval))[0])
        raise InputDataError(
            f"{path}: line {lines[i]}, column 1 (interval ms) is not a finite number"
        )
    neg = np.flatnonzero(interval < 0)
    if neg.size:
        i = int(neg[0])
        raise InputDataError(
            f"{path}: line {lines[i]}: interval {interval[i]:.6g} ms is negative (time goes "
            "backwards); intervals since the previous sample must be >= 0"
        )
    t = np.cumsum(interval) / 1000.0
    if trailer == "check" and not abs(t[-1] - trailer_value) <= tol:
        raise InputDataError(
            f"{path}: line {last_line}: the trailer says the intervals sum to "
            f"{trailer_value:.6g} s but lines {lines[0]}-{lines[-1]} sum to {t[-1]:.6g} s "
            f"(difference {abs(t[-1] - trailer_value):.3g} s > {tol:g} s); a line is missing or "
            "altered - or pass trailer='ignore' to read the file as it is"
        )
    hint = "are the columns interval, latitude, longitude in degrees?"
    check_range(path, data[:, 1], lines, -90 - ANGLE_TOLERANCE_DEG, 90 + ANGLE_TOLERANCE_DEG,
                "latitude", 2, hint)  # fmt: skip
    check_range(path, data[:, 2], lines, -180 - ANGLE_TOLERANCE_DEG, 180 + ANGLE_TOLERANCE_DEG,
                "longitude", 3, hint)  # fmt: skip
    keep, n_rep = increasing_times(path, t, lines, "column 1, interval ms")
    head = lonlat_to_vec(data[keep, 2], data[keep, 1])
    extra = {f"col{c}": data[keep, c].copy() for c in (3, 4, 5)}
    extra["source_row"] = np.flatnonzero(keep).astype(np.float64)
    tr = Trace(
        video=path.stem,
        subject=path.parent.name,
        t=t[keep],
        head=head,
        where=f"{path}: lines {lines[0]}-{lines[-1]}",
        extra=extra,
    )
    return tr, n_rep


# ---------------------------------------------------------------------------
# txt vs .mat
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TxtMatAgreement:
    """How one video's txt traces compare with its ``.mat`` variable.

    Attributes:
        video: the video (``.mat`` variable) name.
        max_diff_deg: largest great-circle angle in degrees between a txt sample and the
            ``.mat`` sample of the same subject and row (pairs where either is NaN are
            skipped); NaN when no pair was compared.
        subject: the txt subject (user folder) where it occurs, or None.
        sample: the 0-based sample row where it occurs, or None.
        n_compared: sample pairs compared.
        txt_rows: largest number of sample rows of a txt trace of this video.
        mat_rows: rows of the ``.mat`` variable.
        notes: differences in shape (rows, subjects) that are not angle differences.

    """

    video: str
    max_diff_deg: float
    subject: str | None
    sample: int | None
    n_compared: int
    txt_rows: int
    mat_rows: int
    notes: tuple[str, ...] = ()


@dataclass
class TxtMatComparison:
    """The txt traces against the ``.mat`` of the same data set, video by video."""

    per_video: dict[str, TxtMatAgreement]
    only_txt: list[str] = field(default_factory=list)  # videos without a .mat variable
    only_mat: list[str] = field(default_factory=list)  # .mat variables without txt traces
    subject_columns: dict[str, int] = field(default_factory=dict)  # txt user -> .mat subject

    def largest(self) -> TxtMatAgreement | None:
        """The video with the largest difference (None when nothing was compared)."""
        done = [a for a in self.per_video.values() if a.n_compared]
        return max(done, key=lambda a: a.max_diff_deg) if done else None

    def format(self) -> str:
        """Human-readable lines: the largest difference per video, then what was not compared."""
        out = []
        for a in self.per_video.values():
            at = f" (subject {a.subject!r}, sample {a.sample})" if a.n_compared else ""
            notes = f"; {'; '.join(a.notes)}" if a.notes else ""
            out.append(
                f"{a.video}: largest txt-.mat difference {a.max_diff_deg:.6g} deg{at} over "
                f"{a.n_compared} sample pairs{notes}"
            )
        if self.only_txt:
            out.append(f"only in the txt traces: {', '.join(self.only_txt)}")
        if self.only_mat:
            out.append(f"only in the .mat: {', '.join(self.only_mat)}")
        return "\n".join(out)

    def check(self, tolerance_deg: float = 1e-3, where: str = "") -> None:
        """Refuse a disagreement: one line naming the video, subject, row and difference.

        Raises:
            InputDataError: a compared video differs by more than ``tolerance_deg`` degrees,
                or no video could be compared at all.

        """
        at = f"{where}: " if where else ""
        worst = self.largest()
        if worst is None:
            raise InputDataError(
                f"{at}the txt traces and the .mat share no video to compare (txt: "
                f"{len(self.only_txt)} videos, .mat: {len(self.only_mat)}); are they the same "
                "data set?"
            )
        if worst.max_diff_deg > tolerance_deg:
            raise InputDataError(
                f"{at}txt and .mat disagree on video {worst.video!r}: subject {worst.subject!r}, "
                f"sample {worst.sample} differs by {worst.max_diff_deg:.6g} deg (tolerance "
                f"{tolerance_deg:g} deg); give only one of them, or check that user folder k "
                "is .mat subject k"
            )


def compare_txt_with_mat(
    traces: TraceSet,
    mat: Mapping[str, np.ndarray],
    subject_order: Literal["casefold", "sorted"] | Sequence[str] = "casefold",
) -> TxtMatComparison:
    """Compare txt traces with ``.mat`` variables sample by sample.

    Args:
        traces: from :func:`read_pvs_hm_txt` (uses ``extra["source_row"]`` to pair rows).
        mat: ``.mat`` variables by video name, each ``[n_samples, 2M]`` float degrees
            (column ``2k`` latitude, ``2k + 1`` longitude of subject ``k``), as
            :func:`pano.stores.pvs_hm.validate_angles` returns them.
        subject_order: which user folder is ``.mat`` subject ``k``: ``"casefold"``
            (default: user names sorted ignoring case, the order TRACK's ``orig_users``
            list has), ``"sorted"`` (plain sort, upper case first) or an explicit list.

    Returns:
        A :class:`TxtMatComparison`; row ``j`` of a txt trace is compared with row ``j`` of
        the ``.mat``. Differing row or subject counts are noted per video, not raised.

    """
    users = traces.subjects()
    if isinstance(subject_order, str):
        if subject_order == "casefold":
            order = sorted(users, key=lambda u: (u.casefold(), u))
        elif subject_order == "sorted":
            order = sorted(users)
        else:
            raise ParameterError(
                f"subject_order must be 'casefold', 'sorted' or a list (got {subject_order!r})"
            )
    else:
        order = list(subject_order)
    column = {u: k for k, u in enumerate(order)}
    txt_videos = set(traces.video_names())
    out = TxtMatComparison(
        per_video={},
        only_txt=sorted(txt_videos - set(mat)),
        only_mat=sorted(set(mat) - txt_videos),
        subject_columns=column,
    )
    for video in sorted(txt_videos & set(mat)):
        arr = np.asarray(mat[video], dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None, :]
        n_mat, m = arr.shape[0], arr.shape[1] // 2
        notes: list[str] = []
        best: tuple[float, str | None, int | None] = (-1.0, None, None)
        n_cmp = 0
        txt_rows = 0
        for tr in traces.by_video(video):
            rows = np.asarray((tr.extra or {}).get("source_row", np.arange(tr.t.size)), int)
            txt_rows = max(txt_rows, int(rows.max()) + 1 if rows.size else 0)
            k = column.get(tr.subject)
            if k is None or k >= m:
                notes.append(f"user {tr.subject!r} has no .mat subject column")
                continue
            inside = rows < n_mat
            ref = lonlat_to_vec(arr[rows[inside], 2 * k + 1], arr[rows[inside], 2 * k])
            assert tr.head is not None
            d = np.rad2deg(orthodromic_distance(tr.head[inside], ref))
            ok = np.isfinite(d)
            n_cmp += int(ok.sum())
            if ok.any():
                j = int(np.flatnonzero(ok)[np.argmax(d[ok])])
                if d[j] > best[0]:
                    best = (float(d[j]), tr.subject, int(rows[inside][j]))
        if txt_rows != n_mat:
            notes.append(f"txt traces have up to {txt_rows} rows, the .mat has {n_mat}")
        n_txt = len(traces.by_video(video))
        if n_txt != m:
            notes.append(f"{n_txt} txt users, {m} .mat subjects")
        out.per_video[video] = TxtMatAgreement(
            video=video,
            max_diff_deg=best[0] if n_cmp else float("nan"),
            subject=best[1],
            sample=best[2],
            n_compared=n_cmp,
            txt_rows=txt_rows,
            mat_rows=n_mat,
            notes=tuple(notes),
        )
    return out


def compare_txt_with_mat_file(
    traces: TraceSet,
    mat_path: str | Path,
    subject_order: Literal["casefold", "sorted"] | Sequence[str] = "casefold",
) -> TxtMatComparison:
    """:func:`compare_txt_with_mat` against a ``FULLdata_per_video_frame.mat`` file.

    The file is read and each variable checked by :mod:`pano.stores.pvs_hm`
    (:func:`~pano.stores.pvs_hm.read_mat_variables`, :func:`~pano.stores.pvs_hm.validate_angles`).

    Raises:
        InputFileNotFoundError, InputDataError: as those functions do.

    """
    from pano.stores.pvs_hm import read_mat_variables, validate_angles

    raw = read_mat_variables(mat_path)
    mat = {k: validate_angles(v, k, mat_path) for k, v in raw.items()}
    return compare_txt_with_mat(traces, mat, subject_order)
