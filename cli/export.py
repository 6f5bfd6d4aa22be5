"""``pano export <format>``: write a store's data in another tool's format."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

export_app = typer.Typer(
    name="export",
    help="Write a store's head-movement data in another tool's format.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@export_app.command("track")
def track(
    store: Annotated[str, typer.Argument(metavar="STORE", help="Store path or fsspec URL.")],
    out: Annotated[Path, typer.Argument(metavar="OUT", help="Folder to write (created).")],
    alignment: Annotated[
        str,
        typer.Option(
            help="How TRACK's theta sits on the ERP video: pvs-hm (rad(lon + 180), TRACK's "
            "PVS-HM reading) or erp (2 pi u from the left edge) [pvs-hm]."
        ),
    ] = "pvs-hm",
) -> None:
    """Write the resampled head vectors (hm_rs_xyz) as TRACK's OUT/<video>/<user> CSV files.

    Rows t, x, y, z at the store's rs_time (5 Hz = TRACK's 0.2 s); train.txt / val.txt /
    test.txt hold the store's splits. `pano ingest track OUT NEW.zarr` gives the same
    hm_rs_xyz bit for bit.
    """
    from pano.stores.preflight import check_output_folder, check_store_location
    from pano.stores.track import export_track

    check_store_location(store, write=False, option="STORE")
    check_output_folder(out, "OUT")
    files = export_track(store, out, alignment=alignment)
    typer.echo(f"wrote {len(files)} files under {out}")


def register(app: typer.Typer) -> None:
    """Add ``pano export ...`` to the app."""
    app.add_typer(export_app, name="export")
