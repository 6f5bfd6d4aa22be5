"""`pano em detect` on tiny synthetic PVS-HM stores with EM: layout, all-or-nothing, refusals."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import zarr

from pano.cli.app import main
from pano.em import EmEvent, EmParams, detect_events
from pano.em.maps import active_fixation_points
from pano.pipelines.ingest import IngestConfig, ingest_pvs_hm
from pano.stores import COMPLETE_ATTR, list_videos, open_store
from pano.stores.em import (
    EM_ARRAYS,
    em_path,
    em_state,
    list_em_videos,
    open_em,
    read_em_array,
    read_em_attrs,
    read_fixations,
)
from pano.stores.generation import read_generation
from pano.synth import EM_FILE, HM_FILE, SynthConfig, write_synthetic_dataset

SMALL = {"width": 36, "height": 18, "step_frames": 5}  # 60 frames -> 12 steps, 7 kept
SET = ["--set", "savgol_window=0", "--device", "cpu"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pvs_em")
    write_synthetic_dataset(d, SynthConfig(videos=2, subjects=3, seconds=2, width=128), workers=1)
    return d


def _ingest(data: Path, store: Path, em: bool = True, **kw: Any) -> None:
    cfg = {
        "videos": data, "hm": data / HM_FILE, "store": str(store), "heatmap": SMALL,
        "workers": 0, "device": "cpu", **({"em": data / EM_FILE} if em else {}), **kw,
    }  # fmt: skip
    ingest_pvs_hm(IngestConfig.model_validate(cfg))


@pytest.fixture(scope="module")
def plain(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ingested store with EM and no events yet (copy it before writing)."""
    store = tmp_path_factory.mktemp("plain") / "pvs.zarr"
    _ingest(data, store)
    return store


@pytest.fixture(scope="module")
def detected(plain: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("det") / "pvs.zarr"
    shutil.copytree(plain, store)
    assert main(["em", "detect", str(store), *SET]) == 0
    return store


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "pvs.zarr"
    shutil.copytree(src, dst)
    return dst


def test_layout_dims_and_attributes(detected: Path, plain: Path) -> None:
    videos = list_videos(detected)
    assert len(videos) == 2 and list_em_videos(detected) == videos
    assert read_generation(detected).counter == read_generation(plain).counter + 1
    v = videos[0]
    ds = open_em(detected, v)
    assert set(EM_ARRAYS) <= set(ds.variables)
    assert ds.em_event.dims == ("subject", "event_sample") == ds.event_time.dims
    assert ds.em_velocity.dims == ("subject", "event_sample")
    assert ds.fix_xyz.dims == ("fixation", "xyz") and ds.fix_lon.dims == ("fixation",)
    assert ds.fixation_map.dims == ("step", "lat", "lon") == ds.eye_heatmap.dims
    assert ds.em_event.dtype == np.int8 and ds.fixation_map.dtype == np.int32
    # labelled: the video's coordinates come along
    vid = open_store(detected)[f"videos/{v}"].dataset
    np.testing.assert_array_equal(ds.subject.values, vid.subject.values)
    np.testing.assert_array_equal(ds.step_time.values, vid.step_time.values)
    np.testing.assert_array_equal(ds.lon.values, vid.lon.values)
    assert ds.eye_heatmap.shape == vid.heatmap.shape
    # PVS-HM groups: one clock for all subjects, resampled to the default rate
    t = ds.event_time.values
    assert (t == t[0]).all() and (ds.event_count.values == t.shape[1]).all()
    # every parameter in the attributes
    attrs = read_em_attrs(detected, v)
    assert attrs.em_params == EmParams(savgol_window=0)
    assert ds.attrs["em_params"] == EmParams(savgol_window=0).model_dump(mode="json")
    assert attrs.eye_heatmap.sigma_deg == 2.0 == attrs.eye_sigma_deg
    assert ds.eye_heatmap.attrs["sigma_deg"] == 2.0
    assert set(np.unique(ds.em_event.values)) <= {int(e) for e in EmEvent}
    assert int(ds.n_fixations.sum()) == ds.sizes["fixation"] == attrs.n_fixations > 0


def test_events_equal_the_core_detection(detected: Path) -> None:
    v = list_videos(detected)[0]
    g = zarr.open_group(str(detected), mode="r")[f"videos/{v}"]
    times, xyz = np.asarray(g["em_time"][...]), np.asarray(g["em_xyz"][...])
    fix = read_fixations(detected, v)
    ev = read_em_array(detected, v, "em_event")
    event_time = read_em_array(detected, v, "event_time")
    for k in range(xyz.shape[0]):
        res = detect_events(times, xyz[k], EmParams(savgol_window=0))
        np.testing.assert_array_equal(ev[k], res.events)
        np.testing.assert_array_equal(event_time[k], res.times)
        np.testing.assert_array_equal(fix[k].first, res.fixations.first)
        np.testing.assert_array_equal(fix[k].last, res.fixations.last)
        np.testing.assert_allclose(fix[k].start_s, res.fixations.start_s)
        np.testing.assert_allclose(fix[k].duration_s, res.fixations.duration_s)
        np.testing.assert_allclose(fix[k].lon, res.fixations.lon)
        np.testing.assert_allclose(fix[k].vec, res.fixations.vec)
    # ground truth: one count per subject holding a fixation at the step
    step_time = np.asarray(g["step_time"][...])
    pts = active_fixation_points(fix, step_time)
    fmap = read_em_array(detected, v, "fixation_map")
    np.testing.assert_array_equal(fmap.sum(axis=(1, 2)), (~np.isnan(pts[..., 0])).sum(1))


def test_tree_opens_warning_free_and_shows_events(detected: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tree = open_store(detected)
        raw = xr.open_datatree(detected, engine="zarr", consolidated=False)
    v = list_videos(detected)[0]
    assert "eye_heatmap" in tree[em_path(v)].dataset
    assert "em_event" in raw[em_path(v)].dataset


def test_rerun_refuses_then_overwrite_replaces(detected: Path, tmp_path: Path, capsys: Any) -> None:
    store = _copy(detected, tmp_path)
    gen = read_generation(store)
    capsys.readouterr()
    assert main(["em", "detect", str(store), *SET]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "already have eye-movement events" in err
    assert "--overwrite" in err and read_generation(store) == gen
    cfg = Path(__file__).resolve().parents[1] / "pipelines" / "configs" / "em_detect.yaml"
    args = ["em", "detect", str(store), "--config", str(cfg), "--method", "idt", "--overwrite"]
    assert main([*args, "--set", "dispersion_deg=3", "--eye-sigma", "4", *SET]) == 0
    assert read_generation(store).counter == gen.counter + 1
    v = list_videos(store)[0]
    attrs = read_em_attrs(store, v)
    assert attrs.em_params == EmParams(method="idt", dispersion_deg=3, savgol_window=0)
    assert attrs.eye_heatmap.sigma_deg == 4.0


def test_preset_with_overrides(detected: Path, tmp_path: Path) -> None:
    store = _copy(detected, tmp_path)
    assert main(["em", "detect", str(store), "--preset", "salient360", "--overwrite", *SET]) == 0
    want = EmParams.preset("salient360", savgol_window=0)
    assert all(read_em_attrs(store, v).em_params == want for v in list_videos(store))


def test_info_verify_and_accessor(detected: Path) -> None:
    from pano.stores.summary import store_summary
    from pano.stores.verify import verify_store

    assert (
        "events (videos/<video>/em) in 2/2 videos with EM (ivt)" in store_summary(detected).format()
    )
    report = verify_store(detected, full=True)
    assert report.ok and report.groups == 4  # 2 videos + their 2 events groups
    v = list_videos(detected)[0]
    ds = open_em(detected, v)
    fig = ds.pano.heatmap(step=1, variable="eye_heatmap")
    assert fig.axes
    fix = read_fixations(detected, v)
    one = ds.pano.fixations(subject=1)
    np.testing.assert_allclose(one.fix_lon.values, fix[1].lon)
    np.testing.assert_array_equal(one.fix_first.values, fix[1].first)
    assert ds.pano.fixations().sizes["fixation"] == sum(len(f) for f in fix)


def test_missing_or_file_store_one_line(tmp_path: Path, capsys: Any) -> None:
    assert main(["em", "detect", str(tmp_path / "none.zarr")]) == 2
    assert "no pano store here" in capsys.readouterr().err
    (tmp_path / "f").write_text("x")
    assert main(["em", "detect", str(tmp_path / "f")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_store_without_em_refuses(data: Path, tmp_path: Path, capsys: Any) -> None:
    store = tmp_path / "hm.zarr"
    _ingest(data, store, em=False)
    gen = read_generation(store)
    assert main(["em", "detect", str(store)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "has eye-movement samples (em_xyz)" in err, err
    assert read_generation(store) == gen
    assert all(em_state(store, v) == "absent" for v in list_videos(store))


def test_interrupted_write_is_never_complete(
    plain: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _copy(plain, tmp_path)
    real = zarr.Group.create_array

    def failing(self: Any, name: str, *args: Any, **kw: Any) -> Any:
        if name == "eye_heatmap":
            raise OSError("disk full (simulated)")
        return real(self, name, *args, **kw)

    monkeypatch.setattr(zarr.Group, "create_array", failing)
    with pytest.raises(OSError, match="simulated"):  # not a PanoError: main re-raises it
        main(["em", "detect", str(store), *SET])
    monkeypatch.undo()
    v = list_videos(store)[0]
    assert em_state(store, v) == "incomplete"
    assert zarr.open_group(str(store), mode="r")[em_path(v)].attrs[COMPLETE_ATTR] is False
    assert list_em_videos(store) == []
    assert "em" not in open_store(store)[f"videos/{v}"].children  # readers skip it
    with pytest.raises(Exception, match="incomplete"):
        read_fixations(store, v)
    # incomplete events are not "existing": a plain re-run writes them
    assert main(["em", "detect", str(store), *SET]) == 0
    assert list_em_videos(store) == list_videos(store)


def test_ingest_em_detect(data: Path, tmp_path: Path) -> None:
    store = tmp_path / "pvs.zarr"
    args = ["ingest", "pvs-hm", "--videos", str(data), "--hm", str(data / HM_FILE),
            "--em", str(data / EM_FILE), "--store", str(store), "--heatmap-size", "36x18",
            "--step-frames", "5", "--workers", "0", "--device", "cpu", "--em-detect"]  # fmt: skip
    assert main(args) == 0
    assert list_em_videos(store) == list_videos(store)
    gen = read_generation(store)
    assert main(args) == 0  # a re-run: nothing to ingest, events kept
    assert read_generation(store) == gen


def _bad(store: Path, video: str, name: str, fn: Any) -> None:
    arr = zarr.open_group(str(store), mode="r+")[f"videos/{video}/{name}"]
    data = np.asarray(arr[...])
    fn(data)
    arr[...] = data


def _rate_change(t: np.ndarray) -> None:
    dt = t[1] - t[0]
    t[60:] = t[60] + 2 * dt * np.arange(t.size - 60)


NATIVE = ["--set", "resample_hz=null"]  # the rate check applies without resampling


@pytest.mark.parametrize(
    ("name", "fn", "expect", "extra"),
    [
        ("em_time", lambda t: t.__setitem__(10, t[8]), "not strictly increasing at sample 10", []),
        ("em_time", _rate_change, "sample rate changes within the recording", NATIVE),
        ("em_xyz", lambda x: x.__setitem__(1, np.nan), "subject s01 (index 1): every gaze", []),
        ("em_xyz", lambda x: x.__setitem__((2, 17), 0.0), "zero length at sample 17", []),
    ],
    ids=["non-monotonic", "rate-change", "all-nan-subject", "zero-vector"],
)
def test_bad_em_input_one_line_nothing_written(
    plain: Path, tmp_path: Path, capsys: Any, name: str, fn: Any, expect: str, extra: list[str]
) -> None:
    store = _copy(plain, tmp_path)
    first, second = list_videos(store)
    _bad(store, second, name, fn)  # the first video is fine: it must not be written either
    gen = read_generation(store)
    capsys.readouterr()
    assert main(["em", "detect", str(store), *SET, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert f"videos/{second}, subject" in err and expect in err, err
    assert em_state(store, first) == em_state(store, second) == "absent"
    assert read_generation(store) == gen


def _unit(lon: float, lat: float) -> np.ndarray:
    lo, la = np.radians(lon), np.radians(lat)
    return np.array([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def test_trace_group_each_subject_on_its_own_clock(tmp_path: Path) -> None:
    """A trace store (one clock per subject, NaN-padded em_time), built by hand here."""
    from pano.pipelines.ingest_traces import TraceIngestConfig, ingest_traces
    from pano.stores.traces import SourceConvention, Trace, TraceSet, VideoInfo

    conv = SourceConvention("lab", "unit vectors", "front centre", "pano's", "unit vector",
                            "x y z", "seconds", "unknown")  # fmt: skip
    t0 = np.arange(200) / 100.0  # s00: 100 Hz, 0-2 s: lon 30 until 1 s, then lon -20
    g0 = np.array([_unit(30.0 if t < 1.0 else -20.0, 0.0) for t in t0])
    t1 = 0.5 + np.arange(75) / 50.0  # s01: 50 Hz from 0.5 s: lon 0, lat 10 throughout
    g1 = np.tile(_unit(0.0, 10.0), (t1.size, 1))
    t2 = np.arange(40) / 20.0  # s02: head only, no gaze
    traces = [
        Trace("clip", "s00", t0, g0.copy(), gaze=g0),
        Trace("clip", "s01", t1, g1.copy(), gaze=g1),
        Trace("clip", "s02", t2, np.tile(_unit(0.0, 0.0), (t2.size, 1))),
    ]
    ts = TraceSet("lab", conv, traces, videos={"clip": VideoInfo("clip", fps=30.0, duration_s=2.0)})
    store = tmp_path / "lab.zarr"
    ingest_traces(TraceIngestConfig.model_validate({
        "format": "python", "source": tmp_path, "store": str(store), "workers": 0,
        "device": "cpu", "split": "none", "heatmap": SMALL}), ts)  # fmt: skip
    assert main(["em", "detect", str(store), *SET]) == 0
    ds = open_em(store, "clip")
    count = ds.event_count.values
    assert count[2] == 0 and count[0] > count[1] > 0
    et = ds.event_time.values
    assert et[0, 0] == 0.0 and et[1, 0] == 0.5 and np.isnan(et[2]).all()
    assert np.isnan(et[1, count[1] :]).all() and (ds.em_event.values[1, count[1] :] == 0).all()
    fix = read_fixations(store, "clip")
    assert len(fix) == 3 and len(fix[2]) == 0
    assert len(fix[0]) == 2 and len(fix[1]) == 1
    np.testing.assert_allclose(fix[0].lon, [30.0, -20.0], atol=0.5)
    assert fix[0].start_s[0] == 0.0 and fix[1].start_s[0] == 0.5
    np.testing.assert_allclose([fix[1].lon[0], fix[1].lat[0]], [0.0, 10.0], atol=1e-9)
    step_time = ds.step_time.values
    counts = ds.fixation_map.values.sum(axis=(1, 2))
    both = (step_time >= 0.5) & (step_time < 0.98)  # s00's first fixation ends before 1 s
    assert (counts[both] == 2).all() and counts[0] == 1
