"""Every ``pano.*`` name the docs mention exists: docs/*.md and README.md.

A dotted name (``pano.metrics.Fixations``, ``pano.stores.writer.write_group(...)``) is
resolved by importing its longest module prefix and reading the rest as attributes;
``from pano.x import a, b`` lines import each name. Names after a dot, a slash or a quote
(``ds.pano.heatmap``, ``docs/pano.md``, a placeholder string ``"pano.x"``) are not names
of the package and are left out.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]

_DOTTED = re.compile(r"(?<![\w./\"'-])pano(?:\.[A-Za-z_]\w*)+")
_FROM = re.compile(r"^\s*from (pano(?:\.\w+)*) import \(?([\w ,]+)\)?\s*$", re.M)


def _resolve(dotted: str) -> object:
    """The object a dotted ``pano.*`` name refers to (ImportError/AttributeError if none)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        name = ".".join(parts[:cut])
        try:
            obj: object = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name is not None and not name.startswith(err.name) and err.name != name:
                raise  # the module exists but one of ITS imports is missing
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def _names() -> list[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        rel = doc.relative_to(ROOT).as_posix()
        out.update((rel, m.group(0)) for m in _DOTTED.finditer(text))
        for m in _FROM.finditer(text):
            for name in m.group(2).split(","):
                if name.strip():
                    out.add((rel, f"{m.group(1)}.{name.strip()}"))
    return sorted(out)


NAMES = _names()


def test_the_docs_name_something() -> None:
    assert len(NAMES) > 20, NAMES  # the scan itself works
    assert ("docs/eval.md", "pano.metrics.Fixations") in NAMES


@pytest.mark.parametrize(("doc", "name"), NAMES, ids=[f"{d}:{n}" for d, n in NAMES])
def test_documented_name_is_importable(doc: str, name: str) -> None:
    try:
        _resolve(name)
    except (ImportError, AttributeError) as err:
        pytest.fail(
            f"{doc} names {name}, which cannot be imported ({err}): export it or fix the text"
        )
