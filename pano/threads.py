"""How many torch intra-op threads pano's own CPU hot loops use (the thread policy).

Why a policy: torch runs each CPU op on its intra-op thread team (one thread per core by
default) and every op ends at a barrier that waits for all of them. When other processes
keep the cores busy, one descheduled thread stalls every op until the scheduler runs it
again: on a 2-core machine at load average 3.3, 58 viewports of 224x224 rendered at 120
views/s with torch's default 2 threads and at 987 views/s with 1. On an idle machine 2
threads are ~1.5x faster than 1. Too many threads cost far more than too few, so the
policy counts only the cores that look free.

The policy (:func:`policy_threads`), evaluated where a hot loop starts
(:func:`hot_loop_threads`: :class:`pano.viewport.ViewportSampler` calls,
:func:`pano.heatmaps.sphere_heatmaps`, :func:`pano.stores.stream_viewports`):

1. **An explicit choice wins**: the hot loop's ``threads=`` argument, else the
   environment variable ``PANO_THREADS`` (a whole number >= 1; ``0``, ``auto`` or unset:
   use the policy). The count is then used as given.
2. Otherwise ``n = round(cores - reserve - others)``, clipped to ``[1, ceiling]``:

   * ``cores``: CPUs this process may run on (``os.sched_getaffinity``; ``os.cpu_count``
     where that does not exist);
   * ``others``: the 1-minute load average (``os.getloadavg``) minus this process's own
     share of it, estimated as its CPU seconds per second averaged with the same
     1-minute time constant (the load average counts this process's threads too; without
     the correction a busy loop would count itself as load and drop to one thread);
   * ``ceiling``: ``torch.get_num_threads()`` when the loop starts: the policy never uses
     more threads than the process was given (``torch.set_num_threads(1)``, a Dask worker,
     a training config's ``threads:``), only fewer;
   * ``reserve``: cores the caller keeps for its own other threads (``stream_viewports``
     keeps one for its decoding thread).

   The decision is cached for one second (it reads ``/proc``).
3. torch's setting is restored when the loop ends; a hot loop inside another (a sampler
   call inside ``stream_viewports``) keeps the outer loop's choice.

Limits: the load average lags (it is a 1-minute average), so for the first seconds of a
new competing load the policy may still choose too many threads; it does not see CPU
quotas of containers (cgroups), only affinity. ``torch.set_num_threads`` is process-wide:
run pano's hot loops from one Python thread at a time (as pano's pipelines do) or set
``PANO_THREADS``. CUDA work is not affected.

OpenMP's wait policy: with its default (spin before sleeping), every
``torch.set_num_threads`` call - which each hot loop makes when it starts and ends - leaves
OpenMP threads that spin between parallel regions; on a loaded machine they take the cores
from the main thread, and even tiny ops (a ``sin`` of 900 values) took 7-17 ms instead of
0.01 ms. ``import pano`` therefore sets ``OMP_WAIT_POLICY`` to :data:`OMP_WAIT_DEFAULT`
when the variable is unset and torch is not loaded yet.
"""

from __future__ import annotations

import contextvars
import math
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pano.errors import ConfigError

#: What ``import pano`` puts in ``OMP_WAIT_POLICY`` when it is unset (``pano/__init__.py``):
#: idle OpenMP threads sleep instead of spinning, so they do not take a busy machine's
#: cores from the thread that has work (``benchmarks/bench_omp_wait.py``).
OMP_WAIT_DEFAULT = "PASSIVE"

__all__ = [
    "ENV_VAR",
    "OMP_WAIT_DEFAULT",
    "check_threads",
    "choose_threads",
    "hot_loop_threads",
    "intra_op_threads",
    "policy_threads",
    "resolve_threads",
]

#: Environment variable that fixes the thread count of pano's hot loops.
ENV_VAR = "PANO_THREADS"
#: Time constant (seconds) of the 1-minute load average; the own-load estimate uses it too.
_TAU_S = 60.0
#: How long a policy decision is reused (seconds).
_RECHECK_S = 1.0

_inside: contextvars.ContextVar[bool] = contextvars.ContextVar("pano_hot_loop", default=False)
_lock = threading.Lock()
_cache: dict[tuple[int, int, int], tuple[float, int]] = {}


def choose_threads(cores: int, load: float, own: float, ceiling: int, reserve: int = 0) -> int:
    """The policy's arithmetic: intra-op threads for a hot loop (pure function).

    Args:
        cores: CPUs this process may use.
        load: the machine's 1-minute load average (runnable threads, all processes).
        own: this process's own share of ``load`` (average threads of it on a CPU).
        ceiling: the most threads to use (torch's current setting).
        reserve: cores to leave to the caller's other threads.

    Returns:
        ``round(cores - reserve - max(0, load - own))`` clipped to ``[1, ceiling]`` (at
        least 1 thread whatever the load).

    """
    others = max(0.0, float(load) - max(0.0, float(own)))
    free = cores - reserve - others
    return int(max(1, min(int(ceiling), math.floor(free + 0.5))))


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _process_age_s() -> float | None:
    """Seconds since this process started (Linux ``/proc``), or None."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        start = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime in ticks
        return max(0.0, uptime - start)
    except (OSError, ValueError, IndexError):
        return None


class _OwnLoad:
    """CPU seconds per second of the whole process, averaged like the 1-minute load average."""

    def __init__(self) -> None:
        self.wall = time.monotonic()
        self.cpu = time.process_time()
        self.ema: float | None = None
        self.age = _process_age_s()  # at import

    def update(self) -> float:
        wall, cpu = time.monotonic(), time.process_time()
        if self.ema is None:
            # The load average started counting this process when it started: average its
            # CPU use over its life, weighted by how much of the last minute that covers.
            age = (self.age or 0.0) + (wall - self.wall)
            if age > 0.0:
                rate = cpu / age
                self.ema = rate * (1.0 - math.exp(-age / _TAU_S))
            else:
                self.ema = 0.0
        else:
            dt = wall - self.wall
            if dt > 0.0:
                a = math.exp(-dt / _TAU_S)
                self.ema = a * self.ema + (1.0 - a) * (cpu - self.cpu) / dt
        self.wall, self.cpu = wall, cpu
        return self.ema


_own = _OwnLoad()


def _env_threads(environ: Mapping[str, str]) -> int | None:
    raw = environ.get(ENV_VAR, "").strip()
    if raw.lower() in ("", "0", "auto"):
        return None
    try:
        n = int(raw)
    except ValueError:
        n = -1
    if n < 1:
        raise ConfigError(
            f"environment variable {ENV_VAR}={raw!r}: use a whole number of threads >= 1 "
            "(or 0 / auto for pano's thread policy)"
        )
    return n


def policy_threads(reserve: int = 0) -> int:
    """Threads the policy chooses now for a hot loop (step 2 of the module docstring)."""
    import torch

    ceiling = torch.get_num_threads()
    cores = _cores()
    key = (ceiling, cores, int(reserve))
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < _RECHECK_S:
            return hit[1]
        own = _own.update()
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # no load average here: trust torch's setting
            load = own
        n = choose_threads(cores, load, own, ceiling, reserve)
        _cache[key] = (now, n)
    return n


def check_threads(threads: Any) -> int | None:
    """Validate an explicit ``threads=`` argument: a whole number >= 1, or None (the policy).

    Raises:
        ConfigError: anything else.

    """
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ConfigError(
            f"threads must be a whole number >= 1, or None for pano's thread policy; "
            f"got {threads!r}"
        )
    return threads


def resolve_threads(
    threads: int | None = None, reserve: int = 0, environ: Mapping[str, str] | None = None
) -> int:
    """Thread count for a hot loop: ``threads`` if given, else ``PANO_THREADS``, else the policy.

    Raises:
        ConfigError: ``threads`` or ``PANO_THREADS`` is not a whole number >= 1.

    """
    explicit = check_threads(threads)
    if explicit is not None:
        return explicit
    env = _env_threads(os.environ if environ is None else environ)
    return env if env is not None else policy_threads(reserve)


@contextmanager
def intra_op_threads(n: int) -> Iterator[None]:
    """Run the block with exactly ``n`` torch intra-op threads, restoring the setting after."""
    import torch

    old = torch.get_num_threads()
    if n == old:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@contextmanager
def hot_loop_threads(
    threads: int | None = None, *, reserve: int = 0, device: Any = None
) -> Iterator[int | None]:
    """Run a CPU hot loop under the thread policy (see the module docstring).

    Args:
        threads: explicit thread count (>= 1), or None for ``PANO_THREADS`` / the policy.
        reserve: cores to leave to the caller's other threads (ignored for an explicit count).
        device: the loop's device (``torch.device`` or string); nothing changes unless it is
            the CPU (None = CPU).

    Yields:
        The thread count in force, or None where the block changes nothing (a non-CPU
        device, or inside another hot loop, whose choice stays).

    """
    dev_type = "cpu" if device is None else getattr(device, "type", str(device).split(":")[0])
    if dev_type != "cpu" or _inside.get():
        yield None
        return
    n = resolve_threads(threads, reserve)
    token = _inside.set(True)
    try:
        with intra_op_threads(n):
            yield n
    finally:
        _inside.reset(token)
