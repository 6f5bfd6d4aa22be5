"""Loading a data set's Python pickle WITHOUT running code: a restricted unpickler.

A pickle is a program: loading one calls whatever functions it names (``os.system``
included). :func:`load_data_pickle` admits only what a data file needs - plain
containers (dict, list, tuple), numbers, strings, ``None`` (which need no named object at
all) - and, because the real Nguyen MM'18 file stores its series and saliency maps as
NumPy arrays, exactly the globals NumPy's own array pickling names:

* ``numpy.core.multiarray._reconstruct`` / ``numpy._core.multiarray._reconstruct``
  (only to build a plain ``numpy.ndarray``), ``numpy.ndarray``;
* ``numpy.dtype`` (never an object dtype: an object array would unpickle arbitrary
  Python objects as its elements);
* ``numpy.core.multiarray.scalar`` / ``numpy._core.multiarray.scalar`` (NumPy scalars,
  non-object dtypes only);
* ``_codecs.encode`` only as ``encode(text, 'latin1')`` (how Python 3 writes an array's
  raw bytes at pickle protocol 2).

Any other global (a function, a class, a module attribute) is refused BEFORE it is looked
up, so it is never imported or called: one :class:`pano.errors.InputDataError` line naming
the file and the object asked for.
"""

from __future__ import annotations

import importlib
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pano.errors import InputDataError, InputFileNotFoundError


def _multiarray() -> Any:
    try:  # NumPy 2 (numpy.core is a deprecated alias there)
        return importlib.import_module("numpy._core.multiarray")
    except ImportError:  # pragma: no cover - NumPy 1.x
        return importlib.import_module("numpy.core.multiarray")


class RefusedGlobal(Exception):
    """Raised inside the unpickler for a global that is not admitted (never escapes)."""

    def __init__(self, module: str, name: str, why: str = "") -> None:
        super().__init__(f"{module}.{name}")
        self.module, self.name, self.why = module, name, why


def _safe_dtype(*args: Any) -> np.dtype:
    dt = np.dtype(*args)
    if dt.hasobject:
        raise RefusedGlobal("numpy", "dtype", "an object dtype (its elements would be code)")
    return dt


def _safe_reconstruct(subtype: Any, *args: Any) -> np.ndarray:
    if subtype is not np.ndarray:
        raise RefusedGlobal("numpy", "_reconstruct", f"an array of type {subtype!r}")
    return _multiarray()._reconstruct(subtype, *args)


def _safe_scalar(dtype: Any, *args: Any) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise RefusedGlobal("numpy", "scalar", "an object scalar")
    return _multiarray().scalar(dtype, *args)


def _safe_encode(obj: Any, encoding: str = "utf-8", *rest: Any) -> bytes:
    if not isinstance(obj, str) or encoding.lower() not in ("latin1", "latin-1") or rest:
        raise RefusedGlobal("_codecs", "encode", f"encode(..., {encoding!r})")
    return obj.encode("latin1")


_ALLOWED: dict[tuple[str, str], Callable[..., Any] | type] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _safe_dtype,
    ("numpy.core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy.core.multiarray", "scalar"): _safe_scalar,
    ("numpy._core.multiarray", "scalar"): _safe_scalar,
    ("_codecs", "encode"): _safe_encode,
}


class _DataOnlyUnpickler(pickle.Unpickler):
    """An unpickler whose ``find_class`` admits only :data:`_ALLOWED`."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise RefusedGlobal(module, name) from None


def load_data_pickle(path: str | Path, what: str = "pickle", encoding: str = "latin1") -> Any:
    """Load a pickle that holds only data (see the module docstring for what is admitted).

    Args:
        path: the file.
        what: what the file is, for messages.
        encoding: how Python 2 strings are decoded (``"latin1"``: NumPy arrays pickled
            by Python 2 keep their bytes).

    Returns:
        The unpickled containers, numbers, strings and NumPy arrays.

    Raises:
        InputFileNotFoundError: no such file.
        InputDataError: the pickle names a global that is not admitted (refused, never
            looked up or called), or the file is not a readable pickle.

    """
    path = Path(path)
    if not path.is_file():
        raise InputFileNotFoundError(f"{path}: {what} not found")
    try:
        with path.open("rb") as f:
            return _DataOnlyUnpickler(f, encoding=encoding).load()
    except RefusedGlobal as err:
        why = f" ({err.why})" if err.why else ""
        raise InputDataError(
            f"{path}: refused to load the {what}: it asks for {err.module}.{err.name}{why}, "
            "which is not a plain container, number or NumPy array; pano never runs code "
            "from a data file - use the data set's original file"
        ) from None
    except Exception as err:  # truncated/garbled pickles raise many types
        reason = " ".join(str(err).split()) or type(err).__name__
        raise InputDataError(f"{path}: not a readable {what} ({reason})") from None
