"""Dependencies match the code: pano imports no third-party module it does not declare.

docs/architecture.md: "every one declared in ``pyproject.toml`` is imported by pano, and pano
imports nothing undeclared". The production folders are read with :mod:`ast` (every import,
module level or inside a function); each top-level module that is not pano's own nor the
standard library must belong to a distribution named in ``[project] dependencies`` or an
optional extra (``dashboard``: bokeh; optional backends such as torchcodec are tried and
skipped when absent). ``import pano.stores`` must not pull in torch: store readers run in
Dask workers (docs/architecture.md, "Lazily exported names"). Every package folder is listed
in ``[tool.setuptools] packages`` (a missing one would be left out of the wheel).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("pano", "stores", "pipelines", "cli")
#: Import names that are part of a declared distribution's public API but ship separately.
PART_OF = {"pydantic_core": "pydantic"}
#: Optional backends: imported inside ``try`` and skipped when not installed.
OPTIONAL = {"torchcodec"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    out: set[str] = set()
    for req in reqs:  # "dask[distributed]>=2024.8" declares dask and distributed
        m = re.match(r"\s*([\w.-]+)(?:\[([\w,\s.-]+)\])?", req)
        assert m is not None, req
        out.add(_norm(m.group(1)))
        out.update(_norm(e) for e in (m.group(2) or "").split(",") if e.strip())
    return out


def _imports() -> dict[str, str]:
    """Top-level module -> one file importing it, over the four production folders."""
    found: dict[str, str] = {}
    for folder in FOLDERS:
        for path in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    found.setdefault(name.split(".")[0], path.relative_to(REPO).as_posix())
    return found


def test_every_third_party_import_is_declared() -> None:
    declared = _declared()
    dists = packages_distributions()
    undeclared = []
    for top, where in sorted(_imports().items()):
        if top == "pano" or top in sys.stdlib_module_names or top in OPTIONAL:
            continue
        owners = {_norm(d) for d in dists.get(top, [])} | {_norm(PART_OF.get(top, top))}
        if not owners & declared:
            undeclared.append(f"{top} (imported by {where})")
    assert not undeclared, "imported but not declared in pyproject.toml: " + ", ".join(undeclared)


def test_store_readers_do_not_import_torch() -> None:
    code = "import sys, pano.stores; print(sorted(m for m in sys.modules if m == 'torch'))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]", "import pano.stores loaded torch"


def test_every_sub_package_is_listed_in_pyproject() -> None:
    """A package folder missing from ``[tool.setuptools] packages`` is left out of the wheel."""
    tool = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    listed = set(tool["setuptools"]["packages"])
    dirs = {v: k for k, v in tool["setuptools"]["package-dir"].items()}  # folder -> package
    found = set()
    for folder, package in dirs.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder).parts
            found.add(".".join((package, *rel)))
    assert found - listed == set(), f"add to pyproject's packages: {sorted(found - listed)}"
