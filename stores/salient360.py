"""Salient360! scanpaths (MMSys'18 videos, 2017 images) and its float32 ``.bin`` saliency maps.

Layout, as read (verified against the Salient360! toolbox, github David-Ef/salient360Toolbox:
``helper.loadFixlist`` / ``getCleanHeaderList`` and ``utils/readOutFile.py``, and TRACK's
``David_MMSys_18/Read_Dataset.py``):

* one folder per condition: ``H`` (head only) and ``HE`` (head + eye) anywhere under the
  source; scanpaths are the ``.csv``/``.txt`` files under its ``Scanpaths`` folder (a
  sub-folder of ``Scanpaths``, e.g. one per eye, becomes part of the subject id);
* a scanpath file has a header line whose names may carry LEADING SPACES (`` longitude``);
  names are matched like the toolbox does (lower case, letters only): ``idx``,
  ``longitude``/``lon``, ``latitude``/``lat``, ``start timestamp``/``start time``/``time``,
  optional ``duration``, ``start frame``, ``end frame``. A trailing comma on a line is
  allowed;
* all users of a video (or image) are in one file: a new user starts where ``Idx`` restarts
  (is not larger than the previous row's);
* ``longitude``, ``latitude`` are fractions of the ERP image in ``[0, 1]``: longitude 0 = the
  LEFT edge, latitude 0 = the TOP row (north pole) - the toolbox projects them as
  ``theta = 2 pi (1 - lon)``, ``phi = pi lat``, i.e. the ERP image as pano reads it
  (:func:`pano.geometry.salient360_to_vec`). Some releases of the 2017 image set hold
  1-based integer PIXEL coordinates instead: detected per file from the value range
  (any value > 1) and converted with the image size (pixel ``i`` has its centre at
  ``i - 0.5``);
* start timestamps in milliseconds (``time_unit``); video files have start/end frames;
* H files: the head direction sampled at a fixed rate (100 samples per user in MMSys'18) ->
  :attr:`Trace.head`; HE files: fixations of the gaze in the world -> :attr:`Trace.gaze`
  at each fixation's start time (durations kept in ``extra["duration_s"]``);
* saliency maps ``<name>_<W>x<H>[x<N>]_32b.bin``: raw little-endian float32, row-major,
  ``N`` frames of ``H`` rows (top = north) of ``W`` columns (left edge first); maps under
  ``H`` are head maps, under ``HE`` eye maps (kept apart as :class:`SourceMap` kinds). They
  are memory-mapped, not loaded.

The data set's documentation says half the viewers started at longitude 0° and half at
180°; the files do not say which viewer started where, so nothing is changed for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Literal

import numpy as np

from pano.errors import InputDataError, ParameterError
from pano.geometry import salient360_to_vec
from pano.stores.raw_text import check_range, increasing_times, parse_rows, read_lines, require_dir
from pano.stores.traces import (
    MapKind,
    Repair,
    SourceConvention,
    SourceMap,
    Trace,
    TraceSet,
    VideoInfo,
)

#: Condition folder -> which direction its scanpaths hold and which map kind.
CONDITIONS: dict[str, tuple[str, MapKind]] = {"H": ("head", "head"), "HE": ("gaze", "eye")}
#: Blur the data set states for its maps, degrees.
MAP_BLUR_DEG: dict[MapKind, float] = {"head": 3.34, "eye": 2.0}
SCANPATH_SUFFIXES = (".csv", ".txt")
_MAP_NAME = re.compile(
    r"^(?P<name>.+)_(?P<w>\d+)x(?P<h>\d+)(?:x(?P<n>\d+))?_(?P<bits>\d+)b(?:_\w+)?$"
)
_TIME_UNITS = {"ms": 1e-3, "s": 1.0}

Kind = Literal["auto", "video", "image"]
Coordinates = Literal["auto", "normalised", "pixels"]


def read_salient360(
    source: str | Path,
    *,
    conditions: Sequence[str] = ("H", "HE"),
    kind: Kind = "auto",
    coordinates: Coordinates = "auto",
    time_unit: Literal["ms", "s"] = "ms",
    image_size: Sequence[int] | str | None = None,
    image_sizes: Mapping[str, Sequence[int] | str] | None = None,
    maps: bool = True,
    fps: float | None = None,
) -> TraceSet:
    """Read a Salient360! copy (videos or images; H and/or HE; maps) under ``source``.

    Args:
        source: a folder holding ``H`` and/or ``HE`` condition folders (at any depth), or
            one condition folder itself.
        conditions: which conditions to read (``"H"``, ``"HE"``; a list or ``"H,HE"``); a
            missing one is skipped, none found is an error.
        kind: ``"video"`` / ``"image"``, or ``"auto"`` (default): a file with a start-frame
            column is a video's, otherwise an image's.
        coordinates: ``"normalised"`` (fractions in [0, 1]), ``"pixels"`` (1-based integer
            pixels) or ``"auto"`` (default): pixels when a value of the file exceeds 1.
        time_unit: unit of the start timestamps and durations (``"ms"`` as documented).
        image_size: ``(W, H)`` (or ``"WxH"``) of every image, for pixel coordinates.
        image_sizes: ``{name: (W, H)}`` per image (wins over ``image_size``; names are
            compared as text); without either, a map of the same name supplies the size.
        maps: also read the ``.bin`` saliency maps (memory-mapped).
        fps: the videos' frame rate, recorded in :class:`VideoInfo` (the scanpath files do
            not state it).

    Returns:
        A checked :class:`TraceSet` (dataset ``salient360``). Subjects are
        ``<condition>[-<subfolder>]-u<k>`` with ``k`` the user's 0-based order in its file
        (the data set does not say whether H user k and HE user k are the same person).

    Raises:
        InputFileNotFoundError: ``source`` is not a folder.
        InputDataError: no scanpath found, or a malformed file (one line naming the file,
            the line and what to change): header without the needed columns, wrong field
            count, a field that is not a number, time going backwards within a user, a
            coordinate out of range, pixel coordinates without an image size, a map whose
            name or size is wrong.
        ParameterError: an unknown option value.

    """
    if isinstance(conditions, str):  # "H,HE" from a command line
        conditions = [c.strip() for c in conditions.split(",") if c.strip()]
    _check_options(conditions, kind, coordinates, time_unit, fps)
    root = require_dir(source, "Salient360!")
    folders = _condition_folders(root, conditions)
    if not folders:
        raise InputDataError(
            f"{root}: no {' or '.join(conditions)} folder found; expected e.g. "
            f"{root}/H/Scanpaths/<video>_fixations.csv"
        )
    sizes: dict[str, tuple[int, int]] = {}
    source_maps: list[SourceMap] = []
    files: list[str] = []
    if maps:
        for cond, folder in folders:
            for p in sorted(folder.rglob("*.bin")):
                m = _read_map(p, CONDITIONS[cond][1])
                source_maps.append(m)
                files.append(str(p))
                sizes.setdefault(m.video, (int(m.data.shape[2]), int(m.data.shape[1])))
    if image_size is not None:
        default = _size(image_size, "image_size")
    else:
        default = None
    for name, wh in (image_sizes or {}).items():
        sizes[str(name)] = _size(wh, f"image_sizes[{name!r}]")  # YAML may give 7, not "7"
    traces: list[Trace] = []
    repairs: list[Repair] = []
    modes: dict[str, list[str]] = {"normalised": [], "pixels": []}
    kinds: dict[str, str] = {}
    for cond, folder in folders:
        for sp_dir in sorted(p for p in folder.rglob("Scanpaths") if p.is_dir()):
            for f in sorted(p for p in sp_dir.rglob("*") if p.suffix.lower() in SCANPATH_SUFFIXES):
                sub = "-".join(f.parent.relative_to(sp_dir).parts)
                prefix = cond + (f"-{sub}" if sub else "")
                parsed = _read_scanpath(
                    f, kind, coordinates, _TIME_UNITS[time_unit], sizes, default
                )
                files.append(str(f))
                modes[parsed.mode].append(f.name)
                kinds[parsed.name] = parsed.kind
                for k, user in enumerate(parsed.users):
                    subject = f"{prefix}-u{k:02d}"
                    if user.n_repeated:
                        repairs.append(Repair(
                            "drop-duplicate-time",
                            f"{user.n_repeated} sample(s) with the same start timestamp as the "
                            "previous one dropped; the first of each kept",
                            video=parsed.name, subject=subject,
                        ))  # fmt: skip
                    if user.t.size < 2:
                        repairs.append(Repair(
                            "drop-trace",
                            f"{user.where}: {user.t.size} sample(s); a trace needs at least 2",
                            video=parsed.name, subject=subject,
                        ))  # fmt: skip
                        continue
                    what = CONDITIONS[cond][0]
                    traces.append(Trace(
                        video=parsed.name, subject=subject, t=user.t,
                        head=user.vec if what == "head" else None,
                        gaze=user.vec if what == "gaze" else None,
                        where=user.where, extra=user.extra,
                    ))  # fmt: skip
    if not traces:
        raise InputDataError(
            f"{root}: no scanpath with at least 2 samples under "
            f"{', '.join(str(f) for _, f in folders)}/Scanpaths; expected <name>_fixations.csv "
            "files"
        )
    videos = _video_infos(traces, source_maps, kinds, sizes, fps)
    ts = TraceSet(
        dataset="salient360",
        convention=_convention(modes, sizes, time_unit),
        traces=traces,
        videos=videos,
        repairs=repairs,
        maps=source_maps,
        files=files,
    )
    ts.check()
    return ts


def _check_options(
    conditions: Sequence[str], kind: str, coordinates: str, time_unit: str, fps: float | None
) -> None:
    bad = [c for c in conditions if c not in CONDITIONS]
    if bad or not conditions:
        raise ParameterError(f"salient360: conditions must be among 'H', 'HE' (got {conditions})")
    if kind not in ("auto", "video", "image"):
        raise ParameterError(f"salient360: kind must be 'auto', 'video' or 'image' (got {kind!r})")
    if coordinates not in ("auto", "normalised", "pixels"):
        raise ParameterError(
            "salient360: coordinates must be 'auto', 'normalised' or 'pixels' "
            f"(got {coordinates!r})"
        )
    if time_unit not in _TIME_UNITS:
        raise ParameterError(f"salient360: time_unit must be 'ms' or 's' (got {time_unit!r})")
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise ParameterError(f"salient360: fps must be a positive number (got {fps})")


def _size(wh: Sequence[int] | str, what: str) -> tuple[int, int]:
    """``(W, H)`` from a pair or ``"WxH"`` text."""
    parts = wh.lower().split("x") if isinstance(wh, str) else wh
    try:
        w, h = (int(v) for v in parts)
    except (TypeError, ValueError):
        raise ParameterError(f"salient360: {what} must be (width, height) (got {wh!r})") from None
    if w < 1 or h < 1:
        raise ParameterError(f"salient360: {what} must be positive (got {wh!r})")
    return w, h


def _condition_folders(root: Path, conditions: Sequence[str]) -> list[tuple[str, Path]]:
    if root.name in conditions:
        return [(root.name, root)]
    out = []
    for cond in conditions:
        out += [(cond, p) for p in sorted(root.rglob(cond)) if p.is_dir() and p.name == cond]
    return out


def scanpath_name(path: Path) -> str:
    """The video/image name of a scanpath file.

    ``1_PortoRiverside_fixations.csv`` -> ``1_PortoRiverside``; ``Hscanpath_12.txt`` /
    ``HEscanpath_12.txt`` -> ``12``; any other file -> its stem.
    """
    stem = path.stem
    stem = re.sub(r"_fixations$", "", stem)
    return re.sub(r"^H(?:E)?scanpath_", "", stem)


# ---------------------------------------------------------------------------
# Scanpath files
# ---------------------------------------------------------------------------


@dataclass
class _User:
    t: np.ndarray
    vec: np.ndarray
    extra: dict[str, np.ndarray]
    where: str
    n_repeated: int


@dataclass
class _Scanpath:
    name: str
    kind: str  # "video" | "image"
    mode: str  # "normalised" | "pixels"
    users: list[_User]


def _clean(name: str) -> str:
    return re.sub("[^a-z]", "", name.lower())


def _find_columns(path: Path, header: list[str]) -> dict[str, int]:
    names = [_clean(h) for h in header]

    def first(*pred: str, exact: Sequence[str] = ()) -> int | None:
        for i, n in enumerate(names):
            if n in exact or any(n.startswith(p) for p in pred):
                return i
        return None

    cols = {
        "idx": first(exact=("idx", "index", "i")),
        "lon": first("longitude", exact=("lon", "long")),
        "lat": first("latitude", exact=("lat",)),
        "time": first("starttime", exact=("time", "timestamp", "ts", "timestart")),
        "duration": first("dur"),
        "start_frame": first("startframe"),
        "end_frame": first("endframe"),
    }
    missing = [k for k in ("idx", "lon", "lat", "time") if cols[k] is None]
    if missing:
        raise InputDataError(
            f"{path}: line 1 (header) {','.join(header)!r} has no {', '.join(missing)} column; "
            "expected 'Idx, longitude, latitude, start timestamp[, duration, start frame, "
            "end frame]'"
        )
    return {k: v for k, v in cols.items() if v is not None}


def _read_scanpath(
    path: Path,
    kind: Kind,
    coordinates: Coordinates,
    time_scale: float,
    sizes: Mapping[str, tuple[int, int]],
    default_size: tuple[int, int] | None,
) -> _Scanpath:
    lines = read_lines(path)
    numbered = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip()]
    if not numbered:
        raise InputDataError(f"{path}: the file is empty; expected a header and scanpath lines")
    header = [h for h in numbered[0][1].split(",")]
    if header and not header[-1].strip():
        header = header[:-1]
    cols = _find_columns(path, header)
    body = numbered[1:]
    if not body:
        raise InputDataError(f"{path}: only a header line; the scanpath has no samples")
    rows, line_no = [], []
    for ln, text in body:
        fields = text.split(",")
        if len(fields) == len(header) + 1 and not fields[-1].strip():
            fields = fields[:-1]
        if len(fields) != len(header):
            raise InputDataError(
                f"{path}: line {ln} has {len(fields)} fields, the header has {len(header)}; "
                "fix or remove that line"
            )
        rows.append(fields)
        line_no.append(ln)
    order = [k for k in ("idx", "lon", "lat", "time", "duration", "start_frame", "end_frame")
             if k in cols]  # fmt: skip
    data = parse_rows(path, rows, line_no, [cols[k] for k in order], order)
    col = {k: data[:, i] for i, k in enumerate(order)}
    name = scanpath_name(path)
    is_video = kind == "video" or (kind == "auto" and "start_frame" in cols)
    lon, lat = col["lon"], col["lat"]
    mode = coordinates
    if mode == "auto":
        with np.errstate(invalid="ignore"):
            mode = "pixels" if (np.nanmax(np.r_[lon, lat], initial=0.0) > 1.0) else "normalised"
    u, v = _to_fractions(path, mode, lon, lat, line_no, cols, sizes.get(name, default_size))
    vec = salient360_to_vec(u, v)
    t = col["time"] * time_scale
    idx = col["idx"]
    starts = [0, *(np.flatnonzero(np.diff(idx) <= 0) + 1).tolist(), idx.size]
    users = []
    for a, b in pairwise(starts):
        lines_ab = line_no[a:b]
        keep, n_rep = increasing_times(path, t[a:b], lines_ab, f"column {cols['time'] + 1}")
        extra = {}
        if "duration" in col:
            extra["duration_s"] = col["duration"][a:b][keep] * time_scale
        for k in ("start_frame", "end_frame"):
            if k in col:
                extra[k] = col[k][a:b][keep]
        users.append(_User(
            t=t[a:b][keep], vec=vec[a:b][keep], extra=extra,
            where=f"{path}: lines {lines_ab[0]}-{lines_ab[-1]}", n_repeated=n_rep,
        ))  # fmt: skip
    return _Scanpath(name, "video" if is_video else "image", str(mode), users)


def _to_fractions(
    path: Path,
    mode: str,
    lon: np.ndarray,
    lat: np.ndarray,
    lines: list[int],
    cols: Mapping[str, int],
    size: tuple[int, int] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Longitude/latitude columns -> fractions ``(u, v)`` of the ERP width/height."""
    if mode == "normalised":
        hint = "normalised coordinates are fractions in [0, 1]"
        check_range(path, lon, lines, 0.0, 1.0, "longitude", cols["lon"] + 1, hint)
        check_range(path, lat, lines, 0.0, 1.0, "latitude", cols["lat"] + 1, hint)
        return lon, lat
    if size is None:
        raise InputDataError(
            f"{path}: coordinates up to {np.nanmax(np.r_[lon, lat]):.6g} are pixels, but the "
            f"size of image {scanpath_name(path)!r} is unknown; pass image_sizes={{name: (W, H)}}"
            " or image_size=(W, H), or put its <name>_<W>x<H>_32b.bin map beside it"
        )
    w, h = size
    hint = f"1-based pixels of a {w}x{h} image"
    check_range(path, lon, lines, 1.0, float(w), "longitude (pixel column)", cols["lon"] + 1, hint)
    check_range(path, lat, lines, 1.0, float(h), "latitude (pixel row)", cols["lat"] + 1, hint)
    return (lon - 0.5) / w, (lat - 0.5) / h


# ---------------------------------------------------------------------------
# Saliency maps
# ---------------------------------------------------------------------------


def parse_map_name(path: Path) -> tuple[str, int, int, int, int]:
    """``<name>_<W>x<H>[x<N>]_<bits>b[_<type>].bin`` -> ``(name, W, H, N, bits)``.

    Raises:
        InputDataError: the name does not state the size.

    """
    m = _MAP_NAME.match(path.stem)
    if m is None:
        raise InputDataError(
            f"{path}: a saliency map's name must state its size, <name>_<W>x<H>[x<N>]_32b.bin "
            "(W columns, H rows, N frames); rename the file"
        )
    n = int(m["n"]) if m["n"] else 1
    return m["name"], int(m["w"]), int(m["h"]), n, int(m["bits"])


def _read_map(path: Path, kind: MapKind) -> SourceMap:
    name, w, h, n, bits = parse_map_name(path)
    if bits != 32:
        raise InputDataError(
            f"{path}: {bits}-bit map; Salient360! maps are 32-bit floats (_32b.bin)"
        )
    expected = w * h * n * 4
    size = path.stat().st_size
    if size != expected or expected == 0:
        raise InputDataError(
            f"{path}: {size} bytes, but {w}x{h}x{n} float32 values need {expected}; the file "
            "is cut short or its name states the wrong size"
        )
    data = np.memmap(path, dtype="<f4", mode="r", shape=(n, h, w))
    return SourceMap(video=name, kind=kind, data=data, where=str(path), blur_deg=MAP_BLUR_DEG[kind])


def _video_infos(
    traces: list[Trace],
    maps: list[SourceMap],
    kinds: Mapping[str, str],
    sizes: Mapping[str, tuple[int, int]],
    fps: float | None,
) -> dict[str, VideoInfo]:
    names = sorted({t.video for t in traces} | {m.video for m in maps})
    out = {}
    for n in names:
        is_image = kinds.get(n) == "image" or (
            n not in kinds and all(m.data.shape[0] == 1 for m in maps if m.video == n)
        )
        frames = [m.data.shape[0] for m in maps if m.video == n]
        wh = sizes.get(n)
        info = VideoInfo(n, kind="image" if is_image else "video")
        if wh is not None:
            info.width, info.height = wh
        if not is_image:
            info.fps = fps
            if fps and frames:
                info.duration_s = max(frames) / fps
        out[n] = info
    return out


def _convention(
    modes: Mapping[str, list[str]], sizes: Mapping[str, tuple[int, int]], time_unit: str
) -> SourceConvention:
    units = []
    if modes["normalised"]:
        units.append(
            f"fractions of the ERP width/height in [0, 1] ({len(modes['normalised'])} files)"
        )
    if modes["pixels"]:
        units.append(
            f"1-based integer pixels, pixel i centred at i - 0.5 ({len(modes['pixels'])} files: "
            f"{', '.join(modes['pixels'][:10])}{' ...' if len(modes['pixels']) > 10 else ''})"
        )
    return SourceConvention(
        dataset="salient360",
        representation="scanpath CSV per video/image and condition: Idx, longitude, latitude, "
        "start timestamp[, duration, start frame, end frame]; users concatenated (Idx restarts)",
        origin="longitude 0 = LEFT edge of the ERP image, latitude 0 = TOP row (north pole); "
        "(0.5, 0.5) = the image centre",
        signs="longitude grows to the RIGHT (pano lon = 180 - 360 u, positive left), latitude "
        "grows DOWN (pano lat = 90 - 180 v)",
        units="; ".join(units) or "none read",
        angle_order="longitude column before latitude (header names; matched like the toolbox)",
        time_base=f"start timestamp of each sample/fixation from the stimulus onset, read as "
        f"{'ms (seconds = ms / 1000; the documented unit)' if time_unit == 'ms' else 'seconds'}"
        "; HE rows are fixations (time = fixation start)",
        erp_alignment="the ERP image/video itself: the coordinates are positions in it",
        notes="Verified against the Salient360! toolbox (loadFixlist projects theta = 2 pi "
        "(1 - lon), phi = pi lat; readOutFile: float32 row-major W x H [x N] maps) and TRACK's "
        "David_MMSys_18 reader (' longitude', ' latitude', ' start timestamp' / 1000); pinned "
        "by a landmark test. The data set says half the viewers started at longitude 0 deg and "
        "half at 180 deg (which ones is not in the files; nothing changed). H -> head, HE -> "
        "world gaze (fixations). Maps: head blurred ~3.34 deg, eye ~2 deg as documented."
        + (f" Image sizes: {dict(sizes)}." if modes["pixels"] else ""),
    )
