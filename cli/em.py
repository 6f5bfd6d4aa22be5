"""``pano em detect``: eye-movement events, fixation lists and EM ground truth in a store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

em_app = typer.Typer(
    name="em",
    help="Eye movements: event detection on the sphere (I-VT / I-DT) into a store.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def em_overrides(items: list[str]) -> dict[str, Any]:
    """``--set`` items as a nested dict; a bare EmParams field name goes under ``em``.

    So ``--set velocity_threshold_deg_s=100`` is ``em.velocity_threshold_deg_s=100``;
    other keys (``eye_sigma_deg``, ``device``, ``em.method``) are taken as they are.
    """
    from pano.config import parse_overrides
    from pano.em import EmParams

    fields = set(EmParams.model_fields)
    routed = [f"em.{it}" if it.partition("=")[0].strip() in fields else it for it in items]
    return parse_overrides(routed)


@em_app.command("detect")
def detect(
    store: Annotated[str, typer.Argument(metavar="STORE", help="Store path or fsspec URL.")],
    method: Annotated[
        str | None, typer.Option(help="Detection method: ivt (velocity) or idt (dispersion).")
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            help="Named parameter preset, e.g. salient360 (the toolbox's I-VT); --method and "
            "--set override its values."
        ),
    ] = None,
    eye_sigma: Annotated[
        float | None, typer.Option(help="Gaussian sigma of the eye heatmaps in degrees [2].")
    ] = None,
    videos: Annotated[
        str | None, typer.Option(help="Comma list of videos [every complete video with EM].")
    ] = None,
    device: Annotated[
        str | None, typer.Option(help="Eye heatmap device: auto, cpu, cuda, cuda:N [auto].")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace existing events (else refused).")
    ] = False,
    config: Annotated[
        Path | None, typer.Option(help="YAML config (see pipelines/configs/em_detect.yaml).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a parameter: --set velocity_threshold_deg_s=100 (any EmParams "
            "field, or eye_sigma_deg; repeatable).",
        ),
    ] = None,
) -> None:
    """Detect fixations, saccades and blinks in every video's EM samples; write them to STORE.

    Per video: videos/VIDEO/em with per-sample em_event, the fixation lists, and the EM
    ground truth per step (fixation_map counts, eye_heatmap). Every parameter is kept in
    the group's attributes. Bad EM samples stop the run before anything is written.
    Precedence: defaults < --config YAML < PANO_EM__* environment < --set < options.
    """
    from pano.config import deep_merge, load_config
    from pano.pipelines.em_detect import EmDetectConfig, detect_store

    flags: dict[str, Any] = {"store": store}
    if method is not None:
        flags["em"] = {"method": method}
    if preset is not None:
        flags["preset"] = preset
    if eye_sigma is not None:
        flags["eye_sigma_deg"] = eye_sigma
    if videos is not None:
        flags["videos"] = [v.strip() for v in videos.split(",") if v.strip()]
    if device is not None:
        flags["device"] = device
    if overwrite:
        flags["overwrite"] = True
    overrides = deep_merge(em_overrides(set_ or []), flags)
    cfg = load_config(EmDetectConfig, config, overrides, section="em")
    typer.echo(detect_store(cfg).format())  # progress: the log (-v)


def register(app: typer.Typer) -> None:
    """Add ``pano em ...`` to the app."""
    app.add_typer(em_app, name="em")
