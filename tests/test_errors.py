"""One error hierarchy, used: production code raises only :class:`pano.errors.PanoError`s.

Every error pano raises on purpose is a ``PanoError`` subclass that also inherits the
matching built-in (``except ValueError`` keeps working for callers who do not know pano).
The checker reads every module of the four layers (``pano/ stores/ pipelines/ cli/``) with
:mod:`ast` and fails on ``raise ValueError(...)`` / ``raise KeyError`` / ... of any
built-in exception class, with these exceptions:

* ``raise NotImplementedError`` as the whole body of a method (an abstract method);
* Python's protocol signals, which are not errors: ``StopIteration`` (iterators) and
  ``AttributeError`` raised by a ``__getattr__`` (a module's lazy exports);
* module-level raises (import-time consistency checks of a module's own tables, which a
  user cannot cause).

Re-raises (``raise``, ``raise err``) are not built-in raises. The checker is tested on
planted violations, so it cannot pass by seeing nothing.
"""

from __future__ import annotations

import ast
import builtins
import inspect
from pathlib import Path

import pytest

from pano import errors
from pano.errors import PanoError

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("pano", "stores", "pipelines", "cli")

#: Every built-in exception class name (ValueError, KeyError, OSError, ...).
BUILTIN_EXCEPTIONS = frozenset(
    name
    for name, obj in vars(builtins).items()
    if isinstance(obj, type) and issubclass(obj, BaseException)
)


def _is_abstract_body(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """The function only (documents and) raises NotImplementedError."""
    body = list(fn.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return len(body) == 1 and isinstance(body[0], ast.Raise)


def builtin_raises(source: str, filename: str) -> list[str]:
    """``"file:line raises Name"`` for each raise of a built-in exception inside a function."""
    tree = ast.parse(source, filename)
    bad = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if not isinstance(exc, ast.Name) or exc.id not in BUILTIN_EXCEPTIONS:
                continue
            if exc.id == "NotImplementedError" and _is_abstract_body(fn):
                continue
            if exc.id in ("StopIteration", "StopAsyncIteration"):
                continue  # the iterator protocol
            if exc.id == "AttributeError" and fn.name in ("__getattr__", "__getattribute__"):
                continue  # the attribute protocol
            bad.append(f"{filename}:{node.lineno} raises {exc.id}")
    return sorted(set(bad))


def test_production_code_raises_only_pano_errors() -> None:
    """No function of the four layers raises a bare built-in exception."""
    bad: list[str] = []
    n_files = 0
    for folder in FOLDERS:
        for path in sorted((REPO / folder).rglob("*.py")):
            n_files += 1
            rel = str(path.relative_to(REPO))
            bad += builtin_raises(path.read_text(encoding="utf-8"), rel)
    assert n_files > 50  # the walk found the code
    assert not bad, "raise a pano.errors.PanoError subclass instead:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "source, found",
    [
        ("def f():\n    raise ValueError('x')\n", ["m.py:2 raises ValueError"]),
        ("def f():\n    raise KeyError\n", ["m.py:2 raises KeyError"]),
        ("class A:\n    def f(self):\n        raise RuntimeError('x') from None\n",
         ["m.py:3 raises RuntimeError"]),
        ("def f(x):\n    if x:\n        raise TypeError(x)\n", ["m.py:3 raises TypeError"]),
        ("def f(x):\n    if x:\n        raise NotImplementedError\n    return 1\n",
         ["m.py:3 raises NotImplementedError"]),
        ("def f():\n    '''Doc.'''\n    raise NotImplementedError\n", []),
        ("def f():\n    raise ConfigError('x')\n", []),
        ("def f():\n    try:\n        g()\n    except OSError as err:\n        raise err\n", []),
        ("def f():\n    try:\n        g()\n    except OSError:\n        raise\n", []),
        ("if X:\n    raise RuntimeError('table broken')\n", []),
        ("def __next__(self):\n    raise StopIteration\n", []),
        ("def __getattr__(name):\n    raise AttributeError(name)\n", []),
        ("def f(name):\n    raise AttributeError(name)\n", ["m.py:2 raises AttributeError"]),
    ],
)  # fmt: skip
def test_checker_finds_planted_raises(source: str, found: list[str]) -> None:
    assert builtin_raises(source, "m.py") == found


def test_every_error_class_is_a_pano_error_and_a_builtin() -> None:
    """Each class of pano.errors derives from PanoError and (but the base) a built-in."""
    classes = [
        c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__
    ]
    assert len(classes) > 10
    for cls in classes:
        assert issubclass(cls, PanoError), cls
        if cls is not PanoError:
            assert any(b.__module__ == "builtins" and b is not Exception for b in cls.__mro__), (
                f"{cls.__name__} inherits no specific built-in exception"
            )


def test_unknown_key_error_is_a_key_error_printed_plainly() -> None:
    from pano.errors import UnknownKeyError, UnknownNameError

    err = UnknownKeyError("no video 'x' in the manifest")
    assert isinstance(err, KeyError) and isinstance(err, UnknownNameError)
    assert isinstance(err, ValueError)
    assert str(err) == "no video 'x' in the manifest"  # KeyError alone would add quotes


def test_architecture_doc_lists_every_error_class() -> None:
    """docs/architecture.md's error table has a row for each class of pano.errors."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = {
        line.split("|")[1].strip().strip("`")
        for line in text.splitlines()
        if line.startswith("| `")
    }
    names = {
        n for n, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__
    }
    assert names - {"PanoError"} <= rows, sorted(names - {"PanoError"} - rows)
