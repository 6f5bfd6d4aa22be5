"""Head-movement models: observe a history of head directions (+ viewports), predict the future.

Every trajectory model implements :class:`pano.models.base.HMForecaster`:
``forecast(history_xyz (B, T_h, 3), viewports=None) -> (B, H, 3)`` unit vectors in pano's
canonical frame (x front, y left, z up; see :mod:`pano.geometry`). The DHP agent
(:mod:`pano.models.dhp`) is a policy, not a forecaster: it acts step by step on 42x42
viewports; its action geometry and reward live beside it in :mod:`pano.models.dhp`.

Use :func:`build_model` to make a model from its config name and keyword arguments.
"""

from __future__ import annotations

from typing import Any

from pano.errors import UnknownNameError
from pano.models.base import HMForecaster
from pano.models.const_velocity import ConstantVelocity
from pano.models.content import ContentForecaster
from pano.models.dhp import DHPAgent
from pano.models.no_motion import NoMotion
from pano.models.seq2seq import Seq2SeqForecaster
from pano.models.track import SaliencyForecaster, TrackForecaster

#: Model kinds accepted by :func:`build_model` (the ``model.kind`` config field).
MODELS: dict[str, type] = {
    "no_motion": NoMotion,
    "const_velocity": ConstantVelocity,
    "seq2seq": Seq2SeqForecaster,
    "content": ContentForecaster,
    "saliency": SaliencyForecaster,
    "track": TrackForecaster,
    "dhp": DHPAgent,
}


def build_model(kind: str, **kwargs: Any) -> Any:
    """Instantiate the model named ``kind`` (a key of :data:`MODELS`) with ``kwargs``."""
    try:
        cls = MODELS[kind]
    except KeyError:
        raise UnknownNameError(
            f"unknown model kind {kind!r}; choose one of {sorted(MODELS)}"
        ) from None
    return cls(**kwargs)


__all__ = [
    "MODELS",
    "ConstantVelocity",
    "ContentForecaster",
    "DHPAgent",
    "HMForecaster",
    "NoMotion",
    "SaliencyForecaster",
    "Seq2SeqForecaster",
    "TrackForecaster",
    "build_model",
]
