"""`pano eval --target eye` on a tiny synthetic store with EM: scores checked by hand."""

from __future__ import annotations

import contextlib
import io
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import zarr

from pano.baselines import fcb_map, split_half
from pano.cli.app import main
from pano.metrics.saliency import stable_seed
from pano.pipelines.eval import open_results
from pano.pipelines.ingest import IngestConfig, ingest_pvs_hm
from pano.stores import store_summary
from pano.synth import EM_FILE, HM_FILE, SynthConfig, write_synthetic_dataset

# 4 s at 15 fps, a step every 5 frames; EM at the generator's 60 Hz.
SYNTH = SynthConfig(videos=6, subjects=4, seconds=4, fps=15, width=128)
HEAT = {"width": 72, "height": 36, "step_frames": 5}
EVAL = ["--workers", "0", "--profile", "mit", "--baselines", "uniform,fcb,equator,inter_observer"]
EVAL += ["--metrics", "cc,kld,nss,auc,sauc,ig,dtw_deg,mm_position,jarodzka360"]


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An ingested store with EM samples and no events yet (copy it before writing)."""
    d = tmp_path_factory.mktemp("synth_em")
    write_synthetic_dataset(d, SYNTH, workers=1)
    path = tmp_path_factory.mktemp("plain") / "pvs.zarr"
    cfg = IngestConfig(
        videos=d, hm=d / HM_FILE, em=d / EM_FILE, store=str(path), heatmap=HEAT, workers=0,
        device="cpu",
    )  # type: ignore[arg-type]  # fmt: skip
    ingest_pvs_hm(cfg)
    return str(path)


@pytest.fixture(scope="module")
def store(plain: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The store after `pano em detect`, evaluated with both targets."""
    path = tmp_path_factory.mktemp("det") / "pvs.zarr"
    shutil.copytree(plain, path)
    assert main(["em", "detect", str(path), "--set", "savgol_window=0", "--device", "cpu"]) == 0
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["eval", str(path), *EVAL]) == 0
        assert main(["eval", str(path), "--target", "eye", *EVAL]) == 0
    return str(path)


def _hand_eye_points(store: str, video: str) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat ``(S, M, 2)`` of each subject's fixation active at each step, read by hand."""
    g = zarr.open_group(store, mode="r")[f"videos/{video}"]
    em = g["em"]
    t = np.asarray(g["step_time"][:])
    subj, start = np.asarray(em["fix_subject"][:]), np.asarray(em["fix_start"][:])
    dur = np.asarray(em["fix_duration"][:])
    lon, lat = np.asarray(em["fix_lon"][:]), np.asarray(em["fix_lat"][:])
    m = int(em["n_fixations"].shape[0])
    out = np.full((t.size, m, 2), np.nan)
    for s, ts in enumerate(t):
        for k in range(subj.size):
            if start[k] <= ts < start[k] + dur[k]:
                out[s, subj[k]] = lon[k], lat[k]
    return out, np.asarray(em["eye_heatmap"][:], np.float64)


def _pixel(lon: float, lat: float, w: int, h: int) -> tuple[int, int]:
    """ERP pixel containing (lon, lat): column 0 at lon +180 (+lon LEFT), row 0 at lat +90."""
    col = math.floor((180.0 - lon) / 360.0 * w) % w
    row = min(math.floor((90.0 - lat) / 180.0 * h), h - 1)
    return row, col


def test_refused_without_events(
    plain: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = tmp_path / "pvs.zarr"
    shutil.copytree(plain, s)
    code = main(["eval", str(s), "--target", "eye", "--workers", "0"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("pano: error: ") and "\n" not in err, err
    assert "--target eye needs complete eye-movement events" in err
    assert f"run `pano em detect {s}` first" in err
    assert not (s / "results").exists() or not list(zarr.open_group(str(s))["results"].group_keys())
    assert main(["eval", str(s), "--target", "nose", "--workers", "0"]) == 2
    err = _one_line(["eval", str(s), "--target", "eye", "--protocol", "track"], capsys)
    assert "drop --target eye" in err


def _one_line(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("pano: error: ") and "\n" not in err, err
    return err


def test_eye_and_head_results_side_by_side(store: str) -> None:
    head, eye = open_results(store, "baselines"), open_results(store, "baselines_eye")
    assert head.attrs["target"] == "head" and eye.attrs["target"] == "eye"
    assert "eye_heatmap" in eye.attrs["ground_truth"]
    assert eye.attrs["ground_truth_heatmap"]["sigma_deg"] == 2.0
    assert head.attrs["ground_truth_heatmap"]["sigma_deg"] != 2.0
    # Different ground truth, different scores (same maps, same profile).
    a = head["saliency"].sel(model="fcb", metric="cc").values
    b = eye["saliency"].sel(model="fcb", metric="cc").values
    both = np.isfinite(a) & np.isfinite(b)
    assert both.sum() > 10 and not np.allclose(a[both], b[both])
    rows = {r.group: r.detail for r in store_summary(store).runs}
    assert rows["results/baselines_eye"].startswith("target eye,")
    assert rows["results/baselines"].startswith("target head,")


def test_eye_scores_match_a_hand_computation(store: str) -> None:
    eye = open_results(store, "baselines_eye")
    w, h = HEAT["width"], HEAT["height"]
    sigma = eye.attrs["fitted_baselines"]["fcb_sigma_deg"]
    p = fcb_map(h, w, sigma).astype(np.float64)
    checked = 0
    for video in [str(v) for v in eye["video"].values]:
        ll, emap = _hand_eye_points(store, video)
        head_map = np.asarray(zarr.open_group(store, mode="r")[f"videos/{video}/heatmap"][:])
        for s in range(ll.shape[0]):
            pts = [tuple(x) for x in ll[s] if np.isfinite(x).all()]
            if len(pts) < 2:
                continue
            # NSS (MIT): z-score with the N-1 std, mean over the BINARY fixation map.
            pix = sorted({_pixel(lon, lat, w, h) for lon, lat in pts})
            z = (p - p.mean()) / p.std(ddof=1)
            nss = np.mean([z[r, c] for r, c in pix])
            got = eye["saliency"].sel(model="fcb", video=video, step=s, metric="nss").item()
            assert got == pytest.approx(nss, rel=1e-9, abs=1e-12)
            # CC (MIT): plain Pearson against the EYE heatmap of the step, not the head one.
            cc = np.corrcoef(p.ravel(), emap[s].ravel())[0, 1]
            got = eye["saliency"].sel(model="fcb", video=video, step=s, metric="cc").item()
            assert got == pytest.approx(cc, rel=1e-9)
            assert not np.allclose(emap[s], head_map[s])
            checked += 1
    assert checked >= 5


def _dtw_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Plain DTW with the great-circle ground distance, degrees (the textbook recursion)."""
    n, m = len(a), len(b)
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d = math.degrees(math.acos(max(-1.0, min(1.0, float(a[i - 1] @ b[j - 1])))))
            acc[i, j] = d + min(acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
    return float(acc[n, m])


def test_eye_scanpaths_are_fixation_sequences(store: str) -> None:
    eye = open_results(store, "baselines_eye")
    head = open_results(store, "baselines")
    for video in [str(v) for v in eye["video"].values]:
        em = zarr.open_group(store, mode="r")[f"videos/{video}/em"]
        subj = np.asarray(em["fix_subject"][:])
        start, xyz = np.asarray(em["fix_start"][:]), np.asarray(em["fix_xyz"][:])
        m = int(em["n_fixations"].shape[0])
        paths = [xyz[subj == k][np.argsort(start[subj == k])] for k in range(m)]
        a, b = split_half(m, stable_seed(0, video, "split_half") % (2**32))
        want = np.mean([_dtw_deg(paths[i], paths[j]) for i in a for j in b])
        got = eye["scanpath"].sel(model="inter_observer", video=video, sp_metric="dtw_deg").item()
        assert got == pytest.approx(want, rel=1e-9)
        assert got != pytest.approx(
            head["scanpath"].sel(model="inter_observer", video=video, sp_metric="dtw_deg").item()
        )
