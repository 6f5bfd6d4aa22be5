"""The pano dataset store: chunked, compressed Zarr v3 opened as a labelled xarray tree.

Layout and rules: ``docs/store.md``. Reading::

    from pano.stores import open_store, list_videos, read_video_attrs
    tree = open_store("pvs.zarr")            # xarray.DataTree (also memory://, file://, ...)
    list_videos("pvs.zarr")                  # complete video groups
    tree["videos/A380"].dataset.heatmap      # labelled arrays

Writing is done by :mod:`pano.pipelines.ingest` through :mod:`pano.stores.writer`;
prediction runs, evaluation results and eye-movement events have their own modules
(:mod:`pano.stores.predictions`, :mod:`pano.stores.results`, :mod:`pano.stores.em`);
drawing streamed viewports (``pano viewport``) is :mod:`pano.pipelines.viewport`'s.
Importing this package also registers the ``.pano`` xarray accessor (plots).
"""

from typing import TYPE_CHECKING, Any

from pano.stores import accessor as _accessor  # noqa: F401  (registers the .pano accessor)
from pano.stores.em import (
    EM_GROUP,
    em_state,
    list_em_videos,
    open_em,
    read_em_array,
    read_em_attrs,
    read_fixations,
)
from pano.stores.predictions import (
    check_predictions,
    prediction_identity,
    prediction_runs,
    read_prediction_array,
)
from pano.stores.reader import (
    VideoShape,
    list_videos,
    open_root,
    open_store,
    open_video,
    open_video_group,
    read_array,
    read_root_attrs,
    read_video_array,
    read_video_attrs,
    store_exists,
    store_nbytes,
    video_shape,
    zarr_store,
)
from pano.stores.results import list_results, open_results, stale_reasons, write_results
from pano.stores.schema import (
    COMPLETE_ATTR,
    PREDICTIONS_GROUP,
    RESULTS_GROUP,
    SCHEMA_VERSION,
    VIDEOS_GROUP,
    EmGroupAttrs,
    HeatmapParams,
    ResampleParams,
    RootAttrs,
    Splits,
    VideoAttrs,
    VideoSource,
)
from pano.stores.summary import StoreSummary, store_summary

# The streaming API needs torch; it is imported on first use so that `import pano.stores`
# (e.g. in every Dask worker of an ingest or eval) does not pay for torch. The type
# checker sees the real definitions (not the Any of __getattr__).
_STREAMING = ("ViewportBatch", "resolve_video_path", "stream_viewports")
if TYPE_CHECKING:
    from pano.stores.streaming import ViewportBatch, resolve_video_path, stream_viewports


def __getattr__(name: str) -> Any:
    if name in _STREAMING:
        from pano.stores import streaming

        return getattr(streaming, name)
    raise AttributeError(f"module 'pano.stores' has no attribute {name!r}")


__all__ = [
    "COMPLETE_ATTR",
    "EM_GROUP",
    "EmGroupAttrs",
    "PREDICTIONS_GROUP",
    "RESULTS_GROUP",
    "SCHEMA_VERSION",
    "VIDEOS_GROUP",
    "HeatmapParams",
    "ResampleParams",
    "RootAttrs",
    "Splits",
    "StoreSummary",
    "VideoAttrs",
    "VideoShape",
    "VideoSource",
    "ViewportBatch",
    "check_predictions",
    "em_state",
    "list_em_videos",
    "open_em",
    "read_em_array",
    "read_em_attrs",
    "read_fixations",
    "list_results",
    "list_videos",
    "open_results",
    "open_root",
    "open_store",
    "open_video",
    "prediction_identity",
    "prediction_runs",
    "read_prediction_array",
    "open_video_group",
    "read_array",
    "read_root_attrs",
    "read_video_array",
    "read_video_attrs",
    "resolve_video_path",
    "store_exists",
    "store_nbytes",
    "stale_reasons",
    "store_summary",
    "stream_viewports",
    "video_shape",
    "write_results",
    "zarr_store",
]
