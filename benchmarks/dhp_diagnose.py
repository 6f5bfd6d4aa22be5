"""Diagnostics of the DHP agent's task on a pano store: what reward and heatmap a policy CAN get.

Measures, one thing at a time, on the TRAIN split (and the validation video) of a store:

1. reward per step of hand-written policies run as DHP runs the agent (start at a random
   subject's first sample, one move per ground-truth step, reward against all subjects):
   ``still`` (step 0), ``random`` (uniform direction, the subjects' mean speed),
   ``greedy`` (the direction and speed that maximise the immediate reward: an oracle that
   reads the subjects), ``mean_motion`` (the subjects' mean movement direction and speed,
   an oracle), and ``target`` (moves toward the nearest synthetic target seen in the
   frame, read from the synthetic ``manifest.json``: what a policy that only LOOKS could do);
2. for each, the heatmap CC (plain, DHP's) of its rollouts against the ground truth and
   the great-circle distance between the predicted and the true heatmap peaks;
3. the signal-to-noise of the policy gradient for the random policy: the correlation
   between the advantage estimate (GAE with gamma, lambda; a constant baseline) and the
   immediate action quality (reward of the taken action minus the mean over the 8
   actions), for DHP's gamma 0.99 / lambda 1 and smaller values;
4. how visible the targets are in the agent's 42x42 luma viewport (contrast of the disc
   against its surround, in units of the viewport's standard deviation).

    python benchmarks/dhp_diagnose.py STORE MANIFEST_DIR [--rollouts 58]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch

from pano.geometry import lonlat_to_vec, vec_to_lonlat
from pano.heatmaps import heatmaps_for
from pano.metrics.saliency import kld
from pano.models.dhp import N_ACTIONS, dhp_reward, move, movement_angle_deg
from pano.models.sphere import angle_between
from pano.pipelines.train.config import DHPModel, TrainConfig
from pano.pipelines.train.data import FrameBank, load_split_videos
from pano.pipelines.train.rl import make_sampler, pearson_cc, render
from pano.stores import open_video, read_root_attrs

FLOORS = (0.0, 0.01, 0.05, 0.1, 0.2, 0.3)


def with_floor(maps: torch.Tensor, w: float) -> torch.Tensor:
    """Mix sum-normalised maps with a uniform map of mass ``w``, renormalise to max 1."""
    m = maps / maps.sum((1, 2), keepdim=True).clamp_min(1e-300)
    m = (1 - w) * m + w / (maps.shape[1] * maps.shape[2])
    return m / m.amax((1, 2), keepdim=True)


def _targets(manifest_dir: Path) -> dict[str, np.ndarray]:
    """Per video: targets' unit vectors per frame ``(F, K, 3)``."""
    man = json.loads((manifest_dir / "manifest.json").read_text())
    out = {}
    for v in man["videos"]:
        lon = np.array([t["lon"] for t in v["targets"]]).T  # (F, K)
        lat = np.array([t["lat"] for t in v["targets"]]).T
        out[v["name"]] = lonlat_to_vec(lon, lat)
    return out


def _bin(angle_deg: torch.Tensor) -> torch.Tensor:
    return torch.remainder(torch.round(angle_deg / (360.0 / N_ACTIONS)), N_ACTIONS).long()


def run_policy(name: str, video, targets: np.ndarray | None, n: int, gen: torch.Generator):
    """Roll ``n`` agents over ``video`` with a hand-written policy: positions, rewards."""
    scan = torch.from_numpy(video.scan_xyz).float()  # (T, S, 3)
    steps = scan.shape[0]
    first = scan[0]
    ok = ~torch.isnan(first).any(-1)
    pos = first[torch.multinomial(ok.float(), n, replacement=True, generator=gen)]
    out = [pos.double()]
    rewards = []
    quality = []
    for t in range(steps - 1):
        now = scan[t][None].expand(n, -1, -1)
        nxt = scan[t + 1][None].expand(n, -1, -1)
        valid = ~(torch.isnan(now).any(-1) | torch.isnan(nxt).any(-1))
        sp = torch.rad2deg(angle_between(torch.nan_to_num(now), torch.nan_to_num(nxt), eps=0.0))
        mean_speed = (sp * valid).sum(-1) / valid.sum(-1).clamp_min(1)
        # immediate reward of every action at the mean speed
        all_r = torch.stack(
            [
                dhp_reward(
                    move(pos, torch.full((n,), a), mean_speed), torch.full((n,), a), now, nxt
                )[0]
                for a in range(N_ACTIONS)
            ],
            -1,
        )
        if name == "still":
            action, speed = torch.zeros(n, dtype=torch.long), torch.zeros(n)
        elif name == "random":
            action = torch.randint(N_ACTIONS, (n,), generator=gen)
            speed = mean_speed
        elif name == "greedy":
            action, speed = all_r.argmax(-1), mean_speed
        elif name == "mean_motion":
            # subjects' mean displacement, transported to the agent as a screen angle
            d = torch.nan_to_num(nxt - now) * valid[..., None]
            target = pos + d.sum(1) / valid.sum(-1).clamp_min(1)[:, None]
            action = _bin(movement_angle_deg(pos, target))
            speed = mean_speed
        elif name == "target":
            assert targets is not None
            f = int(video.step_frame[t])
            tg = torch.from_numpy(targets[min(f, len(targets) - 1)]).float()  # (K, 3)
            dist = torch.rad2deg(
                angle_between(
                    pos[:, None].expand(-1, len(tg), -1), tg[None].expand(n, -1, -1), eps=0.0
                )
            )
            k = dist.argmin(-1)
            goal = tg[k]
            action = _bin(movement_angle_deg(pos, goal))
            speed = torch.minimum(dist.min(-1).values, torch.full((n,), 15.0))
        else:
            raise ValueError(name)
        new = move(pos, action, speed)
        r, _ = dhp_reward(new, action, now, nxt)
        rewards.append(r)
        quality.append(all_r.gather(1, action[:, None]).squeeze(1) - all_r.mean(-1))
        pos = new
        out.append(pos.double())
    return torch.stack(out), torch.stack(rewards, 1), torch.stack(quality, 1)


def gae_snr(
    rew: torch.Tensor, quality: torch.Tensor, gamma: float, lam: float, rollout: int = 20
) -> float:
    """corr(advantage, immediate action quality) over 20-step segments, constant baseline."""
    n, t = rew.shape
    base = rew.mean()
    advs, qs = [], []
    for s in range(0, t - rollout, rollout):
        r = rew[:, s : s + rollout] - base * (1 - gamma)  # constant V = base / (1 - gamma)
        a = torch.zeros_like(r)
        prev = torch.zeros(n)
        for i in reversed(range(rollout)):
            prev = a[:, i] = r[:, i] + gamma * lam * prev
        advs.append(a.flatten())
        qs.append(quality[:, s : s + rollout].flatten())
    a = torch.cat(advs)
    q = torch.cat(qs)
    return float(torch.corrcoef(torch.stack([a, q]))[0, 1])


def peak_distance(pred: torch.Tensor, gt: torch.Tensor, lat: np.ndarray, lon: np.ndarray) -> float:
    """Mean great-circle distance (deg) between the per-step argmax pixels."""
    ds = []
    for p, g in zip(pred, gt, strict=True):
        ip = np.unravel_index(int(torch.argmax(p)), p.shape)
        ig = np.unravel_index(int(torch.argmax(g)), g.shape)
        a = lonlat_to_vec(lon[ip[1]], lat[ip[0]])
        b = lonlat_to_vec(lon[ig[1]], lat[ig[0]])
        ds.append(math.degrees(math.acos(float(np.clip(np.dot(a, b), -1, 1)))))
    return float(np.mean(ds))


def visibility(store: str, videos, targets: dict[str, np.ndarray]) -> None:
    cfg = TrainConfig.model_validate({"model": DHPModel.model_validate({}).model_dump()})
    bank = FrameBank(videos, [v.step_frame for v in videos], 256, True, torch.device("cpu"), "auto")
    sampler = make_sampler(cfg)
    rng = np.random.default_rng(0)
    for v in videos:
        tg = targets[v.name]
        rows = bank.rows(v, v.step_frame)
        cons = []
        for t in range(0, len(rows), 5):
            f = int(v.step_frame[t])
            for k in range(tg.shape[1]):
                c = tg[f, k]
                # viewport centred 0-40 deg away from the target (as a head near it sees it)
                lon, lat = vec_to_lonlat(c)
                lon = lon + rng.uniform(-30, 30)
                lat = float(np.clip(lat + rng.uniform(-20, 20), -80, 80))
                view = render(
                    sampler, bank, torch.tensor([lonlat_to_vec(lon, lat)]), torch.tensor([rows[t]])
                )[0, 0]
                # project the target into the view: pixel of the target centre
                g = sampler  # noqa: F841
                # measure on the ERP frame instead: disc vs ring luma
                frame = bank.frames[rows[t], 0]
                h, w = frame.shape
                glon, glat = vec_to_lonlat(c)
                x = int(((180.0 - glon) / 360.0) * w) % w
                y = int(np.clip((90.0 - glat) / 180.0 * h, 0, h - 1))
                r = max(1, int(6 / 360 * w))
                ys = slice(max(0, y - r), min(h, y + r + 1))
                inner = frame[ys, [(x + i) % w for i in range(-r, r + 1)]].mean()
                rr = 3 * r
                ys2 = slice(max(0, y - rr), min(h, y + rr + 1))
                outer = frame[ys2, [(x + i) % w for i in range(-rr, rr + 1)]]
                cons.append(float((inner - outer.mean()) / (view.std() + 1e-6)))
        cons = np.array(cons)
        print(
            f"  {v.name}: target luma contrast (disc - surround) / viewport std: "
            f"median {np.median(cons):+.2f}, |.| median {np.median(np.abs(cons)):.2f}, "
            f"share with |contrast| < 0.5: {np.mean(np.abs(cons) < 0.5):.2f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("manifest_dir", type=Path)
    ap.add_argument("--rollouts", type=int, default=58)
    ap.add_argument("--split", default="train")
    ap.add_argument("--no-visibility", action="store_true")
    ap.add_argument("--policies", default="still,random,mean_motion,greedy,target")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = TrainConfig.model_validate({"model": {"kind": "dhp"}})
    videos = load_split_videos(args.store, cfg, args.split, need_video=True)
    hp = read_root_attrs(args.store).heatmap
    targets = _targets(args.manifest_dir)
    gen = torch.Generator().manual_seed(0)
    print(f"store {args.store}, split {args.split}: {[v.name for v in videos]}")
    for pol in args.policies.split(","):
        rs, ccs, pds, snr = [], [], [], {}
        kl_floor: dict[float, list[float]] = {}
        rew_all, q_all = [], []
        for v in videos:
            pos, rew, q = run_policy(pol, v, targets[v.name], args.rollouts, gen)
            gt_ds = open_video(args.store, v.name)
            gt = torch.from_numpy(np.asarray(gt_ds["heatmap"].values, dtype=np.float64))
            pred = heatmaps_for(pos, hp)
            ccs.append(float(pearson_cc(pred, gt).mean()))
            if pol in ("random", "target"):
                for w in FLOORS:
                    kl_floor.setdefault(w, []).append(
                        float(np.mean(kld(with_floor(pred, w).numpy(), gt.numpy(), "sphere")))
                    )
            pds.append(peak_distance(pred, gt, gt_ds["lat"].values, gt_ds["lon"].values))
            rs.append(float(rew.mean()))
            rew_all.append(rew)
            q_all.append(q)
        line = (
            f"{pol:12s} reward/step {np.mean(rs):.3f}  heatmap CC {np.mean(ccs):.3f}  "
            f"peak dist {np.mean(pds):5.1f} deg"
        )
        if pol == "random":
            for g, lam in ((0.99, 1.0), (0.9, 1.0), (0.5, 1.0), (0.0, 1.0)):
                snr[(g, lam)] = np.mean(
                    [gae_snr(r, q, g, lam) for r, q in zip(rew_all, q_all, strict=True)]
                )
            line += "  corr(adv, action quality): " + ", ".join(
                f"g{g:g}/l{lam:g} {s:.3f}" for (g, lam), s in snr.items()
            )
        if kl_floor:
            line += "  KLD(sphere) by uniform floor: " + ", ".join(
                f"{w:g}: {np.mean(v):.2f}" for w, v in kl_floor.items()
            )
        print(line, flush=True)
    if not args.no_visibility:
        visibility(args.store, videos, targets)


if __name__ == "__main__":
    main()
