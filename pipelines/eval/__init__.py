"""``pano eval``: score models and honest baselines with sphere-aware metrics, on Dask.

One module per job:

* :mod:`~pano.pipelines.eval.config` - :class:`EvalConfig` and the baseline names;
* :mod:`~pano.pipelines.eval.plan` - input checks, models, origins and the task list;
* :mod:`~pano.pipelines.eval.baselines` - what baselines fit on the train split;
* :mod:`~pano.pipelines.eval.tasks` - the worker side (one task per chunk of work);
* :mod:`~pano.pipelines.eval.assemble` - the per-step score dataset;
* :mod:`~pano.pipelines.eval.provenance` - the results' attributes;
* :mod:`~pano.pipelines.eval.run` - :func:`evaluate`, the entry point.

The store's layout (prediction runs, results groups, their checks and identity) is
:mod:`pano.stores`' business (:mod:`pano.stores.predictions`, :mod:`pano.stores.results`).
Results layout and metric conventions: ``docs/eval.md``.
"""

from pano.pipelines.eval.config import (
    ALL_BASELINES,
    HM_BASELINES,
    SALIENCY_BASELINES,
    SCANPATH_BASELINES,
    EvalConfig,
    HMEvalParams,
    SaliencyEvalParams,
)
from pano.pipelines.eval.run import EvalResult, evaluate
from pano.stores.results import open_results

__all__ = [
    "ALL_BASELINES",
    "HM_BASELINES",
    "SALIENCY_BASELINES",
    "SCANPATH_BASELINES",
    "EvalConfig",
    "EvalResult",
    "HMEvalParams",
    "SaliencyEvalParams",
    "evaluate",
    "open_results",
]
