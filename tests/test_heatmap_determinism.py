"""Ground-truth heatmaps are bit-identical for any thread count and in any process."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from pano.geometry import lonlat_to_vec
from pano.heatmaps import _tree_sum, sphere_heatmaps

# The input of every case: 3 maps of 58 points (PVS-HM's subjects), NaN subjects included.
SCRIPT = r"""
import hashlib, sys, numpy as np, torch
from pano.geometry import lonlat_to_vec
from pano.heatmaps import sphere_heatmaps
torch.set_num_threads(int(sys.argv[1]))
rng = np.random.default_rng(7)
lon = rng.uniform(-180, 180, (3, 58)); lat = np.degrees(np.arcsin(rng.uniform(-1, 1, (3, 58))))
lat[1, :9] = np.nan
pts = torch.as_tensor(lonlat_to_vec(lon, lat), dtype=torch.float64)
for norm in ("max", "sum", "none"):
    maps = sphere_heatmaps(pts, 97, 45, 7.0, norm).numpy()
    print(norm, hashlib.sha256(maps.tobytes()).hexdigest())
"""


def _points(seed: int = 7, s: int = 3, n: int = 58) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    lon = rng.uniform(-180, 180, (s, n))
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, (s, n))))
    lat[1, :9] = np.nan
    return torch.as_tensor(lonlat_to_vec(lon, lat), dtype=torch.float64)


def _digest(t: torch.Tensor) -> str:
    return hashlib.sha256(t.numpy().tobytes()).hexdigest()


@pytest.fixture
def threads() -> Iterator[None]:
    old = torch.get_num_threads()
    yield
    torch.set_num_threads(old)


@pytest.mark.parametrize("norm", ["max", "sum", "none"])
def test_same_bits_at_one_and_two_threads(norm: str, threads: None) -> None:
    pts = _points()
    w = torch.rand(pts.shape[:2], generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    got = {}
    for n in (1, 2, 3):
        torch.set_num_threads(n)
        got[n] = [
            _digest(sphere_heatmaps(pts, 360, 180, 7.0, norm)),  # DHP's size: many blocks
            _digest(sphere_heatmaps(pts, 97, 45, 7.0, norm, "dhp", weights=w)),  # odd sizes
            _digest(sphere_heatmaps(pts.float(), 97, 45, 7.0, norm)),
        ]
    assert got[1] == got[2] == got[3]


def test_same_bits_for_any_chunk_and_map_order() -> None:
    pts = _points(s=5)
    whole = sphere_heatmaps(pts, 97, 45, 7.0, "none", chunk=16)
    for chunk in (1, 2, 3):
        assert torch.equal(sphere_heatmaps(pts, 97, 45, 7.0, "none", chunk=chunk), whole)
    one_by_one = torch.cat([sphere_heatmaps(pts[i : i + 1], 97, 45, 7.0, "none") for i in range(5)])
    assert torch.equal(one_by_one, whole)  # a map does not depend on the other maps


def test_same_bits_in_fresh_processes(threads: None) -> None:
    here = {}
    torch.set_num_threads(2)
    for norm in ("max", "sum", "none"):
        here[norm] = _digest(sphere_heatmaps(_points(), 97, 45, 7.0, norm))
    for n in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT, n], capture_output=True, text=True, check=True
        ).stdout
        assert dict(line.split() for line in out.splitlines()) == here, n


def test_values_equal_the_plain_float64_formula() -> None:
    """Within 1e-12 of a direct per-point sum (numpy, another summation order)."""
    pts = _points().numpy()
    from pano.heatmaps import grid_vectors

    grid = grid_vectors(97, 45).numpy()  # (H, W, 3)
    factor = -((180.0 / np.pi) ** 2) / (2.0 * 7.0**2)
    want = np.zeros((3, 45, 97))
    for s in range(3):
        for p in pts[s]:
            if np.isnan(p).any():
                continue
            d = np.arccos(np.clip(grid @ p, -1.0, 1.0))
            want[s] += np.exp(factor * d**2)
    got = sphere_heatmaps(torch.as_tensor(pts), 97, 45, 7.0, "none").numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_empty_inputs() -> None:
    assert sphere_heatmaps(torch.zeros(0, 5, 3, dtype=torch.float64), 8, 4).shape == (0, 4, 8)
    none = sphere_heatmaps(torch.zeros(2, 0, 3, dtype=torch.float64), 8, 4)  # no points: zeros
    assert none.shape == (2, 4, 8) and not none.any()


@pytest.mark.parametrize("rows", [0, 1, 2, 3, 7, 58, 64])
def test_tree_sum_adds_every_row_once(rows: int) -> None:
    x = torch.arange(rows * 5, dtype=torch.float64).reshape(1, rows, 5)
    want = x.sum(dim=1)
    assert torch.equal(_tree_sum(x.clone()), want)  # integers: exact in any order
