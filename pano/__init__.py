"""pano: panoramic (360°) video head- and eye-movement research.

The core package holds what every layer shares: sphere conventions
(:mod:`pano.geometry`), errors (:mod:`pano.errors`), configuration loading
(:mod:`pano.config`), the value types every layer passes whole (:mod:`pano.fov`,
:mod:`pano.heatmap_params`), heatmaps, viewports, decoding, metrics and models. The
dataset store lives in :mod:`pano.stores`, the pipelines in :mod:`pano.pipelines`
and the command line in :mod:`pano.cli`. Layers import downward only:
``cli -> pipelines -> stores -> core``.

Importing :mod:`pano` is cheap: heavy modules (torch, zarr, dask) load on use.

Importing it also sets ``OMP_WAIT_POLICY=PASSIVE`` in the environment unless the variable
is already set (:data:`pano.threads.OMP_WAIT_DEFAULT`): torch's OpenMP threads then sleep
between parallel regions instead of spinning. On a busy machine the spinning threads take
the cores the main thread needs (measured: an LSTM training loop ~10x slower, small ops up
to 1000x, on 2 cores at load 10; ``benchmarks/bench_omp_wait.py``). It takes effect only
when pano is imported before torch (the ``pano`` command and Dask workers always are); set
the variable yourself (``ACTIVE``) to keep OpenMP's spinning.
"""

import os as _os

from pano._version import __version__
from pano.threads import OMP_WAIT_DEFAULT as _OMP_WAIT_DEFAULT

_os.environ.setdefault("OMP_WAIT_POLICY", _OMP_WAIT_DEFAULT)  # before torch loads OpenMP

__all__ = ["__version__"]
