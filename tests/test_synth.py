"""The synthetic PVS-HM-format data set: file layout, signs, behaviour, determinism, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
import scipy.io

from pano.cli.app import main
from pano.errors import StoreExistsError
from pano.geometry import (
    lonlat_to_erp,
    lonlat_to_vec,
    orthodromic_distance,
    orthodromic_distance_deg,
)
from pano.pvs_hm_facts import (
    DHP_TEST_VIDEOS,
    PVS_HM_VIDEOS,
    dhp_split,
    video_file_stem,
    video_name_from_stem,
)
from pano.synth import (
    EM_FILE,
    HM_FILE,
    MANIFEST_FILE,
    MAX_OFFSET_DEG,
    SynthConfig,
    SynthManifest,
    decode_barcode,
    erp_unit_vectors,
    paint_marker,
    synthetic_video_names,
    write_synthetic_dataset,
)

TINY = {"videos": 3, "subjects": 4, "seconds": 2.0, "width": 128, "seed": 3}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthManifest]:
    out = tmp_path_factory.mktemp("synth")
    return out, write_synthetic_dataset(out, SynthConfig(**TINY))


@pytest.fixture(scope="module")
def longer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthManifest]:
    """Long enough for attention switches and head-speed statistics (no video check)."""
    out = tmp_path_factory.mktemp("synth_long")
    cfg = SynthConfig(videos=2, subjects=10, seconds=12.0, width=128, seed=1, crf=30)
    return out, write_synthetic_dataset(out, cfg)


def _load(path: Path) -> dict[str, np.ndarray]:
    return {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}


def _vectors(data: np.ndarray) -> np.ndarray:
    """PVS-HM columns [lat, lon] per subject -> (n_samples, subjects, 3) unit vectors."""
    return lonlat_to_vec(data[:, 1::2], data[:, 0::2])


# ---------------------------------------------------------------------------
# PVS-HM facts
# ---------------------------------------------------------------------------


def test_pvs_hm_facts() -> None:
    assert len(PVS_HM_VIDEOS) == 76 and len(set(PVS_HM_VIDEOS)) == 76
    assert len(DHP_TEST_VIDEOS) == 15 and DHP_TEST_VIDEOS <= set(PVS_HM_VIDEOS)
    assert video_file_stem("NotBeAloneTonight") == "Let'sNotBeAloneTonight"
    assert video_name_from_stem("Let'sNotBeAloneTonight") == "NotBeAloneTonight"
    assert video_file_stem("A380") == "A380" == video_name_from_stem("A380")
    assert dhp_split("KingKong") == "test" and dhp_split("A380") == "train"


def test_video_names() -> None:
    assert synthetic_video_names(6) == [
        "A380",
        "Camping",
        "NotBeAloneTonight",
        "Surfing",
        "KingKong",
        "Dancing",
    ]
    all_names = synthetic_video_names(76)
    assert sorted(all_names) == sorted(PVS_HM_VIDEOS)
    splits = [dhp_split(n) for n in synthetic_video_names(20)]
    assert "train" in splits[6:] and "test" in splits[6:]


# ---------------------------------------------------------------------------
# Config validation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [{"width": 130}, {"width": 64}, {"videos": 0}, {"videos": 77}, {"subjects": 0}, {"seconds": 0},
     {"seconds": 0.01}, {"fps": -1}, {"samples_per_frame": 0}, {"nan_fraction": 0.9}, {"crf": 60},
     {"preset": "warp"}, {"colour": 1}],
)  # fmt: skip
def test_config_rejects_bad_values(bad: dict) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        SynthConfig(**bad)


def test_config_defaults() -> None:
    cfg = SynthConfig()
    assert (cfg.videos, cfg.subjects, cfg.seconds, cfg.width, cfg.height, cfg.fps) == (
        6,
        12,
        10.0,
        640,
        320,
        30.0,
    )
    assert (cfg.n_frames, cfg.samples_per_frame, cfg.n_samples) == (300, 2, 600)


# ---------------------------------------------------------------------------
# File layout
# ---------------------------------------------------------------------------


def test_files_and_manifest(tiny: tuple[Path, SynthManifest]) -> None:
    out, man = tiny
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        ["A380.mp4", "Camping.mp4", "Let'sNotBeAloneTonight.mp4", HM_FILE, EM_FILE, MANIFEST_FILE]
    )
    assert SynthManifest.load(out) == man == SynthManifest.load(out / MANIFEST_FILE)
    assert [v.name for v in man.videos] == ["A380", "Camping", "NotBeAloneTonight"]
    v = man.video("NotBeAloneTonight")
    assert v.file == "Let'sNotBeAloneTonight.mp4" and v.split == "train"
    assert (v.n_frames, v.width, v.height, v.samples_per_frame, v.n_samples) == (
        60,
        128,
        64,
        2,
        120,
    )
    assert all(len(t.lon) == len(t.lat) == 60 for t in v.targets)
    assert 2 <= len(v.targets) <= 3
    assert len(v.attention) == 4 and v.attention_per_sample().shape == (4, 120)
    with pytest.raises(KeyError):
        man.video("Nope")


def test_mat_layout(tiny: tuple[Path, SynthManifest]) -> None:
    out, man = tiny
    for fname in (HM_FILE, EM_FILE):
        data = _load(out / fname)
        assert sorted(data) == sorted(v.name for v in man.videos)
        for arr in data.values():
            assert arr.dtype == np.float64 and arr.shape == (120, 8)
            nan = np.isnan(arr)
            assert nan.any(), "a few NaN samples, as in the real file"
            assert (nan[:, 0::2] == nan[:, 1::2]).all(), "NaN in both columns of a subject"
            assert not nan[0].any() and nan.mean() < 0.05
            lat, lon = arr[:, 0::2], arr[:, 1::2]
            assert np.nanmax(np.abs(lat)) <= 90 and np.nanmax(np.abs(lon)) <= 180


def test_mat_readable_by_pymatreader(tiny: tuple[Path, SynthManifest]) -> None:
    pymatreader = pytest.importorskip("pymatreader")
    out, _ = tiny
    data = pymatreader.read_mat(str(out / HM_FILE))
    np.testing.assert_array_equal(data["A380"], _load(out / HM_FILE)["A380"])


def test_video_frames_barcodes_and_targets(tiny: tuple[Path, SynthManifest]) -> None:
    """Decoded frames carry their exact index, and targets sit where the manifest says.

    This pins the rendering sign: a target at pano lon L (positive LEFT) is drawn at ERP
    column (180 - L) / 360 * W.
    """
    out, man = tiny
    v = man.videos[0]
    with av.open(str(out / v.file)) as c:
        s = c.streams.video[0]
        assert (s.codec_context.name, s.codec_context.width, s.codec_context.height) == (
            "h264",
            128,
            64,
        )
        assert float(s.average_rate) == 30.0
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == v.n_frames
    assert [decode_barcode(f) for f in frames] == list(range(v.n_frames))
    checked = 0
    for t in v.targets:
        for f in range(0, v.n_frames, 7):
            lon, lat = t.lon[f], t.lat[f]
            x, y = lonlat_to_erp(lon, lat, v.width, v.height)
            if y < 20 or abs(lat) > 60:  # skip the barcode area and stretched polar discs
                continue
            px = frames[f][int(y), int(x)].astype(int)
            assert np.abs(px - np.array(t.color)).max() < 80, (t.role, f, px, t.color)
            mirrored = frames[f][int(y), int((v.width - x) % v.width)].astype(int)
            if orthodromic_distance_deg(lon, lat, -lon, lat) > t.radius_deg + 10:
                assert np.abs(mirrored - np.array(t.color)).max() > 60
            checked += 1
    assert checked > 5


def test_seam_and_pole_targets(tiny: tuple[Path, SynthManifest]) -> None:
    v = tiny[1].videos[0]
    crosses = any(
        np.any(np.abs(np.diff(t.lon)) > 300) for t in v.targets
    )  # a jump from ~+180 to ~-180 between frames
    assert crosses, "a target crosses the ±180° seam"
    assert max(max(np.abs(t.lat)) for t in v.targets) > 70, "a target passes near a pole"
    for t in v.targets:  # smooth paths at 10-40 deg/s (up to ~1 deg/s when paused)
        ll = v.target_lonlat(t.id)
        speed = orthodromic_distance_deg(ll[1:, 0], ll[1:, 1], ll[:-1, 0], ll[:-1, 1]) * v.fps
        assert speed.max() < 45 and np.median(speed) > 5


def test_paint_marker_matches_great_circle_disc() -> None:
    rng = np.random.default_rng(0)
    w, h = 256, 128
    v = erp_unit_vectors(w, h).astype(np.float64)
    pix = 360 / w
    cases = [(179.0, 0.0, 10.0), (-178.0, 30.0, 8.0), (0.0, 85.0, 12.0), (40.0, -88.0, 6.0)]
    cases += [(rng.uniform(-180, 180), rng.uniform(-90, 90), rng.uniform(2, 30)) for _ in range(30)]
    for lon, lat, r in cases:
        frame = np.zeros((h, w), np.float64)
        paint_marker(frame, lon, lat, r, 1.0)
        d = np.rad2deg(np.arccos(np.clip(v @ lonlat_to_vec(lon, lat), -1, 1)))
        assert (frame[d < r - pix] == 1).all() and (frame[d > r + pix] == 0).all()
    seam = paint_marker(np.zeros((h, w, 3), np.uint8), 180.0, 0.0, 10.0, (255, 0, 0))
    assert seam[h // 2, 0, 0] == 255 and seam[h // 2, -1, 0] == 255, "a disc on the seam wraps"
    pole = paint_marker(np.zeros((h, w), np.uint8), 0.0, 90.0, 10.0, 200)
    assert (pole[0] == 200).all(), "a disc on the pole covers the top rows"


# ---------------------------------------------------------------------------
# Behaviour: signs, heads, gaze
# ---------------------------------------------------------------------------


def test_heads_follow_targets_with_pvs_hm_signs(longer: tuple[Path, SynthManifest]) -> None:
    """Columns are (lat, lon), UP and LEFT positive: heads sit near the followed target.

    The same heads read with the longitude negated (the mirrored convention) or with the
    columns swapped are far from the targets.
    """
    out, man = longer
    hm = _load(out / HM_FILE)
    for v in man.videos:
        data = hm[v.name]
        att = v.attention_per_sample()
        tgt = np.stack([lonlat_to_vec(*v.target_lonlat(k).T) for k in range(len(v.targets))])
        tgt = np.repeat(tgt, v.samples_per_frame, axis=1)  # per sample
        heads = _vectors(data)
        mirrored = lonlat_to_vec(-data[:, 1::2], data[:, 0::2])
        swapped = lonlat_to_vec(data[:, 0::2], data[:, 1::2])
        near, far_m, far_s = [], [], []
        for s in range(att.shape[0]):
            for seg in v.attention[s]:
                if seg.target < 0 or seg.end - seg.start < 3 * v.fps * v.samples_per_frame:
                    continue
                idx = np.arange(
                    seg.start + round(2 * v.fps * v.samples_per_frame), seg.end
                )  # settled
                t = tgt[seg.target, idx]
                near.append(np.rad2deg(orthodromic_distance(heads[idx, s], t)))
                far_m.append(np.rad2deg(orthodromic_distance(mirrored[idx, s], t)))
                far_s.append(np.rad2deg(orthodromic_distance(swapped[idx, s], t)))
        assert near, "some subject follows a target for >= 3 s"
        near_m = np.nanmedian(np.concatenate(near))
        assert near_m < 20, near_m
        assert np.nanmedian(np.concatenate(far_m)) > near_m + 15
        assert np.nanmedian(np.concatenate(far_s)) > near_m + 15


def test_head_behaviour_statistics(longer: tuple[Path, SynthManifest]) -> None:
    out, man = longer
    hm = _load(out / HM_FILE)
    rate = man.config.sample_rate
    for v in man.videos:
        data = hm[v.name]
        heads = _vectors(data)
        start = orthodromic_distance_deg(data[0, 1::2], data[0, 0::2], 0.0, 0.0)
        assert (start <= 20).all(), "subjects start near the front centre"
        speed = np.rad2deg(orthodromic_distance(heads[1:], heads[:-1])) * rate
        assert 3 < np.nanmedian(speed) < 40
        assert np.nanpercentile(speed, 99) < 100 and np.nanmax(speed) < 130
        assert np.nanpercentile(speed, 95) > 25, "heads do turn to targets"
        assert np.nanmedian(np.abs(data[:, 0::2])) < 20, "equator bias"
        # Subjects differ.
        per_subject = np.nanmean(speed, axis=0)
        assert per_subject.std() > 0.5
        # Attention switches happen every few seconds, not every sample.
        n_switch = np.mean([len(a) for a in v.attention])
        assert 2 <= n_switch <= 12


def test_gaze_is_head_plus_bounded_eye_offset(longer: tuple[Path, SynthManifest]) -> None:
    out, man = longer
    hm, em = _load(out / HM_FILE), _load(out / EM_FILE)
    rate = man.config.sample_rate
    for v in man.videos:
        heads, gaze = _vectors(hm[v.name]), _vectors(em[v.name])
        off = np.rad2deg(orthodromic_distance(heads, gaze))
        assert np.nanmax(off) <= MAX_OFFSET_DEG + 1e-6
        assert 3 < np.nanmedian(off) < 20
        speed = np.rad2deg(orthodromic_distance(gaze[1:], gaze[:-1])) * rate
        assert np.nanmax(speed) > 250, "saccades reach several hundred deg/s"
        assert np.nanmedian(speed) < 60, "most of the time the eye fixates or pursues"
        fast = speed > 150
        frac = np.nanmean(fast)
        assert 0.01 < frac < 0.2, frac


# ---------------------------------------------------------------------------
# Determinism, overwrite, CLI
# ---------------------------------------------------------------------------


def test_deterministic(tiny: tuple[Path, SynthManifest], tmp_path: Path) -> None:
    out, _ = tiny
    again = tmp_path / "again"
    write_synthetic_dataset(again, SynthConfig(**TINY), workers=1)  # threads do not matter
    for fname in (HM_FILE, EM_FILE):
        a, b = _load(out / fname), _load(again / fname)
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    assert (out / MANIFEST_FILE).read_text() == (again / MANIFEST_FILE).read_text()
    other = tmp_path / "other"
    write_synthetic_dataset(other, SynthConfig(**{**TINY, "seed": 4, "videos": 1, "em": False}))
    assert not np.array_equal(
        _load(other / HM_FILE)["A380"], _load(out / HM_FILE)["A380"], equal_nan=True
    )


def test_no_em_keeps_hm(tiny: tuple[Path, SynthManifest], tmp_path: Path) -> None:
    out, _ = tiny
    man = write_synthetic_dataset(tmp_path, SynthConfig(**{**TINY, "em": False}))
    assert man.em_file is None and not (tmp_path / EM_FILE).exists()
    a, b = _load(out / HM_FILE), _load(tmp_path / HM_FILE)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    cfg = SynthConfig(videos=2, subjects=2, seconds=0.5, width=128, em=False)
    write_synthetic_dataset(tmp_path, cfg)
    with pytest.raises(StoreExistsError, match="overwrite"):
        write_synthetic_dataset(tmp_path, cfg)
    (tmp_path / "notes.txt").write_text("mine")
    man = write_synthetic_dataset(tmp_path, cfg.model_copy(update={"videos": 1}), overwrite=True)
    assert len(man.videos) == 1
    with pytest.raises(StoreExistsError, match="not a folder"):
        write_synthetic_dataset(tmp_path / "notes.txt", cfg)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["A380.mp4", HM_FILE, MANIFEST_FILE, "notes.txt"]
    )


def test_cli_synth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "data"
    args = ["synth", str(out), "--videos", "2", "--subjects", "3", "--seconds", "1"]
    args += ["--width", "128", "--seed", "5", "--no-em"]
    assert main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("wrote 2 videos x 3 subjects")
    assert lines[1] == str(out / MANIFEST_FILE)
    man = json.loads((out / MANIFEST_FILE).read_text())
    assert man["config"]["seed"] == 5 and man["config"]["em"] is False
    assert not (out / EM_FILE).exists()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--overwrite" in err
    assert main([*args, "--overwrite"]) == 0


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--width", "130", "--width"),
        ("--videos", "0", "--videos"),
        ("--samples-per-frame", "0", "--samples-per-frame"),
    ],
)
def test_cli_bad_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, words: str
) -> None:
    assert main(["synth", str(tmp_path / "x"), option, value]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err and err.startswith("pano: error:")
    assert not (tmp_path / "x").exists()


def test_simulate_recordings_are_seeded_unit_vectors_with_true_events() -> None:
    from pano.synth import simulate_recordings

    a = simulate_recordings(n_videos=2, n_subjects=2, duration_s=3.0, rate_hz=50.0, seed=3)
    b = simulate_recordings(n_videos=2, n_subjects=2, duration_s=3.0, rate_hz=50.0, seed=3)
    assert [r.video for r in a.recordings] == ["video00", "video00", "video01", "video01"]
    for ra, rb in zip(a.recordings, b.recordings, strict=True):
        assert ra.t.shape == (150,) and ra.t[1] == pytest.approx(0.02)
        np.testing.assert_array_equal(ra.head, rb.head)
        assert ra.gaze is not None and ra.events is not None
        np.testing.assert_allclose(np.linalg.norm(ra.head, axis=1), 1.0, atol=1e-12)
        np.testing.assert_allclose(np.linalg.norm(ra.gaze, axis=1), 1.0, atol=1e-12)
        assert set(np.unique(ra.events)) <= {1, 2} and (ra.events == 2).any()
    c = simulate_recordings(n_videos=1, n_subjects=2, duration_s=3.0, rate_hz=50.0, seed=4)
    assert not np.array_equal(c.recordings[0].head, a.recordings[0].head)
    assert simulate_recordings(n_videos=1, gaze=False).recordings[0].gaze is None
