"""Config loading (YAML < env < --set), the error boundary of the CLI, and packaging guards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from pano import errors
from pano.cli.app import main
from pano.config import PanoConfig, load_config, parse_overrides
from pano.device import resolve_device


class Inner(PanoConfig):
    lr: float = Field(1e-3, gt=0)
    hidden: list[int] = [32]


class Demo(PanoConfig):
    name: str = "x"
    train: Inner = Inner()


def test_precedence_yaml_env_set(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("name: fromfile\ntrain:\n  lr: 0.5\n  hidden: [8, 8]\n")
    cfg = load_config(Demo, f)
    assert cfg.name == "fromfile" and cfg.train.lr == 0.5 and cfg.train.hidden == [8, 8]
    env = {"PANO_TRAIN__LR": "0.25", "PANO_NAME__X": "ignored-not-a-field?"}
    cfg = load_config(Demo, f, environ={"PANO_TRAIN__LR": "0.25"})
    assert cfg.train.lr == 0.25
    cfg = load_config(
        Demo, f, overrides=["train.lr=1e-4", "name=cli"], environ={"PANO_TRAIN__LR": "0.25"}
    )
    assert cfg.train.lr == 1e-4 and cfg.name == "cli"
    with pytest.raises(errors.ConfigError, match="name"):
        load_config(Demo, f, environ=env)


def test_bad_value_names_file_and_field(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("train:\n  lr: -1\n")
    with pytest.raises(errors.ConfigError) as ei:
        load_config(Demo, f)
    msg = str(ei.value)
    assert str(f) in msg and "train.lr" in msg and "greater than 0" in msg and "\n" not in msg


def test_a_validators_message_is_shown_without_pydantics_prefix() -> None:
    from pydantic import field_validator

    class Checked(PanoConfig):
        mode: str = "a"

        @field_validator("mode")
        @classmethod
        def _known(cls, v: str) -> str:
            if v != "a":
                raise ValueError(f"unknown mode {v!r}: use a")
            return v

    with pytest.raises(errors.ConfigError) as ei:
        load_config(Checked, overrides=["mode=b"])
    assert "field 'mode': unknown mode 'b': use a (got 'b')" in str(ei.value)
    assert "Value error" not in str(ei.value)


def test_unknown_field_and_bad_yaml(tmp_path: Path) -> None:
    f = tmp_path / "typo.yaml"
    f.write_text("trian:\n  lr: 1\n")
    with pytest.raises(errors.ConfigError, match=r"trian.*unknown field"):
        load_config(Demo, f)
    f.write_text("train: [unclosed\n")
    with pytest.raises(errors.ConfigError, match="not valid YAML"):
        load_config(Demo, f)
    with pytest.raises(errors.ConfigError, match="not found"):
        load_config(Demo, tmp_path / "missing.yaml")
    with pytest.raises(errors.ConfigError, match="key=value"):
        parse_overrides(["novalue"])


def test_errors_inherit_builtins() -> None:
    assert issubclass(errors.StoreNotFoundError, FileNotFoundError)
    assert issubclass(errors.ConfigError, ValueError)
    assert issubclass(errors.DeviceError, RuntimeError)
    assert all(issubclass(c, errors.PanoError) for c in (errors.VideoError, errors.ShapeError))


def test_device_resolution() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(errors.DeviceError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(errors.DeviceError):
        resolve_device("tpu")


def test_cli_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert "pano" in capsys.readouterr().out
    assert main(["--help"]) == 0
    assert "Usage" in capsys.readouterr().out
    assert main(["no-such-command"]) == 2


def test_dash_h_is_help_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    import typer

    from pano.cli.app import app

    def paths(cmd: Any, prefix: list[str]) -> list[list[str]]:
        out = [prefix]
        if hasattr(cmd, "commands"):  # a group (typer's own click)
            for name, sub in cmd.commands.items():
                out += paths(sub, [*prefix, name])
        return out

    every = paths(typer.main.get_command(app), [])
    assert ["train-hm"] in every and ["ingest", "pvs-hm"] in every
    for argv in every:
        assert main([*argv, "-h"]) == 0, argv
        out = capsys.readouterr().out
        assert out.startswith(f"Usage: pano {' '.join(argv)}".rstrip()), (argv, out[:200])


def test_cli_turns_pano_errors_into_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import typer

    from pano.cli import app as app_mod

    def boom() -> None:
        raise errors.StoreNotFoundError("x.zarr: no pano store here; run pano ingest first")

    sub = typer.Typer()
    sub.command("boom")(boom)
    app_mod.app.add_typer(sub, name="testonly")
    try:
        rc = main(["testonly", "boom"])
        err = capsys.readouterr().err
        assert rc == 2
        assert err.strip() == "pano: error: x.zarr: no pano store here; run pano ingest first"
        with pytest.raises(errors.StoreNotFoundError):
            main(["--debug", "testonly", "boom"])
    finally:
        app_mod.app.registered_groups.pop()


def test_python_dash_m_and_no_top_level_packages(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pano", "--version"], cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.startswith("pano ")
    for top in ("stores", "pipelines", "cli"):
        r = subprocess.run(
            [sys.executable, "-c", f"import {top}"], cwd=tmp_path, capture_output=True, text=True
        )
        assert r.returncode != 0, (
            f"'import {top}' must fail outside the repo: layers live under pano.*"
        )
