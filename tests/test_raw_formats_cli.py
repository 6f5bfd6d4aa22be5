"""``pano ingest <format>`` on synthetic copies of the five raw formats read here.

The same simulated motion is written in each format (``pano.synth.formats``), ingested by
the CLI, and the store's 5 Hz head directions must match the simulation within each
format's precision; ``pano info``'s data (conventions, repairs) is recorded; bad input is
exit code 2 with no store left behind. Needs the trace-ingest pipeline
(``pano.pipelines.ingest_traces``); skipped where that is not installed yet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pano.cli.app import main
from pano.geometry import orthodromic_distance, resample_directions
from pano.stores import open_video, read_root_attrs
from pano.synth import simulate_recordings
from pano.synth.formats import get_synth_format

pytest.importorskip(
    "pano.pipelines.ingest_traces", reason="pano ingest <format> (trace ingest) not installed"
)

#: Largest great-circle error (degrees) each format's precision allows at the 5 Hz steps.
PRECISION_DEG = {
    "fan-nossdav17": 1e-5,  # 6 decimals of a degree
    "nguyen-mm18": 1e-9,  # float64 vectors
    "wu-mmsys17": 1e-5,  # 9-decimal quaternions
    "avtrack360": 0.71,  # whole degrees
    "traces": 1e-5,  # 6-decimal angles
}


@pytest.mark.parametrize("fmt", sorted(PRECISION_DEG))
def test_ingest_synthetic_copy_matches_the_simulation(tmp_path: Path, fmt: str) -> None:
    sim = simulate_recordings(n_videos=1, n_subjects=2, duration_s=3.0, rate_hz=30.0)
    files = get_synth_format(fmt).write(sim, tmp_path / "src")
    src = files[0] if fmt == "traces" else tmp_path / "src"
    extra = ["--set", f"options.spec={files[1]}"] if fmt == "traces" else []
    store = str(tmp_path / "s.zarr")
    args = ["ingest", fmt, str(src), store, "--workers", "0", "--device", "cpu", *extra]
    assert main(args) == 0
    attrs = read_root_attrs(store)
    assert attrs.conventions.source["dataset"] == fmt
    if fmt == "fan-nossdav17":  # users 01-02 are written with flipped pitch, like the data
        assert [r["kind"] for r in attrs.repairs] == ["flip-pitch"]
    ds = open_video(store, "video00")
    rs_time = ds["rs_time"].values
    for k, rec in enumerate(sim.of("video00")):
        want = resample_directions(rec.t, rec.head, rs_time)
        got = ds["hm_rs_xyz"].values[k]
        ok = np.isfinite(got).all(axis=1) & np.isfinite(want).all(axis=1)
        assert ok.sum() >= rs_time.size - 1
        err = np.rad2deg(orthodromic_distance(want[ok], got[ok]))
        assert err.max() < PRECISION_DEG[fmt], (fmt, err.max())


def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "src" / "sensory" / "orientation"
    folder.mkdir(parents=True)
    header = (
        "no. frames, raw x, raw y, raw z, raw yaw, raw pitch, raw roll, "
        "cal. yaw, cal. pitch, cal. roll"
    )
    rows = ["00001, 0, 0, 0, 1, 2, 0, 1, 2, 0", "00002, 0, 0, 0, 1, 2, 0, 1, two, 0"]
    (folder / "drive_user30_orientation.csv").write_text("\n".join([header, *rows]) + "\n")
    store = tmp_path / "s.zarr"
    assert main(["ingest", "fan-nossdav17", str(tmp_path / "src"), str(store)]) == 2
    assert not store.exists()


def test_em_detect_after_a_trace_ingest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``pano ingest <format> --em-detect``: events for the videos with gaze, under one lock;
    a format without eye movements is one line before anything is written."""
    from pano.stores.em import list_em_videos, open_em

    sim = simulate_recordings(n_videos=1, n_subjects=2, duration_s=4.0, fps=30.0)
    get_synth_format("xu-cvpr18").write(sim, tmp_path / "xu")
    store = str(tmp_path / "xu.zarr")
    base = ["ingest", "xu-cvpr18", str(tmp_path / "xu"), store, "--workers", "0"]
    fps = ["--device", "cpu", "--set", f"options.fps={tmp_path / 'xu' / 'fps.csv'}"]
    assert main([*base, *fps, "--em-detect"]) == 0
    assert "em       events detected in 1 video(s) (0 already had them)" in capsys.readouterr().out
    assert list_em_videos(store) == ["video00"]
    assert open_em(store, "video00").sizes["subject"] == 2
    assert main([*base, *fps, "--em-detect"]) == 0  # a re-run keeps them
    assert "events detected in 0 video(s) (1 already had them)" in capsys.readouterr().out

    sim = simulate_recordings(n_videos=1, n_subjects=2, duration_s=2.0, rate_hz=30.0)
    get_synth_format("wu-mmsys17").write(sim, tmp_path / "wu")
    wu = tmp_path / "wu.zarr"
    args = ["ingest", "wu-mmsys17", str(tmp_path / "wu"), str(wu), "--workers", "0"]
    assert main([*args, "--em-detect"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--em-detect: the wu-mmsys17 data" in err and "holds no eye movements" in err, err
    assert len(err.splitlines()) == 1 and not wu.exists()


def test_em_detect_refuses_all_nan_gaze_before_writing(tmp_path: Path) -> None:
    """A subject whose gaze samples are all missing stops ``--em-detect`` before the store
    exists (the detector would refuse it after the traces were written)."""
    from pano.errors import InputDataError
    from pano.pipelines.ingest_traces import TraceIngestConfig, ingest_traces, read_traces

    sim = simulate_recordings(n_videos=1, n_subjects=2, duration_s=3.0, fps=30.0)
    get_synth_format("xu-cvpr18").write(sim, tmp_path / "xu")
    store = tmp_path / "xu.zarr"
    cfg = TraceIngestConfig(
        format="xu-cvpr18", source=tmp_path / "xu", store=str(store), workers=0, device="cpu",
        options={"fps": str(tmp_path / "xu" / "fps.csv")}, em_detect=True,
    )  # fmt: skip
    ts = read_traces(cfg)
    bad = ts.traces[1]
    assert bad.gaze is not None
    bad.gaze = np.full_like(bad.gaze, np.nan)
    with pytest.raises(InputDataError) as err:
        ingest_traces(cfg, traces=ts)
    msg = str(err.value)
    assert msg.startswith("--em-detect: ") and "nothing was written" in msg, msg
    assert f"subject {bad.subject!r}" in msg and "\n" not in msg
    assert not store.exists()
    cfg.em_detect = False  # the same traces without detection ingest fine
    assert [v.status for v in ingest_traces(cfg, traces=ts).videos] == ["written"]
