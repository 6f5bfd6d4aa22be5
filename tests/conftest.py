"""Shared fixtures: the device fixture (CPU always, CUDA when present) and markers."""

# ruff: noqa: I001 - pano is imported before torch on purpose (see below)
from __future__ import annotations

import os
from pathlib import Path

# pano first, before torch loads OpenMP: `import pano` sets OMP_WAIT_POLICY=PASSIVE
# (pano/__init__.py), so the tests run torch as the `pano` command does.
import pano  # noqa: F401
import pytest
import torch
from hypothesis import HealthCheck, settings

os.environ.setdefault("MPLBACKEND", "Agg")

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

_DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param(
        "cuda",
        id="cuda",
        marks=[
            pytest.mark.gpu,
            pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available"),
        ],
    ),
]


@pytest.fixture(params=_DEVICES)
def device(request: pytest.FixtureRequest) -> torch.device:
    """Run the test on CPU and, where CUDA exists, again on the GPU."""
    return torch.device(request.param)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``gpu`` when CUDA is absent."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="CUDA not available")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def one_torch_thread() -> object:
    """One torch thread for the test (restored after): tiny nets on a loaded 2-core machine
    run faster on one thread than with two spinning against each other (a 42x42 DHP forward
    took 0.37 s with 2 threads, 0.01 s with 1). Use with ``pytest.mark.usefixtures``."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def quick_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run ``pano demo --quick`` once (through the CLI) and share its output folder."""
    from pano.cli.app import main

    out = tmp_path_factory.mktemp("demo")
    rc = main(["demo", "--quick", "--out", str(out)])
    assert rc == 0, "pano demo --quick failed"
    return out
