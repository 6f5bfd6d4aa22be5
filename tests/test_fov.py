"""The field of view is one typed value (pano.fov.FoV), validated once, used everywhere."""

from __future__ import annotations

import doctest
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel

import pano.fov
from pano.config import load_config
from pano.errors import ConfigError, PanoError, ParameterError
from pano.fov import CONTENT_FOV, DHP_FOV, VIEWPORT_FOV, FoV

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "value, want",
    [
        (90, (90.0, 90.0)),
        (90.5, (90.5, 90.5)),
        (np.float32(60), (60.0, 60.0)),
        (np.int64(60), (60.0, 60.0)),
        ((110, 113), (110.0, 113.0)),
        ([110.0, 113.0], (110.0, 113.0)),
        (np.array([10.0, 20.0]), (10.0, 20.0)),
        ("110x113", (110.0, 113.0)),
        (" 110 X 113 ", (110.0, 113.0)),
        ("110×113", (110.0, 113.0)),
        ("75", (75.0, 75.0)),
        (FoV(1, 179), (1.0, 179.0)),
    ],
)
def test_parse_accepts_the_forms_users_write(value: object, want: tuple[float, float]) -> None:
    fov = FoV.parse(value)  # type: ignore[arg-type]
    assert isinstance(fov, FoV) and fov == want
    assert (fov.h_deg, fov.v_deg) == want and tuple(fov) == want
    assert all(type(a) is float for a in fov)


@pytest.mark.parametrize(
    "value, match",
    [
        ((0, 90), r"in \(0, 180\) degrees.*got 0x90"),
        ((90, 180), r"in \(0, 180\) degrees.*got 90x180"),
        (-10, r"got -10x-10"),
        ((float("nan"), 90), r"got nanx90"),
        ((float("inf"), 90), r"got infx90"),
        ("wide", r"numbers of degrees.*got 'wide'"),
        ("90x", r"numbers of degrees"),
        ("1x2x3", r"one number, a pair.*got '1x2x3'"),
        ([1, 2, 3], r"got \[1, 2, 3\]"),
        ([], r"got \[\]"),
        (None, r"got None"),
        (True, r"got True"),
        ((True, 90), r"got \(True, 90\)"),
    ],
)
def test_parse_refuses_with_one_parameter_error_naming_the_argument(
    value: object, match: str
) -> None:
    with pytest.raises(ParameterError, match=match) as info:
        FoV.parse(value, "option --fov")  # type: ignore[arg-type]
    msg = str(info.value)
    assert msg.startswith("option --fov: ") and "\n" not in msg
    assert isinstance(info.value, ValueError) and isinstance(info.value, PanoError)


def test_constructor_replace_and_make_are_checked() -> None:
    with pytest.raises(ParameterError, match="got 0x90"):
        FoV(0, 90)
    with pytest.raises(ParameterError, match="got 0x113"):
        DHP_FOV._replace(h_deg=0)
    with pytest.raises(ParameterError):
        FoV._make([200, 10])
    assert DHP_FOV._replace(v_deg=100) == FoV(110, 100)


def test_a_fov_is_a_hashable_picklable_tuple_with_a_readable_text() -> None:
    assert DHP_FOV == (110.0, 113.0) and hash(DHP_FOV) == hash((110.0, 113.0))
    h, v = DHP_FOV
    assert (h, v) == (110.0, 113.0) and DHP_FOV[0] == 110.0
    back = pickle.loads(pickle.dumps(DHP_FOV))
    assert type(back) is FoV and back == DHP_FOV
    assert str(DHP_FOV) == "110x113" and FoV.parse(str(FoV(90.5, 60))) == (90.5, 60.0)
    assert repr(VIEWPORT_FOV) == "FoV(h_deg=90.0, v_deg=90.0)"
    assert CONTENT_FOV == (120.0, 120.0)


def test_doctests() -> None:
    result = doctest.testmod(pano.fov, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


class _Model(BaseModel):
    fov_deg: FoV = DHP_FOV


def test_pydantic_field_parses_names_the_field_and_dumps_a_pair() -> None:
    assert _Model(fov_deg="90x60").fov_deg == FoV(90, 60)  # type: ignore[arg-type]
    assert _Model.model_validate({"fov_deg": [90, 60]}).fov_deg == (90.0, 60.0)
    m = _Model()
    assert m.fov_deg is DHP_FOV
    assert m.model_dump(mode="json") == {"fov_deg": [110.0, 113.0]}
    assert _Model.model_validate_json(m.model_dump_json()) == m
    schema = _Model.model_json_schema()["properties"]["fov_deg"]
    assert schema["default"] == [110.0, 113.0] and "anyOf" in schema
    with pytest.raises(ValueError, match=r"fov_deg\n.*\(0, 180\) degrees"):
        _Model(fov_deg=(200, 10))  # type: ignore[arg-type]


def test_eval_config_fov_errors_are_one_config_error_naming_the_field() -> None:
    from pano.pipelines.eval import EvalConfig

    cfg = load_config(EvalConfig, overrides=["store=s.zarr", "hm.fov_deg=90x60"])
    assert cfg.hm.fov_deg == FoV(90, 60)
    assert load_config(EvalConfig, overrides=["store=s.zarr"]).hm.fov_deg is DHP_FOV
    for bad, needle in (("[0, 90]", "got 0x90"), ("wide", "'wide'"), ("200", "200x200")):
        with pytest.raises(ConfigError) as info:
            load_config(EvalConfig, overrides=["store=s.zarr", f"hm.fov_deg={bad}"])
        msg = str(info.value)
        assert "field 'hm.fov_deg'" in msg and needle in msg and "\n" not in msg, msg


def test_train_configs_use_the_fov_type() -> None:
    from pano.pipelines.train import TrainConfig

    dhp = load_config(TrainConfig, REPO / "pipelines" / "configs" / "dhp.yaml")
    assert dhp.model.kind == "dhp" and dhp.model.fov_deg == DHP_FOV
    content = load_config(TrainConfig, REPO / "pipelines" / "configs" / "content_viewport.yaml")
    assert content.model.kind == "content" and isinstance(content.model.fov_deg, FoV)
    default = load_config(TrainConfig, overrides=["model.kind=content"])
    assert default.model.fov_deg == CONTENT_FOV  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match=r"field 'model\.dhp\.fov_deg'.*got 110x190"):
        load_config(TrainConfig, overrides=["model.kind=dhp", "model.fov_deg=110x190"])
    with pytest.raises(ConfigError, match=r"field 'model\.content\.fov_deg'"):
        load_config(TrainConfig, overrides=["model.kind=content", "model.fov_deg=[0, 10]"])


def test_every_fov_consumer_validates_through_fov() -> None:
    from pano.metrics.hm import hm_scores, tile_sets, viewport_area, viewport_overlap
    from pano.models.content import ContentForecaster
    from pano.viewport import ViewportSampler, viewport_outline

    v = np.array([[1.0, 0.0, 0.0]])
    assert viewport_area("110x113") == viewport_area(DHP_FOV) == viewport_area((110, 113))
    assert viewport_area() == viewport_area(DHP_FOV)  # the default is DHP's
    for call in (
        lambda: viewport_area((0, 10)),
        lambda: viewport_overlap(v, v, (190, 10)),
        lambda: tile_sets(v, fov="wide"),
        lambda: hm_scores(v, v, ["orthodromic_deg"], fov=(10, 0)),  # checked even if unused
        lambda: viewport_outline(0, 0, 0, (180, 90)),
        lambda: ViewportSampler(fov_deg=-1),
        lambda: ContentForecaster(fov_deg=(10, 200)),
    ):
        with pytest.raises(ParameterError, match=r"\(0, 180\) degrees|numbers of degrees"):
            call()
    assert ViewportSampler().fov_deg is VIEWPORT_FOV
    assert ViewportSampler(remap_compat=True).fov_deg is DHP_FOV
    assert ViewportSampler(fov_deg="100x80").fov_deg == FoV(100, 80)
    assert ContentForecaster().fov_deg == CONTENT_FOV


#: Production code that may spell out a named field of view's numbers: its one definition.
_FOV_HOME = {"pano/fov.py"}
_FOV_LITERALS = re.compile(r"\(\s*110(\.0)?\s*,\s*113(\.0)?\s*\)|\(\s*90(\.0)?\s*,\s*90(\.0)?\s*\)"
                           r"|\(\s*120(\.0)?\s*,\s*120(\.0)?\s*\)|\"90x90\"")  # fmt: skip


def test_named_fields_of_view_are_defined_once() -> None:
    """DHP's 110x113, the viewport API's 90x90 and the content model's 120x120 live in pano.fov."""
    found = []
    for folder in ("pano", "stores", "pipelines", "cli"):
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = str(path.relative_to(REPO))
            if rel in _FOV_HOME:
                continue
            for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#", 1)[0]
                if _FOV_LITERALS.search(code) and '"""' not in code and "``" not in code:
                    found.append(f"{rel}:{i}: {line.strip()}")
    assert not found, "use pano.fov's named FoV:\n" + "\n".join(found)
