"""``pano viewport``: draw what the subjects saw, as a contact sheet or a grid video.

Reads through :func:`pano.stores.stream_viewports` (data: viewport tensors per frame) and
draws each frame with matplotlib: the ERP frame with every subject's head direction (a dot)
and viewport outline in the subject's colour, next to the subjects' viewport tiles framed
in the same colours. A ``.png`` is a contact sheet of a few moments; an ``.mp4`` has one
panel per frame, written with :func:`pano.video.make_video` (progress on stderr when it is
a terminal).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pano.errors import ConfigError, ParameterError
from pano.fov import VIEWPORT_FOV, FoV, FoVLike
from pano.progress import track
from pano.stores import ViewportBatch, open_video_group, stream_viewports
from pano.stores.schema import VideoAttrs
from pano.video import make_video

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["DEFAULT_RENDER_SUBJECTS", "render_viewports"]

#: Default number of subjects drawn by :func:`render_viewports` (and ``pano viewport``).
DEFAULT_RENDER_SUBJECTS = 4


def _colors(n: int) -> list[tuple[float, float, float]]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return [tuple(cmap(k % 10)[:3]) for k in range(n)]  # type: ignore[misc]


class _Panel:
    """One ERP frame with the subjects' positions and viewport outlines, plus their tiles.

    With ``animated=True`` every per-frame artist is left out of full redraws, so a video
    draws the static parts (axes, ticks, titles) once and blits only what changes.
    """

    def __init__(
        self,
        fig: Any,
        erp_spec: Any,
        tile_specs: list[Any],
        labels: list[str],
        fov: FoV,
        animated: bool = False,
    ) -> None:
        from pano.stores.accessor import _erp_axes

        self.fig, self.fov, self.animated = fig, fov, animated
        self.colors = _colors(len(labels))
        self.ax = fig.add_subplot(erp_spec)
        self.img = self.ax.imshow(
            np.zeros((2, 4, 3)), extent=(180, -180, -90, 90), interpolation="antialiased",
            animated=animated,
        )  # fmt: skip
        _erp_axes(self.ax)
        self.ax.set_xticks(np.arange(180, -181, -90))
        self.ax.set_aspect("equal")
        self.title = self.ax.text(
            0.5, 1.03, "", transform=self.ax.transAxes, ha="center", va="bottom", fontsize=9,
            animated=animated,
        )  # fmt: skip
        self.dots = self.ax.scatter(
            np.zeros(len(labels)), np.zeros(len(labels)), s=46, c=self.colors, edgecolors="white",
            linewidths=1.2, zorder=4, animated=animated,
        )  # fmt: skip
        box = {"facecolor": "white", "alpha": 0.7, "pad": 1, "edgecolor": "none"}
        self.names = [
            self.ax.text(0, 0, lab.split()[0], color=c, fontsize=8, fontweight="bold", zorder=5,
                         ha="center", va="center", bbox=box, animated=animated)
            for lab, c in zip(labels, self.colors, strict=True)
        ]  # fmt: skip
        self.outlines: list[Any] = []
        self.tile_imgs, self.tile_texts = [], []
        for spec, lab, c in zip(tile_specs, labels, self.colors, strict=True):
            ax = fig.add_subplot(spec)
            self.tile_imgs.append(
                ax.imshow(np.zeros((2, 2, 3)), interpolation="nearest", animated=animated)
            )
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_color(c)
                side.set_linewidth(3)
            ax.set_title(lab, color=c, fontsize=9, fontweight="bold")
            self.tile_texts.append(
                ax.text(0.5, -0.04, "", transform=ax.transAxes, ha="center", va="top",
                        fontsize=7, animated=animated)
            )  # fmt: skip

    def artists(self) -> list[Any]:
        """The artists that change from frame to frame (drawn by :meth:`blit`)."""
        return [self.img, *self.outlines, self.dots, *self.names, self.title, *self.tile_imgs,
                *self.tile_texts]  # fmt: skip

    def update(self, batch: ViewportBatch, title: str) -> None:
        """Show ``batch`` (which must carry its frame)."""
        from pano.stores.accessor import split_seam
        from pano.viewport import viewport_outline

        if batch.frame is None:
            raise ParameterError("render needs batches streamed with with_frames=True")
        img = batch.frame.detach().cpu().permute(1, 2, 0).numpy()
        self.img.set_data(np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img)
        self.title.set_text(title)
        lon, lat = batch.lon.cpu().numpy(), batch.lat.cpu().numpy()
        valid = batch.valid.cpu().numpy()
        self.dots.set_offsets(np.stack([np.nan_to_num(lon), np.nan_to_num(lat)], -1))
        self.dots.set_facecolors(
            [c if v else (1, 1, 1) for c, v in zip(self.colors, valid, strict=True)]
        )
        for line in self.outlines:
            line.remove()
        self.outlines = []
        views = batch.viewports.detach().float().clamp(0, 1).cpu().permute(0, 2, 3, 1).numpy()
        for k, name in enumerate(self.names):
            has = bool(np.isfinite(lon[k]))
            name.set_visible(has)
            if has:  # labels fan out around the dot so clustered subjects stay readable
                ang = 2.0 * math.pi * k / len(self.names) + math.pi / 4.0
                name.set_position((lon[k] + 16.0 * math.cos(ang), lat[k] + 11.0 * math.sin(ang)))
                ol, la = viewport_outline(float(lon[k]), float(lat[k]), 0.0, self.fov, n=24)
                for seg_lon, seg_lat in split_seam(ol, la):
                    (line,) = self.ax.plot(
                        seg_lon,
                        seg_lat,
                        color=self.colors[k],
                        lw=1.2,
                        zorder=3,
                        animated=self.animated,
                    )
                    self.outlines.append(line)
            v = views[k]
            self.tile_imgs[k].set_data(np.repeat(v, 3, axis=2) if v.shape[2] == 1 else v)
            where = f"lon {lon[k]:+.0f}, lat {lat[k]:+.0f}" if has else "no position yet"
            self.tile_texts[k].set_text(where + ("" if valid[k] else " (NaN: last)"))

    def blit(self, background: Any) -> np.ndarray:
        """Draw the changing artists over the static ``background``; RGB uint8 of the figure."""
        canvas = self.fig.canvas
        canvas.restore_region(background)
        for artist in self.artists():
            self.fig.draw_artist(artist)
        return np.asarray(canvas.buffer_rgba())[..., :3]


def render_viewports(
    store: str | os.PathLike | xr.DataTree,
    video: str,
    out: str | os.PathLike,
    subjects: Sequence[int] | None = None,
    fov_deg: FoVLike = VIEWPORT_FOV,
    size: int | Sequence[int] = (224, 224),
    start_s: float = 0.0,
    seconds: float | None = None,
    videos_dir: str | os.PathLike | None = None,
    rows: int = 4,
    device: str | torch.device = "auto",
    backend: str = "auto",
) -> Path:
    """Draw what the subjects saw: a contact sheet (``.png``) or a grid video (``.mp4``).

    Each panel shows the ERP frame with every subject's head direction (a dot, white when
    the sample is missing) and viewport outline in the subject's colour, next to the
    subjects' viewport tiles framed in the same colours. A ``.png`` has ``rows`` panels at
    evenly spaced frames of the range; an ``.mp4`` has one panel per frame of the range,
    at the video's frame rate.

    Args:
        store, video, fov_deg, size, start_s, seconds, videos_dir, device, backend: as for
            :func:`pano.stores.stream_viewports`.
        out: output file, ``.png`` or ``.mp4`` (parent folders are created).
        subjects: subject indices; default the first :data:`DEFAULT_RENDER_SUBJECTS`.
        rows: panels of a ``.png`` contact sheet.

    Returns:
        The written path.

    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec

    out = Path(out)
    kind = out.suffix.lower()
    if kind not in (".png", ".mp4"):
        raise ConfigError(f"{out}: the output must end in .png (contact sheet) or .mp4 (video)")
    if rows < 1:
        raise ConfigError(f"rows must be >= 1, got {rows}")
    from pano.stores.preflight import check_output_file

    _check_times(start_s, seconds)
    ds, root, location = open_video_group(store, video)
    va = VideoAttrs.from_attrs(dict(ds.attrs), where=f"videos/{video}")
    if subjects is None:
        # the subject coordinate's values (a trace group holds only its video's subjects)
        subjects = [int(s) for s in ds["subject"].values[:DEFAULT_RENDER_SUBJECTS]]
    subjects = list(subjects)
    ids = root.subjects
    labels = [
        f"S{s}" + (f" ({ids[s]})" if s < len(ids) and ids[s] != str(s) else "") for s in subjects
    ]
    fov = FoV.parse(fov_deg, "fov_deg")
    check_viewport_memory(size, len(subjects))
    check_output_file(out, "--out")
    src = va.require_video(location, video, "pano viewport")
    fps, n_frames = float(src.fps), int(src.n_frames)
    kw: dict[str, Any] = {
        "subjects": subjects, "fov_deg": fov, "size": size, "device": device, "backend": backend,
        "videos_dir": videos_dir, "with_frames": True,
    }  # fmt: skip
    n_tiles = len(subjects)
    per_row = min(n_tiles, 6)
    tile_rows = -(-n_tiles // per_row)
    out.parent.mkdir(parents=True, exist_ok=True)

    def title(b: ViewportBatch) -> str:
        return (
            f"{video}  frame {b.frame_index}  t = {b.time_s:.2f} s  (FoV {fov[0]:g}x{fov[1]:g} deg)"
        )

    # The frames of [start_s, start_s + seconds), rounded as stream_viewports does.
    f0 = math.floor(start_s * fps + 0.5)
    f1 = n_frames if seconds is None else min(n_frames, math.floor((start_s + seconds) * fps + 0.5))
    if f1 <= f0:
        raise ConfigError(
            f"videos/{video}: no frames from {start_s:g} s (the video has {n_frames} frames)"
        )

    if kind == ".png":
        picks = np.unique(np.linspace(f0, f1 - 1, rows).round().astype(int)).tolist()
        fig = plt.figure(figsize=(4.2 + 1.9 * per_row, 2.3 * max(tile_rows, 1.2) * len(picks)))
        grid = GridSpec(len(picks) * tile_rows, 2 + per_row, figure=fig, wspace=0.15, hspace=0.55)
        batches = stream_viewports(store, video, frames=picks, **kw)
        for r, batch in enumerate(batches):
            erp = grid[r * tile_rows : (r + 1) * tile_rows, :2]
            specs = [grid[r * tile_rows + i // per_row, 2 + i % per_row] for i in range(n_tiles)]
            _Panel(fig, erp, specs, labels, fov).update(batch, title(batch))
        fig.savefig(out, dpi=110, bbox_inches="tight")
        plt.close(fig)
        return out

    dpi = 100
    width_in = 1.0 + 1.9 * per_row
    erp_h = (width_in - 1.0) / 2.0
    fig = plt.figure(figsize=(width_in, erp_h + 2.1 * tile_rows + 1.2), dpi=dpi)
    grid = GridSpec(
        2, 1, figure=fig, height_ratios=[erp_h, 2.1 * tile_rows], hspace=0.3,
        left=0.1, right=0.97, top=0.95, bottom=0.04,
    )  # fmt: skip
    sub = grid[1].subgridspec(tile_rows, per_row, wspace=0.12, hspace=0.35)
    specs = [sub[i // per_row, i % per_row] for i in range(n_tiles)]
    panel = _Panel(fig, grid[0], specs, labels, fov, animated=True)
    fig.canvas.draw()
    background = fig.canvas.copy_from_bbox(fig.bbox)  # type: ignore[attr-defined]

    def frames() -> Iterator[np.ndarray]:
        batches = stream_viewports(store, video, start_s=start_s, seconds=seconds, **kw)
        for batch in track(batches, total=f1 - f0, description=f"viewport {video} -> {out.name}"):
            panel.update(batch, title(batch))
            rgb = panel.blit(background)
            h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2  # yuv420p needs even sizes
            yield np.ascontiguousarray(rgb[:h, :w])

    try:
        make_video(out, frames(), fps=fps, crf=20)
    finally:
        plt.close(fig)
    return out


#: The most memory one batch of viewport tiles may take (bytes); see
#: :func:`viewport_batch_bytes`. Documented in docs/viewports.md.
VIEWPORT_MEMORY_LIMIT = 2 * 1024**3


def viewport_batch_bytes(size: int | Sequence[int], n_tiles: int) -> int:
    """Estimated bytes of one frame's viewport tiles at ``size`` (H, W) for ``n_tiles`` subjects.

    Per tile pixel: the sampling grid (2 x float32), the sampled RGB (3 x float32), its
    uint8 copy (3 bytes) and the drawn figure's RGBA (4 bytes) - 27 bytes.
    """
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    return 27 * h * w * max(n_tiles, 1)


def check_viewport_memory(size: int | Sequence[int], n_tiles: int) -> None:
    """Refuse a tile size whose estimated memory exceeds :data:`VIEWPORT_MEMORY_LIMIT`.

    Raises:
        ConfigError: one line with the estimate, the limit and a size that fits.

    """
    need = viewport_batch_bytes(size, n_tiles)
    if need <= VIEWPORT_MEMORY_LIMIT:
        return
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    side = int(math.sqrt(VIEWPORT_MEMORY_LIMIT / (27 * max(n_tiles, 1))))
    raise ConfigError(
        f"--size {w}x{h}: {n_tiles} viewport tile(s) of {w}x{h} px need about "
        f"{need / 1024**3:.1f} GiB (limit {VIEWPORT_MEMORY_LIMIT / 1024**3:.0f} GiB); "
        f"use at most about {side}x{side}"
    )


def _check_times(start_s: float, seconds: float | None) -> None:
    if not math.isfinite(start_s):
        raise ConfigError(f"--start {start_s}: must be a finite time in seconds, e.g. 0")
    if seconds is not None and (not math.isfinite(seconds) or seconds <= 0):
        raise ConfigError(f"--seconds {seconds}: must be a finite duration > 0 in seconds")
