"""Score a DHP run's checkpoints on chosen splits: reward, heatmap CC / KLD, peak distance.

For every checkpoint of ``RUN_DIR`` (or ``--checkpoints``) and every video of the splits
named (the train split includes the validation video; never pass ``test`` to CHOOSE
anything), ``--rollouts`` stochastic rollouts from the subjects' first samples (as
``pano predict-hm``) give: the mean DHP reward per step against all subjects (the action
of each move is read back from the move), the plain heatmap CC, the sphere KLD (with the
run's ``predict.floor``) and the mean great-circle distance between the predicted and the
ground-truth heatmap peaks.

    python benchmarks/dhp_agent_eval.py STORE RUN_DIR [--split train] [--rollouts 58]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from pano.config import load_config
from pano.models.dhp import N_ACTIONS, dhp_reward, movement_angle_deg
from pano.pipelines.train.checkpoint import CheckpointManager
from pano.pipelines.train.config import TrainConfig
from pano.pipelines.train.data import FrameBank, load_split_videos
from pano.pipelines.train.rl import (
    latitude_prior,
    luma_only,
    make_agent,
    make_sampler,
    pearson_cc,
    rollout_heatmaps,
    rollout_video,
)
from pano.stores import open_video, read_root_attrs

try:
    from benchmarks.dhp_diagnose import peak_distance
except ImportError:  # run as a script
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from dhp_diagnose import peak_distance  # type: ignore[no-redef]


def main() -> None:
    from pano.metrics.saliency import kld

    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--split", default="train")
    ap.add_argument("--rollouts", type=int, default=58)
    ap.add_argument("--checkpoints", default="", help="comma list of file names (default all)")
    ap.add_argument(
        "--floors",
        default="",
        help="comma list of predict.floor values: KLD of each (choose "
        "the floor on the validation video, never on test)",
    )
    ap.add_argument(
        "--latitude-floors",
        default="",
        help="comma list of floors spread by the latitude prior (predict.floor_prior: "
        "latitude) fitted on the train split WITHOUT the scored videos: KLD, CC of each",
    )
    ap.add_argument("--videos", default="", help="comma list: only these videos of the split")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = load_config(TrainConfig, args.run_dir / "config.yaml")
    videos = load_split_videos(args.store, cfg, args.split, need_video=True)
    if args.videos:
        videos = [v for v in videos if v.name in args.videos.split(",")]
    hp = read_root_attrs(args.store).heatmap
    bank = FrameBank(
        videos,
        [v.step_frame for v in videos],
        cfg.data.frame_width,
        luma_only(cfg),
        torch.device("cpu"),
        "auto",
    )
    sampler = make_sampler(cfg)
    prior = None
    if args.latitude_floors:
        scored = {v.name for v in videos}
        fit_on = [v for v in read_root_attrs(args.store).splits.train if v not in scored]
        print(f"latitude prior fitted on {fit_on}")
        prior = latitude_prior(args.store, fit_on, hp)
    ckdir = args.run_dir / "checkpoints"
    names = (
        args.checkpoints.split(",")
        if args.checkpoints
        else sorted(p.name for p in ckdir.glob("ckpt-*.pt"))
    )
    mgr = CheckpointManager(ckdir)
    gts = {}
    for v in videos:
        ds = open_video(args.store, v.name)
        gts[v.name] = (
            torch.from_numpy(np.asarray(ds["heatmap"].values, np.float64)),
            ds["lat"].values,
            ds["lon"].values,
        )
    for name in names:
        state, _ = mgr.load(name, strict=True)
        agent = make_agent(cfg)
        agent.load_state_dict(state["model"])
        for v in videos:
            gen = torch.Generator().manual_seed(1)
            pos = rollout_video(
                agent, sampler, bank, v, args.rollouts, gen, torch.device("cpu")
            ).float()
            scan = torch.from_numpy(v.scan_xyz).float()
            rs = []
            for t in range(pos.shape[0] - 1):
                ang = movement_angle_deg(pos[t], pos[t + 1])
                act = torch.remainder(torch.round(ang / (360.0 / N_ACTIONS)), N_ACTIONS).long()
                n = pos.shape[1]
                r, _ = dhp_reward(
                    pos[t + 1],
                    act,
                    scan[t][None].expand(n, -1, -1),
                    scan[t + 1][None].expand(n, -1, -1),
                )
                rs.append(float(r.mean()))
            gt, lat, lon = gts[v.name]
            maps = rollout_heatmaps(pos.double(), hp, cfg.predict.floor)
            cc = float(pearson_cc(maps, gt).mean())
            kl = float(np.nanmean(kld(maps.numpy(), gt.numpy(), "sphere")))
            pdist = peak_distance(maps, gt, lat, lon)
            print(
                f"{name} {v.name:18s} reward/step {np.mean(rs):.3f}  CC {cc:.3f}  KLD {kl:.2f}  "
                f"peak dist {pdist:5.1f} deg",
                flush=True,
            )
            for fl in [float(x) for x in args.floors.split(",") if x]:
                m = rollout_heatmaps(pos.double(), hp, fl).numpy()
                k_fl = float(np.nanmean(kld(m, gt.numpy(), "sphere")))
                print(f"    floor {fl:g}: KLD {k_fl:.3f}")
            for fl in [float(x) for x in args.latitude_floors.split(",") if x]:
                mt = rollout_heatmaps(pos.double(), hp, fl, prior)
                k_fl = float(np.nanmean(kld(mt.numpy(), gt.numpy(), "sphere")))
                c_fl = float(pearson_cc(mt, gt).mean())
                print(f"    latitude floor {fl:g}: KLD {k_fl:.3f}  CC {c_fl:.3f}")


if __name__ == "__main__":
    main()
