"""PVS-HM raw txt traces: layout, signs, bad input, the txt-vs-.mat check, synthetic round trip.

Fixtures are written here from the format's description (``<user>/<video>.txt``, whitespace
separated: interval ms, latitude deg (+ up), longitude deg (+ left), three unlabelled
columns; last line = sum of the intervals in seconds), never by pano's writer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pano.errors import InputDataError, InputFileNotFoundError
from pano.geometry import orthodromic_distance, vec_to_lonlat
from pano.stores.formats import get_format
from pano.stores.pvs_hm_txt import (
    compare_txt_with_mat,
    compare_txt_with_mat_file,
    read_pvs_hm_txt,
)


def write_txt(
    path: Path,
    rows: list[tuple[float, ...]] | list[str],
    trailer: str | None = "auto",
    newline: str = "\r\n",
) -> Path:
    """One trace file: rows of (interval ms, lat, lon, c3, c4, c5) or raw text lines."""
    lines = [r if isinstance(r, str) else " ".join(f"{v:g}" for v in r) for r in rows]
    if trailer == "auto":
        trailer = f"{sum(float(ln.split()[0]) for ln in lines) / 1000:.6f}"
    if trailer is not None:
        lines.append(trailer)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((newline.join(lines) + newline).encode())
    return path


def _lonlat(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return vec_to_lonlat(v)


def test_reads_times_angles_extra_columns_crlf_and_lf(tmp_path: Path) -> None:
    rows = [(0, 10, 20, 1, 2, 3), (16.5, 11, 21, 4, 5, 6), (17, -12.5, -170, 7, 8, 9)]
    write_txt(tmp_path / "alice" / "A380.txt", rows, newline="\r\n")
    write_txt(tmp_path / "bob" / "A380.txt", rows[:2], newline="\n")
    ts = read_pvs_hm_txt(tmp_path)
    assert ts.subjects() == ["alice", "bob"] and ts.video_names() == ["A380"]
    tr = ts.by_video("A380")[0]
    np.testing.assert_allclose(tr.t, [0.0, 0.0165, 0.0335])
    lon, lat = _lonlat(tr.head)
    np.testing.assert_allclose(lat, [10, 11, -12.5], atol=1e-12)
    np.testing.assert_allclose(lon, [20, 21, -170], atol=1e-12)
    assert tr.extra is not None
    np.testing.assert_array_equal(tr.extra["col3"], [1, 4, 7])
    np.testing.assert_array_equal(tr.extra["col5"], [3, 6, 9])
    assert ts.by_video("A380")[1].t.size == 2
    assert ts.convention.dataset == "pvs-hm" and "LEFT" in ts.convention.signs
    assert ts.repairs == []


def test_landmark_left_and_up_land_left_and_up(tmp_path: Path) -> None:
    """A user turning LEFT (+lon) and looking UP (+lat) in PVS-HM's terms is left/up in pano."""
    rows = [(0, 0, 0, 0, 0, 0), (16.7, 0, 90, 0, 0, 0), (16.7, 60, 0, 0, 0, 0)]
    write_txt(tmp_path / "u" / "v.txt", rows)
    head = read_pvs_hm_txt(tmp_path).traces[0].head
    assert head is not None
    np.testing.assert_allclose(head[0], [1, 0, 0], atol=1e-12)  # front centre
    np.testing.assert_allclose(head[1], [0, 1, 0], atol=1e-12)  # +y = viewer's left
    assert head[2, 2] == pytest.approx(np.sin(np.deg2rad(60)))  # +z = up
    lon, lat = _lonlat(head)
    assert lon[1] > 0 and lat[2] > 0


def test_zero_interval_is_a_listed_repair(tmp_path: Path) -> None:
    rows = [(0, 0, 0, 0, 0, 0), (16, 1, 1, 0, 0, 0), (0, 2, 2, 0, 0, 0), (16, 3, 3, 0, 0, 0)]
    write_txt(tmp_path / "u" / "v.txt", rows)
    ts = read_pvs_hm_txt(tmp_path)
    assert ts.traces[0].t.size == 3
    assert ts.traces[0].extra is not None
    np.testing.assert_array_equal(ts.traces[0].extra["source_row"], [0, 1, 3])
    (rep,) = ts.repairs
    assert rep.kind == "drop-duplicate-time" and rep.subject == "u" and rep.video == "v"


GOOD = [(0.0, 0, 0, 0, 0, 0), (16.0, 1, 1, 0, 0, 0), (16.0, 2, 2, 0, 0, 0)]


@pytest.mark.parametrize(
    ("rows", "trailer", "needle"),
    [
        (["0 0 0 0 0 0", "16 1 1 0 0", "16 2 2 0 0 0"], "0.032", "line 2 has 5 fields"),
        (["0 0 0 0 0 0", "16 1 abc 0 0 0", "16 2 2 0 0 0"], "0.032", "line 2, column 3"),
        (["0 0 0 0 0 0", "16 1 1 0 0 0", "-20 2 2 0 0 0"], "-0.004", "line 3: interval"),
        (["0 0 0 0 0 0", "16 95 1 0 0 0", "16 2 2 0 0 0"], "0.032", "line 2, column 2 (latitude)"),
        (["0 0 0 0 0 0", "16 1 181 0 0 0", "16 2 2 0 0 0"], "0.032", "column 3 (longitude)"),
        (GOOD, "9.5", "line 4: the trailer says"),
        (GOOD, None, "line 3: the last line has 6 fields"),
    ],
    ids=["columns", "number", "backwards", "lat-range", "lon-range", "trailer", "no-trailer"],
)
def test_bad_input_is_one_line_naming_file_and_line(
    tmp_path: Path, rows: list, trailer: str | None, needle: str
) -> None:
    f = write_txt(tmp_path / "u" / "v.txt", rows, trailer=trailer)
    with pytest.raises(InputDataError) as err:
        read_pvs_hm_txt(tmp_path)
    msg = str(err.value)
    assert str(f) in msg and needle in msg and "\n" not in msg


def test_trailer_ignore_reads_a_mismatching_file(tmp_path: Path) -> None:
    write_txt(tmp_path / "u" / "v.txt", GOOD, trailer="9.5")
    assert read_pvs_hm_txt(tmp_path, trailer="ignore").traces[0].t.size == 3


def test_missing_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(InputFileNotFoundError, match="not found"):
        read_pvs_hm_txt(tmp_path / "nope")
    (tmp_path / "empty" / "user").mkdir(parents=True)
    with pytest.raises(InputDataError, match=r"no <user>/<video>\.txt"):
        read_pvs_hm_txt(tmp_path / "empty")


def _mat_columns(per_subject: list[list[tuple[float, float]]]) -> np.ndarray:
    """``[n, 2M]``: column 2k latitude, 2k+1 longitude of subject k (PVS-HM's .mat layout)."""
    cols = []
    for samples in per_subject:
        a = np.array(samples, dtype=np.float64)
        cols += [a[:, 0], a[:, 1]]
    return np.stack(cols, axis=1)


def test_txt_and_mat_agree_or_the_largest_difference_is_reported(tmp_path: Path) -> None:
    import scipy.io

    from pano.stores.pvs_hm import read_mat_variables, validate_angles

    alice = [(0, 0, 0), (10, 5, 30), (10, 6, 31)]  # (ms, lat, lon); 'alice' < 'Bob' casefolded
    bob = [(0, -5, -30), (10, -6, -31), (10, -7, -32)]
    for user, s in (("alice", alice), ("Bob", bob)):
        write_txt(tmp_path / "txt" / user / "A380.txt", [(*r, 0, 0, 0) for r in s])
    write_txt(tmp_path / "txt" / "alice" / "LOL.txt", [(*r, 0, 0, 0) for r in alice])
    bob_mat = [(r[1], r[2]) for r in bob]
    bob_mat[2] = (-7, -29)  # 3 deg of longitude off at the equator-ish latitude
    mat_path = tmp_path / "FULL.mat"
    scipy.io.savemat(mat_path, {
        "A380": _mat_columns([[(r[1], r[2]) for r in alice], bob_mat]),
        "Camping": _mat_columns([[(0, 0), (0, 0)]]),
    })  # fmt: skip
    mat = {k: validate_angles(v, k, mat_path) for k, v in read_mat_variables(mat_path).items()}
    ts = read_pvs_hm_txt(tmp_path / "txt")
    cmp = compare_txt_with_mat(ts, mat)
    assert cmp.subject_columns == {"alice": 0, "Bob": 1}
    assert cmp.only_txt == ["LOL"] and cmp.only_mat == ["Camping"]
    a = cmp.per_video["A380"]
    expected = np.rad2deg(np.arccos(np.clip(
        np.cos(np.deg2rad(7)) ** 2 * np.cos(np.deg2rad(3)) + np.sin(np.deg2rad(7)) ** 2, -1, 1
    )))  # fmt: skip
    assert a.max_diff_deg == pytest.approx(expected, rel=1e-6)
    assert (a.subject, a.sample, a.n_compared) == ("Bob", 2, 6)
    assert cmp.format().splitlines() == [
        f"A380: largest txt-.mat difference {expected:.6g} deg (subject 'Bob', sample 2) over "
        "6 sample pairs",
        "only in the txt traces: LOL",
        "only in the .mat: Camping",
    ]
    with pytest.raises(InputDataError, match=r"'A380': subject 'Bob', sample 2 differs by 2\.97"):
        cmp.check(tolerance_deg=0.01)
    # The plain sort pairs the users the other way round: everything disagrees.
    assert compare_txt_with_mat(ts, mat, "sorted").per_video["A380"].max_diff_deg > 30
    mat["A380"][2, 3] = -32.0
    compare_txt_with_mat(ts, mat).check(tolerance_deg=1e-9)
    from_file = compare_txt_with_mat_file(ts, mat_path)
    assert from_file.per_video["A380"].max_diff_deg == pytest.approx(a.max_diff_deg)


def test_synthetic_writer_reads_back_to_the_simulated_heads(tmp_path: Path) -> None:
    from pano.synth import simulate_recordings
    from pano.synth.formats import get_synth_format

    sim = simulate_recordings(n_videos=2, n_subjects=2, duration_s=1.5, gaze=False)
    files = get_synth_format("pvs-hm-txt").write(sim, tmp_path)
    assert len(files) == 4 and files[0].read_bytes().count(b"\r\n") == sim.recordings[0].t.size + 1
    ts = get_format("pvs-hm-txt").read(tmp_path)
    assert len(ts.traces) == 4
    for rec in sim.recordings:
        (tr,) = [t for t in ts.by_video(rec.video) if t.subject == rec.subject]
        np.testing.assert_allclose(tr.t, rec.t, atol=1e-8)
        ang = np.rad2deg(orthodromic_distance(tr.head, rec.head))
        assert ang.max() < 2e-6  # 6 decimals of a degree


def test_nan_angles_are_missing_samples(tmp_path: Path) -> None:
    write_txt(tmp_path / "u" / "v.txt", ["0 0 0 0 0 0", "16 nan nan 0 0 0", "16 2 2 0 0 0"])
    head = read_pvs_hm_txt(tmp_path).traces[0].head
    assert head is not None and np.isnan(head[1]).all() and np.isfinite(head[[0, 2]]).all()


def test_trace_check_refuses_misaligned_extra_columns() -> None:
    from pano.stores.traces import Trace

    tr = Trace("v", "u", np.array([0.0, 1.0]), np.eye(3)[:2], extra={"col3": np.zeros(3)})
    with pytest.raises(InputDataError, match=r"extra column 'col3' has shape \(3,\), expected"):
        tr.check()
