"""Online-DHP settings scored on the VALIDATION videos of a DHP run (never the test split).

    python benchmarks/dhp_online_tune.py STORE RUN_DIR --grid "lr=1e-3,window=1;lr=3e-3,window=8"

Prints, per setting, the per-subject mean overlap (DHP) and orthodromic error of offline
DHP, online-DHP and no-motion, one ground-truth step ahead (:mod:`pano.pipelines.train.online`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from pano.config import load_config
from pano.pipelines.train.checkpoint import CheckpointManager
from pano.pipelines.train.config import TrainConfig
from pano.pipelines.train.data import FrameBank, load_store_data
from pano.pipelines.train.online import online_results, online_video, summarize_online
from pano.pipelines.train.rl import luma_only, make_agent, make_sampler


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--grid", default="lr=1e-3,window=1,iters=1")
    ap.add_argument("--checkpoint", default="best")
    args = ap.parse_args()
    torch.set_num_threads(1)
    base = load_config(TrainConfig, args.run_dir / "config.yaml")
    data = load_store_data(args.store, base, need_video=True)
    videos = data.val
    bank = FrameBank(
        videos,
        [v.step_frame for v in videos],
        base.data.frame_width,
        luma_only(base),
        torch.device("cpu"),
        "auto",
    )
    state, entry = CheckpointManager(args.run_dir / "checkpoints").load(args.checkpoint)
    agent = make_agent(base)
    agent.load_state_dict(state["model"])
    sampler = make_sampler(base)
    print(f"validation videos {[v.name for v in videos]}, checkpoint {entry['file']}")
    for setting in args.grid.split(";"):
        over = [f"online.{kv.strip()}" for kv in setting.split(",") if kv.strip()]
        cfg = load_config(TrainConfig, args.run_dir / "config.yaml", overrides=over)
        t = time.perf_counter()
        scores = [online_video(agent, sampler, bank, v, cfg, torch.device("cpu")) for v in videos]
        s = summarize_online(online_results(scores, {}))
        print(
            f"{setting:32s} MO offline {s['mo_offline']:.3f} online {s['mo_online']:.3f} "
            f"no-motion {s['mo_no_motion']:.3f} | err offline {s['err_offline']:.2f} online "
            f"{s['err_online']:.2f} no-motion {s['err_no_motion']:.2f} | online > offline for "
            f"{100 * s['online_beats_offline_share']:.0f}% of {int(s['subjects'])} subjects "
            f"({time.perf_counter() - t:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
