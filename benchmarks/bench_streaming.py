"""Streaming frames/s: decode + all 58 viewports per frame vs decode alone, per backend.

Builds a synthetic PVS-HM-format data set with one 1920x960 H.264 clip and 58 subjects
(``pano.synth``), ingests it into a temporary store, then measures on the same file:

* ``decode``: ``open_video(path, backend).iter_frames()`` - every frame decoded to a
  uint8 tensor, nothing else;
* ``stream``: ``pano.stores.stream_viewports(store, video, backend=...)`` - decoding in
  the background prefetch thread, 58 viewports (224x224, FoV 90, bilinear, anti-aliased)
  rendered per frame, batches yielded;
* ``luma decode``: the same decoding with ``gray=True`` (full-range luma);
* ``coded luma``: ``gray=True, luma="coded"``: the Y plane as coded, no range
  conversion - what the DHP stream decodes, so its baseline;
* ``stream dhp``: the same with DHP's 42x42 luma views (``gray=True``, FoV 110x113).

The issue's target is stream >= 0.8x decode. On a CPU-only machine decoding and sampling
compete for the same cores, so the ratio is bounded by decode / (decode + sampling) time;
the number that matters for a GPU machine comes from ``bench_viewport_gpu.py``.

Run: ``python benchmarks/bench_streaming.py [--quick] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch


def build(tmp: Path, seconds: float, width: int) -> tuple[Path, Path, str]:
    from pano.pipelines.ingest import IngestConfig, ingest_pvs_hm
    from pano.synth import HM_FILE, SynthConfig, write_synthetic_dataset

    data = tmp / "data"
    cfg = SynthConfig(videos=1, subjects=58, seconds=seconds, width=width, em=False, seed=0)
    write_synthetic_dataset(data, cfg, workers=1)
    store = tmp / "bench.zarr"
    ingest_pvs_hm(
        IngestConfig.model_validate(
            {
                "videos": data,
                "hm": data / HM_FILE,
                "store": str(store),
                "workers": 0,
                "device": "cpu",
            }
        )
    )
    (video,) = [p.name for p in (store / "videos").iterdir() if p.is_dir()]
    return store, data, video


def fps_of(run: object, reps: int) -> float:
    """Best frames/s over ``reps`` runs of ``run() -> frames``."""
    best = 0.0
    for _ in range(reps):
        t0 = time.perf_counter()
        n = run()  # type: ignore[operator]
        best = max(best, n / (time.perf_counter() - t0))
    return best


def main() -> None:
    from bench_viewport import machine

    from pano.stores import read_video_attrs, resolve_video_path, stream_viewports
    from pano.stores.reader import read_root_attrs
    from pano.video import available_backends, open_video

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter clip, fewer repetitions")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, auto")
    ap.add_argument("--width", type=int, default=1920, help="frame width (height = width/2)")
    args = ap.parse_args()
    seconds = 2.0 if args.quick else 4.0
    reps = 1 if args.quick else 2
    tmp = Path(tempfile.mkdtemp(prefix="pano-bench-"))
    try:
        store, data, video = build(tmp, seconds, args.width)
        va = read_video_attrs(store, video)
        path = resolve_video_path(store, read_root_attrs(store), va.video.path, data)
        print(f"machine: {machine()}")
        print(
            f"clip: {va.video.width}x{va.video.height} {va.video.codec}, "
            f"{va.video.n_frames} frames, 58 subjects; device {args.device}\n"
        )
        head = f"{'backend':<10} {'decode fps':>11} {'stream fps':>11} {'ratio':>6}"
        print(f"{head} {'luma dec':>9} {'coded luma':>11} {'dhp fps':>8} {'ratio':>6}")
        for backend in ("pyav", "decord"):
            ok, why = available_backends()[backend]
            if not ok:
                print(f"{backend:<10} unavailable: {why}")
                continue

            def decode(backend: str = backend, gray: bool = False, luma: str = "full") -> int:
                with open_video(
                    path, backend=backend, device=args.device, gray=gray, luma=luma
                ) as dec:
                    return sum(1 for _ in dec.iter_frames())

            def stream(backend: str = backend, **kw: object) -> int:
                it = stream_viewports(store, video, backend=backend, device=args.device, **kw)  # type: ignore[arg-type]
                n = 0
                for batch in it:
                    n += 1
                    if batch.viewports.is_cuda:
                        torch.cuda.synchronize()
                return n

            d = fps_of(decode, reps)
            dg = fps_of(lambda backend=backend: decode(backend, gray=True), reps)
            dc = fps_of(lambda backend=backend: decode(backend, gray=True, luma="coded"), reps)
            s = fps_of(stream, reps)
            dhp = fps_of(
                lambda backend=backend: stream(
                    backend, gray=True, fov_deg=(110, 113), size=(42, 42), mode="bicubic"
                ),
                reps,
            )
            print(
                f"{backend:<10} {d:>11.1f} {s:>11.1f} {s / d:>6.2f} "
                f"{dg:>9.1f} {dc:>11.1f} {dhp:>8.1f} {dhp / dc:>6.2f}"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
