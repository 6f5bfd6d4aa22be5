"""pano's thread policy for CPU hot loops (pano.threads): the logic, never wall time."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from pano import threads as th
from pano.errors import ConfigError


@pytest.fixture(autouse=True)
def fresh_policy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No cached decision, no PANO_THREADS from the caller's shell, torch's setting restored."""
    monkeypatch.delenv(th.ENV_VAR, raising=False)
    th._cache.clear()
    n = torch.get_num_threads()
    yield
    th._cache.clear()
    torch.set_num_threads(n)


@pytest.mark.parametrize(
    ("cores", "load", "own", "ceiling", "reserve", "want"),
    [
        (2, 0.2, 0.0, 2, 0, 2),  # idle: every core
        (2, 3.3, 1.0, 2, 0, 1),  # the busy machine: one thread
        (2, 2.0, 2.0, 2, 0, 2),  # the load is this process's own two threads: keep them
        (2, 2.0, 1.0, 2, 0, 1),  # one other busy process: one free core
        (2, 9.0, 0.0, 2, 0, 1),  # never fewer than one thread
        (2, 0.0, 0.0, 2, 1, 1),  # a core reserved for the caller's decoder
        (16, 4.0, 0.0, 16, 0, 12),
        (16, 0.0, 0.0, 4, 0, 4),  # never more than torch's setting
        (4, 0.6, 0.0, 4, 0, 3),  # rounded to the nearest core: 3.4 -> 3
        (4, 0.4, 0.0, 4, 0, 4),  # 3.6 -> 4
        (4, 1.0, 3.0, 4, 0, 4),  # own share above the load average: nobody else
    ],
)
def test_choose_threads(
    cores: int, load: float, own: float, ceiling: int, reserve: int, want: int
) -> None:
    assert th.choose_threads(cores, load, own, ceiling, reserve) == want


def test_explicit_choice_wins_over_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(th, "policy_threads", lambda reserve=0: 99)
    assert th.resolve_threads(3) == 3
    assert th.resolve_threads(None, environ={th.ENV_VAR: "5"}) == 5
    assert th.resolve_threads(2, environ={th.ENV_VAR: "5"}) == 2  # the argument first
    for auto in ("", "0", "auto", " AUTO "):
        assert th.resolve_threads(None, environ={th.ENV_VAR: auto}) == 99


@pytest.mark.parametrize("raw", ["two", "-1", "1.5"])
def test_bad_environment_value_is_one_clear_line(raw: str) -> None:
    with pytest.raises(ConfigError, match=r"environment variable PANO_THREADS=.*>= 1") as e:
        th.resolve_threads(None, environ={th.ENV_VAR: raw})
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_bad_threads_argument(bad: object) -> None:
    with pytest.raises(ConfigError, match="threads must be a whole number >= 1"):
        th.resolve_threads(bad)  # type: ignore[arg-type]
    from pano.viewport import ViewportSampler

    with pytest.raises(ConfigError, match="threads must be"):
        ViewportSampler(threads=bad)  # type: ignore[arg-type]


def test_policy_reads_cores_load_own_share_and_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(th, "_cores", lambda: 2)
    monkeypatch.setattr(th.os, "getloadavg", lambda: (3.3, 3.0, 2.0))
    monkeypatch.setattr(th._own, "update", lambda: 1.0)
    torch.set_num_threads(2)
    assert th.policy_threads() == 1
    # Cached for a second: a load change is seen at the next check.
    monkeypatch.setattr(th.os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    assert th.policy_threads() == 1
    th._cache.clear()
    assert th.policy_threads() == 2
    assert th.policy_threads(reserve=1) == 1
    torch.set_num_threads(1)  # the ceiling
    assert th.policy_threads() == 1


def test_own_share_is_averaged_like_the_load_average(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = {"wall": 1000.0, "cpu": 30.0}
    monkeypatch.setattr(th.time, "monotonic", lambda: clock["wall"])
    monkeypatch.setattr(th.time, "process_time", lambda: clock["cpu"])
    monkeypatch.setattr(th, "_process_age_s", lambda: 60.0)
    own = th._OwnLoad()
    # First look: 30 CPU-s over a 60 s life = 0.5 on average, weighted by 1 - e^-1.
    assert own.update() == pytest.approx(0.5 * (1 - np.exp(-1.0)))
    # Two busy threads for a long time: the estimate converges to 2.
    for _ in range(200):
        clock["wall"] += 5.0
        clock["cpu"] += 10.0
        last = own.update()
    assert last == pytest.approx(2.0, abs=1e-6)
    # Idle for one time constant: e^-1 of it remains.
    clock["wall"] += 60.0
    assert own.update() == pytest.approx(2.0 * np.exp(-1.0), rel=1e-6)


def test_hot_loop_sets_and_restores_torch_threads() -> None:
    torch.set_num_threads(2)
    with th.hot_loop_threads(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
        with th.hot_loop_threads(2) as inner:  # an inner hot loop keeps the outer choice
            assert inner is None and torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError), th.hot_loop_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == 2
    with th.hot_loop_threads(1, device="cuda:0") as n:  # GPU work: nothing changes
        assert n is None and torch.get_num_threads() == 2
    with th.hot_loop_threads(1, device=torch.device("cpu")) as n:
        assert n == 1


def test_sampler_renders_under_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    from pano.synth import make_background
    from pano.viewport import ViewportSampler

    frame = torch.from_numpy(make_background(128, 64, np.random.default_rng(0))).permute(2, 0, 1)
    yaw, pitch = np.linspace(-170, 170, 7), np.linspace(-60, 60, 7)
    seen: list[int] = []
    grid_sample = torch.nn.functional.grid_sample

    def spy(*args: object, **kwargs: object) -> torch.Tensor:
        seen.append(torch.get_num_threads())
        return grid_sample(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(torch.nn.functional, "grid_sample", spy)
    torch.set_num_threads(2)
    one = ViewportSampler(size=16, threads=1)(frame, yaw, pitch)
    assert seen and set(seen) == {1} and torch.get_num_threads() == 2
    seen.clear()
    monkeypatch.setenv(th.ENV_VAR, "2")
    two = ViewportSampler(size=16)(frame, yaw, pitch)
    assert set(seen) == {2}
    torch.testing.assert_close(one, two, rtol=0, atol=0)  # threads never change the numbers


def test_heatmaps_do_not_depend_on_the_thread_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    from pano.geometry import lonlat_to_vec
    from pano.heatmaps import sphere_heatmaps

    rng = np.random.default_rng(2)
    pts = torch.from_numpy(
        lonlat_to_vec(rng.uniform(-180, 180, (9, 6)), rng.uniform(-80, 80, (9, 6)))
    )
    torch.set_num_threads(2)
    monkeypatch.setenv(th.ENV_VAR, "1")
    a = sphere_heatmaps(pts, 72, 36, 7.0)
    monkeypatch.setenv(th.ENV_VAR, "2")
    b = sphere_heatmaps(pts, 72, 36, 7.0)
    assert torch.equal(a, b) and torch.get_num_threads() == 2


@pytest.mark.parametrize(("given", "expect"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_import_pano_sets_the_openmp_wait_policy_unless_given(
    given: str | None, expect: str
) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    code = "import os, sys, pano; print(os.environ['OMP_WAIT_POLICY'], 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [expect, "False"]  # set before torch could load OpenMP
