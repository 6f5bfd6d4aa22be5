#!/usr/bin/env bash
# Download, HERE (where pip can reach an index), the wheels pano needs on a CUDA machine
# that cannot download (docs/benchmarks.md, "On a CUDA machine"): one with Python 3.12, CUDA
# PyTorch, xarray, numpy, scipy, typer, rich, matplotlib, tensorboard, pytest, hypothesis...
# but not the packages below. Copy the folder .whl/ (git-ignored) there with the repository.
# Versions are the ones pano's CI venv runs. Left out, to keep the copy small (under 64 MiB;
# PyAV alone is 35 MB): decord (a CPU-only wheel: nothing to learn on a GPU machine; the
# benchmarks report it unavailable). kornia (pure Python, 1.9 MB) computes pano's
# rotations; its kornia_rs (5.3 MB) is imported by `import kornia`.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qxF '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
rm -rf .whl && mkdir -p .whl
pkgs=(
  zarr==3.1.6 numcodecs==0.16.6 donfig==0.8.1.post1 google-crc32c==1.9.0
  dask==2026.8.0 distributed==2026.8.0 partd==1.4.2 locket==1.0.0 tblib==3.2.2
  tornado==6.6.1 zict==3.0.0
  pydantic==2.14.3 pydantic_core==2.50.4 annotated-types==0.8.0
  typing-inspection==0.4.5 pymatreader==1.3.2 xmltodict==1.0.4 kornia==0.9.0 kornia_rs==0.2.0
  av==18.1.0 xarray==2026.9.0 py360convert==1.0.4 pytorch360convert==0.2.3
)
for p in "${pkgs[@]}"; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 -d .whl "$p"
done
du -sh .whl
