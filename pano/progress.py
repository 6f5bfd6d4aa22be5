"""Logging set-up and progress bars shared by all pipelines.

Progress bars are drawn with rich on stderr, and only when stderr is a terminal:
in CI logs, notebooks' captured output and pipes they are off.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

LOGGER_NAME = "pano"


def setup_logging(verbosity: int = 0) -> None:
    """Configure the ``pano`` logger.

    Args:
        verbosity: 0 = INFO, >= 1 = DEBUG, -1 = WARNING, <= -2 = ERROR.

    """
    level = {-1: logging.WARNING, 0: logging.INFO}.get(
        verbosity, logging.DEBUG if verbosity > 0 else logging.ERROR
    )
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    if not any(getattr(h, "_pano", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._pano = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    for h in logger.handlers:
        h.setLevel(level)
        if getattr(h, "_pano", False) and isinstance(h, logging.StreamHandler):
            # The stderr of now: a second call (the CLI run again in one process, e.g. a
            # notebook or a test capturing stderr) must not write to a closed old stream.
            h.stream = sys.stderr  # not setStream: it flushes the old one, maybe closed
    logger.propagate = False


def progress_enabled() -> bool:
    """True when progress bars should be drawn (stderr is an interactive terminal)."""
    return sys.stderr.isatty()


def track(
    iterable: Iterable[T], total: int | None = None, description: str = "working"
) -> Iterator[T]:
    """Iterate with a rich progress bar on stderr when it is a terminal; plainly otherwise."""
    if not progress_enabled():
        yield from iterable
        return
    from rich.console import Console
    from rich.progress import track as rich_track

    yield from rich_track(
        iterable, total=total, description=description, console=Console(stderr=True)
    )
