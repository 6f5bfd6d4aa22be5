"""``pano ingest <format>`` on synthetic copies of pvs-hm-txt, salient360 and xu-cvpr18.

Each copy is written by the format's synthetic writer from one simulation and ingested
through the CLI; the store's head samples must be the reader's (and so the simulated
motion, within the format's precision - tests/test_<format>_format.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pano.cli.app import main
from pano.geometry import orthodromic_distance, resample_directions
from pano.stores import list_videos, open_video, read_root_attrs
from pano.synth import simulate_recordings
from pano.synth.formats import get_synth_format


@pytest.mark.parametrize("fmt", ["pvs-hm-txt", "salient360", "xu-cvpr18"])
def test_ingest_a_synthetic_copy(tmp_path: Path, fmt: str) -> None:
    sim = simulate_recordings(n_videos=1, n_subjects=2, duration_s=2.0, fps=10.0, seed=1)
    src = tmp_path / "src"
    get_synth_format(fmt).write(sim, src)
    options = {
        "pvs-hm-txt": [],
        "salient360": ["--set", "options.fps=10"],
        "xu-cvpr18": ["--set", f"options.fps={src / 'fps.csv'}"],
    }[fmt]
    store = str(tmp_path / "s.zarr")
    args = ["ingest", fmt, str(src), store, "--heatmap-size", "32x16", "--step-frames", "2",
            "--workers", "0", "--device", "cpu", "--split", "none", *options]  # fmt: skip
    assert main(args) == 0
    assert list_videos(store) == ["video00"]
    root = read_root_attrs(store)
    dataset = {"pvs-hm-txt": "pvs-hm"}.get(fmt, fmt)
    assert root.model_dump()["conventions"]["source"]["dataset"] == dataset
    ds = open_video(store, "video00")
    rec = sim.recordings[0]  # subject u00; salient360's H-u00 sorts first too
    n = int(ds["sample_count"].values[0])
    t = ds["time"].values[0, :n]
    want = resample_directions(rec.t, rec.head, np.clip(t, rec.t[0], rec.t[-1]))
    got = ds["hm_xyz"].values[0, :n]
    assert np.rad2deg(orthodromic_distance(got, want)).max() < 1e-5
