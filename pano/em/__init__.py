"""Eye movements on the sphere: angular velocity, I-VT / I-DT event detection, fixation lists.

Core only (numpy + scipy, no store or CLI). :mod:`pano.em.salient360` runs the
Salient360! toolbox's I-VT steps exactly (``EmParams.preset("salient360")``). See
``docs/em.md`` for the pipeline, its parameters, the Salient360! parity table and the
measured accuracy on synthetic data.
"""

from __future__ import annotations

from pano.em.detect import (
    EmResult,
    Fixations,
    detect_events,
    fixation_list,
    label_idt,
    label_ivt,
    postprocess,
)
from pano.em.params import EM_PRESETS, EmEvent, EmMethod, EmParams, EmProfile
from pano.em.velocity import (
    angular_velocity,
    check_gaze,
    check_rate,
    resample_gaze,
    smooth_gaze,
)

__all__ = [
    "EM_PRESETS",
    "EmEvent",
    "EmMethod",
    "EmParams",
    "EmProfile",
    "EmResult",
    "Fixations",
    "angular_velocity",
    "check_gaze",
    "check_rate",
    "detect_events",
    "fixation_list",
    "label_idt",
    "label_ivt",
    "postprocess",
    "resample_gaze",
    "smooth_gaze",
]
