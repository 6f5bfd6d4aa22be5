"""TRACK's common format: reader, `pano ingest track`, `pano export track`, `pano synth`.

Fixtures are written here from the format's description (TRACK's ``Read_Dataset.py``
``store_dataset``: ``<root>/<video>/<user>``, no extension, no header, rows ``t, x, y, z``;
``x = cos(theta) sin(phi)``, ``y = sin(theta) sin(phi)``, ``z = cos(phi)``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from pano.cli.app import main
from pano.geometry import vec_to_lonlat
from pano.stores import list_videos, open_video, read_root_attrs
from pano.stores.formats import FORMATS


def _track_row(t: float, theta: float, phi: float) -> str:
    x = math.cos(theta) * math.sin(phi)
    y = math.sin(theta) * math.sin(phi)
    z = math.cos(phi)
    return f"{t},{x},{y},{z}\n"


def _write_fixture(root: Path, videos: int = 2, users: int = 3, seconds: float = 4.0) -> Path:
    """Users turning slowly to the left of the PVS-HM-aligned sphere, at 0.2 s."""
    for v in range(videos):
        d = root / f"clip{v}"
        d.mkdir(parents=True)
        for u in range(users):
            rows = []
            for k in range(round(seconds / 0.2) + 1):
                lon = 10.0 * u + 5.0 * k * 0.2 + v  # degrees, + left (PVS-HM)
                lat = 5.0 * math.sin(k / 3)
                rows.append(_track_row(k * 0.2, math.radians(lon + 180), math.radians(90 - lat)))
            (d / str(u)).write_text("".join(rows), encoding="utf-8")
    return root


def test_landmark_pvs_hm_alignment(tmp_path: Path) -> None:
    """theta = rad(lon + 180), phi = rad(90 - lat): lon 30 (left), lat 20 (up) lands there."""
    d = tmp_path / "src" / "vid"
    d.mkdir(parents=True)
    rows = [_track_row(k * 0.2, math.radians(30 + 180), math.radians(90 - 20)) for k in range(40)]
    (d / "7").write_text("".join(rows), encoding="utf-8")
    assert main(["ingest", "track", str(tmp_path / "src"), str(tmp_path / "s.zarr"),
                 "--workers", "0", "--device", "cpu"]) == 0  # fmt: skip
    ds = open_video(str(tmp_path / "s.zarr"), "vid")
    lon, lat = vec_to_lonlat(ds["hm_rs_xyz"].values[0, 0])
    assert lon == pytest.approx(30.0, abs=1e-9) and lat == pytest.approx(20.0, abs=1e-9)
    assert read_root_attrs(str(tmp_path / "s.zarr")).subjects == ["7"]


def test_landmark_erp_alignment(tmp_path: Path) -> None:
    """alignment=erp: theta = 2 pi u from the left edge; u = 0.25 is pano lon +90 (left)."""
    d = tmp_path / "src" / "vid"
    d.mkdir(parents=True)
    rows = [_track_row(k * 0.2, 2 * math.pi * 0.25, math.pi * 0.4) for k in range(40)]
    (d / "0").write_text("".join(rows), encoding="utf-8")
    store = tmp_path / "s.zarr"
    assert main(["ingest", "track", str(tmp_path / "src"), str(store), "--workers", "0",
                 "--set", "options.alignment=erp"]) == 0  # fmt: skip
    lon, lat = vec_to_lonlat(open_video(str(store), "vid")["hm_rs_xyz"].values[0, 0])
    assert lon == pytest.approx(90.0, abs=1e-9) and lat == pytest.approx(18.0, abs=1e-9)
    assert "alignment=erp" in read_root_attrs(str(store)).conventions.source["erp_alignment"]


def test_export_ingest_round_trip_is_exact(tmp_path: Path) -> None:
    src = _write_fixture(tmp_path / "src")
    (src / "test.txt").write_text("clip1\n", encoding="utf-8")
    a = tmp_path / "a.zarr"
    assert main(["ingest", "track", str(src), str(a), "--workers", "0"]) == 0
    assert read_root_attrs(str(a)).splits.test == ["clip1"]  # the split file is read
    out = tmp_path / "out"
    assert main(["export", "track", str(a), str(out)]) == 0
    assert sorted(p.name for p in (out / "clip0").iterdir()) == ["0", "1", "2"]
    b = tmp_path / "b.zarr"
    assert main(["ingest", "track", str(out), str(b), "--workers", "0"]) == 0
    assert list_videos(str(b)) == list_videos(str(a))
    for v in list_videos(str(a)):
        da, db = open_video(str(a), v), open_video(str(b), v)
        np.testing.assert_array_equal(da["rs_time"].values, db["rs_time"].values)
        np.testing.assert_array_equal(da["hm_rs_xyz"].values, db["hm_rs_xyz"].values)
        np.testing.assert_array_equal(da["heatmap"].values, db["heatmap"].values)
    assert read_root_attrs(str(b)).splits == read_root_attrs(str(a)).splits


def test_synth_track_ingests_to_the_simulated_heads(tmp_path: Path) -> None:
    from pano.geometry import resample_directions
    from pano.synth import simulate_recordings

    out = tmp_path / "raw"
    assert main(["synth", str(out), "--format", "track", "--videos", "2", "--subjects", "3",
                 "--seconds", "4", "--seed", "5"]) == 0  # fmt: skip
    store = tmp_path / "s.zarr"
    assert main(["ingest", "track", str(out), str(store), "--workers", "0"]) == 0
    sim = simulate_recordings(n_videos=2, n_subjects=3, duration_s=4.0, rate_hz=60.0, seed=5)
    ds = open_video(str(store), "video01")
    for i, r in enumerate(sim.of("video01")):
        want = resample_directions(r.t, r.head, ds["rs_time"].values)
        np.testing.assert_allclose(ds["hm_rs_xyz"].values[i], want, atol=1e-12)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("0.0,1,0\n", r"clip0/0: row 1 has 3 columns, expected 4"),
        ("0.0,1,0,0\n0.2,abc,0,0\n", r"clip0/0: row 2: .* not a number"),
        ("0.0,1,0,0\n0.2,0.5,0,0\n", r"clip0/0: row 2: \(x, y, z\) has length 0.5"),
        ("0.4,1,0,0\n0.2,1,0,0\n", r"time goes backwards or repeats at sample 1"),
    ],
)
def test_bad_input_one_line_and_store_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, match: str
) -> None:
    import re

    src = _write_fixture(tmp_path / "src")
    store = tmp_path / "s.zarr"
    assert main(["ingest", "track", str(src), str(store), "--workers", "0"]) == 0
    before = {p: p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()}
    (src / "clip0" / "0").write_text(text, encoding="utf-8")
    capsys.readouterr()
    code = main(["ingest", "track", str(src), str(store), "--workers", "0", "--overwrite"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and re.search(match, err[0]), err
    after = {p: p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()}
    assert after == before


def test_unknown_format_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "nope", "a", "b"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown data-set format 'nope'" in err[0]
    assert "known formats: pvs-hm, " in err[0] and all(name in err[0] for name in FORMATS)
    assert main(["ingest", "track", "-h"]) == 0
    out = capsys.readouterr().out
    assert "SOURCE" in out and "--videos" in out and "--split" in out
    assert main(["synth", "x", "--format", "nope"]) == 2
    assert "unknown synthetic format 'nope'" in capsys.readouterr().err


def test_track_split_shipped(tmp_path: Path) -> None:
    """`--split track` on TRACK's PVS-HM traces: its 15 test videos."""
    from pano.pvs_hm_facts import DHP_TEST_VIDEOS

    src = tmp_path / "src"
    for name in ("KingKong", "A380", "Symphony"):
        d = src / name
        d.mkdir(parents=True)
        rows = [_track_row(k * 0.2, math.pi, math.pi / 2) for k in range(40)]
        (d / "0").write_text("".join(rows), encoding="utf-8")
    store = tmp_path / "s.zarr"
    assert main(["ingest", "track", str(src), str(store), "--workers", "0", "--split", "track",
                 "--set", "options.dataset=pvs-hm"]) == 0  # fmt: skip
    root = read_root_attrs(str(store))
    assert root.splits.test == ["KingKong", "Symphony"] and root.splits.train == ["A380"]
    assert {"KingKong", "Symphony"} <= DHP_TEST_VIDEOS
    assert "TRACK's published split of pvs-hm" in str(root.model_dump().get("split_source"))
