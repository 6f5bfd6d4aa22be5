"""`pano ingest pvs-hm` on tiny synthetic PVS-HM data: layout, ground truth, resume, Dask."""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import zarr
from pymatreader import read_mat

from pano.errors import StoreExistsError
from pano.geometry import CANONICAL_FRAME
from pano.pipelines.ingest import IngestConfig, ingest_pvs_hm
from pano.stores import COMPLETE_ATTR, list_videos, open_store, read_root_attrs, read_video_attrs
from pano.stores.generation import GENERATION_ATTR
from pano.stores.reader import interrupted_groups
from pano.synth import EM_FILE, HM_FILE, SynthConfig, write_synthetic_dataset

SMALL = {"width": 36, "height": 18, "step_frames": 5}  # 60 frames -> 12 steps, 7 kept


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pvs")
    write_synthetic_dataset(d, SynthConfig(videos=3, subjects=3, seconds=2, width=128), workers=1)
    return d


def _cfg(data: Path, store: Path | str, **kw: Any) -> IngestConfig:
    base: dict[str, Any] = {
        "videos": data,
        "hm": data / HM_FILE,
        "em": data / EM_FILE,
        "store": str(store),
        "heatmap": SMALL,
        "workers": 0,
        "device": "cpu",
    }
    base.update(kw)
    return IngestConfig.model_validate(base)


@pytest.fixture(scope="module")
def clean(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("clean") / "pvs.zarr"
    ingest_pvs_hm(_cfg(data, store))
    return store


def snapshot(store: Path | str) -> dict[str, Any]:
    """Every array and attribute of a store except the provenance timestamp."""
    root = zarr.open_group(str(store), mode="r")
    out: dict[str, Any] = {}
    for path, node in root.members(max_depth=None):
        if isinstance(node, zarr.Array):
            out[path] = (node[...], node.metadata.dimension_names, node.attrs.asdict())
        else:
            out[path] = node.attrs.asdict()
    attrs = root.attrs.asdict()
    attrs["provenance"] = {k: v for k, v in attrs["provenance"].items() if k != "created"}
    attrs["provenance"]["parameters"].pop("store")
    attrs.pop(GENERATION_ATTR, None)  # a new UUID per write (pano.stores.generation)
    out["/"] = attrs
    return out


def assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], tuple):
            np.testing.assert_array_equal(a[k][0], b[k][0], err_msg=k)
            assert a[k][0].dtype == b[k][0].dtype, k
            assert a[k][1:] == b[k][1:], k
        else:
            assert a[k] == b[k], k


# ---------------------------------------------------------------------------
# Layout and contents
# ---------------------------------------------------------------------------


def test_layout_names_and_attrs(clean: Path, data: Path) -> None:
    tree = xr.open_datatree(clean, engine="zarr", consolidated=False)  # no warnings (pytest: error)
    assert sorted(tree["videos"].children) == ["A380", "Camping", "NotBeAloneTonight"]
    ds = tree["videos/NotBeAloneTonight"].dataset
    assert ds.attrs["video"]["path"] == "Let'sNotBeAloneTonight.mp4"
    expected = {
        "hm_lat",
        "hm_lon",
        "hm_xyz",
        "hm_valid",
        "hm_rs_xyz",
        "nan_count",
        "heatmap",
        "scanpath",
        "em_lat",
        "em_lon",
        "em_xyz",
        "em_valid",
        "em_nan_count",
    }
    assert set(ds.data_vars) == expected
    assert {
        "subject",
        "time",
        "step",
        "step_time",
        "step_frame",
        "step_sample",
        "lat",
        "lon",
        "rs_time",
        "em_time",
    } <= set(ds.coords)
    assert ds["hm_lat"].dims == ("subject", "time")
    assert ds["hm_xyz"].dims == ("subject", "time", "xyz")
    assert ds["hm_rs_xyz"].dims == ("subject", "rs_time", "xyz")
    assert ds["heatmap"].dims == ("step", "lat", "lon") and ds["heatmap"].dtype == np.float32
    assert ds["scanpath"].dims == ("step", "subject", "lonlat")
    assert ds.sizes["step"] == 60 // 5 - 5
    assert ds.sizes["lat"] == 18 and ds.sizes["lon"] == 36
    np.testing.assert_allclose(ds["lon"].values[[0, -1]], [175.0, -175.0])
    np.testing.assert_allclose(ds["rs_time"].values[:3], [0.0, 0.2, 0.4])

    a = ds.attrs
    assert a[COMPLETE_ATTR] is True and a["samples_per_frame"] == 2.0 and a["split"] == "train"
    assert (
        a["video"]["n_frames"] == 60 and a["video"]["fps"] == 30.0 and a["video"]["codec"] == "h264"
    )
    assert len(a["video"]["sha256"]) == 64

    root = tree.attrs
    assert root["dataset"] == "synthetic-pvs-hm"
    assert root["conventions"]["canonical_frame"] == CANONICAL_FRAME
    assert "up and left positive" in root["conventions"]["source"]["angles"]
    assert "lat then lon" in root["conventions"]["source"]["columns"]
    assert root["subjects"] == ["s00", "s01", "s02"]
    assert root["videos"] == ["A380", "Camping", "NotBeAloneTonight"]
    assert root["heatmap"] == {
        "sigma_deg": 7.0,
        "width": 36,
        "height": 18,
        "step_frames": 5,
        "drop_last_steps": 5,
        "normalize": "max",
        "pixel": "centre",
    }
    assert root["resample"] == {"rate_hz": 5.0}
    roles = {s["role"]: s for s in root["provenance"]["sources"]}
    assert {"hm", "em", "videos", "video:A380"} <= set(roles)
    import hashlib

    assert roles["hm"]["sha256"] == hashlib.sha256((data / HM_FILE).read_bytes()).hexdigest()
    assert root["provenance"]["parameters"]["heatmap"]["width"] == 36


def test_values_match_the_mat_file(clean: Path, data: Path) -> None:
    mat = read_mat(str(data / HM_FILE))
    em = read_mat(str(data / EM_FILE))
    tree = open_store(clean)
    for name in ("A380", "NotBeAloneTonight"):
        ds = tree[f"videos/{name}"].dataset
        hm = mat[name]
        np.testing.assert_array_equal(ds["hm_lat"].values, hm[:, 0::2].T)  # column 2k = lat
        np.testing.assert_array_equal(ds["hm_lon"].values, hm[:, 1::2].T)  # column 2k+1 = lon
        np.testing.assert_array_equal(ds["em_lat"].values, em[name][:, 0::2].T)
        valid = ~np.isnan(hm[:, 0::2].T)
        assert (~valid).sum() >= 1  # the synthetic data has NaNs; they are kept and masked
        np.testing.assert_array_equal(ds["hm_valid"].values, valid)
        np.testing.assert_array_equal(ds["nan_count"].values, (~valid).sum(1))
        assert ds.attrs["n_nan_samples"] == (~valid).sum()
        xyz = ds["hm_xyz"].values
        assert np.isnan(xyz[~valid]).all()
        lat = np.rad2deg(np.arcsin(xyz[..., 2]))
        np.testing.assert_allclose(lat[valid], hm[:, 0::2].T[valid], atol=1e-9)
        lon = np.rad2deg(np.arctan2(xyz[..., 1], xyz[..., 0]))  # +y = left = +lon
        np.testing.assert_allclose(lon[valid], hm[:, 1::2].T[valid], atol=1e-9)
        # steps: every 5 frames, sample round(i * 2 * 5), time = frame / fps
        np.testing.assert_array_equal(ds["step_sample"].values, np.arange(7) * 10)
        np.testing.assert_array_equal(ds["step_frame"].values, np.arange(7) * 5)
        np.testing.assert_allclose(ds["step_time"].values, np.arange(7) * 5 / 30.0)
        np.testing.assert_allclose(ds["time"].values, np.arange(120) / 60.0)
        sp = ds["scanpath"].values
        np.testing.assert_array_equal(sp[..., 0], hm[np.arange(7) * 10, 1::2])  # lon
        np.testing.assert_array_equal(sp[..., 1], hm[np.arange(7) * 10, 0::2])  # lat
        hmap = ds["heatmap"].values
        assert np.all(hmap >= 0) and np.allclose(hmap.max(axis=(1, 2)), 1.0)
        rs = ds["hm_rs_xyz"].values
        ok = ~np.isnan(rs[..., 0])
        np.testing.assert_allclose(np.linalg.norm(rs[ok], axis=-1), 1.0)


def test_samples_per_frame_is_read_not_assumed(tmp_path: Path) -> None:
    d = tmp_path / "spf3"
    write_synthetic_dataset(
        d,
        SynthConfig(videos=1, subjects=2, seconds=2, width=128, samples_per_frame=3, em=False),
        workers=1,
    )
    store = tmp_path / "s.zarr"
    s = ingest_pvs_hm(_cfg(d, store, em=None))
    assert s.videos[0].n_samples == 180
    va = read_video_attrs(store, "A380")
    assert va.samples_per_frame == 3.0 and not va.has_em
    ds = open_store(store)["videos/A380"].dataset
    np.testing.assert_array_equal(ds["step_sample"].values, np.arange(7) * 15)
    np.testing.assert_allclose(ds["time"].values[1], 1 / 90.0)
    assert "em_lat" not in ds


# ---------------------------------------------------------------------------
# The heatmap recipe against DHP's per-pixel formula
# ---------------------------------------------------------------------------


def _naive_dhp_map(
    lons: list[float], lats: list[float], width: int, height: int, sigma: float
) -> np.ndarray:
    """DHP's formula pixel by pixel: haversine great-circle distance, Gaussian, max-normalised."""
    out = np.zeros((height, width))
    for y in range(height):
        plat = math.radians(90.0 - (y + 0.5) * 180.0 / height)
        for x in range(width):
            plon = math.radians(180.0 - (x + 0.5) * 360.0 / width)
            v = 0.0
            for lo, la in zip(lons, lats, strict=True):
                if math.isnan(lo) or math.isnan(la):
                    continue
                la_r, lo_r = math.radians(la), math.radians(lo)
                h = (
                    math.sin((la_r - plat) / 2) ** 2
                    + math.cos(la_r) * math.cos(plat) * math.sin((lo_r - plon) / 2) ** 2
                )
                d = math.degrees(2 * math.asin(min(1.0, math.sqrt(h))))
                v += math.exp(-d * d / (2 * sigma * sigma))
            out[y, x] = v
    return out / out.max()


def test_heatmaps_equal_the_naive_dhp_formula(data: Path, tmp_path: Path) -> None:
    store = tmp_path / "dhp.zarr"
    hm_only: dict[str, Any] = {"heatmap": {}}  # DHP defaults: 360x180, sigma 7, max, 10 frames
    ingest_pvs_hm(_cfg(data, store, em=None, **hm_only))
    ds = open_store(store)["videos/A380"].dataset
    assert ds["heatmap"].shape == (1, 180, 360)
    sp = ds["scanpath"].values  # (step, subject, lonlat)
    got = ds["heatmap"].values[0]
    want = _naive_dhp_map(list(sp[0, :, 0]), list(sp[0, :, 1]), 360, 180, 7.0)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_heatmap_kernel_with_nan_subject_and_dhp_pixels() -> None:
    import torch

    from pano.geometry import lonlat_to_vec
    from pano.heatmaps import sphere_heatmaps

    lons, lats = [170.0, -175.0, float("nan"), 10.0], [80.0, -30.0, float("nan"), 0.0]
    pts = torch.as_tensor(lonlat_to_vec(np.array(lons), np.array(lats)))[None]
    got = sphere_heatmaps(pts, 72, 36, 9.0).numpy()[0]
    np.testing.assert_allclose(got, _naive_dhp_map(lons, lats, 72, 36, 9.0), atol=1e-9)
    # DHP's integer positions: lon = 180 - x * 360 / W, lat = 90 - y * 180 / H
    dhp = sphere_heatmaps(pts, 72, 36, 9.0, pixel="dhp", normalize="none").numpy()[0]
    y, x = 7, 50
    plat, plon = 90.0 - y * 5.0, 180.0 - x * 5.0
    from pano.geometry import orthodromic_distance_deg

    d = orthodromic_distance_deg(
        plon, plat, np.array([170.0, -175.0, 10.0]), np.array([80.0, -30.0, 0.0])
    )
    assert dhp[y, x] == pytest.approx(np.exp(-(d**2) / (2 * 81.0)).sum(), abs=1e-12)


def test_ground_truth_heatmaps_on_each_device(device: Any) -> None:
    from pano.stores.ground_truth import compute_heatmaps
    from pano.stores.schema import HeatmapParams

    lon = np.array([[170.0, -175.0, np.nan], [0.0, 90.0, -90.0]])
    lat = np.array([[80.0, -30.0, np.nan], [0.0, 10.0, -45.0]])
    params = HeatmapParams(width=48, height=24, sigma_deg=9.0)
    got = compute_heatmaps(lon, lat, params, device)
    assert got.dtype == np.float32 and got.shape == (2, 24, 48)
    for i in range(2):
        want = _naive_dhp_map(list(lon[i]), list(lat[i]), 48, 24, 9.0)
        np.testing.assert_allclose(got[i], want, atol=1e-6, rtol=0)


# ---------------------------------------------------------------------------
# Resume, idempotence, overwrite, parameters
# ---------------------------------------------------------------------------


def test_rerun_on_complete_store_does_nothing(clean: Path, data: Path, tmp_path: Path) -> None:
    store = tmp_path / "s.zarr"
    shutil.copytree(clean, store)
    before = {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()}
    s = ingest_pvs_hm(_cfg(data, store))
    assert s.written == [] and s.skipped == ["A380", "Camping", "NotBeAloneTonight"]
    after = {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()}
    assert before == after  # not one file touched (root attrs included)


def test_resume_after_a_kill_gives_identical_data(clean: Path, data: Path, tmp_path: Path) -> None:
    store = tmp_path / "s.zarr"
    shutil.copytree(clean, store)
    root = zarr.open_group(store, mode="r+")
    # Kill 1: everything written but the final mark.
    del root["videos/A380"].attrs[COMPLETE_ATTR]
    # Kill 2: mid-write - group marked incomplete, heatmap and one chunk of hm_lat gone.
    root["videos/Camping"].attrs[COMPLETE_ATTR] = False
    shutil.rmtree(store / "videos" / "Camping" / "heatmap")
    next(
        p
        for p in (store / "videos" / "Camping" / "hm_lat").rglob("*")
        if p.is_file() and p.name == "0"
    ).unlink()
    assert list_videos(store) == ["NotBeAloneTonight"]
    s = ingest_pvs_hm(_cfg(data, store))
    assert s.written == ["A380", "Camping"] and s.skipped == ["NotBeAloneTonight"]
    assert_same(snapshot(store), snapshot(clean))


def test_sigkilled_ingest_process_then_rerun_gives_identical_data(
    clean: Path, data: Path, tmp_path: Path
) -> None:
    """A real ``pano ingest`` process is SIGKILLed as soon as it creates its first video group.

    Whatever it had written by then (a group mid-write, or whole groups), no video may look
    complete unless it is, and a plain re-run must give the clean store.
    """
    store = tmp_path / "k.zarr"
    files = ["--videos", str(data), "--hm", str(data / HM_FILE), "--em", str(data / EM_FILE)]
    opts = ["--heatmap-size", "36x18", "--step-frames", "5", "--workers", "0", "--device", "cpu"]
    cmd = [sys.executable, "-m", "pano", "ingest", "pvs-hm", *files, "--store", str(store), *opts]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    videos = store / "videos"
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if videos.is_dir() and any(p.is_dir() for p in videos.iterdir()):
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.001)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]  # killed, not finished
    on_disk = sorted(p.name for p in videos.iterdir() if p.is_dir())
    complete = list_videos(store)
    assert on_disk and set(complete) <= set(on_disk) and len(complete) < 3
    want = snapshot(clean)
    with warnings.catch_warnings():  # zarr warns about debris (see the next test)
        warnings.filterwarnings("ignore", "Object at .* is not recognized", UserWarning)
        got = snapshot(store)
    for name in complete:  # anything that says it is complete is exactly the clean data
        keys = [k for k in want if k.startswith(f"videos/{name}")]
        assert_same({k: got[k] for k in keys}, {k: want[k] for k in keys})
    s = ingest_pvs_hm(_cfg(data, store))
    assert sorted(s.written + s.skipped) == ["A380", "Camping", "NotBeAloneTonight"]
    assert s.skipped == complete
    assert_same(snapshot(store), want)
    assert not list(store.rglob("*.partial")) and interrupted_groups(store) == []


def test_debris_of_a_killed_writer_is_ignored_then_removed(
    clean: Path, data: Path, tmp_path: Path
) -> None:
    """What SIGKILL can leave on a local store, made on purpose (no timing involved)."""
    store = tmp_path / "d.zarr"
    shutil.copytree(clean, store)
    shutil.rmtree(store / "videos" / "A380")  # killed after mkdir, before its zarr.json
    (store / "videos" / "A380").mkdir()
    (store / "videos" / "A380" / "zarr.0123abcd.partial").write_bytes(b'{"zarr_fo')
    (store / "videos" / "zarr.4567cdef.partial").write_bytes(b"{")  # killed atomic writes
    chunk = next(p for p in (store / "videos" / "Camping" / "hm_lat").rglob("*") if p.is_file())
    chunk.with_suffix(".89abcdef.partial").write_bytes(b"\0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no reader trips over (or warns about) the debris
        assert list_videos(store) == ["Camping", "NotBeAloneTonight"]
        assert list_videos(store, complete=False) == ["A380"]
        assert interrupted_groups(store) == ["A380"]
        tree = open_store(store)
        assert sorted(tree["videos"].children) == ["Camping", "NotBeAloneTonight"]
        s = ingest_pvs_hm(_cfg(data, store))
    assert s.written == ["A380"] and s.skipped == ["Camping", "NotBeAloneTonight"]
    assert not list(store.rglob("*.partial")) and interrupted_groups(store) == []
    assert_same(snapshot(store), snapshot(clean))


def test_overwrite_rewrites_everything(clean: Path, data: Path, tmp_path: Path) -> None:
    store = tmp_path / "s.zarr"
    shutil.copytree(clean, store)
    (store / "stray.txt").write_text("gone after --overwrite")
    s = ingest_pvs_hm(_cfg(data, store, overwrite=True))
    assert s.written == ["A380", "Camping", "NotBeAloneTonight"]
    assert not (store / "stray.txt").exists()
    assert_same(snapshot(store), snapshot(clean))


def test_other_parameters_need_overwrite(clean: Path, data: Path, tmp_path: Path) -> None:
    store = tmp_path / "s.zarr"
    shutil.copytree(clean, store)
    with pytest.raises(StoreExistsError, match=r"heatmap.sigma_deg .*--overwrite"):
        ingest_pvs_hm(_cfg(data, store, heatmap={**SMALL, "sigma_deg": 5.0}))
    s = ingest_pvs_hm(_cfg(data, store, heatmap={**SMALL, "sigma_deg": 5.0}, overwrite=True))
    assert len(s.written) == 3 and read_root_attrs(store).heatmap.sigma_deg == 5.0


def test_refuses_to_overwrite_something_that_is_not_a_pano_store(
    data: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.zarr"
    zarr.open_group(other, mode="w", zarr_format=3)
    with pytest.raises(StoreExistsError, match="not a pano store"):
        ingest_pvs_hm(_cfg(data, other, overwrite=True))
    assert (other / "zarr.json").exists()
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "keep.txt").write_text("x")
    with pytest.raises(StoreExistsError, match="not empty"):
        ingest_pvs_hm(_cfg(data, folder))
    assert (folder / "keep.txt").exists()


# ---------------------------------------------------------------------------
# Stores at URLs, Dask, matching, splits, .mat v7.3
# ---------------------------------------------------------------------------


def test_memory_url_store(clean: Path, data: Path) -> None:
    url = f"memory://pano-ingest-{uuid.uuid4().hex}/pvs.zarr"
    s = ingest_pvs_hm(_cfg(data, url, workers=None))  # memory:// runs in-process by itself
    assert len(s.written) == 3 and s.store_bytes > 0
    tree = open_store(url)
    xr.testing.assert_identical(
        tree["videos/A380"].dataset, open_store(clean)["videos/A380"].dataset
    )
    assert (
        xr.open_datatree(url, engine="zarr", consolidated=False)["videos/Camping"].dataset.sizes[
            "step"
        ]
        == 7
    )


def test_dask_local_cluster_matches_in_process(clean: Path, data: Path, tmp_path: Path) -> None:
    store = tmp_path / "dask.zarr"
    s = ingest_pvs_hm(_cfg(data, store, workers=2))  # a real LocalCluster of 2 processes
    assert s.written == ["A380", "Camping", "NotBeAloneTonight"]
    assert_same(snapshot(store), snapshot(clean))


def test_existing_scheduler(clean: Path, data: Path, tmp_path: Path) -> None:
    from distributed import LocalCluster

    # An in-process (threaded) cluster starts fast; the ingest only sees its address.
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
    ) as cluster:
        store = tmp_path / "sched.zarr"
        s = ingest_pvs_hm(_cfg(data, store, workers=None, scheduler=cluster.scheduler_address))
    assert len(s.written) == 3
    assert_same(snapshot(store), snapshot(clean))


def test_memory_store_cannot_go_to_an_external_scheduler(data: Path) -> None:
    from pano.errors import ConfigError

    url = f"memory://pano-ingest-{uuid.uuid4().hex}/pvs.zarr"
    with pytest.raises(ConfigError, match="memory:// store exists only in this process"):
        ingest_pvs_hm(_cfg(data, url, workers=None, scheduler="tcp://127.0.0.1:1"))


def test_unmatched_videos_and_variables_are_reported(data: Path, tmp_path: Path) -> None:
    d = tmp_path / "partial"
    d.mkdir()
    for f in (HM_FILE, "A380.mp4", "Let'sNotBeAloneTonight.mp4"):
        shutil.copy(data / f, d / f)
    shutil.copy(data / "A380.mp4", d / "Extra.mp4")
    store = tmp_path / "s.zarr"
    s = ingest_pvs_hm(_cfg(d, store, em=None, val_videos=["NotBeAloneTonight"]))
    assert s.hm_without_videos == ["Camping"]
    assert s.videos_without_hm == ["Extra.mp4"]
    assert [v.name for v in s.videos] == ["A380", "NotBeAloneTonight"]
    text = s.format()
    assert "Camping" in text and "Extra.mp4" in text and "NaN" in text
    ra = read_root_attrs(store)
    assert ra.splits.val == ["NotBeAloneTonight"] and ra.splits.train == ["A380"]
    assert ra.dataset == "pvs-hm"  # no manifest.json in this folder


def test_dhp_test_videos_get_the_test_split(data: Path, tmp_path: Path) -> None:
    import scipy.io

    d = tmp_path / "test-split"
    d.mkdir()
    shutil.copy(data / "A380.mp4", d / "KingKong.mp4")
    scipy.io.savemat(d / "hm.mat", {"KingKong": read_mat(str(data / HM_FILE))["A380"]})
    store = tmp_path / "s.zarr"
    ingest_pvs_hm(_cfg(d, store, hm=d / "hm.mat", em=None))
    assert read_root_attrs(store).splits.test == ["KingKong"]
    assert read_video_attrs(store, "KingKong").split == "test"


def test_em_subjects_must_match(data: Path, tmp_path: Path) -> None:
    import scipy.io

    from pano.errors import InputDataError

    hm = read_mat(str(data / HM_FILE))
    em = {k: v[:, :4] for k, v in read_mat(str(data / EM_FILE)).items() if not k.startswith("__")}
    scipy.io.savemat(tmp_path / "em.mat", em)
    with pytest.raises(
        InputDataError, match=r"em.mat: variable .A380. has 2 subjects but the HM has 3"
    ):
        ingest_pvs_hm(_cfg(data, tmp_path / "s.zarr", em=tmp_path / "em.mat"))
    assert hm  # the HM file is untouched
    assert not (tmp_path / "s.zarr").exists()


def test_em_detect_refuses_a_subject_without_eye_samples(data: Path, tmp_path: Path) -> None:
    """``--em-detect`` with a subject whose EM is NaN everywhere: one line, no store (the
    detector would refuse it only after the ingest's writes)."""
    import scipy.io

    from pano.errors import InputDataError

    em = {k: v.copy() for k, v in read_mat(str(data / EM_FILE)).items() if not k.startswith("__")}
    em["A380"][:, 2:4] = np.nan  # subject 1's lat/lon pair
    scipy.io.savemat(tmp_path / "em.mat", em)
    with pytest.raises(InputDataError) as err:
        ingest_pvs_hm(_cfg(data, tmp_path / "s.zarr", em=tmp_path / "em.mat", em_detect=True))
    msg = str(err.value)
    assert "em.mat: variable 'A380': subject 1 (columns 2-3) has no valid" in msg, msg
    assert "\n" not in msg and not (tmp_path / "s.zarr").exists()


def test_reads_matlab_v73_files(data: Path, tmp_path: Path) -> None:
    import hdf5storage

    from pano.stores.pvs_hm import read_mat_variables

    hm = {k: v for k, v in read_mat(str(data / HM_FILE)).items() if not k.startswith("__")}
    path = tmp_path / "v73.mat"
    hdf5storage.savemat(str(path), hm, format="7.3", matlab_compatible=True)
    got = read_mat_variables(path)
    assert set(got) == set(hm)
    for k in hm:
        np.testing.assert_array_equal(got[k], hm[k])
