"""Sphere conventions: landmarks, round trips and properties (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pano import geometry as g

lons = st.floats(-180.0, 180.0, allow_nan=False)
lats = st.floats(-90.0, 90.0, allow_nan=False)
inner_lats = st.floats(-89.0, 89.0, allow_nan=False)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


vectors = (
    arrays(np.float64, 3, elements=st.floats(-1, 1, allow_nan=False))
    .filter(lambda v: np.linalg.norm(v) > 1e-3)
    .map(_unit)
)


# --------------------------------------------------------------------- landmarks


def test_landmarks_pvs_hm_signs() -> None:
    # Front centre, LEFT (+lon), up (+lat): PVS-HM longitude is positive to the LEFT.
    np.testing.assert_allclose(g.lonlat_to_vec(0.0, 0.0), [1, 0, 0], atol=1e-15)
    np.testing.assert_allclose(g.lonlat_to_vec(90.0, 0.0), [0, 1, 0], atol=1e-15)  # +y = left
    np.testing.assert_allclose(g.lonlat_to_vec(-90.0, 0.0), [0, -1, 0], atol=1e-15)
    np.testing.assert_allclose(g.lonlat_to_vec(0.0, 90.0), [0, 0, 1], atol=1e-15)
    # Right-handed frame: front x left = up.
    np.testing.assert_allclose(np.cross([1, 0, 0], [0, 1, 0]), [0, 0, 1])


def test_landmarks_erp_pixels() -> None:
    w, h = 360, 180
    # Image centre is the front centre.
    lon, lat = g.erp_to_lonlat(180.0, 90.0, w, h)
    assert (lon, lat) == (0.0, 0.0)
    # +lon lies LEFT of the centre: column 90 (left quarter) has lon +90.
    lon, _ = g.erp_to_lonlat(90.0, 90.0, w, h)
    assert lon == pytest.approx(90.0)
    # DHP's mapping on 360x180: column x <-> lon = 180 - x, row y <-> lat = 90 - y.
    for x in (0, 17, 359):
        assert g.erp_to_lonlat(float(x), 0.0, w, h)[0] == pytest.approx(180 - x)
    # Pixel centres: column 0 centre at lon 179.5, row 0 centre at lat 89.5.
    lon_c, lat_c = g.erp_grid_lonlat(w, h)
    assert lon_c[0] == pytest.approx(179.5) and lon_c[-1] == pytest.approx(-179.5)
    assert lat_c[0] == pytest.approx(89.5) and lat_c[-1] == pytest.approx(-89.5)
    assert np.all(np.diff(lon_c) < 0) and np.all(np.diff(lat_c) < 0)


def test_rotation_matrix_landmarks() -> None:
    r = g.rotation_matrix(0.0, 0.0, 0.0)
    np.testing.assert_allclose(r, np.eye(3), atol=1e-15)
    # Yaw 90 (turn left): forward becomes +y (left).
    np.testing.assert_allclose(g.rotation_matrix(90.0, 0.0) @ [1, 0, 0], [0, 1, 0], atol=1e-15)
    # Pitch 90 (look up): forward becomes +z.
    np.testing.assert_allclose(g.rotation_matrix(0.0, 90.0) @ [1, 0, 0], [0, 0, 1], atol=1e-15)
    # Positive roll takes the head's left axis up.
    np.testing.assert_allclose(g.rotation_matrix(0.0, 0.0, 90.0) @ [0, 1, 0], [0, 0, 1], atol=1e-15)


def test_camera_axes_image_orientation() -> None:
    axes = g.head_to_camera_axes(0.0, 0.0)
    right, down, fwd = axes
    np.testing.assert_allclose(fwd, [1, 0, 0], atol=1e-15)
    np.testing.assert_allclose(right, [0, -1, 0], atol=1e-15)  # image right = viewer's right
    np.testing.assert_allclose(down, [0, 0, -1], atol=1e-15)
    # A point 10 deg to the LEFT of the view has a negative image-right component.
    p = g.lonlat_to_vec(10.0, 0.0)
    assert float(np.dot(p, right)) < 0


def test_track_landmarks() -> None:
    # TRACK for PVS-HM: theta = rad(lon + 180), phi = rad(90 - lat).
    v = g.track_thetaphi_to_vec(math.radians(0 + 180), math.radians(90 - 0))
    np.testing.assert_allclose(v, [1, 0, 0], atol=1e-12)
    theta, phi = math.radians(30 + 180), math.radians(90 - 20)
    track = np.array(
        [math.cos(theta) * math.sin(phi), math.sin(theta) * math.sin(phi), math.cos(phi)]
    )
    np.testing.assert_allclose(g.track_to_vec(track), g.lonlat_to_vec(30.0, 20.0), atol=1e-12)


def test_salient360_and_bottomleft_landmarks() -> None:
    np.testing.assert_allclose(g.salient360_to_vec(0.5, 0.5), [1, 0, 0], atol=1e-15)
    np.testing.assert_allclose(g.salient360_to_vec(0.25, 0.5), [0, 1, 0], atol=1e-15)  # left
    np.testing.assert_allclose(g.salient360_to_vec(0.5, 0.0), [0, 0, 1], atol=1e-15)  # top=north
    np.testing.assert_allclose(g.bottomleft_to_vec(0.5, 1.0), [0, 0, 1], atol=1e-15)  # top
    np.testing.assert_allclose(g.bottomleft_to_vec(0.5, 0.0), [0, 0, -1], atol=1e-15)


def test_gazehub_landmarks() -> None:
    # Looking straight into the camera.
    np.testing.assert_allclose(g.gazehub_to_camvec(0.0, 0.0), [0, 0, -1], atol=1e-15)
    # Positive pitch looks up (y is down in GazeHub's camera axes).
    assert g.gazehub_to_camvec(0.0, 0.3)[1] < 0
    pano_cam = g.gazehub_camvec_to_pano_camera(np.array([0.0, -1.0, 0.0]))  # GazeHub up
    np.testing.assert_allclose(pano_cam, [0, 0, 1])


def test_solid_angle_sums_to_sphere() -> None:
    for w, h in ((360, 180), (64, 32), (7, 3)):
        sa = g.erp_row_solid_angle(w, h)
        assert sa.sum() * w == pytest.approx(4 * math.pi, rel=1e-12)
        assert np.all(sa > 0)
        np.testing.assert_allclose(sa, sa[::-1], rtol=1e-12)  # symmetric about the equator


def test_seam_distance_is_short() -> None:
    d = g.orthodromic_distance_deg(179.0, 0.0, -179.0, 0.0)
    assert d == pytest.approx(2.0, abs=1e-9)


def test_distance_precision_near_zero() -> None:
    # One arc-second apart: the atan2 form keeps full precision.
    d = g.orthodromic_distance_deg(10.0, 20.0, 10.0, 20.0 + 1 / 3600)
    assert d == pytest.approx(1 / 3600, rel=1e-9)


def test_torch_and_numpy_agree() -> None:
    lon, lat = np.array([10.0, -170.0]), np.array([5.0, -80.0])
    vn = g.lonlat_to_vec(lon, lat)
    vt = g.lonlat_to_vec(torch.tensor(lon), torch.tensor(lat))
    assert isinstance(vt, torch.Tensor)
    np.testing.assert_allclose(vt.numpy(), vn, atol=1e-15)
    np.testing.assert_allclose(
        g.orthodromic_distance(vt, vt.flip(0)).numpy(), g.orthodromic_distance(vn, vn[::-1])
    )
    rt = g.rotation_matrix(torch.tensor(lon), torch.tensor(lat), 3.0)
    np.testing.assert_allclose(rt.numpy(), g.rotation_matrix(lon, lat, 3.0), atol=1e-15)


def test_nan_propagates() -> None:
    v = g.lonlat_to_vec(np.nan, 0.0)
    assert np.isnan(v).all()
    assert np.isnan(g.orthodromic_distance(v, np.array([1.0, 0, 0])))


# --------------------------------------------------------------------- properties


@given(lons, inner_lats)
def test_lonlat_vec_round_trip(lon: float, lat: float) -> None:
    v = g.lonlat_to_vec(lon, lat)
    assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-12)
    lon2, lat2 = g.vec_to_lonlat(v)
    assert lat2 == pytest.approx(lat, abs=1e-9)
    assert abs((lon2 - lon + 180.0) % 360.0 - 180.0) < 1e-8  # equal up to the ±180 wrap


@given(vectors)
def test_vec_lonlat_vec_round_trip(v: np.ndarray) -> None:
    np.testing.assert_allclose(g.lonlat_to_vec(*g.vec_to_lonlat(v)), v, atol=1e-12)


@given(
    st.floats(0.0, 359.999),
    st.floats(0.0, 179.999),
    st.sampled_from([(360, 180), (3840, 1920), (64, 32)]),
)
def test_erp_round_trip(x: float, y: float, size: tuple[int, int]) -> None:
    w, h = size
    x, y = x / 360 * w, y / 180 * h
    assume(0.01 < y < h - 0.01)  # longitude is undefined at the poles
    x2, y2 = g.vec_to_erp(g.erp_to_vec(x, y, w, h), w, h)
    assert y2 == pytest.approx(y, abs=1e-8 * h)
    dx = abs(x2 - x)
    assert min(dx, w - dx) == pytest.approx(0.0, abs=1e-8 * w)


@given(vectors, vectors)
def test_distance_symmetric_and_bounded(u: np.ndarray, v: np.ndarray) -> None:
    d1, d2 = g.orthodromic_distance(u, v), g.orthodromic_distance(v, u)
    assert d1 == pytest.approx(d2, abs=1e-15)
    assert 0.0 <= d1 <= math.pi
    assert g.orthodromic_distance(u, u) == pytest.approx(0.0, abs=1e-12)


@given(vectors, vectors, vectors)
def test_triangle_inequality(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> None:
    duv, dvw, duw = (g.orthodromic_distance(a, b) for a, b in ((u, v), (v, w), (u, w)))
    assert duw <= duv + dvw + 1e-12


@given(lons, lats, lons, lats)
def test_haversine_equivalence(lon1: float, lat1: float, lon2: float, lat2: float) -> None:
    p1, p2, l1, l2 = map(math.radians, (lat1, lat2, lon1, lon2))
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin((l2 - l1) / 2) ** 2
    hav = math.degrees(2 * math.asin(min(1.0, math.sqrt(a))))
    assert g.orthodromic_distance_deg(lon1, lat1, lon2, lat2) == pytest.approx(hav, abs=1e-6)


@given(lons, inner_lats, st.floats(-180, 180))
def test_rotation_round_trip(yaw: float, pitch: float, roll: float) -> None:
    r = g.rotation_matrix(yaw, pitch, roll)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(r[:, 0], g.lonlat_to_vec(yaw, pitch), atol=1e-12)
    np.testing.assert_allclose(g.rotation_matrix(*g.rotation_to_yaw_pitch_roll(r)), r, atol=1e-9)


@given(vectors)
def test_other_conventions_round_trip(v: np.ndarray) -> None:
    np.testing.assert_allclose(g.track_to_vec(g.vec_to_track(v)), v, atol=1e-15)
    assume(abs(v[2]) < 0.9999)
    np.testing.assert_allclose(g.salient360_to_vec(*g.vec_to_salient360(v)), v, atol=1e-9)
    np.testing.assert_allclose(g.bottomleft_to_vec(*g.vec_to_bottomleft(v)), v, atol=1e-9)
    yaw, pitch = g.camvec_to_gazehub(v)
    np.testing.assert_allclose(g.gazehub_to_camvec(yaw, pitch), v, atol=1e-9)


@given(vectors, vectors, st.floats(0.0, 1.0))
def test_slerp_on_sphere_and_great_circle(u: np.ndarray, v: np.ndarray, t: float) -> None:
    assume(g.orthodromic_distance(u, v) < math.pi - 1e-3)
    p = g.slerp(u, v, np.float64(t))
    assert np.linalg.norm(p) == pytest.approx(1.0, abs=1e-12)
    # On the great circle through u and v, between them, at fraction t of the arc.
    n = np.cross(u, v)
    if np.linalg.norm(n) > 1e-6:
        assert abs(np.dot(p, n / np.linalg.norm(n))) < 1e-9
    total = g.orthodromic_distance(u, v)
    assert g.orthodromic_distance(u, p) == pytest.approx(t * total, abs=1e-9)
    assert g.orthodromic_distance(p, v) == pytest.approx((1 - t) * total, abs=1e-9)


@given(st.floats(150.0, 180.0), st.floats(-180.0, -150.0), inner_lats)
def test_resampling_across_seam_takes_short_way(lon_a: float, lon_b: float, lat: float) -> None:
    vecs = g.lonlat_to_vec(np.array([lon_a, lon_b]), np.array([lat, lat]))
    out = g.resample_directions(np.array([0.0, 1.0]), vecs, np.linspace(0, 1, 11))
    lon, _ = g.vec_to_lonlat(out)
    # Every interpolated point lies near the seam, never swinging through lon 0.
    assert np.all(np.abs(lon) >= 149.999)
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-12)


def test_resample_to_5hz_grid_and_gaps() -> None:
    t = np.arange(0, 2.0, 1 / 60)  # 60 Hz
    lon = 20.0 * t  # 20 deg/s to the left
    vecs = g.lonlat_to_vec(lon, np.zeros_like(lon))
    vecs[30] = np.nan  # one missing sample at t = 0.5 s
    new_t = np.arange(0, 2.0, 0.2)
    out = g.resample_directions(t, vecs, new_t)
    lon_out, lat_out = g.vec_to_lonlat(out)
    ok = ~np.isnan(lon_out)
    np.testing.assert_allclose(lon_out[ok], 20.0 * new_t[ok], atol=1e-9)
    np.testing.assert_allclose(lat_out[ok], 0.0, atol=1e-12)
    # Times outside the data are NaN, never extrapolated; the sample at 0.5 s is missing.
    assert np.isnan(g.resample_directions(t, vecs, np.array([-0.1, 5.0]))).all()
    assert np.isnan(g.resample_directions(t, vecs, np.array([0.5]))).all()


def test_resample_rejects_bad_times() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        g.resample_directions(np.array([0.0, 0.0]), np.zeros((2, 3)), np.array([0.0]))


def test_conventions_figure_script_runs(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "docs" / "make_conventions_figure.py"
    spec = importlib.util.spec_from_file_location("make_conventions_figure", script)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "__file__", str(tmp_path / "make_conventions_figure.py"))
    out = mod.main()
    assert out.exists() and out.stat().st_size > 20_000
