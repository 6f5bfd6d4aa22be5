"""The store layer alone: writer, reader, schema (no ingest, no videos)."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from pano.errors import StoreError, StoreExistsError, StoreNotFoundError
from pano.geometry import CANONICAL_FRAME
from pano.stores import (
    COMPLETE_ATTR,
    SCHEMA_VERSION,
    list_videos,
    open_store,
    open_video,
    read_root_attrs,
    read_video_attrs,
    store_exists,
    store_nbytes,
    store_summary,
)
from pano.stores.schema import (
    PVS_HM_SOURCE_CONVENTION,
    Conventions,
    HeatmapParams,
    Provenance,
    RootAttrs,
    VideoAttrs,
    VideoSource,
)
from pano.stores.writer import (
    ArraySpec,
    create_root,
    default_chunks,
    delete_video_group,
    write_root_attrs,
    write_video_group,
)


def _root_attrs() -> RootAttrs:
    return RootAttrs(
        dataset="test",
        conventions=Conventions(
            canonical_frame=dict(CANONICAL_FRAME), source=dict(PVS_HM_SOURCE_CONVENTION)
        ),
        heatmap=HeatmapParams(width=36, height=18),
        provenance=Provenance(pano_version="0", created="2026-01-01T00:00:00+00:00"),
        subjects=["s00", "s01"],
    )


def _video(name: str, n_steps: int = 3, n_t: int = 10) -> tuple[dict[str, ArraySpec], VideoAttrs]:
    rng = np.random.default_rng(abs(hash(name)) % 1000)
    lat = rng.uniform(-80, 80, (2, n_t))
    lat[1, 3] = np.nan
    arrays = {
        "subject": ArraySpec(("subject",), np.arange(2, dtype=np.int32)),
        "time": ArraySpec(("time",), np.arange(n_t) / 60.0),
        "step": ArraySpec(("step",), np.arange(n_steps, dtype=np.int32)),
        "step_time": ArraySpec(("step",), np.arange(n_steps) / 3.0),
        "hm_lat": ArraySpec(("subject", "time"), lat, {"units": "degrees"}),
        "hm_valid": ArraySpec(("subject", "time"), ~np.isnan(lat)),
        "heatmap": ArraySpec(
            ("step", "lat", "lon"),
            rng.random((n_steps, 18, 36)).astype(np.float32),
            {"coordinates": "step_time"},
        ),
    }
    attrs = VideoAttrs(
        video=VideoSource(
            path=f"{name}.mp4",
            sha256="0" * 64,
            fps=30.0,
            n_frames=n_t // 2,
            width=128,
            height=64,
            codec="h264",
            duration_s=n_t / 60,
        ),
        source_variable=name,
        split="train",
        samples_per_frame=2.0,
        n_subjects=2,
        n_samples=n_t,
        n_nan_samples=1,
        n_steps=n_steps,
    )
    return arrays, attrs


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "s.zarr"
    create_root(path, _root_attrs())
    for name in ("A380", "Camping"):
        write_video_group(path, name, *_video(name))
    return path


def test_layout_opens_as_datatree_without_warnings(store: Path) -> None:
    # pytest turns every warning into an error, so this also checks "no warnings".
    tree = xr.open_datatree(store, engine="zarr", consolidated=False)
    ds = tree["videos/A380"].dataset
    assert set(ds.dims) == {"subject", "time", "step", "lat", "lon"}
    assert "step_time" in ds.coords  # non-dimension coordinate via the 'coordinates' attr
    assert ds["hm_valid"].dtype == bool
    assert ds["subject"].dtype == np.int32
    np.testing.assert_array_equal(ds["hm_valid"].values, ~np.isnan(ds["hm_lat"].values))
    assert tree.attrs["pano_schema_version"] == SCHEMA_VERSION


def test_every_array_has_dimension_names_and_explicit_codecs(store: Path) -> None:
    root = zarr.open_group(store, mode="r")
    assert root.metadata.zarr_format == 3
    n = 0
    for _, arr in root.members(max_depth=None):
        if not isinstance(arr, zarr.Array):
            continue
        n += 1
        assert arr.metadata.dimension_names is not None and all(arr.metadata.dimension_names)
        codecs = arr.metadata.to_dict()["codecs"]
        text = str(codecs)
        assert "blosc" in text and "zstd" in text and "bitshuffle" in text, text
    assert n == 14
    hm = root["videos/A380/heatmap"]
    assert hm.shards == (3, 18, 36) and hm.chunks == (1, 18, 36)


def test_default_chunks() -> None:
    assert default_chunks(("step", "lat", "lon"), (100, 180, 360)) == (
        (1, 180, 360),
        (64, 180, 360),
    )
    assert default_chunks(("subject", "time", "xyz"), (58, 9000, 3)) == ((58, 4096, 3), None)
    assert default_chunks(("step", "subject", "lonlat"), (10, 58, 2)) == ((10, 58, 2), None)
    assert default_chunks(("time",), (9000,)) == ((9000,), None)


def test_incomplete_groups_are_skipped(store: Path) -> None:
    g = zarr.open_group(store, mode="r+")["videos/Camping"]
    g.attrs[COMPLETE_ATTR] = False
    assert list_videos(store) == ["A380"]
    assert list_videos(store, complete=False) == ["Camping"]
    tree = open_store(store)
    assert list(tree["videos"].children) == ["A380"]
    assert list_videos(tree) == ["A380"]
    assert "Camping" in open_store(store, include_incomplete=True)["videos"].children
    with pytest.raises(StoreError, match="incomplete"):
        open_video(store, "Camping")
    summary = store_summary(store)
    assert [v.name for v in summary.videos] == ["A380"] and summary.incomplete == ["Camping"]
    assert "re-run the ingest" in summary.format()


def test_group_without_complete_attr_is_incomplete(store: Path) -> None:
    g = zarr.open_group(store, mode="r+")["videos/A380"]
    del g.attrs[COMPLETE_ATTR]
    assert list_videos(store) == ["Camping"]


def test_rewriting_a_group_replaces_it(store: Path) -> None:
    arrays, attrs = _video("A380", n_steps=5)
    write_video_group(store, "A380", arrays, attrs)
    assert open_video(store, "A380").sizes["step"] == 5
    delete_video_group(store, "A380")
    assert list_videos(store) == ["Camping"]
    delete_video_group(store, "A380")  # no-op


def test_read_attrs_and_errors(store: Path, tmp_path: Path) -> None:
    ra = read_root_attrs(store)
    assert ra.conventions.source["columns"].startswith("column order lat then lon")
    va = read_video_attrs(store, "A380")
    assert va.pano_complete and va.video.fps == 30.0
    assert read_video_attrs(open_store(store), "A380") == va
    with pytest.raises(StoreError, match="no video 'Nope'"):
        read_video_attrs(store, "Nope")
    with pytest.raises(StoreNotFoundError):
        open_store(tmp_path / "missing.zarr")
    plain = tmp_path / "plain.zarr"
    zarr.open_group(plain, mode="w", zarr_format=3)
    with pytest.raises(StoreError, match="not a pano store"):
        open_store(plain)
    with pytest.raises(StoreExistsError):
        create_root(store, _root_attrs())


def test_newer_schema_version_is_refused(store: Path) -> None:
    root = zarr.open_group(store, mode="r+")
    root.attrs["pano_schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(StoreError, match="newer than this pano understands"):
        open_store(store)


def test_bad_video_attrs_are_a_store_error(store: Path) -> None:
    g = zarr.open_group(store, mode="r+")["videos/A380"]
    g.attrs["split"] = "holdout"
    with pytest.raises(StoreError, match="split"):
        read_video_attrs(store, "A380")


def test_root_attrs_rewrite(store: Path) -> None:
    ra = read_root_attrs(store)
    write_root_attrs(store, ra.model_copy(update={"videos": ["A380", "Camping"]}))
    assert read_root_attrs(store).videos == ["A380", "Camping"]


def test_file_url_and_memory_url_use_the_same_code(store: Path) -> None:
    url = f"file://{store}"
    assert store_exists(url)
    assert list_videos(url) == ["A380", "Camping"]
    xr.testing.assert_identical(
        open_store(url)["videos/A380"].dataset, open_store(store)["videos/A380"].dataset
    )

    mem = f"memory://pano-test-{uuid.uuid4().hex}/s.zarr"
    create_root(mem, _root_attrs())
    write_video_group(mem, "A380", *_video("A380"))
    assert list_videos(mem) == ["A380"]
    tree = open_store(mem)
    xr.testing.assert_identical(
        tree["videos/A380"].dataset, open_store(store)["videos/A380"].dataset
    )
    plain = xr.open_datatree(mem, engine="zarr", consolidated=False)
    assert "A380" in plain["videos"].children
    assert store_nbytes(mem) > 0


def test_store_nbytes(store: Path) -> None:
    n = store_nbytes(store)
    assert n == sum(f.stat().st_size for f in store.rglob("*") if f.is_file())
    assert store_summary(store).store_bytes == n


# ---------------------------------------------------------------------------
# Prediction runs: content hashes and identity
# ---------------------------------------------------------------------------


def test_prediction_content_hash_is_the_same_in_memory_and_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pano.stores import predictions as P

    rng = np.random.default_rng(0)
    arrays = {
        "heatmap": rng.random((7, 4, 6)).astype(np.float32),
        "origin": np.arange(3, dtype=np.int32),
        "scanpath": rng.uniform(-90, 90, (7, 2, 2)),
    }
    monkeypatch.setattr(P, "HASH_BLOCK_BYTES", 100)  # several blocks per array
    digest = P.arrays_sha256(arrays)
    loc = str(tmp_path / "s.zarr")
    create_root(loc, _root_attrs())
    P.create_prediction_run(loc, "run", {"model": "test", "checkpoint": "a.pt", "created": "t0"})
    specs = {
        "heatmap": ArraySpec(("step", "lat", "lon"), arrays["heatmap"]),
        "origin": ArraySpec(("origin",), arrays["origin"]),
        "scanpath": ArraySpec(("step", "rollout", "lonlat"), arrays["scanpath"], chunks=(3, 2, 2)),
    }
    assert P.write_prediction_video(loc, "run", "v", specs, {"video": "v"}) == digest
    g = zarr.open_group(loc, mode="r")["predictions/run/v"]
    assert g.attrs["content_sha256"] == digest and g.attrs["pano_complete"] is True
    # Recomputed from the stored (chunked, compressed) arrays; big-endian copies agree.
    assert P.arrays_sha256({k: g[k] for k in g.array_keys()}) == digest
    swapped = {k: a.astype(a.dtype.newbyteorder(">")) for k, a in arrays.items()}
    assert P.arrays_sha256(swapped) == digest
    # Any change of a value, a name, a shape or a dtype changes the hash.
    changed = dict(arrays, heatmap=arrays["heatmap"].copy())
    changed["heatmap"][6, 3, 5] += 1e-3
    others = [
        changed,
        {**{k: a for k, a in arrays.items() if k != "origin"}, "origins": arrays["origin"]},
        dict(arrays, heatmap=arrays["heatmap"].reshape(7, 6, 4)),
        dict(arrays, origin=arrays["origin"].astype(np.int64)),
    ]
    assert len({digest, *(P.arrays_sha256(a) for a in others)}) == 5
    ident = P.prediction_identity(loc, "run")
    assert ident["checkpoint"] == "a.pt" and ident["created"] == "t0"
    assert ident["videos"] == {"v": digest} and ident["incomplete"] == []
    assert P.prediction_identity(loc, "run", ["v", "w"])["videos"] == {"v": digest, "w": None}
    with pytest.raises(StoreError, match="predictions/nope does not exist"):
        P.prediction_identity(loc, "nope")
