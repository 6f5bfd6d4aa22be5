"""``pano eval``: score a prediction run and/or baselines on a store's split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from pano.baselines import ALL_BASELINES
from pano.metrics.profiles import DEFAULT_PROFILE, PROFILE_NAMES


def eval_command(
    store: Annotated[str, typer.Argument(metavar="STORE", help="Store path or fsspec URL.")],
    predictions: Annotated[
        str | None,
        typer.Option(
            help="Prediction run(s) to score (predictions/RUN in the store); a comma list "
            "scores several side by side in one results group."
        ),
    ] = None,
    baselines: Annotated[
        str | None,
        typer.Option(
            help=f"Baselines: all, none, or a comma list of {', '.join(ALL_BASELINES)} [all]."
        ),
    ] = None,
    metrics: Annotated[
        str | None, typer.Option(help="Comma list of metric names [all]; see docs/eval.md.")
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(help=f"Metric profile: {', '.join(PROFILE_NAMES)} [{DEFAULT_PROFILE}]."),
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="Split to evaluate: train, val, test [test].")
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            help="Ground truth: head (head points, heatmaps), eye (fixations and eye "
            "heatmaps of `pano em detect`; results/RUN_eye by default) or gaze (a gaze data "
            "set's labels against a `pano train-gaze` run; needs --dataset; "
            "results/RUN_gaze by default) [head]."
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(help="--target gaze: the gaze data set (gaze/NAME in the store)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Local Dask worker processes [2]; 0 = in-process.")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of an existing Dask scheduler (tcp://host:8786).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for CSV/Markdown tables and PNG plots.")
    ] = None,
    run: Annotated[
        str | None,
        typer.Option(help="Results name: results/RUN [the prediction run, or 'baselines']."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of every random choice [0].")] = None,
    protocol: Annotated[
        str | None,
        typer.Option(
            help="pano (every metric) or track: TRACK's benchmark (windows every sample from "
            "the data set's init window, M=5, H=25, orthodromic distance, pooled mean; "
            "--set track.init_window=N etc.) [pano]."
        ),
    ] = None,
    no_write: Annotated[
        bool, typer.Option("--no-write", help="Do not write results/RUN into the store.")
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite", help="Replace an existing results/RUN (else choose another --run)."
        ),
    ] = False,
    config: Annotated[
        Path | None, typer.Option(help="YAML config (see pipelines/configs/eval.yaml).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config key: --set hm.horizon=10 (repeatable)."),
    ] = None,
) -> None:
    """Evaluate predictions beside honest baselines with sphere-aware metrics, on Dask.

    Writes per-step scores to results/RUN in the store (an existing results/RUN is replaced
    only with --overwrite), prints the summary tables and, with --out, writes CSV +
    Markdown tables and PNG plots. Precedence: defaults <
    --config YAML < PANO_EVAL__* environment < --set < options.
    """
    from pano.config import deep_merge, load_config, parse_overrides
    from pano.pipelines.eval import EvalConfig, evaluate
    from pano.stores.names import validate_name

    if run is not None:  # results and prediction runs are store groups: pano's name rule
        validate_name(run, "--run")
    for name in filter(None, (p.strip() for p in (predictions or "").split(","))):
        validate_name(name, "--predictions")
    flags: dict[str, Any] = {"store": store}
    for key, val in (
        ("predictions", predictions),
        ("baselines", baselines),
        ("metrics", metrics),
        ("profile", profile),
        ("split", split),
        ("target", target),
        ("dataset", dataset),
        ("workers", workers),
        ("scheduler", scheduler),
        ("out", out),
        ("run", run),
        ("seed", seed),
        ("protocol", protocol),
    ):
        if val is not None:
            flags[key] = str(val) if isinstance(val, Path) else val
    if no_write:
        flags["write_store"] = False
    if overwrite:
        flags["overwrite"] = True
    overrides = deep_merge(parse_overrides(set_ or []), flags)
    cfg = load_config(EvalConfig, config, overrides, section="eval")

    def announce(msg: str) -> None:
        typer.echo(msg, err=True)

    result = evaluate(cfg, announce=announce)
    typer.echo(f"target: {result.dataset.attrs.get('ground_truth', cfg.target)}\n")
    typer.echo(result.format())
    if result.results_group:
        typer.echo(f"\nper-step scores: {cfg.store} -> {result.results_group}")
    if result.files:
        typer.echo(f"tables and plots: {cfg.out} ({len(result.files)} files)")


def register(app: typer.Typer) -> None:
    """Add ``pano eval`` to the app."""
    app.command("eval")(eval_command)
