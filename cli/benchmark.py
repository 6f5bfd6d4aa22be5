"""``pano benchmark hm``: TRACK's head-motion benchmark on one or more stores, one report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

benchmark_app = typer.Typer(
    help="Benchmarks that train and score models on stores and write one report.",
    no_args_is_help=True,
)


@benchmark_app.command("hm")
def benchmark_hm(
    stores: Annotated[
        list[str], typer.Argument(metavar="STORE [STORE ...]", help="Stores (paths or URLs).")
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Report folder (benchmark.md, PNG, per-store evals)."),
    ],
    steps: Annotated[
        int | None, typer.Option(help="Training updates of the position-only model [1500].")
    ] = None,
    val_every: Annotated[
        int | None, typer.Option(help="Updates between validations (train split only) [100].")
    ] = None,
    run: Annotated[
        str | None, typer.Option(help="Prediction run name per store [track_pos_only].")
    ] = None,
    results: Annotated[
        str | None, typer.Option(help="Results group per store: results/NAME [track].")
    ] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or cuda:N [auto].")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Dask workers of the evaluation; 0 = in-process [0].")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of training and evaluation [0].")] = None,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace predictions/RUN and results/NAME if present."),
    ] = False,
    config: Annotated[
        Path | None, typer.Option(help="YAML with BenchmarkConfig fields (stores/out aside).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a key: --set track.init_window=5, --set train=[optim.lr=0.001] "
            "(repeatable).",
        ),
    ] = None,
) -> None:
    """Train the position-only model and score it beside the baselines under TRACK's protocol.

    Per store: train-hm on the train split (checkpoint chosen on validation held out of the
    train split), predict the test split, `pano eval --protocol track`; then one report
    (OUT/benchmark.md, OUT/benchmark_hm.png) with a table at 1, 2, 3, 5 s and every
    comparison per data set.
    """
    from pano.config import deep_merge, parse_overrides
    from pano.pipelines.benchmark import load_benchmark_config, run_benchmark
    from pano.pipelines.eval_report import format_tables

    flags: dict[str, Any] = {}
    for key, val in (
        ("steps", steps),
        ("val_every", val_every),
        ("run", run),
        ("results", results),
        ("device", device),
        ("workers", workers),
        ("seed", seed),
    ):
        if val is not None:
            flags[key] = val
    if overwrite:
        flags["overwrite"] = True
    cfg = load_benchmark_config(stores, out, config, deep_merge(parse_overrides(set_ or []), flags))
    res = run_benchmark(cfg)
    for part in res.stores:
        typer.echo(f"== {part.label} ({part.store})")
        typer.echo(format_tables({"hm": part.tables["hm"]}))
        won = sum(1 for c in part.comparisons if c.holds)
        typer.echo(f"the model wins {won} of {len(part.comparisons)} comparisons")
    typer.echo(f"report: {res.report} (figure {res.figure.name}); {res.seconds:.0f} s")


def register(app: typer.Typer) -> None:
    """Add ``pano benchmark`` (sub-command ``hm``) to the app."""
    app.add_typer(benchmark_app, name="benchmark")
