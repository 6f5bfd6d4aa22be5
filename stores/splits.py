"""Which split each video of a trace ingest goes to (``--split``).

* ``auto`` (the default): the data set's own split when the reader returns one
  (:attr:`pano.stores.traces.TraceSet.splits`); else DHP's for PVS-HM (its 15 test
  videos, :data:`pano.pvs_hm_facts.DHP_TEST_VIDEOS`); else every video is ``train``;
* ``dataset``: the data set's own split (refused when it ships none);
* ``track``: TRACK's published split of the data set, shipped with pano as data
  (``stores/data/track_splits.json``; :func:`track_split`); refused, naming the data
  sets it has, when TRACK's split of this data set is not shipped;
* ``none``: every video is ``train``.

Then, when ``val_fraction`` > 0 and no video is ``val`` yet, ``round(val_fraction *
n_train)`` (at least 1, and never all) of the ``train`` videos are drawn into ``val`` with
``numpy.random.default_rng(seed)`` over the sorted train names - the same store for the
same inputs. Training without a ``val`` split draws its own hold-out from ``train``
(``pano train-hm``'s ``data.val_videos`` / ``data.val_subject_fraction``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

import numpy as np

from pano.errors import ConfigError, InputDataError
from pano.pvs_hm_facts import DHP_TEST_VIDEOS
from pano.stores.schema import Split

SplitChoice = Literal["auto", "dataset", "track", "dhp", "none"]
SPLIT_CHOICES: tuple[str, ...] = ("auto", "dataset", "track", "dhp", "none")


@dataclass
class SplitPlan:
    """The split of every video, and (TRACK) the users per split where it splits users."""

    of: dict[str, Split]
    source: str  # a sentence: where the split came from
    users: dict[str, list[str]] = field(default_factory=dict)


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders digit runs by value: ``"2" < "10"``, ``"u2" < "u10"``."""
    parts = re.split(r"(\d+)", name)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


@cache
def _track_table() -> dict[str, Any]:
    text = resources.files("pano.stores").joinpath("data/track_splits.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)["datasets"]
    return data


def track_entry(dataset: str) -> tuple[str, dict[str, Any]]:
    """TRACK's split entry of ``dataset`` (its name or an alias).

    Raises:
        ConfigError: TRACK's split of that data set is not shipped (names those that are).

    """
    table = _track_table()
    for key, entry in table.items():
        if dataset == key or dataset in entry.get("aliases", []):
            if "not_shipped" in entry:
                raise ConfigError(f"--split track: {key}: {entry['not_shipped']}")
            return key, entry
    shipped = ", ".join(k for k, e in table.items() if "not_shipped" not in e)
    raise ConfigError(
        f"--split track: no TRACK split is shipped for data set {dataset!r} "
        f"(shipped: {shipped}); name the data set TRACK's files come from "
        "(pano ingest track ... --set options.dataset=pvs-hm), or use --split auto or dataset"
    )


def track_split(dataset: str, videos: list[str], subjects: list[str]) -> SplitPlan:
    """TRACK's published split for ``dataset`` applied to the videos (and subjects) read.

    Indices are 0-based as in TRACK's code: videos in the data set's order (the shipped
    list) or, where TRACK lists them itself, the video names in natural order
    (:func:`natural_key`); user ``i`` is the ``i``-th subject id in natural order.

    Raises:
        ConfigError: not shipped for this data set.
        InputDataError: a video TRACK names by index does not exist in the data read.

    """
    key, e = track_entry(dataset)
    of: dict[str, Split] = {}
    if "test_videos_names" in e:
        test = set(e["test_videos_names"])
        of = {v: "test" if v in test else "train" for v in videos}
        return SplitPlan(of, f"TRACK's published split of {key} (by video)")
    listed = e["videos_order"]
    order = sorted(videos, key=natural_key) if listed == "sorted" else list(listed)
    top = max(e["train_videos"] + e["test_videos"])
    if top >= len(order):
        raise InputDataError(
            f"--split track: TRACK's {key} split names video index {top} but "
            f"{len(order)} videos were read; ingest the whole data set"
        )
    train = {order[i] for i in e["train_videos"]}
    test = {order[i] for i in e["test_videos"]}
    for v in videos:
        of[v] = "train" if v in train else "test" if v in test else "unused"
    users: dict[str, list[str]] = {}
    if "train_users" in e:
        tu = set(e["train_users"])
        ordered = sorted(subjects, key=natural_key)  # user i = the i-th id, numbers by value
        users = {
            "train": [s for i, s in enumerate(ordered) if i in tu],
            "test": [s for i, s in enumerate(ordered) if i not in tu],
        }
    return SplitPlan(of, f"TRACK's published split of {key}", users)


def plan_splits(
    choice: str,
    dataset: str,
    videos: list[str],
    subjects: list[str],
    own: dict[str, list[str]] | None,
    val_fraction: float = 0.0,
    seed: int = 0,
) -> SplitPlan:
    """The split of every video (see the module docstring).

    Raises:
        ConfigError: an unknown choice, ``dataset`` without a split in the data, ``track``
            for a data set whose TRACK split is not shipped.

    """
    if choice not in SPLIT_CHOICES:
        raise ConfigError(f"--split {choice!r}: use one of {', '.join(SPLIT_CHOICES)}")
    if choice == "dataset" and not own:
        raise ConfigError(
            f"--split dataset: the {dataset} data read ships no split; use --split auto, "
            "track or none"
        )
    if choice == "track":
        plan = track_split(dataset, videos, subjects)
    elif choice in ("auto", "dataset") and own:
        by = {v: s for s, names in own.items() for v in names}
        of: dict[str, Split] = {}
        for v in videos:
            s = by.get(v, "unused")
            of[v] = s if s in ("train", "val", "test") else "unused"  # type: ignore[assignment]
        plan = SplitPlan(of, f"the {dataset} data set's own split")
    elif choice == "dhp" or (choice == "auto" and dataset in ("pvs-hm", "synthetic-pvs-hm")):
        of = {v: "test" if v in DHP_TEST_VIDEOS else "train" for v in videos}
        plan = SplitPlan(of, "DHP's PVS-HM split (15 test videos)")
    else:
        plan = SplitPlan(dict.fromkeys(videos, "train"), "none: every video is train")
    if val_fraction > 0 and "val" not in plan.of.values():
        train = sorted(v for v, s in plan.of.items() if s == "train")
        k = min(max(1, round(val_fraction * len(train))), len(train) - 1)
        if k >= 1:
            rng = np.random.default_rng(seed)
            for i in sorted(rng.choice(len(train), size=k, replace=False).tolist()):
                plan.of[train[i]] = "val"
            plan.source += f"; {k} val video(s) drawn from train (seed {seed})"
    return plan
