"""Does DHP's immediate reward point at the target? Measured on a store's TRAIN split.

Agents are put at a random valid subject's position at a random ground-truth step, moved
``offset`` degrees in a random direction, and every one of the 8 actions is scored with
DHP's reward against all subjects (:func:`pano.models.dhp.all_action_rewards`, the
subjects' mean speed as the step). Printed per offset: the share of states where the best
action is the one toward the nearest synthetic target (read from the synthetic
``manifest.json``), the share where it is within 45 degrees of it, and the reward gain over
the mean of the 8 actions of the toward-target action and of the best action.

    python benchmarks/dhp_signal.py STORE MANIFEST_DIR [--config pipelines/configs/dhp.yaml]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from pano.config import load_config
from pano.models.dhp import all_action_rewards, move, movement_angle_deg
from pano.models.sphere import angle_between
from pano.pipelines.train.config import TrainConfig
from pano.pipelines.train.data import load_split_videos

try:
    from benchmarks.dhp_diagnose import _bin, _targets
except ImportError:  # run as a script
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from dhp_diagnose import _bin, _targets  # type: ignore[no-redef]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("manifest_dir", type=Path)
    ap.add_argument("--config", default="pipelines/configs/dhp.yaml")
    ap.add_argument("--agents", type=int, default=64, help="agents per (video, step)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = load_config(TrainConfig, args.config)
    vids = load_split_videos(args.store, cfg, "train", need_video=False)
    targets = _targets(args.manifest_dir)
    gen = torch.Generator().manual_seed(0)
    n = args.agents
    for off in (0, 10, 20, 40, 60):
        rows = []
        for v in vids:
            scan = torch.from_numpy(v.scan_xyz).float()
            tg = targets[v.name]
            for t in range(scan.shape[0] - 1):
                now, nxt = scan[t], scan[t + 1]
                ok = ~(torch.isnan(now).any(-1) | torch.isnan(nxt).any(-1))
                if int(ok.sum()) == 0:
                    continue
                base = now[ok][torch.randint(int(ok.sum()), (n,), generator=gen)]
                dirs = torch.randint(8, (n,), generator=gen)
                pos = move(base, dirs, torch.full((n,), float(off))) if off else base
                sp = torch.rad2deg(angle_between(now[ok], nxt[ok], eps=0.0)).mean()
                r = all_action_rewards(
                    pos,
                    torch.full((n,), float(sp)),
                    now[None].expand(n, -1, -1),
                    nxt[None].expand(n, -1, -1),
                    cfg.rl.sigma_deg,
                )
                f = min(int(v.step_frame[t]), len(tg) - 1)
                tt = torch.from_numpy(tg[f]).float()
                d = angle_between(
                    pos[:, None].expand(-1, len(tt), -1), tt[None].expand(n, -1, -1), eps=0.0
                )
                toward = _bin(movement_angle_deg(pos, tt[d.argmin(-1)]))
                best = r.argmax(-1)
                apart = torch.minimum((best - toward) % 8, (toward - best) % 8)
                gain = r.gather(1, toward[:, None]).squeeze(1) - r.mean(-1)
                rows.append(
                    torch.stack(
                        [
                            (apart == 0).float(),
                            (apart <= 1).float(),
                            gain,
                            r.max(-1).values - r.mean(-1),
                        ],
                        1,
                    )
                )
        s = torch.cat(rows).mean(0)
        print(
            f"offset {off:3d} deg: best = toward target {s[0]:.2f}, within 45 deg {s[1]:.2f}, "
            f"gain toward target {s[2]:.3f}, gain of best {s[3]:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
