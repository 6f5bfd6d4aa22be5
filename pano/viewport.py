"""Viewports: the gnomonic (pinhole) views a head orientation sees in an equirectangular frame.

Conventions (see ``docs/viewports.md`` and :mod:`pano.geometry`):

* head orientation in degrees, pano convention: ``yaw`` = longitude of the viewing
  direction, positive to the LEFT; ``pitch`` = latitude, positive UP; ``roll`` as in
  :func:`pano.geometry.rotation_matrix` (rotation about the viewing axis);
* the viewport camera has the rows of :func:`pano.geometry.head_to_camera_axes`
  (image right, image down, forward); ``fx = (w/2) / tan(fov_x/2)``,
  ``fy = (h/2) / tan(fov_y/2)``; output pixel ``(u, v)`` looks along
  ``forward + ((u + .5) - w/2)/fx * right + ((v + .5) - h/2)/fy * down`` (pixel centres);
* ERP frames: column 0 at the left edge, ``lon = 180 - 360 x / W`` (pixel centres at
  ``i + .5``), so the LEFT half of the image holds ``lon > 0``.

How sampling is done: the camera rays are cached per ``(fov, size, device, dtype)`` in
separable form (one vector per column, one per row); a call only rotates them (the
rotation is applied as a rank-structured batched product, cheaper than a full matmul),
converts to ``(lon, lat)`` and calls :func:`torch.nn.functional.grid_sample` once per
frame (per chunk of viewports on CPU, to stay in cache) with the frame *expanded*, never
copied per viewport. The frame is prepared once per frame: an optional pre-filtered level
(anti-aliasing, see below), then 2 columns are wrapped circularly on each side (exact
longitude wrap at ±180°) and 2 rows are added above the north and below the south pole
holding the rows across the pole (rolled by ``W/2``), so a view through a pole samples the
other side instead of clamping or folding.

Anti-aliasing (``antialias=True``): a 224-px view of 90° from a 3840-px frame skips ~4
source pixels per output pixel. The sampler picks the power-of-two box-filtered level whose
pixel pitch is 1-2x finer than the output pitch at the viewport centre (mip-mapping) and
samples that; the level is computed once per frame and reused for all its viewports (and
for repeated calls with the same, unmodified frame tensor).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from pano.errors import ParameterError, ShapeError, UnknownNameError
from pano.fov import DHP_FOV, VIEWPORT_FOV, FoV, FoVLike
from pano.geometry import head_to_camera_axes, vec_to_lonlat
from pano.threads import check_threads, hot_loop_threads

__all__ = [
    "DHP_SIZE",
    "ViewportSampler",
    "extract_viewports",
    "viewport_outline",
]

#: Size (height, width) of DHP's agent observation (its field of view: :data:`pano.fov.DHP_FOV`).
DHP_SIZE = (42, 42)

_MODES = ("nearest", "bilinear", "bicubic")
_PAD = 2  # wrapped columns / pole rows on each side (bicubic needs 2, the others 1)
_CPU_CHUNK_ELEMS = 1 << 19  # output pixels per grid_sample call on CPU (keeps grids in cache)
_MAX_TALL_ROWS = (
    1 << 18
)  # rows of a stacked frame batch sampled in one call (fp32 grid: <= 1/32 px)
_LUMA = (0.299, 0.587, 0.114)  # BT.601 luma weights (RGB -> Y, full range)


def _pair(value: Any, name: str, cast: type) -> tuple[Any, Any]:
    if isinstance(value, (int, float)):
        value = (value, value)
    try:
        a, b = value
        out = (cast(a), cast(b))
    except (TypeError, ValueError) as err:
        raise ShapeError(f"{name} must be a number or a pair of numbers, got {value!r}") from err
    return out


@dataclass(frozen=True)
class _Prepared:
    """A frame batch ready for sampling: padded level ``(B, C, Hl + 4, Wl + 4)``."""

    padded: torch.Tensor
    height: int  # Hl, rows of the level without padding
    width: int  # Wl


class ViewportSampler:
    """Render gnomonic viewports from equirectangular frames, batched, on any device.

    Args:
        fov_deg: field of view ``(horizontal, vertical)`` in degrees: a
            :class:`pano.fov.FoV`, one number (both), a pair or ``"HxV"`` text; each angle
            in ``(0, 180)`` (else :class:`~pano.errors.ParameterError`).
        size: output ``(height, width)`` in pixels (one number = square).
        mode: ``"nearest"``, ``"bilinear"`` or ``"bicubic"`` (bicubic output of uint8
            frames is clamped to ``[0, 1]``).
        antialias: sample a pre-filtered (box, power-of-two) level of the frame whose pixel
            pitch is 1-2x finer than the output pitch at the viewport centre. Turn off to
            sample the full-resolution frame (aliases when strongly downscaling).
        remap_compat: DHP parity mode: replaces ``fov_deg``/``size``/``mode`` by DHP's
            110x113 degrees, 42x42 pixels, bicubic, and returns **luma only**
            (``(N, 1, 42, 42)``; RGB frames are converted with BT.601 weights, 1-channel
            frames are used as they are). Differences from the ``remap`` binary: pano
            WRAPS the ±180° seam and samples across the poles, ``remap`` CLAMPS the seam;
            pano's pre-filter is a box level, ``remap`` blurs the full frame with a 9-tap
            filter. Passing a non-default ``fov_deg``/``size``/``mode`` that differs from
            DHP's raises :class:`~pano.errors.ParameterError`.
        truncate_degrees: truncate yaw/pitch/roll toward zero to whole degrees before
            rendering, as ``remap`` parses its centre as integer degrees (12.7 -> 12).
            Meant for ``remap_compat`` but allowed in any mode.
        threads: torch intra-op threads for rendering on the CPU; None (default) follows
            pano's thread policy (``PANO_THREADS``, else the free cores, at most torch's
            setting; :mod:`pano.threads`, ``docs/viewports.md``). Restored after each call.

    Call ``sampler(frames, yaw, pitch, roll=None, frame_index=None)`` (see
    :meth:`__call__`). A sampler caches its camera rays per device/dtype and the prepared
    level of the last frame tensor it saw; it is cheap to keep one per configuration.

    """

    def __init__(
        self,
        fov_deg: FoVLike = VIEWPORT_FOV,
        size: int | Sequence[int] = (224, 224),
        mode: str = "bilinear",
        antialias: bool = True,
        remap_compat: bool = False,
        truncate_degrees: bool = False,
        threads: int | None = None,
    ) -> None:
        fov = FoV.parse(fov_deg, "fov_deg")
        hw = _pair(size, "size", int)
        if remap_compat:
            for given, default, dhp, name in (
                (fov, VIEWPORT_FOV, DHP_FOV, "fov_deg"),
                (hw, (224, 224), DHP_SIZE, "size"),
                (mode, "bilinear", "bicubic", "mode"),
            ):
                if given != default and given != dhp:
                    raise ParameterError(
                        f"remap_compat=True fixes {name} to DHP's {dhp!r}; got {given!r} "
                        "(drop the argument or use remap_compat=False)"
                    )
            fov, hw, mode = DHP_FOV, DHP_SIZE, "bicubic"
        if not all(n >= 1 for n in hw):
            raise ShapeError(f"size must be positive (height, width), got {hw!r}")
        if mode not in _MODES:
            raise UnknownNameError(f"mode must be one of {', '.join(_MODES)}; got {mode!r}")
        self.fov_deg: FoV = fov
        self.size: tuple[int, int] = hw
        self.mode = mode
        self.antialias = bool(antialias)
        self.remap_compat = bool(remap_compat)
        self.truncate_degrees = bool(truncate_degrees)
        self.threads = check_threads(threads)
        h, w = hw
        self.fx = (w / 2.0) / math.tan(math.radians(fov.h_deg) / 2.0)
        self.fy = (h / 2.0) / math.tan(math.radians(fov.v_deg) / 2.0)
        self._rays: dict[tuple[torch.device, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}
        self._last: tuple[torch.Tensor, int, tuple[Any, ...], _Prepared] | None = None

    def __repr__(self) -> str:
        return (
            f"ViewportSampler(fov_deg={self.fov_deg}, size={self.size}, mode={self.mode!r}, "
            f"antialias={self.antialias}, remap_compat={self.remap_compat})"
        )

    # ------------------------------------------------------------------ geometry

    def _camera(
        self, device: torch.device, dtype: torch.dtype
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Cached camera rays ``(3, h * w)`` and their inverse lengths ``(h * w,)``.

        Column ``v * w + u`` is ``(a_u, b_v, 1)``: pixel ``(u, v)`` looks along
        ``a_u right + b_v down + forward`` (a rotation does not change the length).
        """
        key = (device, dtype)
        if key not in self._rays:
            h, w = self.size
            a = (torch.arange(w, dtype=torch.float64) + 0.5 - w / 2.0) / self.fx
            b = (torch.arange(h, dtype=torch.float64) + 0.5 - h / 2.0) / self.fy
            rays = torch.stack(
                (
                    a[None, :].expand(h, w),
                    b[:, None].expand(h, w),
                    torch.ones(h, w, dtype=torch.float64),
                )
            ).reshape(3, h * w)
            inv_norm = torch.rsqrt((rays * rays).sum(0))
            self._rays[key] = (rays.to(device, dtype), inv_norm.to(device, dtype))
        return self._rays[key]

    def _axes(
        self, yaw: Any, pitch: Any, roll: Any, device: torch.device, dtype: torch.dtype
    ) -> torch.Tensor:
        """Camera axes ``(N, 3, 3)`` (rows right, down, forward) from degree angles."""
        y, p, r = (_angles(v, n) for v, n in ((yaw, "yaw"), (pitch, "pitch"), (roll, "roll")))
        try:
            y, p, r = torch.broadcast_tensors(y, p, r)
        except RuntimeError as err:
            raise ShapeError(
                f"yaw {tuple(y.shape)}, pitch {tuple(p.shape)} and roll {tuple(r.shape)} "
                "must have the same length N (or be scalars)"
            ) from err
        if self.truncate_degrees:
            y, p, r = torch.trunc(y), torch.trunc(p), torch.trunc(r)
        return head_to_camera_axes(y, p, r).to(device=device, dtype=dtype, non_blocking=True)

    def pixel_directions(self, yaw: Any, pitch: Any, roll: Any = None) -> torch.Tensor:
        """World unit vectors ``(N, h, w, 3)`` (float64, CPU) each output pixel looks along.

        Useful to find where a viewport pixel lands on the sphere (tests, plots).
        """
        roll = 0.0 if roll is None else roll
        axes = self._axes(yaw, pitch, roll, torch.device("cpu"), torch.float64)
        rays, inv_norm = self._camera(torch.device("cpu"), torch.float64)
        world = torch.einsum("kp,nkc->npc", rays * inv_norm, axes)  # (N, h * w, 3)
        return world.reshape(axes.shape[0], *self.size, 3)

    def _grid(self, axes: torch.Tensor, prep: _Prepared) -> torch.Tensor:
        """Sampling grid ``(n, h, w, 2)`` for ``grid_sample(align_corners=False)``."""
        rays, inv_norm = self._camera(axes.device, axes.dtype)
        n = axes.shape[0]
        h, w = self.size
        # Rotate the cached rays by ONE matmul: rows of (3n, 3) = (x, y, z) components of
        # every view's (right, down, forward); the result's planes x, y, z are contiguous.
        xyz = axes.permute(2, 0, 1).reshape(3 * n, 3) @ rays
        x, y, z = xyz[:n], xyz[n : 2 * n], xyz[2 * n :]
        # Continuous ERP pixel x = (0.5 - lon/2pi) W; in the padded frame (width W + 2p,
        # align_corners=False) the normalised coordinate reduces to -lon W / (pi (W + 2p)).
        # Likewise y maps to -2 lat H / (pi (H + 2p)). lat = asin(z / |ray|) with the cached
        # 1/|ray| (cheaper than atan2(z, hypot(x, y)); fp32 error < 0.03 deg, only in the
        # last 0.1 deg before a pole). Scaling writes straight into the interleaved grid.
        hp, wp = prep.padded.shape[-2:]
        grid = torch.empty((n, h * w, 2), dtype=axes.dtype, device=axes.device)
        torch.mul(torch.atan2(y, x), -prep.width / (math.pi * wp), out=grid[..., 0])
        lat = z.mul_(inv_norm).clamp_(-1.0, 1.0).asin_()
        torch.mul(lat, -2.0 * prep.height / (math.pi * hp), out=grid[..., 1])
        return grid.view(n, h, w, 2)

    # ------------------------------------------------------------------ frames

    def level_for(self, height: int, width: int) -> int:
        """Pyramid level ``k`` (frame downscaled by ``2**k``) used for an ``H x W`` frame.

        ``k = floor(log2(r))`` with ``r`` the ratio of the output pixel pitch at the
        viewport centre to the ERP pixel pitch (the smaller of the two axes), so the level's
        pitch is 1-2x finer than the output's; 0 without anti-aliasing.
        """
        if not self.antialias:
            return 0
        out_x = math.degrees(2.0 * math.atan(0.5 / self.fx))
        out_y = math.degrees(2.0 * math.atan(0.5 / self.fy))
        ratio = min(out_x / (360.0 / width), out_y / (180.0 / height))
        k = math.floor(math.log2(ratio)) if ratio >= 2.0 else 0
        while k > 0 and min(height, width) >> k < 4:
            k -= 1
        return k

    def prepare(self, frames: torch.Tensor, levels: tuple[float, float] | None = None) -> _Prepared:
        """Normalise, pre-filter and pad a frame batch once; reuse it for many calls.

        ``frames`` and ``levels`` as for :meth:`__call__`. Returns an opaque object that
        :meth:`__call__` also accepts in place of ``frames``. The sampler keeps the last
        prepared frame tensor and reuses it while the tensor is not modified in place.
        """
        with hot_loop_threads(self.threads, device=getattr(frames, "device", None)):
            return self._prepare(frames, levels)

    def _prepare(self, frames: torch.Tensor, levels: tuple[float, float] | None) -> _Prepared:
        x = _as_bchw(frames)
        lo, hi = _levels(levels, x)
        key = (x.shape, x.dtype, x.device, x.stride(), lo, hi)
        last = self._last
        if last is not None and last[0] is frames and last[1] == frames._version and last[2] == key:
            return last[3]
        _, _, height, width = x.shape
        xf = _box_level(x, self.level_for(height, width), lo, hi)
        if self.remap_compat and xf.shape[1] != 1:
            if xf.shape[1] != 3:
                raise ShapeError(
                    f"remap_compat needs RGB (3 channels) or luma (1 channel) frames, "
                    f"got {xf.shape[1]} channels"
                )
            w = torch.tensor(_LUMA, dtype=xf.dtype, device=xf.device)
            xf = torch.einsum("bchw,c->bhw", xf, w)[:, None]
        prep = _Prepared(_pad_sphere(xf), int(xf.shape[-2]), int(xf.shape[-1]))
        self._last = (frames, frames._version, key, prep)
        return prep

    # ------------------------------------------------------------------ sampling

    def __call__(
        self,
        frames: torch.Tensor | _Prepared,
        yaw: Any,
        pitch: Any,
        roll: Any = None,
        frame_index: Any = None,
        *,
        out: torch.Tensor | None = None,
        levels: tuple[float, float] | None = None,
    ) -> torch.Tensor:
        """Render ``N`` viewports.

        Args:
            frames: ERP frames ``(C, H, W)``, ``(B, C, H, W)`` or luma ``(H, W)``; uint8 or
                floating point; any device (or the result of :meth:`prepare`).
            yaw, pitch: degrees, shape ``(N,)`` (or scalars / broadcastable): yaw = lon of
                the viewing direction (positive LEFT), pitch = lat (positive UP).
            roll: degrees ``(N,)`` or ``None`` (0), see :func:`pano.geometry.rotation_matrix`.
            frame_index: long ``(N,)`` choosing each viewport's frame in the batch; default
                every viewport from frame 0.
            out: optional contiguous ``(N, C, h, w)`` tensor to render into (and return),
                of the result's dtype and the frames' device. Reusing one buffer in a loop
                saves allocating the result each call: on the CPU a fresh result larger
                than glibc's 32 MB mmap threshold (58 RGB 224x224 views) page-faults in at
                roughly a third of the sampling time. Not for float16/bfloat16 frames.
            levels: for uint8 frames, the values of black and white (default ``(0,
                255)``): e.g. ``(16, 235)`` for limited-range luma as coded in most video
                (:attr:`pano.video.base.VideoDecoder.luma_levels`). Values are mapped to
                ``(v - black) / (white - black)`` and clamped to ``[0, 1]`` on the
                pre-filtered level (cheaper than converting the full frame first; it
                differs only next to pixels outside the range).

        Returns:
            ``(N, C, h, w)`` on the frames' device (``C = 1`` in ``remap_compat``); dtype
            float32 for uint8 frames (values in ``[0, 1]``), otherwise the frames' dtype
            (float16/bfloat16 frames are sampled in float32 and cast back).

        Raises:
            ShapeError: wrong frame rank/dtype, angle shapes, or frame indices out of range.

        """
        dev = frames.padded.device if isinstance(frames, _Prepared) else None
        with hot_loop_threads(self.threads, device=dev or getattr(frames, "device", None)):
            return self._render(frames, yaw, pitch, roll, frame_index, out, levels)

    def _render(
        self,
        frames: torch.Tensor | _Prepared,
        yaw: Any,
        pitch: Any,
        roll: Any,
        frame_index: Any,
        out: torch.Tensor | None,
        levels: tuple[float, float] | None,
    ) -> torch.Tensor:
        """:meth:`__call__` under the thread policy."""
        if isinstance(frames, _Prepared):
            if levels is not None:
                raise ParameterError("levels are applied when preparing: pass them to prepare()")
            prep, out_dtype = frames, frames.padded.dtype
        else:
            if not isinstance(frames, torch.Tensor):
                raise ShapeError(f"frames must be a torch.Tensor, got {type(frames).__name__}")
            prep = self._prepare(frames, levels)
            out_dtype = frames.dtype if frames.is_floating_point() else torch.float32
        uint8_in = not isinstance(frames, _Prepared) and frames.dtype == torch.uint8
        padded = prep.padded
        device, dtype = padded.device, padded.dtype
        axes = self._axes(yaw, pitch, 0.0 if roll is None else roll, device, dtype)
        n = axes.shape[0]
        nb = padded.shape[0]
        h, w = self.size
        shape = (n, padded.shape[1], h, w)
        if out is None:
            out = torch.empty(shape, dtype=dtype, device=device)
        elif (
            not isinstance(out, torch.Tensor)
            or tuple(out.shape) != shape
            or out.dtype != dtype
            or out_dtype != dtype
            or out.device != device
            or not out.is_contiguous()
        ):
            got = (
                f"{tuple(out.shape)} {out.dtype} on {out.device}"
                if isinstance(out, torch.Tensor)
                else type(out).__name__
            )
            raise ShapeError(
                f"out must be a contiguous {shape} {out_dtype} tensor on {device}"
                f"{' (frames in float32 or float64)' if out_dtype != dtype else ''}; got {got}"
            )
        if n == 0:
            return out.to(out_dtype)
        chunk = n if device.type != "cpu" else max(1, _CPU_CHUNK_ELEMS // (h * w))
        idx = None if frame_index is None else _frame_index(frame_index, n, nb)
        if idx is None or bool((idx == idx[0]).all()):
            b = 0 if idx is None else int(idx[0])
            self._sample(prep, padded[b : b + 1], axes, out, chunk)
        elif nb * padded.shape[-2] <= _MAX_TALL_ROWS:
            # Many frames: one call on the frames stacked as one tall image (a free view of
            # the prepared batch); each frame's pole rows keep the others out of reach.
            self._sample(prep, _tall(padded), axes, out, chunk, idx.to(device), nb)
        else:
            for b in torch.unique(idx).tolist():
                sel = (idx == b).nonzero().flatten()
                res = torch.empty((sel.numel(), *out.shape[1:]), dtype=dtype, device=device)
                self._sample(prep, padded[b : b + 1], axes[sel.to(axes.device)], res, chunk)
                out[sel.to(device)] = res
        if uint8_in and self.mode == "bicubic":
            out.clamp_(0.0, 1.0)
        return out if out.dtype == out_dtype else out.to(out_dtype)

    def _sample(
        self,
        prep: _Prepared,
        src: torch.Tensor,
        axes: torch.Tensor,
        out: torch.Tensor,
        chunk: int,
        rows: torch.Tensor | None = None,
        n_frames: int = 1,
    ) -> None:
        """Render ``axes (n, 3, 3)`` from ``src (1, C, H', W')`` into ``out (n, C, h, w)``.

        All viewports of a chunk go through ONE ``grid_sample`` call with the frame expanded
        over them (no copy). With ``rows`` (the frame of each viewport), ``src`` is the tall
        stack of ``n_frames`` prepared frames, the grid is laid out as ``(1, n * h, w, 2)``
        and each viewport's grid is shifted to its frame.
        """
        h, w = self.size
        c = src.shape[1]
        for i in range(0, axes.shape[0], chunk):
            grid = self._grid(axes[i : i + chunk], prep)
            k = grid.shape[0]
            if rows is None:  # the frame expanded over the chunk: output lands in place
                out[i : i + k] = F.grid_sample(
                    src.expand(k, -1, -1, -1), grid, self.mode, "border", align_corners=False
                )
                continue
            shift = (2 * rows[i : i + k] + 1).to(grid.dtype)[:, None, None]
            grid[..., 1].add_(shift).mul_(1.0 / n_frames).sub_(1.0)
            res = F.grid_sample(
                src, grid.view(1, k * h, w, 2), self.mode, "border", align_corners=False
            )
            out[i : i + k] = res.view(c, k, h, w).transpose(0, 1)


def _angles(value: Any, name: str) -> torch.Tensor:
    """Degrees as a 1-D float64 tensor (scalars become length 1) on the value's device."""
    if isinstance(value, torch.Tensor):
        t = value.detach().to(torch.float64)
    else:
        try:
            t = torch.as_tensor(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError) as err:
            raise ShapeError(f"{name} must be numbers in degrees, got {value!r}") from err
    if t.ndim > 1:
        raise ShapeError(
            f"{name} must be a scalar or 1-D (N,) in degrees, got shape {tuple(t.shape)}"
        )
    return t.reshape(-1)


def _frame_index(value: Any, n: int, nb: int) -> torch.Tensor:
    idx = torch.as_tensor(value)
    if idx.is_floating_point() or idx.dtype == torch.bool or idx.is_complex():
        raise ShapeError(f"frame_index must be an integer (long) tensor, got dtype {idx.dtype}")
    idx = idx.reshape(-1).to("cpu", torch.long)
    if idx.numel() == 1 and n != 1:
        idx = idx.expand(n)
    if idx.numel() != n:
        raise ShapeError(f"frame_index has {idx.numel()} entries but there are {n} viewports")
    if bool(((idx < 0) | (idx >= nb)).any()):
        raise ShapeError(
            f"frame_index values must be in [0, {nb}) for a batch of {nb} frame(s); "
            f"got min {int(idx.min())}, max {int(idx.max())}"
        )
    return idx


def _as_bchw(frames: torch.Tensor) -> torch.Tensor:
    if not isinstance(frames, torch.Tensor):
        raise ShapeError(f"frames must be a torch.Tensor, got {type(frames).__name__}")
    if frames.dtype != torch.uint8 and not frames.is_floating_point():
        raise ShapeError(f"frames must be uint8 or floating point, got dtype {frames.dtype}")
    if frames.ndim == 2:
        x = frames[None, None]
    elif frames.ndim == 3:
        x = frames[None]
    elif frames.ndim == 4:
        x = frames
    else:
        raise ShapeError(
            "frames must be (H, W) luma, (C, H, W) or (B, C, H, W); "
            f"got shape {tuple(frames.shape)}"
        )
    if x.shape[0] < 1 or x.shape[1] < 1 or x.shape[2] < 2 or x.shape[3] < 2:
        raise ShapeError(f"frames have an empty or degenerate shape {tuple(frames.shape)}")
    if x.shape[1] > 4 and x.shape[-1] in (1, 3, 4):
        raise ShapeError(
            f"frames look channels-last {tuple(frames.shape)}: pass (C, H, W) / (B, C, H, W) "
            "(e.g. frame.permute(2, 0, 1))"
        )
    return x


def _levels(levels: tuple[float, float] | None, x: torch.Tensor) -> tuple[float, float]:
    """Validated ``(black, white)`` for uint8 frames; ``(0, 255)`` by default."""
    if levels is None:
        return 0.0, 255.0
    try:
        lo, hi = (float(v) for v in levels)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"levels must be (black, white) numbers, got {levels!r}") from err
    if x.is_floating_point():
        raise ShapeError("levels apply to uint8 frames only; scale float frames yourself")
    if not 0.0 <= lo < hi <= 255.0:
        raise ParameterError(f"levels must satisfy 0 <= black < white <= 255, got {levels!r}")
    return lo, hi


def _box_level(x: torch.Tensor, k: int, lo: float = 0.0, hi: float = 255.0) -> torch.Tensor:
    """Frames ``(B, C, H, W)`` -> float level ``k`` (box filter, ``2**k`` smaller; uint8 -> [0, 1]).

    Sums 2x2 blocks ``k`` times by adding strided views (several times faster than
    ``avg_pool2d`` on the CPU), in int16 for the first 3 levels of uint8 frames (exact, no
    overflow), in floating point after that; channels-last input (decoded frames) is
    processed in its own layout. Sizes not divisible by ``2**k`` use area interpolation.
    """
    uint8 = not x.is_floating_point()
    work = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    scale = (1.0 / (hi - lo) if uint8 else 1.0) / float(4**k)
    remap = uint8 and (lo, hi) != (0.0, 255.0)  # black/white other than 0/255: shift + clamp
    _, _, height, width = x.shape
    f = 1 << k
    if k > 0 and (height % f or width % f):
        size = (max(1, round(height / f)), max(1, round(width / f)))
        out = F.interpolate(x.to(work), size=size, mode="area")
        if not uint8:
            return out
        out = out.sub_(lo).mul_(1.0 / (hi - lo))
        return out.clamp_(0.0, 1.0) if remap else out
    cl = x.shape[1] > 1 and x.stride(1) == 1  # (B, H, W, C) in memory
    t = x.permute(0, 2, 3, 1) if cl else x  # pool over dims (1, 2) or (2, 3)
    hd = 1 if cl else 2
    t = t.to(torch.int16 if uint8 and k >= 1 else work)
    for level in range(k):
        if level == 3:  # sums of 64 uint8 values still fit int16; 256 would not
            t = t.to(work)
        shape = list(t.shape)
        r = t.reshape(*shape[:hd], shape[hd] // 2, 2, *shape[hd + 1 :])
        t = r.select(hd + 1, 0) + r.select(hd + 1, 1)
        shape = list(t.shape)
        r = t.reshape(*shape[: hd + 1], shape[hd + 1] // 2, 2, *shape[hd + 2 :])
        t = r.select(hd + 2, 0) + r.select(hd + 2, 1)
    t = t.to(work)
    if scale != 1.0:  # t is a fresh tensor here (sums or a converted copy)
        t = t.mul_(scale)
    if remap:
        t = t.sub_(lo / (hi - lo)).clamp_(0.0, 1.0)
    return t.permute(0, 3, 1, 2) if cl else t


def _pad_sphere(x: torch.Tensor, p: int = _PAD) -> torch.Tensor:
    """Pad an ERP batch ``(B, C, H, W)`` by ``p`` rows across each pole and ``p`` wrapped columns.

    The row above row 0 at column ``i`` is row 0 at column ``i + W/2`` (the meridian on the
    other side of the pole), so pole rows are flipped and rolled by ``W // 2``; columns wrap
    circularly. Result ``(B, C, H + 2p, W + 2p)``, written with one copy of the frame, as
    a view of a ``(C, B, H + 2p, W + 2p)`` buffer: every (frame, channel) plane is
    contiguous (what ``grid_sample`` reads fastest) and the batch can be viewed as one tall
    image per channel without a copy (:func:`_tall`).
    """
    b, c, height, width = x.shape
    if height < p or width < p:
        raise ShapeError(f"frames must be at least {p}x{p} pixels, got {width}x{height}")
    buf = torch.empty((c, b, height + 2 * p, width + 2 * p), dtype=x.dtype, device=x.device)
    out = buf.transpose(0, 1)
    out[..., p : p + height, p : p + width] = x
    out[..., :p, p : p + width] = torch.roll(x[..., :p, :].flip(-2), width // 2, dims=-1)
    out[..., p + height :, p : p + width] = torch.roll(
        x[..., height - p :, :].flip(-2), width // 2, dims=-1
    )
    out[..., :p] = out[..., width : width + p]
    out[..., p + width :] = out[..., p : 2 * p]
    return out


def _tall(padded: torch.Tensor) -> torch.Tensor:
    """View a prepared batch ``(B, C, H, W)`` as one image ``(1, C, B * H, W)`` (frames stacked).

    Free for the ``(C, B, H, W)`` buffers :func:`_pad_sphere` writes.
    """
    b, c, height, width = padded.shape
    return padded.transpose(0, 1).reshape(1, c, b * height, width)


@functools.lru_cache(maxsize=16)
def _cached_sampler(
    fov: FoV,
    size: tuple[int, int],
    mode: str,
    antialias: bool,
    remap_compat: bool,
    trunc: bool,
    threads: int | None,
) -> ViewportSampler:
    return ViewportSampler(fov, size, mode, antialias, remap_compat, trunc, threads)


def extract_viewports(
    frame: torch.Tensor,
    yaw: Any,
    pitch: Any,
    roll: Any = None,
    *,
    fov_deg: FoVLike = VIEWPORT_FOV,
    size: int | Sequence[int] = (224, 224),
    mode: str = "bilinear",
    antialias: bool = True,
    remap_compat: bool = False,
    truncate_degrees: bool = False,
    frame_index: Any = None,
    threads: int | None = None,
) -> torch.Tensor:
    """Functional form of :class:`ViewportSampler` (samplers are cached per configuration).

    Returns ``(N, C, h, w)`` viewports of ``frame`` (see :meth:`ViewportSampler.__call__`).
    """
    sampler = _cached_sampler(
        FoV.parse(fov_deg, "fov_deg"),
        _pair(size, "size", int),
        mode,
        antialias,
        remap_compat,
        truncate_degrees,
        threads,
    )
    return sampler(frame, yaw, pitch, roll, frame_index=frame_index)


def viewport_outline(
    yaw: float,
    pitch: float,
    roll: float = 0.0,
    fov_deg: FoVLike = VIEWPORT_FOV,
    n: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """The border of a viewport on the sphere as pano ``(lon, lat)`` degrees, ``(4n + 1,)`` each.

    Walks the image border (top edge left to right, right edge, bottom, left) and closes
    the loop; handy for drawing viewports on an ERP frame (break the line where ``lon``
    jumps by more than 180°).
    """
    fx_deg, fy_deg = FoV.parse(fov_deg, "fov_deg")
    tx, ty = math.tan(math.radians(fx_deg) / 2.0), math.tan(math.radians(fy_deg) / 2.0)
    s = np.linspace(-1.0, 1.0, n, endpoint=False)
    a = np.concatenate([s, np.ones(n), -s, -np.ones(n), [-1.0]]) * tx
    b = np.concatenate([-np.ones(n), s, np.ones(n), -s, [-1.0]]) * ty
    axes = head_to_camera_axes(np.float64(yaw), np.float64(pitch), np.float64(roll))
    rays = a[:, None] * axes[0] + b[:, None] * axes[1] + axes[2]
    lon, lat = vec_to_lonlat(rays)
    return np.asarray(lon), np.asarray(lat)
