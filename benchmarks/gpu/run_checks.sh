#!/usr/bin/env bash
# Run on a CUDA machine that cannot download (see docs/benchmarks.md, "On a CUDA machine"),
# from the repo root, with .whl/ (from fetch_wheels.sh) copied along: installs the wheels and
# pano, then runs the CUDA tests and the GPU benchmarks, writing every log to $OUT (or
# ./gpu-out when OUT is unset).
set -uo pipefail
OUT="${OUT:-gpu-out}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site
python3 -m pip install -q --no-deps --no-build-isolation --no-index -e . > "$OUT/install.log" 2>&1 \
  || { cat "$OUT/install.log"; exit 1; }
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; \
  python3 -c "import torch, pano; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'pano', pano.__version__)"; } \
  | tee "$OUT/machine.txt"
python3 -m pytest -q -m gpu -p no:cacheprovider 2>&1 | tee "$OUT/pytest_gpu.log" | tail -25
python3 benchmarks/bench_viewport_gpu.py --stream 2>&1 | tee "$OUT/bench_viewport_gpu.log" | tail -40
python3 benchmarks/bench_streaming.py --device cuda 2>&1 | tee "$OUT/bench_streaming_cuda.log" | tail -12
