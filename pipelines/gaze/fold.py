"""Training, checkpoint selection and test prediction of ONE gaze fold.

A fold's folder (``<run>/folds/<fold>/``)::

    checkpoints/       atomic, verified checkpoints + manifest.json (one per epoch; the
                       best on the validation persons is always kept)
    tb/                TensorBoard scalars: train/loss, train/lr, val/angular_deg,
                       val/mean_gaze_deg (the training mean gaze on the same samples)
    refit/             with ``optim.refit``: the model retrained on training + validation
                       persons for the selected number of epochs (it predicts the test fold)
    average/           with ``log.average_epochs: N``: the weight average of the last N
                       epochs (BatchNorm statistics recomputed), scored on validation
    predictions.npz    the test samples' predictions by the selected checkpoint
    fold.json          the fold's record (persons, selection rule, checkpoint, errors, times);
                       written last: a fold with fold.json is complete

Reproducibility: epoch ``e`` draws its sample order from ``derive_seed(seed, e, 0)`` and
its augmentation from ``derive_seed(seed + 1, e, rank)``; a checkpoint holds the model,
optimiser, scheduler, AMP scaler, torch RNG state and the best score, so ``--resume``
continues from the last complete epoch.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from pano.errors import CheckpointError, ConfigError
from pano.geometry import camvec_to_gazehub, gazehub_to_camvec, normalize, orthodromic_distance
from pano.models.gaze_augment import augment_batch, augment_eyes, predict_gaze
from pano.models.gaze_grm import build_gaze_model
from pano.models.gaze_loss import gaze_loss
from pano.pipelines.gaze.config import GAZE_RESUME_MAY_CHANGE, GazeTrainConfig
from pano.pipelines.gaze.data import (
    FaceLoader,
    FoldPlan,
    as_text,
    eyes_input,
    read_eyes,
    to_input,
)
from pano.pipelines.train.checkpoint import CheckpointManager, atomic_write_bytes
from pano.pipelines.train.dist import DistInfo, barrier, broadcast_object
from pano.pipelines.train.run import derive_seed, lr_schedule, resume_conflicts

log = logging.getLogger("pano.train_gaze")

FOLD_RECORD = "fold.json"
FOLD_PREDICTIONS = "predictions.npz"
REFIT_DIR = "refit"
AVERAGE_DIR = "average"


def angular_error_deg(pred_xyz: np.ndarray, true_xyz: np.ndarray) -> np.ndarray:
    """Great-circle angle in degrees (float64) between ``(N, 3)`` gaze vectors.

    ``atan2(|u x v|, u . v)`` (:func:`pano.geometry.orthodromic_distance`), in float64.
    """
    u = np.asarray(pred_xyz, np.float64)
    v = np.asarray(true_xyz, np.float64)
    return np.asarray(np.rad2deg(orthodromic_distance(u, v)), np.float64)


def mean_direction(xyz: np.ndarray) -> np.ndarray:
    """The normalised mean of ``(N, 3)`` unit vectors, ``float64 (3,)``."""
    return np.asarray(normalize(np.asarray(xyz, np.float64).mean(0)), np.float64)


def selection_rule(cfg: GazeTrainConfig, plan: FoldPlan) -> str:
    """The sentence recorded for how the fold's test-predicting checkpoint was chosen."""
    n = cfg.log.average_epochs
    average = (
        f"the mean of the last {n} epochs' weights (BatchNorm statistics recomputed on the "
        "training samples)"
    )
    person_bn = (
        "; each validation and test person is predicted with BatchNorm statistics of their "
        "own faces (predict_person_bn)"
        if cfg.predict_person_bn
        else ""
    )
    if cfg.log.select == "last":
        what = average if n else "the last epoch's checkpoint"
        return f"{what} (no selection; the test fold is never scored in training){person_bn}"
    who = (
        f"validation person(s) {', '.join(plan.val_persons)} ({plan.val_rule})"
        if plan.test_person is not None
        else f"the validation samples ({plan.val_rule})"
    )
    among = f"the epoch checkpoints and {average}" if n else "the epoch checkpoints"
    rule = (
        f"of {among}, the one with the lowest mean of per-person mean angular errors on "
        f"{who}; the test samples are never used for selection"
    )
    rule += person_bn
    if cfg.optim.refit and len(plan.val_idx):
        rule += (
            "; then a model retrained from the same initial weights on the training and "
            "validation samples for that many epochs (optim.refit) predicts the test samples"
        )
    return rule


def refit_skipped(cfg: GazeTrainConfig, plan: FoldPlan) -> str | None:
    """Why ``optim.refit`` cannot apply to this fold (a sentence), or None.

    The config refuses ``optim.refit`` without ``log.select: best``; a fold without
    validation samples has no chosen epoch to refit for, so it keeps its own model.
    """
    if not cfg.optim.refit:
        return None
    if cfg.log.select != "best":
        return "log.select is not 'best', so no epoch was chosen to refit for"
    if len(plan.val_idx) == 0:
        return "the fold has no validation samples, so no epoch was chosen to refit for"
    return None


@torch.no_grad()
def predict(
    model: nn.Module,
    loader: FaceLoader,
    batch: int,
    device: torch.device,
    amp: bool,
    size: int | None = None,
    eyes: np.ndarray | None = None,
    hflip: bool = False,
) -> dict[str, np.ndarray]:
    """Predictions for every sample of ``loader`` in its order (faces resized to ``size``).

    ``eyes`` is :func:`~pano.pipelines.gaze.data.read_eyes`'s array for a model that reads
    eye crops (``model.eyes: true``), else None. ``hflip`` (``predict_hflip``, test-time
    augmentation): each sample's gaze is the normalised sum of the model's unit vector for
    the input and, x negated, for its mirror (:func:`~pano.models.gaze_augment.predict_gaze`,
    which both this and ``pano gaze-infer --hflip`` call); yaw and pitch are that vector's,
    sigma the mean of the two.

    Returns:
        ``yaw``, ``pitch`` (GazeHub radians) as float64 ``(N,)``, ``sigma`` float64
        ``(N, 2)`` (the model's [yaw, pitch] spread, radians) and ``gaze_xyz`` float64
        ``(N, 3)`` unit vectors in GazeHub camera axes (from the angles, in float64).

    """
    was = model.training
    model.eval()
    parts: list[torch.Tensor] = []
    for sel, faces in loader.ordered(batch):
        x, e = to_input(faces, device, size), eyes_input(eyes, sel, device)
        got = predict_gaze(model, x, e, hflip, amp)
        parts.append(torch.cat([got.angles, got.sigma], 1).cpu())
    model.train(was)
    arr = torch.cat(parts).numpy() if parts else np.zeros((0, 4))
    yaw, pitch = arr[:, 0].copy(), arr[:, 1].copy()
    xyz = np.asarray(gazehub_to_camvec(yaw, pitch), np.float64).reshape(-1, 3)
    return {"yaw": yaw, "pitch": pitch, "sigma": arr[:, 2:4].copy(), "gaze_xyz": xyz}


@torch.no_grad()
def recompute_batchnorm(
    model: nn.Module,
    loader: FaceLoader,
    batch: int,
    device: torch.device,
    size: int | None,
    eyes: np.ndarray | None = None,
) -> None:
    """Set every BatchNorm's running mean/variance to their values over ``loader``'s faces.

    What a weight average needs (Izmailov et al. 2018, ``torch.optim.swa_utils.update_bn``):
    the averaged weights' activations have other statistics than any epoch's. The statistics
    are the cumulative average over one ordered pass (``momentum=None``) of the unaugmented
    faces (and eye crops) in batches of ``batch``; the model is left in eval mode.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for sel, faces in loader.ordered(batch):
        if len(sel) > 1:  # BatchNorm in training mode needs two samples
            model(to_input(faces, device, size), eyes_input(eyes, sel, device))
    for m, mom in zip(norms, momenta, strict=True):
        m.momentum = mom
    model.eval()


class PersonPredictor:
    """Predictions for a fixed set of samples, optionally with person-wise BatchNorm (AdaBN).

    With ``person_bn`` false this is :func:`predict` on one loader. With it, the samples are
    split by person and, for each person, a copy of the model gets BatchNorm statistics of
    that person's own faces (:func:`recompute_batchnorm`: one ordered pass, unaugmented, in
    batches of ``bn_batch``) before it predicts them (Li et al. 2016, "Revisiting batch
    normalization for practical domain adaptation"): a person's appearance offset in the
    features is normalised away. No labels are used; every face of the person is.

    Args:
        face: the ``uint8 (N, H, W, 3)`` face array.
        idx: sorted sample indices to predict.
        subject: ``(N,)`` person ids of every sample.
        cache_mb, buffer_chunks, size: as :class:`~pano.pipelines.gaze.data.FaceLoader`.
        person_bn: recompute BatchNorm statistics per person.
        bn_batch: faces per BatchNorm pass.

    """

    def __init__(
        self,
        face: Any,
        idx: np.ndarray,
        subject: np.ndarray,
        cache_mb: int,
        buffer_chunks: int,
        size: int | None,
        person_bn: bool,
        bn_batch: int,
    ) -> None:
        self.idx, self.size, self.person_bn, self.bn_batch = idx, size, person_bn, bn_batch
        self.loader = FaceLoader(face, idx, cache_mb, buffer_chunks, size)
        who = subject[idx]
        self.persons = [
            (rows, FaceLoader(face, idx[rows], cache_mb, buffer_chunks, size))
            for rows in (np.flatnonzero(who == p) for p in np.unique(who))
        ] if person_bn else []  # fmt: skip

    def __call__(
        self,
        model: nn.Module,
        batch: int,
        device: torch.device,
        amp: bool,
        eyes: np.ndarray | None,
        hflip: bool,
    ) -> dict[str, np.ndarray]:
        """:func:`predict`'s arrays for ``idx`` in its order (the model is not changed)."""
        if not self.person_bn:
            return predict(model, self.loader, batch, device, amp, self.size, eyes, hflip)
        out: dict[str, np.ndarray] = {}
        for rows, loader in self.persons:
            own = copy.deepcopy(model)
            recompute_batchnorm(own, loader, self.bn_batch, device, self.size, eyes)
            got = predict(own, loader, batch, device, amp, self.size, eyes, hflip)
            for k, v in got.items():
                if k not in out:
                    out[k] = np.zeros((len(self.idx), *v.shape[1:]), v.dtype)
                out[k][rows] = v
        if not out:  # no samples
            return predict(model, self.loader, batch, device, amp, self.size, eyes, hflip)
        return out


def person_mean(err: np.ndarray, who: np.ndarray) -> float:
    """Mean over persons of each person's mean error (NaN for no samples)."""
    if len(err) == 0:
        return float("nan")
    return float(np.mean([err[who == p].mean() for p in np.unique(who)]))


def npz_bytes(arrays: dict[str, Any]) -> bytes:
    """An uncompressed ``.npz`` of numeric arrays (no pickled objects)."""
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **arrays)
    return buf.getvalue()


def read_fold(fold_dir: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """A complete fold's record and test predictions, or None when the fold is not complete."""
    rec = fold_dir / FOLD_RECORD
    if not rec.is_file():
        return None
    record = json.loads(rec.read_text(encoding="utf-8"))
    with np.load(fold_dir / FOLD_PREDICTIONS) as z:
        arrays = {k: z[k] for k in z.files}
    return record, arrays


def train_fold(
    data: Any,
    cfg: GazeTrainConfig,
    plan: FoldPlan,
    fold_dir: Path,
    resume: bool,
    info: DistInfo,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train one fold, choose its checkpoint on the validation set, predict its test samples.

    Args:
        data: the opened gaze data set (``open_gaze``: lazy ``arrays['face']``,
            ``array('gaze_xyz')``, ``array('subject')``).
        cfg: the configuration.
        plan: the fold.
        fold_dir: the fold's folder (created).
        resume: continue from the last complete checkpoint; a complete fold is not trained
            again.
        info: the process's place in a torchrun job (rank 0 alone validates and writes).
        progress: called with a one-line message after every epoch.

    Returns:
        The fold's record (what ``fold.json`` holds).

    Raises:
        CheckpointError: checkpoints exist and ``resume`` is false, or the checkpoint's
            config differs from ``cfg`` in a field that may not change.

    """
    t0 = time.perf_counter()
    if cfg.model.eyes and cfg.augment.enabled and cfg.augment.hflip_p > 0:
        raise ConfigError(
            "augment.hflip_p > 0 with model.eyes: true: the flip mirrors the face only, not "
            "the eye crops; set augment.hflip_p: 0"
        )
    dev = info.device
    ckpt = CheckpointManager(fold_dir / "checkpoints", keep=cfg.log.keep)
    done = read_fold(fold_dir) if resume else None
    if done is not None and done[0].get("epochs") == cfg.optim.epochs:
        log.info("fold %s is complete; not training it again", plan.name)
        return done[0]
    if not resume and (ckpt.has_checkpoint() or (fold_dir / FOLD_RECORD).exists()):
        raise CheckpointError(
            f"{fold_dir}: fold {plan.name} already has checkpoints; pass --resume to continue "
            "it, or choose another --out run folder"
        )
    gaze = np.asarray(data.array("gaze_xyz"), np.float64)
    subject = as_text(data.array("subject"))
    yaw_all, pitch_all = camvec_to_gazehub(gaze)
    angles = torch.as_tensor(np.stack([yaw_all, pitch_all], 1), dtype=torch.float32)
    face, size = data.arrays["face"], cfg.model.image_size
    d = cfg.data
    o = cfg.optim

    def fit_loader(idx: np.ndarray) -> FaceLoader:
        """The loader that trains on ``idx`` (one person per batch with ``person_batches``)."""
        groups = subject[idx] if o.person_batches else None
        return FaceLoader(face, idx, d.cache_mb, d.buffer_chunks, size, groups)

    train = fit_loader(plan.train_idx)
    pbn = cfg.predict_person_bn
    val = PersonPredictor(face, plan.val_idx, subject, d.cache_mb, d.buffer_chunks, size, pbn,
                          cfg.optim.batch_size)  # fmt: skip
    test = PersonPredictor(face, plan.test_idx, subject, d.cache_mb, d.buffer_chunks, size,
                           pbn, cfg.optim.batch_size)  # fmt: skip
    eyes = (
        read_eyes(
            data,
            np.concatenate([plan.train_idx, plan.val_idx, plan.test_idx]),
            cfg.model.eye_size,
            f"fold {plan.name}",
        )
        if cfg.model.eyes
        else None
    )
    train_mean = mean_direction(gaze[plan.train_idx])
    val_base = person_mean(
        angular_error_deg(np.broadcast_to(train_mean, (len(plan.val_idx), 3)), gaze[plan.val_idx]),
        subject[plan.val_idx],
    )

    amp = bool(o.amp and dev.type == "cuda")

    def build(per_epoch: int) -> tuple[Any, ...]:
        """Model (the same initial weights on every rank and in a refit), optimiser, schedule."""
        torch.manual_seed(derive_seed(cfg.seed, 0, 0))
        model = build_gaze_model(cfg.model).to(dev)
        module: nn.Module = model
        if info.initialized:
            from torch.nn.parallel import DistributedDataParallel as DDP

            module = DDP(model, device_ids=[dev.index] if dev.type == "cuda" else None)
        params = [p for p in model.parameters() if p.requires_grad]
        opt: torch.optim.Optimizer = (
            torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
            if o.optimizer == "adamw"
            else torch.optim.Adam(params, lr=o.lr)
        )
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lr_schedule(o.epochs * per_epoch, o.warmup_epochs * per_epoch, o.scheduler)
        )
        scaler = torch.amp.GradScaler("cuda", enabled=amp)
        return model, module, opt, sched, scaler, per_epoch

    model, module, opt, sched, scaler, per_epoch = build(train.batches(o.batch_size))
    start, best, best_name = 0, None, None
    # log.average_epochs: the running mean of the end-of-epoch weights of epochs > avg_from.
    n_avg = cfg.log.average_epochs
    avg_from = o.epochs - n_avg
    averaged = AveragedModel(model) if n_avg and info.is_main else None
    if resume and ckpt.has_checkpoint():
        state, entry = ckpt.load("latest")
        changed = resume_conflicts(
            state.get("config") or {}, cfg.model_dump(mode="json"), GAZE_RESUME_MAY_CHANGE
        )
        if changed:
            raise CheckpointError(
                f"{fold_dir}: --resume with another config than the fold was trained with: "
                f"{'; '.join(changed)}; resume with the run's own config.yaml or use another --out"
            )
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"])
        start, best = int(state["step"]), state.get("best_val")
        if averaged is not None and start > avg_from:
            saved = state.get("average") or {}
            if saved.get("from") != avg_from:
                raise CheckpointError(
                    f"{fold_dir}: --resume with log.average_epochs: {n_avg} over "
                    f"optim.epochs: {o.epochs}, but the checkpoint (epoch {start}) holds no "
                    f"average from epoch {avg_from + 1}; resume with the run's own config.yaml"
                )
            averaged.load_state_dict(saved["state"])
        best_name = ckpt.manifest().get("best")
        log.info("fold %s: resuming from %s (epoch %d)", plan.name, entry["file"], start)
    writer = None
    if info.is_main:
        fold_dir.mkdir(parents=True, exist_ok=True)
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(
            str(fold_dir / "tb"), purge_step=start * per_epoch if start else None
        )
    local = max(1, o.batch_size // info.world)
    seen_images = 0
    t_train = time.perf_counter()

    def one_epoch(
        epoch: int,
        module: nn.Module,
        opt: torch.optim.Optimizer,
        sched: torch.optim.lr_scheduler.LRScheduler,
        scaler: torch.amp.GradScaler,
        loader: FaceLoader,
    ) -> tuple[list[float], int]:
        """One pass over ``loader`` (seeded by ``epoch``): the minibatch losses and images."""
        order = np.random.default_rng(derive_seed(cfg.seed, epoch + 1, 0))
        # kornia's augmentations draw from torch's global generator: seeded per epoch.
        torch.manual_seed(derive_seed(cfg.seed + 1, epoch + 1, info.rank))
        losses, seen = [], 0
        module.train()
        for sel, faces in loader.shuffled(o.batch_size, order):
            sel, faces = (
                sel[info.rank :: info.world][:local],
                faces[info.rank :: info.world][:local],
            )
            if len(sel) == 0:
                continue
            x, target = augment_batch(to_input(faces, dev, size), angles[sel].to(dev), cfg.augment)
            with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
                e = eyes_input(eyes, sel, dev)
                out = module(x, None if e is None else augment_eyes(e, cfg.augment))
            loss, _ = gaze_loss(out.angles.float(), target, out.sigma.float(), cfg.loss)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if o.grad_clip > 0:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(module.parameters(), o.grad_clip)
            scaler.step(opt)
            scaler.update()
            sched.step()
            losses.append(float(loss.detach()))
            seen += len(sel)
        return losses, seen

    for epoch in range(start, o.epochs):
        losses, seen = one_epoch(epoch, module, opt, sched, scaler, train)
        seen_images += seen
        is_best, val_err = False, None
        if info.is_main:
            pv = val(model, cfg.predict_batch, dev, amp, eyes, cfg.predict_hflip)
            err = angular_error_deg(pv["gaze_xyz"], gaze[plan.val_idx])
            val_err = person_mean(err, subject[plan.val_idx])
            is_best = best is None or val_err < best
            if is_best:
                best = val_err
            step = (epoch + 1) * per_epoch
            if writer is not None:
                writer.add_scalar("train/loss", float(np.mean(losses)) if losses else 0.0, step)
                writer.add_scalar("train/lr", sched.get_last_lr()[0], step)
                writer.add_scalar("val/angular_deg", val_err, step)
                writer.add_scalar("val/mean_gaze_deg", val_base, step)
            msg = (
                f"fold {plan.name} epoch {epoch + 1}/{o.epochs}: loss "
                f"{np.mean(losses) if losses else float('nan'):.4g}, validation "
                f"{val_err:.3f} deg (training mean gaze {val_base:.3f} deg)"
            )
            log.info("%s", msg)
            if progress is not None:
                progress(msg)
        is_best = bool(broadcast_object(info, is_best))
        if averaged is not None and epoch + 1 > avg_from:
            averaged.update_parameters(model)
        if info.is_main:
            ckpt.save(
                epoch + 1,
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "scaler": scaler.state_dict() if amp else {},
                    "rng": torch.get_rng_state(),
                    "step": epoch + 1,
                    "best_val": best,
                    "config": cfg.model_dump(mode="json"),
                    "fold": plan.describe(),
                    **(
                        {"average": {"from": avg_from, "state": averaged.state_dict()}}
                        if averaged is not None and epoch + 1 > avg_from
                        else {}
                    ),
                },
                val=val_err,
                best=is_best,
            )
            if is_best:
                best_name = f"ckpt-{epoch + 1:08d}.pt"
        barrier(info)
    train_s = time.perf_counter() - t_train
    if writer is not None:
        writer.close()
    record: dict[str, Any] = {}
    which = "best" if cfg.log.select == "best" else "latest"
    refit_not_applied = refit_skipped(cfg, plan)
    refit = o.refit and refit_not_applied is None
    if refit_not_applied:
        log.warning("fold %s: optim.refit not applied: %s", plan.name, refit_not_applied)
    entry = {}
    entry_val = None
    avg_val, avg_used = None, False
    if averaged is not None:
        # The weight average of the last n_avg epochs, BatchNorm recomputed, scored on
        # validation; it predicts the test persons with select: last, or with select: best
        # when no epoch checkpoint scored lower there.
        avg_model = averaged.module
        recompute_batchnorm(avg_model, train, o.batch_size, dev, size, eyes)
        if len(plan.val_idx):
            pv = val(avg_model, cfg.predict_batch, dev, amp, eyes, cfg.predict_hflip)
            avg_val = person_mean(angular_error_deg(pv["gaze_xyz"], gaze[plan.val_idx]),
                                  subject[plan.val_idx])  # fmt: skip
        avg_used = cfg.log.select == "last" or (
            avg_val is not None and (best is None or avg_val <= best)
        )
        actx = CheckpointManager(fold_dir / AVERAGE_DIR, keep=1)
        actx.save(o.epochs, {"model": avg_model.state_dict(), "step": o.epochs,
                             "averaged_epochs": [avg_from + 1, o.epochs],
                             "config": cfg.model_dump(mode="json"), "fold": plan.describe()},
                  val=avg_val, best=True)  # fmt: skip
        log.info(
            "fold %s: weight average of epochs %d-%d: validation %s deg (best epoch %s)%s",
            plan.name, avg_from + 1, o.epochs, avg_val, best,
            "; it predicts the test samples" if avg_used else "",
        )  # fmt: skip
    if info.is_main:
        if avg_used:
            model = averaged.module if averaged is not None else model
            _, entry = CheckpointManager(fold_dir / AVERAGE_DIR, keep=1).load("best")
            entry = {**entry, "file": f"{AVERAGE_DIR}/{entry['file']}"}
        else:
            state, entry = ckpt.load(which)
            model.load_state_dict(state["model"])
        entry_val = entry.get("val")
    refit_s, refit_persons = 0.0, []
    if refit:
        # Retrain from the same initial weights on the training + validation persons for the
        # number of epochs the validation persons chose: the same lr schedule in epochs and the
        # same seeds; the test person still chooses nothing. Not resumable: an interrupted
        # refit is run again from its start by --resume.
        n_refit = cast(int, broadcast_object(info, int(entry["step"]) if info.is_main else 0))
        fit_idx = np.sort(np.concatenate([plan.train_idx, plan.val_idx]))
        fit = fit_loader(fit_idx)
        refit_persons = [*plan.train_persons, *plan.val_persons]
        t_refit = time.perf_counter()
        model, module, opt, sched, scaler, _ = build(fit.batches(o.batch_size))
        for epoch in range(n_refit):
            losses, seen = one_epoch(epoch, module, opt, sched, scaler, fit)
            msg = (
                f"fold {plan.name} refit on {len(refit_persons)} persons, epoch {epoch + 1}/"
                f"{n_refit}: loss {np.mean(losses) if losses else float('nan'):.4g}"
            )
            log.info("%s", msg)
            if progress is not None and info.is_main:
                progress(msg)
        refit_s = time.perf_counter() - t_refit
        if info.is_main:
            rckpt = CheckpointManager(fold_dir / REFIT_DIR, keep=1)
            rckpt.save(n_refit, {"model": model.state_dict(), "step": n_refit,
                                 "config": cfg.model_dump(mode="json"),
                                 "fold": plan.describe(), "refit_persons": refit_persons},
                       best=True)  # fmt: skip
            _, entry = rckpt.load("best")
            entry = {**entry, "file": f"{REFIT_DIR}/{entry['file']}", "val": entry_val}
        barrier(info)
    if info.is_main:
        pt = test(model, cfg.predict_batch, dev, amp, eyes, cfg.predict_hflip)
        test_err = angular_error_deg(pt["gaze_xyz"], gaze[plan.test_idx])
        arrays = {"sample_index": plan.test_idx, **pt}
        atomic_write_bytes(fold_dir / FOLD_PREDICTIONS, npz_bytes(arrays))
        record = {
            **plan.describe(),
            "complete": True,
            "epochs": o.epochs,
            "selection_rule": selection_rule(cfg, plan),
            "selected_checkpoint": entry["file"],
            "selected_epoch": int(entry["step"]),
            "refit": refit,
            "refit_requested": o.refit,
            "refit_not_applied": refit_not_applied,
            "predict_hflip": cfg.predict_hflip,
            "predict_person_bn": cfg.predict_person_bn,
            "refit_persons": refit_persons,
            "refit_seconds": refit_s,
            "average_epochs": n_avg,
            "averaged_epochs": [avg_from + 1, o.epochs] if n_avg else None,
            "average_val_angular_deg": avg_val,
            "average_predicts": avg_used,
            "checkpoint_sha256": entry["sha256"],
            "best_checkpoint": best_name,
            "val_angular_deg": entry.get("val"),
            "val_mean_gaze_deg": val_base,
            "train_mean_gaze_xyz": train_mean.tolist(),
            "test_angular_deg": float(test_err.mean()) if len(test_err) else None,
            "train_seconds": train_s,
            "train_images_per_s": seen_images * info.world / train_s if train_s > 0 else None,
            "seconds": time.perf_counter() - t0,
            "device": str(dev),
            "amp": amp,
            "world_size": info.world,
        }
        atomic_write_bytes(fold_dir / FOLD_RECORD, json.dumps(record, indent=1).encode())
    barrier(info)
    return record


__all__ = [
    "AVERAGE_DIR",
    "FOLD_PREDICTIONS",
    "FOLD_RECORD",
    "PersonPredictor",
    "angular_error_deg",
    "mean_direction",
    "npz_bytes",
    "person_mean",
    "predict",
    "read_fold",
    "recompute_batchnorm",
    "refit_skipped",
    "selection_rule",
    "train_fold",
]
