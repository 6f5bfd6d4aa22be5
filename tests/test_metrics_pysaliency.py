"""Agreement with pysaliency 0.2.22 itself, repeated fixations and ties included.

pysaliency is the ``tuebingen`` profile's reference. The ``dev`` extra installs it, so
these tests run in CI; when it is missing they FAIL with the install command, unless
``PANO_SKIP_PYSALIENCY=1`` asks to skip them (never set in CI).

Two shims make pysaliency 0.2.22 importable and runnable on today's stack; both stay
inside this module: its package ``__init__`` imports ``pkg_resources``, which setuptools
>= 81 no longer ships (a stub sits in ``sys.modules`` for the import only), and its ROC
code calls ``np.trapz``, which NumPy 2.4 removed (set to ``np.trapezoid`` while these
tests run, then restored).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import importlib.util
import os
import sys
import types
from collections.abc import Iterator

import numpy as np
import pytest

from pano.metrics import Fixations, auc, auc_judd, cc, get_profile, kld, nss, sauc, sim

H, W = 18, 36
PYSALIENCY_VERSION = "0.2.22"


@pytest.fixture(scope="module")
def pys() -> Iterator[types.ModuleType]:
    """The pysaliency package (0.2.22), importable and with ``np.trapz`` while in use."""
    if os.environ.get("PANO_SKIP_PYSALIENCY") == "1":
        pytest.skip("PANO_SKIP_PYSALIENCY=1: pysaliency agreement tests skipped on request")
    with pytest.MonkeyPatch.context() as mp:
        if "pkg_resources" not in sys.modules and importlib.util.find_spec("pkg_resources") is None:
            stub = types.ModuleType("pkg_resources")
            for name in ("resource_string", "resource_listdir", "resource_filename"):
                setattr(stub, name, None)
            mp.setitem(sys.modules, "pkg_resources", stub)
        try:
            mod = importlib.import_module("pysaliency")
            importlib.import_module("pysaliency.metrics")
            importlib.import_module("pysaliency.numba_utils")
        except ImportError as err:
            pytest.fail(
                f"pysaliency {PYSALIENCY_VERSION} is not importable ({err}): install the dev "
                "extra (pip install -e '.[dev]', as `make setup` does), or set "
                "PANO_SKIP_PYSALIENCY=1 to skip these agreement tests on purpose",
                pytrace=False,
            )
    version = importlib.metadata.version("pysaliency")
    assert version == PYSALIENCY_VERSION, f"references are for pysaliency {PYSALIENCY_VERSION}"
    with pytest.MonkeyPatch.context() as mp:
        if not hasattr(np, "trapz"):
            mp.setattr(np, "trapz", np.trapezoid, raising=False)
        yield mod


def _maps(rng: np.random.Generator, f: int = 3) -> np.ndarray:
    return rng.random((f, H, W)) ** 3


def _tied_maps(rng: np.random.Generator, f: int = 3, levels: int = 6) -> np.ndarray:
    """Maps of a few distinct values: many pixels share one, fixated ones included."""
    return np.floor(rng.random((f, H, W)) * levels) / levels + 0.05


def _fix(rng: np.random.Generator, f: int = 3, n: int = 12) -> Fixations:
    rows = rng.integers(0, H, (f, n))
    cols = rng.integers(0, W, (f, n))
    rows[:, 1], cols[:, 1] = rows[:, 0], cols[:, 0]  # a repeated fixation in every frame
    rows[:, 2], cols[:, 2] = rows[:, 0], cols[:, 0]  # ... three times
    rows[:, 4], cols[:, 4] = rows[:, 3], cols[:, 3]
    valid = np.ones((f, n), bool)
    valid[0, -1] = False  # a missing subject
    return Fixations.from_pixels(rows, cols, H, W, valid)


def _pys_fixations(pys: types.ModuleType, fix: Fixations) -> object:
    """The same fixations as pysaliency's ``Fixations`` (x = column, y = row, n = frame)."""
    n = np.nonzero(fix.valid)[0]
    return pys.Fixations.create_without_history(
        fix.cols[fix.valid].astype(float), fix.rows[fix.valid].astype(float), n
    )


def _pys_model(pys: types.ModuleType, maps: np.ndarray) -> tuple[object, object]:
    """A pysaliency saliency-map model that returns ``maps[i]`` for stimulus ``i``."""

    class Maps(pys.SaliencyMapModel):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            super().__init__(caching=False)

        def _saliency_map(self, stimulus: np.ndarray) -> np.ndarray:
            return maps[int(stimulus[0, 0])]

    stimuli = pys.Stimuli([np.full((H, W), i, np.uint8) for i in range(maps.shape[0])])
    return Maps(), stimuli


def _no_jitter(profile: str):
    return dataclasses.replace(get_profile(profile), judd_jitter=0.0)


def test_pure_metrics_agree(pys: types.ModuleType) -> None:
    M, N = pys.metrics, pys.numba_utils
    rng = np.random.default_rng(9)
    p, g = _maps(rng), _maps(rng)
    fix = _fix(rng)
    for i in range(3):
        ys, xs = fix.rows[i][fix.valid[i]], fix.cols[i][fix.valid[i]]
        assert cc(p, g, "tuebingen")[i] == pytest.approx(M.CC(p[i], g[i]), abs=1e-12)
        assert nss(p, fix, "tuebingen")[i] == pytest.approx(np.mean(M.NSS(p[i], xs, ys)), abs=1e-12)
        assert sim(p, g, "tuebingen")[i] == pytest.approx(M.SIM(p[i], g[i]), abs=1e-12)
        assert kld(p, g, "tuebingen")[i] == pytest.approx(M.MIT_KLDiv(p[i], g[i]), abs=1e-10)
        ref_auc = np.mean(N.general_rocs_per_positive_numba(p[i][ys, xs], p[i].ravel()))
        assert auc(p, fix, "tuebingen")[i] == pytest.approx(ref_auc, abs=1e-12)


def test_auc_judd_issue_case(pys: types.ModuleType) -> None:
    """Issue 11: pixel 0 fixated once, pixel 2 twice on a 1x6 map - 0.9167 in both."""
    row = np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4]])

    class Row(pys.SaliencyMapModel):  # type: ignore[name-defined,misc]
        def _saliency_map(self, stimulus: np.ndarray) -> np.ndarray:
            return row

    stimuli = pys.Stimuli([np.zeros((1, 6), np.uint8)])
    fixations = pys.Fixations.create_without_history(
        np.array([0.0, 2.0, 2.0]), np.zeros(3), np.zeros(3, int)
    )
    ours = Fixations.from_pixels([[0, 0, 0]], [[0, 2, 2]], 1, 6)
    for jitter in (False, True):
        ref = Row(caching=False).AUC_Judd(stimuli, fixations, jitter=jitter)
        assert ref == pytest.approx(11 / 12, abs=1e-12)
        for profile in ("tuebingen", "sphere"):
            assert float(auc_judd(row, ours, profile)) == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("tied", [True, False], ids=["tied-maps", "continuous-maps"])
def test_auc_judd_agrees_with_repeated_fixations(pys: types.ModuleType, tied: bool) -> None:
    rng = np.random.default_rng(21 if tied else 22)
    p = _tied_maps(rng) if tied else _maps(rng)
    fix = _fix(rng)
    model, stimuli = _pys_model(pys, p)
    fixations = _pys_fixations(pys, fix)
    ref = model.AUC_per_image(
        stimuli, fixations, nonfixations="unfixated", thresholds="fixations"
    )  # what AUC_Judd(jitter=False) averages
    got = auc_judd(p, fix, _no_jitter("tuebingen"))
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
    assert float(np.mean(got)) == pytest.approx(
        model.AUC_Judd(stimuli, fixations, jitter=False), abs=1e-12
    )


@pytest.mark.parametrize("tied", [True, False], ids=["tied-maps", "continuous-maps"])
def test_exact_and_shuffled_auc_agree_with_repeated_fixations(
    pys: types.ModuleType, tied: bool
) -> None:
    rng = np.random.default_rng(23 if tied else 24)
    p = _tied_maps(rng) if tied else _maps(rng)
    fix = _fix(rng)
    model, stimuli = _pys_model(pys, p)
    fixations = _pys_fixations(pys, fix)
    uniform = model.AUC_per_image(stimuli, fixations, nonfixations="uniform")
    np.testing.assert_allclose(auc(p, fix, "tuebingen"), uniform, rtol=0, atol=1e-12)
    # pysaliency's 'shuffled': the negatives of frame i are all fixations of the other frames.
    f, n = fix.rows.shape
    rows = np.zeros((f, (f - 1) * n), np.int64)
    cols = np.zeros_like(rows)
    valid = np.zeros(rows.shape, bool)
    for i in range(f):
        others = [j for j in range(f) if j != i]
        rows[i] = fix.rows[others].ravel()
        cols[i] = fix.cols[others].ravel()
        valid[i] = fix.valid[others].ravel()
    other = Fixations.from_pixels(rows, cols, H, W, valid)
    shuffled = model.AUC_per_image(stimuli, fixations, nonfixations="shuffled")
    np.testing.assert_allclose(sauc(p, fix, other, "tuebingen"), shuffled, rtol=0, atol=1e-12)
