"""Heatmap parameters are one core value (pano.heatmap_params.HeatmapParams), passed whole."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

import pano.heatmap_params
from pano.errors import ConfigError, UnknownNameError
from pano.geometry import lonlat_to_vec, vec_to_lonlat
from pano.heatmap_params import DHP_SIGMA_DEG, HeatmapParams, grid_lonlat
from pano.heatmaps import grid_vectors, heatmaps_for, sphere_heatmaps

REPO = Path(__file__).resolve().parents[1]


def test_one_class_for_core_and_store() -> None:
    import pano.stores
    import pano.stores.schema

    assert pano.stores.HeatmapParams is HeatmapParams
    assert pano.stores.schema.HeatmapParams is HeatmapParams
    assert pano.stores.schema.RootAttrs.model_fields["heatmap"].annotation is HeatmapParams


def test_defaults_are_dhp_and_the_value_is_frozen() -> None:
    p = HeatmapParams()
    got = (p.sigma_deg, p.width, p.height, p.normalize, p.pixel)
    assert got == (7.0, 360, 180, "max", "centre")
    assert p.sigma_deg == DHP_SIGMA_DEG
    with pytest.raises(ValidationError, match="frozen"):
        p.sigma_deg = 5.0  # type: ignore[misc]
    assert hash(p) == hash(HeatmapParams()) and p == HeatmapParams()
    assert HeatmapParams(sigma_deg=5) != p
    with pytest.raises(ValidationError, match="sigma_deg"):
        HeatmapParams(sigma_deg=0)
    with pytest.raises(ValidationError, match="extra"):
        HeatmapParams(sigmaa=3)  # type: ignore[call-arg]
    assert HeatmapParams.model_validate(p.model_dump(mode="json")) == p


def test_doctests() -> None:
    result = doctest.testmod(pano.heatmap_params, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("pixel", ["centre", "dhp"])
def test_grid_lonlat_is_the_grid_the_heatmaps_sample(pixel: str) -> None:
    p = HeatmapParams(width=12, height=6, pixel=pixel)  # type: ignore[arg-type]
    lon, lat = p.grid_lonlat()
    assert lon.shape == (12,) and lat.shape == (6,)
    lo, la = vec_to_lonlat(grid_vectors(12, 6, pixel).numpy())  # type: ignore[arg-type]
    np.testing.assert_allclose(np.asarray(la)[:, 0], lat, atol=1e-12)
    # lon 180 and -180 are one meridian (the DHP grid's column 0 sits on the seam).
    np.testing.assert_allclose(np.cos(np.deg2rad(np.asarray(lo)[0] - lon)), np.ones(12), atol=1e-12)
    if pixel == "dhp":
        assert lon[0] == 180.0 and lat[0] == 90.0
    else:
        assert lon[0] == 180.0 - 15.0 and lat[0] == 90.0 - 15.0
    with pytest.raises(UnknownNameError, match="'centre' or 'dhp'"):
        grid_lonlat(4, 2, "corner")  # type: ignore[arg-type]


def test_heatmaps_for_passes_every_parameter() -> None:
    rng = np.random.default_rng(0)
    pts = torch.as_tensor(
        lonlat_to_vec(rng.uniform(-180, 180, (3, 5)), rng.uniform(-80, 80, (3, 5)))
    )
    for p in (
        HeatmapParams(width=36, height=18),
        HeatmapParams(width=40, height=20, sigma_deg=12.0, normalize="sum", pixel="dhp"),
        HeatmapParams(width=24, height=12, sigma_deg=3.0, normalize="none"),
    ):
        got = heatmaps_for(pts, p)
        want = sphere_heatmaps(pts, p.width, p.height, p.sigma_deg, p.normalize, p.pixel)
        assert got.shape == (3, p.height, p.width)
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    # A different sigma gives different maps: the parameter is really used.
    a = heatmaps_for(pts, HeatmapParams(width=36, height=18, sigma_deg=5.0))
    b = heatmaps_for(pts, HeatmapParams(width=36, height=18, sigma_deg=9.0))
    assert not torch.allclose(a, b)


def test_prediction_sigma_must_be_the_stores() -> None:
    from pano.pipelines.train.config import PredictConfig

    store = HeatmapParams()
    PredictConfig().check_store_heatmap(store, "s.zarr")  # null: the store's
    PredictConfig(sigma_deg=7.0).check_store_heatmap(store, "s.zarr")  # old configs repeat it
    with pytest.raises(ConfigError) as info:
        PredictConfig(sigma_deg=5.0).check_store_heatmap(store, "s.zarr")
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("s.zarr: predict.sigma_deg is 5 ")
    assert "sigma_deg 7" in msg and "drop predict.sigma_deg" in msg


#: Production code that may spell DHP's heatmap sigma: its one definition.
_SIGMA_HOME = {"pano/heatmap_params.py"}


def test_the_sigma_default_is_defined_once() -> None:
    """No production module repeats ``sigma_deg ... 7.0`` (or unpacks HeatmapParams by hand)."""
    sigma = re.compile(r"sigma\w*\s*[:=].*\b7(\.0)?\b|Field\(\s*7(\.0)?\s*,")
    unpack = re.compile(r"sphere_heatmaps\(")
    found = []
    for folder in ("pano", "stores", "pipelines", "cli"):
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = str(path.relative_to(REPO))
            for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#", 1)[0]
                if rel not in _SIGMA_HOME and sigma.search(code):
                    found.append(f"{rel}:{i}: {line.strip()}")
                if rel != "pano/heatmaps.py" and unpack.search(code):
                    found.append(f"{rel}:{i}: call heatmaps_for(points, params): {line.strip()}")
    assert not found, "\n".join(found)
