"""Trace data sets -> store (``pipelines/ingest_traces.py``, the ``traces`` layout)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pano.cli.app import main
from pano.geometry import lonlat_to_vec, resample_directions, vec_to_lonlat
from pano.heatmaps import heatmaps_for
from pano.pipelines.ingest_traces import TraceIngestConfig, ingest_traces
from pano.stores import list_videos, open_video, read_root_attrs, read_video_attrs
from pano.stores.schema import HeatmapParams
from pano.stores.traces import Repair, SourceConvention, SourceMap, Trace, TraceSet, VideoInfo
from pano.synth import simulate_recordings

CONV = SourceConvention(
    dataset="lab",
    representation="unit vectors",
    origin="front centre",
    signs="pano's",
    units="unit vector",
    angle_order="x y z",
    time_base="seconds",
    erp_alignment="unknown",
)


def _traceset(gaze: bool = True) -> TraceSet:
    """2 videos x 3 subjects, 4 s: every subject on its own clock, one late start, one gap."""
    sim = simulate_recordings(n_videos=2, n_subjects=3, duration_s=4.0, rate_hz=60.0, seed=3)
    traces = []
    for r in sim.recordings:
        k = int(r.subject[1:])
        if k == 0:  # 30 Hz
            keep = np.arange(0, r.t.size, 2)
        elif k == 1:  # irregular, ~40 Hz
            keep = np.unique(np.round(np.linspace(0, r.t.size - 1, 160)).astype(int))
        else:  # starts at 0.5 s, stops early
            keep = np.arange(30, r.t.size - 20)
        head = r.head[keep].copy()
        if k == 2:
            head[10:14] = np.nan  # a gap
        traces.append(
            Trace(r.video, r.subject, r.t[keep], head,
                  gaze=r.gaze[keep] if gaze else None, where=f"sim/{r.video}/{r.subject}")
        )  # fmt: skip
    maps = [
        SourceMap("video00", "head", np.random.default_rng(0).random((3, 8, 16), np.float32),
                  where="maps/video00_head.bin", blur_deg=3.34),
        SourceMap("video00", "eye", np.ones((2, 4, 8), np.float32), where="maps/video00_eye.bin"),
    ]  # fmt: skip
    return TraceSet(
        dataset="lab",
        convention=CONV,
        traces=traces,
        videos={v.name: VideoInfo(v.name, fps=30.0, duration_s=4.0) for v in sim.videos},
        repairs=[Repair("flip-pitch", "pitch negated for 1 trace", video="video01", subject="u01")],
        maps=maps,
    )


def _cfg(store: Path, **kw: object) -> TraceIngestConfig:
    base = {"format": "python", "source": store.parent, "store": str(store), "workers": 0,
            "device": "cpu"}  # fmt: skip
    return TraceIngestConfig.model_validate({**base, **kw})


@pytest.fixture(scope="module")
def trace_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, TraceSet]:
    ts = _traceset()
    store = tmp_path_factory.mktemp("traces") / "lab.zarr"
    ingest_traces(_cfg(store), ts)
    return str(store), ts


def test_trace_group_layout_and_ground_truth(trace_store: tuple[str, TraceSet]) -> None:
    store, ts = trace_store
    root = read_root_attrs(store)
    assert root.pano_schema_version == 2
    assert root.dataset == "lab"
    assert root.conventions.source == CONV.to_attrs()
    assert root.repairs == [r.to_attrs() for r in ts.repairs]
    assert root.subjects == ["u00", "u01", "u02"]
    assert list_videos(store) == ["video00", "video01"]
    va = read_video_attrs(store, "video00")
    assert va.layout == "traces" and va.video is None
    assert (va.fps, va.fps_source, va.n_frames) == (30.0, "dataset", 120)
    ds = open_video(store, "video00")
    tr = ts.by_video("video00")
    # raw samples, NaN-padded per subject
    assert ds["time"].dims == ("subject", "sample")
    n = max(t.t.size for t in tr)
    assert ds["time"].shape == (3, n)
    for i, t in enumerate(tr):
        k = t.t.size
        np.testing.assert_array_equal(ds["time"].values[i, :k], t.t)
        assert np.isnan(ds["time"].values[i, k:]).all()
        assert int(ds["sample_count"].values[i]) == k
        np.testing.assert_array_equal(ds["hm_xyz"].values[i, :k], t.head)
    assert int(ds["nan_count"].values[2]) == 4
    # 5 Hz slerp onto the common grid
    rs_t = ds["rs_time"].values
    np.testing.assert_allclose(rs_t, np.arange(rs_t.size) * 0.2)
    for i, t in enumerate(tr):
        want = resample_directions(t.t, t.head, rs_t)
        np.testing.assert_allclose(ds["hm_rs_xyz"].values[i], want, atol=1e-12)
    assert np.isnan(ds["hm_rs_xyz"].values[2, 0]).all()  # subject 2 starts at 0.5 s
    # steps on a time basis: every 10 frames at 30 fps, the last 5 of 12 dropped
    np.testing.assert_allclose(ds["step_time"].values, np.arange(7) * 10 / 30)
    np.testing.assert_array_equal(ds["step_frame"].values, np.arange(7) * 10)
    at = np.stack([resample_directions(t.t, t.head, ds["step_time"].values) for t in tr], 1)
    lon, lat = vec_to_lonlat(at)
    np.testing.assert_allclose(ds["scanpath"].values[..., 0], lon, atol=1e-9)
    np.testing.assert_allclose(ds["scanpath"].values[..., 1], lat, atol=1e-9)
    maps = heatmaps_for(torch.as_tensor(lonlat_to_vec(lon, lat)), HeatmapParams())
    np.testing.assert_allclose(ds["heatmap"].values, maps.float().numpy(), atol=1e-6)
    # gaze in the EM names
    assert va.has_em
    np.testing.assert_array_equal(ds["em_xyz"].values[0, : tr[0].t.size], tr[0].gaze)
    assert ds["em_time"].dims == ("subject", "em_sample")
    # the data set's own maps, labelled, beside pano's
    assert ds["source_map_head"].shape == (3, 8, 16)
    assert ds["source_map_head"].attrs["blur_deg"] == 3.34
    assert ds["source_map_eye"].attrs["source"] == "maps/video00_eye.bin"
    assert "source_map_head" not in open_video(store, "video01")


def test_info_shows_dataset_conventions_repairs(
    trace_store: tuple[str, TraceSet], capsys: pytest.CaptureFixture[str]
) -> None:
    store, _ = trace_store
    assert main(["info", store]) == 0
    out = capsys.readouterr().out
    assert "dataset  lab" in out
    assert "source   dataset: lab; representation: unit vectors" in out
    assert "erp_alignment: unknown" in out
    assert "flip-pitch: pitch negated for 1 trace (video video01, subject u01)" in out
    assert "without their video file" in out


def test_traces_alone_support_eval_and_pos_only_training(tmp_path: Path) -> None:
    """Ground truth, baselines, eval and a position-only model work without videos."""
    local = tmp_path / "s.zarr"
    ingest_traces(_cfg(local, val_fraction=0.0, split="none"), _traceset(gaze=False))
    args = ["eval", str(local), "--workers", "0", "--split", "train", "--metrics",
            "cc,nss,orthodromic_deg", "--baselines", "uniform,no_motion",
            "--set", "hm.horizon=5", "--set", "hm.first_origin=2"]  # fmt: skip
    assert main(args) == 0
    configs = Path(__file__).resolve().parents[1] / "pipelines" / "configs"
    train = ["train-hm", str(local), "--config", str(configs / "pos_only.yaml"),
             "--runs-dir", str(tmp_path / "runs")]  # fmt: skip
    for s in ["optim.steps=2", "optim.batch_size=4", "log.val_every=2",
              "log.checkpoint_every=2", "data.horizon=5", "data.history=2", "threads=1",
              "model.hidden=8", "data.val_videos=0", "data.val_subject_fraction=0.34"]:  # fmt: skip
        train += ["--set", s]
    assert main(train) == 0


def test_frames_needed_refused_in_one_line(
    trace_store: tuple[str, TraceSet], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, _ = trace_store
    code = main(["viewport", store, "--video", "video00", "--out", str(tmp_path / "v.png")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "needs a store ingested with --videos" in err[0] and "video00" in err[0]
    configs = Path(__file__).resolve().parents[1] / "pipelines" / "configs"
    code = main(["train-hm", store, "--config", str(configs / "content.yaml"),
                 "--runs-dir", str(tmp_path / "runs"), "--set", "optim.steps=1",
                 "--set", "data.val_videos=1"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "needs a store ingested with --videos" in err[0]


def test_with_videos_fps_from_file_and_viewports(tmp_path: Path) -> None:
    from pano.stores import stream_viewports
    from pano.video import make_video

    ts = _traceset(gaze=False)
    ts.maps = []
    vids = tmp_path / "videos"
    vids.mkdir()
    for name in ts.video_names():
        frame = np.zeros((64, 128, 3), np.uint8)
        make_video(vids / f"{name}.mp4", [frame] * 100, fps=25.0)
    store = tmp_path / "v.zarr"
    ingest_traces(_cfg(store, videos=vids), ts)
    va = read_video_attrs(str(store), "video00")
    assert va.video is not None and va.fps_source == "video" and va.frame_rate() == 25.0
    ds = open_video(str(store), "video00")
    np.testing.assert_allclose(ds["step_time"].values, np.arange(ds.sizes["step"]) * 10 / 25)
    batches = list(stream_viewports(str(store), "video00", size=(8, 8), device="cpu",
                                    seconds=0.2, every="frame"))  # fmt: skip
    assert len(batches) == 5
    want = resample_directions(ts.by_video("video00")[0].t, ts.by_video("video00")[0].head,
                               np.array([batches[3].frame_index / 25.0]))[0]  # fmt: skip
    np.testing.assert_allclose(batches[3].xyz[0].numpy(), want, atol=1e-6)
    # a video without its file is refused before anything is written
    (vids / "video01.mp4").unlink()
    store2 = tmp_path / "w.zarr"
    with pytest.raises(Exception, match="no video file for video01"):
        ingest_traces(_cfg(store2, videos=vids), _traceset(gaze=False))
    assert not store2.exists()


def test_resume_and_parameters(tmp_path: Path) -> None:
    from pano.errors import StoreExistsError

    ts = _traceset()
    store = tmp_path / "r.zarr"
    first = ingest_traces(_cfg(store), ts)
    assert first.written == ["video00", "video01"]
    gen = read_root_attrs(str(store)).model_dump()["pano_generation"]
    assert gen["counter"] == 1 and len(gen["uuid"]) == 32
    again = ingest_traces(_cfg(store), _traceset())
    assert again.written == [] and again.skipped == ["video00", "video01"]
    with pytest.raises(StoreExistsError, match=r"heatmap\.sigma_deg"):
        ingest_traces(_cfg(store, heatmap={"sigma_deg": 5.0}), _traceset())
    fewer = _traceset()
    fewer.traces = [t for t in fewer.traces if t.subject != "u02"]
    with pytest.raises(StoreExistsError, match="other subjects"):
        ingest_traces(_cfg(store), fewer)
    done = ingest_traces(_cfg(store, overwrite=True), fewer)
    assert done.written == ["video00", "video01"]
    assert read_root_attrs(str(store)).subjects == ["u00", "u01"]


def test_version_1_store_still_opens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A store of schema version 1 (no layout, fps, repairs attributes) reads unchanged."""
    import zarr

    from pano.pipelines.ingest import IngestConfig, ingest_pvs_hm
    from pano.synth import SynthConfig, write_synthetic_dataset

    raw = tmp_path / "raw"
    write_synthetic_dataset(
        raw, SynthConfig(videos=1, subjects=2, seconds=2, width=128, fps=30, em=False)
    )
    store = tmp_path / "v1.zarr"
    ingest_pvs_hm(IngestConfig(videos=raw, hm=raw / "FULLdata_per_video_frame.mat",
                               store=str(store), workers=0, device="cpu"))  # fmt: skip
    root = zarr.open_group(str(store), mode="a")
    attrs = root.attrs.asdict()
    attrs["pano_schema_version"] = 1
    attrs.pop("repairs")
    root.attrs.put(attrs)
    name = list_videos(str(store))[0]
    g = root[f"videos/{name}"]
    va = {
        k: v
        for k, v in g.attrs.asdict().items()
        if k not in ("layout", "fps", "n_frames", "duration_s", "fps_source", "subject_ids")
    }
    g.attrs.put(va)  # fmt: skip
    a = read_video_attrs(str(store), name)
    assert a.layout == "frames" and a.frame_rate() == 30.0 and a.frame_count() == 60
    assert read_root_attrs(str(store)).pano_schema_version == 1
    assert main(["info", str(store)]) == 0
    assert "repairs  none" in capsys.readouterr().out
