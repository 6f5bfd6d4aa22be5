"""stream_viewports: store + video -> per-frame viewports, aligned by samples_per_frame."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from pano.errors import ConfigError, InputFileNotFoundError, StoreError
from pano.pipelines.ingest import IngestConfig, ingest_pvs_hm
from pano.stores import open_store, open_video, read_video_attrs, stream_viewports
from pano.synth import HM_FILE, SynthConfig, write_synthetic_dataset
from pano.video import open_video as open_decoder
from pano.viewport import ViewportSampler

SIZE = (24, 32)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    data = tmp_path_factory.mktemp("pvs")
    cfg = SynthConfig(
        videos=1, subjects=3, seconds=1.5, width=256, em=False, nan_fraction=0.05, seed=3
    )
    write_synthetic_dataset(data, cfg, workers=1)
    location = data.parent / f"{data.name}.zarr"
    ingest_pvs_hm(
        IngestConfig.model_validate(
            {
                "videos": data,
                "hm": data / HM_FILE,
                "store": str(location),
                "workers": 0,
                "device": "cpu",
                "heatmap": {"width": 36, "height": 18, "step_frames": 5, "drop_last_steps": 1},
            }
        )
    )
    (video,) = [p.name for p in (location / "videos").iterdir() if p.is_dir()]
    return location, data, video


def _reference(
    location: Path, video: str, frame: int, subjects: list[int], gray: bool = False
) -> torch.Tensor:
    """Viewports computed the long way: store sample round(f * spf), last valid position."""
    va = read_video_attrs(location, video)
    ds = open_video(location, video)
    s = min(int(np.floor(frame * va.samples_per_frame + 0.5)), ds.sizes["time"] - 1)
    lon = ds["hm_lon"].values[subjects, : s + 1]
    lat = ds["hm_lat"].values[subjects, : s + 1]
    ok = np.isfinite(lon) & np.isfinite(lat)
    last = [np.nonzero(r)[0][-1] for r in ok]  # every subject has an earlier valid sample here
    yaw = np.array([lon[i, j] for i, j in enumerate(last)])
    pitch = np.array([lat[i, j] for i, j in enumerate(last)])
    path = location.parent / location.stem / va.video.path
    with open_decoder(path, backend="pyav", device="cpu", gray=gray) as dec:
        img = dec.read([frame])[0]
    return ViewportSampler(fov_deg=(90, 90), size=SIZE)(img, yaw, pitch)


def test_stream_every_frame_matches_reference(store: tuple[Path, Path, str]) -> None:
    location, data, video = store
    va = read_video_attrs(location, video)
    batches = list(stream_viewports(location, video, size=SIZE, device="cpu", videos_dir=data))
    n = va.video.n_frames
    assert [b.frame_index for b in batches] == list(range(n))
    b = batches[17]
    assert b.viewports.shape == (3, 3, *SIZE) and b.viewports.dtype == torch.float32
    assert b.time_s == pytest.approx(17 / va.video.fps)
    assert b.sample_index == int(np.floor(17 * va.samples_per_frame + 0.5))
    assert (
        b.subjects.tolist() == [0, 1, 2] and b.xyz.shape == (3, 3) and b.valid.dtype == torch.bool
    )
    for f in (0, 17, n - 1):
        assert torch.allclose(
            batches[f].viewports, _reference(location, video, f, [0, 1, 2]), atol=1e-5
        )
    # valid mirrors the store's mask; invalid subjects are rendered at their last valid position
    ds = open_video(location, video)
    valid = ds["hm_valid"].values
    assert np.array_equal(
        np.stack([b.valid.numpy() for b in batches]), valid[:, [b.sample_index for b in batches]].T
    )
    assert not all(b.valid.all() for b in batches), "the fixture should contain NaN samples"
    lon = torch.stack([b.lon for b in batches])
    assert torch.isfinite(lon[1:]).all() or not valid[:, 0].all()


def test_stream_steps_subjects_range_gray_tree(store: tuple[Path, Path, str]) -> None:
    location, data, video = store
    ds = open_video(location, video)
    steps = list(
        stream_viewports(
            location, video, every="step", size=SIZE, device="cpu", videos_dir=data, prefetch=0
        )
    )
    assert [b.frame_index for b in steps] == ds["step_frame"].values.tolist()
    assert [b.sample_index for b in steps] == ds["step_sample"].values.tolist()
    tree = open_store(location)
    kw = {"size": SIZE, "device": "cpu", "videos_dir": data}
    part = list(
        stream_viewports(tree, video, subjects=[2, 0], gray=True, start_s=0.5, seconds=0.4, **kw)
    )
    fps = read_video_attrs(location, video).video.fps
    assert [b.frame_index for b in part] == list(range(round(0.5 * fps), round(0.9 * fps)))
    b = part[3]
    assert b.viewports.shape == (2, 1, *SIZE) and b.subjects.tolist() == [2, 0]
    ref = _reference(location, video, b.frame_index, [2, 0], gray=True)
    # Luma is decoded as coded (limited range) and its levels applied on the pre-filtered
    # level: equal to rendering full-range luma up to that luma's uint8 rounding.
    assert (b.viewports - ref).abs().max() < 0.6 / 255
    assert (b.viewports - ref).abs().mean() < 0.3 / 255
    # Asking for the frames too decodes full-range luma: then exactly the reference.
    (with_frames,) = stream_viewports(
        tree, video, subjects=[2, 0], gray=True, frames=[b.frame_index], with_frames=True, **kw
    )
    assert torch.allclose(with_frames.viewports, ref, atol=1e-5)
    assert with_frames.frame is not None and with_frames.frame.shape[0] == 1


def test_video_path_resolution_and_errors(store: tuple[Path, Path, str], tmp_path: Path) -> None:
    location, data, video = store
    # Default: the videos folder recorded at ingest.
    first = next(iter(stream_viewports(location, video, size=SIZE, device="cpu", seconds=0.1)))
    assert first.frame_index == 0
    moved = tmp_path / "elsewhere"
    shutil.copytree(data, moved)
    assert (
        next(
            iter(stream_viewports(location, video, size=SIZE, device="cpu", videos_dir=moved))
        ).frame_index
        == 0
    )
    with pytest.raises(InputFileNotFoundError, match="videos_dir"):
        next(iter(stream_viewports(location, video, videos_dir=tmp_path / "nothing-here")))
    with pytest.raises(StoreError, match="NoSuchVideo"):
        next(iter(stream_viewports(location, "NoSuchVideo")))
    with pytest.raises(ConfigError, match="subjects"):
        next(iter(stream_viewports(location, video, subjects=[7], videos_dir=data)))
    with pytest.raises(ConfigError, match="every"):
        next(iter(stream_viewports(location, video, every="second", videos_dir=data)))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no frames"):
        next(iter(stream_viewports(location, video, start_s=100.0, videos_dir=data)))


def test_cli_contact_sheet_and_grid_video(
    store: tuple[Path, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import matplotlib.image as mpimg

    from pano.cli.app import main

    location, data, video = store
    png = tmp_path / "sheet.png"
    args = [
        "viewport",
        str(location),
        "--video",
        video,
        "--videos-dir",
        str(data),
        "--device",
        "cpu",
    ]
    assert (
        main([*args, "--out", str(png), "--subjects", "0,2", "--size", "64x48", "--rows", "2"]) == 0
    )
    img = mpimg.imread(png)
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 400
    mp4 = tmp_path / "grid.mp4"
    assert (
        main([*args, "--out", str(mp4), "--size", "48x48", "--start", "0.5", "--seconds", "0.2"])
        == 0
    )
    with open_decoder(mp4, device="cpu") as dec:
        fps = read_video_attrs(location, video).video.fps
        assert len(dec) == round(0.7 * fps) - round(0.5 * fps)
    capsys.readouterr()
    assert main([*args, "--out", str(png), "--fov", "wide"]) == 2
    assert "--fov" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "x.gif")]) == 2
    assert ".png" in capsys.readouterr().err


def test_cli_unknown_video_lists_the_store_videos(
    store: tuple[Path, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pano.cli.app import main

    location, _, video = store
    out = str(tmp_path / "x.png")
    assert main(["viewport", str(location), "--video", "Nope", "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "'Nope'" in err and f"it has {video}" in err
    # The same for an opened tree.
    with pytest.raises(StoreError, match=f"'Nope'; it has {video}"):
        next(iter(stream_viewports(open_store(location), "Nope")))


def test_grid_video_shows_progress_on_a_terminal(
    store: tuple[Path, Path, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pano.progress
    from pano.pipelines.viewport import render_viewports

    location, data, video = store
    monkeypatch.setattr(pano.progress, "progress_enabled", lambda: True)  # as on a terminal
    mp4 = tmp_path / "grid.mp4"
    render_viewports(
        location, video, mp4, subjects=[0], size=(32, 32), seconds=0.2, videos_dir=data,
        device="cpu",
    )  # fmt: skip
    err = capsys.readouterr().err
    assert f"viewport {video} -> grid.mp4" in err and "100%" in err  # total = frames written
    monkeypatch.setattr(pano.progress, "progress_enabled", lambda: False)  # a pipe: no bar
    render_viewports(
        location, video, mp4, subjects=[0], size=(32, 32), seconds=0.2, videos_dir=data,
        device="cpu",
    )  # fmt: skip
    assert "grid.mp4" not in capsys.readouterr().err
