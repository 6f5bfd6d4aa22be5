"""Array helpers shared by the saliency metrics (:mod:`pano.metrics.saliency`, :mod:`.auc`).

Maps are ``(F, H, W)`` float64 NumPy arrays (ERP, row 0 at the north pole); see the
conventions block of :mod:`pano.metrics.saliency`. Private to ``pano.metrics``:
:func:`stable_seed` is re-exported from :mod:`pano.metrics.saliency` and :mod:`pano.metrics`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from pano.errors import ShapeError


def to_numpy(x: Any) -> np.ndarray:
    """A NumPy array or torch tensor (any device) as a float64 NumPy array."""
    if type(x).__module__.startswith("torch"):
        return x.detach().to("cpu").double().numpy()
    return np.asarray(x, dtype=np.float64)


def unbatch(values: np.ndarray, single: bool) -> np.ndarray:
    """``values[0]`` for a single-frame input (a 0-d array), else ``values`` ``(F,)``."""
    return values[0] if single else values


def stable_seed(*parts: object) -> int:
    """A 63-bit seed from a stable hash of ``parts`` (e.g. ``(seed, video, frame, metric)``).

    Unlike ``hash()``, the value is the same in every process and Python version.
    """
    text = "\x1f".join(repr(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1


def frame_seeds(seeds: int | Sequence[int] | np.ndarray | None, n: int, metric: str) -> list[int]:
    """One seed per frame: ``seeds`` as given, derived from one int, or from the frame index."""
    if seeds is None:
        return [stable_seed("frame", i, metric) for i in range(n)]
    if isinstance(seeds, (int, np.integer)):
        return [stable_seed(int(seeds), i, metric) for i in range(n)]
    out = [int(s) for s in np.asarray(seeds).ravel()]
    if len(out) != n:
        raise ShapeError(f"seeds must hold one seed per frame ({n}), got {len(out)}")
    return out


def check_pair(p: np.ndarray, g: np.ndarray, metric: str) -> None:
    """Raise :class:`ShapeError` unless prediction and ground truth have one shape."""
    if p.shape != g.shape:
        raise ShapeError(f"{metric}: prediction {p.shape} and ground truth {g.shape} differ")


def pixel_weights(row_w: np.ndarray, width: int) -> np.ndarray:
    """Per-row weights ``(H,)`` repeated to flat per-pixel weights ``(H*W,)``."""
    return np.repeat(row_w, width)  # (H*W,), row-major like a flattened map


def masses(m: np.ndarray, row_w: np.ndarray) -> np.ndarray:
    """Maps ``(F, H, W)`` -> probability masses ``m w / sum(m w)`` (shifted up if negative).

    A map that sums to 0 becomes the area-weighted uniform distribution.
    """
    mn = m.min(axis=(1, 2))
    if (mn < 0).any():
        m = m - np.minimum(mn, 0.0)[:, None, None]
    mw = m if np.all(row_w == row_w[0]) else m * row_w[None, :, None]
    tot = mw.sum(axis=(1, 2))
    empty = ~(tot > 0)
    if empty.any():
        mw = np.array(mw)
        mw[empty] = row_w[:, None]
        tot[empty] = row_w.sum() * m.shape[2]
    return mw / tot[:, None, None]


def minmax(m: np.ndarray) -> np.ndarray:
    """Each frame scaled to ``[0, 1]`` (a constant frame becomes 0)."""
    lo = m.min(axis=(1, 2))
    span = m.max(axis=(1, 2)) - lo
    out = m - lo[:, None, None]
    out /= np.where(span > 0, span, 1.0)[:, None, None]
    out[~(span > 0)] = 0.0
    return out


def nan_frames(*maps: np.ndarray) -> np.ndarray:
    """Frames with a NaN (or inf) anywhere in any of the maps (one pass, no full temporary)."""
    bad = np.zeros(maps[0].shape[0], bool)
    for m in maps:
        bad |= ~np.isfinite(m.reshape(m.shape[0], -1).sum(axis=1))
    return bad


@lru_cache(maxsize=32)
def pixel_weight_pair(kind: str, height: int, width: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Flat per-pixel weights summing to 1 and their square roots; None when all are equal."""
    from pano.metrics.profiles import _row_weights

    row_w = _row_weights(kind, height, width)
    if np.all(row_w == row_w[0]):
        return None
    pw = np.repeat(row_w, width)
    pw = pw / pw.sum()
    sw = np.sqrt(pw)
    pw.setflags(write=False)
    sw.setflags(write=False)
    return pw, sw


def moments(
    m: np.ndarray, weights: tuple[np.ndarray, np.ndarray] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted mean ``(F,)``, population variance ``(F,)`` and scaled centred maps ``(F, N)``.

    The centred flat maps are multiplied by ``sqrt(w)`` (left unscaled when unweighted), so
    a weighted covariance is ``einsum(d1, d2) / n_of(d1, weights)``. A NaN anywhere in a
    frame makes its mean NaN (the callers' NaN test).
    """
    flat = m.reshape(m.shape[0], -1)
    mean = flat.mean(axis=1) if weights is None else flat @ weights[0]
    d = flat - mean[:, None]
    if weights is not None:
        d *= weights[1]
    return mean, np.einsum("fi,fi->f", d, d) / n_of(d, weights), d


def n_of(d: np.ndarray, weights: tuple[np.ndarray, np.ndarray] | None) -> int:
    """The divisor of a (weighted) covariance of centred maps from :func:`moments`."""
    return d.shape[1] if weights is None else 1


def constant_frames(m: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Frames whose map is exactly constant.

    ``min == max`` is checked only where the variance is at rounding level (cheap), so a
    constant map is never mistaken for one with tiny noise, nor the reverse.
    """
    out = np.zeros(m.shape[0], bool)
    cand = np.nonzero(~(var > 1e-24 * np.maximum(mean * mean, 1e-300)))[0]
    for i in cand:
        out[i] = bool(np.ptp(m[i]) == 0)
    return out
