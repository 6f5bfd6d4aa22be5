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
    eyes: Annotated[
        str,
        typer.Option(
            help="Eye-crop models only: how the eyes are found in the normalised face. haar: "
            "OpenCV's eye cascade, both eyes needed (a face without them gets eyes=none and "
            "no gaze); auto: the projected face model stands in for a missed eye; model: the "
            "projection only (coarse: ~12 px off on synthetic faces)."
        ),
    ] = "haar",
    face_model: Annotated[
        Path | None,
        typer.Option(
            help="Eye-crop models: the training data's 6-point face model (.mat, variable "
            "model 3x6 mm, as '6 points-based face model.mat') [MPIIFaceGaze's]."
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace existing outputs.")] = False,
) -> None:
    """Detect faces, normalise them, predict gaze; write arrows and a CSV into OUT.

    Writes OUT/<stem>_gaze.png (image) or OUT/<stem>_gaze.mp4 (video, mp4v) and
    OUT/<stem>_gaze.csv: per frame and face the box, yaw/pitch (radians, GazeHub) and the
    gaze vector in the normalised and the original camera. Without landmarks the camera
    focal, the face depth (from --face-width-mm) and an upright head are assumed; the CSV's
    comment lines state them. No face found: a warning, and a CSV with only its header.

    Models with an eye stream (model.eyes: true) get GazeHub's eye crops (36x60 grey,
    equalised; left = the eye on the image's left) cut from the 224-px normalised face
    around the eyes OpenCV's Haar eye cascade finds there, searched near the eye corners of
    a generic 6-point face model projected with the assumed pose; the crop width comes
    from the found inter-eye distance and the face model's corner/inter-eye ratio. The CSV
    column eyes says how each face's eyes were found (haar, haar+model, model, none).
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
        eyes=eyes,  # type: ignore[arg-type]  # checked by the config (haar, auto, model)
        face_model=face_model,
        overwrite=overwrite,
    )
    res = gaze_infer(cfg)
    gone = f", {res.no_eyes} without eyes found (no gaze)" if res.no_eyes else ""
    typer.echo(f"{res.media}\n{res.csv}\n{res.frames} frame(s), {res.faces} face(s){gone}")


def register(app: typer.Typer) -> None:
    """Add ``pano gaze-infer`` to the app."""
    app.command("gaze-infer")(gaze_infer_command)
