"""TRACK's common format: read it (``pano ingest track``) and write it (``pano export track``).

TRACK (Rondon et al., TPAMI 2021; the head-motion-prediction repository) converts every
data set it benchmarks to one layout, which its training code reads:

* ``<root>/<video>/<user>``: one file per video and user, **no extension, no header**,
  comma separated, one row per sample: ``t, x, y, z`` - ``t`` seconds from the start of
  the video (0, 0.2, 0.4, ...: TRACK resamples every trace to 0.2 s by quaternion slerp),
  ``(x, y, z)`` a unit vector on TRACK's sphere, ``x = cos(theta) sin(phi)``, ``y =
  sin(theta) sin(phi)``, ``z = cos(phi)``: ``theta`` the longitude in ``[0, 2 pi)``,
  ``phi`` the colatitude from the north pole (``+z`` up);
* how ``theta`` sits on the ERP video depends on the data set TRACK read
  (``alignment``): for PVS-HM ``theta = rad(lon + 180)`` with PVS-HM's lon positive LEFT
  (``"pvs-hm"``, the default: pano ``(x, y, z) = (-x_T, -y_T, z_T)``,
  :func:`pano.geometry.track_to_vec`); for the data sets given as ERP fractions from the
  left edge (David MMSys'18, Xu CVPR'18) ``theta = 2 pi u`` (``"erp"``: pano ``(x, y, z)
  = (-x_T, y_T, z_T)``, so ``u = 0.25`` - a quarter from the left edge - is pano lon +90);
* TRACK keeps its splits in code; pano reads and writes optional ``train.txt``,
  ``val.txt``, ``test.txt`` beside the video folders (one video name per line).

Rows with ``nan`` components are missing samples (pano's exporter writes a gap inside a
trace that way; leading and trailing gaps are left out).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pano.errors import ConfigError, InputDataError, InputFileNotFoundError
from pano.stores.traces import SourceConvention, Trace, TraceSet

Alignment = Literal["pvs-hm", "erp"]
ALIGNMENTS: tuple[str, ...] = ("pvs-hm", "erp")
SPLIT_FILES: tuple[str, ...] = ("train", "val", "test")

#: How far from unit length a TRACK vector may be (it is renormalised when off by > 1e-9).
TRACK_UNIT_TOLERANCE = 1e-3

_SIGNS: dict[str, np.ndarray] = {
    "pvs-hm": np.array([-1.0, -1.0, 1.0]),
    "erp": np.array([-1.0, 1.0, 1.0]),
}


def _signs(alignment: str) -> np.ndarray:
    if alignment not in _SIGNS:
        raise ConfigError(
            f"alignment {alignment!r}: use one of {', '.join(ALIGNMENTS)} (how TRACK's "
            "theta sits on the ERP video: pvs-hm = rad(lon + 180), erp = 2 pi u from the left)"
        )
    return _SIGNS[alignment]


def track_convention(alignment: str, dataset: str = "track") -> SourceConvention:
    """The :class:`SourceConvention` of TRACK files read with ``alignment``."""
    erp = (
        "theta = rad(lon + 180) with lon positive LEFT (TRACK's PVS-HM reading): pano (x, y, z)"
        " = (-x_T, -y_T, z_T)"
        if alignment == "pvs-hm"
        else "theta = 2 pi u, u the ERP fraction from the LEFT edge (TRACK's David MMSys'18 and"
        " Xu CVPR'18 readings): pano (x, y, z) = (-x_T, y_T, z_T)"
    )
    return SourceConvention(
        dataset=dataset,
        representation="t, x, y, z: unit vectors on TRACK's sphere, one CSV per video/user",
        origin="theta = 0, phi = pi/2 is (1, 0, 0); z = north pole",
        signs="x = cos(theta) sin(phi), y = sin(theta) sin(phi), z = cos(phi); theta "
        "longitude in [0, 2 pi), phi colatitude",
        units="unit-vector components; t in seconds",
        angle_order="columns t, x, y, z (no header)",
        time_base="seconds from the video start, resampled by TRACK to 0.2 s",
        erp_alignment=f"alignment={alignment}: {erp}",
    )


def _parse(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(t (N,), xyz (N, 3))`` of one TRACK file, as written (TRACK's axes)."""
    rows: list[list[float]] = []
    with path.open(encoding="utf-8", newline="") as f:
        for i, line in enumerate(f, start=1):
            text = line.strip()
            if not text:
                continue
            parts = text.split(",")
            if len(parts) != 4:
                raise InputDataError(
                    f"{path}: row {i} has {len(parts)} columns, expected 4 (t, x, y, z) "
                    "separated by commas"
                )
            try:
                vals = [float(p) for p in parts]
            except ValueError:
                raise InputDataError(
                    f"{path}: row {i}: {text[:60]!r} holds a value that is not a number; "
                    "each row is t, x, y, z"
                ) from None
            if not math.isfinite(vals[0]):
                raise InputDataError(f"{path}: row {i}: time {parts[0]!r} is not a finite number")
            rows.append(vals)
    if not rows:
        raise InputDataError(f"{path}: no rows; a TRACK trace holds rows t, x, y, z")
    arr = np.asarray(rows, dtype=np.float64)
    return arr[:, 0], arr[:, 1:]


def _to_pano(path: Path, xyz: np.ndarray, signs: np.ndarray) -> np.ndarray:
    ok = np.isfinite(xyz).all(axis=1)
    norms = np.linalg.norm(xyz, axis=1)
    bad = np.flatnonzero(ok & (np.abs(norms - 1.0) > TRACK_UNIT_TOLERANCE))
    if bad.size:
        i = int(bad[0])
        raise InputDataError(
            f"{path}: row {i + 1}: (x, y, z) has length {norms[i]:.6g}, not 1; TRACK rows hold "
            "unit vectors"
        )
    out = np.where(ok[:, None], xyz, np.nan) * signs
    off = ok & (np.abs(norms - 1.0) > 1e-9)
    out[off] /= norms[off, None]
    return out


def read_track(
    source: Path, alignment: str = "pvs-hm", dataset: str = "track", **_: Any
) -> TraceSet:
    """Read TRACK's common format under ``source`` (see the module docstring).

    Args:
        source: the folder holding one sub-folder per video.
        alignment: ``"pvs-hm"`` or ``"erp"`` (how TRACK's theta sits on the video).
        dataset: the name recorded in the store (e.g. ``"pvs-hm"`` for TRACK's PVS-HM
            traces, so ``--split track`` finds TRACK's split of it).

    Raises:
        InputFileNotFoundError: ``source`` is not a folder.
        InputDataError: a row with a wrong column count, a non-number, a non-unit vector,
            time going backwards (one line naming the file and the row); no traces.
        ConfigError: an unknown ``alignment``.

    """
    signs = _signs(alignment)
    root = Path(source)
    if not root.is_dir():
        raise InputFileNotFoundError(
            f"{root}: not a folder; TRACK's format is a folder with one sub-folder per video"
        )
    traces: list[Trace] = []
    files: list[str] = []
    for vdir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted(p for p in vdir.iterdir() if p.is_file() and not p.name.startswith(".")):
            t, xyz = _parse(f)
            user = f.name[:-4] if f.name.endswith(".csv") else f.name
            traces.append(Trace(vdir.name, user, t, _to_pano(f, xyz, signs), where=str(f)))
            files.append(str(f))
    splits: dict[str, list[str]] | None = None
    for s in SPLIT_FILES:
        p = root / f"{s}.txt"
        if p.is_file():
            names = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines()]
            splits = splits or {}
            splits[s] = [n for n in names if n]
            files.append(str(p))
    ts = TraceSet(
        dataset=dataset,
        convention=track_convention(alignment, dataset),
        traces=traces,
        splits=splits,
        files=files,
    )
    if not traces:
        raise InputDataError(
            f"{root}: no traces; TRACK's format is <root>/<video>/<user> files of rows t, x, y, z"
        )
    return ts


def _fmt(v: float) -> str:
    return repr(float(v))  # shortest text that reads back to the same float64


def write_track_files(
    out: Path, video: str, users: list[str], t: np.ndarray, xyz: np.ndarray, alignment: str
) -> list[Path]:
    """Write one video's traces ``xyz (users, T, 3)`` (pano axes) at times ``t (T,)`` s.

    Leading and trailing NaN rows of a user are left out; a gap inside is written as
    ``nan`` rows. A user without any sample gets no file. Returns the files written.
    """
    signs = _signs(alignment)
    vdir = out / video
    vdir.mkdir(parents=True, exist_ok=True)
    written = []
    for u, vec in zip(users, xyz, strict=True):
        ok = np.flatnonzero(np.isfinite(vec).all(axis=1))
        if ok.size == 0:
            continue
        lines = []
        for k in range(int(ok[0]), int(ok[-1]) + 1):
            x, y, z = vec[k] * signs
            lines.append(f"{_fmt(t[k])},{_fmt(x)},{_fmt(y)},{_fmt(z)}\n")
        path = vdir / u
        tmp = path.with_name(f".{u}.tmp")
        tmp.write_text("".join(lines), encoding="utf-8")
        os.replace(tmp, path)
        written.append(path)
    return written


def export_track(store: Any, out: Path, alignment: str = "pvs-hm") -> list[Path]:
    """Write a store's resampled head vectors (``hm_rs_xyz`` at ``rs_time``) in TRACK's format.

    One ``<out>/<video>/<subject id>`` file per video and subject (subject ids: the root
    ``subjects``), and ``train.txt``/``val.txt``/``test.txt`` with the store's splits.
    ``pano ingest track`` of the result gives the same ``hm_rs_xyz`` bit for bit.

    Raises:
        StoreNotFoundError, StoreError: no readable store.
        ConfigError: an unknown ``alignment``.

    """
    from pano.stores.reader import list_videos, read_root_attrs, read_video_array

    _signs(alignment)
    root = read_root_attrs(store)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for name in list_videos(store):
        t = np.asarray(read_video_array(store, name, "rs_time"), dtype=np.float64)
        xyz = np.asarray(read_video_array(store, name, "hm_rs_xyz"), dtype=np.float64)
        subj = np.asarray(read_video_array(store, name, "subject"), dtype=np.int64)
        ids = [root.subjects[int(s)] if int(s) < len(root.subjects) else f"s{int(s):02d}"
               for s in subj]  # fmt: skip
        files += write_track_files(out, name, ids, t, xyz, alignment)
    for s in SPLIT_FILES:
        names = getattr(root.splits, s)
        if names:
            p = out / f"{s}.txt"
            p.write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
            files.append(p)
    return files
