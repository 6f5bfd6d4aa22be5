"""`pano ingest pvs-hm` / `pano info` on the command line, and every kind of bad input."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from pymatreader import read_mat

from pano.cli.app import main
from pano.config import load_config
from pano.pipelines.ingest import IngestConfig
from pano.stores import list_videos, open_store, read_root_attrs
from pano.synth import EM_FILE, HM_FILE, SynthConfig, write_synthetic_dataset
from pano.video import make_video


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pvs-cli")
    write_synthetic_dataset(d, SynthConfig(videos=3, subjects=3, seconds=2, width=128), workers=1)
    return d


def _args(videos: Path, hm: Path, store: Path, *extra: str) -> list[str]:
    return [
        "ingest",
        "pvs-hm",
        "--videos",
        str(videos),
        "--hm",
        str(hm),
        "--store",
        str(store),
        "--heatmap-size",
        "36x18",
        "--step-frames",
        "5",
        "--workers",
        "0",
        "--device",
        "cpu",
        *extra,
    ]


@pytest.fixture(scope="module")
def good_store(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("good") / "pvs.zarr"
    assert main(_args(data, data / HM_FILE, store, "--em", str(data / EM_FILE))) == 0
    return store


def test_cli_ingest_summary_and_info(
    good_store: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert list_videos(good_store) == ["A380", "Camping", "NotBeAloneTonight"]
    assert main(["info", str(good_store)]) == 0
    out = capsys.readouterr().out
    for word in (
        "synthetic-pvs-hm",
        "A380",
        "NotBeAloneTonight",
        "train",
        "frames",
        "NaNs",
        "total",
        "bytes",
    ):
        assert word in out
    # a re-run reports the videos as already complete
    assert main(_args(data, data / HM_FILE, good_store, "--em", str(data / EM_FILE))) == 0
    out = capsys.readouterr().out
    assert "0 written, 3 already complete" in out and "subjects" in out and "NaN samples" in out


def test_cli_config_file_set_and_flags(data: Path, tmp_path: Path) -> None:
    cfg_file = tmp_path / "ingest.yaml"
    store = tmp_path / "s.zarr"
    cfg_file.write_text(
        f"videos: {data}\nhm: {data / HM_FILE}\nstore: {tmp_path / 'ignored.zarr'}\n"
        "workers: 0\ndevice: cpu\n"
        "heatmap:\n  width: 72\n  height: 36\n  step_frames: 5\n"
    )
    rc = main(
        [
            "ingest",
            "pvs-hm",
            "--config",
            str(cfg_file),
            "--store",
            str(store),
            "--set",
            "heatmap.sigma_deg=5",
            "--set",
            "resample.rate_hz=10",
            "--heatmap-sigma",
            "6",
        ]
    )
    assert rc == 0
    ra = read_root_attrs(store)
    assert (ra.heatmap.width, ra.heatmap.height, ra.heatmap.sigma_deg) == (
        72,
        36,
        6.0,
    )  # flag beats --set
    assert ra.resample.rate_hz == 10.0
    assert not (tmp_path / "ignored.zarr").exists()


def test_example_config_is_valid() -> None:
    import pano.pipelines.configs as configs

    path = Path(configs.__file__).parent / "ingest.yaml"
    cfg = load_config(IngestConfig, path)
    assert (
        cfg.heatmap.sigma_deg == 7.0 and cfg.heatmap.width == 360 and cfg.heatmap.step_frames == 10
    )
    assert cfg.heatmap.drop_last_steps == 5 and cfg.resample.rate_hz == 5.0 and cfg.device == "auto"


def test_cli_missing_options_and_bad_values(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["ingest", "pvs-hm", "--store", str(tmp_path / "s.zarr")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pano: error:") and "videos" in err and "hm" in err and "\n" not in err
    assert (
        main(
            [
                "ingest",
                "pvs-hm",
                "--videos",
                ".",
                "--hm",
                "x.mat",
                "--store",
                "s",
                "--heatmap-size",
                "big",
            ]
        )
        == 2
    )
    assert "--heatmap-size 'big'" in capsys.readouterr().err
    assert main(["info", str(tmp_path / "none.zarr")]) == 2
    assert "no pano store" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# Bad input: one clear line, exit code 2, the store stays as it was
# ---------------------------------------------------------------------------


def _copy_inputs(data: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in data.iterdir():
        if f.suffix in (".mp4", ".mat"):
            shutil.copy(f, dst / f.name)
    return dst


def _mat_with(d: Path, name: str, value: object) -> None:
    mat = {k: v for k, v in read_mat(str(d / HM_FILE)).items() if not k.startswith("__")}
    mat[name] = value
    scipy.io.savemat(d / HM_FILE, mat)


def _odd_columns(d: Path) -> None:
    hm = read_mat(str(d / HM_FILE))["A380"]
    _mat_with(d, "A380", hm[:, :5])


def _non_numeric(d: Path) -> None:
    _mat_with(d, "Camping", "not numbers")


def _lat_out_of_range(d: Path) -> None:
    hm = read_mat(str(d / HM_FILE))["A380"].copy()
    hm[17, 2] = 95.0  # subject 1 latitude
    _mat_with(d, "A380", hm)


def _lon_out_of_range(d: Path) -> None:
    hm = read_mat(str(d / HM_FILE))["A380"].copy()
    hm[3, 5] = -270.0  # subject 2 longitude
    _mat_with(d, "A380", hm)


def _corrupt_video(d: Path) -> None:
    (d / "Camping.mp4").write_bytes(os.urandom(3000))


def _missing_video_file(d: Path) -> None:
    (d / "Camping.mp4").unlink()
    (d / "Camping.mp4").symlink_to(d / "gone.mp4")  # listed, but nothing behind it


def _video_shorter_than_hm(d: Path) -> None:
    make_video(
        d / "A380.mp4", [np.zeros((64, 128, 3), np.uint8)] * 45, fps=30.0
    )  # 120 samples / 45 frames


def _mat_missing(d: Path) -> None:
    (d / HM_FILE).unlink()


def _mat_garbage(d: Path) -> None:
    (d / HM_FILE).write_bytes(b"MATLAB? no" * 40)


def _videos_dir_missing(d: Path) -> None:
    shutil.rmtree(d)


BAD: dict[str, tuple[Callable[[Path], None], str]] = {
    "odd-columns": (_odd_columns, r"variable 'A380' has 5 columns; expected an even number"),
    "non-numeric": (_non_numeric, r"variable 'Camping' is not a numeric matrix"),
    "lat-range": (
        _lat_out_of_range,
        r"'A380': latitude 95 deg out of range \[-90, 90\] at sample 17, subject 1",
    ),
    "lon-range": (
        _lon_out_of_range,
        r"'A380': longitude -270 deg out of range \[-180, 180\] at sample 3, subject 2",
    ),
    "corrupt-video": (_corrupt_video, r"Camping\.mp4: not a readable video"),
    "missing-video": (_missing_video_file, r"Camping\.mp4: video file not found"),
    "short-video": (
        _video_shorter_than_hm,
        r"'A380': HM has 120 samples but the video has 45 frames .*shorter than its data",
    ),
    "mat-missing": (_mat_missing, r"FULLdata_per_video_frame\.mat: HM \.mat file not found"),
    "mat-garbage": (_mat_garbage, r"_frame\.mat: not a readable MATLAB \.mat file"),
    "videos-missing": (_videos_dir_missing, r"videos folder not found"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_one_line_exit_2_store_intact(
    case: str, data: Path, good_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_bad, pattern = BAD[case]
    d = _copy_inputs(data, tmp_path / "in")
    make_bad(d)
    # 1) over an existing complete store, even with --overwrite: nothing is touched
    store = tmp_path / "existing.zarr"
    shutil.copytree(good_store, store)
    before = sorted(
        (p.relative_to(store), p.stat().st_mtime_ns) for p in store.rglob("*") if p.is_file()
    )
    capsys.readouterr()
    assert main(_args(d, d / HM_FILE, store, "--overwrite")) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("pano: error:")]
    assert len(lines) == 1, err
    import re

    assert re.search(pattern, lines[0]), lines[0]
    after = sorted(
        (p.relative_to(store), p.stat().st_mtime_ns) for p in store.rglob("*") if p.is_file()
    )
    assert after == before
    assert list_videos(store) == ["A380", "Camping", "NotBeAloneTonight"]
    open_store(store)
    # 2) into a new store: nothing is created
    fresh = tmp_path / "fresh.zarr"
    assert main(_args(d, d / HM_FILE, fresh)) == 2
    assert not fresh.exists()
