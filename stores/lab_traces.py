"""Reading a lab's own CSV/TSV head (and eye) recordings, as a spec describes them.

``pano ingest traces SOURCE --spec SPEC.yaml`` (format ``traces``): see
:mod:`pano.stores.lab_spec` for the spec. Rows are grouped into traces by (video,
subject) in order of first appearance; each trace's time must not go backwards (rows
repeating a time are dropped, a repair).

Conversions (all through unit vectors and :mod:`pano.rotations`, i.e. kornia):

* Euler: the angles are turned into pano's signs, then composed in the stated order
  (:func:`pano.rotations.ypr_to_quaternion` per axis, :func:`quaternion_multiply`);
  head direction = ``R @ [1, 0, 0]``.
* Quaternion: ``R_src = quaternion_to_matrix(q)`` in the source's coordinates; with
  ``M`` the world axes in pano's frame, the head's forward and up are
  ``M R_src h_forward`` and ``M R_src h_up`` (left = up x forward), which make the head
  rotation in pano's frame (:func:`matrix_to_quaternion`).
* Eye: eye-in-head vectors go to pano's head axes (``+x`` forward, ``+y`` left, ``+z``
  up) by the spec's eye axes and are normalised (``Trace.eye_in_head``); world gaze
  = ``R_head @ eye`` (:func:`pano.rotations.rotate_vectors`). Blink rows (NaN eye) stay
  NaN in both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from pano.errors import ConfigError, InputDataError, InputFileNotFoundError
from pano.rotations import (
    matrix_to_quaternion,
    quaternion_multiply,
    quaternion_to_matrix,
    rotate_vectors,
    ypr_to_quaternion,
)
from pano.stores.lab_spec import TracesSpec, load_spec
from pano.stores.rawtable import TextTable, check_increasing, check_range, read_table
from pano.stores.traces import Repair, SourceConvention, Trace, TraceSet, VideoInfo

_TIME_SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_AXIS = {"x": 0, "y": 1, "z": 2}


def _signed(axis: str) -> np.ndarray:
    v = np.zeros(3)
    v[_AXIS[axis[1]]] = 1.0 if axis[0] == "+" else -1.0
    return v


def convention_of(spec: TracesSpec) -> SourceConvention:
    """The :class:`SourceConvention` a spec states (every field from the spec)."""
    time = f"column {spec.time.column!r} in {spec.time.unit}, " + (
        "seconds of video" if spec.time.origin == "video" else "each trace shifted to start at 0"
    )
    if spec.head.euler is not None:
        e = spec.head.euler
        return SourceConvention(
            dataset=spec.dataset,
            representation="head Euler angles yaw, pitch" + (", roll" if e.roll else ""),
            origin=f"yaw 0, pitch 0 = pano lon {e.yaw_zero_lon:g}, lat 0 (spec)",
            signs=f"yaw positive {e.yaw_positive}, pitch positive {e.pitch_positive}, "
            f"roll positive towards the {e.roll_positive} shoulder (spec)",
            units=e.units,
            angle_order=f"intrinsic {', '.join(e.order)} (columns yaw={e.yaw!r}, "
            f"pitch={e.pitch!r}, roll={e.roll!r})",
            time_base=time,
            erp_alignment=f"as stated by the spec: yaw 0 looks at pano lon {e.yaw_zero_lon:g}",
            notes=spec.notes,
        )
    q = spec.head.quaternion
    assert q is not None  # HeadSpec holds exactly one
    w = q.world_axes
    c = q.columns
    return SourceConvention(
        dataset=spec.dataset,
        representation="head rotation quaternion in the source's world frame",
        origin=f"identity = looking along source {q.head_forward} (up {q.head_up})",
        signs=f"{q.handedness}-handed world frame: x {w.x}, y {w.y}, z {w.z} (spec)",
        units=f"quaternion components (unit length within {q.unit_tolerance:g})",
        angle_order=f"columns w={c.w!r}, x={c.x!r}, y={c.y!r}, z={c.z!r}",
        time_base=time,
        erp_alignment="as stated by the spec: world 'forward' = ERP front centre",
        notes=spec.notes,
    )


def _column(spec_path: str, table: TextTable, name: str, field: str) -> int:
    if name in table.header:
        return table.header.index(name)
    have = ", ".join(repr(h) for h in table.header)
    raise ConfigError(
        f"{spec_path}: field '{field}': column {name!r} is not in {table.path} "
        f"(its columns: {have}); fix the spec or the file's header"
    )


def _head_rotation(
    spec: TracesSpec, spec_path: str, table: TextTable, where: Sequence[str]
) -> torch.Tensor:
    """``(N, 4)`` head quaternions (w, x, y, z), head -> pano world, float64."""
    n = len(table.rows)
    if spec.head.euler is not None:
        e = spec.head.euler
        names = {"yaw": e.yaw, "pitch": e.pitch, "roll": e.roll}
        ang: dict[str, np.ndarray] = {}
        for key, col in names.items():
            if col is None:
                ang[key] = np.zeros(n)
                continue
            idx = _column(spec_path, table, col, f"head.euler.{key}")
            v = table.floats([idx], [col])[:, 0]
            if e.units == "rad":
                v = np.rad2deg(v)
            check_range(v, -360.0, 360.0, where, col)
            ang[key] = v
        yaw = ang["yaw"] * (1.0 if e.yaw_positive == "left" else -1.0)
        pitch = ang["pitch"] * (1.0 if e.pitch_positive == "up" else -1.0)
        roll = ang["roll"] * (1.0 if e.roll_positive == "right" else -1.0)
        parts = {
            "yaw": ypr_to_quaternion(yaw, 0.0, 0.0),
            "pitch": ypr_to_quaternion(0.0, pitch, 0.0),
            "roll": ypr_to_quaternion(0.0, 0.0, roll),
        }
        q = ypr_to_quaternion(np.full(n, e.yaw_zero_lon), 0.0, 0.0)
        for key in e.order:
            q = quaternion_multiply(q, parts[key])
        return q
    qs = spec.head.quaternion
    assert qs is not None
    cols = [
        _column(spec_path, table, getattr(qs.columns, k), f"head.quaternion.columns.{k}")
        for k in ("w", "x", "y", "z")
    ]
    qv = table.floats(cols)
    norms = np.linalg.norm(qv, axis=1)
    bad = np.flatnonzero(np.isfinite(norms) & (np.abs(norms - 1.0) > qs.unit_tolerance))
    if bad.size:
        i = int(bad[0])
        raise InputDataError(
            f"{where[i]}: quaternion (w, x, y, z) = {qv[i].tolist()} has length "
            f"{norms[i]:.6g}, not 1 (tolerance {qs.unit_tolerance:g}); fix or remove the row"
        )
    m = qs.world_axes.matrix()
    rot_src = quaternion_to_matrix(qv).numpy()
    fwd = (m @ rot_src @ _signed(qs.head_forward)[:, None])[..., 0]
    up = (m @ rot_src @ _signed(qs.head_up)[:, None])[..., 0]
    left = np.cross(up, fwd)
    rot = np.stack([fwd, left, up], axis=-1)
    return matrix_to_quaternion(rot)


def _eye(spec: TracesSpec, spec_path: str, table: TextTable) -> np.ndarray | None:
    """``(N, 3)`` eye-in-head unit vectors in pano's head axes (NaN = blink), or None."""
    eye = spec.eye
    if eye is None:
        return None
    vecs: dict[str, np.ndarray] = {}
    for which in ("left", "right", "mean"):
        cols = getattr(eye, which)
        if cols is None:
            continue
        idx = [_column(spec_path, table, getattr(cols, k), f"eye.{which}.{k}") for k in "xyz"]
        v = table.floats(idx) @ eye.axes.matrix().T
        n = np.linalg.norm(v, axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            v = np.where(n > 0, v / n, np.nan)
        vecs[which] = v
    use = eye.use
    if use == "auto":
        use = "mean" if "mean" in vecs else "average"
    if use != "average":
        return vecs[use]
    stack = np.stack([vecs[k] for k in ("left", "right") if k in vecs])
    ok = np.isfinite(stack).all(axis=-1, keepdims=True)
    total = np.where(ok, stack, 0.0).sum(axis=0)
    n = np.linalg.norm(total, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok.any(axis=0) & (n > 0), total / n, np.nan)


def _labels(spec_path: str, table: TextTable, field: str, what: object) -> list[str]:
    col = getattr(what, "column", None)
    if col is None:
        return [str(getattr(what, "value", ""))] * len(table.rows)
    idx = _column(spec_path, table, col, f"{field}.column")
    return [row[idx] for row in table.rows]


def find_files(source: Path) -> list[Path]:
    """``source`` itself, or the ``*.csv``/``*.tsv`` files in the folder (sorted).

    Raises:
        InputFileNotFoundError: nothing there.

    """
    source = Path(source)
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise InputFileNotFoundError(f"{source}: recordings file or folder not found")
    files = sorted(p for p in source.iterdir() if p.suffix.lower() in (".csv", ".tsv"))
    if not files:
        raise InputFileNotFoundError(f"{source}: no .csv or .tsv recordings in this folder")
    return files


def read_traces(source: Path, spec: str | Path | TracesSpec | None = None) -> TraceSet:
    """Read lab recordings described by a spec into pano's frame.

    Args:
        source: a CSV/TSV file, or a folder of them (all read with the same spec).
        spec: the spec YAML path (``--set options.spec=SPEC.yaml``), or an already
            loaded :class:`TracesSpec`. Required.

    Returns:
        A checked :class:`TraceSet`: head vectors, and with an ``eye`` section also
        ``eye_in_head`` and world ``gaze``.

    Raises:
        ConfigError: no spec, a bad spec, or a spec column absent from a file (naming
            the spec file and field).
        InputFileNotFoundError: no recordings.
        InputDataError: a bad row (naming the file and row).

    """
    if spec is None:
        raise ConfigError("traces: give the recordings' spec (--spec SPEC.yaml)")
    spec_path = "traces spec"
    if not isinstance(spec, TracesSpec):
        spec_path = str(spec)
        spec = load_spec(spec)
    traces: list[Trace] = []
    repairs: list[Repair] = []
    files = find_files(Path(source))
    for path in files:
        sep = spec.delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
        table = read_table(path, sep=re.escape(sep), what="recordings file")
        where = table.wheres()
        t_col = _column(spec_path, table, spec.time.column, "time.column")
        t = table.floats([t_col])[:, 0] * _TIME_SCALE[spec.time.unit]
        videos = _labels(spec_path, table, "video", spec.video)
        subjects = _labels(spec_path, table, "subject", spec.subject)
        q = _head_rotation(spec, spec_path, table, where)
        e_x = torch.tensor([1.0, 0.0, 0.0], dtype=q.dtype)
        head = rotate_vectors(q, e_x).numpy()
        eye = _eye(spec, spec_path, table)
        gaze = None if eye is None else rotate_vectors(q, np.nan_to_num(eye)).numpy()
        if gaze is not None and eye is not None:
            gaze[~np.isfinite(eye).all(axis=1)] = np.nan
        groups: dict[tuple[str, str], list[int]] = {}
        for r, key in enumerate(zip(videos, subjects, strict=True)):
            groups.setdefault(key, []).append(r)
        for (video, subject), rows in groups.items():
            idx = np.asarray(rows)
            keep = check_increasing(t[idx], table.wheres(idx.tolist()), str(path))
            if not keep.all():
                repairs.append(
                    Repair(
                        "drop-duplicate-time",
                        f"{path.name}: {int((~keep).sum())} rows repeated the previous "
                        "time; dropped",
                        video=video,
                        subject=subject,
                    )
                )
            idx = idx[keep]
            tt = t[idx] - t[idx][0] if spec.time.origin == "first_sample" else t[idx]
            traces.append(
                Trace(
                    video,
                    subject,
                    tt,
                    head[idx],
                    gaze=None if gaze is None else gaze[idx],
                    eye_in_head=None if eye is None else eye[idx],
                    where=f"{path} rows {int(idx[0]) + 1}-{int(idx[-1]) + 1}",
                )
            )
    videos_info = {v: VideoInfo(v) for v in sorted({tr.video for tr in traces})}
    out = TraceSet(
        spec.dataset, convention_of(spec), traces, videos=videos_info, repairs=repairs,
        files=[str(f) for f in files],
    )  # fmt: skip
    out.check()
    return out
