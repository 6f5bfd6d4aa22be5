"""Completeness that cannot lie: required arrays, damaged groups, --verify, safe overwrite."""

from __future__ import annotations

import json
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
import zarr

from pano.cli.app import main
from pano.pipelines.ingest import IngestConfig, ingest_pvs_hm
from pano.stores import COMPLETE_ATTR, list_videos, open_store, store_summary
from pano.stores.ground_truth import build_video_arrays
from pano.stores.reader import damaged_videos
from pano.stores.schema import (
    ARRAYS_ATTR,
    VIDEO_ARRAYS,
    VIDEO_EM_ARRAYS,
    HeatmapParams,
    ResampleParams,
    required_arrays,
)
from pano.stores.verify import verify_store
from pano.stores.writer import ArraySpec, create_root, write_group
from pano.synth import EM_FILE, HM_FILE, SynthConfig, write_synthetic_dataset

SMALL = {"width": 36, "height": 18, "step_frames": 5}
VIDEOS = ["A380", "Camping", "NotBeAloneTonight"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pvs")
    write_synthetic_dataset(d, SynthConfig(videos=3, subjects=3, seconds=2, width=128), workers=1)
    return d


def _cfg(data: Path, store: Path | str, **kw: Any) -> IngestConfig:
    base: dict[str, Any] = {
        "videos": data, "hm": data / HM_FILE, "em": data / EM_FILE, "store": str(store),
        "heatmap": SMALL, "workers": 0, "device": "cpu",
    }  # fmt: skip
    return IngestConfig.model_validate({**base, **kw})


@pytest.fixture(scope="module")
def clean(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("clean") / "pvs.zarr"
    ingest_pvs_hm(_cfg(data, store))
    return store


def _snapshot(store: Path) -> dict[str, Any]:
    """Every array and attribute, but the provenance's time and store path."""
    root = zarr.open_group(str(store), mode="r")
    out: dict[str, Any] = {}
    for path, node in root.members(max_depth=None):
        if isinstance(node, zarr.Array):
            out[path] = (node[...].tobytes(), str(node.dtype), node.attrs.asdict())
        else:
            out[path] = node.attrs.asdict()
    attrs = root.attrs.asdict()
    attrs["provenance"] = {k: v for k, v in attrs["provenance"].items() if k != "created"}
    attrs["provenance"]["parameters"].pop("store")
    out["/"] = attrs
    return out


def _copy(clean: Path, tmp_path: Path) -> Path:
    store = tmp_path / "s.zarr"
    shutil.copytree(clean, store)
    return store


def _info(store: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["info", str(store), *extra])
    out = capsys.readouterr()
    return rc, out.out, out.err


# ---------------------------------------------------------------------------
# The schema's required arrays
# ---------------------------------------------------------------------------


def test_required_arrays_are_what_the_ingest_writes(clean: Path) -> None:
    rng = np.random.default_rng(0)
    hm = np.column_stack([rng.uniform(-60, 60, 80), rng.uniform(-170, 170, 80)])
    hp = HeatmapParams(width=12, height=6, step_frames=2, drop_last_steps=1)
    no_em, _ = build_video_arrays(hm, 40, 20.0, hp, ResampleParams(), "v")
    with_em, _ = build_video_arrays(hm, 40, 20.0, hp, ResampleParams(), "v", em=hm)
    assert set(no_em) == set(VIDEO_ARRAYS)
    assert set(with_em) == set(VIDEO_ARRAYS) | set(VIDEO_EM_ARRAYS)
    g = zarr.open_group(str(clean), mode="r")["videos/A380"]
    assert g.attrs[ARRAYS_ATTR] == sorted(g.array_keys()) == sorted(with_em)
    # A video group written by an older pano (no list): the schema's arrays are required.
    assert required_arrays({"has_em": False}, video=True) == VIDEO_ARRAYS
    assert required_arrays({"has_em": True}, video=True) == VIDEO_ARRAYS + VIDEO_EM_ARRAYS
    assert required_arrays({}, video=False) == ()
    assert required_arrays({ARRAYS_ATTR: ["a", "b"]}, video=True) == ("a", "b")


# ---------------------------------------------------------------------------
# A group marked complete with an array missing
# ---------------------------------------------------------------------------


def test_a_deleted_array_makes_the_group_damaged_and_ingest_repairs_it(
    clean: Path, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _copy(clean, tmp_path)
    shutil.rmtree(store / "videos" / "Camping" / "scanpath")
    shutil.rmtree(store / "videos" / "Camping" / "em_xyz")
    assert zarr.open_group(str(store), mode="r")["videos/Camping"].attrs[COMPLETE_ATTR] is True
    assert list_videos(store) == ["A380", "NotBeAloneTonight"]
    assert list_videos(store, complete=False) == ["Camping"]
    assert damaged_videos(store) == {"Camping": ["em_xyz", "scanpath"]}
    assert "Camping" not in open_store(store)["videos"].children
    summary = store_summary(store)
    assert [v.name for v in summary.videos] == ["A380", "NotBeAloneTonight"]
    assert summary.incomplete == [] and summary.damaged == {"Camping": ["em_xyz", "scanpath"]}
    rc, out, _ = _info(store, capsys)
    assert rc == 0 and "2 complete videos" in out
    assert "damaged (marked complete but arrays are missing" in out
    assert "Camping (no em_xyz, scanpath)" in out
    rc, out, err = _info(store, capsys, "--verify")
    assert rc == 2 and "videos/Camping: array 'em_xyz' is missing" in out
    assert err.count("\n") == 1 and "pano: error:" in err and "videos/Camping" in err
    s = ingest_pvs_hm(_cfg(data, store))  # a plain re-run repairs it
    assert s.written == ["Camping"] and s.skipped == ["A380", "NotBeAloneTonight"]
    assert _snapshot(store) == _snapshot(clean)
    assert _info(store, capsys, "--verify")[0] == 0


def test_a_missing_chunk_is_found_by_verify_and_repaired_by_ingest_verify(
    clean: Path, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _copy(clean, tmp_path)
    chunk = store / "videos" / "A380" / "hm_lat" / "c" / "0" / "0"
    assert chunk.is_file()
    chunk.unlink()  # the metadata is there: only reading finds it
    assert list_videos(store) == VIDEOS and damaged_videos(store) == {}
    report = verify_store(store, full=True)
    assert not report.ok and report.damaged == ["videos/A380"]
    assert "array 'hm_lat' lacks 1 of its 1 chunks" in report.format()
    assert verify_store(store, full=False).ok  # the fast check cannot see it
    rc, _, err = _info(store, capsys, "--verify")
    assert rc == 2 and "lacks 1 of its 1 chunks" in err and "--verify" in err
    s = ingest_pvs_hm(_cfg(data, store))  # a plain re-run trusts the fast check ...
    assert s.written == []
    s = ingest_pvs_hm(_cfg(data, store, verify=True))  # ... --verify reads everything
    assert s.written == ["A380"]
    assert _snapshot(store) == _snapshot(clean) and verify_store(store).ok


def test_a_corrupt_chunk_is_reported_unreadable(clean: Path, tmp_path: Path) -> None:
    store = _copy(clean, tmp_path)
    shard = store / "videos" / "Camping" / "heatmap" / "c" / "0" / "0" / "0"
    shard.write_bytes(shard.read_bytes()[:100])  # truncated: the shard index is gone
    report = verify_store(store, full=True)
    assert report.damaged == ["videos/Camping"]
    assert "array 'heatmap'" in report.format()
    clean_report = verify_store(clean, full=True)
    assert clean_report.ok and clean_report.groups == 3
    assert clean_report.chunks >= clean_report.arrays == 3 * 23


def test_groups_of_an_older_pano_need_the_schema_arrays(clean: Path, tmp_path: Path) -> None:
    store = _copy(clean, tmp_path)
    root = zarr.open_group(str(store), mode="r+")
    for name in VIDEOS:
        del root[f"videos/{name}"].attrs[ARRAYS_ATTR]
    assert list_videos(store) == VIDEOS
    shutil.rmtree(store / "videos" / "A380" / "lon")
    assert damaged_videos(store) == {"A380": ["lon"]}
    shutil.rmtree(store / "videos" / "Camping" / "em_valid")  # has_em: EM arrays required
    assert damaged_videos(store) == {"A380": ["lon"], "Camping": ["em_valid"]}


def test_damage_in_memory_and_prediction_groups(tmp_path: Path) -> None:
    import fsspec

    from pano.stores.schema import Conventions, Provenance, RootAttrs

    url = f"memory://pano-verify-{uuid.uuid4().hex}/s.zarr"
    root_attrs = RootAttrs(
        dataset="t", conventions=Conventions(canonical_frame={}, source={}),
        provenance=Provenance(pano_version="0", created="2026-01-01T00:00:00+00:00"),
    )  # fmt: skip
    create_root(url, root_attrs)
    arrays = {"step": ArraySpec(("step",), np.arange(3, dtype=np.int32))}
    arrays["forecast"] = ArraySpec(("step", "xyz"), np.ones((3, 3)))
    write_group(url, "predictions/run/A380", arrays, {"video": "A380"})
    write_group(url, "predictions/run/B", arrays, {"video": "B"})
    runs = {r.group: r for r in store_summary(url).runs}
    assert runs["predictions/run"].complete and "2/2 videos" in runs["predictions/run"].detail
    fs, path = fsspec.core.url_to_fs(url)
    fs.rm(f"{path}/predictions/run/B/forecast", recursive=True)
    runs = {r.group: r for r in store_summary(url).runs}
    assert not runs["predictions/run"].complete and "1/2 videos" in runs["predictions/run"].detail
    report = verify_store(url)
    assert report.damaged == ["predictions/run/B"]


# ---------------------------------------------------------------------------
# --overwrite: marked incomplete first, deleted after
# ---------------------------------------------------------------------------


class _Killed(Exception):
    pass


@pytest.mark.parametrize("part", ["", "A380/heatmap", "A380"], ids=["marked", "array", "group"])
def test_an_overwrite_interrupted_while_deleting_leaves_no_lie(
    clean: Path, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part: str
) -> None:
    """``--overwrite`` stops in its first deletion after removing ``videos/<part>``."""
    import types

    import pano.stores.writer as writer

    store = _copy(clean, tmp_path)

    def killed_while_deleting(path: Any, *a: Any, **kw: Any) -> None:
        if part:
            shutil.rmtree(Path(path) / part)
        raise _Killed

    monkeypatch.setattr(writer, "shutil", types.SimpleNamespace(rmtree=killed_while_deleting))
    with pytest.raises(_Killed):
        ingest_pvs_hm(_cfg(data, store, heatmap={**SMALL, "sigma_deg": 5.0}, overwrite=True))
    monkeypatch.undo()
    assert list_videos(store) == [] and damaged_videos(store) == {}  # all say "incomplete"
    assert verify_store(store).ok
    assert json.loads((store / "zarr.json").read_text())["attributes"]["videos"] == []
    s = ingest_pvs_hm(_cfg(data, store))  # the plain re-run (old parameters) converges
    assert s.written == VIDEOS
    assert _snapshot(store) == _snapshot(clean)


def _video_complete_flags(store: Path) -> dict[str, Any]:
    flags = {}
    for name in VIDEOS:
        meta = store / "videos" / name / "zarr.json"
        try:
            flags[name] = json.loads(meta.read_text())["attributes"].get(COMPLETE_ATTR)
        except (OSError, ValueError, KeyError):
            flags[name] = None
    return flags


@pytest.mark.slow
@pytest.mark.parametrize("trigger", ["marked", "deleting", "recreated"])
def test_sigkill_during_ingest_overwrite_then_plain_rerun(
    clean: Path, data: Path, tmp_path: Path, trigger: str
) -> None:
    """A real ``pano ingest --overwrite`` is SIGKILLed while it replaces a store.

    Wherever it stops, no group says complete over missing data, and a plain re-run gives
    the clean store bit for bit.
    """
    store = _copy(clean, tmp_path)
    files = ["--videos", str(data), "--hm", str(data / HM_FILE), "--em", str(data / EM_FILE)]
    opts = ["--heatmap-size", "36x18", "--step-frames", "5", "--workers", "0", "--device", "cpu"]
    cmd = [sys.executable, "-m", "pano", "ingest", "pvs-hm", *files, "--store", str(store), *opts]
    cmd.append("--overwrite")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    seen_gone = False
    while proc.poll() is None and time.monotonic() < deadline:
        flags = _video_complete_flags(store)
        seen_gone = seen_gone or not (store / "videos" / "A380").exists()
        if (
            (trigger == "marked" and False in flags.values())
            or (trigger == "deleting" and None in flags.values())
            or (trigger == "recreated" and seen_gone and (store / "videos").is_dir())
        ):
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.0005)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (-signal.SIGKILL, 0), err.decode()[-2000:]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Object at .* is not recognized", UserWarning)
        if (store / "zarr.json").exists():
            report = verify_store(store, full=True)  # every group marked complete is whole
            assert report.ok, report.format()
    s = ingest_pvs_hm(_cfg(data, store))
    assert sorted(s.written + s.skipped) == VIDEOS
    assert _snapshot(store) == _snapshot(clean)
