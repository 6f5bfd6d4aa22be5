"""Heatmaps on the sphere from gaze / head points (DHP's recipe by default), in torch.

The parameters (sigma, grid, normalisation) are one value,
:class:`pano.heatmap_params.HeatmapParams`; :func:`heatmaps_for` computes the maps of a
``HeatmapParams`` passed whole (ground truth, predictions, baselines all call it).

A heatmap is an equirectangular ``(H, W)`` float map in pano's ERP convention
(column 0 at the left edge, +lon to the LEFT, row 0 at the top; see
:mod:`pano.geometry`). Each point adds a great-circle Gaussian
``exp(-d**2 / (2 sigma**2))`` with ``d`` the great-circle angle in degrees between the
pixel and the point; the sum is normalised to max 1 (DHP) or sum 1 or left raw.
No cos(lat) weighting is applied (as in DHP); metrics decide their own weighting.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from pano.errors import ParameterError, ShapeError, UnknownNameError
from pano.geometry import lonlat_to_vec
from pano.heatmap_params import (
    DHP_GRID,
    DHP_SIGMA_DEG,
    HeatmapParams,
    Normalize,
    PixelGrid,
    grid_lonlat,
)
from pano.threads import hot_loop_threads

#: Elements per temporary block (points x pixels) on CPU: cache-sized, fixed (never
#: derived from the thread count, so that the blocks - and the bits - are the same everywhere).
_BLOCK_CPU = 1 << 18
#: Elements per temporary block (maps x points x pixels) on CUDA.
_BLOCK_CUDA = 1 << 25
#: Elements per call of a transcendental function (arccos, exp) on CPU: below torch's
#: intra-op grain size (32768), so each call runs on one thread and whether an element is
#: computed by the vectorised body or the scalar tail (whose results may differ in the last
#: bit) depends only on the shapes, never on the number of threads.
_SERIAL_CPU = 1 << 14


def grid_vectors(
    width: int,
    height: int,
    pixel: PixelGrid = "centre",
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Unit vectors of the ERP grid's sample points, shape ``(H, W, 3)``.

    Args:
        pixel: ``"centre"`` samples pixel centres (pano's grid: lon 179.5 ... -179.5 on
            360x180); ``"dhp"`` samples DHP's integer positions ``lon = 180 - x * 360/W``,
            ``lat = 90 - y * 180/H`` for integer ``x, y`` (half a pixel off the centres).

    """
    lon, lat = grid_lonlat(width, height, pixel)
    lo, la = np.meshgrid(lon, lat)
    return torch.as_tensor(lonlat_to_vec(lo, la), dtype=dtype, device=device)


def heatmaps_for(
    points: torch.Tensor, params: HeatmapParams, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """The heatmaps of point sets made as ``params`` says (sigma, grid, normalisation, pixel).

    The one way pano turns points into heatmaps that are compared with a store's ground
    truth: pass the store's :class:`~pano.heatmap_params.HeatmapParams` (root attribute
    ``heatmap``) whole.

    Args:
        points: unit vectors ``(S, N, 3)`` (pano's frame, :mod:`pano.geometry`); rows with
            NaN are ignored.
        params: the recipe; ``step_frames``/``drop_last_steps`` (the step grid) are not
            used here.
        weights: optional ``(S, N)`` non-negative weights per point.

    Returns:
        ``(S, params.height, params.width)`` maps in ``points.dtype`` on ``points.device``
        (see :func:`sphere_heatmaps`).

    """
    return sphere_heatmaps(
        points, params.width, params.height, params.sigma_deg, params.normalize, params.pixel,
        weights,
    )  # fmt: skip


def sphere_heatmaps(
    points: torch.Tensor,
    width: int = DHP_GRID[0],
    height: int = DHP_GRID[1],
    sigma_deg: float = DHP_SIGMA_DEG,
    normalize: Normalize = "max",
    pixel: PixelGrid = "centre",
    weights: torch.Tensor | None = None,
    chunk: int = 16,
) -> torch.Tensor:
    """Great-circle Gaussian heatmaps of point sets, one map per leading index.

    Args:
        points: unit vectors ``(S, N, 3)`` (S maps of N points, e.g. steps x subjects);
            rows containing NaN are ignored (masked samples).
        width, height: output grid ``W x H`` (DHP: 360 x 180).
        sigma_deg: Gaussian standard deviation in degrees of great-circle angle.
        normalize: ``"max"`` (DHP: max 1), ``"sum"`` (sum 1), ``"none"``. A map with no
            valid point is all zeros.
        pixel: sample positions, see :func:`grid_vectors`.
        weights: optional ``(S, N)`` non-negative weights per point.
        chunk: on CUDA, at most this many maps are computed at once (temporaries
            bounded to about 2**25 values); on CPU one map at a time, in cache-sized
            blocks of about 2**18 values. CPU threads follow pano's thread policy
            (:mod:`pano.threads`). The maps depend on neither.

    Returns:
        ``(S, H, W)`` maps in ``points.dtype`` (use float64 for DHP parity to 1e-5),
        on ``points.device``; bit-identical for any thread count, ``chunk`` and
        process on one machine (see the comment in the body).

    """
    if points.ndim != 3 or points.shape[-1] != 3:
        raise ShapeError(f"points must have shape (S, N, 3), got {tuple(points.shape)}")
    if not points.is_floating_point():
        raise ShapeError(f"points must be a float tensor, got {points.dtype}")
    s, n, _ = points.shape
    if chunk < 1:
        raise ParameterError(f"chunk must be >= 1, got {chunk}")
    grid_t = grid_vectors(width, height, pixel, dtype=points.dtype, device=points.device)
    grid_t = grid_t.reshape(-1, 3).T.contiguous()  # (3, P)
    n_pix = grid_t.shape[1]
    valid = ~torch.isnan(points).any(-1)  # (S, N)
    pts = torch.where(valid[..., None], points, torch.zeros_like(points))
    w = valid.to(points.dtype) if weights is None else weights.to(points.dtype) * valid
    # exp(-d_deg**2 / (2 sigma**2)) with d_deg = deg(arccos(dot)): deg() folded into the factor.
    factor = -((180.0 / math.pi) ** 2) / (2.0 * float(sigma_deg) ** 2)
    # Bit-reproducible by construction (same bits for any thread count, in any process):
    # the dot products are element-wise multiply/adds (no BLAS: its reductions depend on
    # shapes, threads and alignment), the block shapes depend only on the input's shape,
    # arccos/exp run in single-threaded pieces of fixed size on CPU, and the sum over
    # points is a pairwise tree in a fixed order (:func:`_tree_sum`). On CPU one map is
    # computed at a time in cache-sized blocks of pixels; on CUDA blocks are large.
    cuda = points.device.type == "cuda"
    if cuda:
        c_max = max(1, min(chunk, _BLOCK_CUDA // max(1, n * min(n_pix, 4096))))
        serial = None
    else:
        c_max, serial = 1, _SERIAL_CPU
    # On the CPU under pano's thread policy (pano.threads): at most torch's setting, fewer
    # threads when other processes keep the cores busy (the bits do not depend on it).
    with hot_loop_threads(device=points.device):
        out = torch.empty((s, n_pix), dtype=points.dtype, device=points.device)
        budget = _BLOCK_CUDA if cuda else _BLOCK_CPU
        c_max = max(1, min(c_max, s))
        pb = max(64, min(n_pix, budget // max(1, c_max * n)))  # pixels per block, fixed
        # Two buffers reused by every block (a fresh allocation of this size costs page faults).
        buf = torch.empty(2, c_max * n * pb, dtype=points.dtype, device=points.device)
        for i in range(0, s, c_max):
            p = pts[i : i + c_max, :, :, None]  # (c, N, 3, 1), c <= c_max
            wi = w[i : i + c_max, :, None]  # (c, N, 1)
            for j in range(0, n_pix, pb):
                g = grid_t[:, j : min(n_pix, j + pb)]  # (3, pb)
                shape = (p.shape[0], n, g.shape[1])
                d = buf[0, : math.prod(shape)].view(shape)  # (c, N, pb), contiguous
                tmp = buf[1, : math.prod(shape)].view(shape)
                # arccos of the dot product is exact enough here: its error is largest near
                # d = 0, where the Gaussian is flat (value error ~ d * err(d) / sigma**2,
                # < 1e-9 in float64).
                torch.mul(p[:, :, 0], g[0], out=d)
                d.add_(torch.mul(p[:, :, 1], g[1], out=tmp))
                d.add_(torch.mul(p[:, :, 2], g[2], out=tmp)).clamp_(-1.0, 1.0)
                _pieces(d, torch.Tensor.arccos_, serial)
                d.square_().mul_(factor)
                _pieces(d, torch.Tensor.exp_, serial)
                out[i : i + p.shape[0], j : j + g.shape[1]] = _tree_sum(d.mul_(wi))
    out = out.reshape(s, height, width)
    if normalize == "max":
        m = out.amax(dim=(1, 2), keepdim=True)
        out = torch.where(m > 0, out / torch.where(m > 0, m, torch.ones_like(m)), out)
    elif normalize == "sum":
        m = _tree_sum(out.reshape(s, -1, 1).clone())[:, :, None]  # (S, 1, 1), fixed order
        out = torch.where(m > 0, out / torch.where(m > 0, m, torch.ones_like(m)), out)
    elif normalize != "none":
        raise UnknownNameError(f"normalize must be 'max', 'sum' or 'none', not {normalize!r}")
    return out


def _pieces(x: torch.Tensor, op: Callable[[torch.Tensor], torch.Tensor], size: int | None) -> None:
    """Apply the in-place ``op`` to the contiguous ``x`` in flat pieces of ``size`` elements."""
    if size is None:
        op(x)
        return
    flat = x.view(-1)
    for k in range(0, flat.numel(), size):
        op(flat[k : k + size])


def _tree_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum ``(c, N, P)`` over ``N`` as a pairwise tree in a fixed order -> ``(c, P)``.

    Row ``k`` is added to row ``k + h`` (``h = N // 2``), an odd last row moves up, and so
    on: every step is an element-wise add (one rounding per element, the same bits
    however the work is split between threads). ``x`` is overwritten.
    """
    rows = x.shape[1]
    if rows == 0:
        return x.new_zeros((x.shape[0], x.shape[2]))
    while rows > 1:
        h = rows // 2
        x[:, :h] += x[:, h : 2 * h]
        if rows % 2:
            x[:, h] = x[:, 2 * h]
        rows = h + rows % 2
    return x[:, 0]
