"""The docs name only files in the repository, commands and options that exist, and the
quickstart's outputs are git-ignored."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
#: Files the docs name that the user's commands make (not checked in).
OUTPUTS = ("pano-demo/", "report.md")


def test_docs_name_only_files_inside_the_repository() -> None:
    # Paths with a folder (a bare name like `report.md` is read in its sentence's context).
    pattern = re.compile(r"`([A-Za-z0-9_.\-]+/[A-Za-z0-9_.\-/]+\.(?:md|py|yaml|sh|png|ipynb))`")
    missing = []
    for md in DOCS:
        for path in pattern.findall(md.read_text(encoding="utf-8")):
            if path.startswith(OUTPUTS):
                continue
            if not any((base / path).exists() for base in (ROOT, md.parent)):
                missing.append(f"{md.relative_to(ROOT)}: `{path}`")
    assert not missing, "docs name files that are not in the repository: " + "; ".join(missing)


def _quickstart_outputs() -> list[str]:
    text = (ROOT / "docs" / "quickstart.md").read_text(encoding="utf-8")
    block = text.split("## Step by step on synthetic data", 1)[1].split("```bash", 1)[1]
    block = block.split("```", 1)[0]
    outs = re.findall(r"pano synth (\S+)", block)
    outs += re.findall(r"--(?:store|out) (\S+)", block)
    outs += ["runs/"]  # train-hm's default --runs-dir
    return sorted({o.rstrip("/") for o in outs})


def test_quickstart_outputs_are_git_ignored() -> None:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    outs = _quickstart_outputs()
    assert {"data", "pvs.zarr", "viewports.png", "eval", "eval-compare", "runs"} <= set(outs)
    res = subprocess.run(
        [git, "check-ignore", "--no-index", "-v", *outs],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    ignored = {line.split("\t", 1)[1] for line in res.stdout.splitlines()}
    assert ignored == set(outs), f"not git-ignored: {sorted(set(outs) - ignored)}"


def _commands() -> dict[str, set[str]]:
    """``pano`` command path ("" for the root, "ingest pvs-hm") -> its option names."""
    import click
    import typer.main

    from pano.cli.app import app

    def options(cmd: click.Command) -> set[str]:
        return {"-h", "--help"} | {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}

    root = typer.main.get_command(app)
    ctx = click.Context(root)
    out = {"": options(root)}
    todo: list[tuple[str, click.Command]] = [("", root)]
    while todo:
        path, cmd = todo.pop()
        if hasattr(cmd, "list_commands"):  # a group (typer's may not subclass click.Group)
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None
                key = f"{path} {name}".strip()
                out[key] = options(sub)
                todo.append((key, sub))
    return out


def _doc_command_lines() -> list[tuple[str, str]]:
    """(doc, command) for each ``pano ...`` command in a code block or inline code span."""
    found = []
    for md in DOCS:
        rel = md.relative_to(ROOT).as_posix()
        text = md.read_text(encoding="utf-8")
        lines: list[str] = []
        for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
            joined = block.replace("\\\n", " ")
            lines += [line.split("#", 1)[0] for line in joined.splitlines()]
        prose = re.sub(r"```.*?```", "", text, flags=re.S)
        for line in prose.splitlines():
            lines += re.findall(r"`([^`]+)`", line)
        for line in lines:
            for part in re.split(r"&&|;|\|", line):
                part = part.strip().removeprefix("$ ").replace(".venv/bin/pano", "pano")
                if re.match(r"pano( -|$| [a-z][a-z-]* ?)", part):
                    found.append((rel, part))
    return found


def test_docs_name_only_commands_and_options_that_exist() -> None:
    commands = _commands()
    bad = []
    for doc, line in _doc_command_lines():
        words = line.split()[1:]
        path = ""
        for i, w in enumerate(words):
            if w.startswith("-") or w == "...":
                rest = words[i:]
                break
            key = f"{path} {w}".strip()
            if key not in commands:
                if path == "" and not any(k.startswith(key) for k in commands):
                    bad.append(f"{doc}: `{line}`: no command {w!r}")
                rest = words[i:]
                break
            path = key
        else:
            rest = []
        if path == "" and rest and not rest[0].startswith("-"):
            continue  # reported above
        known = set().union(*(v for k, v in commands.items() if k.startswith(path)))
        for w in rest:
            opt = w.split("=", 1)[0].strip("[]")
            if re.fullmatch(r"--?[A-Za-z][\w-]*", opt) and opt not in known:
                bad.append(f"{doc}: `{line}`: `pano {path}` has no option {opt}")
    assert not bad, "; ".join(bad)
