"""Event codes and the one parameter object of eye-movement event detection.

:class:`EmEvent` is the per-sample label (small integers, stored as ``int8``);
:class:`EmParams` holds every parameter of :func:`pano.em.detect_events`, each with its
unit and the source of its default. The defaults follow the Salient360! toolbox's
documented I-VT pipeline as summarised in pano's reference notes (Savitzky-Golay window 9,
order 2; I-VT threshold in the 100-120 deg/s range; minimum fixation ~80 ms). They are NOT
yet checked number for number against the toolbox's code (issue #14, "Salient360! parity").

>>> p = EmParams()
>>> p.method, p.velocity_threshold_deg_s, p.savgol_window, p.min_fixation_s
('ivt', 120.0, 9, 0.08)
>>> int(EmEvent.FIXATION), int(EmEvent.BLINK)
(1, 3)
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pano.errors import ParameterError

__all__ = ["EmEvent", "EmMethod", "EmParams"]

#: Detection method: velocity threshold (``"ivt"``) or dispersion threshold (``"idt"``).
EmMethod = Literal["ivt", "idt"]


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

    * ``method="ivt"``: the Salient360! toolbox's documented pipeline labels with I-VT.
    * ``resample_hz=None``: no resampling (samples are used at their own, constant rate).
      The toolbox resamples to a fixed rate first; set e.g. ``90.0`` to do the same.
    * ``savgol_window=9``, ``savgol_order=2``: the toolbox's documented Savitzky-Golay
      smoothing. Applied to the x, y, z components of the unit vectors, per run of
      valid (non-NaN) samples, then re-normalised; ``savgol_window=0`` turns it off. Runs
      shorter than the window are left unsmoothed.
    * ``velocity_threshold_deg_s=120``: top of the toolbox's documented 100-120 deg/s range.
    * ``dispersion_deg=2.0``, ``idt_window_s=0.1``: I-DT (Salvucci & Goldberg 2000) with a
      100 ms minimum window; dispersion is the largest great-circle angle of the window's
      samples from their mean direction (not the max pairwise angle), so ~2 deg tolerates
      +-2 deg of noise around the centre.
    * ``merge_gap_s=0.075``, ``merge_angle_deg=0.5``: two fixations separated by at most
      75 ms of non-fixation whose centres are within 0.5 deg are merged (the defaults of
      the Tobii I-VT fixation filter, Olsen 2012).
    * ``min_fixation_s=0.08``: the toolbox's documented ~80 ms minimum; shorter fixations
      become ``UNKNOWN``.
    * ``rate_tolerance=0.05``: without resampling, every sample interval must be within 5 %
      of the median interval (else the rate changes within the recording: an error).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: EmMethod = "ivt"
    resample_hz: float | None = Field(default=None, gt=0, le=10000)
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
        return self
