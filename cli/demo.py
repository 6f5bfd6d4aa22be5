"""``pano demo``: synth -> ingest -> train-hm -> eval -> report, on the embedded synthetic data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output folder (data, store, runs, report).")
    ] = Path("pano-demo"),
    quick: Annotated[
        bool, typer.Option("--quick", help="Smaller data and shorter training (about 2 minutes).")
    ] = False,
    workers: Annotated[
        int, typer.Option("--workers", help="Dask worker processes for ingest and eval.")
    ] = 2,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "auto",
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the synthetic data and training.")
    ] = 0,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Replace an earlier demo in --out (only what its .pano-demo-manifest.json "
            "lists). Without it a non-empty --out is refused.",
        ),
    ] = False,
) -> None:
    """Run the whole path on synthetic PVS-HM data and write a one-page report."""
    from pano.pipelines.demo import DemoConfig, run_demo

    res = run_demo(
        DemoConfig(
            out=out, quick=quick, workers=workers, device=device, seed=seed, overwrite=overwrite
        )
    )
    from pano.pipelines.demo_checks import tally
    from pano.pipelines.eval_report import format_tables

    typer.echo(format_tables(res.tables))
    n, up = tally(res.comparisons), tally(res.comparisons, upper=True)
    typer.echo(
        f"checks: against the baselines the models won {n['yes']} and lost {n['no']} of "
        f"{sum(n.values())} comparisons; against the inter-observer upper reference they won "
        f"{up['yes']} of {sum(up.values())} (every comparison is listed in the report)"
    )
    for c in res.comparisons:
        if c.holds is not True and not c.against_upper_reference:
            typer.echo(f"check: {c.name}: {c.outcome}")
    total = sum(res.timings.values())
    typer.echo(f"demo finished in {total:.0f} s; report: {res.report}")


def register(app: typer.Typer) -> None:
    """Add ``pano demo`` to the app."""
    app.command("demo")(demo)
