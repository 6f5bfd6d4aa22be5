"""Named metric profiles: the conventions that differ between saliency toolboxes.

The same metric name hides different choices in every toolbox (see
``docs/eval.md``). pano evaluates under one named :class:`Profile` and writes
:meth:`Profile.to_attrs` into the result's attributes, so every number can be traced
to the exact conventions that produced it.

========================  ===========  ========  ========  ===========  ============
choice                    sphere       dhp       mit       tuebingen    salient360
========================  ===========  ========  ========  ===========  ============
pixel weights             solid angle  none      none      none         sin(row)
eps                       MIT          MIT       MIT       MIT          float64 eps
CC of a constant map      0            0         NaN       0            NaN
NSS std ddof              0 (weighted) 1         1         0            0
NSS of a constant map     0            0         0         0            NaN
duplicate fixations       count        once      once      count        once
KLD formula               mit          mit       mit       mit          salient360
SIM min-max first         no           yes       yes       no           yes, of P*w
AUC-Judd jitter           1e-7         1e-7      1e-7      1e-7         none
AUC-Judd tied thresholds  grouped      grouped   grouped   grouped      sequential
AUC-Borji negatives       area-uniform uniform   uniform   exact, all   uniform
                          (seeded)     (seeded)  (seeded)  pixels       (seeded)
AUC-Borji top threshold   -            incl.     incl.     -            excl.
shuffled AUC              exact        random    random    exact        random
                                       splits    splits                 splits
========================  ===========  ========  ========  ===========  ============

Weights: ``sphere`` uses the exact pixel solid angle of each ERP row
(:func:`pano.geometry.erp_row_solid_angle`); ``salient360`` uses the Salient360!
toolbox's ``sin(linspace(0, pi, H))`` per row (pole rows weigh 0). The weights enter CC
(weighted Pearson), KLD and SIM (maps become probability masses ``P w / sum(P w)``),
NSS (weighted mean/std, ``sphere`` only), exact AUC, AUC-Judd and AUC-Borji (negatives
weighted / sampled by area, ``sphere`` only) and information gain (``sphere`` only).
``salient360`` leaves NSS, the AUCs and information gain unweighted, like its toolbox.

``salient360`` reproduces the formulas of the Salient360! toolbox
(``Salient360Toolbox/comparison/saliencyMetrics.py``, github.com/David-Ef/salient360Toolbox):
KLD ``sum_{G>0} G log((G + eps) / (P + eps))`` of the weighted, sum-normalised maps; SIM
weights first, then min-max, then sum-normalises; AUC-Judd without jitter, one threshold
per fixated pixel in descending order (ties NOT grouped: the MIT formula
``(#{S >= t_k} - k) / (N - N_fix)``); NSS z-scores with ``np.std`` (ddof 0); CC and NSS of a
constant map and KLD/SIM of an all-zero map are NaN (the toolbox divides by zero).
``docs/eval.md`` lists what is not reproduced (its in-place re-weighting, implicit resizing).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Literal, get_args

import numpy as np

from pano.errors import ParameterError, UnknownNameError
from pano.geometry import erp_row_solid_angle

#: MATLAB's ``eps`` as the MIT benchmark code writes it (also pysaliency's).
MIT_EPS = 2.2204e-16
#: NumPy's float64 machine epsilon, the Salient360! toolbox's ``EPSILON``.
FLOAT_EPS = float(np.finfo(np.float64).eps)

#: The named profiles: the one list every config, CLI help and check derives from.
ProfileName = Literal["sphere", "dhp", "mit", "tuebingen", "salient360"]
#: :data:`ProfileName`'s values, in display order (the first is the default).
PROFILE_NAMES: tuple[ProfileName, ...] = get_args(ProfileName)
#: pano's default profile.
DEFAULT_PROFILE: ProfileName = "sphere"

Weighting = Literal["solid_angle", "sin_row", "none"]


@dataclass(frozen=True)
class Profile:
    """One toolbox's conventions for the saliency metrics (see the module table)."""

    name: str
    weights: Weighting
    eps: float = MIT_EPS
    cc_constant: float = 0.0
    nss_ddof: int = 0
    nss_weighted: bool = False
    nss_constant: float = 0.0
    fixation_duplicates: Literal["count", "once"] = "count"
    kld_form: Literal["mit", "salient360"] = "mit"
    sim_minmax: bool = False
    sim_weight_first: bool = False
    auc_weighted: bool = False
    borji: Literal["sampled", "exact"] = "sampled"
    sauc: Literal["sampled", "exact"] = "exact"
    borji_splits: int = 100
    borji_step: float = 0.1
    borji_top: Literal["inclusive", "exclusive"] = "inclusive"
    sauc_splits: int = 100
    sauc_step: float = 0.1
    judd_jitter: float = 1e-7
    judd_ties: Literal["grouped", "sequential"] = "grouped"
    description: str = ""

    def __post_init__(self) -> None:
        for field, value, allowed in (
            ("weights", self.weights, get_args(Weighting)),
            ("fixation_duplicates", self.fixation_duplicates, ("count", "once")),
            ("borji", self.borji, ("sampled", "exact")),
            ("sauc", self.sauc, ("sampled", "exact")),
            ("kld_form", self.kld_form, ("mit", "salient360")),
            ("borji_top", self.borji_top, ("inclusive", "exclusive")),
            ("judd_ties", self.judd_ties, ("grouped", "sequential")),
        ):
            if value not in allowed:
                raise UnknownNameError(
                    f"profile {self.name!r}: {field} must be one of {', '.join(allowed)}, "
                    f"not {value!r}"
                )
        if self.judd_ties == "sequential" and self.auc_weighted:
            raise ParameterError(
                f"profile {self.name!r}: judd_ties='sequential' counts pixels; it cannot be "
                "combined with auc_weighted=True"
            )
        for field, n in (("borji_splits", self.borji_splits), ("sauc_splits", self.sauc_splits)):
            if n < 1:
                raise ParameterError(f"profile {self.name!r}: {field} must be >= 1, got {n}")
        for field, x in (("borji_step", self.borji_step), ("sauc_step", self.sauc_step)):
            if not 0 < x <= 1:
                raise ParameterError(f"profile {self.name!r}: {field} must be in (0, 1], got {x}")

    def row_weights(self, height: int, width: int) -> np.ndarray:
        """Per-row pixel weights ``(H,)`` for CC/KLD/SIM/IG (float64, not normalised)."""
        return _row_weights(self.weights, height, width)

    def auc_row_weights(self, height: int, width: int) -> np.ndarray:
        """Per-row weights of the fixation metrics (AUC negatives, IG's maps), ``(H,)``.

        Ones unless ``auc_weighted``.
        """
        if self.auc_weighted:
            return _row_weights(self.weights, height, width)
        return np.ones(height)

    def to_attrs(self) -> dict[str, object]:
        """All conventions as a JSON-friendly dict (written into every result)."""
        out = asdict(self)
        for key in ("cc_constant", "nss_constant"):
            value = getattr(self, key)
            out[key] = None if math.isnan(value) else value
        return out


@lru_cache(maxsize=64)
def _row_weights(kind: str, height: int, width: int) -> np.ndarray:
    if kind == "solid_angle":
        w = erp_row_solid_angle(width, height)
    elif kind == "sin_row":
        w = np.sin(np.linspace(0.0, math.pi, height))
    else:
        w = np.ones(height)
    w = np.asarray(w, dtype=np.float64)
    w.setflags(write=False)
    return w


_PROFILES: tuple[Profile, ...] = (
    Profile(
        name="sphere",
        weights="solid_angle",
        nss_weighted=True,
        auc_weighted=True,
        borji="sampled",
        sauc="exact",
        description="pano's default: every pixel weighs its exact solid angle; AUC negatives are "
        "area-weighted; shuffled AUC is exact over other frames' fixations",
    ),
    Profile(
        name="dhp",
        weights="none",
        nss_ddof=1,
        fixation_duplicates="once",
        sim_minmax=True,
        sauc="sampled",
        description="DHP (Xu et al. TPAMI 2018): plain Pearson CC on the 360x180 grid, no "
        "weighting; other metrics as the MIT code",
    ),
    Profile(
        name="mit",
        weights="none",
        cc_constant=float("nan"),
        nss_ddof=1,
        fixation_duplicates="once",
        sim_minmax=True,
        sauc="sampled",
        description="MIT saliency benchmark MATLAB code (cvzoya/saliency), random AUC variants "
        "seeded deterministically",
    ),
    Profile(
        name="tuebingen",
        weights="none",
        nss_ddof=0,
        fixation_duplicates="count",
        sim_minmax=False,
        borji="exact",
        sauc="exact",
        description="Tuebingen / pysaliency 0.2.22: exact AUCs, NSS per fixation with np.std, "
        "SIM without min-max",
    ),
    Profile(
        name="salient360",
        weights="sin_row",
        eps=FLOAT_EPS,
        cc_constant=float("nan"),
        nss_ddof=0,
        nss_constant=float("nan"),
        fixation_duplicates="once",
        kld_form="salient360",
        sim_minmax=True,
        sim_weight_first=True,
        sauc="sampled",
        borji_top="exclusive",
        judd_jitter=0.0,
        judd_ties="sequential",
        description="Salient360! toolbox (David-Ef/salient360Toolbox, comparison/"
        "saliencyMetrics.py): sin(linspace(0, pi, H)) row weights in CC, SIM, KLD; NSS, AUCs "
        "and IG unweighted; AUC-Judd without jitter, ties not grouped; NSS with np.std",
    ),
)

#: Every named profile, keyed by its name (exactly :data:`PROFILE_NAMES`, in that order).
PROFILES: dict[str, Profile] = {p.name: p for p in _PROFILES}
if tuple(PROFILES) != PROFILE_NAMES:  # pragma: no cover - a programming error caught at import
    raise RuntimeError("pano.metrics.profiles: PROFILES and ProfileName disagree")


def get_profile(profile: str | Profile) -> Profile:
    """Return the named profile (or pass a :class:`Profile` through).

    Raises:
        UnknownNameError: unknown profile name (the message lists the known ones).

    """
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[profile]
    except (KeyError, TypeError):
        raise UnknownNameError(
            f"unknown metric profile {profile!r}: use one of {', '.join(PROFILE_NAMES)}"
        ) from None
