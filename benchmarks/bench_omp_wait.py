"""OpenMP wait policy: spinning (OpenMP's default) vs ``PASSIVE`` (pano's default), side by side.

``import pano`` sets ``OMP_WAIT_POLICY=PASSIVE`` when the variable is unset (see
``pano/__init__.py`` and :mod:`pano.threads`). This script measures why: the same CPU
workloads run in fresh child processes, alternating, under

* ``default``: the variable unset and torch imported before pano, so OpenMP keeps its
  default (spin, then sleep) - what pano did before;
* ``PASSIVE``: what ``import pano`` sets;

each after one ``torch.set_num_threads`` call, as every pano hot loop makes
(:func:`pano.threads.hot_loop_threads`). Workloads, per child:

* ``tiny op``: ``sin`` of 900 float64 values (a reader's angle conversion), ms per call;
* ``lstm train``: 30 Adam steps of a 64-unit LSTM on (64, 30, 8) (pano's position-only
  forecaster's size), seconds;
* ``conv fwd+bwd``: 10 forward/backward passes of two 3x3 convolutions on (16, 3, 96, 96)
  (a small image model), seconds;
* ``heatmaps``: :func:`pano.heatmaps.sphere_heatmaps` of 60 steps x 12 subjects at 360x180
  (a pano hot loop), seconds.

The machine's load matters (spinning threads hurt when the cores are busy): the 1-minute
load average is printed before and after. Run: ``python benchmarks/bench_omp_wait.py
[--rounds 3] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys, time
import torch  # before pano: pano's default does not apply unless the variable is set
torch.manual_seed(0)
torch.set_num_threads(torch.get_num_threads())  # what a pano hot loop does on entry/exit
out = {}
x = torch.rand(900, dtype=torch.float64)
t = time.perf_counter()
for _ in range(300):
    x.sin()
out["tiny op (ms)"] = (time.perf_counter() - t) / 300 * 1e3
m = torch.nn.LSTM(8, 64, batch_first=True)
lin = torch.nn.Linear(64, 3)
opt = torch.optim.Adam([*m.parameters(), *lin.parameters()], 1e-3)
xb, yb = torch.randn(64, 30, 8), torch.randn(64, 30, 3)
t = time.perf_counter()
for _ in range(30):
    h, _ = m(xb)
    loss = ((lin(h) - yb) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
out["lstm train (s)"] = time.perf_counter() - t
conv = torch.nn.Sequential(
    torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(32, 32, 3, padding=1)
)
img = torch.randn(16, 3, 96, 96)
t = time.perf_counter()
for _ in range(10):
    conv(img).sum().backward()
out["conv fwd+bwd (s)"] = time.perf_counter() - t
from pano.heatmaps import sphere_heatmaps
v = torch.nn.functional.normalize(torch.randn(60, 12, 3, dtype=torch.float64), dim=-1)
t = time.perf_counter()
sphere_heatmaps(v, 360, 180)
out["heatmaps (s)"] = time.perf_counter() - t
print(json.dumps(out))
"""


def run_child(policy: str | None) -> dict[str, float]:
    """One child process's figures; ``policy`` None = the variable unset."""
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    env.pop("PANO_THREADS", None)
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    res = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
    )
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="children per policy (alternating)")
    ap.add_argument("--json", type=Path, help="write the figures as JSON")
    args = ap.parse_args()
    load0 = os.getloadavg()
    runs: dict[str, list[dict[str, float]]] = {"default": [], "PASSIVE": []}
    for _ in range(args.rounds):
        runs["default"].append(run_child(None))
        runs["PASSIVE"].append(run_child("PASSIVE"))
    load1 = os.getloadavg()
    print(
        f"{platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"load {load0[0]:.1f} -> {load1[0]:.1f}; median of {args.rounds} children each"
    )
    print(f"{'workload':<18} {'default':>10} {'PASSIVE':>10} {'speed-up':>9}")
    table = {}
    for key in runs["default"][0]:
        a = statistics.median(r[key] for r in runs["default"])
        b = statistics.median(r[key] for r in runs["PASSIVE"])
        table[key] = {"default": a, "PASSIVE": b}
        print(f"{key:<18} {a:>10.3f} {b:>10.3f} {a / b:>8.1f}x")
    if args.json:
        args.json.write_text(json.dumps({"load": [load0, load1], "figures": table}, indent=1))


if __name__ == "__main__":
    main()
