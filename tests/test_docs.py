"""The docs name only files in the repository, and the quickstart's outputs are git-ignored."""

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
