"""Seed ensembles (``ensemble: K``): K members per fold, their gaze averaged on the sphere.

Member ``k`` trains the fold with the config's ``seed + k`` - its own validation draw from
the fold's training persons, its own initial weights and minibatch order - as a fold folder
of its own, ``folds/<fold>/members/m<k>/`` (:func:`~pano.pipelines.gaze.fold.train_fold`:
checkpoints, TensorBoard, resume), and chooses its checkpoint on its own validation
person(s); the test person chooses nothing. The fold's prediction of a face is the
normalised sum of the members' unit gaze vectors (GazeHub camera axes: x right, y down,
z forward), its yaw/pitch (radians) that vector's, its sigma the members' mean.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pano.errors import CheckpointError
from pano.geometry import gazehub_to_camvec
from pano.models.gaze_ensemble import combine_gaze
from pano.pipelines.gaze.config import GazeTrainConfig
from pano.pipelines.gaze.fold import (
    FOLD_PREDICTIONS,
    FOLD_RECORD,
    angular_error_deg,
    npz_bytes,
    read_fold,
)
from pano.pipelines.train.checkpoint import atomic_write_bytes

#: Sub-folder of a fold folder that holds an ensemble's members.
MEMBERS_DIR = "members"


def member_config(cfg: GazeTrainConfig, k: int) -> GazeTrainConfig:
    """Member ``k``'s config: ``seed + k`` and ``ensemble: 1``, everything else as ``cfg``."""
    return GazeTrainConfig.model_validate(
        {**cfg.model_dump(mode="json"), "seed": cfg.seed + k, "ensemble": 1}
    )


def member_dir(fold_dir: Path, k: int) -> Path:
    """``fold_dir/members/m<k>``: member ``k``'s fold folder."""
    return fold_dir / MEMBERS_DIR / f"m{k}"


def member_folders(fold_dir: Path) -> list[Path]:
    """The member folders of an ensemble fold folder, in member order (empty for one model)."""
    root = fold_dir / MEMBERS_DIR
    found = [d for d in root.glob("m*") if d.is_dir() and d.name[1:].isdigit()]
    return sorted(found, key=lambda d: int(d.name[1:]))


def combine_members(fold_dir: Path, gaze: np.ndarray, cfg: GazeTrainConfig) -> dict[str, Any]:
    """Write an ensemble fold's predictions and record from its ``cfg.ensemble`` members.

    Args:
        fold_dir: the fold folder (members in ``members/m<k>/``, each complete).
        gaze: ``float64 (N, 3)`` true unit gaze vectors of every sample (for the record's
            test error only; nothing is chosen by it).
        cfg: the run's config.

    Returns:
        The fold's record (also written to ``fold.json`` after ``predictions.npz``).

    Raises:
        CheckpointError: a member is not complete, or members predicted other samples.

    """
    got = []
    for k in range(cfg.ensemble):
        one = read_fold(member_dir(fold_dir, k))
        if one is None:
            raise CheckpointError(
                f"{member_dir(fold_dir, k)}: ensemble member {k} of fold {fold_dir.name} is "
                "not complete; run train-gaze again with --resume"
            )
        got.append(one)
    recs, preds = [g[0] for g in got], [g[1] for g in got]
    idx = preds[0]["sample_index"]
    for k, p in enumerate(preds[1:], 1):
        if not np.array_equal(p["sample_index"], idx):
            raise CheckpointError(
                f"{member_dir(fold_dir, k)}: member {k} predicted other test samples than "
                f"member 0 of fold {fold_dir.name}; train the fold again in a new --out"
            )
    angles, sigma, _ = combine_gaze(
        [torch.from_numpy(p["gaze_xyz"]) for p in preds],
        [torch.from_numpy(p["sigma"]) for p in preds],
    )
    yaw, pitch = angles[:, 0].numpy(), angles[:, 1].numpy()
    xyz = np.asarray(gazehub_to_camvec(yaw, pitch), np.float64).reshape(-1, 3)
    arrays = {"sample_index": idx, "yaw": yaw, "pitch": pitch, "sigma": sigma.numpy(),
              "gaze_xyz": xyz}  # fmt: skip
    err = angular_error_deg(xyz, gaze[idx])
    where = [f"{MEMBERS_DIR}/m{k}" for k in range(cfg.ensemble)]
    record = {
        "fold": recs[0]["fold"],
        "test_person": recs[0]["test_person"],
        # Every person some member trained or validated on: the mean-gaze baseline's set.
        "train_persons": sorted({p for r in recs for p in r["train_persons"]}),
        "val_persons": sorted({p for r in recs for p in r["val_persons"]}),
        "n_test": recs[0]["n_test"],
        "complete": True,
        "epochs": recs[0]["epochs"],
        "ensemble": cfg.ensemble,
        "selection_rule": (
            f"a seed ensemble of {cfg.ensemble} members (seeds {cfg.seed} .. "
            f"{cfg.seed + cfg.ensemble - 1}), each choosing its own checkpoint on its own "
            "validation person(s) drawn from the training persons (members[k].selection_rule);"
            " the test samples are never used for selection; the fold predicts the "
            "normalised sum of the members' gaze vectors"
        ),
        "selected_checkpoint": [
            f"{w}/{r['selected_checkpoint']}" for w, r in zip(where, recs, strict=True)
        ],
        "checkpoint_sha256": [r["checkpoint_sha256"] for r in recs],
        "refit_persons": sorted({p for r in recs for p in r.get("refit_persons") or []}),
        "predict_hflip": cfg.predict_hflip,
        "predict_person_bn": cfg.predict_person_bn,
        "members": [{"folder": w, **r} for w, r in zip(where, recs, strict=True)],
        "member_test_angular_deg": [r["test_angular_deg"] for r in recs],
        "test_angular_deg": float(err.mean()) if len(err) else None,
        "seconds": float(sum(r["seconds"] for r in recs)),
        "device": recs[0]["device"],
    }
    atomic_write_bytes(fold_dir / FOLD_PREDICTIONS, npz_bytes(arrays))
    atomic_write_bytes(fold_dir / FOLD_RECORD, json.dumps(record, indent=1).encode())
    return record


__all__ = [
    "MEMBERS_DIR",
    "combine_members",
    "member_config",
    "member_dir",
    "member_folders",
]
