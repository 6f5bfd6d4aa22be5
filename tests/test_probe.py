from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from pano.errors import PanoError, VideoError
from pano.probe import VideoInfo, probe_video, sha256_file
from pano.video import make_video


def _frames(n: int, w: int = 64, h: int = 32) -> list[np.ndarray]:
    return [np.full((h, w, 3), (7 * i) % 256, np.uint8) for i in range(n)]


@pytest.fixture(scope="module")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("probe") / "clip.mp4"
    make_video(path, _frames(45), fps=30.0)
    return path


def test_probe_mp4(mp4: Path) -> None:
    info = probe_video(mp4)
    assert isinstance(info, VideoInfo)
    assert info.n_frames == 45
    assert info.fps == pytest.approx(30.0)
    assert (info.width, info.height) == (64, 32)
    assert info.codec == "h264"
    assert info.duration_s == pytest.approx(1.5, abs=0.05)
    assert not info.frames_counted  # header count present and consistent
    assert probe_video(mp4, count="demux").n_frames == 45
    assert probe_video(mp4, count="demux").frames_counted
    assert probe_video(mp4, count="container").n_frames == 45


def test_probe_counts_frames_when_the_container_has_no_count(tmp_path: Path) -> None:
    import av

    path = tmp_path / "clip.mkv"  # Matroska records no frame count
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 32, "yuv420p"
        for f in _frames(37):
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    info = probe_video(path)
    assert info.n_frames == 37
    assert info.frames_counted
    assert info.fps == pytest.approx(25.0)
    with pytest.raises(VideoError, match="does not record a frame count"):
        probe_video(path, count="container")


def test_probe_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match=r"nope\.mp4: video file not found") as ei:
        probe_video(tmp_path / "nope.mp4")
    assert isinstance(ei.value, OSError) and isinstance(ei.value, PanoError)


def test_probe_garbage_bytes(tmp_path: Path) -> None:
    bad = tmp_path / "Bad.mp4"
    bad.write_bytes(b"this is not a video" * 50)
    with pytest.raises(VideoError, match=r"Bad\.mp4: not a readable video"):
        probe_video(bad)


def test_probe_truncated_file(tmp_path: Path, mp4: Path) -> None:
    data = mp4.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match=r"cut\.mp4"):
        probe_video(cut)


def test_probe_audio_only_file_is_not_a_video(tmp_path: Path) -> None:
    import av

    path = tmp_path / "tone.mka"
    with av.open(str(path), "w") as c:
        s = c.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode():
            c.mux(p)
    with pytest.raises(VideoError, match="no video stream"):
        probe_video(path)


def test_sha256_file(mp4: Path) -> None:
    assert sha256_file(mp4) == hashlib.sha256(mp4.read_bytes()).hexdigest()
    with pytest.raises(VideoError, match="cannot read"):
        sha256_file(mp4.parent / "missing.bin")
