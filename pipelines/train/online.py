"""``pano predict-hm --online``: online-DHP per subject, scored beside offline DHP.

For every test video and subject (:mod:`pano.models.online_dhp`): at each ground-truth
step ``t`` the agent is put at the subject's TRUE direction, sees the viewport of frame
``t`` there and predicts the direction at ``t+1``; the online model then adapts on the
true step before the next prediction. Three predictors are scored on exactly the same
steps, one step ahead:

* ``offline``: the trained DHP agent, greedy, never updated (DHP's offline model in the
  same one-step protocol);
* ``online``: its per-subject online-adapted copy (online-DHP);
* ``no_motion``: the subject's current direction (the protocol is nearly saturated - DHP's
  paper reports MO 0.753 for online-DHP while no-motion gets ~0.97 there; always shown).

Scores per (model, video, subject, step): DHP's mean overlap (``mo_dhp``,
:func:`pano.metrics.hm.mean_overlap_dhp`: 32.75 deg x 0.75 boxes, intersection over one box)
and the orthodromic error in degrees. They are written as ``results/<run>_online`` (the
store's results groups, where ``pano eval`` writes), with per-subject means
``mo_dhp_subject`` / ``orthodromic_deg_subject`` ``(model, video, subject)``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from pano.models.dhp import DHPAgent
from pano.models.online_dhp import OnlineDHP
from pano.pipelines.train.config import TrainConfig
from pano.pipelines.train.data import FrameBank, VideoData
from pano.pipelines.train.rl import luma_only, observe

log = logging.getLogger("pano.train")

#: The predictors scored, in order (the ``model`` coordinate of the results).
ONLINE_MODELS = ("offline", "online", "no_motion")


@dataclass
class OnlineVideoScores:
    """One video's one-step-ahead predictions and scores."""

    name: str
    subjects: np.ndarray  # (S,) subject ids
    pred: np.ndarray  # (3 models, S, T, 3) predicted direction at step t (t >= 1), NaN else
    mo: np.ndarray  # (3, S, T) DHP mean overlap at step t (NaN where not scored)
    err: np.ndarray  # (3, S, T) orthodromic error, degrees


def online_video(
    agent: DHPAgent | list[DHPAgent],
    sampler: Any,
    bank: FrameBank,
    video: VideoData,
    cfg: TrainConfig,
    device: torch.device,
) -> OnlineVideoScores:
    """Offline, online and no-motion one-step predictions for every subject of ``video``.

    A list of agents (``data.folds``) is an ensemble: each agent is run (and, online,
    adapted) on its own and the offline and online predictions are the normalised mean of
    the agents' predicted unit vectors.
    """
    from pano.metrics.hm import mean_overlap_dhp, orthodromic_deg

    agents = agent if isinstance(agent, list) else [agent]
    preds = [_predict_video(a, sampler, bank, video, cfg, device) for a in agents]
    subjects, pred = preds[0][0], preds[0][1].copy()
    if len(preds) > 1:
        mean = np.mean([p[:2] for _, p in preds], axis=0)  # offline, online
        pred[:2] = mean / np.linalg.norm(mean, axis=-1, keepdims=True)
    scan = video.scan_xyz
    gt = np.broadcast_to(scan[:, subjects].transpose(1, 0, 2)[None], pred.shape)
    ok = ~(np.isnan(pred).any(-1) | np.isnan(gt).any(-1))
    mo = np.full(pred.shape[:-1], np.nan)
    err = np.full(pred.shape[:-1], np.nan)
    mo[ok] = mean_overlap_dhp(pred[ok], gt[ok])
    err[ok] = orthodromic_deg(pred[ok], gt[ok])
    return OnlineVideoScores(video.name, video.subjects[subjects], pred, mo, err)


def _predict_video(
    agent: DHPAgent,
    sampler: Any,
    bank: FrameBank,
    video: VideoData,
    cfg: TrainConfig,
    device: torch.device,
) -> tuple[list[int], np.ndarray]:
    """One agent's scored subjects and predictions ``(3 models, S, T, 3)`` (NaN unscored)."""
    oc = cfg.online
    scan = video.scan_xyz  # (T, S, 3) float64, NaN = missing
    t_n, s_n, _ = scan.shape
    subjects = (
        list(range(s_n)) if oc.max_subjects is None else list(range(min(s_n, oc.max_subjects)))
    )
    rows = torch.from_numpy(bank.rows(video, video.step_frame)).to(device)
    pred = np.full((len(ONLINE_MODELS), len(subjects), t_n, 3), np.nan)
    agent.eval()
    for j, s in enumerate(subjects):
        torch.manual_seed(cfg.seed + 7919 * j)
        online = OnlineDHP(
            agent, lr=oc.lr, iters=oc.iters, window=oc.window, sigma_deg=cfg.rl.sigma_deg
        )
        off_state = agent.initial_state(1, device)
        for t in range(t_n - 1):
            p, q = scan[t, s], scan[t + 1, s]
            if np.isnan(p).any():
                continue
            pos = torch.from_numpy(p).float().to(device)
            two = agent.channels != bank.channels  # model.frames: 2
            prev = rows[max(t - 1, 0) : max(t - 1, 0) + 1] if two else None
            view = observe(sampler, bank, pos[None], rows[t : t + 1], prev)
            with torch.no_grad():
                logits, _, speed, off_state = agent(view, off_state, pos[None])
                from pano.models.dhp import move

                off = move(pos[None], logits.argmax(-1), speed)[0]
            pred[0, j, t + 1] = off.double().cpu().numpy()
            pred[1, j, t + 1] = online.predict(view, pos).double().cpu().numpy()
            pred[2, j, t + 1] = p
            if not np.isnan(q).any():
                online.update(view, pos, torch.from_numpy(q).float().to(device))
    return subjects, pred


def online_results(scores: list[OnlineVideoScores], attrs: dict[str, Any]) -> Any:
    """The results dataset of :func:`online_video`'s scores (padded to the longest video)."""
    import xarray as xr

    m = len(ONLINE_MODELS)
    s_max = max(len(v.subjects) for v in scores)
    t_max = max(v.mo.shape[-1] for v in scores)
    mo = np.full((m, len(scores), s_max, t_max), np.nan)
    err = np.full_like(mo, np.nan)
    subj = np.full((len(scores), s_max), -1, dtype=np.int64)
    for i, v in enumerate(scores):
        s, t = v.mo.shape[1:]
        mo[:, i, :s, :t] = v.mo
        err[:, i, :s, :t] = v.err
        subj[i, :s] = v.subjects
    with np.errstate(invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mo_s = np.nanmean(mo, -1)
            err_s = np.nanmean(err, -1)
    dims = ("model", "video", "subject", "step")
    return xr.Dataset(
        {
            "mo_dhp": (dims, mo, {"long_name": "DHP mean overlap, one step ahead"}),
            "orthodromic_deg": (dims, err, {"units": "degrees"}),
            "mo_dhp_subject": (dims[:3], mo_s, {"long_name": "per-subject mean of mo_dhp"}),
            "orthodromic_deg_subject": (dims[:3], err_s, {"units": "degrees"}),
            "subject_id": (("video", "subject"), subj),
        },
        coords={
            "model": np.array(ONLINE_MODELS, dtype=object),
            "video": np.array([v.name for v in scores], dtype=object),
            "subject": np.arange(s_max),
            "step": np.arange(t_max),
        },
        attrs=attrs,
    )


def summarize_online(ds: Any) -> dict[str, float]:
    """Per-model means over subjects (each subject's own mean first) and the online wins.

    ``online_beats_offline_share`` is the share of subjects whose online MO is higher than
    their offline MO; ``subjects`` the number of subjects scored.
    """
    mo = np.asarray(ds["mo_dhp_subject"].values)  # (model, video, subject)
    err = np.asarray(ds["orthodromic_deg_subject"].values)
    out: dict[str, float] = {}
    for i, m in enumerate(ds["model"].values):
        out[f"mo_{m}"] = float(np.nanmean(mo[i]))
        out[f"err_{m}"] = float(np.nanmean(err[i]))
    ok = ~(np.isnan(mo[0]) | np.isnan(mo[1]))
    out["online_beats_offline_share"] = float(np.mean(mo[1][ok] > mo[0][ok])) if ok.any() else 0.0
    out["subjects"] = float(ok.sum())
    return out


def write_online_results(
    location: str,
    run: str,
    cfg: TrainConfig,
    agent: DHPAgent | list[DHPAgent],
    checkpoint: str | None,
    device: torch.device,
    overwrite: bool = True,
) -> tuple[str, dict[str, float]]:
    """Score online-DHP on ``cfg.predict.split`` and write ``results/<run>_online``.

    ``agent`` may be a list (the fold agents of a ``data.folds`` run): see
    :func:`online_video`.

    Returns:
        The results group's name and :func:`summarize_online`'s figures.

    """
    from pano._version import __version__
    from pano.pipelines.train.data import load_split_videos
    from pano.pipelines.train.rl import make_sampler
    from pano.stores.lock import store_write_lock
    from pano.stores.names import validate_name
    from pano.stores.results import write_results

    name = f"{run}_online"
    validate_name(name, "results name")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    videos = load_split_videos(location, cfg, cfg.predict.split, need_video=True)
    bank = FrameBank(
        videos,
        [v.step_frame for v in videos],
        cfg.data.frame_width,
        luma_only(cfg),
        device,
        cfg.data.decode_backend,
    )
    sampler = make_sampler(cfg)
    scores = [online_video(agent, sampler, bank, v, cfg, device) for v in videos]
    attrs = {
        "kind": "online_dhp",
        "protocol": "one ground-truth step ahead from the subject's true direction (DHP's "
        "online-DHP); online adapts per subject on each true step",
        "run": run,
        "checkpoint": checkpoint or "",
        "agents": len(agent) if isinstance(agent, list) else 1,
        "split": cfg.predict.split,
        "online": cfg.online.model_dump(mode="json"),
        "pano_version": __version__,
    }
    ds = online_results(scores, attrs)
    summary = summarize_online(ds)
    ds.attrs["summary"] = summary
    with store_write_lock(location, command=f"pano predict-hm --online --run {run}"):
        write_results(location, name, ds, overwrite=overwrite)
    log.info("online-DHP %s: %s", name, summary)
    return name, summary
