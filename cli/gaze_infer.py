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
            help="A pano train-gaze fold folder (checkpoints/ inside), its checkpoints/ "
            "folder, one ckpt-*.pt file, or a seed ensemble's fold folder (members/ inside: "
            "every member predicts, their gaze vectors are averaged).",
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
    person_bn: Annotated[
        bool | None,
        typer.Option(
            "--person-bn/--no-person-bn",
            help="Person-wise BatchNorm (AdaBN, as train-gaze's predict_person_bn) for a "
            "video of one person: a first pass sets the BatchNorm statistics from the "
            "video's largest face per frame, then every frame is predicted. [the model's own "
            "predict_person_bn; off when it records none]",
            show_default=False,
        ),
    ] = None,
    person_bn_min_faces: Annotated[
        int, typer.Option(help="Fewest faces a video needs for --person-bn.")
    ] = 8,
    hflip: Annotated[
        bool | None,
        typer.Option(
            "--hflip/--no-hflip",
            help="Test-time mirroring (as train-gaze's predict_hflip): each face's gaze is "
            "the normalised sum of the model's unit gaze for the face and, x negated, for "
            "its mirror image (eye crops swapped and flipped); sigma the mean of the two. "
            "[the model's own predict_hflip; off when it records none]",
            show_default=False,
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

    --person-bn (default: the model's own predict_person_bn) predicts a video with BatchNorm
    statistics of its own faces, as train-gaze does with predict_person_bn; an image, a
    video with fewer than --person-bn-min-faces faces or a model without BatchNorm cannot
    have it (an error when asked for, else a warning and per-face prediction). The CSV's
    "# person_bn:" line says whether it was applied and on how many faces.

    --hflip (default: the model's own predict_hflip) predicts every face also mirrored and
    combines the two, as train-gaze's reported LOPO figures are; the CSV's "# hflip:" line
    says whether it was applied and whether the checkpoint or the option chose it.
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
        person_bn=person_bn,
        person_bn_min_faces=person_bn_min_faces,
        hflip=hflip,
        overwrite=overwrite,
    )
    res = gaze_infer(cfg)
    gone = f", {res.no_eyes} without eyes found (no gaze)" if res.no_eyes else ""
    pbn = f", person-BN on {res.person_bn_faces} faces" if res.person_bn else ""
    flip = ", mirrored (hflip)" if res.hflip else ""
    typer.echo(
        f"{res.media}\n{res.csv}\n{res.frames} frame(s), {res.faces} face(s){gone}{pbn}{flip}"
    )


def register(app: typer.Typer) -> None:
    """Add ``pano gaze-infer`` to the app."""
    app.command("gaze-infer")(gaze_infer_command)
