"""Small helpers the raw-text data-set readers share (``stores/<dataset>.py``).

Every problem is ONE :class:`pano.errors.InputDataError` (or
:class:`pano.errors.InputFileNotFoundError`) line naming the file, the line (1-based, as a
text editor shows it) and what to change. Nothing here knows a data set's conventions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pano.errors import InputDataError, InputFileNotFoundError


def require_dir(path: str | Path, what: str) -> Path:
    """``path`` as a :class:`Path` if it is a folder.

    Raises:
        InputFileNotFoundError: it does not exist or is not a folder.

    """
    p = Path(path)
    if not p.is_dir():
        raise InputFileNotFoundError(f"{p}: {what} folder not found")
    return p


def read_lines(path: Path) -> list[str]:
    """The lines of a text file (CRLF, LF and CR endings alike), without their endings.

    Raises:
        InputFileNotFoundError: the file does not exist.
        InputDataError: it is not UTF-8 (or ASCII) text.

    """
    if not path.is_file():
        raise InputFileNotFoundError(f"{path}: file not found")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputDataError(
            f"{path}: byte {err.start} is not UTF-8 text; is this the right file?"
        ) from err
    return text.splitlines()


def parse_rows(
    path: Path,
    rows: Sequence[Sequence[str]],
    lines: Sequence[int],
    columns: Sequence[int],
    labels: Sequence[str],
) -> np.ndarray:
    """Parse the given columns of already-split rows as float64.

    Args:
        path: the file (for messages).
        rows: ``R`` rows of text fields.
        lines: ``(R,)`` 1-based line number of each row in the file.
        columns: 0-based field indices to parse (``C`` of them).
        labels: ``(C,)`` what each parsed column holds, for messages.

    Returns:
        ``(R, C)`` float64. ``nan`` / ``NaN`` fields parse as NaN (missing).

    Raises:
        InputDataError: a field is not a number (naming the file, line and column).

    """
    try:
        picked = rows if _all_columns(rows, columns) else [[r[c] for c in columns] for r in rows]
        # numpy parses the text fields itself (~2x faster than float() per field)
        return np.array(picked, dtype=np.float64).reshape(len(rows), len(columns))
    except ValueError:
        pass
    out = np.empty((len(rows), len(columns)), dtype=np.float64)
    for i, (r, line) in enumerate(zip(rows, lines, strict=True)):
        for j, (c, label) in enumerate(zip(columns, labels, strict=True)):
            try:
                out[i, j] = float(r[c])
            except ValueError:
                raise InputDataError(
                    f"{path}: line {line}, column {c + 1} ({label}): {r[c]!r} is not a number; "
                    "fix or remove that line"
                ) from None
    return out  # numpy refused a form Python's float() reads (e.g. "1_0")


def _all_columns(rows: Sequence[Sequence[str]], columns: Sequence[int]) -> bool:
    """True when ``columns`` is every field, in order, of every row."""
    n = len(columns)
    return list(columns) == list(range(n)) and all(len(r) == n for r in rows)


def check_range(
    path: Path,
    values: np.ndarray,
    lines: Sequence[int],
    lo: float,
    hi: float,
    label: str,
    column: int,
    hint: str,
) -> None:
    """Refuse a value outside ``[lo, hi]`` (NaN passes: missing), naming its line.

    Args:
        values: ``(R,)`` parsed values of one column.
        column: its 1-based column number in the file.
        hint: what to change, e.g. "are the columns lat, lon in degrees?".

    """
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero((values < lo) | (values > hi))
    if bad.size:
        i = int(bad[0])
        raise InputDataError(
            f"{path}: line {lines[i]}, column {column} ({label}) = {values[i]:.10g} is outside "
            f"[{lo:g}, {hi:g}]; {hint}"
        )


def increasing_times(
    path: Path, t: np.ndarray, lines: Sequence[int], unit_hint: str
) -> tuple[np.ndarray, int]:
    """Check timestamps go forward; find repeated ones.

    Args:
        t: ``(R,)`` timestamps in seconds, file order.
        lines: ``(R,)`` 1-based line of each.
        unit_hint: how the file states time, for the message (e.g. "column 2 (frame index)").

    Returns:
        ``(keep, n_repeated)``: a ``(R,)`` bool mask keeping the first of each run of equal
        timestamps, and how many samples it drops.

    Raises:
        InputDataError: time goes backwards (naming both lines) or a timestamp is not finite.

    """
    if not np.isfinite(t).all():
        i = int(np.flatnonzero(~np.isfinite(t))[0])
        raise InputDataError(
            f"{path}: line {lines[i]}: the time ({unit_hint}) is not a finite number"
        )
    d = np.diff(t)
    back = np.flatnonzero(d < 0)
    if back.size:
        i = int(back[0]) + 1
        raise InputDataError(
            f"{path}: line {lines[i]}: time goes backwards ({t[i - 1]:.6g} s at line "
            f"{lines[i - 1]}, then {t[i]:.6g} s; {unit_hint}); timestamps must not decrease - "
            "fix or remove that line"
        )
    keep = np.ones(t.size, dtype=bool)
    keep[1:] = d > 0
    return keep, int(t.size - keep.sum())
