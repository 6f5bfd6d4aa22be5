"""Writing a trained model's predictions for the test split into the store.

``predictions/<run>/<video>/`` holds (see ``docs/store.md``):

* trajectory models: ``forecast (subject, origin, horizon, xyz)`` float64 unit vectors;
  ``origin`` indexes ``rs_time`` of the last observed sample, ``horizon`` = 1..H means
  ``rs_time[origin + h]``; origins run from ``history - 1`` to ``T - 1 - H`` (every
  window with a full horizon); a window whose history has a gap is NaN.
* the DHP agent: ``scanpath (step, rollout, lonlat)`` (``predict.rollouts`` stochastic
  rollouts, DHP: 58) and ``heatmap (step, lat, lon)`` - the rollouts summed into maps with
  :func:`pano.heatmaps.heatmaps_for` and the store's heatmap parameters passed whole (the
  ground truth's sigma, grid and normalisation; ``predict.sigma_deg`` may only repeat the
  store's), on the same ``step``/``lat``/``lon`` coordinates as the ground truth.

Each video group is written with ``pano_complete = false`` and marked complete last, with
the SHA-256 of its arrays in ``content_sha256`` (:mod:`pano.stores.predictions`);
``predictions/<run>`` carries the model, config, checkpoint, written-at time and pano
version - together what ``pano eval`` records of the predictions it scored.
"""

from __future__ import annotations

import datetime as _dt
import logging
from typing import Any

import numpy as np
import torch

from pano._version import __version__
from pano.geometry import vec_to_lonlat
from pano.pipelines.train.config import ContentModel, DHPModel, SaliencyModel, TrainConfig
from pano.pipelines.train.data import FrameBank, VideoData, load_split_videos
from pano.stores.generation import Generation
from pano.stores.predictions import prediction_path

log = logging.getLogger("pano.train")


def _forecast_video(
    model: Any, video: VideoData, cfg: TrainConfig, renderer: Any, device: torch.device
) -> tuple[np.ndarray, np.ndarray]:
    h, hz = cfg.data.history, cfg.data.horizon
    s_n, t_n, _ = video.rs_xyz.shape
    origins = np.arange(h - 1, t_n - hz)
    out = np.full((s_n, len(origins), hz, 3), np.nan)
    if len(origins) == 0:
        return out, origins
    idx = np.array([(0, s, o) for s in range(s_n) for o in origins], dtype=np.int64)
    hist = np.stack([video.rs_xyz[s, o - h + 1 : o + 1] for _, s, o in idx])
    ok = ~np.isnan(hist).any((1, 2))
    sel = np.nonzero(ok)[0]
    bs = cfg.predict.batch_size
    with torch.no_grad():
        for i in range(0, len(sel), bs):
            part = sel[i : i + bs]
            x = torch.from_numpy(hist[part]).float().to(device)
            views = renderer([video], idx[part]) if renderer is not None else None
            pred = model.forecast(x, views).double().cpu().numpy()
            so = idx[part]
            out[so[:, 1], so[:, 2] - (h - 1)] = pred
    return out, origins


def write_predictions(
    location: str,
    run: str,
    cfg: TrainConfig,
    model: Any,
    checkpoint: str | None,
    device: torch.device,
    expect: Generation | None = None,
) -> list[str]:
    """Predict every complete video of ``cfg.predict.split`` and write it under ``run``.

    Holds the store's write lock (``pano.stores.lock``) while it reads and writes: a
    concurrent ingest or prediction into the same store is refused with one line.

    Args:
        model: the trained model; for DHP a list of agents (``data.folds``) pools their
            rollouts, ``predict.rollouts`` from each.
        checkpoint: where the weights came from, recorded in the run's attributes.
        expect: the store generation the model was trained on (``train-hm --predict``):
            if the store has moved on since, nothing is written.

    Raises:
        StoreChangedError: the store is not at generation ``expect`` any more.

    """
    from pano.stores.generation import check_unchanged
    from pano.stores.lock import store_write_lock
    from pano.stores.names import validate_name

    validate_name(run, "run name")
    with store_write_lock(location, command=f"pano predict-hm --run {run}"):
        if expect is not None:
            check_unchanged(
                location,
                expect,
                f"the model was trained on the earlier data, so {prediction_path(run)} was not "
                "written (the checkpoints are kept: `pano predict-hm` writes them from the "
                "current store)",
            )
        return _write_predictions(location, run, cfg, model, checkpoint, device)


def _write_predictions(
    location: str,
    run: str,
    cfg: TrainConfig,
    model: Any,
    checkpoint: str | None,
    device: torch.device,
) -> list[str]:
    """Predict every complete video of ``cfg.predict.split`` and write it under ``run``.

    Returns:
        The names of the videos written.

    Raises:
        StoreError: the store has no such split.

    """
    from pano.stores.predictions import create_prediction_run, write_prediction_video
    from pano.stores.writer import ArraySpec

    is_dhp = isinstance(cfg.model, DHPModel)
    upper = isinstance(cfg.model, SaliencyModel) and cfg.model.upper_bound
    needs_frames = (
        is_dhp
        or isinstance(cfg.model, ContentModel)
        or (isinstance(cfg.model, SaliencyModel) and not upper)
    )
    videos = load_split_videos(location, cfg, cfg.predict.split, need_video=needs_frames)
    agents = model if isinstance(model, list) else [model]  # DHP: one agent per data.folds
    for m in agents:
        m.eval()
    run_attrs = {
        "model": cfg.model.kind,
        "upper_bound": upper,
        "config": cfg.model_dump(mode="json"),
        "checkpoint": checkpoint,
        "pano_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "split": cfg.predict.split,
    }
    if upper:
        from pano.pipelines.train.saliency import UPPER_BOUND_LABEL

        run_attrs["label"] = UPPER_BOUND_LABEL
    create_prediction_run(location, run, run_attrs)
    written = []
    if is_dhp:
        from pano.pipelines.train.rl import (
            luma_only,
            make_sampler,
            rollout_heatmaps,
            rollout_video,
        )
        from pano.stores import open_video, read_root_attrs

        hp = read_root_attrs(location).heatmap
        bank = FrameBank(
            videos,
            [v.step_frame for v in videos],
            cfg.data.frame_width,
            luma_only(cfg),
            device,
            cfg.data.decode_backend,
        )
        sampler = make_sampler(cfg)
        gen = torch.Generator().manual_seed(cfg.seed + 15485863)
        prior = None
        pc = cfg.predict
        if pc.floor_prior != "uniform":  # fitted on the TRAIN split only
            from pano.pipelines.train.rl import head_prior
            from pano.stores import list_videos

            done = set(list_videos(location))
            train = [v for v in read_root_attrs(location).splits.train if v in done]
            prior = head_prior(location, train, hp, pc.floor_prior, pc.prior_sigma_deg)
        for v in videos:
            pos = torch.cat(  # every agent's rollouts pooled (predict.rollouts each)
                [
                    rollout_video(a, sampler, bank, v, pc.rollouts, gen, device, pc.temperature)
                    for a in agents
                ],
                dim=1,
            )
            maps = rollout_heatmaps(pos, hp, pc.floor, prior, pc.kernel_deg)
            gt = open_video(location, v.name)
            lon, lat = vec_to_lonlat(pos.numpy())
            arrays = {
                "step": ArraySpec(("step",), np.arange(pos.shape[0], dtype=np.int32)),
                "lat": ArraySpec(("lat",), np.asarray(gt["lat"].values)),
                "lon": ArraySpec(("lon",), np.asarray(gt["lon"].values)),
                "rollout": ArraySpec(("rollout",), np.arange(pos.shape[1], dtype=np.int32)),
                "heatmap": ArraySpec(
                    ("step", "lat", "lon"),
                    maps.numpy().astype(np.float32),
                    {
                        "sigma_deg": hp.sigma_deg,
                        "normalize": hp.normalize,
                        "uniform_floor": cfg.predict.floor,
                        "floor_prior": cfg.predict.floor_prior,
                        "prior_sigma_deg": pc.prior_sigma_deg,
                        "kernel_deg": hp.sigma_deg if pc.kernel_deg is None else pc.kernel_deg,
                        "temperature": pc.temperature,
                    },
                ),
                "scanpath": ArraySpec(
                    ("step", "rollout", "lonlat"),
                    np.stack([lon, lat], -1),
                    {
                        "units": "degrees",
                        "components": "lon lat",
                        "long_name": "DHP rollouts (pano: lon +LEFT, lat +UP)",
                    },
                ),
            }
            write_prediction_video(
                location,
                run,
                v.name,
                arrays,
                {
                    "video": v.name,
                    "model": "dhp",
                    "rollouts": cfg.predict.rollouts,
                    "agents": len(agents),
                },
            )
            written.append(v.name)
        return written
    renderer: Any = None
    if isinstance(cfg.model, SaliencyModel):
        from pano.pipelines.train.saliency import SaliencyBank
        from pano.stores import read_root_attrs

        renderer = SaliencyBank(
            videos,
            cfg.model,
            cfg.data.horizon,
            cfg.data.frame_width,
            float(read_root_attrs(location).heatmap.sigma_deg),
            device,
            cfg.data.decode_backend,
        )
    elif isinstance(cfg.model, ContentModel):
        from pano.pipelines.train.supervised import ViewRenderer, frames_for_windows

        bank = FrameBank(
            videos,
            frames_for_windows(videos),
            cfg.data.frame_width,
            cfg.model.channels == 1,
            device,
            cfg.data.decode_backend,
        )
        renderer = ViewRenderer(cfg.model, bank)
    rate = float(read_rate(location))
    for v in videos:
        fc, origins = _forecast_video(model, v, cfg, renderer, device)
        hz = np.arange(1, cfg.data.horizon + 1, dtype=np.int32)
        arrays = {
            "subject": ArraySpec(("subject",), np.arange(fc.shape[0], dtype=np.int32)),
            "origin": ArraySpec(("origin",), origins.astype(np.int32)),
            "origin_time": ArraySpec(
                ("origin",), v.rs_time[origins] if len(origins) else np.zeros(0)
            ),
            "horizon": ArraySpec(("horizon",), hz),
            "horizon_s": ArraySpec(("horizon",), hz / rate),
            "forecast": ArraySpec(
                ("subject", "origin", "horizon", "xyz"),
                fc,
                {
                    "components": "x y z",
                    "long_name": "forecast unit vectors (x front, y left, z up)",
                },
            ),
        }
        write_prediction_video(
            location,
            run,
            v.name,
            arrays,
            {
                "video": v.name,
                "model": cfg.model.kind,
                "history": cfg.data.history,
                "horizon": cfg.data.horizon,
                "rate_hz": rate,
            },
        )
        written.append(v.name)
    return written


def read_rate(location: str) -> float:
    """The store's resampling rate (Hz)."""
    from pano.stores import read_root_attrs

    return float(read_root_attrs(location).resample.rate_hz)
