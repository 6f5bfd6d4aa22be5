"""One Dask runner for pano's pipelines (``pano ingest``, ``pano eval``).

:func:`dask_runner` gives a :class:`Runner` that maps a task function over items:

* by default on a :class:`distributed.LocalCluster` of ``workers`` single-threaded
  processes (``workers=None``: one per task, up to the CPU count; never more than the
  tasks), started without Dask's ``MALLOC_TRIM_THRESHOLD_`` (see below); the scheduler
  listens on the loopback interface only, and so does the dashboard (when bokeh is
  installed; its link is announced) unless asked otherwise (``dashboard``: ``"local"``,
  the default, ``"off"``, or an explicit ``HOST:PORT`` - the dashboard has no
  authentication, so anything but loopback is the user's explicit choice);
* on an existing cluster with ``scheduler`` (its workers must see the store, and the
  inputs, at the same paths or URLs);
* in this process with ``workers=0``, when there are no tasks, and always for
  ``memory://`` stores, which exist only inside this process (a ``memory://`` store with
  a ``scheduler`` is refused, as is ``workers=0`` with a ``scheduler``).

Task functions must be module-level (they pickle by name) and take one item.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pano.errors import ConfigError, PanoError
from pano.progress import track

log = logging.getLogger("pano.pipelines.runner")

#: Seconds to wait for an existing scheduler to answer.
CONNECT_TIMEOUT_S = 20


def is_memory(location: str) -> bool:
    """True for ``memory://`` stores (they exist only inside the process that made them)."""
    return str(location).startswith("memory://")


#: The ``dashboard`` values besides an explicit ``HOST:PORT``.
DASHBOARD_CHOICES = ("local", "off")
_DASHBOARD_HELP = (
    "'local' (127.0.0.1, a free port; the default), 'off', or HOST:PORT to listen there "
    "(the dashboard has no authentication: only on a network you trust)"
)


def check_dashboard(value: str) -> str:
    """Validate a ``dashboard`` setting (a config field validator calls it).

    Raises:
        ConfigError: not ``local``, ``off`` or ``HOST:PORT`` with a port 0-65535 (also a
            ``ValueError``, so a pydantic validator reports it as the field's error).

    """
    if value in DASHBOARD_CHOICES:
        return value
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"dashboard {value!r}: use {_DASHBOARD_HELP}")
    return value


def dashboard_address(value: str, has_bokeh: bool) -> str | None:
    """The LocalCluster ``dashboard_address`` for a ``dashboard`` setting (None: none).

    >>> dashboard_address("local", True), dashboard_address("off", True)
    ('127.0.0.1:0', None)
    """
    if not has_bokeh or value == "off":
        return None
    return "127.0.0.1:0" if value == "local" else value


def _has_bokeh() -> bool:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


class Runner:
    """Maps a task function over items on a Dask client, or in this process; with progress."""

    def __init__(self, client: Any | None) -> None:
        self.client = client

    def map(
        self,
        fn: Callable[..., Any],
        items: Sequence[Any],
        description: str,
        *,
        scatter: bool = False,
        return_errors: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """``fn(item, **kwargs)`` for every item; results in the order of ``items``.

        Args:
            fn: a module-level function of one item (and ``kwargs``).
            items: the items; ``kwargs`` are passed to every call.
            description: the progress bar's label.
            scatter: send the items to the workers first (large items, e.g. raw data
                arrays, then do not travel inside the task graph).
            return_errors: give a failed item's exception as its result instead of
                raising: pano's own errors (:class:`~pano.errors.PanoError`) in-process,
                any exception on a cluster (a worker logs no traceback for a PanoError).
                Otherwise the first failure is raised as soon as it arrives.

        """
        out: list[Any] = [None] * len(items)
        if not items:
            return out
        if self.client is None:
            for i, item in enumerate(track(items, total=len(items), description=description)):
                try:
                    out[i] = fn(item, **kwargs)
                except PanoError as err:
                    if not return_errors:
                        raise
                    out[i] = err
            return out
        from distributed import as_completed

        args = self.client.scatter(list(items)) if scatter else list(items)
        if return_errors:
            futures = self.client.map(_catching, args, fn=fn, pure=False, **kwargs)
        else:
            futures = self.client.map(fn, args, pure=False, **kwargs)
        index = {f.key: i for i, f in enumerate(futures)}
        for fut in track(as_completed(futures), total=len(futures), description=description):
            if return_errors:
                exc = fut.exception()
                out[index[fut.key]] = exc if exc is not None else fut.result()
            else:
                out[index[fut.key]] = fut.result()  # raises the task's exception
        return out


def _catching(item: Any, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """Run a task on a worker, returning (not raising) pano's expected errors.

    The worker then logs no traceback for what the driver reports as one line.
    """
    try:
        return fn(item, **kwargs)
    except PanoError as err:
        return err


@contextlib.contextmanager
def dask_runner(
    store: str,
    workers: int | None,
    scheduler: str | None,
    n_tasks: int,
    announce: Callable[[str], None] | None = None,
    dashboard: str = "local",
) -> Iterator[Runner]:
    """A :class:`Runner` for ``n_tasks`` tasks on ``store`` (see the module docstring).

    Args:
        store: the store's path or URL (``memory://`` stores run in-process).
        workers: local worker processes; None = one per task up to the CPU count;
            0 = in-process.
        scheduler: address of an existing Dask scheduler (``tcp://host:8786``), or None.
        n_tasks: how many tasks will be mapped (no cluster is started for none).
        announce: called with one-line messages for the user (the dashboard link).
        dashboard: a local cluster's dashboard: ``"local"`` (loopback, a free port),
            ``"off"`` or ``HOST:PORT`` (see :func:`check_dashboard`); an existing
            cluster's dashboard is its own (its link is announced).

    Raises:
        ConfigError: a ``memory://`` store or ``workers=0`` with a scheduler, or a
            scheduler that does not answer.

    """
    if n_tasks == 0:
        yield Runner(None)
        return
    if scheduler is not None and is_memory(store):
        raise ConfigError(
            f"--store {store}: a memory:// store exists only in this process; Dask workers "
            "cannot see it - use a path, or --workers 0 without --scheduler"
        )
    if scheduler is not None and workers == 0:
        raise ConfigError(
            f"--workers 0 runs in-process and --scheduler {scheduler} on a cluster; give one"
        )
    if scheduler is None and workers == 0:
        yield Runner(None)
        return
    if scheduler is None and is_memory(store):
        log.info("memory:// store: running in-process (worker processes cannot see it)")
        yield Runner(None)
        return
    from distributed import Client

    has_bokeh = _has_bokeh()

    def show_dashboard(client: Any) -> None:
        link = client.dashboard_link if has_bokeh else None
        if link:
            log.info("Dask dashboard: %s", link)
            if announce is not None:
                announce(f"Dask dashboard: {link}")

    if scheduler is not None:
        log.info("connecting to the Dask scheduler at %s", scheduler)
        try:
            client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError) as err:
            raise ConfigError(f"--scheduler {scheduler}: cannot connect ({err})") from err
        with client:
            show_dashboard(client)
            yield Runner(client)
        return
    n = workers if workers is not None else min(n_tasks, os.cpu_count() or 1)
    n = max(1, min(n, n_tasks))
    log.info("starting a local Dask cluster of %d worker process(es)", n)
    address = dashboard_address(check_dashboard(dashboard), has_bokeh)
    with _local_cluster(n, address) as cluster, Client(cluster) as client:
        show_dashboard(client)
        yield Runner(client)


def _local_cluster(n_workers: int, dashboard: str | None) -> Any:
    """A LocalCluster of single-threaded worker processes with glibc's default malloc.

    The scheduler and the workers listen on 127.0.0.1 only; the dashboard at
    ``dashboard`` (:func:`dashboard_address`; None: no dashboard).

    Dask starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which also switches off
    glibc's adaptive mmap threshold: every multi-MB NumPy temporary is then mmap'ed and
    page-faulted afresh (measured: eval's map scoring ~1.4x slower). pano's workers keep
    glibc's default.
    """
    import dask
    from distributed import LocalCluster

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        return LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=dashboard,
            silence_logs=logging.ERROR,
        )


__all__ = [
    "DASHBOARD_CHOICES",
    "Runner",
    "check_dashboard",
    "dashboard_address",
    "dask_runner",
    "is_memory",
]
