"""The demo report lists every comparison it computes, losses included (no demo run needed).

A small results dataset in the layout of ``results/<run>`` (see docs/eval.md) is summarised
by the same ``summary_tables`` the evaluation uses; the comparisons and the report text are
built from it by the demo's own functions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from pano.pipelines.demo import ModelRun, _train_config, model_card
from pano.pipelines.demo_checks import compute_comparisons, tally
from pano.pipelines.demo_report import report_markdown
from pano.pipelines.eval import EvalResult
from pano.pipelines.eval_report import summary_tables
from pano.stores.schema import HeatmapParams, Splits
from pano.synth import SynthConfig

MODELS = ["uniform", "fcb", "equator", "inter_observer", "no_motion", "constant_velocity"]
RUNS = ["pos_only", "content", "dhp"]
SAL = {  # model -> (cc, kld): DHP beats FCB and uniform on CC, loses to equator; KLD all lost
    "uniform": (0.0, 2.9),
    "fcb": (0.15, 2.6),
    "equator": (0.25, 2.1),
    "inter_observer": (0.75, 2.0),
    "dhp": (0.20, 12.8),
}
HM_SLOPE = {  # orthodromic error = slope x horizon in s: content loses to pos-only everywhere
    "pos_only": 10.0,
    "content": 11.0,
    "constant_velocity": 12.0,
    "no_motion": 15.0,
}
SP = {"inter_observer": (950.0, 0.99), "dhp": (1500.0, 0.98)}  # (dtw_deg, mm_vector)


def _results() -> xr.Dataset:
    models = MODELS + RUNS
    videos, steps, horizons = ["Dancing", "KingKong"], 4, np.arange(1, 26)
    sal = np.full((len(models), 2, steps, 2), np.nan)
    hm = np.full((len(models), 2, len(horizons), 1), np.nan)
    sp = np.full((len(models), 2, 2), np.nan)
    for i, m in enumerate(models):
        if m in SAL:
            sal[i] = SAL[m]
        if m in HM_SLOPE:
            hm[i, :, :, 0] = HM_SLOPE[m] * horizons * 0.2
        if m in SP:
            sp[i] = SP[m]
    return xr.Dataset(
        {
            "saliency": (("model", "video", "step", "metric"), sal),
            "hm": (("model", "video", "horizon", "hm_metric"), hm),
            "scanpath": (("model", "video", "sp_metric"), sp),
        },
        coords={
            "model": models,
            "video": videos,
            "step": np.arange(steps),
            "metric": ["cc", "kld"],
            "horizon": horizons,
            "horizon_s": ("horizon", horizons * 0.2),
            "hm_metric": ["orthodromic_deg"],
            "sp_metric": ["dtw_deg", "mm_vector"],
        },
    )


@pytest.fixture(scope="module")
def comparisons_and_report() -> tuple[list, str]:
    ds = _results()
    tables = summary_tables(ds)
    comparisons = compute_comparisons(tables, RUNS)
    runs = []
    for name in RUNS:
        cfg = _train_config(name, quick=True, device="cpu", seed=0)
        description, params = model_card(cfg)
        scores = (
            {"val/heatmap_cc": 0.5}
            if name == "dhp"
            else {
                "val/orthodromic_deg": 29.0,
                "val/no_motion_deg": 27.5,
                **{f"val/orthodromic_deg_{s}s": 5.0 * s for s in (1, 2, 3, 5)},
                **{f"val/no_motion_deg_{s}s": 4.0 * s for s in (1, 2, 3, 5)},
            }
        )
        runs.append(
            ModelRun(
                name,
                cfg.model.kind,
                cfg.optim.steps,
                3.0,
                scores.get("val/heatmap_cc", scores.get("val/orthodromic_deg")),
                "validation metric",
                "ckpt-00000040.pt",
                ["Surfing"],
                scores,
                description,
                params,
            )
        )
    text = report_markdown(
        out=Path("demo"),
        store=Path("demo/pano.zarr"),
        data=Path("demo/data"),
        synth=SynthConfig(),
        splits=Splits(
            train=["A380", "Camping", "NotBeAloneTonight", "Surfing"], test=["Dancing", "KingKong"]
        ),
        heatmap=HeatmapParams(),
        store_bytes=2**20,
        runs=runs,
        ev=EvalResult(ds, tables, None),
        comparisons=comparisons,
        timings={"train pos_only": 3.0},
        figures=[],
    )
    return comparisons, text


def test_every_comparison_is_computed_losses_included(
    comparisons_and_report: tuple[list, str],
) -> None:
    comparisons, _ = comparisons_and_report
    by_name = {c.name: c for c in comparisons}
    # pos-only: 2 baselines x 4 horizons; content: 2 baselines + pos-only x 4 horizons and
    # the >= 15 % target at 2, 3, 5 s; DHP heatmaps: 4 references x 2 metrics; DHP
    # scanpaths: inter-observer x 2; the order.
    assert len(comparisons) == 8 + 12 + 3 + 8 + 2 + 1
    for h in (2, 3, 5):
        c = by_name[f"content beats pos-only by >= 15 % at {h} s (reference: 0.85 x pos-only)"]
        assert c.holds is False
        assert c.reference_value == pytest.approx(0.85 * 10.0 * h)
    for h in (1, 2, 3, 5):
        c = by_name[f"content beats pos-only at {h} s"]
        assert c.holds is False
        assert c.model_value == pytest.approx(11.0 * h)
        assert c.reference_value == pytest.approx(10.0 * h)
        assert by_name[f"pos-only beats no-motion at {h} s"].holds is True
    assert by_name["DHP heatmap CC beats FCB"].holds is True
    assert by_name["DHP heatmap CC beats equator bias"].holds is False
    for ref in ("uniform", "FCB", "equator bias", "inter-observer"):
        kld = by_name[f"DHP heatmap KLD (nats) beats {ref}"]
        assert kld.holds is False and kld.higher_is_better is False
    dtw = by_name["DHP scanpath DTW, orthodromic (deg, total) beats inter-observer"]
    assert dtw.holds is False
    assert by_name["inter-observer > FCB > uniform on CC"].holds is True
    # The tally counts the models' wins and losses against the baselines and, apart, against
    # the inter-observer upper reference (not the baselines' own order).
    for upper in (False, True):
        group = [
            c for c in comparisons if c.kind != "baselines" and c.against_upper_reference == upper
        ]
        assert tally(comparisons, upper=upper) == {
            "yes": sum(c.holds is True for c in group),
            "no": sum(c.holds is False for c in group),
            "not measured": 0,
        }
    # content vs pos-only (and its 15 % target), CC vs equator, KLD vs uniform, FCB, equator
    assert tally(comparisons)["no"] == 4 + 3 + 1 + 3
    assert tally(comparisons, upper=True) == {"yes": 0, "no": 4, "not measured": 0}


def test_report_lists_every_comparison_and_names_validation(
    comparisons_and_report: tuple[list, str],
) -> None:
    comparisons, text = comparisons_and_report
    for c in comparisons:
        row = next((line for line in text.splitlines() if line.startswith(f"| {c.name}")), None)
        assert row is not None, c.name
        assert row.endswith(f"| **{c.outcome}** |"), row
        assert c.kind == "baselines" or c.model_value is not None
    assert "| content beats pos-only at 1 s | 11.0 | 10.0 | **no** |" in text
    assert "| DHP heatmap CC beats equator bias | 0.200 | 0.250 | **no** |" in text
    assert "| DHP heatmap KLD (nats) beats uniform | 12.800 | 2.900 | **no** |" in text
    assert (
        "| DHP heatmap CC beats inter-observer (upper reference) | 0.200 | 0.750 | **no** |" in text
    )
    assert "| inter-observer > FCB > uniform on CC | 0.750 > 0.150 > 0.000 | **yes** |" in text
    assert "Against the baselines the models won **18** of 29 comparisons and lost **11**" in text
    assert (
        "| content beats pos-only by >= 15 % at 2 s (reference: 0.85 x pos-only) | 22.0 | 17.0 "
        "| **no** |" in text
    )
    # The validation video is named; no-motion on validation sits beside the checkpoints.
    assert "validation video(s): **Surfing**" in text
    assert "val []" not in text
    assert "| pos_only | 120 | 3 | ckpt-00000040.pt | 29.00 | 27.50 |" in text
    assert "| no-motion | 4.0 | 8.0 | 12.0 | 20.0 |" in text
    # Each model is described with its hyper-parameters; scanpaths have a section.
    for name in RUNS:
        assert f"### `{name}` (`" in text
    assert "- LSTM: 1 layer(s) x 64" in text
    assert "FoV 110x113 deg" in text
    assert "## Scanpaths (test split)" in text
    assert "| inter_observer | 950.000 | 0.990 |" in text
