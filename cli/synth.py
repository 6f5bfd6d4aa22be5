"""``pano synth``: synthetic data in PVS-HM's file formats; ``pano synth-gaze``: faces.

``pano synth-gaze`` writes synthetic faces in GazeHub's or raw MPIIFaceGaze's layout.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from pano.synth import SynthConfig


def synth(
    out_dir: Annotated[
        Path, typer.Argument(metavar="OUT_DIR", help="Folder to write (created if missing).")
    ],
    videos: Annotated[int, typer.Option(help="Number of videos (PVS-HM names; at most 76).")] = 6,
    subjects: Annotated[int, typer.Option(help="Subjects per video (PVS-HM has 58).")] = 12,
    seconds: Annotated[float, typer.Option(help="Length of each video in seconds.")] = 10.0,
    width: Annotated[
        int, typer.Option(help="Frame width, a multiple of 4, >= 128; height = width/2.")
    ] = 640,
    fps: Annotated[float, typer.Option(help="Frames per second.")] = 30.0,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 0,
    samples_per_frame: Annotated[
        int, typer.Option(help="HM/EM samples per frame (PVS-HM: 2).")
    ] = 2,
    em: Annotated[
        bool, typer.Option("--em/--no-em", help="Also write the eye-movement file.")
    ] = True,
    nan_fraction: Annotated[
        float, typer.Option(help="Fraction of (sample, subject) entries set to NaN.")
    ] = 0.002,
    crf: Annotated[
        int, typer.Option(help="x264 quality (constant rate factor, 0-51; lower is better).")
    ] = 18,
    preset: Annotated[
        str,
        typer.Option(
            help="x264 speed preset: ultrafast ... veryslow (ultrafast halves 4K encoding time)."
        ),
    ] = "veryfast",
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a data set already in OUT_DIR.")
    ] = False,
    format_: Annotated[
        str,
        typer.Option(
            "--format",
            help="pvs-hm (videos + .mat, the default) or a raw format of another data set "
            "(pano.synth.formats.SYNTH_FORMATS, e.g. track): traces only, no videos.",
        ),
    ] = "pvs-hm",
    rate_hz: Annotated[
        float, typer.Option(help="Sample rate of the simulated traces (formats other than pvs-hm).")
    ] = 60.0,
) -> None:
    """Write synthetic videos, head (HM) and eye (EM) movement .mat files and manifest.json.

    The files have exactly PVS-HM's layout (see docs/synthetic.md), so every pano command
    that reads PVS-HM reads them too. With --format NAME the same kind of simulated heads
    (pano.synth.simulate_recordings) are written in that data set's raw format instead.
    """
    from pydantic import ValidationError

    from pano.config import format_validation_error
    from pano.errors import ConfigError
    from pano.synth import MANIFEST_FILE, SynthConfig, write_synthetic_dataset

    try:
        cfg = SynthConfig.model_validate(
            {
                "videos": videos, "subjects": subjects, "seconds": seconds, "width": width,
                "fps": fps, "seed": seed, "samples_per_frame": samples_per_frame, "em": em,
                "nan_fraction": nan_fraction, "crf": crf, "preset": preset,
            }
        )  # fmt: skip
    except ValidationError as err:
        msg = format_validation_error(err, "pano synth")
        for name in SynthConfig.model_fields:
            msg = msg.replace(f"field '{name}'", f"option --{name.replace('_', '-')}")
        raise ConfigError(msg) from err
    t0 = time.perf_counter()
    if format_ != "pvs-hm":
        _synth_format(out_dir, format_, cfg, rate_hz, overwrite)
        return
    write_synthetic_dataset(out_dir, cfg, overwrite=overwrite)
    secs = time.perf_counter() - t0
    kinds = "HM+EM" if cfg.em else "HM"
    typer.echo(
        f"wrote {cfg.videos} videos x {cfg.subjects} subjects x {cfg.seconds:g} s "
        f"({cfg.width}x{cfg.height}, {cfg.fps:g} fps, {kinds}, seed {cfg.seed}) in {secs:.1f} s"
    )
    typer.echo(str(Path(out_dir) / MANIFEST_FILE))


def _synth_format(
    out_dir: Path, name: str, cfg: SynthConfig, rate_hz: float, overwrite: bool
) -> None:
    """``pano synth --format NAME``: simulated traces written by that format's writer."""
    from pano.errors import StoreExistsError
    from pano.synth import simulate_recordings
    from pano.synth.formats import get_synth_format

    fmt = get_synth_format(name)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise StoreExistsError(
            f"{out_dir}: the folder is not empty; pass --overwrite or choose another OUT_DIR"
        )
    t0 = time.perf_counter()
    data = simulate_recordings(
        n_videos=cfg.videos, n_subjects=cfg.subjects, duration_s=cfg.seconds,
        rate_hz=rate_hz, fps=cfg.fps, seed=cfg.seed,
    )  # fmt: skip
    files = fmt.write(data, out_dir)
    typer.echo(
        f"wrote {len(files)} {name} files: {len(data.videos)} videos x "
        f"{len(data.recordings) // max(1, len(data.videos))} subjects x "
        f"{data.videos[0].duration_s:g} s (seed {data.seed}) in {time.perf_counter() - t0:.1f} s"
    )
    typer.echo(str(out_dir))


def synth_gaze(
    out_dir: Annotated[
        Path, typer.Argument(metavar="OUT_DIR", help="Folder to write (created if missing).")
    ],
    layout: Annotated[
        str,
        typer.Option(
            help="gazehub (GazeHub's processed MPIIFaceGaze: Image/, Label/pXX.label) or "
            "mpiifacegaze-raw (the original data set: pXX/dayNN/*.jpg, pXX.txt, Calibration/)."
        ),
    ] = "gazehub",
    persons: Annotated[int, typer.Option(help="Persons p00, p01, ... (MPIIFaceGaze has 15).")] = 5,
    samples_per_person: Annotated[
        int, typer.Option(help="Images per person (MPIIFaceGaze: 3000).")
    ] = 300,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 0,
    size: Annotated[
        str,
        typer.Option(
            help="Raw camera image size WIDTHxHEIGHT; the camera (and so both layouts' "
            "annotations) scales with it."
        ),
    ] = "640x480",
    supersample: Annotated[
        int, typer.Option(help="Rays per pixel along each axis (anti-aliasing), 1-4.")
    ] = 2,
    gaze_scale: Annotated[
        bool,
        typer.Option(
            "--gaze-scale/--no-gaze-scale",
            help="GazeHub's 3DGaze = normalise(S R g) (its MPIIFaceGaze script's scale=True), "
            "or R g.",
        ),
    ] = True,
    device: Annotated[str, typer.Option(help="torch device for rendering (cpu, cuda).")] = "cpu",
    workers: Annotated[
        int, typer.Option(help="Processes rendering persons in parallel (same files).")
    ] = 1,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Write into a folder that is not empty.")
    ] = False,
) -> None:
    """Render synthetic faces whose eyes look at known targets, in a gaze data set's layout.

    A 3-D head (face, nose, eyelids, eyeballs with iris and pupil turned to the target,
    per-person colours and geometry, head pose, lighting, noise) is ray-cast through the
    person's camera (raw layout) or GazeHub's normalised camera (gazehub layout). The same
    seed gives the same scenes in both layouts. See docs/gaze.md.
    """
    from pydantic import ValidationError

    from pano.config import format_validation_error
    from pano.errors import ConfigError, StoreExistsError
    from pano.synth.gaze_layouts import GazeSynthConfig, write_synthetic_gaze

    parts = size.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ConfigError(
            f"pano synth-gaze: option --size {size!r}: write WIDTHxHEIGHT, e.g. 640x480"
        )
    try:
        cfg = GazeSynthConfig.model_validate(
            {
                "layout": layout, "persons": persons, "samples_per_person": samples_per_person,
                "seed": seed, "raw_width": int(parts[0]), "raw_height": int(parts[1]),
                "supersample": supersample, "gaze_scale": gaze_scale, "device": device,
                "workers": workers,
            }
        )  # fmt: skip
    except ValidationError as err:
        msg = format_validation_error(err, "pano synth-gaze")
        msg = msg.replace("field 'raw_width'", "option --size (width)")
        msg = msg.replace("field 'raw_height'", "option --size (height)")
        for name in GazeSynthConfig.model_fields:
            msg = msg.replace(f"field '{name}'", f"option --{name.replace('_', '-')}")
        raise ConfigError(msg) from err
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise StoreExistsError(
            f"{out_dir}: the folder is not empty; pass --overwrite or choose another OUT_DIR"
        )
    res = write_synthetic_gaze(out_dir, cfg)
    typer.echo(
        f"wrote {res.images} images ({res.persons} persons, layout {res.layout}, seed {cfg.seed}) "
        f"in {res.total_s:.1f} s ({1000 * res.render_s / max(1, res.images):.1f} ms rendering "
        "per image)"
    )
    typer.echo(str(out_dir))


def register(app: typer.Typer) -> None:
    """Add ``pano synth`` and ``pano synth-gaze`` to the app."""
    app.command("synth")(synth)
    app.command("synth-gaze")(synth_gaze)
