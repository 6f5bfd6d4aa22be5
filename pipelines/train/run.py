"""``train_hm`` and ``predict_hm``: the functions behind ``pano train-hm`` / ``pano predict-hm``.

A run lives in ``<runs_dir>/<run>/``::

    config.yaml            the resolved configuration
    checkpoints/           atomic checkpoints + manifest.json (see checkpoint.py)
    tb/                    TensorBoard scalars (losses, reward, validation error)
    summary.json           what the last training reached (steps, best validation, times)

Reproducibility: every update ``u`` draws its minibatch / environment randomness from
generators seeded by ``(seed, u, rank)``, and a checkpoint holds the model, optimiser,
scheduler, torch RNG state, step, best score and (DHP) the environments, so ``--resume``
continues exactly where the last complete checkpoint left off: the final weights equal an
uninterrupted run's.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import yaml
from torch import nn

from pano.errors import CheckpointError, ConfigError, StoreChangedError, StoreError
from pano.pipelines.train.checkpoint import CheckpointManager, atomic_write_bytes
from pano.pipelines.train.config import DHPModel, TrainConfig
from pano.pipelines.train.dist import (
    DistInfo,
    all_gather_cat,
    barrier,
    broadcast_object,
    init_distributed,
    shutdown,
)
from pano.stores.generation import Generation
from pano.stores.schema import PREDICTIONS_GROUP

if TYPE_CHECKING:
    from pano.models.dhp import DHPAgent

log = logging.getLogger("pano.train")


@dataclass
class TrainResult:
    """What :func:`train_hm` did."""

    run_dir: Path
    steps: int
    best_val: float | None
    best_checkpoint: str | None
    last_checkpoint: str | None
    predicted: list[str]
    seconds: float
    #: Names of the videos validation ran on (held out from the train split, or its val split).
    val_videos: list[str] = field(default_factory=list)
    #: The validation scalars logged at the best (chosen) validation, e.g.
    #: ``val/orthodromic_deg`` and ``val/no_motion_deg`` (degrees) or ``val/heatmap_cc``.
    val_scores: dict[str, float] = field(default_factory=dict)
    #: This process's rank (0 without torchrun); only rank 0 validates and writes.
    rank: int = 0
    #: ``data.folds > 1``: the chosen checkpoint file of each fold's agent, fold 0 first.
    fold_checkpoints: list[str] = field(default_factory=list)

    @property
    def is_main(self) -> bool:
        """True on rank 0: the process whose result holds the validation scores."""
        return self.rank == 0


def _upper_bound_label(cfg: TrainConfig) -> str | None:
    """The upper-bound label of a run fed ground-truth saliency, else None."""
    from pano.pipelines.train.config import SaliencyModel

    if isinstance(cfg.model, SaliencyModel) and cfg.model.upper_bound:
        from pano.pipelines.train.saliency import UPPER_BOUND_LABEL

        return UPPER_BOUND_LABEL
    return None


def derive_seed(seed: int, update: int, rank: int) -> int:
    """A 63-bit seed derived from ``(seed, update, rank)`` (splitmix-style mixing).

    ``train-hm`` seeds update ``u`` of rank ``r`` with it; ``train-gaze`` epoch ``e``.
    """
    x = (seed * 0x9E3779B97F4A7C15 + update * 0xBF58476D1CE4E5B9 + rank * 0x94D049BB133111EB) & (
        2**64 - 1
    )
    x ^= x >> 31
    x = (x * 0xD6E8FEEB86659FD9) & (2**64 - 1)
    return x & (2**63 - 1)


def _lr_lambda(cfg: TrainConfig) -> Any:
    return lr_schedule(cfg.optim.steps, cfg.optim.warmup, cfg.optim.scheduler)


def lr_schedule(steps: int, warm: int, kind: str) -> Any:
    """The learning-rate factor of update ``u`` (a ``LambdaLR`` function).

    Linear warm-up over ``warm`` updates, then constant (``kind="constant"``) or a cosine
    decay from 1 to 0.05 at update ``steps`` (``kind="cosine"``).
    """

    def f(u: int) -> float:
        if warm and u < warm:
            return (u + 1) / warm
        if kind == "cosine" and steps > warm:
            p = min(1.0, (u - warm) / max(1, steps - warm))
            return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * p))
        return 1.0

    return f


def run_dir_for(runs_dir: str | Path, run: str) -> Path:
    """``<runs_dir>/<run>`` after checking the run name keeps the name rule.

    Raises:
        InvalidNameError: see :mod:`pano.stores.names`.

    """
    from pano.stores.names import validate_name

    return Path(runs_dir) / validate_name(run, "--run")


def _clear_run(out: Path) -> None:
    """Delete what :func:`train_hm` writes into a run folder (and nothing else)."""
    for name in ("checkpoints", "tb"):
        if (out / name).is_dir():
            shutil.rmtree(out / name)
    for name in ("config.yaml", "summary.json"):
        (out / name).unlink(missing_ok=True)


def _make_task(cfg: TrainConfig, location: str, info: DistInfo) -> Any:
    from pano.pipelines.train.data import load_store_data

    is_dhp = isinstance(cfg.model, DHPModel)
    needs_video = (
        is_dhp
        or cfg.model.kind == "content"
        or (cfg.model.kind in ("saliency", "track") and _upper_bound_label(cfg) is None)
    )
    data = load_store_data(location, cfg, need_video=needs_video)
    if is_dhp:
        from pano.pipelines.train.rl import DHPTask

        return DHPTask(cfg, data, info)
    from pano.pipelines.train.supervised import SupervisedTask

    return SupervisedTask(cfg, data, info)


def _improved(task: Any, val: float, best: float | None) -> bool:
    if best is None:
        return True
    return val > best if task.higher_is_better else val < best


#: Config keys that may differ when a run is resumed (``--resume``): how long to train,
#: logging/checkpoint cadence, prediction settings and where/how it runs. Everything else
#: (model, data, optimiser, RL, seed) must equal the checkpoint's config.
RESUME_MAY_CHANGE: tuple[str, ...] = (
    "optim.steps", "log", "predict", "online", "device", "threads", "data.videos_dir",
    "data.decode_backend",
)  # fmt: skip


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flatten(v, f"{prefix}{k}."))
    return {k.rstrip("."): v for k, v in out.items()}


def resume_conflicts(
    saved: dict[str, Any], new: dict[str, Any], may_change: tuple[str, ...] = RESUME_MAY_CHANGE
) -> list[str]:
    """The config fields that differ between a checkpoint's config and a resumed run's.

    Returns ``"key: saved -> new"`` for every differing key except those under
    ``may_change`` (default :data:`RESUME_MAY_CHANGE`, ``train-hm``'s); empty when the run
    may be resumed with ``new``. A saved config without a key (an older pano) does not
    conflict on it.
    """
    a, b = _flatten(saved), _flatten(json.loads(json.dumps(new)))
    out = []
    for key in sorted(set(a) | set(b)):
        if any(key == m or key.startswith(m + ".") for m in may_change):
            continue
        if key not in a:
            continue
        if a.get(key) != b.get(key):
            out.append(f"{key}: {a.get(key)!r} -> {b.get(key)!r}")
    return out


def train_hm(
    store: str,
    cfg: TrainConfig,
    run: str,
    runs_dir: str | Path = "runs",
    resume: bool = False,
    predict: bool = False,
    overwrite: bool = False,
) -> TrainResult:
    """Train a head-movement model on a store's train split (optionally predict the test split).

    Args:
        store: store path or URL.
        cfg: the configuration.
        run: run name (folder under ``runs_dir`` and ``predictions/<run>`` in the store).
        runs_dir: where runs live.
        resume: continue from the run's latest complete checkpoint.
        predict: afterwards write predictions for ``cfg.predict.split``.
        overwrite: start an existing run again from scratch: its checkpoints, logs,
            ``config.yaml`` and ``summary.json`` are deleted first (nothing else in the folder).

    Raises:
        ConfigError, StoreError, DeviceError, CheckpointError: bad input (one-line messages).

    """
    from pano.stores.generation import read_generation
    from pano.stores.lock import assert_no_writer
    from pano.stores.preflight import check_output_folder, check_store_location

    if resume and overwrite:
        raise ConfigError(
            "--resume continues a run and --overwrite starts it again: pass one of them"
        )
    # Before any work: the run folder, and with --predict the store, must be writable.
    check_store_location(store, write=predict, groups=(PREDICTIONS_GROUP,))
    check_output_folder(runs_dir, "--runs-dir")
    t0 = time.perf_counter()
    assert_no_writer(store, "train")  # do not train on a store that is being rewritten
    seen = read_generation(store)  # a writer that takes the lock from now on bumps it
    info = init_distributed(cfg.device)
    clean = False
    try:
        if cfg.data.folds > 1:
            result = _train_folds(
                store, cfg, run, Path(runs_dir), resume, predict, info, t0, overwrite, seen
            )
        else:
            result = _train(
                store, cfg, run, Path(runs_dir), resume, predict, info, t0, overwrite, seen
            )
        clean = True
        return result
    finally:
        shutdown(info, clean=clean)


def _train(
    store: str,
    cfg: TrainConfig,
    run: str,
    runs_dir: Path,
    resume: bool,
    predict: bool,
    info: DistInfo,
    t0: float,
    overwrite: bool = False,
    seen: Generation | None = None,
) -> TrainResult:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = run_dir_for(runs_dir, run)
    if overwrite:
        if info.is_main:
            _clear_run(out)
        barrier(info)
    ckpt = CheckpointManager(out / "checkpoints", keep=cfg.log.keep)
    if not resume and ckpt.has_checkpoint():
        raise CheckpointError(
            f"{out}: run {run!r} already has checkpoints; pass --resume to continue it, "
            "--overwrite to train it again from scratch, or choose another --run name"
        )
    torch.manual_seed(derive_seed(cfg.seed, 0, info.rank))
    task = _make_task(cfg, store, info)
    model: nn.Module = task.model
    trainable = any(p.requires_grad for p in model.parameters())
    steps = cfg.optim.steps if trainable else 0
    module: nn.Module = model
    if info.initialized and trainable:
        from torch.nn.parallel import DistributedDataParallel as DDP

        module = DDP(model, device_ids=[info.device.index] if info.device.type == "cuda" else None)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = (
        torch.optim.Adam(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
        if params
        else None
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg)) if opt is not None else None
    start, best, best_name = 0, None, None
    best_scores: dict[str, float] = {}
    if resume:
        state, entry = ckpt.load("latest")
        changed = resume_conflicts(state.get("config") or {}, cfg.model_dump(mode="json"))
        if changed:
            raise CheckpointError(
                f"{out}: --resume with another config than the run was trained with: "
                f"{'; '.join(changed)}; resume with the run's own config.yaml (only "
                f"{', '.join(RESUME_MAY_CHANGE)} may change), or start a new --run"
            )
        saved_model = state.get("config", {}).get("model")
        if saved_model != json.loads(json.dumps(cfg.model.model_dump(mode="json"))):
            raise CheckpointError(
                f"{out}: the checkpoint was trained with model {saved_model}, not "
                f"{cfg.model.model_dump(mode='json')}; resume with the run's own config.yaml"
            )
        model.load_state_dict(state["model"])
        if opt is not None and "optimizer" in state:
            opt.load_state_dict(state["optimizer"])
        if sched is not None and "scheduler" in state:
            sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        start = int(state["step"])
        best = state.get("best_val")
        best_scores = dict(state.get("best_scores") or {})
        best_name = ckpt.manifest().get("best")
        extra = state.get("extra") or {}
        if extra:
            n = task.n_envs if hasattr(task, "n_envs") else 0
            task.load_extra_state(
                {k: v[info.rank * n : (info.rank + 1) * n] for k, v in extra.items()}
            )
        log.info("resuming run %s from %s (step %d)", run, entry["file"], start)
    writer = None
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(
            out / "config.yaml",
            yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False).encode(),
        )
        if steps:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(out / "tb"), purge_step=start if resume else None)
    last_name = None

    def save(update: int, val: float | None, is_best: bool) -> str:
        extra = task.extra_state()
        if info.initialized and extra:
            extra = {k: all_gather_cat(info, v.to(info.device)).cpu() for k, v in extra.items()}
        name = f"ckpt-{update:08d}.pt"
        if info.is_main:
            state = {
                "model": model.state_dict(),
                "optimizer": opt.state_dict() if opt is not None else {},
                "scheduler": sched.state_dict() if sched is not None else {},
                "rng": torch.get_rng_state(),
                "step": update,
                "best_val": best,
                "best_scores": best_scores,
                "config": cfg.model_dump(mode="json"),
                "extra": extra,
            }
            ckpt.save(update, state, val=val, best=is_best)
        barrier(info)
        return name

    from pano.progress import track

    val_every, ck_every = cfg.log.val_every, cfg.log.checkpoint_every
    gen = torch.Generator()
    for u in track(range(start, steps), total=steps - start, description=f"train {run}"):
        gen.manual_seed(derive_seed(cfg.seed, u + 1, info.rank))
        torch.manual_seed(derive_seed(cfg.seed + 1, u + 1, info.rank))
        assert opt is not None and sched is not None
        loss, scalars = task.loss(module, u, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip)
        opt.step()
        sched.step()
        done = u + 1
        if writer is not None:
            for k, v in scalars.items():
                writer.add_scalar(k, v, done)
            writer.add_scalar("train/loss", float(loss.detach()), done)
            writer.add_scalar("train/grad_norm", float(gnorm), done)
            writer.add_scalar("train/lr", sched.get_last_lr()[0], done)
        val = None
        is_best = False
        if done % val_every == 0 or done == steps:
            if info.is_main:
                val, vs = task.validate(model)
                if writer is not None:
                    for k, v in vs.items():
                        writer.add_scalar(k, v, done)
                if val is not None and _improved(task, val, best):
                    best, is_best = val, True
                    best_scores = {k: float(v) for k, v in vs.items()}
                log.info(
                    "step %d: %s",
                    done,
                    ", ".join(f"{k}={v:.4g}" for k, v in {**scalars, **vs}.items()),
                )
            barrier(info)
        # Only rank 0 validates: every rank must agree on whether this step saves (save()
        # runs collectives), so rank 0's verdict is sent to all.
        is_best = bool(broadcast_object(info, is_best))
        if done % ck_every == 0 or done == steps or is_best:
            last_name = save(done, val, is_best)
            if is_best:
                best_name = last_name
    if writer is not None:
        writer.close()
    if steps == 0 and not ckpt.has_checkpoint():
        # Nothing to train (a closed-form baseline): one checkpoint so predict-hm works.
        last_name = best_name = save(0, None, True)
    elif start >= steps:
        last_name = ckpt.manifest().get("latest")
    predicted: list[str] = []
    store_changed: StoreChangedError | None = None
    if predict and info.is_main:
        which = "best" if cfg.log.select == "best" and best_name else "latest"
        state, entry = ckpt.load(which)
        model.load_state_dict(state["model"])
        from pano.pipelines.train.predict import write_predictions

        try:
            predicted = write_predictions(
                store, run, cfg, model, entry["file"], info.device, expect=seen
            )
        except StoreChangedError as err:  # checkpoints are kept; summary.json says why
            store_changed = err
    elif info.is_main and seen is not None:
        store_changed = _store_changed(store, seen)
        if store_changed is not None:
            log.warning("%s", store_changed)
    barrier(info)
    secs = time.perf_counter() - t0
    val_videos = [v.name for v in task.data.val]
    if info.is_main:
        summary = {
            "run": run,
            "store": str(store),
            "steps": steps,
            "best_val": best,
            "best_checkpoint": best_name,
            "best_scores": best_scores,
            "val_videos": val_videos,
            "selection": task.selection() if hasattr(task, "selection") else None,
            "upper_bound": _upper_bound_label(cfg),
            "last_checkpoint": last_name,
            "predicted": predicted,
            "seconds": secs,
            "world_size": info.world,
            "store_generation": None if seen is None else seen.to_attrs(),
            "store_changed": None if store_changed is None else str(store_changed),
        }
        atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=1).encode())
    if store_changed is not None and predict:
        raise store_changed
    return TrainResult(
        out,
        steps,
        best,
        best_name,
        last_name,
        predicted,
        secs,
        val_videos=val_videos,
        val_scores=best_scores,
        rank=info.rank,
    )


#: Subfolder of a ``data.folds > 1`` run holding one ordinary run per fold (``fold<k>``).
FOLDS_DIR = "folds"


def fold_config(cfg: TrainConfig, k: int) -> TrainConfig:
    """The config of fold ``k``'s agent: one agent validated on fold ``k`` (``data.val_fold``)."""
    data = cfg.data.model_copy(update={"folds": 1, "val_fold": k})
    return TrainConfig.model_validate({**cfg.model_dump(), "data": data.model_dump()})


def fold_runs(out: Path, cfg: TrainConfig) -> list[Path]:
    """The run folders of a ``data.folds`` run's agents, fold 0 first."""
    return [out / FOLDS_DIR / f"fold{k}" for k in range(cfg.data.folds)]


def _train_folds(
    store: str,
    cfg: TrainConfig,
    run: str,
    runs_dir: Path,
    resume: bool,
    predict: bool,
    info: DistInfo,
    t0: float,
    overwrite: bool,
    seen: Generation | None,
) -> TrainResult:
    """Train one DHP agent per fold (``data.folds``), then predict with all of them.

    Agent ``k`` is an ordinary run in ``<run>/folds/fold<k>`` (its own ``config.yaml``
    with ``data.val_fold: k``, checkpoints and ``summary.json``), trained one after
    another; each chooses its checkpoint on ITS held-out train videos only. ``--resume``
    resumes the agents that have checkpoints and starts the others. Too few train videos
    for the folds, or trained folds without ``--resume``/``--overwrite``, are refused before
    anything is trained or written. The run's own ``config.yaml`` is written once every
    fold is trained and its ``summary.json`` last, so a run whose summary names every fold
    is complete.
    """
    from pano.pipelines.train.data import load_store_data

    out = run_dir_for(runs_dir, run)
    if info.initialized:
        raise ConfigError(
            f"data.folds {cfg.data.folds} trains its agents one after another in one process: "
            "run it without torchrun (or set data.folds to 1)"
        )
    # Before any work or write: the store has every fold, and no fold is trained already.
    try:
        load_store_data(store, fold_config(cfg, cfg.data.folds - 1), need_video=False)
    except StoreError as err:
        raise StoreError(
            f"{err} (data.folds {cfg.data.folds} x data.val_videos {cfg.data.val_videos}: "
            "lower data.folds)"
        ) from None
    trained = [
        f for f in fold_runs(out, cfg) if CheckpointManager(f / "checkpoints").has_checkpoint()
    ]
    if trained and not (resume or overwrite):
        raise CheckpointError(
            f"{out}: run {run!r} already has trained folds ({trained[0].name}, ...); pass "
            "--resume to continue it, --overwrite to train it again from scratch, or choose "
            "another --run name"
        )
    if overwrite:
        _clear_run(out)
    members = []
    for k, folder in enumerate(fold_runs(out, cfg)):
        again = resume and CheckpointManager(folder / "checkpoints").has_checkpoint()
        log.info("fold %d of %d: run folder %s", k + 1, cfg.data.folds, folder)
        mcfg = fold_config(cfg, k)
        res = _train(
            store, mcfg, folder.name, folder.parent, again, False, info, t0, overwrite, seen
        )
        members.append(res)
    # The ensemble's config.yaml (what predict-hm reads) once every fold is trained.
    atomic_write_bytes(
        out / "config.yaml", yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False).encode()
    )
    predicted: list[str] = []
    store_changed: StoreChangedError | None = None
    agents, files = load_fold_agents(out, cfg, info.device)
    if predict:
        from pano.pipelines.train.predict import write_predictions

        try:
            predicted = write_predictions(
                store, run, cfg, agents, ", ".join(files), info.device, expect=seen
            )
        except StoreChangedError as err:
            store_changed = err
    elif seen is not None:
        store_changed = _store_changed(store, seen)
    secs = time.perf_counter() - t0
    vals = [m.best_val for m in members if m.best_val is not None]
    best = sum(vals) / len(vals) if vals and len(vals) == len(members) else None
    val_videos = [v for m in members for v in m.val_videos]
    summary = {
        "run": run,
        "store": str(store),
        "steps": members[0].steps,
        "best_val": best,
        "best_checkpoint": None,
        "selection": f"each of the {len(members)} fold agents: its best validation CC on its "
        "own held-out train videos; best_val is their mean",
        "folds": [
            {
                "fold": k,
                "run_dir": str(m.run_dir),
                "val_videos": m.val_videos,
                "best_val": m.best_val,
                "best_checkpoint": m.best_checkpoint,
                "val_scores": m.val_scores,
            }
            for k, m in enumerate(members)
        ],
        "val_videos": val_videos,
        "predicted": predicted,
        "seconds": secs,
        "world_size": 1,
        "store_generation": None if seen is None else seen.to_attrs(),
        "store_changed": None if store_changed is None else str(store_changed),
    }
    atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=1).encode())
    if store_changed is not None and predict:
        raise store_changed
    return TrainResult(
        out, members[0].steps, best, None, None, predicted, secs, val_videos=val_videos,
        fold_checkpoints=files,
    )  # fmt: skip


def load_fold_agents(
    out: Path, cfg: TrainConfig, device: torch.device
) -> tuple[list[DHPAgent], list[str]]:
    """Every fold agent of run folder ``out`` at its chosen (``log.select``) checkpoint.

    Returns:
        The agents, fold 0 first, and the checkpoint file each was loaded from.

    Raises:
        CheckpointError: a fold has no complete checkpoint (train it with ``--resume``).

    """
    from pano.pipelines.train.rl import make_agent

    agents, files = [], []
    for folder in fold_runs(out, cfg):
        state, entry = CheckpointManager(folder / "checkpoints").load(
            "best" if cfg.log.select == "best" else "latest"
        )
        agent = make_agent(cfg).to(device)
        agent.load_state_dict(state["model"])
        agents.append(agent)
        files.append(str(folder / "checkpoints" / entry["file"]))
    return agents, files


def _store_changed(store: str, seen: Generation) -> StoreChangedError | None:
    """Why the store is no longer the one trained on (generation ``seen``), or None."""
    from pano.stores.generation import check_unchanged

    try:
        check_unchanged(store, seen, "the model was trained on the earlier data")
    except StoreChangedError as err:
        return err
    return None


def predict_hm(
    store: str,
    run: str,
    runs_dir: str | Path = "runs",
    device: str = "auto",
    which: str | None = None,
    online: bool = False,
    overrides: list[str] | None = None,
) -> list[str]:
    """Write predictions of a trained run (its ``config.yaml`` and best/last checkpoint).

    With ``online`` (a DHP run only) it scores online-DHP beside offline DHP instead
    (:mod:`pano.pipelines.train.online`) and writes ``results/<run>_online``; the returned
    list then holds that group's name. ``overrides`` (``key=value``) may change
    ``predict.*`` and ``online.*`` only.

    Raises:
        CheckpointError: the run has no complete checkpoint.
        ConfigError: the run has no readable config.

    """
    from pano.config import load_config
    from pano.device import resolve_device
    from pano.pipelines.train.predict import write_predictions
    from pano.stores.preflight import check_store_location

    check_store_location(store, write=True, groups=(PREDICTIONS_GROUP,))
    out = run_dir_for(runs_dir, run)
    cfg_path = out / "config.yaml"
    if not cfg_path.is_file():
        raise CheckpointError(
            f"{out}: no trained run here (no config.yaml); run `pano train-hm` first"
        )
    over = list(overrides or [])
    bad = [o for o in over if not o.split("=", 1)[0].startswith(("predict.", "online."))]
    if bad:
        raise ConfigError(f"predict-hm --set may change predict.* and online.* only, not {bad}")
    cfg = load_config(TrainConfig, cfg_path, overrides=over)
    if online and not isinstance(cfg.model, DHPModel):
        raise ConfigError(
            f"{cfg_path}: --online needs a DHP run (model.kind dhp), this run is {cfg.model.kind!r}"
        )
    dev = resolve_device(device)
    if cfg.data.folds > 1:  # one agent per fold: all of them, each at its chosen checkpoint
        if which not in (None, "best" if cfg.log.select == "best" else "latest"):
            raise ConfigError(
                f"{out}: a data.folds run predicts with each fold agent's chosen "
                f"({cfg.log.select}) checkpoint; drop --checkpoint {which}, or predict with "
                f"one agent: --runs-dir {out / FOLDS_DIR} --run fold0"
            )
        agents, files = load_fold_agents(out, cfg, dev)
        label = ", ".join(files)
        if online:
            from pano.pipelines.train.online import write_online_results

            name, _ = write_online_results(store, run, cfg, agents, label, dev)
            return [name]
        return write_predictions(store, run, cfg, agents, label, dev)
    ckpt = CheckpointManager(out / "checkpoints")
    chosen = which is not None  # named by the user: that one or an error, never another
    which = which or ("best" if cfg.log.select == "best" else "latest")
    state, entry = ckpt.load(which, strict=chosen)
    model = build_for_config(cfg).to(dev)
    model.load_state_dict(state["model"])
    if online:
        from pano.models.dhp import DHPAgent
        from pano.pipelines.train.online import write_online_results

        assert isinstance(model, DHPAgent)

        name, _ = write_online_results(store, run, cfg, model, entry["file"], dev)
        return [name]
    return write_predictions(store, run, cfg, model, entry["file"], dev)


def build_for_config(cfg: TrainConfig) -> nn.Module:
    """The (untrained) model a config describes."""
    if isinstance(cfg.model, DHPModel):
        from pano.pipelines.train.rl import make_agent

        return make_agent(cfg)
    from pano.pipelines.train.supervised import make_forecaster

    return make_forecaster(cfg)
