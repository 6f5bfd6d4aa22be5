"""Loading pydantic config models from YAML, ``PANO_*`` environment variables and ``--set``.

Precedence (later wins): the model's defaults < the YAML file < environment variables
``PANO_<SECTION>__<FIELD>`` (``__`` separates nesting levels, e.g.
``PANO_TRAIN__LR=3e-4``) < command-line overrides ``key.sub=value``.

Values from the environment and ``--set`` are parsed as YAML scalars/lists, so
``--set train.lr=1e-4``, ``--set model.hidden=[64,64]`` and ``--set ok=true`` work.
Any problem is raised as :class:`pano.errors.ConfigError` with a one-line message
naming the file, the field and what is wrong.

The environment layer is these few lines, not pydantic-settings: pano's order (YAML <
environment < ``--set``), YAML-parsed values and sections (``PANO_TRAIN__...`` only for the
train config) and an injectable ``environ`` for tests would each need a custom settings
source there.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from pano.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class PanoConfig(BaseModel):
    """Base class of pano's config models: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _set_path(tree: dict[str, Any], dotted: str, value: Any, source: str) -> None:
    keys = [k for k in dotted.split(".") if k]
    if not keys:
        raise ConfigError(f"{source}: empty key in override {dotted!r}; use key.sub=value")
    node = tree
    for k in keys[:-1]:
        nxt = node.setdefault(k, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"{source}: {'.'.join(keys)}: {k!r} is not a section")
        node = nxt
    node[keys[-1]] = value


def _parse_scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_overrides(items: Iterable[str], source: str = "--set") -> dict[str, Any]:
    """Turn ``["a.b=1", "c=x"]`` into a nested dict ``{"a": {"b": 1}, "c": "x"}``."""
    tree: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"{source} {item!r}: expected key=value, e.g. --set train.lr=1e-4")
        key, _, raw = item.partition("=")
        _set_path(tree, key.strip(), _parse_scalar(raw), source)
    return tree


def env_overrides(
    prefix: str = "PANO_", environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Collect ``PANO_A__B=value`` variables as ``{"a": {"b": value}}`` (keys lower-cased)."""
    environ = os.environ if environ is None else environ
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(prefix) or "__" not in name[len(prefix) :]:
            continue
        dotted = name[len(prefix) :].lower().replace("__", ".")
        _set_path(tree, dotted, _parse_scalar(raw), f"environment variable {name}")
    return tree


def deep_merge(base: dict[str, Any], upd: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``upd`` into a copy of ``base``."""
    out = dict(base)
    for k, v in upd.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with a clear error for a missing file or bad syntax."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"{path}:{where} is not valid YAML ({getattr(err, 'problem', err)})"
        ) from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values")
    return data


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line naming the source, each bad field, the problem and the value given."""
    parts = []
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")  # pydantic's prefix for a validator's raise
        if e["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; see the example configs)"
        given = e.get("input")
        shown = (
            ""
            if e["type"] in ("missing", "extra_forbidden") or isinstance(given, dict)
            else f" (got {given!r})"
        )
        parts.append(f"field '{field}': {msg}{shown}")
    return f"{source}: " + "; ".join(parts)


def load_config(
    model: type[M],
    path: str | Path | None = None,
    overrides: Iterable[str] | Mapping[str, Any] = (),
    section: str | None = None,
    env_prefix: str = "PANO_",
    environ: Mapping[str, str] | None = None,
) -> M:
    """Build a config model from defaults, a YAML file, the environment and overrides.

    Args:
        model: the pydantic model class.
        path: optional YAML file.
        overrides: ``["key.sub=value", ...]`` strings or an already nested mapping.
        section: if given, only environment variables ``PANO_<SECTION>__...`` apply,
            with the section stripped (``PANO_TRAIN__LR`` -> ``lr`` for section ``train``).
        env_prefix: prefix of environment variables.
        environ: environment to read (default ``os.environ``).

    Raises:
        ConfigError: unreadable file, bad YAML, unknown field or invalid value.

    """
    data: dict[str, Any] = read_yaml(path) if path is not None else {}
    env = env_overrides(env_prefix, environ)
    if section is not None:
        env = env.get(section.lower(), {}) if isinstance(env.get(section.lower()), dict) else {}
    data = deep_merge(data, env)
    over = overrides if isinstance(overrides, Mapping) else parse_overrides(overrides)
    data = deep_merge(data, over)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        src = str(path) if path is not None else "configuration"
        if env or over:
            src += " (with environment/--set overrides)"
        raise ConfigError(format_validation_error(err, src)) from err
