"""``pano.stores.rawtable``: fields, numbers and one-line messages, fast path and fallback alike.

The literal-separator fast path (spaces around separators removed in one pass, rows split
with ``str.split``, NumPy parsing) must give the same fields and the same messages as the
per-field path it replaces.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pano.errors import InputDataError
from pano.stores.rawtable import check_increasing, check_range, read_table


def _write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("tab", [False, True])  # True: a tab forces the per-field path
def test_fields_are_stripped_and_header_names_keep_inner_spaces(tmp_path: Path, tab: bool) -> None:
    pad = "\t" if tab else ""
    text = f"no. frames , cal. yaw,cal. pitch\n\n 1,  2.5 ,{pad}-3\r\n2,, nan\n"
    table = read_table(_write(tmp_path, text))
    assert table.header == ["no. frames", "cal. yaw", "cal. pitch"]
    assert table.rows == [["1", "2.5", "-3"], ["2", "", "nan"]]
    assert table.lines.tolist() == [3, 4]
    got = table.floats([0, 1, 2])
    np.testing.assert_array_equal(got[0], [1.0, 2.5, -3.0])
    assert got[1, 0] == 2.0 and np.isnan(got[1, 1:]).all()  # empty and nan are missing


def test_bad_number_and_short_row_name_the_row_and_line(tmp_path: Path) -> None:
    table = read_table(_write(tmp_path, "a,b\n1,2\n3,x\n"))
    with pytest.raises(InputDataError, match=r"t.csv: row 2 \(line 3\), column 'b': 'x' is not"):
        table.floats([0, 1])
    with pytest.raises(InputDataError, match=r"row 1 \(line 2\): has 1 fields, expected 2"):
        read_table(_write(tmp_path, "a,b\n1\n", "s.csv"))


def test_row_locations_are_lazy_but_name_the_right_row(tmp_path: Path) -> None:
    table = read_table(_write(tmp_path, "t,v\n0,1\n1,200\n0.5,3\n"))
    where = table.wheres()
    assert len(where) == 3 and where[1] == f"{table.path}: row 2 (line 3)"
    assert list(where[1:]) == [f"{table.path}: row 2 (line 3)", f"{table.path}: row 3 (line 4)"]
    vals = table.floats([0, 1])
    with pytest.raises(InputDataError, match=r"row 2 \(line 3\), column 'v': 200"):
        check_range(vals[:, 1], 0, 180, where, "v")
    with pytest.raises(InputDataError, match=r"row 3 \(line 4\): time goes backwards"):
        check_increasing(vals[:, 0], where, "t.csv")
    picked = table.wheres([2, 0])
    assert picked[0] == f"{table.path}: row 3 (line 4)" and len(picked[1:]) == 1
