"""How DHP's heatmaps are built from its rollouts, scored with ``pano eval``'s saliency metrics.

For one or more checkpoints of a DHP run, ``--rollouts`` stochastic rollouts per video
(from the subjects' first samples, as ``pano predict-hm``; ``--temperatures`` divides the
policy logits) are turned into heatmaps in every combination of

* ``--kernels``: the great-circle Gaussian width (degrees) of each rollout point
  (``predict.kernel_deg``; the store's sigma = the ground truth's recipe);
* ``--priors``: what is mixed in: ``none`` (the pure rollout map), ``uniform``,
  ``latitude`` (the train split's head-latitude density = the equator-bias baseline),
  ``lonlat`` (the train split's head lon-lat density) or ``fcb`` (the front-centre
  Gaussian with the eval baseline's maximum-likelihood width);
* ``--weights``: the prior's share of each map's mass (``predict.floor``),

and scored with ``pano.metrics.saliency.saliency_scores`` exactly as ``pano eval`` scores
a prediction (``sphere`` profile, fixations = the subjects' head points, sAUC negatives and
the IG baseline as ``pano eval`` builds them), plus the mean great-circle distance
between the predicted and the ground-truth heatmap peaks (``pano demo``'s). The FCB and
equator-bias baselines are scored beside them. Priors and baselines are fitted on the
store's train split WITHOUT the scored videos (so the validation video can be scored
honestly; pass ``--split train --videos VAL`` to choose, never choose on ``test``).

    python benchmarks/dhp_heatmap_eval.py STORE RUN_DIR --split train --videos Surfing \
        --checkpoints ckpt-00000625.pt --kernels 7,14 --priors none,latitude,lonlat \
        --weights 0.3,0.5
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch

from pano.config import load_config
from pano.pipelines.demo_dhp import peak_distance_deg
from pano.pipelines.train.config import TrainConfig
from pano.pipelines.train.data import FrameBank, load_split_videos
from pano.pipelines.train.rl import (
    head_prior,
    luma_only,
    make_agent,
    make_sampler,
    rollout_heatmaps,
    rollout_video,
)
from pano.stores import open_video, read_root_attrs


def _floats(s: str) -> list[float]:
    return [float(x) for x in s.split(",") if x]


def main() -> None:
    from pano.baselines import fcb_map
    from pano.metrics.fixations import Fixations
    from pano.metrics.registry import metric_names
    from pano.metrics.saliency import saliency_scores
    from pano.pipelines.eval.config import EvalConfig
    from pano.pipelines.eval.plan import sauc_negatives
    from pano.pipelines.train.checkpoint import CheckpointManager

    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--split", default="train")
    ap.add_argument("--videos", default="", help="comma list: only these videos of the split")
    ap.add_argument("--checkpoints", default="", help="comma list (default: the best)")
    ap.add_argument("--rollouts", type=int, default=58)
    ap.add_argument("--seed", type=int, default=1, help="rollout seed")
    ap.add_argument("--temperatures", default="1")
    ap.add_argument("--kernels", default="7")
    ap.add_argument("--priors", default="none,latitude")
    ap.add_argument("--weights", default="0.3")
    ap.add_argument("--prior-sigma", type=float, default=None, help="lonlat prior kernel (deg)")
    ap.add_argument("--json", type=Path, default=None, help="append result rows here")
    ap.add_argument(
        "--from-predictions",
        default="",
        help="prediction run(s) in the store: rebuild maps from THEIR rollouts (scanpath) "
        "instead of rolling out a checkpoint (e.g. the pure rollout map of a scored run); "
        "a comma list pools the runs' rollouts (an ensemble of agents)",
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    store = args.store
    cfg = load_config(TrainConfig, args.run_dir / "config.yaml")
    videos = load_split_videos(store, cfg, args.split, need_video=True)
    if args.videos:
        videos = [v for v in videos if v.name in args.videos.split(",")]
    attrs = read_root_attrs(store)
    hp = attrs.heatmap
    scored = [v.name for v in videos]
    fit_on = [v for v in attrs.splits.train if v not in scored]
    print(f"videos {scored}; priors and baselines fitted on {fit_on}")
    bank = FrameBank(
        videos, [v.step_frame for v in videos], cfg.data.frame_width, luma_only(cfg),
        torch.device("cpu"), "auto",
    )  # fmt: skip
    sampler = make_sampler(cfg)
    names = args.checkpoints.split(",") if args.checkpoints else ["best"]
    mgr = CheckpointManager(args.run_dir / "checkpoints")
    metrics = metric_names("saliency")
    ecfg = EvalConfig(store=store)
    gts: dict[str, tuple] = {}
    scans = {}
    for v in videos:
        ds = open_video(store, v.name)
        scans[v.name] = np.asarray(ds["scanpath"].values, np.float64)
    priors = {}
    for p in {x for x in args.priors.split(",") if x not in ("none", "fcb")}:
        priors[p] = head_prior(store, fit_on, hp, p, args.prior_sigma)
    lat_map = head_prior(store, fit_on, hp, "latitude").numpy()
    for v in videos:
        ds = open_video(store, v.name)
        gt = np.asarray(ds["heatmap"].values, np.float64)
        ll = scans[v.name]
        h, w = gt.shape[-2:]
        fix = Fixations.from_lonlat(ll, h, w)
        other = Fixations.from_lonlat(sauc_negatives(ecfg, scans, v.name, 0, len(gt)), h, w)
        gts[v.name] = (gt, fix, other, ds["lat"].values, ds["lon"].values)

    def score(maps: np.ndarray, name: str) -> np.ndarray:
        gt, fix, other, lat, lon = gts[name]
        s = saliency_scores(
            maps, metrics, gt=gt, fixations=fix, other=other, baseline=lat_map,
            profile="sphere", seed_keys=[(0, name, i) for i in range(len(gt))],
        )  # fmt: skip
        pk = peak_distance_deg(maps, gt, lat, lon)
        return np.concatenate([np.nanmean(s, 0), [pk.mean()]])

    cols = [*metrics, "peak"]
    rows: list[dict] = []

    def report(label: str, per_video: dict[str, np.ndarray]) -> None:
        m = np.mean(list(per_video.values()), 0)
        txt = "  ".join(f"{c} {x:.3f}" for c, x in zip(cols, m, strict=True))
        pv = " ".join(f"{k}:{per_video[k][-1]:.0f}" for k in per_video)
        print(f"{label:44s} {txt}  [peak {pv}]", flush=True)
        rows.append(
            {
                "label": label,
                **dict(zip(cols, m.tolist(), strict=True)),
                "per_video": {k: x.tolist() for k, x in per_video.items()},
            }
        )

    from pano.baselines import fit_fcb_sigma
    from pano.pipelines.eval.tasks import lonlat_vectors

    ll_train = np.concatenate(
        [
            np.asarray(open_video(store, n)["scanpath"].values, np.float64).reshape(-1, 2)
            for n in fit_on
        ]
    )
    fcb = fcb_map(hp.height, hp.width, fit_fcb_sigma(lonlat_vectors(ll_train)))
    priors["fcb"] = torch.from_numpy(fcb / fcb.sum())  # exploratory (not a config option)
    report("FCB", {n: score(np.repeat(fcb[None], len(gts[n][0]), 0), n) for n in scored})
    report("equator", {n: score(np.repeat(lat_map[None], len(gts[n][0]), 0), n) for n in scored})
    for name, temp in itertools.product(names, _floats(args.temperatures)):
        state, _ = mgr.load(name, strict=True)
        agent = make_agent(cfg)
        agent.load_state_dict(state["model"])
        pos = {}
        for v in videos:
            if args.from_predictions:
                from pano.geometry import lonlat_to_vec
                from pano.stores.predictions import read_prediction_array

                ll = np.concatenate(  # a comma list pools the runs' rollouts
                    [
                        np.asarray(read_prediction_array(store, r, v.name, "scanpath"))
                        for r in args.from_predictions.split(",")
                    ],
                    axis=1,
                )
                xyz = lonlat_to_vec(ll[..., 0], ll[..., 1])
                pos[v.name] = torch.from_numpy(np.asarray(xyz, dtype=np.float64))
                continue
            gen = torch.Generator().manual_seed(args.seed)
            pos[v.name] = rollout_video(
                agent, sampler, bank, v, args.rollouts, gen, torch.device("cpu"), temp
            )
        for k, pr in itertools.product(_floats(args.kernels), args.priors.split(",")):
            ws = [0.0] if pr == "none" else _floats(args.weights)
            for wgt in ws:
                per = {}
                for n in scored:
                    maps = rollout_heatmaps(pos[n], hp, wgt, priors.get(pr), kernel_deg=k).numpy()
                    per[n] = score(maps, n)
                src = f"pred:{args.from_predictions}" if args.from_predictions else f"T{temp:g}"
                report(f"{name} {src} k{k:g} {pr} {wgt:g}", per)
    if args.json:
        with args.json.open("a") as fh:
            for r in rows:
                fh.write(json.dumps({"store": store, "videos": scored, **r}) + "\n")


if __name__ == "__main__":
    main()
