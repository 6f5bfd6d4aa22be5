"""Every bad input of issue #12 ("Refuse early", "Accepted silently", "14 tracebacks").

Each case drives the real CLI (:func:`pano.cli.app.main`) and checks: exit code 2, exactly
one ``pano: error:`` line naming the file or field, no traceback, and the store (and every
other folder the case names) byte-identical before and after.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import zarr
from pymatreader import read_mat

from pano.cli.app import main
from pano.synth import HM_FILE, SynthConfig, write_synthetic_dataset

CONFIGS = Path(__file__).resolve().parents[1] / "pipelines" / "configs"
TINY = [
    "optim.steps=4", "optim.batch_size=8", "log.val_every=2", "log.checkpoint_every=2",
    "data.horizon=5", "data.frame_width=64", "threads=1", "model.hidden=8",
]  # fmt: skip
TEST_VIDEOS = ["Dancing", "KingKong"]


def _sets(items: list[str]) -> list[str]:
    return [a for s in items for a in ("--set", s)]


def _ingest_args(videos: Path, store: Path | str, *extra: str) -> list[str]:
    return [
        "ingest", "pvs-hm", "--videos", str(videos), "--hm", str(videos / HM_FILE),
        "--store", str(store), "--heatmap-size", "36x18", "--step-frames", "5",
        "--workers", "0", "--device", "cpu", *extra,
    ]  # fmt: skip


@dataclass
class Env:
    """The shared inputs: raw data, an ingested store, a trained run with predictions."""

    raw: Path
    store: Path
    runs: Path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    root = tmp_path_factory.mktemp("refuse")
    raw = root / "raw"
    write_synthetic_dataset(
        raw, SynthConfig(videos=6, subjects=3, seconds=3, width=128, fps=30, em=False), workers=1
    )
    store = root / "store.zarr"
    assert main(_ingest_args(raw, store)) == 0
    runs = root / "runs"
    train = ["train-hm", str(store), "--config", str(CONFIGS / "pos_only.yaml")]
    assert main([*train, "--runs-dir", str(runs), *_sets(TINY), "--predict"]) == 0
    return Env(raw, store, runs)


def tree_digest(path: Path) -> str:
    """SHA-256 over every file's relative path and bytes (folders and links by name)."""
    h = hashlib.sha256()
    if path.is_file():
        h.update(path.read_bytes())
        return h.hexdigest()
    for p in sorted(path.rglob("*")):
        h.update(str(p.relative_to(path)).encode() + b"\0")
        if p.is_file() and not p.is_symlink():
            h.update(p.read_bytes())
    return h.hexdigest()


@dataclass
class Case:
    """A command line that must be refused: its argv, the message it must match, watched paths."""

    argv: list[str]
    pattern: str
    watch: list[Path] = field(default_factory=list)
    context: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext


@contextlib.contextmanager
def read_only(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make ``folder`` (and everything in it) not writable.

    As a normal user through permissions; as root (who ignores them) by answering
    ``os.access(..., W_OK)`` under ``folder`` with False, as the kernel does for a
    read-only mount.
    """
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")] if p.is_dir()}
        for p in modes:
            p.chmod(modes[p] & ~0o222)
        try:
            yield
        finally:
            for p, m in modes.items():
                p.chmod(m)
        return
    real_access = os.access
    base = str(folder.resolve())

    def fake_access(path: object, mode: int, *args: object, **kw: object) -> bool:
        p = os.path.abspath(os.fspath(path))  # type: ignore[arg-type]
        if mode & os.W_OK and (p == base or p.startswith(base + os.sep)):
            return False
        return real_access(path, mode, *args, **kw)  # type: ignore[arg-type]

    with monkeypatch.context() as m:
        m.setattr(os, "access", fake_access)
        yield


def _copy_store(env: Env, tmp: Path) -> Path:
    dst = tmp / "store.zarr"
    shutil.copytree(env.store, dst)
    return dst


def _copy_raw(env: Env, tmp: Path) -> Path:
    dst = tmp / "raw"
    shutil.copytree(env.raw, dst)
    return dst


def _set_mat(raw: Path, name: str, value: np.ndarray) -> None:
    mat = {k: v for k, v in read_mat(str(raw / HM_FILE)).items() if not k.startswith("__")}
    mat[name] = value
    scipy.io.savemat(raw / HM_FILE, mat)


def _hm(raw: Path, name: str) -> np.ndarray:
    return np.asarray(read_mat(str(raw / HM_FILE))[name], dtype=np.float64)


def _eval(store: Path | str, *extra: str) -> list[str]:
    return ["eval", str(store), "--workers", "0", "--baselines", "no_motion", *extra]


# ---------------------------------------------------------------------------
# The cases: each builds its inputs under tmp and returns the refused command
# ---------------------------------------------------------------------------


def store_is_a_file(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    f = tmp / "notes.txt"
    f.write_text("not a store")
    return Case(_ingest_args(env.raw, f), r"--store .*notes\.txt: is a file, not a store", [f])


def info_store_is_a_file(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    f = tmp / "notes.txt"
    f.write_text("not a store")
    return Case(["info", str(f)], r"notes\.txt: is a file, not a store folder", [f])


def eval_store_is_a_file(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    f = tmp / "notes.txt"
    f.write_text("not a store")
    return Case(_eval(f), r"notes\.txt: is a file, not a store folder", [f])


def store_unknown_protocol(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    return Case(_ingest_args(env.raw, "foo://bucket/x.zarr"), r"unknown protocol 'foo://'")


def info_unknown_protocol(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    return Case(["info", "foo://bucket/x.zarr"], r"foo://bucket/x\.zarr: unknown protocol")


def eval_unknown_protocol(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    return Case(_eval("foo://bucket/x.zarr"), r"foo://bucket/x\.zarr: unknown protocol")


def eval_read_only_store(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    s = _copy_store(env, tmp)
    return Case(
        _eval(s, "--run", "ro"),
        r"store\.zarr: cannot write in .*store\.zarr",
        [s],
        lambda: read_only(s, mp),
    )


def ingest_read_only_store(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    s = _copy_store(env, tmp)
    shutil.rmtree(s / "videos" / "A380")  # one video to write: refused before probing
    return Case(
        _ingest_args(env.raw, s), r"--store .*: cannot write in", [s], lambda: read_only(s, mp)
    )


def train_predict_read_only_store(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    s = _copy_store(env, tmp)
    runs = tmp / "runs"
    train = ["train-hm", str(s), "--config", str(CONFIGS / "pos_only.yaml"), "--run", "ro"]
    argv = [*train, "--runs-dir", str(runs), *_sets(TINY), "--predict"]
    return Case(argv, r"store\.zarr: cannot write in", [s, tmp], lambda: read_only(s, mp))


def predict_read_only_store(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    s = _copy_store(env, tmp)
    argv = ["predict-hm", str(s), "--run", "pos_only", "--runs-dir", str(env.runs)]
    return Case(argv, r"store\.zarr: cannot write in", [s, env.runs], lambda: read_only(s, mp))


def eval_out_is_a_file(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    s = _copy_store(env, tmp)
    f = tmp / "report.txt"
    f.write_text("mine")
    return Case(_eval(s, "--out", str(f)), r"--out .*report\.txt: is a file, not a folder", [s, f])


def eval_run_dotdot(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    s = _copy_store(env, tmp)
    return Case(_eval(s, "--run", ".."), r"--run '\.\.'.*a name is 1-128 characters", [s])


def viewport_start_nan(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    out = tmp / "v.png"
    argv = ["viewport", str(env.store), "--video", "A380", "--out", str(out), "--start", "nan"]
    return Case(argv, r"--start nan: must be a finite time", [env.store, tmp])


def viewport_start_inf(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    out = tmp / "v.png"
    argv = ["viewport", str(env.store), "--video", "A380", "--out", str(out), "--start", "inf"]
    return Case(argv, r"--start inf: must be a finite time", [env.store, tmp])


def viewport_huge_size(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    out = tmp / "v.png"
    argv = ["viewport", str(env.store), "--video", "A380", "--out", str(out)]
    argv += ["--size", "100000x100000"]
    return Case(argv, r"--size 100000x100000: .* need about [\d.]+ GiB \(limit 2 GiB\)", [tmp])


def ingest_other_samples_per_frame(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    raw = _copy_raw(env, tmp)
    _set_mat(raw, "A380", _hm(raw, "A380")[::2])  # 1 sample per frame where the rest have 2
    s = _copy_store(env, tmp)
    shutil.rmtree(s / "videos" / "A380")
    return Case(
        _ingest_args(raw, s), r"HM samples per frame differ .*A380 differs from the rest \(2\)", [s]
    )


def ingest_fewer_subjects(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    raw = _copy_raw(env, tmp)
    _set_mat(raw, "A380", _hm(raw, "A380")[:, :4])  # 2 subjects where the store has 3
    s = _copy_store(env, tmp)
    shutil.rmtree(s / "videos" / "A380")
    return Case(
        _ingest_args(raw, s), r"number of subjects differs .*A380 differs from the rest \(3\)", [s]
    )


def ingest_all_nan(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    raw = _copy_raw(env, tmp)
    _set_mat(raw, "Camping", np.full_like(_hm(raw, "Camping"), np.nan))
    s = tmp / "new.zarr"
    return Case(_ingest_args(raw, s), r"variable 'Camping' is all NaN", [s])


def ingest_logical(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    raw = _copy_raw(env, tmp)
    _set_mat(raw, "Camping", _hm(raw, "Camping") > 0)
    s = _copy_store(env, tmp)
    return Case(
        _ingest_args(raw, s, "--overwrite"), r"variable 'Camping' is a logical \(true/false\)", [s]
    )


def predict_checkpoint_typo(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    s = _copy_store(env, tmp)
    argv = ["predict-hm", str(s), "--run", "pos_only", "--runs-dir", str(env.runs)]
    argv += ["--checkpoint", "ckpt-0000002.pt"]
    return Case(
        argv,
        r"--checkpoint 'ckpt-0000002\.pt' does not exist; .*one of: ckpt-00000004\.pt, "
        r"ckpt-00000002\.pt",
        [s, env.runs],
    )


def _forecast_store(env: Env, tmp: Path, change: Callable[[zarr.Group], None]) -> Path:
    s = _copy_store(env, tmp)
    root = zarr.open_group(str(s), mode="r+")
    for v in TEST_VIDEOS:
        change(root[f"predictions/pos_only/{v}"])
    return s


def eval_all_nan_forecast(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    def nan(g: zarr.Group) -> None:
        fc = g["forecast"]
        fc[...] = np.full(fc.shape, np.nan)

    s = _forecast_store(env, tmp, nan)
    return Case(
        _eval(s, "--predictions", "pos_only"), r"predictions/pos_only/Dancing/forecast is all NaN",
        [s],
    )  # fmt: skip


def eval_negative_heatmap(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    def negative(g: zarr.Group) -> None:
        root = zarr.open_group(g.store, mode="r")
        gt = root[f"videos/{g.basename}/heatmap"]
        g.create_array("heatmap", data=-np.asarray(gt[...]), dimension_names=("step", "lat", "lon"))

    s = _forecast_store(env, tmp, negative)
    return Case(
        _eval(s, "--predictions", "pos_only"),
        r"predictions/pos_only/Dancing/heatmap has negative values \(min -1 at step 0\)",
        [s],
    )


def eval_horizon_beyond_predictions(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    s = _copy_store(env, tmp)
    return Case(
        _eval(s, "--predictions", "pos_only", "--set", "hm.horizon=1000"),
        r"hm\.horizon=1000: predictions/pos_only forecasts only 5 step\(s\)",
        [s],
    )


def eval_horizon_beyond_videos(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    s = _copy_store(env, tmp)
    return Case(
        _eval(s, "--set", "hm.horizon=1000"),
        r"hm\.horizon=1000: every video of split 'test' is too short",
        [s],
    )


def _resume(env: Env, tmp: Path, *sets: str) -> Case:
    runs = tmp / "runs"
    shutil.copytree(env.runs, runs)
    train = ["train-hm", str(env.store), "--config", str(CONFIGS / "pos_only.yaml")]
    argv = [*train, "--runs-dir", str(runs), *_sets([*TINY, *sets]), "--resume"]
    return Case(argv, "", [env.store, runs])


def resume_other_optimiser(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    c = _resume(env, tmp, "optim.lr=0.5", "optim.steps=6")  # steps may change, lr may not
    c.pattern = r"--resume with another config .*optim\.lr: 0\.003 -> 0\.5; resume with"
    return c


def resume_other_data(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    c = _resume(env, tmp, "data.history=3")
    c.pattern = r"--resume with another config .*data\.history: 5 -> 3"
    return c


def _replace_video(raw: Path) -> None:
    data = bytearray((raw / "A380.mp4").read_bytes())
    data[-1] ^= 0xFF  # same name and size, another last byte
    (raw / "A380.mp4").write_bytes(bytes(data))


def viewport_other_video_file(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    raw = _copy_raw(env, tmp)
    _replace_video(raw)
    out = tmp / "v.png"
    argv = ["viewport", str(env.store), "--video", "A380", "--out", str(out)]
    argv += ["--videos-dir", str(raw), "--device", "cpu"]
    return Case(
        argv, r"A380\.mp4: not the video ingested under this name \(recorded size:sha256-of-ends "
        r"\d+:[0-9a-f]{12}, found \d+:[0-9a-f]{12}\)", [env.store, raw],
    )  # fmt: skip


def train_content_other_video_file(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    raw = _copy_raw(env, tmp)
    _replace_video(raw)
    runs = tmp / "runs"
    argv = ["train-hm", str(env.store), "--config", str(CONFIGS / "content.yaml")]
    argv += ["--runs-dir", str(runs), "--videos", str(raw)]
    argv += _sets([*TINY, "model.saliency_size=[8,16]"])
    return Case(argv, r"A380\.mp4: not the video ingested under this name", [env.store, runs])


def info_verify_other_video_file(env: Env, tmp: Path, mp: pytest.MonkeyPatch) -> Case:
    s = _copy_store(env, tmp)
    raw = _copy_raw(env, tmp)
    _replace_video(raw)
    # The store records the original raw folder: point it nowhere, and put the changed
    # copy where pano looks next (STORE/../videos).
    (s.parent / "videos").symlink_to(raw)
    _hide_recorded_videos_dir(s)
    return Case(
        ["info", str(s), "--verify"],
        r"A380\.mp4: not the video ingested as videos/A380 \(recorded sha256 [0-9a-f]{16}\.\.\., "
        r"found [0-9a-f]{16}\.\.\.\)",
        [s, raw],
    )


def _hide_recorded_videos_dir(store: Path) -> None:
    """Point the store's recorded videos folder nowhere, so the copy next to it is used."""
    import json

    meta = store / "zarr.json"
    doc = json.loads(meta.read_text())
    for src in doc["attributes"]["provenance"]["sources"]:
        if src["role"] == "videos":
            src["path"] = str(store.parent / "gone")
    meta.write_text(json.dumps(doc))


CASES: dict[str, Callable[[Env, Path, pytest.MonkeyPatch], Case]] = {
    f.__name__.replace("_", "-"): f
    for f in (
        store_is_a_file, info_store_is_a_file, eval_store_is_a_file, store_unknown_protocol,
        info_unknown_protocol, eval_unknown_protocol,
        eval_read_only_store, ingest_read_only_store, train_predict_read_only_store,
        predict_read_only_store, eval_out_is_a_file, eval_run_dotdot, viewport_start_nan,
        viewport_start_inf, viewport_huge_size, ingest_other_samples_per_frame,
        ingest_fewer_subjects, ingest_all_nan, ingest_logical, predict_checkpoint_typo,
        eval_all_nan_forecast, eval_negative_heatmap, eval_horizon_beyond_predictions,
        eval_horizon_beyond_videos, resume_other_optimiser, resume_other_data,
        viewport_other_video_file, train_content_other_video_file, info_verify_other_video_file,
    )
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_refused_in_one_line_exit_2_nothing_touched(
    case: str,
    env: Env,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    c = CASES[case](env, tmp_path, monkeypatch)
    before = {p: tree_digest(p) for p in c.watch if p.exists()}
    missing = [p for p in c.watch if not p.exists()]
    capsys.readouterr()
    with c.context():
        code = main(c.argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert "Traceback" not in err + out
    lines = [ln for ln in err.splitlines() if ln.startswith("pano: error:")]
    assert len(lines) == 1, err
    assert re.search(c.pattern, lines[0]), lines[0]
    assert {p: tree_digest(p) for p in before} == before
    assert not any(p.exists() for p in missing)


def test_what_may_change_on_resume_still_resumes(env: Env, tmp_path: Path) -> None:
    """More steps, another logging cadence and device are allowed on --resume."""
    c = _resume(env, tmp_path, "optim.steps=6", "log.val_every=3")
    assert main(c.argv) == 0


def test_a_video_file_with_its_recorded_fingerprint_opens(env: Env, tmp_path: Path) -> None:
    """The unchanged file passes the fingerprint check (the check is not always failing)."""
    out = tmp_path / "v.png"
    argv = ["viewport", str(env.store), "--video", "A380", "--out", str(out), "--device", "cpu"]
    assert main([*argv, "--size", "32x32", "--rows", "1"]) == 0 and out.is_file()
    assert main(["info", str(env.store), "--verify"]) == 0


def test_mixed_rates_are_accepted_when_asked(env: Env, tmp_path: Path) -> None:
    raw = _copy_raw(env, tmp_path)
    _set_mat(raw, "A380", _hm(raw, "A380")[::2])
    s = _copy_store(env, tmp_path)
    shutil.rmtree(s / "videos" / "A380")
    assert main(_ingest_args(raw, s, "--set", "mixed_rates=true")) == 0


def test_video_names_that_are_paths_stay_inside_the_store(env: Env, tmp_path: Path) -> None:
    """.mat variables named '../../x' and 'zarr.json' become plain groups (mapped).

    ('..' itself matches no video file name - it is skipped with a warning - and maps to
    ``v-<hash>``: tests/test_names.py.)
    """
    from pano.stores import list_videos, read_video_attrs

    src = _copy_raw(env, tmp_path)
    d = tmp_path / "odd"
    d.mkdir()
    rename = {"Camping": "../../x", "Surfing": "zarr.json"}
    files = {"../../x": "x.mp4", "zarr.json": "zarr.json.mp4"}
    for old, new in rename.items():
        shutil.copy(src / f"{old}.mp4", d / files[new])
    mat = {k: v for k, v in read_mat(str(src / HM_FILE)).items() if k in rename}
    scipy.io.savemat(d / HM_FILE, {rename[k]: v for k, v in mat.items()}, format="5")
    store = tmp_path / "deep" / "s.zarr"
    outside = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert main(_ingest_args(d, store)) == 0
    names = list_videos(store)
    assert names == ["x", "zarr_json"]
    assert all("/" not in n and not n.startswith(".") for n in names)
    assert {read_video_attrs(store, n).source_variable for n in names} == set(rename.values())
    new_files = {p for p in tmp_path.rglob("*") if p.is_file()} - set(outside)
    assert all(store in p.parents or p == Path(f"{store}.pano-lock") for p in new_files)


def test_info_verify_lists_video_files_it_cannot_find(
    env: Env, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Videos not on this machine are 'not checked', not damage: exit 0."""
    s = _copy_store(env, tmp_path)
    _hide_recorded_videos_dir(s)
    capsys.readouterr()
    assert main(["info", str(s), "--verify"]) == 0
    out = capsys.readouterr().out
    assert "video files: 0 match the SHA-256 recorded at ingest" in out
    assert out.count("not checked: videos/") == 6
