"""``pano synth``: write a synthetic data set in PVS-HM's file formats."""

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


def register(app: typer.Typer) -> None:
    """Add ``pano synth`` to the app."""
    app.command("synth")(synth)
