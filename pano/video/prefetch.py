"""Background prefetching: run an iterator in a thread, a bounded queue ahead of the consumer."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, Generic, TypeVar

from pano.errors import ParameterError

T = TypeVar("T")

_ITEM, _END, _ERROR = 0, 1, 2


class Prefetcher(Generic[T]):
    """Iterate ``iterable`` in a background thread, at most ``depth`` items ahead.

    The consumer gets items in order; an exception raised by the producer is re-raised
    in the consumer (at the point it would have been reached). :meth:`close` (or leaving
    the ``with`` block, or breaking out and dropping the object) stops the producer
    cleanly: it is unblocked, its iterator is closed in its own thread, and the thread is
    joined. Decoding releases the GIL (FFmpeg, decord), so it overlaps with consumer work.

    Example::

        with Prefetcher(decoder.iter_frames(), depth=4) as frames:
            for frame in frames:
                ...
    """

    def __init__(self, iterable: Iterable[T], depth: int = 4, name: str = "pano-prefetch") -> None:
        if depth < 1:
            raise ParameterError(f"Prefetcher depth must be >= 1, got {depth}")
        self._queue: queue.Queue[tuple[int, Any]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._run, args=(iterable,), name=name, daemon=True)
        self._thread.start()

    def _put(self, message: tuple[int, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(message, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, iterable: Iterable[T]) -> None:
        it = iter(iterable)
        try:
            for item in it:
                if not self._put((_ITEM, item)):
                    return
            self._put((_END, None))
        except BaseException as err:  # propagate everything, including KeyboardInterrupt
            self._put((_ERROR, err))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        while True:
            try:
                kind, value = self._queue.get(timeout=0.1)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    self._done = True
                    raise StopIteration from None
        if kind == _ITEM:
            return value
        self._done = True
        self._thread.join()
        if kind == _ERROR:
            raise value
        raise StopIteration

    def close(self) -> None:
        """Stop the producer and join its thread (idempotent)."""
        self._done = True
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10.0)

    def __enter__(self) -> Prefetcher[T]:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
