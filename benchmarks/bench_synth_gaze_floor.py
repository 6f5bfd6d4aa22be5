"""How much of a synthetic gaze label can a model NOT see? The label floor of ``synth-gaze``.

Recomputes, without rendering, the scenes ``pano synth-gaze --seed S --persons P
--samples-per-person N`` draws (``pano.synth.gaze_layouts.simulate_person``) and compares,
in GazeHub's normalised camera of each sample (axes x right, y down, z forward; the
mirrored ``right`` samples mirrored as the files have them):

* the **label**: GazeHub's 3DGaze ``normalise(S R (gt - fc))`` (``--gaze-scale``, the
  default) or ``normalise(R (gt - fc))`` (``--no-gaze-scale``), with ``fc`` the face centre
  of the generic 6-point model fitted to the landmarks (the data set's definition);
* the **eye gaze**: ``R (gt - m)``, ``m`` the midpoint of the two true eyeball centres -
  the direction the rendered eyes actually show.

An "oracle" that reads the eye gaze perfectly and maps its ``[yaw, pitch]`` to the label's
with one linear map (plus offset) fitted on the other persons, leave-one-person-out, gives
the error no appearance model can beat by much: what is left is not in the image. ``S =
diag(1, 1, 600 / |fc|)`` depends on the face's distance, which the normalised image hides
(the face is warped to 600 mm), so the scaled label carries a per-sample distortion no
model can see. The training persons' mean gaze is the baseline, as in ``pano eval``.
Run: ``python benchmarks/bench_synth_gaze_floor.py --seed 1 --persons 8 --samples 200``.
"""

from __future__ import annotations

import argparse

import numpy as np

from pano.geometry import camvec_to_gazehub, gazehub_to_camvec, orthodromic_distance
from pano.synth.gaze_layouts import GazeSynthConfig, gazehub_normalisation, simulate_person
from pano.synth.gaze_scene import eye_centres, generic_face_model


def unit(v: np.ndarray) -> np.ndarray:
    """Rows of ``v (N, 3)`` normalised."""
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def angle_deg(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Great-circle angles in degrees between rows of ``u`` and ``v`` ``(N, 3)``."""
    return np.rad2deg(orthodromic_distance(unit(u), unit(v)))


def scenes(seed: int, persons: int, samples: int) -> dict[str, np.ndarray]:
    """Per sample: person index, both labels and the eye gaze ``(N, 3)``, and ``S[2, 2]``."""
    cfg = GazeSynthConfig(seed=seed, persons=persons, samples_per_person=samples)
    model = generic_face_model()
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("person", "scaled", "rot", "eye", "s")}
    for p in range(persons):
        per = simulate_person(p, cfg, model)
        for smp, ann in zip(per.samples, per.annotations, strict=True):
            nm = gazehub_normalisation(ann.face_centre, ann.head_rvec, per.setup.camera_matrix)
            mirror = np.array([-1.0, 1.0, 1.0]) if ann.which_eye == "right" else np.ones(3)
            g = ann.target - ann.face_centre
            eye_mid = eye_centres(per.subject, smp.head_rot, smp.head_t).mean(axis=0)
            out["person"].append(np.array(p))
            out["scaled"].append(unit(nm.scale @ nm.rot @ g) * mirror)
            out["rot"].append(unit(nm.rot @ g) * mirror)
            out["eye"].append(unit(nm.rot @ (ann.target - eye_mid)) * mirror)
            out["s"].append(np.array(nm.scale[2, 2]))
    return {k: np.stack(v) for k, v in out.items()}


def oracle_lopo(eye: np.ndarray, label: np.ndarray, person: np.ndarray) -> tuple[list, list]:
    """Per left-out person: mean error of the linear eye-gaze oracle and of the mean gaze."""
    x = np.stack(camvec_to_gazehub(eye), 1)
    x = np.concatenate([x, np.ones((len(x), 1))], 1)
    y = np.stack(camvec_to_gazehub(label), 1)
    oracle, mean_gaze = [], []
    for p in np.unique(person):
        tr, te = person != p, person == p
        w, *_ = np.linalg.lstsq(x[tr], y[tr], rcond=None)
        pred = x[te] @ w
        v = np.asarray(gazehub_to_camvec(pred[:, 0], pred[:, 1])).reshape(-1, 3)
        oracle.append(float(angle_deg(v, label[te]).mean()))
        m = np.broadcast_to(unit(label[tr].mean(0)), label[te].shape)
        mean_gaze.append(float(angle_deg(m, label[te]).mean()))
    return oracle, mean_gaze


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--persons", type=int, default=5)
    ap.add_argument("--samples", type=int, default=300, help="samples per person")
    a = ap.parse_args()
    d = scenes(a.seed, a.persons, a.samples)
    s_lo, s_hi = d["s"].min(), d["s"].max()
    print(f"seed {a.seed}, {a.persons} persons x {a.samples}; S[2,2] = 600/|fc| in "
          f"[{s_lo:.2f}, {s_hi:.2f}]")  # fmt: skip
    for name, key in (("GazeHub label normalise(S R g)", "scaled"), ("label R g", "rot")):
        off = angle_deg(d[key], d["eye"])
        oracle, base = oracle_lopo(d["eye"], d[key], d["person"])
        per_person = np.round([off[d["person"] == p].mean() for p in range(a.persons)], 2)
        print(
            f"{name}: angle to the eye gaze {off.mean():.2f} deg (per person {per_person}); "
            f"linear eye-gaze oracle, LOPO mean of person means {np.mean(oracle):.2f} deg vs "
            f"mean gaze {np.mean(base):.2f} deg = {np.mean(oracle) / np.mean(base):.3f} of it"
        )


if __name__ == "__main__":
    main()
