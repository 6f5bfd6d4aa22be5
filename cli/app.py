"""The ``pano`` typer application, global options and the error boundary.

Every command module in this package exposes ``register(app)``; :data:`COMMAND_MODULES`
lists them. :func:`main` is the console-script entry point: it turns
:class:`pano.errors.PanoError` and pydantic validation errors into one line on stderr
and exit code 2 (``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Annotated

import typer

from pano._version import __version__

#: Modules (under ``pano.cli``) whose ``register(app)`` adds commands.
COMMAND_MODULES: list[str] = [
    "demo",
    "synth",
    "ingest",
    "em",
    "export",
    "viewport",
    "train",
    "train_gaze",
    "eval",
    "benchmark",
    "gaze_infer",
]

app = typer.Typer(
    name="pano",
    help="pano: panoramic (360°) video head- and eye-movement research.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
    # -h as well as --help, on the app and (inherited through click's context) every command.
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}
log = logging.getLogger("pano")


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"pano {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv for debug).")
    ] = 0,
    quiet: Annotated[int, typer.Option("--quiet", "-q", count=True, help="Less log output.")] = 0,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Pano: panoramic (360°) video head- and eye-movement research."""
    from pano.progress import setup_logging

    _state["debug"] = debug
    setup_logging(verbose - quiet)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"pano.cli.{name}").register(app)


_register_all()


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text or type(err).__name__


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 unexpected failure, 2 user error)."""
    from pydantic import ValidationError

    from pano.errors import PanoError

    _state["debug"] = False
    args = sys.argv[1:] if argv is None else argv
    try:
        app(args=args, prog_name="pano", standalone_mode=True)
    except SystemExit as ex:
        code = ex.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except (PanoError, ValidationError) as err:
        if _state["debug"] or "--debug" in args:
            raise
        if isinstance(err, ValidationError):
            from pano.config import format_validation_error

            msg = format_validation_error(err, "input")
        else:
            msg = _one_line(err)
        print(f"pano: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pano: interrupted", file=sys.stderr)
        return 130
    return 0
