"""Differentiable sphere operations on torch tensors used by the head-movement models.

All vectors are in pano's canonical frame (x front, y left, z up; :mod:`pano.geometry`).
Angles are **radians** unless a name ends in ``_deg``. Leading dimensions broadcast.

The *head frame* of a direction ``p`` is the camera frame of a head looking at ``p`` with
no roll (:func:`pano.geometry.rotation_matrix`): ``+x`` = ``p``, ``+y`` = the viewer's
left, ``+z`` = the top of the head. Models work in the head frame of the last observed
sample, which makes them invariant to the absolute longitude.
"""

from __future__ import annotations

import torch

from pano.geometry import rotation_matrix, vec_to_lonlat

_EPS = 1e-9


def unit(v: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Normalise ``(..., 3)`` vectors to unit length."""
    return v / v.norm(dim=-1, keepdim=True).clamp_min(eps)


def angle_between(u: torch.Tensor, v: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Great-circle angle ``(...)`` in radians between ``(..., 3)`` vectors.

    ``atan2(|u x v|, u . v)`` with a smoothed norm so the gradient exists at 0.
    """
    cross = torch.linalg.cross(u, v, dim=-1)
    return torch.atan2(torch.sqrt((cross * cross).sum(-1) + eps), (u * v).sum(-1))


def tangent_basis(p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit ``(up, left)`` tangent vectors at unit vectors ``p (..., 3)``.

    ``left`` points towards increasing longitude (pano's +lon is LEFT), ``up`` towards
    the north pole. At the poles (``|z| ~ 1``) ``left`` falls back to ``+y``.
    """
    z = torch.zeros_like(p)
    z[..., 2] = 1.0
    left = torch.linalg.cross(z, p, dim=-1)
    n = left.norm(dim=-1, keepdim=True)
    fallback = torch.zeros_like(p)
    fallback[..., 1] = 1.0
    left = torch.where(n > 1e-9, left / n.clamp_min(1e-12), fallback)
    up = unit(torch.linalg.cross(p, left, dim=-1))
    return up, left


def exp_map(p: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Move from unit ``p`` along the tangent vector ``v`` (radians of arc): ``(..., 3)``."""
    n = v.norm(dim=-1, keepdim=True)
    safe = n.clamp_min(_EPS)
    out = torch.cos(n) * p + torch.sin(n) * v / safe
    # For tiny steps sin(n)/n -> 1: use the first-order form to keep gradients finite.
    out = torch.where(n > _EPS, out, p + v)
    return unit(out)


def log_map(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Tangent vector at unit ``p`` pointing to ``q`` with length = angle(p, q): ``(..., 3)``."""
    w = q - (p * q).sum(-1, keepdim=True) * p
    wn = w.norm(dim=-1, keepdim=True)
    ang = angle_between(p, q, eps=0.0)[..., None]
    return torch.where(wn > _EPS, w / wn.clamp_min(_EPS) * ang, torch.zeros_like(w))


def head_frame(p: torch.Tensor) -> torch.Tensor:
    """World->head rotations ``(..., 3, 3)`` for unit vectors ``p (..., 3)``.

    ``head_frame(p) @ p == [1, 0, 0]``; the head's left axis stays horizontal (no roll).
    """
    lon, lat = vec_to_lonlat(p.detach())
    rot = rotation_matrix(lon, lat)  # camera -> world, columns = forward, left, up
    return rot.transpose(-1, -2).to(p.dtype)


def to_frame(rot: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Apply rotations ``(B, 3, 3)`` to vectors ``(B, ..., 3)``."""
    shape = v.shape
    flat = v.reshape(shape[0], -1, 3)
    return torch.einsum("bij,bnj->bni", rot, flat).reshape(shape)


def from_frame(rot: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`to_frame` (rotations are orthonormal)."""
    return to_frame(rot.transpose(-1, -2), v)


def front_exp(offsets: torch.Tensor) -> torch.Tensor:
    """Head-frame points reached from the front ``[1, 0, 0]`` by tangent offsets.

    Args:
        offsets: ``(..., 2)`` radians along the head's ``(left, up)`` axes.

    Returns:
        ``(..., 3)`` unit vectors in the head frame.

    """
    zero = torch.zeros_like(offsets[..., :1])
    front = torch.cat([torch.ones_like(zero), zero, zero], -1)
    v = torch.cat([zero, offsets], -1)
    return exp_map(front, v)


def front_log(q: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`front_exp`: head-frame unit vectors ``(..., 3)`` -> ``(..., 2)``."""
    zero = torch.zeros_like(q[..., :1])
    front = torch.cat([torch.ones_like(zero), zero, zero], -1)
    return log_map(front.expand_as(q), q)[..., 1:]
