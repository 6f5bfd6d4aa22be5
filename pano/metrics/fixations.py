"""Fixations: the fixated pixels of each frame, the positive samples of NSS, the AUCs and IG.

:class:`Fixations` holds integer pixel indices on an ERP grid (row 0 at the north pole,
column 0 at the left edge, as in :mod:`pano.geometry`); it is built from pano
``(lon, lat)`` degrees, unit vectors or pixel indices. A density map is never accepted
where fixations are needed, nor the reverse (:class:`~pano.errors.MetricInputError`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pano.errors import MetricInputError, ShapeError, UnknownNameError
from pano.geometry import lonlat_to_erp, vec_to_erp
from pano.metrics._arrays import to_numpy

#: How a metric counts a pixel fixated more than once: every time, or once.
Duplicates = Literal["count", "once"]


@dataclass(frozen=True)
class Fixations:
    """Fixated pixels per frame: the positive samples of NSS, the AUCs and IG.

    Attributes:
        rows, cols: ``(F, N)`` int64 pixel indices (row 0 = top, column 0 = left edge).
        valid: ``(F, N)`` bool; False marks a missing sample (e.g. a subject with NaN).
        height, width: the map grid the indices refer to.

    Ground-truth fixations of PVS-HM are the subjects' head points of each step
    (the store's ``scanpath``), each mapped to the grid pixel that contains it.

    """

    rows: np.ndarray
    cols: np.ndarray
    valid: np.ndarray
    height: int
    width: int

    def __post_init__(self) -> None:
        if not (self.rows.shape == self.cols.shape == self.valid.shape) or self.rows.ndim != 2:
            raise ShapeError(
                f"Fixations rows/cols/valid must share one (F, N) shape, got "
                f"{self.rows.shape}, {self.cols.shape}, {self.valid.shape}"
            )
        ok = self.valid
        if np.any((self.rows[ok] < 0) | (self.rows[ok] >= self.height)) or np.any(
            (self.cols[ok] < 0) | (self.cols[ok] >= self.width)
        ):
            raise ShapeError(f"Fixations outside the {self.width}x{self.height} grid")

    @classmethod
    def from_pixels(
        cls, rows: Any, cols: Any, height: int, width: int, valid: Any | None = None
    ) -> Fixations:
        """Fixations from integer pixel indices ``(F, N)`` (``valid`` defaults to all True)."""
        r = np.asarray(rows, dtype=np.int64)
        c = np.asarray(cols, dtype=np.int64)
        if r.ndim == 1:
            r, c = r[None], c[None]
        v = np.ones(r.shape, bool) if valid is None else np.asarray(valid, bool).reshape(r.shape)
        r = np.where(v, r, 0)
        c = np.where(v, c, 0)
        return cls(r, c, v, int(height), int(width))

    @classmethod
    def _from_xy(cls, x: np.ndarray, y: np.ndarray, height: int, width: int) -> Fixations:
        valid = np.isfinite(x) & np.isfinite(y)
        xs = np.where(valid, x, 0.0)
        ys = np.where(valid, y, 0.0)
        cols = np.floor(xs).astype(np.int64) % width
        rows = np.clip(np.floor(ys).astype(np.int64), 0, height - 1)
        return cls.from_pixels(rows, cols, height, width, valid)

    @classmethod
    def from_lonlat(cls, lonlat: Any, height: int, width: int) -> Fixations:
        """Fixations from pano ``(lon, lat)`` degrees ``(F, N, 2)`` (NaN = missing).

        Each point goes to the pixel that contains it (``floor`` of the continuous ERP
        coordinate; the south-pole edge ``lat = -90`` goes to the last row).
        """
        ll = to_numpy(lonlat)
        if ll.ndim == 2:
            ll = ll[None]
        if ll.ndim != 3 or ll.shape[-1] != 2:
            raise ShapeError(f"lonlat must have shape (F, N, 2), got {ll.shape}")
        x, y = lonlat_to_erp(ll[..., 0], ll[..., 1], width, height)
        return cls._from_xy(np.asarray(x), np.asarray(y), height, width)

    @classmethod
    def from_vectors(cls, vec: Any, height: int, width: int) -> Fixations:
        """Fixations from unit vectors ``(F, N, 3)`` in pano's frame (NaN = missing)."""
        v = to_numpy(vec)
        if v.ndim == 2:
            v = v[None]
        if v.ndim != 3 or v.shape[-1] != 3:
            raise ShapeError(f"vectors must have shape (F, N, 3), got {v.shape}")
        x, y = vec_to_erp(v, width, height)
        return cls._from_xy(np.asarray(x), np.asarray(y), height, width)

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def frame(self, i: int, duplicates: Duplicates = "count") -> np.ndarray:
        """Flat pixel indices of frame ``i``'s valid fixations (unique ones if ``'once'``).

        Raises:
            UnknownNameError: ``duplicates`` is neither ``'count'`` nor ``'once'``.

        """
        if duplicates not in ("count", "once"):
            raise UnknownNameError(f"duplicates must be 'count' or 'once', not {duplicates!r}")
        flat = self.rows[i][self.valid[i]] * self.width + self.cols[i][self.valid[i]]
        return np.unique(flat) if duplicates == "once" else flat

    def counts(self) -> np.ndarray:
        """Fixation counts per pixel, ``(F, H, W)`` int64."""
        out = np.zeros((len(self), self.height * self.width), np.int64)
        for i in range(len(self)):
            np.add.at(out[i], self.frame(i), 1)
        return out.reshape(len(self), self.height, self.width)

    def select(self, idx: Any) -> Fixations:
        """A subset of frames (``idx`` indexes the leading dimension)."""
        return Fixations(self.rows[idx], self.cols[idx], self.valid[idx], self.height, self.width)


def need_fixations(fix: Any, metric: str, maps: np.ndarray) -> Fixations:
    """``fix`` if it is :class:`Fixations` for the frames and grid of ``maps`` ``(F, H, W)``."""
    if not isinstance(fix, Fixations):
        shape = getattr(fix, "shape", None)
        raise MetricInputError(
            f"{metric} needs fixations (pano.metrics.Fixations), got "
            f"{type(fix).__name__}{'' if shape is None else ' of shape ' + str(tuple(shape))}: "
            "a density map is not a set of fixations; build them with "
            "Fixations.from_lonlat(scanpath, H, W)"
        )
    if len(fix) != maps.shape[0] or (fix.height, fix.width) != maps.shape[1:]:
        raise ShapeError(
            f"{metric}: fixations are for {len(fix)} frames on {fix.width}x{fix.height}, "
            f"the maps are {maps.shape[0]} frames of {maps.shape[2]}x{maps.shape[1]}"
        )
    return fix


def as_maps(x: Any, name: str) -> tuple[np.ndarray, bool]:
    """Return ``(F, H, W)`` float64 maps and whether the input was a single ``(H, W)`` map."""
    if isinstance(x, Fixations):
        raise MetricInputError(
            f"{name} must be a saliency/density map (F, H, W), got Fixations; "
            "pass fixations only to NSS, AUC and IG"
        )
    a = to_numpy(x)
    if a.ndim == 2:
        return a[None], True
    if a.ndim != 3:
        raise ShapeError(f"{name} must have shape (F, H, W) or (H, W), got {a.shape}")
    return a, False
