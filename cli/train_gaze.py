"""``pano train-gaze``: appearance-based gaze models, leave-one-person-out or split protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def train_gaze_cmd(
    store: Annotated[
        str, typer.Argument(metavar="STORE", help="Store path or URL holding gaze/<dataset>.")
    ],
    config: Annotated[
        Path,
        typer.Option("--config", "-c", help="YAML config, e.g. pipelines/configs/gaze_grm.yaml."),
    ],
    dataset: Annotated[str, typer.Option(help="The gaze data set (gaze/NAME in the store).")],
    fold: Annotated[
        list[str] | None,
        typer.Option(
            help="Train this fold (a person id, e.g. p00; repeatable or a comma list) [every fold]."
        ),
    ] = None,
    folds: Annotated[
        str | None, typer.Option(help="'all': every fold of the data set's protocol (default).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Run folder (checkpoints, logs; its name is the prediction run's name) "
            "[runs/<config stem>_<dataset>]."
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config value: key.sub=value (repeatable)."),
    ] = None,
    device: Annotated[
        str | None, typer.Option(help="auto, cpu, cuda or cuda:N (overrides the config).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Local Dask worker processes, one fold each [one per fold up to the CPU "
            "count; a single fold trains in this process]; 0 = one fold after another in "
            "this process."
        ),
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of an existing Dask scheduler (tcp://host:8786).")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue folds from their last complete checkpoint (complete folds are kept).",
        ),
    ] = False,
) -> None:
    """Train a gaze model per fold, pick checkpoints on validation persons, predict the test folds.

    Leave-one-person-out: fold pXX tests on person pXX; a validation person drawn (seeded,
    recorded) from the training persons picks the checkpoint - never the test person.
    The test predictions go to gaze/<dataset>/predictions/<run> in the store; score them
    with `pano eval STORE --target gaze --dataset NAME --predictions RUN`. Under
    `torchrun --nproc_per_node N` each fold trains with DDP, folds one after another.
    """
    from pano.config import load_config
    from pano.device import resolve_device
    from pano.errors import ConfigError
    from pano.pipelines.gaze import GazeTrainConfig, train_gaze
    from pano.pipelines.gaze.run import default_out

    if folds is not None and folds != "all":
        raise ConfigError(f"--folds {folds!r}: use --folds all, or --fold NAME for one fold")
    names = [f.strip() for item in fold or [] for f in item.split(",") if f.strip()]
    if folds == "all" and names:
        raise ConfigError("--folds all and --fold NAME contradict each other: give one")
    overrides = list(set_ or [])
    if device is not None:
        overrides.append(f"device={device}")
    cfg = load_config(GazeTrainConfig, config, overrides, section="train_gaze")
    resolve_device(cfg.device)
    res = train_gaze(
        store,
        cfg,
        dataset,
        folds=names or None,
        out=out if out is not None else default_out(config, dataset),
        workers=workers,
        scheduler=scheduler,
        resume=resume,
        announce=lambda msg: typer.echo(msg, err=True),
    )
    if res.rank != 0:
        return
    for fold_rec in res.folds:
        # an ensemble fold (ensemble: K) chose one checkpoint per member
        for rec in fold_rec.get("members") or [fold_rec]:
            val = rec.get("val_angular_deg")
            where = f" {rec['folder']}" if "folder" in rec else ""
            typer.echo(
                f"fold {rec['fold']}{where}: validation "
                f"{', '.join(rec['val_persons']) or 'split'} "
                f"{'n/a' if val is None else f'{val:.2f} deg'} at epoch {rec['selected_epoch']} "
                f"({rec['selected_checkpoint']}); {rec['n_train']} training samples"
            )
    typer.echo(f"trained {len(res.folds)} fold(s) in {res.seconds:.1f} s; run folder {res.run_dir}")
    if res.predictions:
        typer.echo(
            f"wrote {res.predictions} ({len(res.predicted_folds)} fold(s)); score it with "
            f"`pano eval {store} --target gaze --dataset {dataset} --predictions {res.run}`"
        )


def register(app: typer.Typer) -> None:
    """Add ``pano train-gaze`` to the app."""
    app.command("train-gaze")(train_gaze_cmd)
