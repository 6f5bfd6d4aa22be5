"""Viewport extraction: landmarks (convention), seam, poles, anti-aliasing, API errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pano.errors import ParameterError, ShapeError, UnknownNameError
from pano.geometry import erp_grid_lonlat, lonlat_to_vec
from pano.testing import marker_frame
from pano.viewport import DHP_SIZE, ViewportSampler, extract_viewports, viewport_outline

W, H = 256, 128


def centroid(view: torch.Tensor) -> tuple[float, float]:
    """(x, y) centroid in pixel-centre coordinates of a (C, h, w) view's brightness."""
    m = view.float().mean(0).cpu()
    m = torch.where(m > 0.25, m, torch.zeros_like(m))
    total = float(m.sum())
    assert total > 0, "marker not visible"
    h, w = m.shape
    ys = torch.arange(h, dtype=torch.float32) + 0.5
    xs = torch.arange(w, dtype=torch.float32) + 0.5
    return float((m.sum(0) * xs).sum()) / total, float((m.sum(1) * ys).sum()) / total


def smooth_texture(seed: int = 0) -> torch.Tensor:
    """(3, H, W) float32 texture that is a smooth function on the sphere (seamless, pole-safe)."""
    lon, lat = erp_grid_lonlat(W, H)
    v = lonlat_to_vec(*np.meshgrid(lon, lat))  # (H, W, 3)
    rng = np.random.default_rng(seed)
    chans = []
    for _ in range(3):
        d = rng.normal(size=(4, 3))
        chans.append(0.5 + 0.1 * np.sin(3.0 * (v @ d.T)).sum(-1))
    return torch.tensor(np.stack(chans), dtype=torch.float32)


def analytic(v: np.ndarray) -> np.ndarray:
    """A smooth function on the sphere, strongly varying near the poles."""
    return 0.5 + 0.3 * v[..., 0] + 0.15 * np.sin(4.0 * v[..., 1]) + 0.05 * v[..., 2]


# ---------------------------------------------------------------------------- convention


@pytest.mark.parametrize(
    "lon, lat",
    [
        (0.0, 0.0),
        (60.0, 20.0),
        (135.0, -30.0),
        (-100.0, 45.0),
        (179.0, 5.0),
        (-179.5, -10.0),
        (20.0, 80.0),
        (-70.0, -84.0),
    ],
)
def test_marker_at_viewport_centre(device: torch.device, lon: float, lat: float) -> None:
    frame = marker_frame(lon, lat).to(device)
    if lon > 0:  # PVS-HM convention: lon > 0 is the LEFT half of the ERP image
        cols = torch.nonzero(frame[0].cpu().amax(0) > 0).flatten()
        assert cols.float().mean() < W / 2 or lon > 170
    sampler = ViewportSampler(fov_deg=(60.0, 60.0), size=(48, 48))
    view = sampler(frame, torch.tensor([lon]), torch.tensor([lat]))
    assert view.shape == (1, 3, 48, 48) and view.device.type == device.type
    x, y = centroid(view[0])
    assert abs(x - 24.0) < 1.0 and abs(y - 24.0) < 1.0


def test_marker_left_of_gaze_is_in_left_half(device: torch.device) -> None:
    yaw, pitch = 30.0, 10.0
    sampler = ViewportSampler(fov_deg=(90.0, 90.0), size=(64, 64))
    # 20 degrees to the LEFT of the viewing direction (positive lon = left).
    frame = marker_frame(yaw + 20.0, pitch, radius_deg=3.0).to(device)
    x, y = centroid(sampler(frame, [yaw], [pitch])[0])
    expect = 32.0 - sampler.fx * math.tan(math.radians(20.0))
    assert x < 32.0 and abs(x - expect) < 1.5
    assert abs(y - 32.0) < 3.0  # a small offset: the marker's latitude circle curves in the view
    # 20 degrees UP appears in the upper half.
    frame = marker_frame(yaw, pitch + 20.0, radius_deg=3.0).to(device)
    x, y = centroid(sampler(frame, [yaw], [pitch])[0])
    assert abs(y - (32.0 - sampler.fy * math.tan(math.radians(20.0)))) < 1.5 and abs(x - 32.0) < 1.0


def test_roll_tilts_the_view(device: torch.device) -> None:
    # Roll +90 (pano.geometry.rotation_matrix) takes the head's left axis to world up: the
    # head lies on its right shoulder, its top points to the world's right, so a marker
    # 20 deg to the world's LEFT of the gaze appears BELOW the image centre.
    frame = marker_frame(20.0, 0.0, radius_deg=3.0).to(device)
    sampler = ViewportSampler(fov_deg=90.0, size=64)
    x, y = centroid(sampler(frame, [0.0], [0.0], roll=[90.0])[0])
    assert abs(y - (32.0 + sampler.fy * math.tan(math.radians(20.0)))) < 1.0 and abs(x - 32.0) < 1.0


# ---------------------------------------------------------------------------- seam and poles


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
def test_seam_continuity(device: torch.device, mode: str) -> None:
    tex = torch.rand(3, H, W, generator=torch.Generator().manual_seed(1)).to(device)
    rolled = torch.roll(tex, W // 2, dims=-1)  # rolled at lon L shows tex at L + 180
    sampler = ViewportSampler(fov_deg=(70.0, 60.0), size=(40, 48), mode=mode, antialias=False)
    yaws = torch.tensor([180.0, 175.0, -172.0, 179.9])
    pitches = torch.tensor([0.0, 30.0, -45.0, 60.0])
    a = sampler(tex, yaws, pitches)
    b = sampler(rolled, yaws - 180.0, pitches)
    atol = 0.5 if mode == "nearest" else 1e-3  # nearest: a tie may round the other way
    assert (a - b).abs().max() < atol
    if mode == "nearest":
        assert (a - b).abs().gt(1e-3).float().mean() < 0.01


def test_seam_and_poles_match_analytic_function(device: torch.device) -> None:
    lon, lat = erp_grid_lonlat(512, 256)
    tex = torch.tensor(analytic(lonlat_to_vec(*np.meshgrid(lon, lat))), dtype=torch.float32)
    sampler = ViewportSampler(fov_deg=(100.0, 100.0), size=(40, 40), antialias=False)
    cases = [
        (0.0, 90.0, 0.0),
        (123.0, -90.0, 0.0),
        (180.0, 0.0, 0.0),
        (-180.0, 45.0, 0.0),
        (37.0, -12.0, 30.0),
        (10.0, 80.0, -20.0),
    ]
    yaw, pitch, roll = (torch.tensor(c) for c in zip(*cases, strict=True))
    views = sampler(tex.to(device), yaw, pitch, roll)[:, 0].cpu().double().numpy()
    expect = analytic(sampler.pixel_directions(yaw, pitch, roll).numpy())
    assert np.abs(views - expect).max() < 0.01


def test_pole_view_is_rotationally_consistent(device: torch.device) -> None:
    tex = smooth_texture().to(device)
    sampler = ViewportSampler(fov_deg=(80.0, 80.0), size=(32, 32), antialias=False)
    v = sampler(tex, torch.tensor([0.0, 90.0, 180.0, 0.0]), torch.tensor([90.0, 90.0, 90.0, 90.0]),
                roll=torch.tensor([0.0, 0.0, 0.0, 90.0]))  # fmt: skip
    # Looking straight up, turning LEFT (yaw +90) rotates the image content by 90 degrees
    # counter-clockwise (torch.rot90, k=1); yaw 180 turns it upside down; at the pole a
    # roll of +90 is the same camera as yaw +90. No fold, no seam, no clamped rows.
    assert (v[1] - torch.rot90(v[0], k=1, dims=(-2, -1))).abs().max() < 2e-3
    assert (v[2] - torch.rot90(v[0], k=2, dims=(-2, -1))).abs().max() < 2e-3
    assert (v[3] - torch.rot90(v[0], k=1, dims=(-2, -1))).abs().max() < 2e-3


def test_rows_next_to_the_pole_interpolate_across_it(device: torch.device) -> None:
    # Top row: white on the left half (lon > 0), black on the right. A ray between the
    # row's centres and the pole must blend with the row across the pole (lon + 180), so a
    # tiny view straight up is a mid grey everywhere; clamping the rows would give a
    # hard black/white split through the centre.
    frame = torch.full((1, H, W), 0.5)
    frame[0, 0, : W // 2] = 1.0
    frame[0, 0, W // 2 :] = 0.0
    frame[0, -1] = frame[0, 0].flip(-1)
    sampler = ViewportSampler(fov_deg=(0.4, 0.4), size=(16, 16), antialias=False)
    views = sampler(frame.to(device), [0.0, 47.0, 0.0], [90.0, 90.0, -90.0])
    assert (views - 0.5).abs().max() < 0.2


def test_marker_across_the_pole_is_not_folded(device: torch.device) -> None:
    sampler = ViewportSampler(fov_deg=(100.0, 100.0), size=(64, 64))
    # Looking straight up while facing the front: the front (lon 0) is at the BOTTOM of the
    # image, the back (lon 180, across the pole) at the TOP, lon -90 (right) on the right.
    for lon, where in [(0.0, "bottom"), (180.0, "top"), (-90.0, "right"), (90.0, "left")]:
        frame = marker_frame(lon, 70.0, radius_deg=4.0).to(device)
        x, y = centroid(sampler(frame, [0.0], [90.0])[0])
        off = sampler.fx * math.tan(math.radians(20.0))
        expect = {
            "bottom": (32, 32 + off),
            "top": (32, 32 - off),
            "right": (32 + off, 32),
            "left": (32 - off, 32),
        }[where]
        assert abs(x - expect[0]) < 1.0 and abs(y - expect[1]) < 1.0, (lon, x, y)


# ---------------------------------------------------------------------------- anti-aliasing


def test_antialias_matches_supersampled_reference(device: torch.device) -> None:
    tex = torch.rand(3, 512, 1024, generator=torch.Generator().manual_seed(2)).to(device)
    yaw, pitch = torch.tensor([0.0, 100.0, -150.0]), torch.tensor([0.0, 30.0, -50.0])
    size = 32  # 90 deg over 32 px: ~2.8 deg per output px vs 0.35 deg per source px
    ref = F.avg_pool2d(ViewportSampler(90.0, 4 * size, antialias=False)(tex, yaw, pitch), 4)
    aa = ViewportSampler(90.0, size, antialias=True)
    assert aa.level_for(512, 1024) == 3
    err_aa = (aa(tex, yaw, pitch) - ref).abs().mean()
    err_raw = (ViewportSampler(90.0, size, antialias=False)(tex, yaw, pitch) - ref).abs().mean()
    # White noise is the hardest case: even 8x vs 4x supersampling differ by ~0.026 here.
    assert err_aa < 0.3 * err_raw
    assert err_aa < 0.05


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
@pytest.mark.parametrize("k", [0, 1, 2, 4])
def test_box_level_matches_average_pooling(dtype: torch.dtype, k: int) -> None:
    from pano.viewport import _box_level

    x = torch.randint(0, 256, (2, 3, 32, 64), generator=torch.Generator().manual_seed(k)).to(dtype)
    scale = 255.0 if dtype == torch.uint8 else 1.0
    ref = F.avg_pool2d(x.float(), 2**k) / scale if k else x.float() / scale
    for frames in (
        x,
        x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2),
    ):  # NCHW, channels-last
        out = _box_level(frames, k)
        assert out.shape == ref.shape and out.dtype == torch.float32
        assert torch.allclose(out, ref, atol=1e-5)
    odd = _box_level(x[..., :30, :62], 1)  # not divisible: area interpolation
    assert odd.shape == (2, 3, 15, 31)


def test_level_choice() -> None:
    s = ViewportSampler((90.0, 90.0), (224, 224))
    assert s.level_for(960, 1920) == 1  # 0.40 deg out vs 0.19 deg in
    assert s.level_for(1920, 3840) == 2
    assert s.level_for(128, 256) == 0
    assert ViewportSampler(remap_compat=True).level_for(1920, 3840) == 5  # 3.9 deg/px at the centre
    assert ViewportSampler(antialias=False).level_for(1920, 3840) == 0


# ---------------------------------------------------------------------------- API


def test_dtypes_shapes_and_devices(device: torch.device) -> None:
    tex = smooth_texture()
    s = ViewportSampler(fov_deg=60, size=(12, 20))
    u8 = (tex * 255).round().to(torch.uint8).to(device)
    out = s(u8, [0.0, 10.0], [0.0, -5.0])
    assert (
        out.shape == (2, 3, 12, 20)
        and out.dtype == torch.float32
        and out.device.type == device.type
    )
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    f64 = s(tex.double().to(device), 0.0, 0.0)
    assert f64.dtype == torch.float64 and f64.shape == (1, 3, 12, 20)
    f16 = s(tex.half().to(device), [1.0], [2.0])
    assert f16.dtype == torch.float16
    luma = s(tex[0].to(device), [0.0, 1.0, 2.0], [0.0, 0.0, 0.0])
    assert luma.shape == (3, 1, 12, 20)
    assert torch.allclose(s(tex.to(device), 5.0, 5.0).float(), (s(u8, 5.0, 5.0)), atol=3 / 255)
    assert s(tex.to(device), torch.empty(0), torch.empty(0)).shape == (0, 3, 12, 20)


def test_out_buffer_is_filled_and_returned(device: torch.device) -> None:
    tex = smooth_texture().to(device)
    u8 = (tex * 255).round().to(torch.uint8)
    s = ViewportSampler(fov_deg=70, size=(20, 30))
    yaw, pitch = torch.tensor([0.0, 170.0, -90.0]), torch.tensor([0.0, 80.0, -30.0])
    buf = torch.full((3, 3, 20, 30), -1.0, device=device)
    for frames in (u8, tex):  # reused across calls (and frames)
        res = s(frames, yaw, pitch, out=buf)
        assert res is buf and torch.equal(buf, s(frames, yaw, pitch))
    idx = torch.tensor([0, 1, 0])
    two = torch.stack([tex, tex.flip(-1)])
    assert torch.equal(
        s(two, yaw, pitch, frame_index=idx, out=buf), s(two, yaw, pitch, frame_index=idx)
    )
    for bad in (
        torch.empty(2, 3, 20, 30, device=device),  # wrong N
        torch.empty(3, 3, 20, 30, dtype=torch.float64, device=device),  # wrong dtype
        torch.empty(3, 3, 30, 20, device=device).transpose(2, 3),  # not contiguous
    ):
        with pytest.raises(ShapeError, match="out must be a contiguous"):
            s(u8, yaw, pitch, out=bad)
    with pytest.raises(ShapeError, match="float32 or float64"):
        s(tex.half(), yaw, pitch, out=torch.empty(3, 3, 20, 30, dtype=torch.float16, device=device))


def test_levels_map_limited_range_luma(device: torch.device) -> None:
    tex = smooth_texture()[0]  # (H, W) in [0, 1]
    coded = (16 + tex * 219).round().to(torch.uint8).to(device)  # limited range, as coded
    full = ((coded.double() - 16) * 255 / 219).round().clamp(0, 255).to(torch.uint8)
    for antialias in (False, True):
        s = ViewportSampler(fov_deg=100, size=(40, 60), antialias=antialias)
        yaw, pitch = [0.0, 120.0, -170.0], [10.0, -60.0, 85.0]
        a = s(coded, yaw, pitch, levels=(16, 235))
        b = s(full, yaw, pitch)
        assert (a - b).abs().max() < 0.6 / 255  # full's own uint8 rounding
        assert s.prepare(coded, (16, 235)) is not s.prepare(coded)  # levels are in the key
    # Out-of-range values are clamped to black / white.
    s = ViewportSampler(fov_deg=90, size=8)
    for value, want in ((5, 0.0), (250, 1.0), (16, 0.0), (235, 1.0)):
        flat = torch.full((H, W), value, dtype=torch.uint8, device=device)
        assert torch.allclose(
            s(flat, 0.0, 0.0, levels=(16, 235)), torch.tensor(want, device=device)
        )
    with pytest.raises(ShapeError, match="uint8 frames only"):
        s(tex.to(device), 0.0, 0.0, levels=(16, 235))
    with pytest.raises(ParameterError, match="black < white"):
        s(coded, 0.0, 0.0, levels=(235, 16))
    with pytest.raises(ParameterError, match="pass them to prepare"):
        s(s.prepare(coded), 0.0, 0.0, levels=(16, 235))


def test_frame_index_picks_each_viewports_frame(device: torch.device) -> None:
    frames = torch.stack([torch.full((1, H, W), v) for v in (0.1, 0.5, 0.9)]).to(device)
    s = ViewportSampler(fov_deg=90, size=16)
    out = s(frames, torch.zeros(5), torch.zeros(5), frame_index=torch.tensor([2, 0, 1, 2, 0]))
    assert torch.allclose(out.mean((1, 2, 3)).cpu(), torch.tensor([0.9, 0.1, 0.5, 0.9, 0.1]))
    tex = torch.stack([smooth_texture(i) for i in range(3)]).to(device)
    yaw, pitch = torch.tensor([10.0, 20.0, 30.0, 40.0]), torch.tensor([0.0, 5.0, -5.0, 50.0])
    idx = torch.tensor([1, 1, 0, 2])
    grouped = s(tex, yaw, pitch, frame_index=idx)
    single = torch.cat(
        [s(tex[int(i)], yaw[k : k + 1], pitch[k : k + 1]) for k, i in enumerate(idx)]
    )
    assert torch.allclose(grouped, single, atol=1e-6)
    # default: every viewport from frame 0
    assert torch.allclose(s(tex, yaw, pitch), s(tex[0], yaw, pitch))


def test_prepared_frame_is_cached_and_invalidated() -> None:
    s = ViewportSampler(fov_deg=90, size=16)
    tex = smooth_texture()
    assert s.prepare(tex) is s.prepare(tex)
    before = s(tex, 0.0, 0.0)
    tex.add_(0.25)  # in-place change must not reuse the stale level
    assert torch.allclose(s(tex, 0.0, 0.0), before + 0.25, atol=1e-5)
    prep = s.prepare(tex)
    assert torch.equal(s(prep, [3.0], [4.0]), s(tex, [3.0], [4.0]))


def test_functional_form_and_modes(device: torch.device) -> None:
    tex = smooth_texture().to(device)
    for mode in ("nearest", "bilinear", "bicubic"):
        a = extract_viewports(tex, [10.0], [20.0], fov_deg=(80, 70), size=(24, 30), mode=mode)
        b = ViewportSampler((80, 70), (24, 30), mode=mode)(tex, [10.0], [20.0])
        assert torch.equal(a, b)


def test_remap_compat(device: torch.device) -> None:
    tex = (smooth_texture() * 255).to(torch.uint8).to(device)
    s = ViewportSampler(remap_compat=True, truncate_degrees=True)
    assert s.fov_deg == (110.0, 113.0) and s.size == DHP_SIZE and s.mode == "bicubic"
    out = s(tex, [12.7, -40.2], [-3.9, 60.0])
    assert out.shape == (2, 1, 42, 42) and float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert torch.equal(out, s(tex, [12.0, -40.0], [-3.0, 60.0]))  # integer degrees, toward zero
    luma = (tex.float() * torch.tensor([0.299, 0.587, 0.114], device=device)[:, None, None]).sum(0)
    assert torch.allclose(s(luma / 255.0, [5.0], [5.0]), s(tex, [5.0], [5.0]), atol=1e-4)
    with pytest.raises(ParameterError, match="remap_compat"):
        ViewportSampler(fov_deg=(90, 60), remap_compat=True)


@pytest.mark.parametrize(
    "frames, kwargs, match",
    [
        (torch.zeros(1, 1, 3, 8, 16), {}, "frames must be"),
        (torch.zeros(3, 8, 16, dtype=torch.int16), {}, "uint8 or floating"),
        (torch.zeros(8, 16, 3), {}, "channels-last"),
        (np.zeros((8, 16)), {}, "torch.Tensor"),
        (torch.zeros(3, 8, 16), {"yaw": [0.0, 1.0], "pitch": [0.0, 1.0, 2.0]}, "same length"),
        (torch.zeros(3, 8, 16), {"yaw": [[0.0]], "pitch": [0.0]}, "1-D"),
        (torch.zeros(2, 3, 8, 16), {"frame_index": [0, 2]}, r"\[0, 2\)"),
        (torch.zeros(2, 3, 8, 16), {"frame_index": [0.0, 1.0]}, "integer"),
        (torch.zeros(2, 3, 8, 16), {"frame_index": [0, 1, 1]}, "3 entries"),
        (torch.zeros(3, 8, 16), {"yaw": "left"}, "degrees"),
    ],
)
def test_shape_errors(frames: object, kwargs: dict, match: str) -> None:
    args = {"yaw": [0.0, 1.0], "pitch": [0.0, 1.0], **kwargs}
    with pytest.raises(ShapeError, match=match):
        ViewportSampler(fov_deg=90, size=8)(frames, args.pop("yaw"), args.pop("pitch"), **args)  # type: ignore[arg-type]


def test_constructor_errors() -> None:
    # Ranges and names are parameter errors (issue 11), shapes stay ShapeError.
    with pytest.raises(ParameterError, match=r"fov_deg: .*\(0, 180\) degrees.*got 0x90"):
        ViewportSampler(fov_deg=(0.0, 90.0))
    with pytest.raises(ParameterError, match=r"fov_deg: .*got 'wide'"):
        ViewportSampler(fov_deg="wide")
    with pytest.raises(ShapeError, match="size"):
        ViewportSampler(size=(0, 10))
    with pytest.raises(UnknownNameError, match="mode"):
        ViewportSampler(mode="lanczos")


def test_viewport_outline() -> None:
    lon, lat = viewport_outline(0.0, 0.0, 0.0, (90.0, 90.0), n=8)
    assert lon.shape == (33,) and lon[0] == lon[-1] and lat[0] == lat[-1]
    assert (
        np.isclose(lat.max(), 45.0) and np.isclose(lon.min(), -45.0) and np.isclose(lon.max(), 45.0)
    )
    # The top-left corner (first point) is up and to the LEFT (positive lon).
    assert lon[0] > 0 and lat[0] > 0
