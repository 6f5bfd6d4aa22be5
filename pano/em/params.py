"""Event codes and the one parameter object of eye-movement event detection.

:class:`EmEvent` is the per-sample label (small integers, stored as ``int8``);
:class:`EmParams` holds every parameter of :func:`pano.em.detect_events`, each with its
unit and the source of its default. The defaults follow the Salient360! toolbox's
example I-VT pipeline (its ``scripting/staticStimuli.py``: resample to 90 Hz,
Savitzky-Golay window 9, order 2, I-VT at 120 deg/s; ``I_VT.parse``: minimum fixation
80 ms) with pano's own smoothing of the gaze vectors and merging of close fixations.
``EmParams.preset("salient360")`` (``profile="salient360"``) runs the toolbox's steps
exactly instead (:mod:`pano.em.salient360`; ``docs/em.md`` has the parity table).

>>> p = EmParams()
>>> p.method, p.resample_hz, p.velocity_threshold_deg_s, p.savgol_window, p.min_fixation_s
('ivt', 90.0, 120.0, 9, 0.08)
>>> EmParams.preset("salient360").profile, EmParams.preset("salient360").merge_gap_s
('salient360', 0.0)
>>> int(EmEvent.FIXATION), int(EmEvent.BLINK)
(1, 3)
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pano.errors import ParameterError

__all__ = ["EM_PRESETS", "EmEvent", "EmMethod", "EmParams", "EmProfile"]

#: Detection method: velocity threshold (``"ivt"``) or dispersion threshold (``"idt"``).
EmMethod = Literal["ivt", "idt"]
#: Whose pipeline runs: pano's (:func:`pano.em.detect_events`'s steps) or the Salient360!
#: toolbox's, step for step (:mod:`pano.em.salient360`).
EmProfile = Literal["pano", "salient360"]


class EmEvent(IntEnum):
    """Per-sample eye-movement label (``int8`` codes).

    * ``UNKNOWN`` (0): not classified (e.g. a sample outside every I-DT window that could not
      be judged, or a fixation dropped as too short).
    * ``FIXATION`` (1): part of a fixation (including smooth pursuit slower than the threshold).
    * ``SACCADE`` (2): part of a saccade (fast movement).
    * ``BLINK`` (3): the gaze sample is missing (NaN: blink or tracking loss).
    """

    UNKNOWN = 0
    FIXATION = 1
    SACCADE = 2
    BLINK = 3


class EmParams(BaseModel):
    """Every parameter of event detection; angles in degrees, times in seconds.

    Defaults and their sources:

    * ``profile="pano"``: pano's pipeline; ``"salient360"`` runs the toolbox's steps
      exactly (I-VT only, no merging; see :mod:`pano.em.salient360`).
    * ``method="ivt"``: the Salient360! toolbox's pipeline labels with I-VT.
    * ``resample_hz=90``: resample to 90 Hz first, as the toolbox's example pipeline does
      ("resample to original head movement sampling rate"). Its Savitzky-Golay window is
      a number of SAMPLES, so it means the same time span (9 samples = 100 ms) only at a
      fixed rate; resampling makes detection independent of the tracker's rate. ``None``
      uses the samples at their own rate, which must then be constant.
    * ``savgol_window=9``, ``savgol_order=2``: the toolbox's Savitzky-Golay settings.
      pano applies them to the x, y, z components of the unit vectors (per run of valid,
      non-NaN samples, then re-normalised; runs shorter than the window are left as they
      are); the toolbox applies them to the speed signal. ``savgol_window=0`` turns it off.
    * ``velocity_threshold_deg_s=120``: the toolbox's default (``helper.parsingSettings``).
    * ``dispersion_deg=2.0``, ``idt_window_s=0.1``: I-DT (Salvucci & Goldberg 2000) with a
      100 ms minimum window; dispersion is the largest great-circle angle of the window's
      samples from their mean direction (not the max pairwise angle), so ~2 deg tolerates
      +-2 deg of noise around the centre.
    * ``merge_gap_s=0.075``, ``merge_angle_deg=0.5``: two fixations separated by at most
      75 ms of non-fixation whose centres are within 0.5 deg are merged (the defaults of
      the Tobii I-VT fixation filter, Olsen 2012; the toolbox does not merge).
    * ``min_fixation_s=0.08``: the toolbox's 80 ms minimum (``I_VT.parse``); shorter
      fixations become ``UNKNOWN`` (saccades under ``profile="salient360"``).
    * ``rate_tolerance=0.05``: without resampling, every sample interval must be within 5 %
      of the median interval (else the rate changes within the recording: an error).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: EmProfile = "pano"
    method: EmMethod = "ivt"
    resample_hz: float | None = Field(default=90.0, gt=0, le=10000)
    savgol_window: int = Field(default=9, ge=0)
    savgol_order: int = Field(default=2, ge=0)
    velocity_threshold_deg_s: float = Field(default=120.0, gt=0)
    dispersion_deg: float = Field(default=2.0, gt=0, le=180)
    idt_window_s: float = Field(default=0.1, gt=0)
    merge_gap_s: float = Field(default=0.075, ge=0)
    merge_angle_deg: float = Field(default=0.5, ge=0, le=180)
    min_fixation_s: float = Field(default=0.08, ge=0)
    rate_tolerance: float = Field(default=0.05, gt=0, lt=1)

    @model_validator(mode="after")
    def _check_savgol(self) -> EmParams:
        if self.savgol_window and (self.savgol_window % 2 == 0 or self.savgol_window < 3):
            raise ParameterError(
                f"em savgol_window={self.savgol_window}: must be 0 (off) or an odd number >= 3"
            )
        if self.savgol_window and self.savgol_order >= self.savgol_window:
            raise ParameterError(
                f"em savgol_order={self.savgol_order} must be below savgol_window="
                f"{self.savgol_window}"
            )
        if self.profile == "salient360" and (self.method != "ivt" or self.merge_gap_s):
            raise ParameterError(
                f"em profile 'salient360' runs the toolbox's I-VT without merging: set "
                f"method='ivt' and merge_gap_s=0 (got method={self.method!r}, "
                f"merge_gap_s={self.merge_gap_s})"
            )
        return self

    @classmethod
    def preset(cls, name: str, **overrides: object) -> EmParams:
        """A named parameter set (:data:`EM_PRESETS`), optionally with fields changed.

        ``"pano"``: the defaults. ``"salient360"``: the Salient360! toolbox's example
        pipeline (``scripting/staticStimuli.py``) run step for step: resample to 90 Hz,
        Savitzky-Golay 9 / 2 on the speed, I-VT at 120 deg/s, fixations under 80 ms become
        saccades, no merging. Its command line's defaults differ (no resampling, no
        filter): ``EmParams.preset("salient360", resample_hz=None, savgol_window=0)``.

        Raises:
            pano.errors.ParameterError: unknown preset name (the message lists them).

        """
        try:
            base = EM_PRESETS[name]
        except KeyError:
            raise ParameterError(
                f"unknown em preset {name!r}: use one of {', '.join(EM_PRESETS)}"
            ) from None
        return cls.model_validate({**base, **overrides})


#: The named presets of :meth:`EmParams.preset`: field values over the defaults.
EM_PRESETS: dict[str, dict[str, object]] = {
    "pano": {},
    "salient360": {
        "profile": "salient360",
        "method": "ivt",
        "resample_hz": 90.0,
        "savgol_window": 9,
        "savgol_order": 2,
        "velocity_threshold_deg_s": 120.0,
        "merge_gap_s": 0.0,
        "min_fixation_s": 0.08,
    },
}
