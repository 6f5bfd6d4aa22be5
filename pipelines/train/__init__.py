"""``train-hm``: head-movement models trained from viewports rendered on the fly.

Python use::

    from pano.config import load_config
    from pano.pipelines.train import TrainConfig, train_hm, predict_hm

    cfg = load_config(TrainConfig, "pipelines/configs/pos_only.yaml", ["optim.steps=500"])
    result = train_hm("pvs.zarr", cfg, run="pos_only", predict=True)

See ``docs/training.md``.
"""

from pano.pipelines.train.checkpoint import CheckpointManager
from pano.pipelines.train.config import TrainConfig
from pano.pipelines.train.run import TrainResult, predict_hm, train_hm

__all__ = ["CheckpointManager", "TrainConfig", "TrainResult", "predict_hm", "train_hm"]
