"""Is gaze learnable from the synthetic faces? Ridge regression on pixels, leave-one-person-out.

Reads a GazeHub-layout folder (``pano synth-gaze OUT --layout gazehub``) with plain Python:
features = both 36 x 60 eye crops at half size plus the face at 32 x 32 (grey, /255,
standardised on the training persons); target = 3DGaze; ridge with a fixed ``lambda``
(not tuned on any person). Per left-out person: the mean angular error of the ridge
prediction and of the training persons' mean gaze (the baseline); then the mean of the
per-person means. A linear model on raw pixels is a floor for what a CNN should reach, not
a target. Run: ``python benchmarks/bench_synth_gaze_ridge.py DIR [--lam 100]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from pano.geometry import orthodromic_distance


def load(root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (N, F), 3DGaze (N, 3) and person names (N,) of a GazeHub-layout folder."""
    feats, gaze, person = [], [], []
    for label in sorted((root / "Label").glob("*.label")):
        for line in label.read_text().splitlines()[1:]:
            cols = line.split(" ")
            grey = [cv2.imread(str(root / "Image" / c), cv2.IMREAD_GRAYSCALE) for c in cols[:3]]
            face = cv2.resize(grey[0], (32, 32), interpolation=cv2.INTER_AREA)
            eyes = [cv2.resize(g, (30, 18), interpolation=cv2.INTER_AREA) for g in grey[1:]]
            feats.append(np.concatenate([e.ravel() for e in eyes] + [face.ravel()]) / 255.0)
            gaze.append([float(v) for v in cols[5].split(",")])
            person.append(label.stem)
    return np.array(feats), np.array(gaze), np.array(person)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, help="a GazeHub-layout folder")
    ap.add_argument("--lam", type=float, default=100.0, help="ridge penalty")
    args = ap.parse_args()
    x, y, persons = load(args.root)
    print(f"{len(x)} samples, {len(np.unique(persons))} persons, {x.shape[1]} features")
    rows = []
    for p in np.unique(persons):
        tr, te = persons != p, persons == p
        mu, sd = x[tr].mean(0), x[tr].std(0) + 1e-3
        a, b = (x[tr] - mu) / sd, (x[te] - mu) / sd
        y_mean = y[tr].mean(0)
        w = np.linalg.solve(a.T @ a + args.lam * np.eye(a.shape[1]), a.T @ (y[tr] - y_mean))
        pred = b @ w + y_mean
        pred /= np.linalg.norm(pred, axis=1, keepdims=True)
        base = np.repeat((y_mean / np.linalg.norm(y_mean))[None], te.sum(), axis=0)
        err = np.degrees(orthodromic_distance(pred, y[te])).mean()
        err_base = np.degrees(orthodromic_distance(base, y[te])).mean()
        rows.append((err, err_base))
        print(f"{p}: ridge {err:.2f} deg, mean gaze {err_base:.2f} deg")
    r = np.array(rows)
    print(f"mean of per-person means: ridge {r[:, 0].mean():.2f} deg (sd {r[:, 0].std():.2f}), "
          f"mean gaze {r[:, 1].mean():.2f} deg (sd {r[:, 1].std():.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
