"""Small helpers the raw data-set readers share: numbered text rows, numbers, time checks.

Every reader reports bad input as ONE line naming the file, the row (1-based data row,
and the line in the file) and what to change. These helpers keep those messages the same
across readers (``stores/fan_nossdav17.py``, ``stores/wu_mmsys17.py``,
``stores/lab_traces.py``...).

A *row* here is a data row: row 1 is the first row after the header. ``lines`` hold the
1-based line number of each row in its file, so a message can name both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np

from pano.errors import InputDataError, InputFileNotFoundError


@dataclass
class TextTable:
    """A delimited text file split into a header and data rows (all fields stripped).

    Attributes:
        path: the file read.
        header: column names as written (surrounding spaces removed).
        rows: one list of fields per data row.
        lines: ``(len(rows),)`` 1-based line number of each row in the file.

    """

    path: Path
    header: list[str]
    rows: list[list[str]]
    lines: np.ndarray

    def where(self, row: int) -> str:
        """``"<file>: row R (line L)"`` for the 0-based data row index ``row``."""
        return f"{self.path}: row {row + 1} (line {int(self.lines[row])})"

    def wheres(self, rows: Sequence[int] | None = None) -> Sequence[str]:
        """The :meth:`where` of every row, or of ``rows`` (0-based data row indices).

        Each string is made only when a message asks for it; slices stay lazy.
        """
        return _Wheres(self, range(len(self.rows)) if rows is None else rows)

    def column(self, name: str, what: str = "") -> int:
        """Index of the column called ``name``.

        Raises:
            InputDataError: no such column (the message lists the columns present).

        """
        try:
            return self.header.index(name)
        except ValueError:
            have = ", ".join(repr(h) for h in self.header)
            raise InputDataError(
                f"{self.path}: no column {name!r}{what} in the header (columns: {have})"
            ) from None

    def floats(self, columns: list[int], names: list[str] | None = None) -> np.ndarray:
        """The given columns as ``(len(rows), len(columns))`` float64.

        Empty fields and ``nan`` read as NaN (a missing sample).

        Raises:
            InputDataError: a row has too few fields, or a field is not a number.

        """
        names = names or [self.header[c] if c < len(self.header) else str(c) for c in columns]
        try:  # NumPy parses the fields itself; any problem falls through to the named check
            return np.array(
                [[fields[c] for c in columns] for fields in self.rows], dtype=np.float64
            ).reshape(len(self.rows), len(columns))
        except (ValueError, IndexError):
            pass
        out = np.empty((len(self.rows), len(columns)), dtype=np.float64)
        for r, fields in enumerate(self.rows):
            for k, c in enumerate(columns):
                if c >= len(fields):
                    raise InputDataError(
                        f"{self.where(r)}: has {len(fields)} fields, column {names[k]!r} is "
                        f"field {c + 1}; every row needs {len(self.header)} fields"
                    )
                text = fields[c]
                try:
                    out[r, k] = float(text) if text != "" else np.nan
                except ValueError:
                    raise InputDataError(
                        f"{self.where(r)}, column {names[k]!r}: {text!r} is not a number; "
                        "write a decimal number (or leave it empty for a missing sample)"
                    ) from None
        return out


def read_table(
    path: str | Path,
    sep: str = ",",
    what: str = "file",
    header: bool = True,
    n_columns: int | None = None,
) -> TextTable:
    r"""Read a small delimited text file into a :class:`TextTable`.

    Args:
        path: the file.
        sep: a regular expression separating fields (``","`` with spaces stripped from
            every field, ``"\t"``, ``r"\s+"``...).
        what: what the file is, for messages ("Fan NOSSDAV'17 orientation file").
        header: the first non-empty line names the columns.
        n_columns: if given, every row must have exactly this many fields (else: the
            header's count when there is a header).

    Raises:
        InputFileNotFoundError: the file does not exist.
        InputDataError: the file is not text, is empty, or a row has the wrong number
            of fields (naming the row and line).

    """
    path = Path(path)
    if not path.is_file():
        raise InputFileNotFoundError(f"{path}: {what} not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputDataError(f"{path}: not a UTF-8 text {what} ({err.reason})") from err
    splitter = re.compile(sep)
    # A one-character literal separator and no tabs: remove the spaces around separators
    # in the whole text (C-speed replaces), then split rows with str.split - 3x faster
    # than stripping every field, same fields.
    literal = len(sep) == 1 and re.escape(sep) == sep and "\t" not in text
    if literal:
        for blank in (f" {sep}", f"{sep} "):
            while blank in text:
                text = text.replace(blank, sep)
    head: list[str] = []
    rows: list[list[str]] = []
    lines: list[int] = []
    for no, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        if literal:
            fields = raw.strip().split(sep)
        else:
            fields = [f.strip() for f in splitter.split(raw.strip("\r\n"))]
        if header and not head:
            head = fields
            continue
        rows.append(fields)
        lines.append(no)
    if header and not head:
        raise InputDataError(f"{path}: the {what} is empty (expected a header line)")
    table = TextTable(path, head, rows, np.asarray(lines, dtype=np.int64))
    want = n_columns if n_columns is not None else (len(head) if header else None)
    if want is not None:
        for r, fields in enumerate(rows):
            if len(fields) != want:
                raise InputDataError(
                    f"{table.where(r)}: has {len(fields)} fields, expected {want}"
                    + (f" ({', '.join(head)})" if head else "")
                    + "; fix or remove the row"
                )
    if not rows:
        raise InputDataError(f"{path}: the {what} has no data rows")
    return table


class _Wheres(Sequence[str]):
    """The lazy sequence of a table's row locations (:meth:`TextTable.wheres`)."""

    def __init__(self, table: TextTable, rows: Sequence[int]) -> None:
        self._table = table
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[str]: ...

    def __getitem__(self, i: int | slice) -> str | Sequence[str]:
        if isinstance(i, slice):
            return _Wheres(self._table, self._rows[i])
        return self._table.where(int(self._rows[i]))


def check_increasing(t: np.ndarray, where: Sequence[str] | None, label: str) -> np.ndarray:
    """Check a time column and return the mask of rows to keep.

    Times must be finite and never decrease. A time equal to the previous one (a logger
    that wrote the same instant twice) is dropped: the returned mask is False there, and
    the caller records the count as a :class:`pano.stores.traces.Repair`.

    Args:
        t: ``(N,)`` seconds.
        where: per-row location strings (``TextTable.where``) for messages, or None.
        label: the file (and trace) for messages when ``where`` is None.

    Raises:
        InputDataError: a non-finite time, or time going backwards (naming the row).

    """
    t = np.asarray(t, dtype=np.float64)

    def at(i: int) -> str:
        return where[i] if where is not None else f"{label}: sample {i + 1}"

    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        i = int(bad[0])
        raise InputDataError(f"{at(i)}: the time is not a finite number; every row needs one")
    back = np.flatnonzero(np.diff(t) < 0)
    if back.size:
        i = int(back[0]) + 1
        raise InputDataError(
            f"{at(i)}: time goes backwards ({t[i - 1]:.6g} s, then {t[i]:.6g} s); "
            "rows must be in time order (sort the file or remove the row)"
        )
    keep = np.ones(t.size, dtype=bool)
    keep[1:] = np.diff(t) > 0
    return keep


def check_range(
    values: np.ndarray, lo: float, hi: float, where: Sequence[str], name: str, unit: str = "°"
) -> None:
    """Refuse a finite value outside ``[lo, hi]`` (one line naming the row and column).

    Raises:
        InputDataError: the first out-of-range value.

    """
    v = np.asarray(values, dtype=np.float64)
    bad = np.flatnonzero(np.isfinite(v) & ((v < lo) | (v > hi)))
    if bad.size:
        i = int(bad[0])
        raise InputDataError(
            f"{where[i]}, column {name!r}: {v[i]:.6g}{unit} is outside [{lo:g}, {hi:g}]{unit}; "
            "check the column's unit and fix the value"
        )
