"""Reading PVS-HM's head/eye-movement ``.mat`` files and matching them to video files.

``FULLdata_per_video_frame.mat`` (HM) and ``EMdata_per_video_frame.mat`` (EM) hold one
variable per video, named after the video, each a float64 ``[n_samples, 2 * M]`` array:
column ``2k`` is the latitude and ``2k + 1`` the longitude of subject ``k``, in degrees,
origin at the front centre, UP and LEFT positive (pano's own convention, so no
conversion is needed). Both MATLAB v5 and v7.3 (HDF5) files are read, with pymatreader.

Every problem is a :class:`pano.errors.InputDataError` (or
:class:`pano.errors.InputFileNotFoundError`) whose one-line message names the file, the
variable and what is wrong.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pano.errors import InputDataError, InputFileNotFoundError
from pano.pvs_hm_facts import video_file_stem, video_name_from_stem

log = logging.getLogger("pano.stores.pvs_hm")

#: File extensions taken as videos when matching names to files.
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v")


def read_mat_variables(path: str | Path, what: str = "HM") -> dict[str, np.ndarray]:
    """Read every data variable of a ``.mat`` file (v5 or v7.3) as raw objects.

    MATLAB's bookkeeping entries (``__header__``, ``__version__``, ``__globals__``, any
    ``__*__``) are skipped. Values are whatever pymatreader returns (arrays for numeric
    matrices, ``str`` for char arrays, ``list``/``dict`` for cells/structs); use
    :func:`validate_angles` on each.

    Raises:
        InputFileNotFoundError: the file does not exist.
        InputDataError: the file is not a readable MATLAB file, or has no variables.

    """
    from pymatreader import read_mat

    path = Path(path)
    if not path.is_file():
        raise InputFileNotFoundError(f"{path}: {what} .mat file not found")
    try:
        data = read_mat(str(path))
    except Exception as err:  # pymatreader/scipy/h5py raise many types for bad files
        reason = " ".join(str(err).split()) or type(err).__name__
        raise InputDataError(f"{path}: not a readable MATLAB .mat file ({reason})") from err
    out = {k: v for k, v in data.items() if not (k.startswith("__") and k.endswith("__"))}
    if not out:
        raise InputDataError(f"{path}: the {what} .mat file holds no variables")
    for k in _logical_variables(path) & set(out):  # readers give MATLAB logicals as uint8
        if isinstance(out[k], np.ndarray):
            out[k] = out[k].astype(np.bool_)
    return out


def _logical_variables(path: Path) -> set[str]:
    """Names of the MATLAB ``logical`` (true/false) variables of a ``.mat`` file (v5 or v7.3)."""
    import scipy.io

    try:
        return {n for n, _, cls in scipy.io.whosmat(str(path)) if cls == "logical"}
    except NotImplementedError:  # v7.3 (HDF5): the class is an attribute of each dataset
        pass
    except Exception:  # read_mat read the file: no class list is not fatal
        return set()
    try:
        import h5py

        with h5py.File(path, "r") as f:
            return {
                k for k, v in f.items()
                if _attr_text(v.attrs.get("MATLAB_class")) == "logical"
            }  # fmt: skip
    except Exception:
        return set()


def _attr_text(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def validate_angles(
    value: object, name: str, path: str | Path, tolerance_deg: float = 1e-3
) -> np.ndarray:
    """Check one ``.mat`` variable and return it as float64 ``[n_samples, 2 * M]``.

    Checks: numeric real matrix; an even, non-zero number of columns (lat, lon per
    subject); at least 2 rows; ``|lat| <= 90`` and ``|lon| <= 180`` up to
    ``tolerance_deg`` (NaN allowed: missing samples). Values within the tolerance
    outside the range are kept as given.

    Raises:
        InputDataError: naming the file, the variable and the problem.

    """
    where = f"{path}: variable '{name}'"
    if isinstance(value, str | bytes) or not isinstance(value, np.ndarray | int | float):
        raise InputDataError(
            f"{where} is not a numeric matrix (got {type(value).__name__}); "
            "expected float [n_samples, 2 * subjects]"
        )
    arr = np.asarray(value)
    if arr.dtype.kind == "b":
        raise InputDataError(
            f"{where} is a logical (true/false) matrix, not angles; expected float degrees "
            "[n_samples, 2 * subjects] (lat, lon per subject)"
        )
    if arr.dtype.kind not in "fiu":
        raise InputDataError(
            f"{where} is not numeric (dtype {arr.dtype}); expected float [n_samples, 2 * subjects]"
        )
    if arr.ndim == 1:  # pymatreader squeezes a single-row matrix
        arr = arr[None, :]
    if arr.ndim != 2:
        raise InputDataError(
            f"{where} has shape {arr.shape}; expected a 2-D [n_samples, 2 * subjects] matrix"
        )
    n, cols = arr.shape
    if cols == 0 or cols % 2:
        raise InputDataError(
            f"{where} has {cols} columns; expected an even number "
            "(lat, lon per subject: 2 * subjects)"
        )
    if n < 2:
        raise InputDataError(f"{where} has {n} sample(s); at least 2 are needed")
    arr = arr.astype(np.float64, copy=False)
    if np.isinf(arr).any():
        r, c = np.argwhere(np.isinf(arr))[0]
        raise InputDataError(f"{where} has an infinite value at sample {r}, column {c}")
    if np.isnan(arr).all():
        raise InputDataError(
            f"{where} is all NaN (no sample of any subject); its ground truth would be empty "
            "heatmaps - fix the file or remove the variable"
        )
    for col0, lim, label in ((0, 90.0, "latitude"), (1, 180.0, "longitude")):
        part = arr[:, col0::2]
        with np.errstate(invalid="ignore"):
            bad = np.abs(part) > lim + tolerance_deg
        if bad.any():
            r, k = np.argwhere(bad)[0]
            raise InputDataError(
                f"{where}: {label} {part[r, k]:.6g} deg out of range [-{lim:g}, {lim:g}] "
                f"at sample {r}, "
                f"subject {k} (column {2 * k + col0}); are the columns lat, lon in degrees?"
            )
    return arr


def split_lat_lon(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[n_samples, 2M]`` -> ``lat, lon`` each ``(M, n_samples)`` (subject-major)."""
    return np.ascontiguousarray(arr[:, 0::2].T), np.ascontiguousarray(arr[:, 1::2].T)


def find_videos(videos_dir: str | Path) -> dict[str, Path]:
    """Video files of a folder, by *video name*.

    ``Let'sNotBeAloneTonight.mp4`` is listed as ``NotBeAloneTonight`` (PVS-HM's special case).

    Raises:
        InputFileNotFoundError: the folder does not exist.

    """
    d = Path(videos_dir)
    if not d.is_dir():
        raise InputFileNotFoundError(f"{d}: videos folder not found")
    out: dict[str, Path] = {}
    for p in sorted(d.iterdir()):
        if p.suffix.lower() in VIDEO_EXTENSIONS and not p.name.startswith("."):
            out.setdefault(video_name_from_stem(p.stem), p)
    return out


@dataclass
class Matching:
    """Which ``.mat`` variables have a video file and which do not."""

    pairs: dict[str, Path] = field(default_factory=dict)  # variable name -> video file
    hm_without_video: list[str] = field(default_factory=list)
    videos_without_hm: list[str] = field(default_factory=list)  # video names


def match_videos(names: list[str], videos: dict[str, Path]) -> Matching:
    """Pair ``.mat`` variable names with video files.

    A variable matches a file whose stem is the name, PVS-HM's special stem
    (:func:`pano.pvs_hm_facts.video_file_stem`), or - failing both - the same name up to
    case and non-alphanumeric characters.
    """

    def norm(s: str) -> str:
        return "".join(ch for ch in s.lower() if ch.isalnum())

    by_norm: dict[str, str] = {}
    for vname, p in videos.items():
        by_norm.setdefault(norm(vname), vname)
        by_norm.setdefault(norm(p.stem), vname)
    m = Matching()
    used: set[str] = set()
    for n in names:
        key = None
        if n in videos:
            key = n
        elif video_file_stem(n) in videos:
            key = video_file_stem(n)
        elif norm(n) in by_norm:
            key = by_norm[norm(n)]
        if key is None or key in used:
            m.hm_without_video.append(n)
        else:
            used.add(key)
            m.pairs[n] = videos[key]
    m.videos_without_hm = sorted(k for k in videos if k not in used)
    return m
