"""How pano's sphere heatmaps are made: :class:`HeatmapParams`, one typed value.

A store records the parameters its ground-truth heatmaps were made with (root attribute
``heatmap``, see ``docs/store.md``); every other heatmap that is compared with them -
prediction heatmaps of ``pano predict-hm``, training-time validation heatmaps, the
inter-observer baseline of ``pano eval`` - is made from that same object, passed whole to
:func:`pano.heatmaps.heatmaps_for`. The defaults are DHP's recipe (Xu et al., TPAMI 2018):
great-circle Gaussians of sigma 7 degrees on a 360 x 180 grid, normalised to max 1.

This module imports no torch (store readers and Dask workers use it); the computation is
in :mod:`pano.heatmaps`.

Grid convention (pano's ERP, :mod:`pano.geometry`): column 0 at the left edge, +lon to
the LEFT, row 0 at the top, degrees. ``pixel="centre"`` samples pixel centres
(lon ``180 - (x + 0.5) * 360 / W``, lat ``90 - (y + 0.5) * 180 / H``); ``pixel="dhp"``
samples DHP's integer positions (lon ``180 - x * 360 / W``, lat ``90 - y * 180 / H``).

>>> p = HeatmapParams(width=4, height=2)
>>> p.sigma_deg, p.normalize
(7.0, 'max')
>>> p.grid_lonlat()[0].tolist()
[135.0, 45.0, -45.0, -135.0]
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from pano.errors import UnknownNameError
from pano.geometry import erp_grid_lonlat

__all__ = ["DHP_SIGMA_DEG", "HeatmapParams", "Normalize", "PixelGrid", "grid_lonlat"]

#: Map normalisation: ``"max"`` (DHP: max 1), ``"sum"`` (sum 1) or ``"none"``.
Normalize = Literal["max", "sum", "none"]
#: Sample positions of the grid: pixel centres, or DHP's integer positions.
PixelGrid = Literal["centre", "dhp"]

#: DHP's Gaussian sigma, degrees of great-circle angle: the default of :class:`HeatmapParams`.
DHP_SIGMA_DEG = 7.0
#: DHP's heatmap grid, pixels (width, height).
DHP_GRID = (360, 180)


def grid_lonlat(
    width: int, height: int, pixel: PixelGrid = "centre"
) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates ``lon (W,)``, ``lat (H,)`` in degrees of a heatmap grid's sample points.

    ``pixel="centre"``: pixel centres (pano's grid, lon 179.5 ... -179.5 on 360 x 180);
    ``pixel="dhp"``: DHP's integer positions, half a pixel off the centres. +lon is LEFT,
    column 0 at the left edge, row 0 at the top.

    Raises:
        UnknownNameError: ``pixel`` is neither ``"centre"`` nor ``"dhp"``.

    """
    if pixel == "centre":
        return erp_grid_lonlat(width, height)
    if pixel == "dhp":
        lon = 180.0 - np.arange(width) * 360.0 / width
        lat = 90.0 - np.arange(height) * 180.0 / height
        return lon, lat
    raise UnknownNameError(f"pixel must be 'centre' or 'dhp', not {pixel!r}")


class HeatmapParams(BaseModel):
    """How ground-truth heatmaps and the step grid are made (DHP's recipe by default).

    A frozen value: compare, hash and pass it whole (a changed one is a new
    ``HeatmapParams(**{**params.model_dump(), "sigma_deg": 5.0})``, validated again).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sigma_deg: float = Field(
        default=DHP_SIGMA_DEG,
        gt=0,
        le=180,
        description="Gaussian sigma, degrees of great-circle angle",
    )
    width: int = Field(default=DHP_GRID[0], ge=2, le=8192, description="heatmap width in pixels")
    height: int = Field(default=DHP_GRID[1], ge=1, le=4096, description="heatmap height in pixels")
    step_frames: int = Field(default=10, ge=1, description="video frames per ground-truth step")
    drop_last_steps: int = Field(
        default=5, ge=0, description="steps dropped at the end of each video (DHP: 5)"
    )
    normalize: Normalize = Field(default="max", description="map normalisation (DHP: max)")
    pixel: PixelGrid = Field(
        default="centre", description="sample points: pixel centres, or DHP's integer positions"
    )

    def grid_lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """``lon (W,)``, ``lat (H,)`` degrees of the sample points (see :func:`grid_lonlat`)."""
        return grid_lonlat(self.width, self.height, self.pixel)
