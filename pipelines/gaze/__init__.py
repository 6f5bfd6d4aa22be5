"""``pano train-gaze``: appearance-based 3-D gaze models, leave-one-person-out or split.

Python use::

    from pano.config import load_config
    from pano.pipelines.gaze import GazeTrainConfig, train_gaze

    cfg = load_config(GazeTrainConfig, "pipelines/configs/gaze_demo.yaml")
    res = train_gaze("gaze.zarr", cfg, "synth", folds=None, out="runs/gaze_demo", workers=0)

See ``docs/gaze.md`` (Training, Evaluation).
"""

from pano.pipelines.gaze.config import GazeTrainConfig
from pano.pipelines.gaze.run import GazeTrainResult, train_gaze

__all__ = ["GazeTrainConfig", "GazeTrainResult", "train_gaze"]
