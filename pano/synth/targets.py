"""Moving salient targets: smooth, nearly great-circle paths on the sphere.

A target moves along its current great circle at an angular speed of 10-40 deg/s; its
heading turns slowly (a mean-reverting random turn rate), so paths are gently curved.
Like people and vehicles in real videos it moves in bursts: moving phases of 1.5-5 s
alternate with pauses of 0.5-3 s in which it slows to a near stop (speed changes are
smooth, with a 0.3 s time constant).
Targets that are not scripted to pass a pole are steered back towards the equator when
they stray above ~45° latitude. Positions are unit vectors in pano's world frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pano.geometry import lonlat_to_vec

#: Bright, saturated target colours (RGB), distinct from the muted backgrounds.
TARGET_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 40, 40), (40, 255, 60), (60, 120, 255), (255, 240, 40), (255, 60, 255), (40, 240, 255),
)  # fmt: skip


@dataclass
class TargetSpec:
    """Start state and style of one target.

    Attributes:
        lon, lat: start position, pano degrees (lon positive LEFT, lat positive UP).
        heading_deg: initial direction of travel: 0 = north (up), 90 = towards +lon
            (left in the image), 180 = south, -90 = towards -lon (right).
        speed_deg_s: mean angular speed while moving; the actual speed wanders around
            it (a slow random factor, sd 25 %), clipped to ``[10, 40]`` deg/s; during
            pauses the target slows to about 1 deg/s.
        turn_std_deg_s: spread of the random turn rate.
        radius_deg: angular radius of the rendered disc.
        color: RGB colour.
        equator_pull_after_s: from this time on, the target is steered back towards the
            equator above ~45° latitude (``inf`` = never).
        first_pause_after_s: the target keeps moving at least this long before its first
            pause.
        role: a label written to the manifest (``front``, ``seam``, ``pole``, ``random``).

    """

    lon: float
    lat: float
    heading_deg: float
    speed_deg_s: float = 20.0
    turn_std_deg_s: float = 8.0
    radius_deg: float = 8.0
    color: tuple[int, int, int] = TARGET_COLORS[0]
    equator_pull_after_s: float = 0.0
    first_pause_after_s: float = 0.0
    role: str = "random"


def local_basis(vec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """East (towards +lon, i.e. left) and north unit vectors ``(..., 3)`` at ``vec``."""
    x, y, z = vec[..., 0], vec[..., 1], vec[..., 2]
    rho = np.sqrt(x * x + y * y)
    safe = rho > 1e-12
    cx = np.where(safe, x / np.where(safe, rho, 1.0), 1.0)
    sy = np.where(safe, y / np.where(safe, rho, 1.0), 0.0)
    east = np.stack([-sy, cx, np.zeros_like(x)], -1)
    north = np.stack([-z * cx, -z * sy, rho], -1)
    return east, north


def simulate_targets(
    specs: list[TargetSpec], n_steps: int, dt: float, rng: np.random.Generator
) -> np.ndarray:
    """Integrate the targets' paths.

    Args:
        specs: one :class:`TargetSpec` per target.
        n_steps: number of time steps (the first is the start position).
        dt: step in seconds.
        rng: random generator (the only source of randomness).

    Returns:
        ``(T, n_steps, 3)`` float64 unit vectors.

    """
    out = np.empty((len(specs), n_steps, 3))
    tau = 1.5  # s, correlation time of the speed factor and the turn rate
    a = math.exp(-dt / tau)
    b = math.sqrt(1.0 - a * a)
    a_speed = math.exp(-dt / 0.3)
    for k, s in enumerate(specs):
        p = lonlat_to_vec(s.lon, s.lat)
        east, north = local_basis(p)
        h = math.radians(s.heading_deg)
        u = math.cos(h) * north + math.sin(h) * east
        noise = rng.normal(size=(n_steps, 2))
        # Plain floats in the loop: ~20x faster than numpy on 3-vectors.
        px, py, pz = (float(c) for c in p)
        ux, uy, uz = (float(c) for c in u)
        speed_f = 0.0  # OU state of the speed factor
        turn = 0.0  # OU state of the turn rate, deg/s
        moving = True
        phase_end = max(s.first_pause_after_s, float(rng.uniform(1.5, 5.0)))
        speed = s.speed_deg_s
        for i in range(n_steps):
            out[k, i] = (px, py, pz)
            if i * dt >= phase_end:
                moving = not moving
                phase_end = i * dt + float(
                    rng.uniform(1.5, 5.0) if moving else rng.uniform(0.5, 3.0)
                )
            speed_f = a * speed_f + b * 0.25 * noise[i, 0]
            turn = a * turn + b * s.turn_std_deg_s * noise[i, 1]
            goal = min(40.0, max(10.0, s.speed_deg_s * (1.0 + speed_f))) if moving else 1.0
            speed += (goal - speed) * (1.0 - a_speed)
            rate = turn
            if i * dt >= s.equator_pull_after_s:
                rho = math.hypot(px, py)
                lat = math.degrees(math.atan2(pz, rho))
                u_east = (-py * ux + px * uy) / rho if rho > 1e-12 else 0.0
                rate -= 60.0 * min(1.5, max(-1.5, lat / 60.0)) ** 3 * u_east
            # Move along the great circle through p with direction u.
            ang = math.radians(speed) * dt
            c, sn = math.cos(ang), math.sin(ang)
            px, py, pz, ux, uy, uz = (
                c * px + sn * ux, c * py + sn * uy, c * pz + sn * uz,
                -sn * px + c * ux, -sn * py + c * uy, -sn * pz + c * uz,
            )  # fmt: skip
            # Turn the heading about p (positive = from east towards north): u -> c u + s p x u.
            th = math.radians(rate) * dt
            c, sn = math.cos(th), math.sin(th)
            cx, cy, cz = py * uz - pz * uy, pz * ux - px * uz, px * uy - py * ux
            ux, uy, uz = c * ux + sn * cx, c * uy + sn * cy, c * uz + sn * cz
            # Re-orthonormalise.
            n = math.sqrt(px * px + py * py + pz * pz)
            px, py, pz = px / n, py / n, pz / n
            d = ux * px + uy * py + uz * pz
            ux, uy, uz = ux - d * px, uy - d * py, uz - d * pz
            n = math.sqrt(ux * ux + uy * uy + uz * uz)
            ux, uy, uz = ux / n, uy / n, uz / n
    return out


def default_target_specs(
    video_index: int, rng: np.random.Generator, scripted: bool = True
) -> list[TargetSpec]:
    """The targets of one synthetic video.

    Every video has a target starting near the front centre. The first video
    (``video_index == 0``, with ``scripted``) also has a target that starts at lon 165
    moving left, so it crosses the ±180° seam within a second, and one that starts at
    lat 55 moving north, so it passes over the north pole (lat > 70° within a second).
    Other videos get 1-2 more random targets, biased towards the equator.
    """
    colors = list(TARGET_COLORS)
    order = rng.permutation(len(colors))
    specs = [
        TargetSpec(
            lon=float(rng.uniform(-25, 25)), lat=float(rng.uniform(-10, 10)),
            heading_deg=float(rng.choice([-1, 1]) * rng.uniform(60, 120)),
            speed_deg_s=float(rng.uniform(12, 25)), radius_deg=float(rng.uniform(7, 10)),
            role="front",
        )
    ]  # fmt: skip
    if scripted and video_index == 0:
        specs.append(
            TargetSpec(
                lon=165.0, lat=5.0, heading_deg=90.0, speed_deg_s=28.0, turn_std_deg_s=4.0,
                radius_deg=8.0, first_pause_after_s=3.0, role="seam",
            )
        )  # fmt: skip
        specs.append(
            TargetSpec(
                lon=float(rng.uniform(-100, -60)), lat=55.0, heading_deg=0.0, speed_deg_s=30.0,
                turn_std_deg_s=2.0, radius_deg=7.0, equator_pull_after_s=4.0,
                first_pause_after_s=3.0, role="pole",
            )
        )  # fmt: skip
    else:
        for _ in range(int(rng.integers(1, 3))):
            specs.append(
                TargetSpec(
                    lon=float(rng.uniform(-180, 180)),
                    lat=float(np.clip(rng.normal(0, 20), -50, 50)),
                    heading_deg=float(rng.choice([-1, 1]) * rng.uniform(45, 135)),
                    speed_deg_s=float(rng.uniform(10, 35)), radius_deg=float(rng.uniform(6, 10)),
                )
            )  # fmt: skip
    for k, s in enumerate(specs):
        s.color = colors[order[k % len(colors)]]
    return specs
