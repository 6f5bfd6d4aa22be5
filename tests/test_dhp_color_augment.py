"""DHP colour augmentation (``rl.color_augment``): a random RGB order per episode."""

from __future__ import annotations

import torch

from pano.pipelines.train.data import load_store_data, random_channel_orders, reorder_channels
from pano.pipelines.train.dist import DistInfo
from pano.pipelines.train.rl import DHPTask

from .test_dhp_folds import _dhp
from .test_train import tiny_store  # noqa: F401


def test_reorder_channels_permutes_every_frame_alike() -> None:
    g = torch.Generator().manual_seed(0)
    orders = random_channel_orders(64, g)
    assert orders.shape == (64, 3)
    assert bool((orders.sort(1).values == torch.arange(3)).all())  # permutations
    assert len({tuple(o.tolist()) for o in orders}) == 6  # all six orders drawn
    views = torch.rand(5, 6, 4, 4)  # 2 RGB frames (model.frames: 2)
    order = torch.tensor([[0, 1, 2], [2, 0, 1], [1, 2, 0], [0, 2, 1], [2, 1, 0]])
    out = reorder_channels(views, order)
    for b in range(5):
        for f in range(2):
            for c in range(3):
                assert torch.equal(out[b, 3 * f + c], views[b, 3 * f + int(order[b, c])])
    assert torch.equal(out[0], views[0])  # the identity order changes nothing
    five = torch.rand(2, 7, 3, 4, 4)  # (B, T, 3, H, W): the content model's windows
    out5 = reorder_channels(five, order[1:3])
    assert torch.equal(out5[0, :, 0], five[0, :, 2]) and torch.equal(out5[1, :, 2], five[1, :, 0])
    luma = torch.rand(3, 1, 4, 4)
    assert torch.equal(reorder_channels(luma, order[:3]), luma)  # luma: nothing to reorder


def test_each_episode_sees_its_own_channel_order(tiny_store: str) -> None:  # noqa: F811
    cfg = _dhp("rl.color_augment=true", "rl.augment=false")
    task = DHPTask(cfg, load_store_data(tiny_store, cfg, need_video=True), DistInfo())
    gen = torch.Generator().manual_seed(3)
    task._ensure_env(gen)
    env = task.env
    assert env is not None
    order = env["order"]
    assert order.shape == (cfg.rl.envs, 3)
    views = task._observe()
    seen = task._augment(views)
    for i in range(cfg.rl.envs):
        assert torch.equal(seen[i], views[i][order[i]])
    # Colour only: the agent sees the same picture, each colour channel where its order puts it.
    assert torch.allclose(seen.sum(1), views.sum(1))
    task.loss(task.model, 0, gen)  # a training update runs with it
    assert _dhp().rl.color_augment  # dhp.yaml ships with it (docs/training.md, session 9)
    off = _dhp("rl.color_augment=false", "rl.augment=false")  # off: identity, views unchanged
    task_off = DHPTask(off, load_store_data(tiny_store, off, need_video=True), DistInfo())
    task_off._ensure_env(torch.Generator().manual_seed(3))
    assert task_off.env is not None
    assert bool((task_off.env["order"] == torch.arange(3)).all())
    v = task_off._observe()
    assert torch.equal(task_off._augment(v), v)
    # An environment state saved before the option existed (no "order") resumes with it on.
    task2 = DHPTask(cfg, load_store_data(tiny_store, cfg, need_video=True), DistInfo())
    old = {k: v for k, v in task_off.extra_state().items() if k != "order"}
    task2.load_extra_state(old)
    assert task2.env is not None and bool((task2.env["order"] == torch.arange(3)).all())
    task2.loss(task2.model, 0, torch.Generator().manual_seed(4))  # new episodes draw orders
