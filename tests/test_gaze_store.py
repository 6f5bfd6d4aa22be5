"""The ``gaze/<dataset>`` store group: part-wise writing, resume, completeness, lazy reading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pano.errors import ShapeError, StoreError, StoreExistsError
from pano.geometry import gazehub_to_camvec
from pano.stores.gaze import GazeLayout, GazeWriter, list_gaze, open_gaze, write_gaze
from pano.stores.gaze_samples import GazeConvention, GazeProtocol, GazeSamples

CONV = GazeConvention(
    dataset="toy", source_format="test arrays", angle_order="[yaw, pitch]", units="radians",
    frame="GazeHub camera axes", normalisation="none", mirroring="none",
)  # fmt: skip
LOPO = GazeProtocol("lopo", ("p00", "p01", "p02"), "leave one person out")


def _samples(n: int = 18, eyes: bool = False, seed: int = 0) -> GazeSamples:
    rng = np.random.default_rng(seed)
    yp = np.stack([rng.uniform(-0.5, 0.5, n), rng.uniform(-0.3, 0.3, n)], axis=1)
    extra = {}
    if eyes:
        extra = {
            "left": rng.integers(0, 256, (n, 6, 10, 3), dtype=np.uint8),
            "right": rng.integers(0, 256, (n, 6, 10, 3), dtype=np.uint8),
            "rmat": rng.normal(size=(n, 3, 3)),
        }
    return GazeSamples(
        face=rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8),
        gaze_xyz=gazehub_to_camvec(yp[:, 0], yp[:, 1]),
        gaze_angles=yp,
        subject=np.array([f"p{i // 6:02d}" for i in range(n)]),
        source=np.array([f"Image/p{i // 6:02d}/face/{i}.jpg" for i in range(n)]),
        mirrored=np.arange(n) % 2 == 1,
        **extra,
    )


def _layout(s: GazeSamples, block: int = 4, fingerprint: str = "a") -> GazeLayout:
    shapes = {
        k: (v.shape[1], v.shape[2]) for k, v in s.arrays().items() if k in ("face", "left", "right")
    }
    fields = tuple(k for k in s.arrays() if k in ("left", "right", "rmat"))
    return GazeLayout(len(s), shapes, fields, block=block, chunk=2, fingerprint=fingerprint)


def _take(s: GazeSamples, a: int, b: int) -> GazeSamples:
    return GazeSamples(**{k: v[a:b] for k, v in s.arrays().items()})


def test_round_trip_values_attrs_and_indices(tmp_path: Path) -> None:
    s = _samples(eyes=True)
    store = tmp_path / "g.zarr"
    data = write_gaze(store, "toy", s, CONV, LOPO, {"pano_version": "x"}, block=4, chunk=2)
    assert list_gaze(store) == ["toy"]
    for name, want in s.arrays().items():
        got = data.array(name)
        np.testing.assert_array_equal(got, want, err_msg=name)
    assert data.array("gaze_xyz").dtype == np.float64
    assert data.convention == CONV and data.protocol == LOPO
    assert data.subjects == ["p00", "p01", "p02"]
    np.testing.assert_array_equal(data.indices(subject="p01"), np.arange(6, 12))
    sub = data.samples(data.indices(subject=["p02"]))
    np.testing.assert_array_equal(sub.face, s.face[12:])
    assert data.arrays["face"].chunks[0] == 2  # lazy zarr, chunked by samples
    assert data.arrays["gaze_angles"].attrs["order"] == "[yaw, pitch]"
    with pytest.raises(StoreError, match="no subject p09"):
        data.indices(subject="p09")
    with pytest.raises(StoreError, match="has no splits"):
        data.indices(split="train")


def test_interrupted_part_is_rewritten_and_complete_is_marked_last(tmp_path: Path) -> None:
    s = _samples()
    store = tmp_path / "g.zarr"
    lay = _layout(s)
    w = GazeWriter.create(store, "toy", lay, CONV, LOPO, ["p00", "p01", "p02"], {})
    assert lay.n_parts == 5
    w.write_part(0, _take(s, 0, 4))
    w.write_rows(4, _take(s, 4, 8))  # killed before part 1's mark
    with pytest.raises(StoreError, match="is incomplete; re-run"):
        open_gaze(store, "toy")
    assert list_gaze(store) == [] and list_gaze(store, complete=False) == ["toy"]
    with pytest.raises(StoreError, match="4 of 5 parts are not written"):
        w.finish()
    # A re-run with the same layout resumes: only the unmarked parts are pending.
    w2 = GazeWriter.create(store, "toy", lay, CONV, LOPO, ["p00", "p01", "p02"], {})
    assert w2.pending_parts() == [1, 2, 3, 4]
    for p in w2.pending_parts():
        a, b = lay.part_rows(p)
        w2.write_part(p, _take(s, a, b))
    w2.finish()
    np.testing.assert_array_equal(open_gaze(store, "toy").array("face"), s.face)
    # Done: a third run finds nothing to do.
    assert GazeWriter.create(store, "toy", lay, CONV, LOPO, [], {}).pending_parts() == []


def test_other_input_needs_overwrite_and_predictions_do_not_count(tmp_path: Path) -> None:
    s = _samples()
    store = tmp_path / "g.zarr"
    write_gaze(store, "toy", s, CONV, LOPO, {}, block=4)
    root_attrs = __import__("zarr").open_group(str(store), mode="r").attrs
    assert root_attrs["dataset"] == "gaze"
    import zarr

    g = zarr.open_group(str(store), mode="a")
    g["gaze/toy"].create_group("predictions").create_group(
        "run1", attributes={"pano_complete": False}
    )
    assert list_gaze(store) == ["toy"]
    open_gaze(store, "toy")
    with pytest.raises(StoreExistsError, match="pass --overwrite"):
        GazeWriter.create(store, "toy", _layout(s, fingerprint="b"), CONV, LOPO, [], {})
    w = GazeWriter.create(store, "toy", _layout(s, fingerprint="b"), CONV, LOPO, [], {},
                          overwrite=True)  # fmt: skip
    assert w.pending_parts() == [0, 1, 2, 3, 4]
    assert list_gaze(store) == []


def test_misaligned_or_mismatched_writes_are_refused(tmp_path: Path) -> None:
    s = _samples()
    w = GazeWriter.create(tmp_path / "g.zarr", "toy", _layout(s), CONV, LOPO, [], {})
    with pytest.raises(ShapeError, match="part boundary"):
        w.write_rows(2, _take(s, 2, 6))
    with pytest.raises(ShapeError, match=r"part 1 holds rows 4\.\.8"):
        w.write_part(1, _take(s, 4, 7))
    with pytest.raises(ShapeError, match="carry fields"):
        w.write_part(0, _take(_samples(eyes=True), 0, 4))
    with pytest.raises(ShapeError, match="multiple of the chunk"):
        GazeLayout(10, {"face": (8, 8)}, (), block=3, chunk=2)


def test_missing_group_and_store_errors(tmp_path: Path) -> None:
    from pano.errors import StoreNotFoundError

    with pytest.raises(StoreNotFoundError):
        open_gaze(tmp_path / "none.zarr", "toy")
    store = tmp_path / "g.zarr"
    write_gaze(store, "toy", _samples(), CONV, LOPO, {}, block=4)
    with pytest.raises(StoreError, match="no gaze data set 'other'; it holds toy"):
        open_gaze(store, "other")


def test_gaze_beside_videos_in_open_store_and_info(tmp_path: Path) -> None:
    from pano.stores import open_store, store_summary

    store = tmp_path / "g.zarr"
    s = _samples()
    write_gaze(store, "toy", s, CONV, LOPO, {}, block=4)
    tree = open_store(store)
    ds = tree["gaze/toy"].to_dataset()
    assert ds["face"].dims == ("sample", "height", "width", "rgb")
    np.testing.assert_array_equal(ds["gaze_xyz"].values, s.gaze_xyz)
    text = store_summary(store).format()
    assert "gaze/toy" in text and "18 samples" in text


def test_gaze_added_to_an_existing_store_leaves_its_root_alone(tmp_path: Path) -> None:
    from pano.geometry import CANONICAL_FRAME
    from pano.stores.reader import list_videos, read_root_attrs
    from pano.stores.schema import Conventions, Provenance, RootAttrs
    from pano.stores.writer import create_root

    store = tmp_path / "v.zarr"
    attrs = RootAttrs(
        dataset="pvs-hm",
        conventions=Conventions(canonical_frame=dict(CANONICAL_FRAME), source={"name": "x"}),
        provenance=Provenance(pano_version="0", created="2026-01-01T00:00:00+00:00"),
    )
    create_root(store, attrs)
    write_gaze(store, "toy", _samples(), CONV, LOPO, {}, block=4, chunk=2)
    assert read_root_attrs(store).dataset == "pvs-hm"
    assert list_videos(store) == [] and list_gaze(store) == ["toy"]
