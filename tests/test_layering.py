"""The layer rule, enforced: cli -> pipelines -> stores -> core, and no production pano.testing.

pano is four layers in one namespace (docs/architecture.md): core (``pano/``, imported as
``pano.*`` except the three mapped packages), ``stores/`` (``pano.stores``), ``pipelines/``
(``pano.pipelines``) and ``cli/`` (``pano.cli``). A module may import its own layer and the
layers below it, never one above. ``pano.testing`` holds test fixtures: no production module
imports it (tests and benchmarks may).

The checker reads the source with :mod:`ast`, so it sees every import statement wherever it
is: module level, inside functions, under ``if TYPE_CHECKING:``; relative imports; ``from
pano import stores``; and ``importlib.import_module(...)`` / ``__import__(...)`` with a string
literal (an f-string counts by its constant prefix, e.g. ``f"pano.cli.{name}"``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Source folder -> the package it installs as (pyproject's package-dir).
FOLDERS = {
    "pano": "pano",
    "stores": "pano.stores",
    "pipelines": "pano.pipelines",
    "cli": "pano.cli",
}
#: Layers, lowest first; a module may import its own layer and those before it.
LAYERS = ("core", "stores", "pipelines", "cli")
TESTING = "pano.testing"


#: Modules in a folder whose layer is not the folder's: ``python -m pano`` is the CLI.
ENTRY_POINTS = {"pano.__main__": "cli"}


def layer_of(module: str) -> str | None:
    """The layer of a ``pano`` module name; None for modules outside pano."""
    if module in ENTRY_POINTS:
        return ENTRY_POINTS[module]
    for layer in ("stores", "pipelines", "cli"):
        if module == f"pano.{layer}" or module.startswith(f"pano.{layer}."):
            return layer
    if module == "pano" or module.startswith("pano."):
        return "core"
    return None


def is_testing(module: str) -> bool:
    """True for ``pano.testing`` and its sub-modules."""
    return module == TESTING or module.startswith(TESTING + ".")


@dataclass(frozen=True)
class Import:
    """One import found in a file: the module it brings in and where."""

    module: str
    line: int


def _module_name(folder: str, path: Path, root: Path) -> tuple[str, bool]:
    """``(dotted module name, is a package __init__)`` of a source file."""
    rel = path.relative_to(root / folder).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join([FOLDERS[folder], *parts]), path.name == "__init__.py"


def _resolve_relative(module: str | None, level: int, current: str, is_pkg: bool) -> str:
    """Absolute name of ``from <level dots><module> import ...`` inside ``current``."""
    base = current.split(".")
    if not is_pkg:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([module] if module else [])])


def _string_target(node: ast.expr) -> str | None:
    """The module named by a string literal or an f-string's constant prefix."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value.rstrip(".") or None
    return None


def _is_dynamic_import(func: ast.expr) -> bool:
    """``importlib.import_module``, ``import_module`` or ``__import__``."""
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id in ("import_module", "__import__")


def imports_of(source: str, module: str, is_pkg: bool) -> list[Import]:
    """Every pano module a file's source imports (statements anywhere, dynamic literals)."""
    found: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _resolve_relative(node.module, node.level, module, is_pkg)
            else:
                base = node.module or ""
            found.append(Import(base, node.lineno))
            if base == "pano":  # `from pano import stores` imports the package pano.stores
                found += [Import(f"pano.{a.name}", node.lineno) for a in node.names]
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func) and node.args:
            target = _string_target(node.args[0])
            if target:
                found.append(Import(target, node.lineno))
    return [i for i in found if layer_of(i.module) is not None]


def find_violations(root: Path) -> list[str]:
    """Upward imports and production imports of ``pano.testing`` under ``root``.

    ``root`` holds the four source folders (``pano/ stores/ pipelines/ cli/``); each
    problem is one line ``path:line: module imports target (why)``.
    """
    problems: list[str] = []
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*.py")):
            module, is_pkg = _module_name(folder, path, root)
            if is_testing(module):
                continue  # the fixtures themselves; their own imports are held to core below
            src_layer = layer_of(module)
            assert src_layer is not None
            where = path.relative_to(root).as_posix()
            for imp in imports_of(path.read_text(encoding="utf-8"), module, is_pkg):
                dst_layer = layer_of(imp.module)
                assert dst_layer is not None
                if is_testing(imp.module):
                    problems.append(
                        f"{where}:{imp.line}: {module} imports {imp.module} "
                        "(pano.testing is for tests only; use pano.synth / pano.video)"
                    )
                elif LAYERS.index(dst_layer) > LAYERS.index(src_layer):
                    allowed = ", ".join(LAYERS[: LAYERS.index(src_layer) + 1])
                    problems.append(
                        f"{where}:{imp.line}: {module} imports {imp.module} "
                        f"(upward: {src_layer} may import only {allowed})"
                    )
    # pano.testing lives in the core folder: it may use core only.
    for path in sorted((root / "pano" / "testing").rglob("*.py")):
        module, is_pkg = _module_name("pano", path, root)
        where = path.relative_to(root).as_posix()
        for imp in imports_of(path.read_text(encoding="utf-8"), module, is_pkg):
            if layer_of(imp.module) != "core":
                problems.append(
                    f"{where}:{imp.line}: {module} imports {imp.module} (upward: core only)"
                )
    return problems


def test_the_code_keeps_the_layer_rule() -> None:
    problems = find_violations(REPO)
    assert not problems, "layer rule broken:\n" + "\n".join(problems)


def test_the_checker_sees_the_real_imports() -> None:
    """Guard against a checker that finds nothing: known downward imports are seen."""
    app = (REPO / "cli" / "app.py").read_text(encoding="utf-8")
    found = {i.module for i in imports_of(app, "pano.cli.app", False)}
    assert "pano.cli" in found  # importlib.import_module(f"pano.cli.{name}")
    demo = (REPO / "pipelines" / "demo.py").read_text(encoding="utf-8")
    found = {i.module for i in imports_of(demo, "pano.pipelines.demo", False)}
    assert {"pano.synth", "pano.pipelines.ingest", "pano.stores"} <= found


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    """A minimal four-folder source tree with the given extra files."""
    for folder in (*FOLDERS, "pano/testing"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "__init__.py").write_text("", encoding="utf-8")
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    return tmp_path


ALLOWED = {
    "pano/geometry.py": "import numpy as np\nfrom pano.errors import PanoError\n",
    "stores/reader.py": "from pano.geometry import x\nfrom . import schema\nfrom .schema import y\n"
    "from .. import geometry\n",
    "pipelines/ingest.py": "from pano.stores import reader\nfrom pano import geometry\n",
    "cli/app.py": (
        "import importlib\n"
        "from pano.pipelines.ingest import run\n"
        "def main(name):\n"
        "    importlib.import_module(f'pano.cli.{name}')\n"
    ),
    "pano/testing/__init__.py": "from pano.synth import frames\n",
}


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    assert find_violations(_tree(tmp_path, ALLOWED)) == []


@pytest.mark.parametrize(
    ("rel", "source", "expect"),
    [
        # stores -> pipelines, inside a function.
        (
            "stores/streaming.py",
            "def f():\n    from pano.pipelines.viewport import render\n",
            "stores/streaming.py:2: pano.stores.streaming imports pano.pipelines.viewport (upward",
        ),
        # core -> stores through `from pano import stores`.
        ("pano/heatmaps.py", "from pano import stores\n", "pano.heatmaps imports pano.stores "),
        # core -> cli by importlib and a string literal.
        (
            "pano/models/base.py",
            "import importlib\nm = importlib.import_module('pano.cli.app')\n",
            "pano/models/base.py:2: pano.models.base imports pano.cli.app",
        ),
        # pipelines -> cli by a relative import from a sub-package.
        ("pipelines/train/run.py", "from ...cli import app\n", "imports pano.cli (upward"),
        # stores -> pipelines by `from .. import pipelines`.
        ("stores/writer.py", "from .. import pipelines\n", "imports pano.pipelines (upward"),
        # stores -> pipelines under TYPE_CHECKING.
        (
            "stores/accessor.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pano.pipelines.eval\n",
            "pano.stores.accessor imports pano.pipelines.eval",
        ),
        # production (here: a pipeline) importing the test fixtures.
        (
            "pipelines/demo.py",
            "from pano.testing import barcode_frame\n",
            "pano.pipelines.demo imports pano.testing (pano.testing is for tests only",
        ),
        ("cli/synth.py", "def f():\n    import pano.testing\n", "imports pano.testing "),
        # the fixtures themselves must stay in core.
        (
            "pano/testing/__init__.py",
            "from pano.pipelines.ingest import run\n",
            "pano.testing imports pano.pipelines.ingest (upward: core only)",
        ),
    ],
)
def test_a_planted_violation_is_found(tmp_path: Path, rel: str, source: str, expect: str) -> None:
    problems = find_violations(_tree(tmp_path, {**ALLOWED, rel: source}))
    assert len(problems) >= 1, problems
    assert any(expect in p for p in problems), problems
