"""``pano train-hm`` and ``pano predict-hm``: train head-movement models, write predictions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from pano.pipelines.train import TrainResult


def train_hm_cmd(
    store: Annotated[
        str, typer.Argument(metavar="STORE", help="Store path or URL (from `pano ingest`).")
    ],
    config: Annotated[
        Path,
        typer.Option("--config", "-c", help="YAML config, e.g. pipelines/configs/pos_only.yaml."),
    ],
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config value: key.sub=value (repeatable)."),
    ] = None,
    run: Annotated[
        str | None, typer.Option(help="Run name (default: the config file's stem).")
    ] = None,
    runs_dir: Annotated[Path, typer.Option(help="Folder holding runs (checkpoints, logs).")] = Path(
        "runs"
    ),
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run from its latest complete checkpoint.")
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Train an existing run again from scratch (deletes its checkpoints and logs).",
        ),
    ] = False,
    device: Annotated[
        str | None, typer.Option(help="auto, cpu, cuda or cuda:N (overrides the config).")
    ] = None,
    predict: Annotated[
        bool, typer.Option("--predict", help="Afterwards write predictions for the test split.")
    ] = False,
    videos: Annotated[
        Path | None, typer.Option(help="Folder of the videos, if the store's paths do not resolve.")
    ] = None,
) -> None:
    """Train a head-movement model (seq2seq, content-aware or the DHP agent) on a store.

    Under `torchrun --nproc_per_node N` it trains with DDP (gloo on CPU, NCCL on CUDA);
    rank 0 writes checkpoints, TensorBoard logs and predictions and prints the summary.
    """
    from pano.config import load_config
    from pano.device import resolve_device
    from pano.pipelines.train import TrainConfig, train_hm
    from pano.stores.names import validate_name

    validate_name(run or config.stem, "--run")  # before any work: a folder and a store group
    overrides = list(set_ or [])
    if device is not None:
        overrides.append(f"device={device}")
    if videos is not None:
        overrides.append(f"data.videos_dir={videos}")
    cfg = load_config(TrainConfig, config, overrides, section="train")
    resolve_device(cfg.device)  # fail fast with one line on a CUDA request without CUDA
    res = train_hm(
        store,
        cfg,
        run or config.stem,
        runs_dir=runs_dir,
        resume=resume,
        predict=predict,
        overwrite=overwrite,
    )
    for line in summary_lines(cfg.model.kind, res):
        typer.echo(line)


def summary_lines(kind: str, res: TrainResult) -> list[str]:
    """What ``pano train-hm`` prints when training ends: nothing on ranks other than 0.

    Under torchrun only rank 0 validates, so another rank's result has no validation score
    (it would print ``best validation n/a (None)``); the summary is rank 0's to print.
    """
    if not res.is_main:
        return []
    best = "n/a" if res.best_val is None else f"{res.best_val:.4g}"
    chosen = (
        f"mean of {len(res.fold_checkpoints)} fold agents' own"
        if res.fold_checkpoints
        else res.best_checkpoint
    )
    lines = [
        f"trained {kind} for {res.steps} steps in {res.seconds:.1f} s; "
        f"best validation {best} ({chosen}); run folder {res.run_dir}"
    ]
    if res.predicted:
        from pano.stores.predictions import prediction_path

        lines.append(f"wrote {prediction_path(res.run_dir.name)} for {len(res.predicted)} video(s)")
    return lines


def predict_hm_cmd(
    store: Annotated[str, typer.Argument(metavar="STORE", help="Store path or URL.")],
    run: Annotated[str, typer.Option(help="Name of a trained run.")],
    runs_dir: Annotated[Path, typer.Option(help="Folder holding runs.")] = Path("runs"),
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    checkpoint: Annotated[
        str | None,
        typer.Option(help="best, latest or a checkpoint file name (default: config's log.select)."),
    ] = None,
    online: Annotated[
        bool,
        typer.Option(
            "--online",
            help="DHP runs: score online-DHP (per-subject online adaptation) beside offline "
            "DHP, one step ahead, and write results/RUN_online.",
        ),
    ] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override predict.* or online.* (key=value, repeatable)."),
    ] = None,
) -> None:
    """Write a trained run's predictions for the test split into the store."""
    from pano.pipelines.train import predict_hm
    from pano.stores.predictions import prediction_path

    names = predict_hm(
        store, run, runs_dir=runs_dir, device=device, which=checkpoint, online=online,
        overrides=set_,
    )  # fmt: skip
    if online:
        from pano.stores import open_results

        s = open_results(store, names[0]).attrs.get("summary", {})
        typer.echo(
            f"wrote results/{names[0]}: mean overlap (DHP) offline {s.get('mo_offline', 0):.3f}, "
            f"online {s.get('mo_online', 0):.3f}, no-motion {s.get('mo_no_motion', 0):.3f}; "
            f"online beats offline for {100 * s.get('online_beats_offline_share', 0):.0f}% "
            f"of {int(s.get('subjects', 0))} subjects"
        )
        return
    typer.echo(f"wrote {prediction_path(run)} for {len(names)} video(s): {', '.join(names)}")


def register(app: typer.Typer) -> None:
    """Add ``pano train-hm`` and ``pano predict-hm`` to the app."""
    app.command("train-hm")(train_hm_cmd)
    app.command("predict-hm")(predict_hm_cmd)
