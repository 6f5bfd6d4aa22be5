"""VR-EyeTracking (Xu et al., CVPR 2018): head AND gaze per frame, bottom-left fractions.

Layout, as read (column positions verified against TRACK's ``Xu_CVPR_18/Read_Dataset.py``,
which reads column 1 as the frame index, columns 3-4 as the head and 6-7 as the gaze, and
takes ``frame index * seconds per frame`` of a per-video table as the time; other public
readers split each line on ``,`` and read the same positions):

* ``Gaze_txt_files/<user>/<file>.txt``; the video is the file name up to its first ``.``
  (real files are named like ``180._2017-10-13-10-28_ori_0.txt`` -> video ``180``);
* comma-separated, no header, 8 fields per line (0-based): 0 frame, 1 frame index,
  2 "forward", 3 head x, 4 head y, 5 "eye", 6 gaze x, 7 gaze y. Fields 0, 2 and 5 are not
  read;
* positions are fractions of the panorama measured from its BOTTOM-LEFT corner
  (x to the right, y UP), so ``(0.5, 0.5)`` is the centre of the frame, where the viewer
  starts; converted by :func:`pano.geometry.bottomleft_to_vec`;
* time = frame index / fps, with the fps of each video from a table the user gives
  (``fps``: a CSV ``video,fps`` or a YAML mapping; the files do not state it).

A note for TRACK users: TRACK maps ``x`` to ``theta = 2 pi x`` in a sphere where ``theta``
grows to the LEFT (its PVS-HM conversion), which mirrors left and right relative to the
panorama image; pano follows the image. Great-circle distances are the same either way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from pano.errors import InputDataError, InputFileNotFoundError, ParameterError
from pano.geometry import bottomleft_to_vec
from pano.stores.raw_text import check_range, increasing_times, parse_rows, read_lines, require_dir
from pano.stores.traces import Repair, SourceConvention, Trace, TraceSet, VideoInfo

#: Fields per line.
N_COLUMNS = 8
#: Fractions may overshoot [0, 1] by this much and are kept as given.
FRACTION_TOLERANCE = 1e-6
GAZE_FOLDER = "Gaze_txt_files"

CONVENTION = SourceConvention(
    dataset="xu-cvpr18",
    representation="per user/video CSV without header: frame, frame index, forward, head x, "
    "head y, eye, gaze x, gaze y (head and gaze per video frame)",
    origin="(0, 0) = BOTTOM-LEFT corner of the panorama; (0.5, 0.5) = its centre (start view)",
    signs="x grows to the RIGHT of the panorama image, y grows UP",
    units="fractions of the panorama width and height in [0, 1]",
    angle_order="x before y; head in fields 3-4, gaze in 6-7 (0-based)",
    time_base="field 1 (frame index) / fps of the video, from a per-video fps table given by "
    "the user (frame k at k / fps s, as TRACK computes it)",
    erp_alignment="positions are in the panorama image itself (u = x, v = 1 - y from the top)",
    notes="Column positions verified against TRACK's Xu_CVPR_18/Read_Dataset.py (fields 1, "
    "3-4, 6-7) and pinned by a landmark test; fields 0, 2, 5 are not read. TRACK maps x to "
    "theta = 2 pi x in its left-positive sphere, a left-right mirror of the image; pano "
    "follows the image.",
)


def read_xu_cvpr18(
    source: str | Path,
    *,
    fps: str | Path | Mapping[str, float] | float | None = None,
) -> TraceSet:
    """Read VR-EyeTracking's gaze txt files.

    Args:
        source: the folder holding ``Gaze_txt_files/`` (or that folder itself), which holds
            one folder per user.
        fps: frame rate per video: a CSV file (``video,fps`` per line; a header line is
            allowed), a YAML file (``{video: fps}``), a mapping, or one number for every
            video. Video names match exactly, or as numbers (``"001"`` = ``"1"``).

    Returns:
        A checked :class:`TraceSet` (dataset ``xu-cvpr18``): per (user, video) ``t`` in
        seconds, ``head`` and ``gaze`` unit vectors; :class:`VideoInfo` with each video's fps.

    Raises:
        InputFileNotFoundError: ``source`` or the fps file does not exist.
        InputDataError: no traces; a malformed line (one line naming the file, the line and
            what to change): wrong field count, a field that is not a number, a fraction
            outside [0, 1], the frame index going backwards; a video missing from the fps
            table (naming the video and the table); a bad fps table line.

    """
    root = require_dir(source, "VR-EyeTracking")
    gaze_dir = root / GAZE_FOLDER if (root / GAZE_FOLDER).is_dir() else root
    files = [
        f
        for user in sorted(
            p for p in gaze_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
        )
        for f in sorted(user.glob("*.txt"))
    ]
    if not files:
        raise InputDataError(
            f"{gaze_dir}: no <user>/<video>.txt files found; give the folder that holds "
            f"{GAZE_FOLDER}/ (one folder per user)"
        )
    table, table_where = _fps_table(fps)
    traces, repairs = [], []
    rates: dict[str, float] = {}
    for f in files:
        video = f.name.split(".")[0]
        rate = _lookup(table, video)
        if rate is None:
            raise InputDataError(
                f"{f}: video {video!r} has no frame rate in {table_where}; add a line "
                f"'{video},<fps>' (time = frame index / fps)"
            )
        rates[video] = rate
        tr, n_rep = _read_file(f, video, rate)
        traces.append(tr)
        if n_rep:
            repairs.append(Repair(
                "drop-duplicate-time",
                f"{n_rep} line(s) repeating the previous frame index dropped; the first kept",
                video=video, subject=tr.subject,
            ))  # fmt: skip
    ts = TraceSet(
        dataset="xu-cvpr18",
        convention=CONVENTION,
        traces=traces,
        videos={v: VideoInfo(v, fps=r, kind="video") for v, r in sorted(rates.items())},
        repairs=repairs,
        files=([table_where] if isinstance(fps, str | Path) else []) + [str(f) for f in files],
    )
    ts.check()
    return ts


def _read_file(path: Path, video: str, fps: float) -> tuple[Trace, int]:
    numbered = [(i + 1, ln) for i, ln in enumerate(read_lines(path)) if ln.strip()]
    if len(numbered) < 2:
        raise InputDataError(f"{path}: {len(numbered)} line(s); a trace needs at least 2")
    rows, lines = [], []
    for ln, text in numbered:
        fields = text.split(",")
        if len(fields) != N_COLUMNS:
            raise InputDataError(
                f"{path}: line {ln} has {len(fields)} comma-separated fields, expected "
                f"{N_COLUMNS} (frame, frame index, forward, head x, head y, eye, gaze x, gaze y)"
            )
        rows.append(fields)
        lines.append(ln)
    labels = ["frame index", "head x", "head y", "gaze x", "gaze y"]
    data = parse_rows(path, rows, lines, [1, 3, 4, 6, 7], labels)
    hint = "positions are fractions of the panorama from its bottom-left corner"
    for j, c in enumerate((3, 4, 6, 7), start=1):
        check_range(path, data[:, j], lines, -FRACTION_TOLERANCE, 1 + FRACTION_TOLERANCE,
                    labels[j], c + 1, hint)  # fmt: skip
    t = data[:, 0] / fps
    keep, n_rep = increasing_times(path, t, lines, "field 2, frame index / fps")
    return Trace(
        video=video,
        subject=path.parent.name,
        t=t[keep],
        head=bottomleft_to_vec(data[keep, 1], data[keep, 2]),
        gaze=bottomleft_to_vec(data[keep, 3], data[keep, 4]),
        where=f"{path}: lines {lines[0]}-{lines[-1]}",
    ), n_rep


def _fps_table(
    fps: str | Path | Mapping[str, float] | float | None,
) -> tuple[dict[str, float] | float | None, str]:
    """The fps option as ``({video: fps} | one fps | None, where it came from)``."""
    if fps is None:
        return None, "the fps table (none given: pass fps=FILE, a CSV 'video,fps' or YAML)"
    if isinstance(fps, bool) or not isinstance(fps, str | Path | Mapping | int | float):
        raise ParameterError(f"xu-cvpr18: fps must be a file, a mapping or a number (got {fps!r})")
    if isinstance(fps, int | float):
        return _positive(float(fps), "the fps option", None), "the fps option"
    if isinstance(fps, Mapping):
        return {
            str(k): _positive(v, "the fps mapping", str(k)) for k, v in fps.items()
        }, "the fps mapping"
    path = Path(fps)
    if not path.is_file():
        raise InputFileNotFoundError(f"{path}: fps table not found")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise InputDataError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from err
        if not isinstance(data, dict):
            raise InputDataError(f"{path}: expected a YAML mapping 'video: fps'")
        return {str(k): _positive(v, str(path), str(k)) for k, v in data.items()}, str(path)
    table: dict[str, float] = {}
    for i, text in enumerate(read_lines(path)):
        if not text.strip():
            continue
        fields = [s.strip() for s in text.split(",")]
        if len(fields) != 2:
            raise InputDataError(
                f"{path}: line {i + 1} has {len(fields)} fields, expected 'video,fps'"
            )
        try:
            value = float(fields[1])
        except ValueError:
            if not table:  # a header line
                continue
            raise InputDataError(
                f"{path}: line {i + 1}: fps {fields[1]!r} is not a number"
            ) from None
        table[fields[0]] = _positive(value, f"{path}: line {i + 1}", fields[0])
    return table, str(path)


def _positive(value: object, where: str, video: str | None) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        v = math.nan
    if not (math.isfinite(v) and v > 0):
        of = f" of video {video!r}" if video is not None else ""
        error = InputDataError if video is not None else ParameterError
        raise error(f"{where}: fps{of} must be a positive number (got {value!r})")
    return v


def _lookup(table: dict[str, float] | float | None, video: str) -> float | None:
    if table is None or isinstance(table, float):
        return table
    if video in table:
        return table[video]
    if video.isdigit():
        for k, v in table.items():
            if k.isdigit() and int(k) == int(video):
                return v
    return None
