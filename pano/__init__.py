"""pano: panoramic (360°) video head- and eye-movement research.

The core package holds what every layer shares: sphere conventions
(:mod:`pano.geometry`), errors (:mod:`pano.errors`), configuration loading
(:mod:`pano.config`), the value types every layer passes whole (:mod:`pano.fov`,
:mod:`pano.heatmap_params`), heatmaps, viewports, decoding, metrics and models. The
dataset store lives in :mod:`pano.stores`, the pipelines in :mod:`pano.pipelines`
and the command line in :mod:`pano.cli`. Layers import downward only:
``cli -> pipelines -> stores -> core``.

Importing :mod:`pano` is cheap: heavy modules (torch, zarr, dask) load on use.
"""

from pano._version import __version__

__all__ = ["__version__"]
