"""``pano gaze-infer``: gaze arrows and a per-face CSV for an image or a video."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def gaze_infer_command(
    model: Annotated[
        Path,
        typer.Argument(
            metavar="MODEL",
            help="A pano train-gaze run folder (checkpoints/ inside), its checkpoints/ "
            "folder, or one ckpt-*.pt file.",
        ),
    ],
    input: Annotated[
        Path, typer.Argument(metavar="INPUT", help="An image (png/jpg/bmp/tif/webp) or a video.")
    ],
    out: Annotated[Path, typer.Option(help="Output folder (created).")],
    checkpoint: Annotated[
        str, typer.Option(help="best, latest or a checkpoint file name.")
    ] = "best",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    cascade: Annotated[
        str, typer.Option(help="OpenCV Haar face cascade: alt2, alt or default.")
    ] = "alt2",
    min_face: Annotated[int, typer.Option(help="Smallest face box searched, pixels.")] = 40,
    focal_px: Annotated[
        float | None,
        typer.Option(help="Camera focal length in pixels [the image width: 53 deg wide]."),
    ] = None,
    face_width_mm: Annotated[
        float, typer.Option(help="Assumed width of a face box in mm (sets its depth).")
    ] = 150.0,
    max_frames: Annotated[
        int | None, typer.Option(help="Stop after this many video frames [all].")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace existing outputs.")] = False,
) -> None:
    """Detect faces, normalise them, predict gaze; write arrows and a CSV into OUT.

    Writes OUT/<stem>_gaze.png (image) or OUT/<stem>_gaze.mp4 (video, mp4v) and
    OUT/<stem>_gaze.csv: per frame and face the box, yaw/pitch (radians, GazeHub) and the
    gaze vector in the normalised and the original camera. Without landmarks the camera
    focal, the face depth (from --face-width-mm) and an upright head are assumed; the CSV's
    comment lines state them. No face found: a warning, and a CSV with only its header.
    """
    from pano.pipelines.gaze_infer import GazeInferConfig, gaze_infer

    cfg = GazeInferConfig(
        model=model,
        input=input,
        out=out,
        checkpoint=checkpoint,
        device=device,
        cascade=cascade,
        min_face_px=min_face,
        focal_px=focal_px,
        face_width_mm=face_width_mm,
        max_frames=max_frames,
        overwrite=overwrite,
    )
    res = gaze_infer(cfg)
    typer.echo(f"{res.media}\n{res.csv}\n{res.frames} frame(s), {res.faces} face(s)")


def register(app: typer.Typer) -> None:
    """Add ``pano gaze-infer`` to the app."""
    app.command("gaze-infer")(gaze_infer_command)
