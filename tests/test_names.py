"""The name rule (videos, runs, results) and the paths a store may make pano open."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.io
import zarr
from hypothesis import given
from hypothesis import strategies as st
from pymatreader import read_mat

from pano.cli.app import main
from pano.errors import InvalidNameError, StoreError
from pano.pipelines.ingest import IngestConfig, ingest_pvs_hm
from pano.stores import list_videos, read_root_attrs, read_video_attrs
from pano.stores.names import (
    NAME_PATTERN,
    is_valid_name,
    map_source_names,
    relative_store_path,
    safe_name,
    validate_name,
)
from pano.stores.streaming import resolve_video_path
from pano.synth import EM_FILE, HM_FILE, SynthConfig, write_synthetic_dataset

GOOD = ["A380", "NotBeAloneTonight", "pos_only", "dhp-quick", "run.2", "7", "a" * 128]
BAD = {
    "": "is empty",
    ".": "does not start with a letter or a digit",
    "..": "does not start with a letter or a digit",
    ".hidden": "does not start with a letter or a digit",
    "-x": "does not start with a letter or a digit",
    "a/b": "contains '/'",
    "../../x": "contains '/'",
    "a\\b": "contains '\\\\'",
    "zarr.json": "is reserved",
    "x.partial": "ends in '.partial'",
    "Let's go": "contains ' ' \"'\"",
    "Café": "contains 'é'",
    "a" * 129: "has 129 characters",
}


@pytest.mark.parametrize("name", GOOD)
def test_good_names_pass(name: str) -> None:
    assert validate_name(name, "--run") == name and safe_name(name) == name


@pytest.mark.parametrize("name", list(BAD))
def test_bad_names_are_refused_in_one_line(name: str) -> None:
    with pytest.raises(InvalidNameError) as err:
        validate_name(name, "--run")
    msg = str(err.value)
    assert msg.startswith(f"--run {name!r} {BAD[name]}") and "\n" not in msg
    assert "1-128 characters of letters, digits" in msg and f"e.g. {safe_name(name)!r}" in msg
    assert isinstance(err.value, ValueError)


@given(st.text(max_size=300))
def test_safe_name_always_keeps_the_rule_and_is_deterministic(source: str) -> None:
    name = safe_name(source)
    assert is_valid_name(name), (source, name)
    assert safe_name(source) == name
    assert safe_name(name) == name


def test_safe_name_examples_and_collisions() -> None:
    assert safe_name("../../x") == "x" and safe_name("zarr.json") == "zarr_json"
    assert safe_name("Café Tour") == "Cafe_Tour" and safe_name("a/b") == "a_b"
    assert safe_name("..") != safe_name("...") and safe_name("..").startswith("v-")
    assert map_source_names(["A380", "a/b"], "hm.mat") == {"A380": "A380", "a/b": "a_b"}
    with pytest.raises(InvalidNameError, match=r"hm.mat: 'a/b' and 'a b' both map to .*'a_b'"):
        map_source_names(["a/b", "a b"], "hm.mat")
    with pytest.raises(InvalidNameError, match="'a_b' and 'a b' both map"):
        map_source_names(["a_b", "a b"], "hm.mat")
    assert NAME_PATTERN == r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


@pytest.mark.parametrize(
    ("rel", "why"),
    [
        ("/etc/passwd", "is absolute"),
        ("C:\\videos\\a.mp4", "is absolute"),
        ("\\\\server\\share\\a.mp4", "is absolute"),
        ("../secret.mp4", "has a '..' part"),
        ("a/../../b.mp4", "has a '..' part"),
        ("a\\..\\..\\b.mp4", "has a '..' part"),
        ("", "is empty or has surrounding blanks"),
    ],
)
def test_store_paths_must_stay_under_their_folder(rel: str, why: str) -> None:
    with pytest.raises(StoreError) as err:
        relative_store_path(rel, "video.path")
    assert str(err.value).startswith(f"video.path {rel!r} in the store {why};")
    assert "\n" not in str(err.value)


def test_resolve_video_path_opens_only_under_the_videos_folder(tmp_path: Path) -> None:
    from pano.stores.schema import Conventions, Provenance, RootAttrs, SourceFile

    videos = tmp_path / "videos"
    (videos / "sub").mkdir(parents=True)
    (videos / "sub" / "a.mp4").write_bytes(b"x")
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"x")
    root = RootAttrs(
        dataset="t", conventions=Conventions(canonical_frame={}, source={}),
        provenance=Provenance(
            pano_version="0", created="2026-01-01T00:00:00+00:00",
            sources=[SourceFile(role="videos", path=str(videos))],
        ),
    )  # fmt: skip
    store = tmp_path / "s.zarr"
    assert resolve_video_path(store, root, "sub/a.mp4") == videos / "sub" / "a.mp4"
    assert resolve_video_path(None, root, "a.mp4", videos / "sub") == videos / "sub" / "a.mp4"
    for crafted in (str(secret), "../secret.mp4", "sub/../../secret.mp4"):
        with pytest.raises(StoreError, match=r"video\.path"):
            resolve_video_path(store, root, crafted)
        with pytest.raises(StoreError, match=r"video\.path"):
            resolve_video_path(store, root, crafted, videos)


# ---------------------------------------------------------------------------
# Where names enter: ingest (.mat variables) and the CLI (run / results names)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def odd_names(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data set whose .mat variables are named 'a/b', 'zarr.json' and 'Café Tour'."""
    src = tmp_path_factory.mktemp("src")
    write_synthetic_dataset(src, SynthConfig(videos=3, subjects=2, seconds=2, width=128), workers=1)
    d = tmp_path_factory.mktemp("odd")
    rename = {"A380": "a/b", "Camping": "zarr.json", "NotBeAloneTonight": "Café Tour"}
    files = {"a/b": "ab.mp4", "zarr.json": "zarr.json.mp4", "Café Tour": "Café Tour.mp4"}
    stems = {"A380": "A380", "Camping": "Camping", "NotBeAloneTonight": "Let'sNotBeAloneTonight"}
    for old, new in rename.items():
        shutil.copy(src / f"{stems[old]}.mp4", d / files[new])
    for f in (HM_FILE, EM_FILE):
        mat = {k: v for k, v in read_mat(str(src / f)).items() if not k.startswith("__")}
        scipy.io.savemat(d / f, {rename[k]: v for k, v in mat.items()}, format="5")
    return d


def test_ingest_maps_source_names_that_break_the_rule(odd_names: Path, tmp_path: Path) -> None:
    store = tmp_path / "s.zarr"
    cfg: dict[str, Any] = {
        "videos": odd_names, "hm": odd_names / HM_FILE, "em": odd_names / EM_FILE,
        "store": str(store), "heatmap": {"width": 36, "height": 18, "step_frames": 5},
        "workers": 0, "device": "cpu",
    }  # fmt: skip
    s = ingest_pvs_hm(IngestConfig.model_validate(cfg))
    assert sorted(s.written) == ["Cafe_Tour", "a_b", "zarr_json"]
    assert list_videos(store) == ["Cafe_Tour", "a_b", "zarr_json"]
    assert read_root_attrs(store).videos == ["Cafe_Tour", "a_b", "zarr_json"]
    for name, source in (("a_b", "a/b"), ("zarr_json", "zarr.json"), ("Cafe_Tour", "Café Tour")):
        va = read_video_attrs(store, name)
        assert va.source_name == source and va.source_variable == source
    root = zarr.open_group(str(store), mode="r")
    assert sorted(root["videos"].group_keys()) == ["Cafe_Tour", "a_b", "zarr_json"]  # no nesting
    np.testing.assert_array_equal(
        root["videos/a_b/hm_lat"][...], read_mat(str(odd_names / HM_FILE))["a/b"][:, 0::2].T
    )
    s = ingest_pvs_hm(IngestConfig.model_validate(cfg))  # the mapped groups are complete
    assert s.written == [] and sorted(s.skipped) == ["Cafe_Tour", "a_b", "zarr_json"]


@pytest.mark.parametrize(
    "args",
    [
        ["eval", "STORE", "--run", ".."],
        ["eval", "STORE", "--run", "../../x"],
        ["eval", "STORE", "--predictions", "dhp,a/b"],
        ["train-hm", "STORE", "--config", "pipelines/configs/pos_only.yaml", "--run", "zarr.json"],
        ["predict-hm", "STORE", "--run", ".."],
    ],
    ids=["eval-dotdot", "eval-path", "eval-predictions", "train", "predict"],
)
def test_cli_refuses_bad_run_names_in_one_line(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(__file__).parents[1]
    args = [str(tmp_path / "s.zarr") if a == "STORE" else a for a in args]
    args = [str(root / a) if a.endswith(".yaml") else a for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pano: error: --")
    assert "a name is 1-128 characters" in err and "Traceback" not in err
    assert not (tmp_path / "s.zarr").exists()
