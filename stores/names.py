"""Names that become groups in a store or folders on disk, and paths recorded in a store.

**The name rule** (``docs/store.md``, "Names and paths"): a video, run or results name is
1 to 128 characters of ASCII letters, digits, ``.``, ``_`` and ``-``, starts with a letter
or a digit, is not ``zarr.json`` (Zarr's metadata file) and does not end in ``.partial``
(Zarr's temporary files, which an ingest removes as debris)::

    ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$

So a name can never be ``.``/``..``, hidden, nested (``/``) or a path. Names are
case-sensitive. :func:`validate_name` refuses a name that breaks the rule (run and
results names: the user chose them); :func:`safe_name` maps a *source* name that breaks
it (a ``.mat`` variable, a file name) to one that keeps it, and the ingest records the
original in the video's attributes (``source_name``).

**Paths recorded in a store** (a video's ``video.path``) are relative to a folder the user
gives (``--videos``); :func:`relative_store_path` accepts only plain relative paths (not
absolute, no ``..``) so a store can never make pano open a file outside that folder.
Symbolic links inside the folder are followed (a videos folder of links to a data disk
works).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from pathlib import PurePosixPath, PureWindowsPath

from pano.errors import InvalidNameError, StoreError

#: The name rule as a regular expression (see the module docstring).
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
#: Longest name allowed.
NAME_MAX = 128
#: Names the pattern allows but a store cannot use.
RESERVED_NAMES = frozenset({"zarr.json"})
#: Suffix a name cannot have (Zarr's temporary files; removed as debris by an ingest).
RESERVED_SUFFIX = ".partial"
#: The rule in words, for messages.
NAME_RULE = (
    "1-128 characters of letters, digits, '.', '_' and '-', starting with a letter or a "
    "digit, not 'zarr.json' and not ending in '.partial'"
)

_NAME_RE = re.compile(NAME_PATTERN)
_BAD_RUN = re.compile(r"[^A-Za-z0-9._-]+")


def name_problem(name: object) -> str | None:
    """What is wrong with ``name`` under the name rule, or None when it keeps it."""
    if not isinstance(name, str):
        return f"is a {type(name).__name__}, not a text"
    if not name:
        return "is empty"
    if len(name) > NAME_MAX:
        return f"has {len(name)} characters (at most {NAME_MAX})"
    if name in RESERVED_NAMES:
        return "is reserved (Zarr's metadata file)"
    if name.endswith(RESERVED_SUFFIX):
        return f"ends in {RESERVED_SUFFIX!r} (Zarr's temporary files)"
    if not _NAME_RE.match(name):
        bad = sorted({ch for ch in name if not (ch.isascii() and (ch.isalnum() or ch in "._-"))})
        if bad:
            return f"contains {' '.join(repr(ch) for ch in bad)}"
        return "does not start with a letter or a digit"
    return None


def is_valid_name(name: object) -> bool:
    """True when ``name`` keeps the name rule."""
    return name_problem(name) is None


def validate_name(name: str, field: str) -> str:
    """Return ``name`` if it keeps the name rule.

    Args:
        name: the name to check.
        field: what it is, for the message (``"--run"``, ``"video name"``, ...).

    Raises:
        InvalidNameError: one line naming the field, the problem, the rule and a name
            that would do.

    """
    why = name_problem(name)
    if why is not None:
        hint = f" (e.g. {safe_name(name)!r})" if isinstance(name, str) else ""
        raise InvalidNameError(f"{field} {name!r} {why}; a name is {NAME_RULE}{hint}")
    return name


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def safe_name(source: str) -> str:
    """Map a source name to one that keeps the name rule (a valid name is returned as is).

    Accents are dropped (``Café`` -> ``Cafe``), every run of other characters becomes
    ``_`` (``a/b c`` -> ``a_b_c``), leading ``.``/``_``/``-`` are removed, a reserved
    name or suffix has its ``.`` replaced (``zarr.json`` -> ``zarr_json``). When nothing
    is left, or the name is too long, a short hash of the source keeps different sources
    apart (``..`` -> ``v-<8 hex>``). Deterministic: the same source always gives the same
    name.

    >>> safe_name("A380"), safe_name("../../x"), safe_name("Let's go")
    ('A380', 'x', 'Let_s_go')
    """
    if is_valid_name(source):
        return source
    text = unicodedata.normalize("NFKD", source).encode("ascii", "ignore").decode("ascii")
    text = _BAD_RUN.sub("_", text).lstrip("._-")
    if text in RESERVED_NAMES or text.endswith(RESERVED_SUFFIX):
        text = text.replace(".", "_")
    if not text:
        return f"v-{_digest(source)}"
    if len(text) > NAME_MAX:
        text = f"{text[: NAME_MAX - 9]}-{_digest(source)}"
    return text


def map_source_names(sources: Iterable[str], where: str) -> dict[str, str]:
    """Store names of source names (:func:`safe_name`), refusing two that would collide.

    Args:
        sources: the source names (e.g. the ``.mat`` variables of an ingest).
        where: the file they come from, for the message.

    Returns:
        ``{source: name}`` for every source (``name == source`` when it keeps the rule).

    Raises:
        InvalidNameError: two sources map to the same name; rename one of them.

    """
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for src in sources:
        name = safe_name(src)
        if name in seen and seen[name] != src:
            raise InvalidNameError(
                f"{where}: {seen[name]!r} and {src!r} both map to the store name {name!r} "
                f"(a name is {NAME_RULE}); rename one of them"
            )
        seen[name] = src
        out[src] = name
    return out


def relative_store_path(rel: str, field: str) -> PurePosixPath:
    """A path recorded in a store, checked to be a plain relative path (no escape).

    Args:
        rel: the recorded path (e.g. a video's ``video.path``), relative to a folder the
            user gives.
        field: the attribute it comes from, for the message.

    Raises:
        StoreError: the path is empty, absolute (POSIX or Windows) or has a ``..`` part.

    """
    text = str(rel)
    problem = None
    if not text or text.strip() != text:
        problem = "is empty or has surrounding blanks"
    elif "\0" in text:
        problem = "contains a NUL byte"
    elif PurePosixPath(text).is_absolute() or PureWindowsPath(text).anchor:
        problem = "is absolute"
    elif ".." in PurePosixPath(text.replace("\\", "/")).parts:
        problem = "has a '..' part"
    if problem is not None:
        raise StoreError(
            f"{field} {text!r} in the store {problem}; pano opens a recorded file only by a plain "
            "relative path under the folder it belongs to (the videos folder): re-ingest the "
            "store, or fix the attribute"
        )
    return PurePosixPath(text)
