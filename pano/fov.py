"""The field of view of a viewport: one typed value, validated once.

Convention: a :class:`FoV` is the *full* angle of a gnomonic (pinhole) viewport in
degrees, ``(horizontal, vertical)`` = ``(h_deg, v_deg)``: the image spans
``+-tan(h_deg / 2)`` and ``+-tan(v_deg / 2)`` in the camera's tangent plane
(``fx = (w/2) / tan(h_deg/2)``, see :mod:`pano.viewport` and ``docs/conventions.md``).
A gnomonic image cannot reach 180 degrees (``tan(90 deg)`` is infinite), so each angle
must lie in the open interval ``(0, 180)``.

Everything in pano that takes a field of view (the viewport sampler, the head-movement
overlap metrics, the content and DHP models, the ``pano eval`` / ``pano train-hm``
configs, ``pano viewport --fov``) accepts what :meth:`FoV.parse` accepts - one number (the
same angle both ways), a pair ``(h, v)``, a string ``"110x113"`` or ``"90"``, or a
``FoV`` - and turns it into a ``FoV`` at its entry; a bad value is one
:class:`pano.errors.ParameterError` naming the argument (inside a config, pydantic's field
path is added and ``pano.config.load_config`` reports it as a ``ConfigError``).

A ``FoV`` is a tuple ``(h_deg, v_deg)`` of floats, so ``fov[0]``, ``h, v = fov`` and
``fov == (110.0, 113.0)`` keep working; in a pydantic model it is serialised to JSON as
``[h_deg, v_deg]``.

>>> FoV.parse("110x113")
FoV(h_deg=110.0, v_deg=113.0)
>>> FoV.parse(90) == (90.0, 90.0)
True
>>> str(DHP_FOV)
'110x113'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias, cast

from pano.errors import ParameterError

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue
    from pydantic_core import CoreSchema

__all__ = ["CONTENT_FOV", "DHP_FOV", "VIEWPORT_FOV", "FoV", "FoVLike"]


class _FoVFields(NamedTuple):
    h_deg: float
    v_deg: float


class FoV(_FoVFields):
    """Field of view ``(h_deg, v_deg)``: full horizontal and vertical angles in degrees.

    Construct with ``FoV(h, v)`` (both checked: finite, in ``(0, 180)``) or
    :meth:`FoV.parse` for the forms users write.

    Raises:
        ParameterError: an angle is not a finite number in ``(0, 180)`` degrees.

    """

    __slots__ = ()

    def __new__(cls, h_deg: float, v_deg: float) -> FoV:  # noqa: D102 (documented on the class)
        return cls._checked(h_deg, v_deg, "fov")

    @classmethod
    def _checked(cls, h: Any, v: Any, name: str, given: Any = None) -> FoV:
        where = f"{name}: " if name else ""
        try:
            pair = (float(h), float(v))
        except (TypeError, ValueError):
            shown = (h, v) if given is None else given
            raise ParameterError(
                f"{where}the field of view must be numbers of degrees, like 90, (110, 113) or "
                f"'110x113'; got {shown!r}"
            ) from None
        if not all(math.isfinite(a) and 0.0 < a < 180.0 for a in pair):
            raise ParameterError(
                f"{where}both field-of-view angles must be in (0, 180) degrees (a gnomonic "
                f"viewport), got {pair[0]:g}x{pair[1]:g}"
            )
        return super().__new__(cls, *pair)

    @classmethod
    def _make(cls, iterable: Any) -> FoV:  # type: ignore[override]
        """As ``FoV(*iterable)``, checked (``_replace`` goes through here too)."""
        h, v = iterable
        return cls._checked(h, v, "fov")

    @classmethod
    def parse(cls, value: FoVLike, name: str = "fov_deg") -> FoV:
        """The ``FoV`` a user wrote: one number, a pair, ``"HxV"`` / ``"H"`` text, or a ``FoV``.

        Args:
            value: ``90`` (both angles), ``(110, 113)`` / ``[110, 113]``, ``"110x113"``
                (also ``"110X113"``, ``"110×113"``), ``"90"``, or a ``FoV``.
            name: the argument, option or field the value came from (named in errors;
                ``""`` where the caller names it, as pydantic does with the field path).

        Raises:
            ParameterError: not one of these forms, or an angle outside ``(0, 180)`` degrees.

        """
        if isinstance(value, FoV):
            return value
        parts: Sequence[Any]
        if isinstance(value, str):
            parts = [p.strip() for p in value.lower().replace("×", "x").split("x")]
        elif isinstance(value, bool):
            parts = []
        elif isinstance(value, numbers.Real):
            parts = [value]
        elif isinstance(value, Sequence):
            parts = list(value)
        elif hasattr(value, "__len__") and hasattr(value, "__iter__"):  # arrays, tensors
            parts = list(cast(Iterable[Any], value))
        else:
            parts = []
        if len(parts) == 1:
            parts = [parts[0], parts[0]]
        if len(parts) != 2 or any(isinstance(p, bool) for p in parts):
            where = f"{name}: " if name else ""
            raise ParameterError(
                f"{where}expected a field of view in degrees as one number, a pair "
                f"(horizontal, vertical) or 'HxV' like '110x113', got {value!r}"
            )
        return cls._checked(parts[0], parts[1], name, value)

    def __str__(self) -> str:
        """``"110x113"``: horizontal x vertical degrees (what :meth:`parse` reads back)."""
        return f"{self.h_deg:g}x{self.v_deg:g}"

    def __repr__(self) -> str:
        return f"FoV(h_deg={self.h_deg!r}, v_deg={self.v_deg!r})"

    # -- pydantic: a field typed ``FoV`` takes what :meth:`parse` takes, dumps [h, v] -----

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        """Validate with :meth:`parse`; serialise to JSON as ``[h_deg, v_deg]``."""
        from pydantic_core import core_schema

        def validate(value: Any) -> FoV:
            return cls.parse(value, "")  # pydantic names the field (its full path)

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda f: [f.h_deg, f.v_deg], when_used="json"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """JSON schema: one number, a pair of numbers or ``"HxV"`` text, in degrees."""
        number = {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 180}
        return {
            "anyOf": [
                number,
                {"type": "array", "items": number, "minItems": 2, "maxItems": 2},
                {"type": "string", "pattern": r"^\s*[0-9.]+\s*([xX×]\s*[0-9.]+\s*)?$"},
            ],
            "description": "field of view (horizontal, vertical) in degrees, each in (0, 180)",
        }


#: What :meth:`FoV.parse` accepts.
FoVLike: TypeAlias = FoV | float | Sequence[float] | str

#: DHP's agent observation (Xu et al., TPAMI 2018): 110 x 113 degrees; also the default
#: viewport of the head-movement overlap metrics (``pano eval``'s ``hm.fov_deg``).
DHP_FOV = FoV(110.0, 113.0)

#: Default field of view of pano's viewport API (:class:`pano.viewport.ViewportSampler`,
#: ``pano viewport``, ``stream_viewports``).
VIEWPORT_FOV = FoV(90.0, 90.0)

#: Default field of view of the content-aware forecaster's viewports
#: (:class:`pano.models.content.ContentForecaster`, ``model.fov_deg`` of ``pano train-hm``).
CONTENT_FOV = FoV(120.0, 120.0)
