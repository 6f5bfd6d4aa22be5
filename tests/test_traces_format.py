"""Generic lab recordings (``traces`` + spec): Euler and quaternion heads, eye gaze, bad specs.

Fixtures (CSV/TSV and spec YAML) are written here by hand from the spec's description.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pano.errors import ConfigError, InputDataError, InputFileNotFoundError
from pano.geometry import orthodromic_distance, vec_to_lonlat
from pano.stores.formats import get_format
from pano.stores.lab_traces import read_traces
from pano.synth import simulate_recordings
from pano.synth.formats import get_synth_format

EULER_SPEC = """\
time: {column: t_ms, unit: ms}
video: {value: clip01}
subject: {column: who}
head:
  euler: {yaw: yaw, pitch: pitch, roll: roll, yaw_positive: right, pitch_positive: down}
eye:
  mean: {x: ex, y: ey, z: ez}
  axes: {x: right, y: up, z: forward}
"""

QUAT_SPEC = """\
time: {column: time}
video: {column: video}
subject: {value: p1}
head:
  quaternion:
    columns: {w: qw, x: qx, y: qy, z: qz}
    handedness: left
    world_axes: {x: right, y: up, z: forward}
    head_forward: "+z"
    head_up: "+y"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def euler_csv(tmp_path: Path, extra: str = "") -> Path:
    s10, c10 = np.sin(np.deg2rad(10)), np.cos(np.deg2rad(10))
    text = (
        "t_ms,who,yaw,pitch,roll,ex,ey,ez\n"
        "0,A,0,0,0,0,0,1\n"
        "10,A,-30,0,0,0,0,1\n"  # yaw positive right: -30 = 30 deg LEFT
        "20,A,0,-20,0,0,0,1\n"  # pitch positive down: -20 = 20 deg UP
        f"30,A,0,0,0,{s10},0,{c10}\n"  # eye 10 deg to the right of the head
        f"40,A,-30,0,0,{s10},0,{c10}\n"  # head 30 left, eye 10 right -> gaze 20 left
        "50,A,0,0,0,,,\n"  # blink
        "0,B,5,0,0,0,0,1\n"
        "10,B,6,0,0,0,0,1\n" + extra
    )
    return write(tmp_path, "rec.csv", text)


def test_euler_landmarks_and_eye_gaze(tmp_path: Path) -> None:
    spec = write(tmp_path, "spec.yaml", EULER_SPEC)
    ts = read_traces(euler_csv(tmp_path), spec=spec)
    a, b = ts.by_video("clip01")
    assert (a.subject, b.subject) == ("A", "B") and ts.dataset == "traces"
    np.testing.assert_allclose(a.t, [0, 0.01, 0.02, 0.03, 0.04, 0.05])
    lon, lat = vec_to_lonlat(a.head)
    np.testing.assert_allclose(lon[:3], [0, 30, 0], atol=1e-9)
    np.testing.assert_allclose(lat[:3], [0, 0, 20], atol=1e-9)
    glon, _ = vec_to_lonlat(a.gaze[3:5])
    np.testing.assert_allclose(glon, [-10.0, 20.0], atol=1e-9)
    elon, _ = vec_to_lonlat(a.eye_in_head[3])
    assert elon == pytest.approx(-10.0)
    assert np.isnan(a.gaze[5]).all() and np.isnan(a.eye_in_head[5]).all()
    np.testing.assert_allclose(vec_to_lonlat(b.head)[0], [-5, -6], atol=1e-9)
    assert "yaw positive right" in ts.convention.signs


def test_quaternion_unity_style_tsv(tmp_path: Path) -> None:
    spec = write(tmp_path, "q.yaml", QUAT_SPEC)
    h = np.deg2rad(-30) / 2  # rotation about Unity +y by -30 deg: turn LEFT
    p = np.deg2rad(-20) / 2  # about Unity +x by -20 deg: look UP (left-handed)
    rows = [
        "time\tvideo\tqw\tqx\tqy\tqz",
        "0.0\tv1\t1\t0\t0\t0",
        f"0.1\tv1\t{np.cos(h)}\t0\t{np.sin(h)}\t0",
        f"0.2\tv1\t{np.cos(p)}\t{np.sin(p)}\t0\t0",
    ]
    src = write(tmp_path, "log.tsv", "\n".join(rows) + "\n")
    ts = get_format("traces").read(src, spec=spec)
    lon, lat = vec_to_lonlat(ts.traces[0].head)
    np.testing.assert_allclose(lon, [0.0, 30.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(lat, [0.0, 0.0, 20.0], atol=1e-9)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (EULER_SPEC + "colour: red\n", "field 'colour': unknown field"),
        (EULER_SPEC.replace("yaw: yaw,", "yaw: Yaw,"), "field 'head.euler.yaw': column 'Yaw'"),
        (QUAT_SPEC.replace("handedness: left", "handedness: right"), "left-handed frame"),
        (EULER_SPEC.replace("{value: clip01}", "{}"), "exactly one of 'column' or 'value'"),
    ],
)
def test_bad_spec_is_one_line_naming_spec_and_field(
    tmp_path: Path, spec: str, message: str
) -> None:
    path = write(tmp_path, "bad.yaml", spec)
    with pytest.raises(ConfigError) as err:
        read_traces(euler_csv(tmp_path), spec=path)
    assert message in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("5,B,7,0,0,0,0,1\n", "time goes backwards"),
        ("20,B,x,0,0,0,0,1\n", "'x' is not a number"),
        ("20,B,7,0\n", "has 4 fields, expected 8"),
        ("20,B,7,400,0,0,0,1\n", "outside [-360, 360]"),
    ],
)
def test_bad_rows_name_file_and_row(tmp_path: Path, extra: str, message: str) -> None:
    spec = write(tmp_path, "spec.yaml", EULER_SPEC)
    src = euler_csv(tmp_path, extra)
    with pytest.raises(InputDataError) as err:
        read_traces(src, spec=spec)
    assert message in str(err.value) and f"{src}: row 9 (line 10)" in str(err.value)


def test_non_unit_quaternion_and_missing_inputs(tmp_path: Path) -> None:
    spec = write(tmp_path, "q.yaml", QUAT_SPEC)
    src = write(tmp_path, "q.csv", "time,video,qw,qx,qy,qz\n0,v,1,0,0,0\n1,v,0.5,0,0,0\n")
    with pytest.raises(InputDataError, match=r"row 2 \(line 3\).*length 0.5, not 1"):
        read_traces(src, spec=spec)
    with pytest.raises(InputFileNotFoundError):
        read_traces(tmp_path / "absent.csv", spec=spec)
    with pytest.raises(ConfigError, match="--spec"):
        read_traces(src)
    with pytest.raises(ConfigError, match="config file not found"):
        read_traces(src, spec=tmp_path / "nospec.yaml")


def test_synthetic_lab_csv_reads_back_with_gaze(tmp_path: Path) -> None:
    sim = simulate_recordings(n_videos=1, n_subjects=2, duration_s=1.0, rate_hz=60.0)
    csv, spec = get_synth_format("traces").write(sim, tmp_path)
    ts = read_traces(csv, spec=spec)
    for rec, tr in zip(sim.of("video00"), ts.by_video("video00"), strict=True):
        np.testing.assert_allclose(tr.t, rec.t, atol=5e-7)
        assert orthodromic_distance(rec.head, tr.head).max() < 1e-7
        assert orthodromic_distance(rec.gaze, tr.gaze).max() < 1e-7
        assert tr.eye_in_head is not None


def test_shipped_unity_example_spec_reads_a_unity_log(tmp_path: Path) -> None:
    spec = Path(__file__).parents[1] / "pipelines" / "configs" / "traces_unity.yaml"
    h = np.deg2rad(-40) / 2  # Unity: -40 deg about +y = turn LEFT
    src = write(
        tmp_path,
        "log.csv",
        "time_ms,video,participant,head_qw,head_qx,head_qy,head_qz,gaze_x,gaze_y,gaze_z\n"
        "0,v,p,1,0,0,0,0,0.5,0.8660254037844386\n"  # eyes 30 deg UP
        f"11,v,p,{np.cos(h)},0,{np.sin(h)},0,,,\n",  # blink
    )
    ts = read_traces(src, spec=spec)
    tr = ts.traces[0]
    lon, lat = vec_to_lonlat(tr.head)
    np.testing.assert_allclose(lon, [0.0, 40.0], atol=1e-9)
    np.testing.assert_allclose(lat, [0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(vec_to_lonlat(tr.gaze[0])[1], 30.0, atol=1e-9)
    assert np.isnan(tr.gaze[1]).all() and ts.convention.notes.startswith("example")
