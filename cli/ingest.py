"""``pano ingest pvs-hm`` / ``<format>`` / ``gazehub`` / ``mpiifacegaze`` and ``pano info``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup


class _FormatsGroup(TyperGroup):
    """``pano ingest``: an unknown format name is one line listing the known formats."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            from pano.stores.formats import get_format

            get_format(name)  # raises UnknownNameError naming the known formats (exit 2)
        return super().resolve_command(ctx, args)


ingest_app = typer.Typer(
    name="ingest",
    cls=_FormatsGroup,
    help="Build a pano store (Zarr v3) from a data set's recordings (and, optionally, videos).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


# Options shared by `pano ingest pvs-hm` and `pano ingest <format>`.
HeatmapSigmaOpt = Annotated[
    float | None, typer.Option(help="Heatmap Gaussian sigma in degrees [7].")
]
HeatmapSizeOpt = Annotated[str | None, typer.Option(help="Heatmap size WIDTHxHEIGHT [360x180].")]
StepFramesOpt = Annotated[int | None, typer.Option(help="Video frames per ground-truth step [10].")]
DeviceOpt = Annotated[
    str | None, typer.Option(help="Heatmap device: auto, cpu, cuda, cuda:N [auto].")
]
SchedulerOpt = Annotated[str | None, typer.Option(help="Address of an existing Dask scheduler.")]
EmDetectOpt = Annotated[
    bool,
    typer.Option(
        "--em-detect",
        help="Then detect eye-movement events (as pano em detect) where there are none.",
    ),
]
OverwriteOpt = Annotated[
    bool, typer.Option("--overwrite", help="Replace an existing store instead of resuming.")
]


def _size(text: str) -> tuple[int, int]:
    from pano.errors import ConfigError

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise ConfigError(f"--heatmap-size {text!r}: expected WIDTHxHEIGHT, e.g. 360x180") from err
    return w, h


def _heat(sigma: float | None, size: str | None, step_frames: int | None) -> dict[str, Any]:
    """The ``heatmap`` section given by --heatmap-sigma / --heatmap-size / --step-frames."""
    heat: dict[str, Any] = {}
    if sigma is not None:
        heat["sigma_deg"] = sigma
    if size is not None:
        heat["width"], heat["height"] = _size(size)
    if step_frames is not None:
        heat["step_frames"] = step_frames
    return heat


def _flags(values: dict[str, Any], **switches: bool) -> dict[str, Any]:
    """Config overrides from command-line options.

    The values that are given (``None`` = not given; paths as text) and the switches that
    are on (``overwrite=True`` -> ``overwrite: true``).
    """
    flags = {k: str(v) if isinstance(v, Path) else v for k, v in values.items() if v is not None}
    flags.update({k: True for k, on in switches.items() if on})
    return flags


def _config(model: Any, config: Path | None, set_: list[str] | None, flags: dict[str, Any]) -> Any:
    """``model`` loaded with precedence defaults < YAML < environment < --set < options."""
    from pano.config import deep_merge, load_config, parse_overrides

    return load_config(model, config, deep_merge(parse_overrides(set_ or []), flags),
                       section="ingest")  # fmt: skip


# Options shared by `pano ingest gazehub` and `pano ingest mpiifacegaze`.
GazeStoreOpt = Annotated[
    str | None,
    typer.Option(help="Output store: a path (OUT.zarr) or fsspec URL; may hold videos too."),
]
BlockOpt = Annotated[
    int | None, typer.Option(help="Samples per part (one Dask task; a multiple of 32) [512].")
]
PartWorkersOpt = Annotated[
    int | None,
    typer.Option(help="Dask worker processes [one per part, up to the CPU count]; 0 = in-process."),
]
GroupOverwriteOpt = Annotated[
    bool,
    typer.Option("--overwrite", help="Replace gaze/NAME (only that group) instead of resuming it."),
]


@ingest_app.command("pvs-hm")
def pvs_hm(
    videos: Annotated[Path | None, typer.Option(help="Folder of the mp4 videos.")] = None,
    hm: Annotated[
        Path | None, typer.Option(help="Head-movement .mat (FULLdata_per_video_frame.mat).")
    ] = None,
    store: Annotated[
        str | None, typer.Option(help="Output store: a path (OUT.zarr) or fsspec URL.")
    ] = None,
    em: Annotated[
        Path | None, typer.Option(help="Eye-movement .mat (EMdata_per_video_frame.mat), optional.")
    ] = None,
    traces: Annotated[
        Path | None,
        typer.Option(
            help="Folder of PVS-HM's raw txt traces (<user>/<video>.txt). Beside --hm: both must "
            "agree (largest difference per video printed; refused beyond --traces-tolerance). "
            "Without --hm: the txt traces are ingested (as 'pano ingest pvs-hm-txt')."
        ),
    ] = None,
    traces_tolerance: Annotated[
        float | None,
        typer.Option(help="Largest accepted txt-.mat difference, degrees [0.001]."),
    ] = None,
    heatmap_sigma: HeatmapSigmaOpt = None,
    heatmap_size: HeatmapSizeOpt = None,
    step_frames: StepFramesOpt = None,
    device: DeviceOpt = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Dask worker processes [one per video, up to the CPU count]; 0 = in-process."
        ),
    ] = None,
    scheduler: SchedulerOpt = None,
    overwrite: OverwriteOpt = False,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify", help="Read every chunk of the complete videos; rewrite damaged ones."
        ),
    ] = False,
    em_detect: EmDetectOpt = False,
    config: Annotated[
        Path | None, typer.Option(help="YAML config (see pipelines/configs/ingest.yaml).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Override a config key: --set heatmap.sigma_deg=5 (repeatable)."
        ),
    ] = None,
) -> None:
    """Ingest PVS-HM-format data (videos + FULLdata/EMdata .mat, raw txt traces) into a store.

    Precedence: defaults < --config YAML < PANO_INGEST__* environment < --set < options.
    Re-running finishes an interrupted ingest; on a complete store it does nothing.
    """
    from pano.pipelines.ingest import IngestConfig, ingest_pvs_hm

    heat = _heat(heatmap_sigma, heatmap_size, step_frames) or None
    if traces is not None and hm is None and config is None:
        _ingest_txt_only(traces, store, videos, em, workers, device, overwrite, verify, heat, set_)
        return
    flags = _flags(
        {"videos": videos, "hm": hm, "store": store, "em": em, "device": device,
         "workers": workers, "scheduler": scheduler, "traces": traces,
         "traces_tolerance_deg": traces_tolerance, "heatmap": heat},
        overwrite=overwrite, verify=verify, em_detect=em_detect,
    )  # fmt: skip
    typer.echo(ingest_pvs_hm(_config(IngestConfig, config, set_, flags)).format())


@ingest_app.command("gazehub")
def gazehub(
    root: Annotated[
        Path | None,
        typer.Option(help="GazeHub's folder of the data set (holding Image/ and Label/)."),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="Which GazeHub data set: mpiifacegaze, gaze360, eyediap.")
    ] = None,
    store: GazeStoreOpt = None,
    name: Annotated[
        str | None, typer.Option(help="Group name under gaze/ [the --dataset].")
    ] = None,
    block: BlockOpt = None,
    workers: PartWorkersOpt = None,
    scheduler: SchedulerOpt = None,
    overwrite: GroupOverwriteOpt = False,
    config: Annotated[
        Path | None, typer.Option(help="YAML config (see pipelines/configs/ingest_gazehub.yaml).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config key: --set block=1024 (repeatable)."),
    ] = None,
) -> None:
    """Ingest a GazeHub-processed gaze data set (Label/*.label + Image/) into gaze/NAME.

    Face and eye crops become chunked uint8 arrays, 2DGaze [yaw, pitch] radians becomes unit
    vectors (camera x right, y down, z forward), with head pose, subjects, the mirrored flag
    and the protocol (leave-one-person-out, or Gaze360's train/val/test). Every label row is
    checked before the store is touched. Re-running finishes an interrupted ingest; on a
    complete group it does nothing. See docs/gaze.md.
    """
    from pano.pipelines.ingest_gaze import GazeHubIngestConfig, ingest_gazehub

    flags = _flags(
        {"root": root, "dataset": dataset, "store": store, "name": name, "block": block,
         "workers": workers, "scheduler": scheduler},
        overwrite=overwrite,
    )  # fmt: skip
    typer.echo(ingest_gazehub(_config(GazeHubIngestConfig, config, set_, flags)).format())


def _ingest_txt_only(
    traces: Path,
    store: str | None,
    videos: Path | None,
    em: Path | None,
    workers: int | None,
    device: str | None,
    overwrite: bool,
    verify: bool,
    heat: dict[str, Any] | None,
    set_: list[str] | None,
) -> None:
    """``pano ingest pvs-hm --traces DIR`` without ``--hm``: the txt traces alone."""
    from pano.errors import ConfigError
    from pano.pipelines.ingest_traces import TraceIngestConfig, ingest_traces

    if store is None:
        raise ConfigError("--store: missing; give the output store (OUT.zarr)")
    if em is not None:
        raise ConfigError(
            "--em needs --hm: the txt traces hold head movements only; drop --em or add --hm"
        )
    flags = _flags(
        {"format": "pvs-hm-txt", "source": traces, "store": store, "videos": videos,
         "workers": workers, "device": device, "heatmap": heat},
        overwrite=overwrite, verify=verify,
    )  # fmt: skip
    typer.echo(ingest_traces(_config(TraceIngestConfig, None, set_, flags)).format())


def _trace_command(name: str, summary: str) -> Callable[..., None]:
    """The ``pano ingest <name>`` command of one trace format of ``FORMATS``."""

    def command(
        source: Annotated[
            Path, typer.Argument(metavar="SOURCE", help="The downloaded data set (folder or file).")
        ],
        store: Annotated[
            str, typer.Argument(metavar="STORE", help="Output store: a path (OUT.zarr) or URL.")
        ],
        videos: Annotated[
            Path | None,
            typer.Option(
                help="Folder of the video files (optional: traces alone are enough "
                "for ground truth, forecasting and eval)."
            ),
        ] = None,
        split: Annotated[
            str | None,
            typer.Option(
                help="auto (the data set's own, DHP's for PVS-HM, else all train), "
                "dataset, track (TRACK's published split), dhp, none [auto]."
            ),
        ] = None,
        heatmap_sigma: HeatmapSigmaOpt = None,
        heatmap_size: HeatmapSizeOpt = None,
        step_frames: StepFramesOpt = None,
        device: DeviceOpt = None,
        workers: Annotated[
            int | None, typer.Option(help="Dask worker processes; 0 = in-process.")
        ] = None,
        scheduler: SchedulerOpt = None,
        overwrite: OverwriteOpt = False,
        verify: Annotated[
            bool, typer.Option("--verify", help="Read every chunk; rewrite damaged videos.")
        ] = False,
        em_detect: EmDetectOpt = False,
        config: Annotated[Path | None, typer.Option(help="YAML config (section 'ingest').")] = None,
        set_: Annotated[
            list[str] | None,
            typer.Option(
                "--set",
                help="Override a config key (repeatable): --set val_fraction=0.1, "
                "--set nominal_fps=30, reader options as --set options.KEY=VALUE.",
            ),
        ] = None,
    ) -> None:
        from pano.pipelines.ingest_traces import TraceIngestConfig, ingest_traces

        flags = _flags(
            {"format": name, "source": source, "store": store, "videos": videos, "split": split,
             "device": device, "workers": workers, "scheduler": scheduler,
             "heatmap": _heat(heatmap_sigma, heatmap_size, step_frames) or None},
            overwrite=overwrite, verify=verify, em_detect=em_detect,
        )  # fmt: skip
        typer.echo(ingest_traces(_config(TraceIngestConfig, config, set_, flags)).format())

    command.__doc__ = (
        f"{summary}\n\nReads SOURCE with the '{name}' reader and writes one group per video "
        "(docs/datasets.md). Re-running finishes an interrupted ingest; on a complete store it "
        "does nothing. Bad input changes nothing in the store."
    )
    command.__name__ = f"ingest_{name.replace('-', '_')}"
    return command


@ingest_app.command("mpiifacegaze")
def mpiifacegaze(
    raw: Annotated[
        Path | None,
        typer.Option(help="The ORIGINAL MPIIFaceGaze folder (holding p00 .. p14)."),
    ] = None,
    store: GazeStoreOpt = None,
    persons: Annotated[
        str | None, typer.Option(help="Comma-separated persons, e.g. p00,p01 [all present].")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Group name under gaze/ [mpiifacegaze-raw].")
    ] = None,
    distance: Annotated[
        float | None, typer.Option(help="Virtual camera distance to the face centre, mm [600].")
    ] = None,
    focal: Annotated[
        float | None, typer.Option(help="Virtual camera focal length, px [960].")
    ] = None,
    size: Annotated[
        int | None, typer.Option(help="Normalised face image size, px (square) [224].")
    ] = None,
    device: Annotated[
        str | None, typer.Option(help="Warp device: auto, cpu, cuda, cuda:N [auto].")
    ] = None,
    block: BlockOpt = None,
    limit: Annotated[
        int | None, typer.Option(help="Only the first LIMIT lines of each person (previews).")
    ] = None,
    workers: PartWorkersOpt = None,
    scheduler: SchedulerOpt = None,
    overwrite: GroupOverwriteOpt = False,
    config: Annotated[
        Path | None,
        typer.Option(help="YAML config (see pipelines/configs/ingest_mpiifacegaze.yaml)."),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config key: --set normalisation.focal_px=900."),
    ] = None,
) -> None:
    """Normalise the original MPIIFaceGaze (pXX.txt, Camera.mat, JPEGs) into gaze/NAME.

    The data normalisation is pano's own (Zhang, Sugano, Bulling ETRA 2018; GazeHub's
    600 mm, focal 960, 224x224 by default): a virtual camera looks at the annotated face
    centre, the image is warped with kornia (batched, on --device), the gaze gt - fc is
    rotated into the normalised camera; right-eye samples are not mirrored. Every
    annotation line is checked before the store is touched; re-running finishes an
    interrupted ingest. Protocol: leave-one-person-out. See docs/gaze.md.
    """
    from pano.pipelines.ingest_mpiifacegaze import RawMpiiIngestConfig, ingest_mpiifacegaze_raw

    norm = _flags({"distance_mm": distance, "focal_px": focal, "width_px": size,
                   "height_px": size})  # fmt: skip
    flags = _flags(
        {"raw": raw, "store": store, "name": name, "device": device, "block": block,
         "limit": limit, "workers": workers, "scheduler": scheduler, "normalisation": norm or None,
         "persons": None if persons is None
         else [p.strip() for p in persons.split(",") if p.strip()]},
        overwrite=overwrite,
    )  # fmt: skip
    typer.echo(ingest_mpiifacegaze_raw(_config(RawMpiiIngestConfig, config, set_, flags)).format())


def register_formats() -> None:
    """One ``pano ingest <format>`` per entry of :data:`pano.stores.formats.FORMATS`."""
    from pano.stores.formats import FORMATS

    for name, fmt in sorted(FORMATS.items()):
        ingest_app.command(name, help=None)(_trace_command(name, fmt.summary))


def info(
    store: Annotated[str, typer.Argument(metavar="STORE", help="Store path or fsspec URL.")],
    verify: Annotated[
        bool,
        typer.Option(
            "--verify", help="Also read every chunk of every complete group (slow on big stores)."
        ),
    ] = False,
) -> None:
    """Summarise a pano store: videos, totals, size, prediction runs and results.

    Per video: split, frames, fps, subjects, samples, NaNs, steps; then the prediction
    runs (predictions/RUN) and evaluation results (results/RUN) the store holds, with
    results flagged [stale: ...] when the predictions they scored have changed since.
    Groups marked complete with arrays missing are listed as damaged. With --verify every
    chunk is read too; damage found exits with code 2.
    """
    from pano.errors import StoreError
    from pano.stores import store_summary

    typer.echo(store_summary(store).format())
    if verify:
        from pano.errors import VideoError
        from pano.stores.verify import verify_store, verify_video_files

        report = verify_store(store, full=True)
        typer.echo(report.format())
        if not report.ok:
            raise StoreError(
                f"{report.one_line()}; re-run `pano ingest` with the same inputs and --verify to "
                "rewrite damaged videos (prediction runs: `pano predict-hm`; results: `pano eval`)"
            )
        files = verify_video_files(store)
        typer.echo(files.format())
        if files.mismatched:
            raise VideoError(
                f"{files.mismatched[0]}"
                + (f" (and {len(files.mismatched) - 1} more)" if len(files.mismatched) > 1 else "")
                + "; put the original file back, or re-run `pano ingest --overwrite` with it"
            )


def register(app: typer.Typer) -> None:
    """Add ``pano ingest ...`` and ``pano info`` to the app."""
    register_formats()
    app.add_typer(ingest_app, name="ingest")
    app.command("info")(info)
