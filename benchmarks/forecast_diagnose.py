"""Untrained forecasts on a store's windows: what the saliency tracker and the head's motion give.

Development tool for issue 16 (content-aware forecasting). Run it on a DEVELOPMENT store
(``pano synth DEV --seed 1``), never to choose anything on the reported data's test split.
For every split's windows (history 5, horizon 25 at 5 Hz) it prints the orthodromic error
(degrees, mean over windows, then over videos) at 1 / 2 / 3 / 5 s of:

* no-motion and constant velocity (the baselines);
* the fixed saliency tracker of :mod:`pano.models.track` seeded ``s`` steps ahead of the head
  along its last 5 Hz increment, its path lagged ``l`` steps (``track s=.. l=..``);
* the same with the target's latitude relative to the head scaled (``lat x``);
* a per-window oracle choosing the best seed (how much a better target choice could give).

Usage: ``python benchmarks/forecast_diagnose.py STORE [--split train] [--split test]``.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from pano.models import ConstantVelocity, NoMotion
from pano.models.seq2seq import history_features
from pano.models.sphere import angle_between, from_frame, front_exp, front_log, to_frame
from pano.models.track import SaliencyTracker
from pano.pipelines.train.config import TrainConfig
from pano.pipelines.train.data import gather_windows, load_split_videos, windows
from pano.pipelines.train.saliency import SaliencyBank

SECONDS = (1, 2, 3, 5)


def per_video(err: torch.Tensor, vid: np.ndarray) -> np.ndarray:
    """``(N, H)`` degrees -> ``(4,)`` at 1/2/3/5 s: mean per video, then over videos."""
    parts = [err[torch.from_numpy(vid == v)].mean(0) for v in np.unique(vid)]
    m = torch.stack(parts).mean(0)
    return np.array([float(m[s * 5 - 1]) for s in SECONDS])


def lat_gain(xyz: torch.Tensor, g: float) -> torch.Tensor:
    """Scale the world latitude of unit vectors ``(..., 3)`` by ``g`` (longitude kept)."""
    lat = torch.asin(xyz[..., 2].clamp(-1, 1)) * g
    horiz = xyz[..., :2] / xyz[..., :2].norm(dim=-1, keepdim=True).clamp_min(1e-9)
    return torch.cat([horiz * torch.cos(lat)[..., None], torch.sin(lat)[..., None]], -1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store")
    ap.add_argument("--split", action="append", default=None)
    ap.add_argument("--seeds", default="0,1,2,3,4,6")
    ap.add_argument("--lags", default="0,1,2,3")
    ap.add_argument("--pool", default="area", choices=["area", "max"])
    ap.add_argument("--sharpness", type=float, default=1.0)
    ap.add_argument("--short", action="store_true", help="trackers only, no blends")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = TrainConfig.model_validate(
        {"model": {"kind": "saliency", "saliency_pool": args.pool, "sharpness": args.sharpness}}
    )
    for split in args.split or ["train", "test"]:
        vids = load_split_videos(args.store, cfg, split, need_video=True)
        bank = SaliencyBank(vids, cfg.model, 25, 256, 7.0, torch.device("cpu"))  # type: ignore[arg-type]
        idx = windows(vids, 5, 25)
        hist, fut = gather_windows(vids, idx, 5, 25)
        sal = bank(vids, idx)
        vid = idx[:, 0]
        print(f"== split {split}: {[v.name for v in vids]}, {len(idx)} windows")

        def show(
            name: str, pred: torch.Tensor, fut: torch.Tensor = fut, vid: np.ndarray = vid
        ) -> torch.Tensor:
            err = torch.rad2deg(angle_between(pred.double(), fut.double(), eps=0.0))
            r = per_video(err, vid)
            print(
                f"{name:34s}" + "".join(f"{x:8.2f}" for x in r) + f"  mean {float(err.mean()):.2f}"
            )
            return err

        print(f"{'':34s}" + "".join(f"{s:>7d}s" for s in SECONDS))
        show("no-motion", NoMotion(5, 25).forecast(hist.float()))
        show("const velocity", ConstantVelocity(5, 25).forecast(hist.float()))
        cvs = {}
        for d in (0.1, 0.2, 0.3):
            cvs[d] = ConstantVelocity(5, 25, damping=d).forecast(hist.float())
            show(f"const velocity damping {d}", cvs[d])
        rot, hf = history_features(hist.float(), 10.0)
        step = hf[:, -1, 2:4] / 10.0
        tracker = SaliencyTracker((24, 48), sharpness=args.sharpness)
        errs = {}
        for s in [float(x) for x in args.seeds.split(",")]:
            start = from_frame(rot, front_exp(step * s)[:, None])[:, 0]
            c, _ = tracker(sal, start)
            off = front_log(to_frame(rot, c))  # (B, 26, 2)
            for lag in [int(x) for x in args.lags.split(",")]:
                k = torch.arange(1, 26)
                o = off[:, (k - lag).clamp_min(0)]
                errs[(s, lag)] = show(f"track s={s:g} l={lag}", from_frame(rot, front_exp(o)))
            o = off[:, (torch.arange(1, 26) - 2).clamp_min(0)]
            for g in (0.85, 0.9):
                show(
                    f"track s={s:g} l=2 world lat x{g}", lat_gain(from_frame(rot, front_exp(o)), g)
                )
        # Blends: damped constant velocity early, the tracker (s, lag 2) later, ramp to step r.
        for s in () if args.short else (2.0, 3.0):
            start = from_frame(rot, front_exp(step * s)[:, None])[:, 0]
            c, _ = tracker(sal, start)
            c = c[:, (torch.arange(1, 26) - 2).clamp_min(0)]
            off = front_log(to_frame(rot, lat_gain(c, 0.85)))
            for d in (0.1, 0.2):
                cv = front_log(to_frame(rot, cvs[d]))
                for r in (5, 10, 15, 20):
                    w = (torch.arange(1, 26).float() / r).clamp(max=1.0)[None, :, None]
                    o = (1 - w) * cv + w * off
                    show(f"blend cv{d} s={s:g} lat.85 ramp {r}", from_frame(rot, front_exp(o)))
        best = torch.stack([e for (s, lag), e in errs.items() if lag == 2]).amin(0)
        r = per_video(best, vid)
        print(f"{'oracle best seed (l=2)':34s}" + "".join(f"{x:8.2f}" for x in r))


if __name__ == "__main__":
    main()
