"""Ray-cast synthetic faces whose appearance determines gaze (torch, vectorised, CPU or GPU).

Each pixel's ray (pinhole camera at the camera-frame origin; directions given per sample)
is moved into the head frame (see :mod:`pano.synth.gaze_scene`) and intersected with:

* the **face**: an ellipsoid with skin albedo, hair above the hairline and at the sides,
  eyebrows, a mouth (lips and the line between them) drawn on it as albedo;
* the **nose**: a second ellipsoid standing out of the face, with two dark nostrils;
* two **eye openings**: holes in the face between an upper and a lower lid curve (in the
  head's x-y plane) through the corners ``(+-eye_x -+ eye_half_width, ...)`` — the very
  points the 6-point landmarks project from. The upper lid follows the eye's elevation
  (lower when looking down), the lower lid a little; dark lashes line the upper lid and it
  shades the sclera under it;
* through an opening, the **eyeball**: a sphere whose sclera, iris (radial streaks, a dark
  limbal ring) and pupil are placed by the eye's own gaze direction (each eye looks from
  its centre at the 3-D target: vergence), with a specular glint; a ray through the
  opening that misses the eyeball sees the dark socket.

Shading is Lambert (ambient + directional light) plus a Blinn-Phong highlight on the eye;
then per-sample Gaussian sensor noise. Pixels on and next to the eye openings are
supersampled (``supersample`` x ``supersample`` rays averaged); the rest get one ray.
Output: uint8 RGB ``(B, H, W, 3)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from pano.synth.gaze_scene import FaceSubject, GazeSample, eye_centres

#: Part labels of :func:`render_parts`' map.
PART_NAMES = ("background", "skin", "nose", "socket", "sclera", "iris", "pupil", "lips")
SCLERA = (0.93, 0.90, 0.87)
SOCKET = (0.32, 0.14, 0.13)


def pixel_grid(width: int, height: int, device: torch.device) -> torch.Tensor:
    """Pixel centres ``(H*W, 2)`` (u, v), row-major, at integer coordinates (OpenCV)."""
    u = torch.arange(width, device=device, dtype=torch.float64)
    v = torch.arange(height, device=device, dtype=torch.float64)
    vv, uu = torch.meshgrid(v, u, indexing="ij")
    return torch.stack([uu.reshape(-1), vv.reshape(-1)], dim=-1)


def camera_rays(uv: torch.Tensor, camera_matrix: np.ndarray, rot: np.ndarray | None = None
                ) -> torch.Tensor:  # fmt: skip
    """Ray directions ``(P, 3)`` in the camera frame for pixels ``uv`` ``(P, 2)`` of camera ``K``.

    ``rot`` (3x3, optional) is the rotation from the camera frame to the imaging camera's
    frame (a virtual camera at the same centre, e.g. GazeHub's normalised camera):
    ``d = rot^T K^-1 [u, v, 1]``.
    """
    back = np.linalg.inv(camera_matrix)
    if rot is not None:
        back = rot.T @ back
    m = torch.as_tensor(back, dtype=torch.float64, device=uv.device)
    return uv @ m[:, :2].T + m[:, 2]


@dataclass(frozen=True)
class View:
    """A pinhole camera at the camera-frame origin.

    ``camera_matrix``: intrinsics ``K``; ``rot``: for a virtual camera, the rotation from the
    camera frame into its frame (rows = its axes in the camera frame).
    """

    camera_matrix: np.ndarray
    rot: np.ndarray | None = None


def _ellipsoid_hit(o: torch.Tensor, d: torch.Tensor, centre: torch.Tensor, axes: torch.Tensor
                   ) -> torch.Tensor:  # fmt: skip
    """Nearest positive ray parameter of ellipsoid hits ``(N,)`` (inf on a miss).

    ``o`` (3,) origin, ``d`` (N, 3) unit directions, ``centre``/``axes`` (3,).
    """
    oc = (o - centre) / axes
    dd = d / axes
    a = (dd * dd).sum(-1)
    b = dd @ oc
    c = (oc * oc).sum() - 1.0
    disc = b * b - a * c
    t = (-b - torch.sqrt(disc.clamp(min=0))) / a
    return torch.where((disc > 0) & (t > 0), t, torch.full_like(t, float("inf")))


def _vec(v: Sequence[float] | np.ndarray, dev: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.asarray(v, dtype=np.float32), device=dev)


def render_faces(
    subjects: Sequence[FaceSubject],
    samples: Sequence[GazeSample],
    views: Sequence[View],
    width: int,
    height: int,
    supersample: int = 1,
    device: torch.device | None = None,
) -> np.ndarray:
    """Render one ``width`` x ``height`` image per (subject, sample, view).

    One ray per pixel; pixels on or next to an eye opening are rendered again with
    ``supersample`` x ``supersample`` rays and averaged (the iris and lids are the fine
    detail that carries gaze; elsewhere one ray is enough). Returns uint8 RGB
    ``(B, H, W, 3)``, rendered on ``device`` (default CPU). Deterministic: the noise comes
    from each sample's ``seed``.
    """
    return _render(subjects, samples, views, width, height, supersample, device)[0]


def render_parts(
    subjects: Sequence[FaceSubject],
    samples: Sequence[GazeSample],
    views: Sequence[View],
    width: int,
    height: int,
    supersample: int = 1,
    device: torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`render_faces` plus what each pixel's central ray hit.

    Returns ``(images, parts)``, ``parts`` uint8 ``(B, H, W)`` indices into
    :data:`PART_NAMES` (for checks and tests).
    """
    return _render(subjects, samples, views, width, height, supersample, device)


def _render(
    subjects: Sequence[FaceSubject],
    samples: Sequence[GazeSample],
    views: Sequence[View],
    width: int,
    height: int,
    supersample: int,
    device: torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    dev = device or torch.device("cpu")
    uv = pixel_grid(width, height, dev)
    s = supersample
    offsets = (torch.arange(s, dtype=torch.float64, device=dev) + 0.5) / s - 0.5
    oy, ox = torch.meshgrid(offsets, offsets, indexing="ij")
    sub_off = torch.stack([ox.reshape(-1), oy.reshape(-1)], dim=-1)  # (s*s, 2)
    imgs, parts = [], []
    for sub, smp, view in zip(subjects, samples, views, strict=True):
        colour, part = _render_one(sub, smp, camera_rays(uv, view.camera_matrix, view.rot))
        if s > 1:
            eye = ((part >= 3) & (part <= 6)).reshape(1, 1, height, width).float()
            near_eye = torch.nn.functional.max_pool2d(eye, 3, stride=1, padding=1)
            idx = torch.nonzero(near_eye.reshape(-1) > 0).squeeze(1)
            if idx.numel():
                suv = (uv[idx][:, None, :] + sub_off[None]).reshape(-1, 2)
                fine, _ = _render_one(sub, smp, camera_rays(suv, view.camera_matrix, view.rot))
                colour[idx] = fine.reshape(-1, s * s, 3).mean(dim=1)
        img = colour.reshape(height, width, 3)
        gen = torch.Generator().manual_seed(smp.seed)
        img = img + (torch.randn(height, width, 3, generator=gen) * smp.noise).to(img.device)
        imgs.append((img.clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy())
        parts.append(part.reshape(height, width).cpu().numpy())
    return np.stack(imgs), np.stack(parts)


def _render_one(sub: FaceSubject, smp: GazeSample, rays: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Colours ``(P, 3)`` float in [0, ~1] and part labels ``(P,)`` of one sample's rays."""
    dev = rays.device
    rot = smp.head_rot
    # Rays into the head frame: o_h = R^T (0 - t), d_h = R^T d  (row vectors: d @ R).
    o_h = _vec(rot.T @ -smp.head_t, dev)
    d_all = (rays.to(torch.float64) @ torch.as_tensor(rot, device=dev)).to(torch.float32)
    d_all = d_all / d_all.norm(dim=-1, keepdim=True)
    face_c, face_a = _vec(sub.face_centre, dev), _vec(sub.face_axes, dev)
    light = _vec(rot.T @ smp.light, dev)

    bg = _vec(smp.background, dev)
    slope = (d_all[:, 1] / d_all[:, 2]).clamp(-1, 1)  # head-frame tilt: a soft gradient
    out = bg * (0.85 + 0.15 * slope)[:, None]
    part = torch.zeros(len(d_all), dtype=torch.uint8, device=dev)
    # Cull: only rays within the head's bounding sphere go on.
    to_c = face_c - o_h
    dist = to_c.norm()
    cos_max = torch.sqrt((1 - ((face_a.max() + 5) / dist) ** 2).clamp(min=0))
    near = torch.nonzero((d_all @ (to_c / dist)) > cos_max).squeeze(1)
    if near.numel() == 0:
        return out, part
    d = d_all[near]

    t_face = _ellipsoid_hit(o_h, d, face_c, face_a)
    nose_y = sub.mouth_y * 0.52
    nose_front = float(sub.face_z(0.0, sub.mouth_y * 0.6))
    nose_c = _vec([0.0, nose_y, nose_front - 17.0 + 14.0], dev)
    nose_a = _vec([9.0, 21.0, 14.0], dev)
    t_nose = _ellipsoid_hit(o_h, d, nose_c, nose_a)

    # The face hit point decides holes and painted features.
    p = o_h + torch.where(torch.isfinite(t_face), t_face, torch.zeros_like(t_face))[:, None] * d
    x, y = p[:, 0], p[:, 1]
    ax = x.abs()
    side = (x > 0).long()  # 0: image-left eye (x < 0), 1: image-right eye
    # Each eye's gaze in the head frame, and the lids that follow its elevation.
    centres = eye_centres(sub, rot, smp.head_t)
    g = smp.target[None, :] - centres
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    gaze_h = _vec(g @ rot, dev)  # (2, 3): R^T g per eye
    sin_up = -gaze_h[:, 1]  # eye elevation, positive up (head y points down)
    lid_up = (sub.lid_upper + 0.8 * sub.eye_radius * sin_up).clamp(min=0.8)[side]
    lid_lo = (sub.lid_lower - 0.3 * sub.eye_radius * sin_up).clamp(min=1.5)[side]
    u = (ax - sub.eye_x) / sub.eye_half_width
    w = (1 - u * u).clamp(min=0)
    y_base = -sub.corner_tilt * (u + 1) / 2
    y_up = y_base - lid_up * w.pow(0.8)
    y_lo = y_base + lid_lo * w
    in_span = u.abs() < 1
    face_front = torch.isfinite(t_face) & (t_face <= t_nose)
    hole = in_span & (y > y_up) & (y < y_lo) & face_front

    # Skin albedo with painted features (face hit point, head frame x-y).
    skin = _vec(sub.skin, dev)
    hair = _vec(sub.hair, dev)
    albedo = skin.expand(len(d), 3).clone()
    lash = in_span & (y <= y_up) & (y > y_up - 0.9 - 0.4 * w)
    lower_rim = in_span & (y >= y_lo) & (y < y_lo + 0.5)
    crease = in_span & (y < y_up - 2.5) & (y > y_up - 3.3)
    ub = (ax - sub.eye_x) / (sub.eye_half_width * 1.3)
    brow_y = -sub.brow_height - 2.5 * (1 - ub * ub)
    brow = (ub.abs() < 1) & ((y - brow_y).abs() < 1.8 * (1 - 0.4 * ub * ub))
    um = (x / sub.mouth_half_width).clamp(-1.5, 1.5)
    dy_m = (y - sub.mouth_y).abs()
    lips = (um.abs() < 1) & (dy_m < 4.0 * (1 - um * um) + 0.3)
    mouth_line = (um.abs() < 1) & (dy_m < 0.5)
    fa = sub.face_axes[0]
    hair_mask = (y < sub.hairline + 8 * (x / fa) ** 2) | ((ax > 0.88 * fa) & (y < sub.mouth_y - 20))
    albedo[crease] *= 0.8
    albedo[lips] *= _vec([0.85, 0.5, 0.5], dev)
    albedo[mouth_line] = 0.12
    albedo[lower_rim] *= 0.7
    albedo[lash | brow] = hair * 0.6
    albedo[hair_mask] = hair

    amb, power = smp.ambient, smp.light_power
    n_face = (p - face_c) / (face_a * face_a)
    n_face = n_face / n_face.norm(dim=-1, keepdim=True)
    shade_face = amb + power * (n_face @ light).clamp(min=0)
    col = albedo * shade_face[:, None]
    prt = torch.ones(len(d), dtype=torch.uint8, device=dev)
    prt[(lips | mouth_line) & ~hair_mask] = 7

    nose_m = torch.isfinite(t_nose) & ~face_front
    if nose_m.any():
        pn = o_h + t_nose[nose_m, None] * d[nose_m]
        n_nose = (pn - nose_c) / (nose_a * nose_a)
        n_nose = n_nose / n_nose.norm(dim=-1, keepdim=True)
        nostril = ((pn[:, 0].abs() - 4.5) / 2.8) ** 2 + ((pn[:, 1] - nose_y - 17) / 2.2) ** 2 < 1
        nose_alb = torch.where(nostril[:, None], skin * 0.25, skin * 1.02)
        col[nose_m] = nose_alb * (amb + power * (n_nose @ light).clamp(min=0))[:, None]
        prt[nose_m] = 2

    hole_idx = torch.nonzero(hole).squeeze(1)
    col[hole_idx] = _vec(SOCKET, dev) * shade_face[hole_idx, None]
    prt[hole_idx] = 3
    if hole_idx.numel():
        _paint_eyes(sub, smp, o_h, d, hole_idx, side, y, y_up, gaze_h, light, col, prt)

    hit = torch.isfinite(t_face) | torch.isfinite(t_nose)
    out[near[hit]] = col[hit]
    part[near[hit]] = prt[hit]
    return out, part


def _paint_eyes(
    sub: FaceSubject, smp: GazeSample, o_h: torch.Tensor, d_all: torch.Tensor,
    idx: torch.Tensor, side_all: torch.Tensor, y_all: torch.Tensor, y_up_all: torch.Tensor,
    gaze_h: torch.Tensor, light: torch.Tensor, col: torch.Tensor, prt: torch.Tensor,
) -> None:  # fmt: skip
    """Shade the rays ``idx`` (through an eye opening) that hit their side's eyeball."""
    dev = d_all.device
    d, side = d_all[idx], side_all[idx]
    radius = sub.eye_radius
    sign = side.to(torch.float32) * 2 - 1
    eye_c = torch.stack([sign * sub.eye_x, torch.zeros_like(sign),
                         torch.full_like(sign, sub.eye_z)], dim=-1)  # fmt: skip
    oc = o_h - eye_c
    bq = (oc * d).sum(-1)
    disc = bq * bq - ((oc * oc).sum(-1) - radius * radius)
    hit = disc > 0
    if not hit.any():
        return
    d, eye_c, side = d[hit], eye_c[hit], side[hit]
    t_eye = -bq[hit] - torch.sqrt(disc[hit])
    n_eye = (o_h + t_eye[:, None] * d - eye_c) / radius
    g = gaze_h[side]
    cos_a = (n_eye * g).sum(-1)
    cos_iris = float(np.sqrt(1 - (sub.iris_radius / radius) ** 2))
    cos_pupil = float(np.sqrt(1 - (smp.pupil_mm / radius) ** 2))
    ang_iris = float(np.arccos(cos_iris))
    ang = torch.arccos(cos_a.clamp(-1, 1))
    # Radial streaks: the angle around the gaze axis.
    e1 = torch.cross(g, _vec([0.0, 1.0, 0.0], dev).expand_as(g), dim=-1)
    e1 = e1 / e1.norm(dim=-1, keepdim=True).clamp(min=1e-6)
    e2 = torch.cross(g, e1, dim=-1)
    phi = torch.atan2((n_eye * e2).sum(-1), (n_eye * e1).sum(-1))
    streak = 0.8 + 0.2 * torch.cos(14 * phi)
    limbus = 1 - 0.55 * ((ang / ang_iris).clamp(0, 1) ** 6)
    iris = _vec(sub.iris, dev) * (streak * limbus)[:, None]
    albedo = torch.where((cos_a > cos_iris)[:, None], iris, _vec(SCLERA, dev).expand_as(iris))
    albedo = torch.where((cos_a > cos_pupil)[:, None], torch.full_like(albedo, 0.03), albedo)
    # The upper lid's shadow on the eye.
    sel = idx[hit]
    albedo = albedo * (0.55 + 0.45 * ((y_all[sel] - y_up_all[sel]) / 1.5).clamp(0, 1))[:, None]
    power = smp.light_power
    half = light - d
    half = half / half.norm(dim=-1, keepdim=True)
    glint = power * (n_eye * half).sum(-1).clamp(min=0) ** 1500
    shade = smp.ambient + power * (n_eye @ light).clamp(min=0)
    col[sel] = albedo * shade[:, None] + 0.8 * glint[:, None]
    prt[sel] = torch.where(cos_a > cos_pupil, 6, torch.where(cos_a > cos_iris, 5, 4)).to(
        torch.uint8
    )
