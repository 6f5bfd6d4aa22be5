"""``pano viewport``: draw the subjects' viewports of a video (contact sheet or grid video)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pano.fov import VIEWPORT_FOV, FoV


def _pair(text: str, option: str, cast: type) -> tuple:
    from pano.errors import ConfigError

    parts = text.lower().replace("×", "x").split("x")
    try:
        values = tuple(cast(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) <= 0:
        raise ConfigError(f"option {option}: expected WxH like 90x90 (or one number), got {text!r}")
    return values


def _subjects(text: str | None) -> list[int] | None:
    from pano.errors import ConfigError

    if text is None:
        return None
    try:
        out = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        out = []
    if not out or min(out) < 0:
        raise ConfigError(f"option --subjects: expected subject indices like 0,1,2, got {text!r}")
    return out


def viewport(
    store: Annotated[str, typer.Argument(metavar="STORE", help="pano store (path or URL).")],
    video: Annotated[str, typer.Option("--video", help="Video group name, e.g. A380.")],
    out: Annotated[
        Path,
        typer.Option("--out", help="Output: .png (contact sheet) or .mp4 (grid video)."),
    ],
    subjects: Annotated[
        str | None,
        typer.Option(help="Subject indices, comma separated (default: the first 4)."),
    ] = None,
    fov: Annotated[
        str, typer.Option(help="Field of view HxV in degrees, each < 180 (one number: both).")
    ] = str(VIEWPORT_FOV),
    size: Annotated[str, typer.Option(help="Viewport tile size WxH in pixels.")] = "224x224",
    start: Annotated[float, typer.Option(help="Start time in seconds.")] = 0.0,
    seconds: Annotated[
        float | None, typer.Option(help="Duration in seconds (default: to the end).")
    ] = None,
    videos_dir: Annotated[
        Path | None,
        typer.Option(help="Folder of the videos (default: the one recorded at ingest)."),
    ] = None,
    rows: Annotated[int, typer.Option(help="Time points in a .png contact sheet.")] = 4,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    backend: Annotated[
        str, typer.Option(help="Video decoder: auto, pyav, decord or torchcodec.")
    ] = "auto",
) -> None:
    """Draw the subjects' viewports over time next to the ERP frame with their positions.

    Each subject has one colour: its dot and viewport outline on the equirectangular frame
    and the frame of its viewport tile. A .png shows ROWS evenly spaced moments, an .mp4
    every frame of the range.
    """
    from pano.pipelines.viewport import render_viewports

    w, h = _pair(size, "--size", int)
    path = render_viewports(
        store,
        video,
        out,
        subjects=_subjects(subjects),
        fov_deg=FoV.parse(fov, "option --fov"),
        size=(h, w),
        start_s=start,
        seconds=seconds,
        videos_dir=videos_dir,
        rows=rows,
        device=device,
        backend=backend,
    )
    typer.echo(str(path))


def register(app: typer.Typer) -> None:
    """Add ``pano viewport`` to the app."""
    app.command("viewport")(viewport)
