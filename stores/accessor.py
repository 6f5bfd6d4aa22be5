"""The ``.pano`` xarray accessor: plots and selections researchers ask for in Jupyter.

Importing :mod:`pano.stores` registers it. On a video's dataset (``tree["videos/A380"]
.dataset`` or ``pano.stores.select(tree, video="A380")``)::

    ds.pano.heatmap(step=10)                      # ground-truth heatmap at a step
    ds.pano.heatmap(time=3.0, frame=frame)        # over the video frame (ERP)
    ds.pano.heatmap(step=10, projection="ortho")  # as seen on the sphere
    ds.pano.scanpaths(subjects=[0, 1], start=0, stop=5)   # seam-aware lines
    ds.pano.viewport_gallery(subject=0, times=[1, 2, 3], video_path="A380.mp4")

and on a results dataset (``tree["results/<run>"].dataset``)::

    res.pano.metric_bars("cc")       # per-video bars, one per model with scores
    res.pano.horizon_curves()        # orthodromic error vs prediction horizon

Every method returns the matplotlib ``Figure``. Angles on axes are pano's convention
(degrees, lon positive LEFT so the image reads like the ERP frame, lat positive UP).
Metric axes carry the metric's readable label and unit (:func:`metric_label`); models
without a single finite score are left out of the results plots. ``docs/store.md``
("Plotting in Jupyter") lists every helper.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from pano import geometry as g
from pano.errors import ParameterError, StoreError, UnknownNameError
from pano.fov import VIEWPORT_FOV, FoV, FoVLike

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _plt() -> Any:
    import matplotlib.pyplot as plt

    return plt


def split_seam(
    lon: np.ndarray, lat: np.ndarray, jump: float = 180.0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split a (lon, lat) polyline where it crosses the ±180° seam.

    Returns segments, each safe to draw as one line on an ERP plot: a step whose longitude
    changes by more than ``jump`` degrees is a seam crossing (the short way round), so the
    line is cut there instead of streaking across the whole image. NaNs also cut.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    cut = np.zeros(lon.shape, dtype=bool)
    cut[1:] = np.abs(np.diff(lon)) > jump
    bad = np.isnan(lon) | np.isnan(lat)
    segs: list[tuple[np.ndarray, np.ndarray]] = []
    start = 0
    for i in range(1, lon.size + 1):
        if i == lon.size or cut[i] or bad[i] != bad[i - 1]:
            if not bad[start]:
                segs.append((lon[start:i], lat[start:i]))
            start = i
    return segs


def _figure_and_axes(
    ax: Axes | None, figsize: tuple[float, float] = (9, 4.8)
) -> tuple[Figure, Axes]:
    """A new figure with one axes, or the given axes and its (root) figure."""
    if ax is None:
        fig, new_ax = _plt().subplots(figsize=figsize)
        return fig, new_ax
    fig = ax.get_figure(root=True)
    if fig is None:
        raise ParameterError("ax= must belong to a matplotlib figure")
    return fig, ax


def metric_label(metric: str) -> tuple[str, bool]:
    """Readable axis label (with its unit) and "higher is better" of a metric id.

    Read from :data:`pano.metrics.registry.METRICS`, e.g. ``"orthodromic_deg" ->
    ("orthodromic distance (deg)", False)``, ``"kld" -> ("KLD (nats)", False)``; an unknown
    id is returned as it is, as higher-is-better.
    """
    from pano.metrics.registry import METRICS

    spec = METRICS.get(metric)
    if spec is None:
        return metric, True
    text = spec.label
    if spec.unit and spec.unit not in text:
        text = f"{text} ({spec.unit})"
    return text, spec.higher_is_better


def distinct_colors(n: int) -> list[Any]:
    """``n`` colours that differ: tab10 up to 10, tab20 up to 20, else evenly spaced hues."""
    plt = _plt()
    if n <= 10:
        return [plt.get_cmap("tab10")(k) for k in range(n)]
    if n <= 20:  # tab20's dark shades first, then the light ones: neighbours differ in hue
        order = [*range(0, 20, 2), *range(1, 20, 2)]
        return [plt.get_cmap("tab20")(k) for k in order[:n]]
    return [plt.get_cmap("hsv")(k / n) for k in range(n)]


def _heatmap_label(ds: xr.Dataset, variable: str) -> str:
    """Colorbar label: the map and its normalisation (the store's recipe): ``heatmap (max = 1)``."""
    how = {"max": "max = 1", "sum": "sums to 1", "none": "unnormalised"}.get(
        str(ds[variable].attrs.get("normalize"))
    )
    return f"{variable} ({how or 'relative density'})"


def _erp_axes(ax: Axes) -> None:
    ax.set_xlim(180, -180)  # lon positive LEFT: the image reads like the ERP frame
    ax.set_ylim(-90, 90)
    ax.set_xticks(np.arange(180, -181, -45))
    ax.set_yticks(np.arange(-90, 91, 30))
    ax.set_xlabel("longitude [deg] (+ = left)")
    ax.set_ylabel("latitude [deg] (+ = up)")


@xr.register_dataset_accessor("pano")
class PanoDatasetAccessor:
    """Plots for one video's dataset or a results dataset (see the module docstring)."""

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    # ------------------------------------------------------------------ helpers
    def _require(self, *names: str) -> None:
        missing = [n for n in names if n not in self._ds.variables]
        if missing:
            raise StoreError(
                f"this dataset has no {', '.join(missing)}; pass a video group "
                "(tree['videos/<name>'].dataset) or a results group as the method needs"
            )

    def _step_at(self, step: int | None, time: float | None) -> int:
        if (step is None) == (time is None):
            raise ParameterError("give exactly one of step= or time= (seconds)")
        if step is not None:
            return int(step)
        times = np.asarray(self._ds["step_time"].values)
        return int(np.argmin(np.abs(times - float(time))))  # type: ignore[arg-type]

    # ------------------------------------------------------------------ selections
    def fixations(self, subject: int | None = None) -> xr.Dataset:
        """The fixation table of an eye-movement events dataset, one subject's or all.

        Works on ``pano.stores.open_em(store, video)`` (or ``tree["videos/<v>/em"]``):
        returns the ``fix_*`` arrays along ``fixation`` (centre ``fix_lon``/``fix_lat``
        degrees +lon LEFT, ``fix_xyz``, ``fix_start``/``fix_duration`` seconds,
        ``fix_first``/``fix_last`` indices into ``event_time``), for subject index
        ``subject`` when given.
        """
        names = ["fix_subject", "fix_first", "fix_last", "fix_start", "fix_duration",
                 "fix_lon", "fix_lat", "fix_xyz"]  # fmt: skip
        missing = [n for n in names if n not in self._ds.variables]
        if missing:
            raise StoreError(
                f"this dataset has no {', '.join(missing)}; pass an eye-movement events "
                "group (pano.stores.open_em(store, video))"
            )
        table = self._ds[names]
        if subject is None:
            return table
        rows = np.nonzero(np.asarray(self._ds["fix_subject"].values) == int(subject))[0]
        return table.isel(fixation=rows)

    # ------------------------------------------------------------------ plots
    def heatmap(
        self,
        step: int | None = None,
        time: float | None = None,
        frame: np.ndarray | None = None,
        projection: str = "erp",
        variable: str = "heatmap",
        ax: Axes | None = None,
        alpha: float = 0.6,
        cmap: str = "inferno",
    ) -> Figure:
        """Plot the heatmap at a step (or the step nearest ``time`` seconds).

        Args:
            frame: optional ERP video frame ``(H, W, 3)`` uint8 drawn underneath.
            projection: ``"erp"`` (equirectangular, lon +LEFT) or ``"ortho"`` (the
                sphere seen from outside, centred on the front, as two hemispheres).
            variable: which map to draw (``heatmap`` or a prediction's ``heatmap``).
        """
        self._require(variable)
        i = self._step_at(step, time)
        hm = np.asarray(self._ds[variable].isel(step=i).values, dtype=float)
        t = float(self._ds["step_time"].values[i]) if "step_time" in self._ds else float("nan")
        label = _heatmap_label(self._ds, variable)
        if projection == "ortho":
            return self._heatmap_ortho(hm, i, t, cmap, label)
        if projection != "erp":
            raise UnknownNameError(f"projection must be 'erp' or 'ortho', not {projection!r}")
        fig, ax = _figure_and_axes(ax)
        ext = (180, -180, -90, 90)
        if frame is not None:
            ax.imshow(frame, extent=ext, aspect="auto")
        im = ax.imshow(
            hm, extent=ext, aspect="auto", cmap=cmap, alpha=alpha if frame is not None else 1.0
        )
        _erp_axes(ax)
        ax.set_title(f"{variable} at step {i} (t = {t:.2f} s)")
        fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02, label=label)
        return fig

    def _heatmap_ortho(self, hm: np.ndarray, i: int, t: float, cmap: str, label: str) -> Figure:
        """Front and back hemispheres on ONE colour scale (the whole map's range), one colorbar."""
        plt = _plt()
        h, w = hm.shape
        finite = hm[np.isfinite(hm)]
        vmin = float(finite.min()) if finite.size else 0.0
        vmax = float(finite.max()) if finite.size else 1.0
        if vmax <= vmin:
            vmax = vmin + 1.0
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
        im = None
        n = 241
        a, b = np.meshgrid(np.linspace(-1, 1, n), np.linspace(1, -1, n))
        inside = a * a + b * b <= 1
        depth = np.sqrt(np.clip(1 - a * a - b * b, 0, None))
        for ax, sign, name in (
            (axes[0], 1.0, "front hemisphere"),
            (axes[1], -1.0, "back hemisphere"),
        ):
            # View from outside along -x (front) or +x (back); image right = viewer's right.
            vec = np.stack([sign * depth, -sign * a, b], -1)
            x, y = g.vec_to_erp(vec, w, h)
            img = hm[np.clip(y.astype(int), 0, h - 1), np.clip(x.astype(int), 0, w - 1)]
            img = np.where(inside, img, np.nan)
            im = ax.imshow(img, extent=(-1, 1, -1, 1), cmap=cmap, vmin=vmin, vmax=vmax)
            ax.set_title(name)
            ax.axis("off")
        fig.colorbar(im, ax=list(axes), fraction=0.04, pad=0.03, label=label)
        fig.suptitle(f"heatmap at step {i} (t = {t:.2f} s), orthographic, one colour scale")
        return fig

    def scanpaths(
        self,
        subjects: Sequence[int] | None = None,
        start: float = 0.0,
        stop: float | None = None,
        frame: np.ndarray | None = None,
        ax: Axes | None = None,
    ) -> Figure:
        """Draw subjects' head scanpaths between ``start`` and ``stop`` seconds, seam-aware.

        One distinct colour per subject (:func:`distinct_colors`); a dot marks where each
        path starts (explained in the legend).
        """
        self._require("hm_lon", "hm_lat")
        fig, ax = _figure_and_axes(ax)
        if frame is not None:
            ax.imshow(frame, extent=(180, -180, -90, 90), aspect="auto")
        per_subject_time = self._ds["time"].ndim == 2  # a trace group (docs/store.md)
        sel = self._ds if per_subject_time else self._ds.sel(time=slice(start, stop))
        subs = list(sel["subject"].values) if subjects is None else list(subjects)
        colors = distinct_colors(len(subs))
        for k, s in enumerate(subs):
            lon = sel["hm_lon"].sel(subject=s).values
            lat = sel["hm_lat"].sel(subject=s).values
            if per_subject_time:
                t = sel["time"].sel(subject=s).values
                keep = (t >= start) & (t <= (np.inf if stop is None else stop))
                lon, lat = lon[keep], lat[keep]
            for j, (lo, la) in enumerate(split_seam(lon, lat)):
                ax.plot(
                    lo,
                    la,
                    "-",
                    color=colors[k],
                    lw=1.5,
                    label=f"subject {s}" if j == 0 else None,
                )
            ok = ~np.isnan(lon)
            if ok.any():
                ax.plot(lon[ok][0], lat[ok][0], "o", color=colors[k], ms=5, mec="white", mew=0.6)
        _erp_axes(ax)
        ax.set_title(f"head scanpaths, {start:.1f}-{'end' if stop is None else f'{stop:.1f}'} s")
        if subs:
            ax.plot([], [], "o", color="0.3", ms=5, mec="white", mew=0.6, label="start of a path")
            ax.legend(loc="lower left", fontsize=7, ncol=4)
        return fig

    def viewport_gallery(
        self,
        subject: int,
        times: Sequence[float],
        video_path: str,
        fov_deg: FoVLike = VIEWPORT_FOV,
        size: tuple[int, int] = (160, 160),
    ) -> Figure:
        """Show what ``subject`` saw at ``times`` (seconds): viewports cut from the video.

        ``fov_deg``: anything :meth:`pano.fov.FoV.parse` reads (degrees, horizontal x vertical).
        """
        import torch

        from pano.video import open_video
        from pano.viewport import ViewportSampler

        self._require("hm_lon", "hm_lat")
        fps = float(self._ds.attrs["video"]["fps"])
        fov = FoV.parse(fov_deg, "fov_deg")
        sampler = ViewportSampler(fov_deg=fov, size=size)
        plt = _plt()
        fig, axes = plt.subplots(1, len(times), figsize=(2.6 * len(times), 3.0), squeeze=False)
        with open_video(video_path, backend="pyav", device="cpu") as dec:
            frames = [min(round(t * fps), len(dec) - 1) for t in times]
            imgs = dec.read(frames)
            for ax, t, fi, img in zip(axes[0], times, frames, imgs, strict=True):
                hm = self._ds.sel(subject=subject).sel(time=t, method="nearest")
                lon, lat = float(hm["hm_lon"]), float(hm["hm_lat"])
                if np.isnan(lon):
                    ax.set_title(f"t={t:.1f}s: no sample")
                    ax.axis("off")
                    continue
                vp = sampler(img, torch.tensor([lon]), torch.tensor([lat]))[0]
                ax.imshow(vp.permute(1, 2, 0).clamp(0, 1).numpy())
                ax.set_title(f"t={t:.1f}s f{fi}\nlon {lon:.0f}, lat {lat:.0f}", fontsize=8)
                ax.axis("off")
        fig.suptitle(f"subject {subject}: viewports (FoV {fov} deg)")
        return fig

    def metric_bars(self, metric: str = "cc", variable: str = "saliency") -> Figure:
        """Per-video bars of one metric (mean over steps), one bar per model, centred on its video.

        Models without a finite score for this metric are not drawn. Works on the
        ``saliency`` (``metric`` dim) and ``scanpath`` (``sp_metric`` dim) variables.
        """
        self._require(variable)
        da = self._ds[variable]
        mdim = "metric" if "metric" in da.dims else "sp_metric"
        da = da.sel({mdim: metric})
        if "step" in da.dims:
            da = da.mean("step", skipna=True)
        vals = np.asarray(da.transpose("model", "video").values, dtype=float)
        models = [
            str(m)
            for m, row in zip(da["model"].values, vals, strict=True)
            if np.isfinite(row).any()
        ]
        videos = [str(v) for v in da["video"].values]
        rows = [row for row in vals if np.isfinite(row).any()]
        plt = _plt()
        fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(videos) + 2), 4))
        x = np.arange(len(videos))
        width = 0.8 / max(1, len(models))
        colors = distinct_colors(len(models))
        for k, (m, row) in enumerate(zip(models, rows, strict=True)):
            offset = (k - (len(models) - 1) / 2) * width  # the group is centred on its tick
            ax.bar(x + offset, row, width, label=m, color=colors[k])
        ax.set_xticks(x, videos, rotation=30 if len(videos) > 3 else 0)
        label, higher = metric_label(metric)
        ax.set_ylabel(label)
        ax.set_title(
            f"{label} per video, mean over steps ({'higher' if higher else 'lower'} is better)"
        )
        ax.grid(axis="y", alpha=0.3)
        if models:
            ax.legend(fontsize=8)
        fig.tight_layout()
        return fig

    def horizon_curves(self, metric: str = "orthodromic_deg", variable: str = "hm") -> Figure:
        """Mean head-movement metric vs prediction horizon (seconds), one line per model.

        Averaged over every other dimension (videos); models without a finite value are
        not drawn.
        """
        self._require(variable)
        da = self._ds[variable].sel(hm_metric=metric)
        other = [d for d in da.dims if d not in ("model", "horizon")]
        da = da.mean(other, skipna=True).transpose("model", "horizon")
        plt = _plt()
        fig, ax = plt.subplots(figsize=(6.5, 4))
        x = da["horizon_s"].values if "horizon_s" in da.coords else da["horizon"].values
        drawn = [
            (str(m), row)
            for m, row in zip(da["model"].values, np.asarray(da.values, dtype=float), strict=True)
            if np.isfinite(row).any()
        ]
        colors = distinct_colors(len(drawn))
        for k, (m, row) in enumerate(drawn):
            ax.plot(x, row, "o-", ms=3, label=m, color=colors[k])
        label, higher = metric_label(metric)
        ax.set_xlabel("prediction horizon [s]" if "horizon_s" in da.coords else "horizon [steps]")
        ax.set_ylabel(label)
        ax.set_title(f"{label} vs horizon ({'higher' if higher else 'lower'} is better)")
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=8)
        fig.tight_layout()
        return fig


def select(
    tree: xr.DataTree,
    video: str | None = None,
    subject: int | Sequence[int] | None = None,
    time: float | slice | None = None,
    split: str | None = None,
) -> xr.Dataset | list[str]:
    """Select in the labelled world.

    ``select(tree, split="test")`` returns the names of the test videos;
    ``select(tree, video="A380", subject=[0, 1], time=slice(2, 4))`` returns that
    video's dataset restricted to those subjects and seconds (``time`` selects raw HM
    samples by seconds; a float picks the nearest sample).
    """
    if video is None:
        if split is None:
            raise ParameterError("give video= (a name) or split= (train/val/test)")
        splits = tree.attrs.get("splits", {})
        if split not in splits:
            raise StoreError(f"store has no split {split!r}; it has {sorted(splits)}")
        return list(splits[split])
    key = f"videos/{video}"
    if video not in tree["videos"].children:
        raise StoreError(f"store has no video {video!r}; it has {sorted(tree['videos'].children)}")
    ds = tree[key].to_dataset()
    if subject is not None:
        ds = ds.sel(subject=subject)
    if isinstance(time, slice):
        ds = ds.sel(time=time)
    elif time is not None:
        ds = ds.sel(time=time, method="nearest")
    return ds
