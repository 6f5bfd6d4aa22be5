"""A seed ensemble of gaze models: members' unit gaze vectors averaged on the sphere.

``pano train-gaze`` with ``ensemble: K`` trains K members per fold (seeds ``seed .. seed +
K - 1``); this module is what a trained ensemble predicts with, in ``pano train-gaze``'s
fold combination and in ``pano gaze-infer``: the normalised sum of the members' unit
vectors (GazeHub camera axes: x right, y down, z forward), yaw/pitch (radians) of that
vector, sigma the members' mean.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from pano.errors import ShapeError
from pano.geometry import camvec_to_gazehub
from pano.models.gaze_grm import GazeGRM, GazeModelConfig, GazeOutput


def combine_gaze(
    vectors: Sequence[torch.Tensor], sigmas: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ensemble gaze of K members' ``(B, 3)`` unit vectors and ``(B, 2)`` sigmas.

    Returns:
        ``angles (B, 2)`` GazeHub ``[yaw, pitch]`` radians of ``vector``, ``sigma (B, 2)``
        the members' mean, ``vector (B, 3)`` the normalised sum of the members' vectors
        (a face whose members' vectors cancel exactly has no direction: NaN).

    """
    if not vectors or len(vectors) != len(sigmas):
        raise ShapeError(f"combine_gaze: {len(vectors)} vectors and {len(sigmas)} sigmas")
    total = torch.stack(list(vectors)).sum(0)
    vector = total / total.norm(dim=-1, keepdim=True)
    yaw, pitch = camvec_to_gazehub(vector)
    return torch.stack([yaw, pitch], -1), torch.stack(list(sigmas)).mean(0), vector


class GazeEnsemble(nn.Module):
    """K trained :class:`~pano.models.gaze_grm.GazeGRM` members with one model config.

    ``forward(faces, eyes)`` runs every member (so BatchNorm statistics can be recomputed
    for all of them at once) and returns their :func:`combine_gaze`;
    :func:`~pano.models.gaze_augment.predict_gaze` instead combines each member's own
    (optionally mirror-averaged) prediction, as ``pano train-gaze`` does.
    """

    def __init__(self, members: Sequence[GazeGRM]) -> None:
        super().__init__()
        if not members:
            raise ShapeError("GazeEnsemble needs at least one member")
        cfgs = {m.cfg.model_dump_json(exclude={"backbone_weights"}) for m in members}
        if len(cfgs) != 1:
            raise ShapeError("GazeEnsemble: the members have different model configs")
        self.members = nn.ModuleList(members)
        self.cfg: GazeModelConfig = members[0].cfg

    def forward(self, faces: torch.Tensor, eyes: torch.Tensor | None = None) -> GazeOutput:
        """``(B, 3, S, S)`` faces (and ``(B, 2, h, w)`` eyes) -> the members' combined output."""
        outs = [m(faces, eyes) for m in self.members]
        angles, sigma, vector = combine_gaze([o.vector for o in outs], [o.sigma for o in outs])
        return GazeOutput(angles, sigma, vector)


#: What ``pano gaze-infer`` and :func:`~pano.models.gaze_augment.predict_gaze` predict with.
GazePredictor = GazeGRM | GazeEnsemble

__all__ = ["GazeEnsemble", "GazePredictor", "combine_gaze"]
