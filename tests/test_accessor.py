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


def _results_ds() -> xr.Dataset:
    """A results dataset (docs/eval.md layout) where ``content`` has no saliency scores."""
    models = ["uniform", "fcb", "dhp", "content"]
    videos = ["Dancing", "KingKong", "Surfing"]
    rng = np.random.default_rng(0)
    sal = rng.uniform(0.1, 0.9, (4, 3, 5, 2))
    sal[3] = np.nan  # a forecaster: no heatmaps
    hm = rng.uniform(5, 60, (4, 3, 6, 1))
    hm[:3] = np.nan  # only the forecaster has head-movement scores
    return xr.Dataset(
        {
            "saliency": (("model", "video", "step", "metric"), sal),
            "hm": (("model", "video", "horizon", "hm_metric"), hm),
        },
        coords={
            "model": models,
            "video": videos,
            "step": np.arange(5),
            "metric": ["cc", "kld"],
            "horizon": np.arange(1, 7),
            "horizon_s": ("horizon", np.arange(1, 7) * 0.2),
            "hm_metric": ["orthodromic_deg"],
        },
    )


def test_metric_bars_skip_models_without_data_and_centre_bars_on_labels() -> None:
    ds = _results_ds()
    fig = ds.pano.metric_bars("kld")
    ax = fig.axes[0]
    # One bar container per model that has scores: 'content' (all NaN) is not drawn.
    assert [c.get_label() for c in ax.containers] == ["uniform", "fcb", "dhp"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["uniform", "fcb", "dhp"]
    ticks = ax.get_xticks()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Dancing", "KingKong", "Surfing"]
    for v in range(3):  # each video's group of bars is centred on its tick
        centres = [c.patches[v].get_x() + c.patches[v].get_width() / 2 for c in ax.containers]
        assert np.mean(centres) == pytest.approx(ticks[v])
    # Bar heights are the per-video means over steps.
    want = ds["saliency"].sel(metric="kld", model="fcb").mean("step").values
    got = [p.get_height() for p in ax.containers[1].patches]
    np.testing.assert_allclose(got, want)
    # The axis says what the metric is, with its unit and direction, not the raw id.
    assert ax.get_ylabel() == "KLD (nats)"
    assert "lower is better" in ax.get_title()


def test_horizon_curves_skip_models_without_data_and_label_units() -> None:
    fig = _results_ds().pano.horizon_curves("orthodromic_deg")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["content"]
    assert ax.get_ylabel() == "orthodromic distance (deg)"
    assert ax.get_xlabel() == "prediction horizon [s]"
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), np.arange(1, 7) * 0.2)


def test_ortho_heatmap_one_scale_and_labelled_colorbar(tiny: tuple[Path, Path]) -> None:
    ds = select(open_store(tiny[1]), video="A380")
    assert isinstance(ds, xr.Dataset)
    # Both hemispheres use the whole map's range (not each its own), shown by one colorbar.
    hm = ds["heatmap"].isel(step=1).values
    fig = ds.pano.heatmap(step=1, projection="ortho")
    images = [im for ax in fig.axes for im in ax.images]
    assert len(images) == 2
    assert {im.get_clim() for im in images} == {(float(hm.min()), float(hm.max()))}
    colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(colorbars) == 1
    assert colorbars[0].get_ylabel() == "heatmap (max = 1)"
    # The ERP plot's colorbar is labelled the same way.
    erp = ds.pano.heatmap(step=1)
    assert [a.get_ylabel() for a in erp.axes if a.get_label() == "<colorbar>"] == [
        "heatmap (max = 1)"
    ]


def test_scanpaths_distinct_colours_and_explained_start_dots(tiny: tuple[Path, Path]) -> None:
    from pano.stores.accessor import distinct_colors

    ds = select(open_store(tiny[1]), video="A380")
    assert isinstance(ds, xr.Dataset)
    for n in (3, 10, 12, 20, 25):
        assert len(set(distinct_colors(n))) == n
    fig = ds.pano.scanpaths(start=0, stop=2)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["subject 0", "subject 1", "subject 2", "start of a path"]
    colours = {line.get_color() for line in ax.get_lines() if line.get_label().startswith("subj")}
    assert len(colours) == 3
