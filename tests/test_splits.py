"""Splits of trace ingests (``stores/splits.py``): own, TRACK's shipped ones, DHP's, val draw."""

from __future__ import annotations

import pytest

from pano.errors import ConfigError
from pano.stores.splits import plan_splits, track_split

DAVID = [
    "1_PortoRiverside", "2_Diner", "3_PlanEnergyBioLab", "4_Ocean", "5_Waterpark",
    "6_DroneFlight", "7_GazaFishermen", "8_Sofa", "9_MattSwift", "10_Cows", "11_Abbottsford",
    "12_TeatroRegioTorino", "13_Fountain", "14_Warship", "15_Cockpit", "16_Turtle",
    "17_UnderwaterPark", "18_Bar", "19_Touvet",
]  # fmt: skip


def test_david_split_videos_and_users() -> None:
    users = sorted(str(i) for i in range(57))  # "0", "1", "10", ...: ids, not positions
    plan = track_split("salient360", sorted(DAVID), users)
    test = sorted(v for v, s in plan.of.items() if s == "test")
    train = sorted(v for v, s in plan.of.items() if s == "train")
    assert test == sorted(["1_PortoRiverside", "3_PlanEnergyBioLab", "5_Waterpark",
                           "14_Warship", "16_Turtle"])  # fmt: skip
    assert len(train) == 10 and "2_Diner" in train and "19_Touvet" in train
    assert sum(s == "unused" for s in plan.of.values()) == 4
    assert len(plan.users["train"]) == 28 and len(plan.users["test"]) == 29
    assert plan.users["train"][:4] == ["1", "2", "9", "10"]


def test_pvs_hm_and_nguyen_and_xu() -> None:
    plan = track_split("pvs-hm", ["KingKong", "A380"], [])
    assert plan.of == {"KingKong": "test", "A380": "train"}
    vids = [f"v{i}" for i in range(9)]
    plan = track_split("nguyen-mm18", sorted(vids, reverse=True), [])
    assert [plan.of[v] for v in vids] == ["train"] * 4 + ["test", "test", "train", "test", "test"]
    with pytest.raises(ConfigError, match="134 train / 74 test videos"):
        track_split("xu-cvpr18", vids, [])
    with pytest.raises(ConfigError, match="no TRACK split is shipped for data set 'lab'"):
        track_split("lab", vids, [])


def test_auto_own_dhp_none_and_seeded_val() -> None:
    vids = [f"v{i}" for i in range(10)]
    own = {"train": vids[:7], "test": vids[7:]}
    assert plan_splits("auto", "x", vids, [], own).of["v8"] == "test"
    assert set(plan_splits("auto", "x", vids, [], None).of.values()) == {"train"}
    assert plan_splits("auto", "pvs-hm", ["KingKong", "A380"], [], None).of["KingKong"] == "test"
    with pytest.raises(ConfigError, match="ships no split"):
        plan_splits("dataset", "x", vids, [], None)
    a = plan_splits("none", "x", vids, [], None, val_fraction=0.2, seed=1)
    b = plan_splits("none", "x", vids, [], None, val_fraction=0.2, seed=1)
    assert a.of == b.of and sum(s == "val" for s in a.of.values()) == 2
    assert "seed 1" in a.source
