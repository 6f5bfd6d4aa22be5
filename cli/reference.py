"""Render the CLI reference (``docs/cli.md``) from the typer app itself.

``python -m pano.cli.reference > docs/cli.md`` regenerates it; a test checks that the
checked-in file equals the rendering, so the reference never goes stale.
"""

from __future__ import annotations

from typing import Any

import typer.main

from pano.cli.app import app

_HEADER = (
    "# CLI reference\n\n"
    "Generated from the typer app by `python -m pano.cli.reference > docs/cli.md`;\n"
    "`tests/test_cli_reference.py` fails when this file is out of date.\n"
)


def _walk(cmd: Any, path: list[str], parent: Any) -> list[str]:
    # The command's own context settings (the app's -h/--help), as on the command line.
    settings = {"terminal_width": 100, "max_content_width": 100, **cmd.context_settings}
    ctx = cmd.context_class(cmd, info_name=path[-1], parent=parent, **settings)
    out = [f"\n## `{' '.join(path)}`\n\n```text\n{cmd.get_help(ctx).rstrip()}\n```\n"]
    # typer may bundle its own click: test for the group interface, not the class.
    if hasattr(cmd, "list_commands"):
        for name in sorted(cmd.list_commands(ctx)):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                out += _walk(sub, [*path, name], ctx)
    return out


def render_cli_reference() -> str:
    """Return the Markdown CLI reference of every ``pano`` command and sub-command."""
    root = typer.main.get_command(app)
    return _HEADER + "".join(_walk(root, ["pano"], None))


if __name__ == "__main__":
    print(render_cli_reference(), end="")
