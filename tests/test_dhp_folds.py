"""DHP fold agents (``data.folds``): K-fold over the train split, pooled rollouts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pano.cli.app import main
from pano.errors import ConfigError, StoreError
from pano.pipelines.train import TrainConfig
from pano.pipelines.train.data import load_store_data
from pano.pipelines.train.run import fold_config

from .test_train import CONFIGS, TINY, TINY_BY_CONFIG, _sets, tiny_store  # noqa: F401


def _dhp(*sets: str) -> TrainConfig:
    from pano.config import load_config

    return load_config(TrainConfig, CONFIGS / "dhp.yaml", [*TINY, *TINY_BY_CONFIG["dhp"], *sets])


def test_val_fold_holds_out_that_train_video(tiny_store: str) -> None:  # noqa: F811
    from pano.stores import read_root_attrs

    train = sorted(read_root_attrs(tiny_store).splits.train)
    assert len(train) == 4
    last = load_store_data(tiny_store, _dhp(), need_video=False)
    assert [v.name for v in last.val] == train[-1:]  # default: the last by name
    for k in range(4):
        d = load_store_data(tiny_store, _dhp(f"data.val_fold={k}"), need_video=False)
        assert [v.name for v in d.val] == [train[k]]
        assert sorted(v.name for v in d.train) == sorted(set(train) - {train[k]})
    two = load_store_data(tiny_store, _dhp("data.val_videos=2", "data.val_fold=1"), False)
    assert [v.name for v in two.val] == train[2:4] and [v.name for v in two.train] == train[:2]
    with pytest.raises(StoreError, match=r"val_fold=4 needs train videos 4\.\.4.*below 4"):
        load_store_data(tiny_store, _dhp("data.val_fold=4"), need_video=False)


def test_folds_config_rules() -> None:
    cfg = _dhp("data.folds=3")
    member = fold_config(cfg, 2)
    assert member.data.folds == 1 and member.data.val_fold == 2
    assert member.model == cfg.model and member.rl == cfg.rl and member.seed == cfg.seed
    with pytest.raises(ConfigError, match=r"drop data\.val_fold"):
        _dhp("data.folds=2", "data.val_fold=0")
    from pano.config import load_config

    with pytest.raises(ConfigError, match=r"model\.kind .seq2seq. trains one model"):
        load_config(TrainConfig, CONFIGS / "pos_only.yaml", ["data.folds=2"])


def test_folds_train_predict_online_resume(tiny_store: str, tmp_path: Path) -> None:  # noqa: F811
    from pano.stores import open_results, open_store, read_root_attrs

    train = sorted(read_root_attrs(tiny_store).splits.train)
    sets = [*TINY, *TINY_BY_CONFIG["dhp"], "data.folds=2"]
    args = ["train-hm", tiny_store, "--config", str(CONFIGS / "dhp.yaml"), "--run", "ens"]
    assert main([*args, "--runs-dir", str(tmp_path), *_sets(sets), "--predict"]) == 0
    run = tmp_path / "ens"
    # Bad input is refused before any work: too few train videos for the folds, and a
    # trained run without --resume (its config.yaml stays the one it was trained with).
    five = [*args[:-1], "big", "--runs-dir", str(tmp_path), *_sets([*sets, "data.folds=5"])]
    assert main(five) == 2 and not (tmp_path / "big").exists()
    kept = (run / "config.yaml").read_bytes()
    again = [*args, "--runs-dir", str(tmp_path), *_sets([*sets, "optim.lr=0.5"])]
    assert main(again) == 2 and (run / "config.yaml").read_bytes() == kept
    summary = json.loads((run / "summary.json").read_text())
    folds = summary["folds"]
    assert [f["val_videos"] for f in folds] == [[train[0]], [train[1]]]
    assert summary["val_videos"] == train[:2]
    assert summary["best_val"] == pytest.approx(np.mean([f["best_val"] for f in folds]))
    for k, f in enumerate(folds):  # every agent is an ordinary run with its own fold
        member = json.loads((run / "folds" / f"fold{k}" / "summary.json").read_text())
        assert member["val_videos"] == [train[k]] and member["best_checkpoint"]
        assert member["best_checkpoint"] == f["best_checkpoint"]
        assert f"val_fold: {k}" in (run / "folds" / f"fold{k}" / "config.yaml").read_text()
    tree = open_store(tiny_store)
    node = tree["predictions/ens/Dancing"]
    assert node.attrs["agents"] == 2
    used = tree["predictions/ens"].attrs["checkpoint"].split(", ")
    assert [Path(u).parent.parent.name for u in used] == ["fold0", "fold1"]
    assert [Path(u).name for u in used] == [f["best_checkpoint"] for f in folds]
    scan = np.asarray(node.dataset["scanpath"].values)
    assert scan.shape[1] == 2 * 5  # predict.rollouts from each agent, pooled
    assert np.isfinite(scan).all()
    # The two agents' rollouts differ (different training data), the map is normalised.
    assert not np.allclose(scan[:, :5], scan[:, 5:])
    assert np.isfinite(np.asarray(node.dataset["heatmap"].values)).all()
    # Online-DHP over the ensemble, and a resume that finds every fold trained.
    pargs = ["predict-hm", tiny_store, "--run", "ens", "--runs-dir", str(tmp_path), "--online"]
    assert main([*pargs, "--set", "online.max_subjects=1", "--set", "online.iters=1"]) == 0
    res = open_results(tiny_store, "ens_online")
    assert res.attrs["agents"] == 2 and np.isfinite(res["mo_dhp_subject"].values).any()
    assert main([*args, "--runs-dir", str(tmp_path), *_sets(sets), "--resume"]) == 0
    assert main([*pargs[:-1], "--checkpoint", "ckpt-00000002.pt"]) == 2  # one line: per-fold
