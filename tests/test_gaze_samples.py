"""GazeSamples, the in-memory form every gaze reader returns: its checks name the field at fault."""

from __future__ import annotations

import numpy as np
import pytest

from pano.errors import InputDataError
from pano.geometry import gazehub_to_camvec
from pano.stores.gaze_samples import GazeSamples


def _samples(n: int = 3) -> GazeSamples:
    yaw_pitch = np.stack([np.linspace(-0.3, 0.3, n), np.linspace(0.2, -0.2, n)], axis=1)
    return GazeSamples(
        face=np.zeros((n, 8, 8, 3), np.uint8),
        gaze_xyz=gazehub_to_camvec(yaw_pitch[:, 0], yaw_pitch[:, 1]),
        gaze_angles=yaw_pitch,
        subject=np.array(["p00"] * n),
        source=np.array([f"p00/day01/{i:04d}.jpg" for i in range(n)]),
        mirrored=np.zeros(n, bool),
    )


def test_valid_samples_pass_and_concat_keeps_order() -> None:
    a, b = _samples(2), _samples(3)
    b = GazeSamples(**{**b.arrays(), "source": np.array(["x1", "x2", "x3"])})
    both = GazeSamples.concat([a, b]).check("both")
    assert len(both) == 5
    assert both.source.tolist()[2:] == ["x1", "x2", "x3"]
    assert both.left is None


def test_non_unit_gaze_names_the_row() -> None:
    s = _samples()
    s.gaze_xyz[1] *= 2.0
    with pytest.raises(InputDataError, match=r"label\.txt: gaze_xyz row 1 is not a unit vector"):
        s.check("label.txt")


def test_non_finite_angle_pair_is_refused() -> None:
    s = _samples()
    s.gaze_angles[0, 1] = np.nan
    with pytest.raises(InputDataError, match="gaze_angles must be a finite"):
        s.check("label.txt")


def test_optional_field_in_some_batches_only_is_refused() -> None:
    a = _samples(2)
    b = GazeSamples(**{**_samples(2).arrays(), "head_xyz": np.tile([0.0, 0.0, -1.0], (2, 1))})
    with pytest.raises(InputDataError, match="head_xyz is present in some"):
        GazeSamples.concat([a, b])
