"""The checked-in CLI reference equals what the typer app renders now."""

from __future__ import annotations

from pathlib import Path

from pano.cli.reference import render_cli_reference


def test_cli_reference_is_current() -> None:
    doc = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
    assert doc.exists(), "run: python -m pano.cli.reference > docs/cli.md"
    assert doc.read_text(encoding="utf-8") == render_cli_reference(), (
        "docs/cli.md is stale: run `python -m pano.cli.reference > docs/cli.md`"
    )
