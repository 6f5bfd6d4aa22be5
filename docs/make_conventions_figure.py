"""Draw docs/conventions.png: pano's equirectangular frame, PVS-HM signs and viewport axes.

Run: ``python docs/make_conventions_figure.py`` (writes next to this file).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from pano import geometry as g

W, H = 360, 180


def _viewport_outline(yaw: float, pitch: float, fov: float = 90.0, n: int = 60) -> np.ndarray:
    """ERP (x, y) points of a square gnomonic viewport's border, shape (4n, 2)."""
    t = math.tan(math.radians(fov / 2))
    s = np.linspace(-t, t, n)
    edge = np.concatenate(
        [
            np.stack([s, -t + 0 * s], 1),
            np.stack([t + 0 * s, s], 1),
            np.stack([s[::-1], t + 0 * s], 1),
            np.stack([-t + 0 * s, s[::-1]], 1),
        ]
    )
    right, down, fwd = g.head_to_camera_axes(yaw, pitch)
    rays = fwd[None] + edge[:, :1] * right[None] + edge[:, 1:] * down[None]
    x, y = g.vec_to_erp(g.normalize(rays), W, H)
    return np.stack([x, y], 1)


def main() -> Path:
    fig, ax = plt.subplots(figsize=(11, 6), dpi=110)
    # Background: latitude bands shaded by pixel solid angle (cos lat).
    sa = g.erp_row_solid_angle(W, H)
    ax.imshow(
        np.repeat(sa[:, None], W, 1) / sa.max(),
        extent=(0, W, H, 0),
        cmap="Greys",
        vmin=0,
        vmax=2.2,
        aspect="equal",
    )
    xt = np.arange(0, W + 1, 45)
    ax.set_xticks(xt, [f"{int(v)}°" for v in g.erp_to_lonlat(xt.astype(float), 0.0, W, H)[0]])
    yt = np.arange(0, H + 1, 30)
    ax.set_yticks(yt, [f"{int(v)}°" for v in g.erp_to_lonlat(0.0, yt.astype(float), W, H)[1]])
    ax.set_xlabel(
        "longitude (PVS-HM / pano: positive to the LEFT)   ·   column x: lon = 180 - 360 x / W"
    )
    ax.set_ylabel("latitude (positive UP)   ·   row y: lat = 90 - 180 y / H")
    ax.grid(color="white", lw=0.6, alpha=0.8)
    for lon, lat, label, col, off in [
        (0, 0, "front centre\n(lon 0, lat 0) = +x", "tab:red", (8, 8)),
        (90, 0, "lon +90 = viewer's LEFT = +y", "tab:blue", (-60, -22)),
        (-90, 0, "lon -90 = viewer's right = -y", "tab:green", (8, 8)),
        (0, 89.5, "north pole = +z", "tab:purple", (8, -16)),
    ]:
        x, y = g.lonlat_to_erp(float(lon), float(lat), W, H)
        ax.plot(x, y, "o", color=col, ms=8)
        ax.annotate(
            label,
            (x, y),
            xytext=off,
            textcoords="offset points",
            color=col,
            fontsize=9,
            weight="bold",
        )
    ax.annotate("", xy=(110, 160), xytext=(170, 160), arrowprops={"arrowstyle": "->", "lw": 2})
    ax.text(112, 154, "+lon", fontsize=10, weight="bold")
    # A viewport: head at yaw 45 (left), pitch 20 (up), FoV 90x90.
    yaw, pitch = 45.0, 20.0
    out = _viewport_outline(yaw, pitch)
    ax.plot(out[:, 0], out[:, 1], ".", color="tab:orange", ms=2)
    cx, cy = g.lonlat_to_erp(yaw, pitch, W, H)
    right, down, fwd = g.head_to_camera_axes(yaw, pitch)
    for axis, name, dx in (
        (right, "viewport +u (image right)", 2),
        (down, "viewport +v\n(image down)", -34),
    ):
        tip = g.normalize(fwd + 0.35 * axis)
        tx, ty = g.vec_to_erp(tip, W, H)
        ax.annotate(
            "",
            xy=(tx, ty),
            xytext=(cx, cy),
            arrowprops={"arrowstyle": "->", "color": "tab:orange", "lw": 2},
        )
        ax.text(tx + dx, ty + 3, name, color="tab:orange", fontsize=8, weight="bold")
    ax.text(
        cx - 40,
        cy - 52,
        "viewport: yaw 45, pitch 20, FoV 90°x90°",
        color="tab:orange",
        fontsize=9,
        weight="bold",
    )
    ax.set_xlim(0, W)
    ax.set_ylim(H, 0)
    ax.set_title("pano's equirectangular frame: world axes x front, y left, z up (right-handed)")
    out_path = Path(__file__).with_name("conventions.png")
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)
    return out_path


if __name__ == "__main__":
    print(main())
