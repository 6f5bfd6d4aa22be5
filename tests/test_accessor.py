"""The .pano xarray accessor and selection helpers on a real tiny store."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
import xarray as xr

from pano.errors import StoreError
from pano.pipelines.ingest import IngestConfig, ingest_pvs_hm
from pano.stores import open_store
from pano.stores.accessor import select, split_seam
from pano.synth import EM_FILE, HM_FILE, SynthConfig, write_synthetic_dataset

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("acc")
    write_synthetic_dataset(d, SynthConfig(videos=2, subjects=3, seconds=2, width=128), workers=1)
    store = d / "s.zarr"
    ingest_pvs_hm(
        IngestConfig(
            videos=d,
            hm=d / HM_FILE,
            em=d / EM_FILE,
            store=str(store),
            workers=0,
            heatmap={"width": 72, "height": 36, "drop_last_steps": 0},
        )
    )
    return d, store


def test_select_by_video_subject_time_split(tiny: tuple[Path, Path]) -> None:
    _, store = tiny
    tree = open_store(store)
    assert select(tree, split="train") == ["A380", "Camping"]
    ds = select(tree, video="A380", subject=[0, 2], time=slice(0.5, 1.0))
    assert isinstance(ds, xr.Dataset)
    assert list(ds["subject"].values) == [0, 2]
    assert float(ds["time"].min()) >= 0.5 and float(ds["time"].max()) <= 1.0
    with pytest.raises(StoreError, match="no video 'Nope'"):
        select(tree, video="Nope")
    with pytest.raises(StoreError, match="no split 'bogus'"):
        select(tree, split="bogus")


def test_plots_return_figures(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    data, store = tiny
    ds = select(open_store(store), video="A380")
    assert isinstance(ds, xr.Dataset)
    figs = {
        "hm": ds.pano.heatmap(step=2),
        "hm_time": ds.pano.heatmap(time=1.0, frame=np.zeros((64, 128, 3), np.uint8)),
        "ortho": ds.pano.heatmap(step=1, projection="ortho"),
        "sp": ds.pano.scanpaths(subjects=[0, 1], start=0, stop=2),
        "vp": ds.pano.viewport_gallery(0, [0.5, 1.5], str(data / "A380.mp4"), size=(48, 48)),
    }
    for name, fig in figs.items():
        out = tmp_path / f"{name}.png"
        fig.savefig(out)
        assert out.stat().st_size > 5_000, name
    # The heatmap drawn is the stored one (same values, not a re-computation).
    img = figs["hm"].axes[0].images[-1].get_array()
    np.testing.assert_array_equal(np.asarray(img), ds["heatmap"].isel(step=2).values)
    with pytest.raises(ValueError, match="exactly one"):
        ds.pano.heatmap()


def test_results_plots_need_results(tiny: tuple[Path, Path]) -> None:
    ds = select(open_store(tiny[1]), video="A380")
    assert isinstance(ds, xr.Dataset)
    with pytest.raises(StoreError, match="no saliency"):
        ds.pano.metric_bars()


def test_split_seam_cuts_crossings_and_nans() -> None:
    lon = np.array([170.0, 178.0, -178.0, -170.0, np.nan, -160.0, -150.0])
    lat = np.zeros_like(lon)
    segs = split_seam(lon, lat)
    assert [len(s[0]) for s in segs] == [2, 2, 2]
    assert all(np.all(np.abs(np.diff(s[0])) < 180) for s in segs)
