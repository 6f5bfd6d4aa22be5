"""Salient360!: scanpath layout (H/HE, users concatenated), signs, images in pixels, .bin maps.

Fixtures are written here from the format's description: ``<cond>/Scanpaths/<video>_fixations
.csv`` with a header whose names carry leading spaces, longitude/latitude fractions of the ERP
image from its left edge / top row, ms timestamps, a new user where Idx restarts; maps are raw
little-endian float32 ``<name>_<W>x<H>[x<N>]_32b.bin``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pano.errors import InputDataError, InputFileNotFoundError
from pano.geometry import orthodromic_distance, vec_to_lonlat
from pano.stores.formats import get_format
from pano.stores.salient360 import read_salient360

VIDEO_HEADER = "Idx, longitude, latitude, start timestamp, duration, start frame, end frame"


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def video_rows(samples: list[tuple[float, float, float]]) -> list[str]:
    """(lon, lat, t ms) per sample of one user; Idx from 0, 200 ms durations, 25 fps frames."""
    return [
        f"{k}, {lo}, {la}, {t}, 200, {int(t * 0.025)}, {int((t + 200) * 0.025)}"
        for k, (lo, la, t) in enumerate(samples)
    ]


def test_h_and_he_users_concatenated(tmp_path: Path) -> None:
    u0 = [(0.5, 0.5, 0.0), (0.6, 0.5, 200.0), (0.7, 0.4, 400.0)]
    u1 = [(0.1, 0.9, 0.0), (0.2, 0.8, 200.0)]
    write_csv(tmp_path / "H" / "Scanpaths" / "1_Porto_fixations.csv", VIDEO_HEADER,
              video_rows(u0) + video_rows(u1))  # fmt: skip
    write_csv(tmp_path / "HE" / "Scanpaths" / "1_Porto_fixations.csv", VIDEO_HEADER,
              video_rows(u1) + video_rows(u0))  # fmt: skip
    ts = read_salient360(tmp_path, fps=25.0)
    assert ts.video_names() == ["1_Porto"]
    assert ts.subjects() == ["H-u00", "H-u01", "HE-u00", "HE-u01"]
    by = {t.subject: t for t in ts.traces}
    h0, he1 = by["H-u00"], by["HE-u01"]
    assert h0.gaze is None and h0.head is not None
    assert he1.head is None and he1.gaze is not None
    np.testing.assert_allclose(h0.t, [0.0, 0.2, 0.4])
    np.testing.assert_allclose(h0.head[0], [1, 0, 0], atol=1e-12)  # image centre = front
    np.testing.assert_allclose(he1.gaze, h0.head)
    assert h0.extra is not None
    np.testing.assert_allclose(h0.extra["duration_s"], [0.2, 0.2, 0.2])
    assert ts.videos["1_Porto"].kind == "video" and ts.videos["1_Porto"].fps == 25.0
    assert "fractions" in ts.convention.units and "180" in ts.convention.notes


def test_landmark_left_and_up_land_left_and_up(tmp_path: Path) -> None:
    """Left of the image centre (lon 0.25) and above it (lat 0.25) are left/up in pano."""
    write_csv(tmp_path / "H" / "Scanpaths" / "v_fixations.csv", VIDEO_HEADER,
              video_rows([(0.25, 0.5, 0.0), (0.5, 0.25, 200.0), (0.75, 0.5, 400.0)]))  # fmt: skip
    head = read_salient360(tmp_path).traces[0].head
    assert head is not None
    lon, lat = vec_to_lonlat(head)
    np.testing.assert_allclose(head[0], [0, 1, 0], atol=1e-12)  # +y = left
    np.testing.assert_allclose([lon[0], lat[1], lon[2]], [90, 45, -90], atol=1e-9)


def test_images_in_1_based_pixels_are_detected_and_recorded(tmp_path: Path) -> None:
    header = "Idx, longitude, latitude, start time, duration"
    rows = ["1, 100, 50, 0, 300", "2, 50, 25, 300, 300", "1, 200, 100, 0, 300", "2, 1, 1, 250, 1"]
    write_csv(tmp_path / "HE" / "Scanpaths" / "HEscanpath_7.txt", header, rows)
    with pytest.raises(InputDataError, match=r"are pixels.*image '7' is unknown"):
        read_salient360(tmp_path)
    ts = read_salient360(tmp_path, image_sizes={7: [200, 100]}, conditions="HE")  # as --set gives
    assert read_salient360(tmp_path, image_size="200x100").traces[0].gaze.shape == (2, 3)
    assert ts.video_names() == ["7"] and ts.videos["7"].kind == "image"
    assert (ts.videos["7"].width, ts.videos["7"].height) == (200, 100)
    assert "1-based integer pixels" in ts.convention.units
    g = {t.subject: t.gaze for t in ts.traces}
    lon, lat = vec_to_lonlat(g["HE-u00"])
    np.testing.assert_allclose(lon, [180 - 360 * 99.5 / 200, 180 - 360 * 49.5 / 200])
    np.testing.assert_allclose(lat, [90 - 180 * 49.5 / 100, 90 - 180 * 24.5 / 100])
    # A map of the same name supplies the size when none is given.
    np.zeros((100, 200), "<f4").tofile(tmp_path / "HE" / "7_200x100_32b.bin")
    ts2 = read_salient360(tmp_path)
    np.testing.assert_allclose(ts2.traces[0].gaze, g["HE-u00"])


def test_maps_are_read_as_float32_head_and_eye_kept_apart(tmp_path: Path) -> None:
    write_csv(tmp_path / "H" / "Scanpaths" / "v_fixations.csv", VIDEO_HEADER,
              video_rows([(0.5, 0.5, 0.0), (0.5, 0.5, 200.0)]))  # fmt: skip
    head = np.arange(3 * 4 * 8, dtype="<f4").reshape(3, 4, 8)
    (tmp_path / "H" / "SalMaps").mkdir()
    head.tofile(tmp_path / "H" / "SalMaps" / "v_8x4x3_32b.bin")
    (tmp_path / "HE").mkdir()
    (-head[:1]).tofile(tmp_path / "HE" / "v_8x4_32b.bin")
    ts = read_salient360(tmp_path, fps=10.0)
    maps = {m.kind: m for m in ts.maps}
    assert set(maps) == {"head", "eye"}
    np.testing.assert_array_equal(maps["head"].data, head)
    assert maps["head"].data[1, 2, 3] == 1 * 32 + 2 * 8 + 3  # frame, row from top, column
    np.testing.assert_array_equal(maps["eye"].data, -head[:1])
    assert (maps["head"].blur_deg, maps["eye"].blur_deg) == (3.34, 2.0)
    assert ts.videos["v"].duration_s == pytest.approx(0.3)
    assert len(read_salient360(tmp_path, maps=False).maps) == 0


def test_trailing_comma_and_header_spaces(tmp_path: Path) -> None:
    rows = ["0, 0.5, 0.5, 0,", "1, 0.5, 0.5, 100,"]
    write_csv(tmp_path / "H" / "Scanpaths" / "3_fixations.csv",
              "Idx, longitude, latitude, start timestamp", rows)  # fmt: skip
    ts = read_salient360(tmp_path)
    np.testing.assert_allclose(ts.traces[0].t, [0, 0.1])
    assert "read as ms" in ts.convention.time_base
    in_s = read_salient360(tmp_path, time_unit="s")
    np.testing.assert_allclose(in_s.traces[0].t, [0, 100])
    assert "read as seconds" in in_s.convention.time_base
    assert ts.videos["3"].kind == "image"  # no frame columns: auto says image


def _bad(tmp_path: Path, rows: list[str], header: str = VIDEO_HEADER) -> Path:
    return write_csv(tmp_path / "H" / "Scanpaths" / "v_fixations.csv", header, rows)


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        (["0, 0.5, 0.5, 0, 200, 0, 5", "1, 0.5, 0.5, 200, 200, 5"], "line 3 has 6 fields"),
        (["0, 0.5, 0.5, 0, 200, 0, 5", "1, 0.5, x, 200, 200, 5, 10"], "line 3, column 3"),
        (["0, 0.5, 0.5, 400, 200, 0, 5", "1, 0.5, 0.5, 200, 200, 5, 10"], "line 3: time goes back"),
        (["0, 0.5, -0.2, 0, 200, 0, 5", "1, 0.5, 0.5, 200, 200, 5, 10"], "line 2, column 3"),
    ],
    ids=["columns", "number", "backwards", "range"],
)
def test_bad_input_is_one_line_naming_file_and_line(
    tmp_path: Path, rows: list[str], needle: str
) -> None:
    f = _bad(tmp_path, rows)
    with pytest.raises(InputDataError) as err:
        read_salient360(tmp_path)
    assert str(f) in str(err.value) and needle in str(err.value) and "\n" not in str(err.value)


def test_bad_header_maps_and_folders(tmp_path: Path) -> None:
    f = _bad(tmp_path, ["0, 0.5, 0.5"], header="Idx, lon, lat")
    with pytest.raises(InputDataError, match=r"line 1 \(header\).*no time column"):
        read_salient360(tmp_path)
    f.unlink()
    _bad(tmp_path, ["0, 1.5, 0.5, 0, 200, 0, 5", "1, 0.5, 0.5, 200, 200, 5, 10"])
    with pytest.raises(InputDataError, match=r"line 2, column 2 \(longitude\).*in \[0, 1\]"):
        read_salient360(tmp_path, coordinates="normalised")
    _bad(tmp_path, ["0, 0.5, 0.5, 0, 200, 0, 5", "1, 0.5, 0.5, 200, 200, 5, 10"])
    short = tmp_path / "H" / "v_8x4x3_32b.bin"
    np.zeros(10, "<f4").tofile(short)
    with pytest.raises(InputDataError, match=r"40 bytes, but 8x4x3 float32 values need 384"):
        read_salient360(tmp_path)
    short.rename(tmp_path / "H" / "v.bin")
    with pytest.raises(InputDataError, match="must state its size"):
        read_salient360(tmp_path)
    with pytest.raises(InputFileNotFoundError):
        read_salient360(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputDataError, match="no H or HE folder"):
        read_salient360(tmp_path / "empty")


def test_synthetic_writer_reads_back_to_the_simulated_motion(tmp_path: Path) -> None:
    from pano.synth import simulate_recordings
    from pano.synth.formats import get_synth_format

    sim = simulate_recordings(n_videos=1, n_subjects=2, duration_s=2.0, fps=10.0)
    get_synth_format("salient360").write(sim, tmp_path)
    ts = get_format("salient360").read(tmp_path, fps=10.0)
    by = {t.subject: t for t in ts.traces}
    for k, rec in enumerate(sim.recordings):
        h = by[f"H-u{k:02d}"]
        np.testing.assert_allclose(h.t, rec.t[::12], atol=1e-12)  # 60 Hz -> 5 Hz
        assert np.rad2deg(orthodromic_distance(h.head, rec.head[::12])).max() < 1e-9
        # HE: one row per run of true fixation samples, at their mean direction.
        fix = np.r_[False, rec.events == 1, False]
        edges = np.flatnonzero(fix[1:] != fix[:-1])
        starts, ends = edges[0::2], edges[1::2]
        he = by[f"HE-u{k:02d}"]
        np.testing.assert_allclose(he.t, rec.t[starts], atol=1e-12)
        centres = np.array([rec.gaze[a:b].mean(0) for a, b in zip(starts, ends, strict=True)])
        assert np.rad2deg(orthodromic_distance(he.gaze, centres)).max() < 1e-9
    maps = {m.kind: m for m in ts.maps}
    assert maps["head"].data.shape == (20, 32, 64) and maps["eye"].data.shape == (20, 32, 64)
    assert np.allclose(maps["head"].data.sum(axis=(1, 2)), 1.0, atol=1e-5)
