"""The same simulated heads, written in four raw formats, ingest to the same resampled vectors.

One :func:`pano.synth.simulate_recordings` data set (2 videos x 3 subjects, 3 s at 60 Hz,
30 fps videos) is written as

* PVS-HM's ``FULLdata_per_video_frame.mat``, by THIS test from the format's description
  (``../shared/reference/pvs-hm-and-dhp.md``: one variable per video, float64
  ``[n_samples, 2M]``, column ``2k`` latitude and ``2k + 1`` longitude of subject ``k`` in
  degrees, origin the front centre, up and LEFT positive; two samples per video frame), with
  tiny mp4 videos for the frame counts the ``.mat`` ingest needs;
* PVS-HM's raw txt traces, Salient360!'s H scanpaths and TRACK's CSVs, by the synthetic
  writers (``pano.synth.formats``), which convert the same unit vectors to each format's
  conventions.

``pano ingest`` reads each; every store's ``hm_rs_xyz`` (the 5 Hz slerp-resampled head) must
equal the simulation resampled on the store's own ``rs_time``, and the stores must equal
one another, within the precision each format writes (:data:`TOLERANCE_DEG`).

Also here: ``pano ingest pvs-hm --traces`` (the txt traces beside the ``.mat`` must agree;
the largest difference per video is printed, a larger one refused with the store untouched;
the txt traces alone ingest too), and ``pano info`` on a repaired format (fan-nossdav17).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from pano.cli.app import main
from pano.geometry import orthodromic_distance, resample_directions
from pano.stores import open_video
from pano.synth import simulate_recordings
from pano.synth.formats import get_synth_format
from pano.synth.recordings import SimDataset
from pano.video.writer import make_video

FPS = 30.0
RATE_HZ = 2 * FPS  # PVS-HM: two head samples per video frame
SECONDS = 3.0
VIDEOS = ["video00", "video01"]

#: Largest great-circle difference (degrees) from the simulation each format allows, and why:
TOLERANCE_DEG = {
    # float64 angles in degrees, converted to and from unit vectors: rounding only
    "pvs-hm": 1e-9,
    # angles written with 6 decimals of a degree (<= 5e-7 per angle, ~7e-7 on the sphere)
    # and intervals with 6 decimals of a ms: time is their running sum, so its rounding
    # (<= 5e-10 s per row) drifts by <= 180 x 5e-10 = 9e-8 s over these 3 s; at the
    # simulation's fastest head (~72 deg/s) that is <= 6.5e-6 deg (3.9e-6 seen)
    "pvs-hm-txt": 1e-5,
    # ERP fractions written with 17 significant digits (exact float64 round trip); the H
    # files hold every 12th sample (5 Hz), which fall on the store's 5 Hz grid
    "salient360": 1e-9,
    # TRACK's 0.2 s rows, slerped by the writer onto that grid, 17 significant digits
    "track": 1e-9,
}


def _lat_lon_deg(vec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PVS-HM's angles of unit vectors (x front, y left, z up): latitude + up, longitude + left."""
    lat = np.degrees(np.arcsin(np.clip(vec[:, 2], -1.0, 1.0)))
    lon = np.degrees(np.arctan2(vec[:, 1], vec[:, 0]))
    return lat, lon


def write_pvs_hm_mat(sim: SimDataset, path: Path) -> None:
    """``FULLdata_per_video_frame.mat`` as the format describes it (not via pano's reader)."""
    mat = {}
    for video in (v.name for v in sim.videos):
        recs = sim.of(video)
        cols = []
        for rec in recs:
            lat, lon = _lat_lon_deg(rec.head)
            cols += [lat, lon]  # column 2k latitude, 2k + 1 longitude
        mat[video] = np.stack(cols, axis=1).astype(np.float64)
    scipy.io.savemat(path, mat)


def write_videos(folder: Path, n_frames: int) -> None:
    """Tiny mp4s (64x32) of ``n_frames`` frames at FPS, one per video name."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = np.zeros((32, 64, 3), np.uint8)
    for name in VIDEOS:
        make_video(folder / f"{name}.mp4", [frame] * n_frames, fps=FPS, preset="ultrafast")


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimDataset, Path]:
    """The simulation and its four raw copies under one folder."""
    root = tmp_path_factory.mktemp("cross")
    sim = simulate_recordings(
        n_videos=2, n_subjects=3, duration_s=SECONDS, rate_hz=RATE_HZ, fps=FPS, seed=3
    )
    assert [v.name for v in sim.videos] == VIDEOS
    write_pvs_hm_mat(sim, root / "FULLdata_per_video_frame.mat")
    write_videos(root / "videos", n_frames=round(SECONDS * FPS))
    for fmt in ("pvs-hm-txt", "salient360", "track"):
        get_synth_format(fmt).write(sim, root / fmt)
    return sim, root


def _ingest(root: Path, fmt: str, store: Path) -> None:
    base = ["--workers", "0", "--device", "cpu"]
    if fmt == "pvs-hm":
        mat = str(root / "FULLdata_per_video_frame.mat")
        args = ["ingest", "pvs-hm", "--videos", str(root / "videos"), "--hm", mat,
                "--store", str(store), *base]  # fmt: skip
    elif fmt == "salient360":  # the head scanpaths (H) only
        args = ["ingest", fmt, str(root / fmt), str(store), "--set", "options.conditions=H", *base]
    else:
        args = ["ingest", fmt, str(root / fmt), str(store), *base]
    assert main(args) == 0, fmt


@pytest.fixture(scope="module")
def stores(raw: tuple[SimDataset, Path]) -> dict[str, Path]:
    _, root = raw
    out = {}
    for fmt in TOLERANCE_DEG:
        out[fmt] = root / f"{fmt}.zarr"
        _ingest(root, fmt, out[fmt])
    return out


def _head_rs(store: Path, video: str) -> tuple[np.ndarray, np.ndarray]:
    """(rs_time (T,), hm_rs_xyz (S, T, 3)) of one video group."""
    ds = open_video(str(store), video)
    return ds["rs_time"].values, ds["hm_rs_xyz"].values


@pytest.mark.parametrize("fmt", sorted(TOLERANCE_DEG))
def test_each_format_resamples_to_the_simulated_heads(
    raw: tuple[SimDataset, Path], stores: dict[str, Path], fmt: str
) -> None:
    sim, _ = raw
    for video in VIDEOS:
        rs_time, got = _head_rs(stores[fmt], video)
        recs = sim.of(video)
        assert got.shape[0] == len(recs)  # subject k of the store = simulated subject k
        for k, rec in enumerate(recs):
            want = resample_directions(rec.t, rec.head, rs_time)
            ok = np.isfinite(got[k]).all(axis=1)
            # every 5 Hz step inside the recording is there (TRACK's and Salient360!'s files
            # end at the last 0.2 s step, so a step after it may be missing)
            assert ok.sum() >= np.sum(rs_time <= rec.t[-1]) - 1, (fmt, video, k)
            assert np.isfinite(want[ok]).all()
            err = np.rad2deg(orthodromic_distance(want[ok], got[k][ok]))
            assert err.max() < TOLERANCE_DEG[fmt], (fmt, video, k, err.max())


def test_the_four_stores_agree_with_each_other(stores: dict[str, Path]) -> None:
    """Pairwise: on the 5 Hz steps two stores share, the same vectors (sum of tolerances)."""
    fmts = sorted(TOLERANCE_DEG)
    for video in VIDEOS:
        data = {f: _head_rs(stores[f], video) for f in fmts}
        for i, a in enumerate(fmts):
            for b in fmts[i + 1 :]:
                (ta, xa), (tb, xb) = data[a], data[b]
                n = min(ta.size, tb.size)
                np.testing.assert_allclose(ta[:n], tb[:n], atol=1e-9)
                ok = np.isfinite(xa[:, :n]).all(-1) & np.isfinite(xb[:, :n]).all(-1)
                assert ok.sum() >= xa.shape[0] * (n - 1)
                err = np.rad2deg(orthodromic_distance(xa[:, :n][ok], xb[:, :n][ok]))
                assert err.max() < TOLERANCE_DEG[a] + TOLERANCE_DEG[b], (video, a, b)


# ---------------------------------------------------------------------------
# pano ingest pvs-hm --traces
# ---------------------------------------------------------------------------


def _files(store: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()}


def test_pvs_hm_with_traces_prints_the_largest_difference_per_video(
    raw: tuple[SimDataset, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, root = raw
    store = tmp_path / "s.zarr"
    args = ["ingest", "pvs-hm", "--videos", str(root / "videos"), "--hm",
            str(root / "FULLdata_per_video_frame.mat"), "--traces", str(root / "pvs-hm-txt"),
            "--store", str(store), "--workers", "0", "--device", "cpu"]  # fmt: skip
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln.startswith("traces ")]
    assert len(lines) == len(VIDEOS)
    n_pairs = 3 * round(SECONDS * RATE_HZ)
    for video, line in zip(VIDEOS, lines, strict=True):
        m = re.match(
            rf"traces +{video}: largest txt-\.mat difference (\S+) deg \(subject 'u0\d', "
            rf"sample \d+\) over {n_pairs} sample pairs$",
            line,
        )
        assert m, line
        assert float(m.group(1)) < TOLERANCE_DEG["pvs-hm-txt"]  # 6 decimals of the txt


def test_pvs_hm_with_disagreeing_traces_is_refused_and_the_store_untouched(
    raw: tuple[SimDataset, Path], stores: dict[str, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    _, root = raw
    mat = scipy.io.loadmat(root / "FULLdata_per_video_frame.mat")
    bad = {v: np.array(mat[v]) for v in VIDEOS}
    bad["video01"][40, 2 * 1 + 1] += 0.5  # subject 1, row 40: 0.5 deg of longitude off
    bad_mat = tmp_path / "FULL_bad.mat"
    scipy.io.savemat(bad_mat, bad)
    store = stores["pvs-hm"]
    before = _files(store)
    args = ["ingest", "pvs-hm", "--videos", str(root / "videos"), "--hm", str(bad_mat),
            "--traces", str(root / "pvs-hm-txt"), "--store", str(store), "--workers", "0",
            "--device", "cpu", "--overwrite"]  # fmt: skip
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert re.search(r"disagree on video 'video01': subject 'u01', sample 40 differs by 0\.\d+ "
                     r"deg \(tolerance 0\.001 deg\)", err[0]), err  # fmt: skip
    assert _files(store) == before
    # a looser tolerance accepts it (the difference at the equator-ish latitude is < 0.5)
    fresh = tmp_path / "loose.zarr"
    args_ok = [*args[:-1], "--traces-tolerance", "0.6"]
    args_ok[args_ok.index("--store") + 1] = str(fresh)
    assert main(args_ok) == 0


def test_pvs_hm_traces_alone(
    raw: tuple[SimDataset, Path], stores: dict[str, Path], tmp_path: Path
) -> None:
    """``--traces`` without ``--hm``: the txt traces ingest as ``pano ingest pvs-hm-txt``."""
    _, root = raw
    store = tmp_path / "txt.zarr"
    assert main(["ingest", "pvs-hm", "--traces", str(root / "pvs-hm-txt"), "--store", str(store),
                 "--workers", "0", "--device", "cpu"]) == 0  # fmt: skip
    for video in VIDEOS:
        t1, x1 = _head_rs(store, video)
        t2, x2 = _head_rs(stores["pvs-hm-txt"], video)
        np.testing.assert_array_equal(t1, t2)
        np.testing.assert_array_equal(x1, x2)


# ---------------------------------------------------------------------------
# pano info on a repaired format
# ---------------------------------------------------------------------------


def test_info_shows_dataset_conventions_and_repairs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = simulate_recordings(n_videos=1, n_subjects=2, duration_s=3.0, rate_hz=30.0, seed=1)
    get_synth_format("fan-nossdav17").write(sim, tmp_path / "fan")
    store = tmp_path / "fan.zarr"
    assert main(["ingest", "fan-nossdav17", str(tmp_path / "fan"), str(store), "--workers", "0",
                 "--device", "cpu"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["info", str(store)]) == 0
    out = capsys.readouterr().out
    rows = {ln.split(maxsplit=1)[0]: ln for ln in out.splitlines() if ln.strip()}
    assert re.match(r"dataset +fan-nossdav17 ", rows["dataset"]), out
    source = rows["source"]
    for key in ("origin:", "signs:", "units:", "time_base:"):
        assert key in source, (key, source)
    assert "pitch" in source.lower()
    repairs = out[out.index("\nrepairs") + 1 :].splitlines()
    assert re.match(r"repairs +1 applied by the reader", repairs[0]), out
    assert re.match(r" +flip-pitch: .*pitch negated for 2 users \(user01, user02\)", repairs[1])
