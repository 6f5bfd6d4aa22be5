import sys, numpy as np, torch
sys.path.insert(0, '../benchmarks')
from dhp_diagnose import _targets, _bin
from pathlib import Path
from pano.config import load_config
from pano.pipelines.train.config import TrainConfig
from pano.pipelines.train.data import load_split_videos
from pano.models.dhp import all_action_rewards, movement_angle_deg, move
from pano.models.sphere import angle_between
from pano.geometry import lonlat_to_vec
torch.set_num_threads(1)
cfg = load_config(TrainConfig, "../pipelines/configs/dhp.yaml")
vids = load_split_videos("dev.zarr", cfg, "train", need_video=False)
tg_all = _targets(Path("DEV"))
g = torch.Generator().manual_seed(0)
for off in (0, 10, 20, 40, 60):
  stats = []
  for v in vids:
    scan = torch.from_numpy(v.scan_xyz).float()
    tg = tg_all[v.name]
    for t in range(scan.shape[0]-1):
        now, nxt = scan[t], scan[t+1]
        ok = ~(torch.isnan(now).any(-1) | torch.isnan(nxt).any(-1))
        if ok.sum() == 0: continue
        # agent positions: random subject + random offset of `off` deg
        n = 64
        base = now[ok][torch.randint(int(ok.sum()), (n,), generator=g)]
        dirs = torch.randint(8, (n,), generator=g)
        pos = move(base, dirs, torch.full((n,), float(off))) if off else base
        sp = torch.rad2deg(angle_between(torch.nan_to_num(now), torch.nan_to_num(nxt), eps=0.0))[ok].mean()
        r = all_action_rewards(pos, torch.full((n,), float(sp)), now[None].expand(n,-1,-1), nxt[None].expand(n,-1,-1), 41.9)
        f = int(v.step_frame[t]); T = torch.from_numpy(tg[min(f, len(tg)-1)]).float()
        d = torch.rad2deg(angle_between(pos[:,None].expand(-1,len(T),-1), T[None].expand(n,-1,-1), eps=0.0))
        goal = T[d.argmin(-1)]
        a_t = _bin(movement_angle_deg(pos, goal))
        best = r.argmax(-1)
        stats.append(torch.stack([(best == a_t).float(), ((best - a_t) % 8).clamp(max=1).float()*0 + (torch.minimum((best-a_t)%8, (a_t-best)%8) <= 1).float(), r.gather(1,a_t[:,None]).squeeze(1) - r.mean(-1), r.max(-1).values - r.mean(-1)], 1))
  s = torch.cat(stats).mean(0)
  print(f"offset {off:3d} deg: best==toward-target {s[0]:.2f}, within 45deg {s[1]:.2f}, gain(toward) {s[2]:.3f}, gain(best) {s[3]:.3f}")
