"""Readers of GazeHub's processed gaze data sets (MPIIFaceGaze, Gaze360, EYEDIAP).

GazeHub (Cheng et al., "Appearance-based gaze estimation with deep learning: a review
and benchmark") ships each data set as ``<root>/Image/...`` JPEGs and ``<root>/Label/*.label``
text files: one header line, then one sample per line, columns separated by single
spaces, vectors comma-separated (no spaces). Image paths in a label file are relative
to ``<root>/Image``.

* **MPIIFaceGaze** - ``Label/pXX.label`` (``p00``..``p14``), 12 columns
  ``Face Left Right Origin WhichEye 3DGaze 3DHead 2DGaze 2DHead Rmat Smat GazeOrigin``.
* **EYEDIAP** - ``Label/pN.label`` (``p1``..``p16``, screen-target sessions), 11 columns
  ``Face Left Right metapath 3DGaze 3DHead 2DGaze 2DHead Rvec Svec GazeOrigin``.
* **Gaze360** - ``Label/train.label``, ``val.label``, ``test.label``, 6 columns
  ``Face Left Right Origin 3DGaze 2DGaze``.

What the columns mean (from GazeHub's own processing code, read to learn the format):

* ``2DGaze`` = ``[yaw, pitch]`` radians; pano's ``gaze_xyz`` comes from it through
  :func:`pano.geometry.gazehub_to_camvec` (camera axes x right, y down, z forward; gaze
  ``(0, 0, -1)`` looks into the camera). ``3DGaze`` is the unit gaze vector: in those
  axes for MPIIFaceGaze and EYEDIAP, in Gaze360's own eye frame (x left, y up, z away from
  the camera, i.e. ``diag(-1, -1, 1)`` of camera axes) for Gaze360. The reader compares the
  two for every sample and states the result in the convention's ``notes``; it never
  picks one silently.
* ``3DHead`` = the head rotation (Rodrigues vector) in the normalised camera; ``2DHead`` =
  ``[yaw, pitch]`` of its z axis ``(sin y cos p, sin p, cos y cos p)`` (into the head), so
  the frontal axis (out of the face) is ``gazehub_to_camvec(2DHead)`` - pano's ``head_xyz``.
* ``Rmat``/``Rvec`` = the normalisation rotation R as a Rodrigues vector (3 numbers),
  ``Smat``/``Svec`` = the diagonal of the scaling S (3 numbers); ``GazeOrigin`` = ``S R fc``
  (the face centre in the normalised camera, mm; x negated on mirrored samples). pano
  stores ``rmat``/``smat`` as 3x3 matrices and ``gaze_origin`` back in the original camera
  frame (``fc = R^T S^-1 o``).
* ``WhichEye`` (MPIIFaceGaze): ``left`` or ``right``; ``right`` samples are mirrored
  images (face flipped, eye crops flipped and swapped, gaze and origin x negated).

Parsing is in two steps so that a big data set never sits in memory: :func:`scan_gazehub`
reads every label file (text only; every image is checked to exist) into a
:class:`GazeHubIndex`; :meth:`GazeHubIndex.samples` decodes the images of a range of rows.
"""

from __future__ import annotations

import hashlib
import math
import stat
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from pano.errors import InputDataError, InputFileNotFoundError, UnknownNameError
from pano.geometry import gazehub_to_camvec
from pano.stores.gaze_samples import GazeConvention, GazeProtocol, GazeSamples

#: Data sets ``pano ingest gazehub --dataset`` reads.
GAZEHUB_DATASETS = ("mpiifacegaze", "gaze360", "eyediap")
#: Largest 3DGaze-vs-2DGaze difference (degrees) reported as agreement.
AGREE_TOL_DEG = 0.01
_SPLITS = ("train", "val", "test")

_COLUMNS = {
    "mpiifacegaze": ("Face", "Left", "Right", "Origin", "WhichEye", "3DGaze", "3DHead",
                     "2DGaze", "2DHead", "Rmat", "Smat", "GazeOrigin"),
    "eyediap": ("Face", "Left", "Right", "metapath", "3DGaze", "3DHead", "2DGaze", "2DHead",
                "Rvec", "Svec", "GazeOrigin"),
    "gaze360": ("Face", "Left", "Right", "Origin", "3DGaze", "2DGaze"),
}  # fmt: skip
#: Numbers per vector column.
_WIDTH = {"3DGaze": 3, "3DHead": 3, "2DGaze": 2, "2DHead": 2, "Rmat": 3, "Smat": 3,
          "Rvec": 3, "Svec": 3, "GazeOrigin": 3}  # fmt: skip
#: Gaze360's 3DGaze frame (x left, y up, z away) -> GazeHub camera axes.
_G360_TO_CAM = np.diag([-1.0, -1.0, 1.0])


def _check_dataset(dataset: str) -> str:
    if dataset not in GAZEHUB_DATASETS:
        raise UnknownNameError(
            f"--dataset {dataset!r} is not a GazeHub data set; use one of "
            f"{', '.join(GAZEHUB_DATASETS)}"
        )
    return dataset


def label_files(root: Path, dataset: str) -> list[Path]:
    """The label files of a GazeHub data set, in reading order.

    Raises:
        InputFileNotFoundError: no ``Label`` folder, or none of the expected files.

    """
    _check_dataset(dataset)
    folder = root / "Label"
    if not folder.is_dir():
        raise InputFileNotFoundError(
            f"{root}: no Label folder; --root must be GazeHub's {dataset} folder "
            "(holding Image/ and Label/)"
        )
    if dataset == "gaze360":
        files = [folder / f"{s}.label" for s in _SPLITS if (folder / f"{s}.label").is_file()]
        want = "train.label, val.label, test.label"
    else:
        files = sorted((f for f in folder.glob("p*.label") if f.stem[1:].isdigit()),
                       key=lambda f: int(f.stem[1:]))  # fmt: skip
        want = "pXX.label per person"
    if not files:
        raise InputFileNotFoundError(f"{folder}: no label files ({want}) for {dataset}")
    return files


@dataclass
class GazeHubIndex:
    """Every label row of a data set, images not yet read (arrays aligned on rows).

    ``face``/``left``/``right`` are image paths relative to ``root/Image``; ``where`` is
    ``"<label file>:<line>"`` per row, for messages. The other arrays are those of
    :class:`GazeSamples` (``gaze_xyz`` from ``2DGaze``). ``fingerprint`` (the label files'
    SHA-256) is part of the group's layout: other labels need ``--overwrite``.
    ``images_digest`` (SHA-256 of every image's path and byte size) is recorded when the
    group is complete and checked on a re-run, so a replaced image is noticed without
    blocking the resume of an ingest whose corrupt image was fixed.
    """

    root: Path
    dataset: str
    face: np.ndarray
    left: np.ndarray
    right: np.ndarray
    where: np.ndarray
    fields: dict[str, np.ndarray]
    convention: GazeConvention
    protocol: GazeProtocol
    subjects: list[str]
    fingerprint: str
    image_shapes: dict[str, tuple[int, int]]
    images_digest: str = ""

    def __len__(self) -> int:
        return int(self.face.shape[0])

    def samples(self, start: int = 0, stop: int | None = None) -> GazeSamples:
        """Rows ``start:stop`` with their face and eye images decoded (uint8 RGB).

        Raises:
            InputDataError: an image is unreadable or of another size (file, line, path).

        """
        sel = slice(start, len(self) if stop is None else stop)
        imgs = {}
        for col, paths in (("face", self.face), ("left", self.left), ("right", self.right)):
            imgs[col] = np.stack([
                self._image(p, w, col) for p, w in zip(paths[sel], self.where[sel], strict=True)
            ])  # fmt: skip
        return GazeSamples(**imgs, **{k: v[sel] for k, v in self.fields.items()})

    def _image(self, rel: str, where: str, col: str) -> np.ndarray:
        img = decode_image(self.root / "Image" / rel, f"{where}: column {col.title()}")
        want = self.image_shapes[col]
        if img.shape[:2] != want:
            raise InputDataError(
                f"{where}: image {rel} is {img.shape[0]}x{img.shape[1]}, the data set's "
                f"{col} crops are {want[0]}x{want[1]}; every {col} crop must have one size"
            )
        return img


def decode_image(path: Path, where: str) -> np.ndarray:
    """Decode an image file as ``uint8 (H, W, 3)`` RGB (grey images become 3 channels).

    Raises:
        InputFileNotFoundError: no such file.
        InputDataError: the bytes are not a decodable image, or a truncated JPEG.

    """
    import cv2

    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise InputFileNotFoundError(f"{where}: image {path} not found") from None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    # libjpeg decodes a truncated file with a warning; its EOI marker (FF D9) must end it.
    truncated = path.suffix.lower() in (".jpg", ".jpeg") and not _ends_with_eoi(data)
    if img is None or truncated:
        raise InputDataError(
            f"{where}: image {path} is corrupt or not an image "
            f"({'truncated JPEG' if img is not None else 'cannot be decoded'}); replace it "
            "with the file from the GazeHub download"
        )
    return np.ascontiguousarray(img[:, :, ::-1])


def _ends_with_eoi(data: np.ndarray) -> bool:
    tail = data[-64:].tobytes().rstrip(b"\x00\r\n ")
    return tail.endswith(b"\xff\xd9")


def _vector(text: str, col: str, where: str) -> list[float]:
    width = _WIDTH[col]
    try:
        vals = [float(t) for t in text.split(",")]
    except ValueError:
        vals = []
    if len(vals) != width:
        raise InputDataError(
            f"{where}: column {col} {text!r} is not {width} comma-separated numbers"
        )
    if not all(math.isfinite(v) for v in vals):
        what = "angle pair" if width == 2 else "vector"
        raise InputDataError(f"{where}: column {col} {text!r} is not a finite {what}")
    return vals


def _image_path(text: str, col: str, where: str, root: Path) -> tuple[str, int]:
    """The image path relative to ``root/Image`` (POSIX) and its size in bytes."""
    p = PurePosixPath(text.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise InputDataError(
            f"{where}: column {col} {text!r} must be a path relative to {root / 'Image'}"
        )
    try:
        st = (root / "Image" / p).stat()
    except OSError:
        st = None
    if st is None or not stat.S_ISREG(st.st_mode):
        raise InputFileNotFoundError(
            f"{where}: image {root / 'Image' / p} (column {col}) not found"
        )
    return str(p), st.st_size


def _angle_deg(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Great-circle angle between rows of ``u`` and ``v`` (any length), degrees."""
    from pano.geometry import orthodromic_distance

    un = u / np.linalg.norm(u, axis=1, keepdims=True)
    vn = v / np.linalg.norm(v, axis=1, keepdims=True)
    return np.degrees(np.asarray(orthodromic_distance(un, vn), dtype=np.float64))


def _agreement(name: str, ref: str, angle: np.ndarray, where: np.ndarray) -> str:
    """One sentence on how far two label columns agree (the reader's finding)."""
    worst = int(np.argmax(angle))
    bad = int((angle > AGREE_TOL_DEG).sum())
    if bad == 0:
        return (f"{name} agrees with {ref} within {AGREE_TOL_DEG} deg in all {angle.size} "
                f"samples (max {angle[worst]:.2g} deg)")  # fmt: skip
    return (f"{name} DISAGREES with {ref} by more than {AGREE_TOL_DEG} deg in {bad} of "
            f"{angle.size} samples (max {angle[worst]:.3g} deg at {where[worst]}); pano's "
            "vectors come from the angle pair")  # fmt: skip


def _parse(root: Path, dataset: str, files: list[Path]) -> tuple[dict[str, list[Any]], str, str]:
    """Every row of ``files`` as lists per column, and two digests.

    The SHA-256 of the label files, and that of every image's path and size in bytes
    (:attr:`GazeHubIndex.images_digest`).
    """
    cols = _COLUMNS[dataset]
    out: dict[str, list[Any]] = {c: [] for c in (*cols, "where", "file")}
    digest = hashlib.sha256(dataset.encode())
    images = hashlib.sha256()
    for f in files:
        raw = f.read_bytes()
        digest.update(f.name.encode() + b"\0" + raw)
        lines = raw.decode("utf-8", errors="replace").splitlines()
        if not lines or lines[0].split()[:1] != ["Face"]:
            raise InputDataError(f"{f}:1: not GazeHub's header line (expected {' '.join(cols)!r})")
        for no, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            where = f"{f}:{no}"
            parts = line.strip().split(" ")
            if len(parts) != len(cols):
                raise InputDataError(
                    f"{where}: {len(parts)} space-separated columns, expected {len(cols)} "
                    f"({' '.join(cols)})"
                )
            for c, text in zip(cols, parts, strict=True):
                if c in _WIDTH:
                    out[c].append(_vector(text, c, where))
                elif c in ("Face", "Left", "Right"):
                    rel, size = _image_path(text, c, where, root)
                    out[c].append(rel)
                    images.update(f"{rel}\0{size}\0".encode())
                else:
                    out[c].append(text)
            out["where"].append(where)
            out["file"].append(f.stem)
    if not out["where"]:
        raise InputDataError(f"{root / 'Label'}: the label files hold no samples")
    seen: dict[object, object] = {}
    for face, where in zip(out["Face"], out["where"], strict=True):
        if face in seen:
            raise InputDataError(
                f"{where}: column Face {face} repeats the image of {seen[face]}; each sample "
                "needs its own image"
            )
        seen[face] = where
    return out, digest.hexdigest(), images.hexdigest()


def _subject(dataset: str, file_stem: str, origin: str, where: str) -> str:
    if dataset != "gaze360":
        return file_stem
    parts = PurePosixPath(origin).parts  # rec_XXX/head/<person>/<frame>.jpg
    if len(parts) < 4:
        raise InputDataError(
            f"{where}: column Origin {origin!r} is not rec_XXX/head/<person>/<frame>.jpg"
        )
    return f"{parts[0]}-{parts[2]}"


def scan_gazehub(root: str | Path, dataset: str) -> GazeHubIndex:
    """Read and check every label file of a GazeHub data set (images: existence and size).

    Raises:
        UnknownNameError: ``dataset`` is not one of :data:`GAZEHUB_DATASETS`.
        InputFileNotFoundError: no ``Label`` folder / label files, or a missing image
            (label file, line and path).
        InputDataError: a bad row (label file and line: column count, a vector that does
            not parse, an angle pair that is not finite, ``WhichEye`` not left/right) or a
            first image that does not decode.

    """
    import cv2

    root = Path(root)
    _check_dataset(dataset)
    if not root.is_dir():
        raise InputFileNotFoundError(f"--root {root}: no such folder")
    files = label_files(root, dataset)
    rows, fingerprint, images_digest = _parse(root, dataset, files)
    n = len(rows["where"])
    where = np.array(rows["where"])
    gaze_angles = np.array(rows["2DGaze"], dtype=np.float64)
    gaze_xyz = gazehub_to_camvec(gaze_angles[:, 0], gaze_angles[:, 1])
    given = np.array(rows["3DGaze"], dtype=np.float64)
    if dataset == "gaze360":
        given = given @ _G360_TO_CAM.T
    zero = np.linalg.norm(given, axis=1) == 0
    if zero.any():
        raise InputDataError(f"{where[int(np.argmax(zero))]}: column 3DGaze is a zero vector")
    notes = [_agreement("3DGaze" + (" (Gaze360 frame, x/y negated)" if dataset == "gaze360"
                                    else ""), "gazehub_to_camvec(2DGaze)",
                        _angle_deg(given, gaze_xyz), where)]  # fmt: skip
    subject = np.array([_subject(dataset, s, o, w) for s, o, w in
                        zip(rows["file"], rows.get("Origin", rows.get("metapath", [])), where,
                            strict=True)])  # fmt: skip
    fields: dict[str, np.ndarray] = {
        "gaze_xyz": gaze_xyz,
        "gaze_angles": gaze_angles,
        "subject": subject,
        "source": np.array(rows["Face"]),
        "mirrored": np.zeros(n, dtype=bool),
    }
    if dataset == "mpiifacegaze":
        eye = np.array(rows["WhichEye"])
        bad = ~np.isin(eye, ["left", "right"])
        if bad.any():
            i = int(np.argmax(bad))
            raise InputDataError(
                f"{where[i]}: column WhichEye {str(eye[i])!r} must be left or right"
            )
        fields["mirrored"] = eye == "right"
    if dataset != "gaze360":
        head_angles = np.array(rows["2DHead"], dtype=np.float64)
        fields["head_angles"] = head_angles
        fields["head_xyz"] = gazehub_to_camvec(head_angles[:, 0], head_angles[:, 1])
        rvec = np.array(rows["Rmat" if dataset == "mpiifacegaze" else "Rvec"], dtype=np.float64)
        svec = np.array(rows["Smat" if dataset == "mpiifacegaze" else "Svec"], dtype=np.float64)
        if (svec == 0).any():
            raise InputDataError(f"{where[int(np.argmax((svec == 0).any(1)))]}: a scale is 0")
        rmat = np.stack([cv2.Rodrigues(r)[0] for r in rvec])
        fields["rmat"], fields["smat"] = rmat, np.stack([np.diag(s) for s in svec])
        origin = np.array(rows["GazeOrigin"], dtype=np.float64)
        origin[fields["mirrored"], 0] *= -1.0  # undo the mirror's x negation
        # fc = R^T S^-1 o (R rows are the normalised axes)
        fields["gaze_origin"] = np.einsum("nji,nj->ni", rmat, origin / svec)
        head_rot = np.stack([cv2.Rodrigues(h)[0] for h in np.array(rows["3DHead"], np.float64)])
        notes.append(_agreement("3DHead (minus its rotation's z axis)",
                                "gazehub_to_camvec(2DHead)", _angle_deg(-head_rot[:, :, 2],
                                fields["head_xyz"]), where))  # fmt: skip
    else:
        fields["split"] = np.array(rows["file"])
    subjects = sorted(set(subject.tolist()), key=_subject_key)
    index = GazeHubIndex(
        root=root, dataset=dataset, face=np.array(rows["Face"]), left=np.array(rows["Left"]),
        right=np.array(rows["Right"]), where=where, fields=fields,
        convention=_convention(dataset, "; ".join(notes)), protocol=_protocol(dataset, subjects),
        subjects=subjects, fingerprint=fingerprint, image_shapes={},
        images_digest=images_digest,
    )  # fmt: skip
    shapes = {}
    for col, paths in (("face", index.face), ("left", index.left), ("right", index.right)):
        img = decode_image(root / "Image" / paths[0], f"{where[0]}: column {col.title()}")
        shapes[col] = (int(img.shape[0]), int(img.shape[1]))
    return replace(index, image_shapes=shapes)


def _subject_key(s: str) -> tuple[int, str]:
    digits = s[1:] if s[:1] == "p" else ""
    return (int(digits), s) if digits.isdigit() else (10**9, s)


def _convention(dataset: str, notes: str) -> GazeConvention:
    fmt = {"mpiifacegaze": "GazeHub label files Label/pXX.label, 12 space-separated columns "
                           "(Face Left Right Origin WhichEye 3DGaze 3DHead 2DGaze 2DHead Rmat "
                           "Smat GazeOrigin), images Image/pXX/{face,left,right}/N.jpg",
           "eyediap": "GazeHub label files Label/pN.label, 11 space-separated columns (Face "
                      "Left Right metapath 3DGaze 3DHead 2DGaze 2DHead Rvec Svec GazeOrigin)",
           "gaze360": "GazeHub label files Label/{train,val,test}.label, 6 space-separated "
                      "columns (Face Left Right Origin 3DGaze 2DGaze)"}[dataset]  # fmt: skip
    norm = {"mpiifacegaze": "GazeHub's data normalisation (virtual camera at 600 mm, focal 960, "
                            "224x224 face; gaze rotated by S R)",
            "eyediap": "GazeHub's data normalisation (600 mm, focal 960, 224x224 face; gaze "
                       "rotated by R only); screen-target sessions, every 15th frame",
            "gaze360": "none: GazeHub's face crops of Gaze360's head crops, 224x224; eye crops "
                       "60x36"}[dataset]  # fmt: skip
    mirror = ("right-eye samples (WhichEye = right) are mirrored images: face flipped, eye "
              "crops flipped and swapped, gaze and origin x negated; stored as given, flagged "
              "in 'mirrored'" if dataset == "mpiifacegaze" else "none")  # fmt: skip
    return GazeConvention(
        dataset=dataset, source_format=fmt, angle_order="[yaw, pitch] (2DGaze, 2DHead)",
        units="radians",
        frame="GazeHub camera axes of the normalised camera: x right, y down, z forward; "
              "(0, 0) looks into the camera; yaw = atan2(-x, -z), pitch = asin(-y)",
        normalisation=norm, mirroring=mirror, notes=notes,
    )  # fmt: skip


def _protocol(dataset: str, subjects: list[str]) -> GazeProtocol:
    if dataset == "gaze360":
        return GazeProtocol("split", (), "Gaze360's train/val/test split (GazeHub's label files)")
    return GazeProtocol(
        "lopo", tuple(subjects),
        f"leave-one-person-out over the {len(subjects)} persons (one test fold each)",
    )  # fmt: skip


def read_gazehub(root: str | Path, dataset: str) -> GazeSamples:
    """The whole data set with its images (small data sets; the ingest goes part-wise)."""
    index = scan_gazehub(root, dataset)
    return index.samples().check(str(Path(root) / "Label"))
