"""Folds of a gaze data set and the face-crop loader ``pano train-gaze`` trains from.

**Folds.** Under a leave-one-person-out protocol (MPIIFaceGaze: 15 persons) fold ``pXX``
tests on person ``pXX``; the others train, except ``data.val_persons`` of them drawn as
the **validation** set that picks the checkpoint. The draw is seeded by the config's
seed and the test person's id (:func:`draw_validation`), so a fold always gets the same
validation person and the run records which. Under a split protocol (Gaze360) the one
fold ``split`` trains on ``split == "train"``, validates on ``"val"`` and tests on
``"test"``. The test samples never enter training or checkpoint selection.

**Faces.** :class:`FaceLoader` reads ``uint8 (N, H, W, 3)`` crops from the store's Zarr
array. A fold's faces are read once into memory when they fit in ``data.cache_mb``;
otherwise every epoch visits the store's chunks in a random order, a few chunks at a time
(``data.buffer_chunks``), shuffling samples within that buffer. Cached faces are resized
to the model's input size once; streamed ones per batch. Batches become float
``(B, 3, S, S)`` tensors in ``[0, 1]`` on the training device.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from pano.errors import ConfigError, StoreError

#: Name of the one fold of a split protocol.
SPLIT_FOLD = "split"


@dataclass(frozen=True)
class FoldPlan:
    """Which samples of a data set train, validate and test in one fold.

    Attributes:
        name: the fold's name: the test person's id (LOPO) or ``"split"``.
        test_person: the held-out person (LOPO) or None.
        val_persons: the persons whose samples choose the checkpoint (LOPO).
        train_persons: the persons trained on.
        train_idx, val_idx, test_idx: ``int64`` sorted sample indices.
        val_rule: how the validation set was chosen (a sentence for the run's summary).

    """

    name: str
    test_person: str | None
    val_persons: tuple[str, ...]
    train_persons: tuple[str, ...]
    train_idx: np.ndarray
    val_idx: np.ndarray
    test_idx: np.ndarray
    val_rule: str = ""

    def describe(self) -> dict[str, Any]:
        """JSON-ready description (no index arrays; their sizes)."""
        return {
            "fold": self.name,
            "test_person": self.test_person,
            "val_persons": list(self.val_persons),
            "train_persons": list(self.train_persons),
            "n_train": len(self.train_idx),
            "n_val": len(self.val_idx),
            "n_test": len(self.test_idx),
            "val_rule": self.val_rule,
        }


def as_text(a: Any) -> np.ndarray:
    """A fixed-width NumPy ``str`` array of a text array (``StringDType``, object, Zarr)."""
    return np.asarray(np.asarray(a).tolist(), dtype=str).reshape(np.shape(a))


def optional_array(data: Any, name: str) -> np.ndarray | None:
    """``data.array(name)`` of an opened gaze data set, or None where it has no such array."""
    return data.array(name) if name in data.arrays else None


def draw_validation(persons: Sequence[str], test: str, n: int, seed: int) -> tuple[str, ...]:
    """``n`` validation persons drawn from ``persons`` (the test person excluded).

    The draw is a NumPy permutation seeded by ``(seed, crc32(test))``: the same fold and
    seed always give the same persons, independent of which other folds run.

    Raises:
        ConfigError: fewer than ``n + 1`` persons besides the test person (someone must
            remain to train on).

    """
    others = sorted(p for p in persons if p != test)
    if len(others) < n + 1:
        raise ConfigError(
            f"data.val_persons={n}: fold {test} leaves {len(others)} person(s) besides the "
            f"test person; at least {n + 1} are needed (validation + training)"
        )
    rng = np.random.default_rng([seed, zlib.crc32(test.encode())])
    pick = rng.permutation(len(others))[:n]
    return tuple(sorted(others[i] for i in pick))


def plan_folds(
    subject: np.ndarray,
    split: np.ndarray | None,
    protocol: Any,
    folds: Sequence[str] | None,
    val_persons: int,
    seed: int,
    where: str,
) -> list[FoldPlan]:
    """The folds to train.

    Args:
        subject: ``str (N,)`` person id per sample.
        split: ``str (N,)`` ``train``/``val``/``test`` per sample (split protocols).
        protocol: the data set's :class:`~pano.stores.gaze_samples.GazeProtocol`.
        folds: fold names (person ids) or None for every fold of the protocol.
        val_persons: validation persons per LOPO fold.
        seed: seeds the validation draw.
        where: ``store/gaze/<dataset>`` for messages.

    Raises:
        ConfigError: a fold that is not a person of the data set, a fold named under a
            split protocol, or a split without training/validation/test samples.

    """
    subject = as_text(subject)
    if protocol.kind == "split":
        if folds and list(folds) != [SPLIT_FOLD]:
            raise ConfigError(
                f"{where}: the data set has a train/val/test split protocol, not folds; "
                f"drop --fold {','.join(folds)} (or use --folds all)"
            )
        if split is None:
            raise StoreError(f"{where}: split protocol but no per-sample 'split' array")
        split = as_text(split)
        idx = {k: np.flatnonzero(split == k).astype(np.int64) for k in ("train", "val", "test")}
        empty = [k for k, v in idx.items() if len(v) == 0]
        if empty:
            raise StoreError(f"{where}: the split protocol has no {'/'.join(empty)} samples")
        return [
            FoldPlan(
                SPLIT_FOLD, None, (), (), idx["train"], idx["val"], idx["test"],
                "the data set's own 'val' split (never its 'test' split)",
            )
        ]  # fmt: skip
    persons = list(protocol.folds) or sorted(set(subject.tolist()))
    names = list(folds) if folds else persons
    unknown = [f for f in names if f not in persons]
    if unknown:
        shown = ", ".join(persons[:20]) + (" ..." if len(persons) > 20 else "")
        raise ConfigError(
            f"{where}: --fold {', '.join(unknown)} is not a person of the data set; "
            f"its folds are {shown}"
        )
    out = []
    for test in names:
        val = draw_validation(persons, test, val_persons, seed)
        train = tuple(p for p in persons if p != test and p not in val)
        rule = (
            f"{len(val)} of the {len(persons) - 1} training persons drawn with "
            f"numpy default_rng([seed={seed}, crc32('{test}')]) from the persons other than "
            "the test person, who never trains or validates"
        )
        out.append(
            FoldPlan(
                test,
                test,
                val,
                train,
                np.flatnonzero(np.isin(subject, train)).astype(np.int64),
                np.flatnonzero(np.isin(subject, val)).astype(np.int64),
                np.flatnonzero(subject == test).astype(np.int64),
                rule,
            )
        )
    return out


def read_rows(arr: Any, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` (sorted, unique) of a Zarr or NumPy array, one slab read per chunk run."""
    idx = np.asarray(idx, dtype=np.int64)
    if isinstance(arr, np.ndarray):
        return arr[idx]
    if len(idx) == 0:
        return np.zeros((0, *arr.shape[1:]), dtype=arr.dtype)
    chunk = int(arr.chunks[0])
    out = np.empty((len(idx), *arr.shape[1:]), dtype=arr.dtype)
    block = idx // chunk
    starts = np.flatnonzero(np.r_[True, block[1:] != block[:-1]])
    ends = np.r_[starts[1:], len(idx)]
    for s, e in zip(starts, ends, strict=True):
        lo, hi = int(idx[s]), int(idx[e - 1]) + 1
        out[s:e] = np.asarray(arr[lo:hi])[idx[s:e] - lo]
    return out


def resize_faces(face: np.ndarray, size: int | None) -> np.ndarray:
    """``uint8 (B, H, W, 3)`` faces resized to ``size`` x ``size`` (bilinear, antialiased).

    Returned as they are when ``size`` is None or already their size.
    """
    if size is None or tuple(face.shape[1:3]) == (size, size) or len(face) == 0:
        return face
    x = torch.from_numpy(np.ascontiguousarray(face)).permute(0, 3, 1, 2).float()
    x = torch.nn.functional.interpolate(
        x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )
    return x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def resize_eyes(crops: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Grey eye crops ``(B, C, h0, w0)`` (uint8 values, any real dtype) -> ``uint8 (B, C, h, w)``.

    Resized to ``size = (h, w)`` (bilinear, antialiased) when they differ, then rounded; the
    one resize of both the trainer's :func:`read_eyes` and ``pano gaze-infer``'s crops.
    """
    x = torch.from_numpy(np.ascontiguousarray(crops, dtype=np.float32))
    if tuple(x.shape[-2:]) != tuple(size) and len(x):
        x = torch.nn.functional.interpolate(
            x, size=size, mode="bilinear", antialias=True, align_corners=False
        )
    return x.round_().clamp_(0, 255).to(torch.uint8).numpy()


def to_input(face: np.ndarray, device: torch.device, size: int | None = None) -> torch.Tensor:
    """``uint8 (B, H, W, 3)`` RGB -> float32 ``(B, 3, S, S)`` in ``[0, 1]`` on ``device``.

    Faces whose size is not ``size`` x ``size`` are resized (bilinear, antialiased) to the
    model's input size; ``size=None`` keeps them as they are.
    """
    x = torch.from_numpy(np.ascontiguousarray(face)).to(device, non_blocking=True)
    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    if size is not None and tuple(x.shape[-2:]) != (size, size) and x.shape[0]:
        x = torch.nn.functional.interpolate(
            x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        ).clamp_(0.0, 1.0)
    return x


def read_eyes(data: Any, idx: np.ndarray, size: tuple[int, int], where: str) -> np.ndarray:
    """Both eye crops of samples ``idx`` as grey ``uint8 (N_all, 2, h, w)`` indexed by sample.

    Rows not in ``idx`` stay zero (only the fold's samples are read). Each crop is the
    mean of its 3 channels (GazeHub stores grey crops as 3 equal channels), resized to
    ``size = (h, w)`` (bilinear, antialiased) when the data set's crops differ.

    Raises:
        ConfigError: the data set has no ``left``/``right`` eye crops (``where`` names it).

    """
    if "left" not in data.arrays or "right" not in data.arrays:
        raise ConfigError(
            f"{where}: model.eyes is true but the data set has no left/right eye crops; "
            "set model.eyes: false (face only) or use a data set with eye crops"
        )
    idx = np.unique(np.asarray(idx, np.int64))
    n = int(data.arrays["left"].shape[0])
    out = np.zeros((n, 2, *size), np.uint8)
    for k, name in enumerate(("left", "right")):
        for i in range(0, len(idx), 1024):
            sel = idx[i : i + 1024]
            rows = read_rows(data.arrays[name], sel).astype(np.float32).mean(-1)
            out[sel, k] = resize_eyes(rows[:, None], size)[:, 0]
    return out


def eyes_input(eyes: np.ndarray | None, sel: np.ndarray, device: torch.device) -> Any:
    """Rows ``sel`` of :func:`read_eyes`'s array as float ``(B, 2, h, w)`` in [0, 1], or None."""
    if eyes is None:
        return None
    return torch.from_numpy(eyes[sel]).to(device).float().div_(255.0)


@dataclass
class FaceLoader:
    """Minibatches of face crops (sample indices and ``uint8`` faces) from a store array.

    Attributes:
        face: the ``uint8 (N, H, W, 3)`` Zarr (or NumPy) array.
        idx: the sample indices this loader draws from (sorted).
        cache_mb: read them all into memory once when they fit in this many MiB.
        buffer_chunks: chunks per shuffle buffer when streaming.

    """

    face: Any
    idx: np.ndarray
    cache_mb: int = 2048
    buffer_chunks: int = 8
    #: The model's input size: cached faces are resized to it once (None: as stored).
    size: int | None = None
    #: ``(len(idx),)`` group ids (persons) or None: with them every :meth:`shuffled` batch
    #: holds one group's samples only (``optim.person_batches``).
    groups: np.ndarray | None = None
    _cache: np.ndarray | None = field(default=None, init=False, repr=False)

    @property
    def cached(self) -> bool:
        """Whether the faces fit the cache (read once) or are streamed per epoch."""
        h, w = (self.size, self.size) if self.size else self.face.shape[1:3]
        row = int(h) * int(w) * int(self.face.shape[3]) * np.dtype(self.face.dtype).itemsize
        return len(self.idx) * row <= self.cache_mb * 2**20

    def _all(self) -> np.ndarray:
        if self._cache is None:
            parts = []
            for i in range(0, len(self.idx), 256):  # read and resize in blocks
                faces = read_rows(self.face, self.idx[i : i + 256])
                parts.append(resize_faces(faces, self.size))
            shape = (0, self.size or self.face.shape[1], self.size or self.face.shape[2], 3)
            self._cache = np.concatenate(parts) if parts else np.zeros(shape, np.uint8)
        return self._cache

    def ordered(self, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(indices, faces)`` batches in sample order (prediction, validation)."""
        for i in range(0, len(self.idx), batch):
            sel = self.idx[i : i + batch]
            faces = self._all()[i : i + batch] if self.cached else read_rows(self.face, sel)
            yield sel, faces

    def _group_batches(self, batch: int, gen: np.random.Generator | None) -> list[np.ndarray]:
        """Positions in ``idx`` of each batch when ``groups`` is set.

        Each group's samples (in a random order drawn from ``gen``, or in order) are split
        into ``ceil(n / batch)`` near-equal batches, so no group ends in a tiny batch whose
        BatchNorm statistics are noise.
        """
        assert self.groups is not None
        out: list[np.ndarray] = []
        for g in np.unique(self.groups):
            pos = np.flatnonzero(self.groups == g)
            if gen is not None:
                pos = gen.permutation(pos)
            out += np.array_split(pos, -(-len(pos) // batch))
        return out

    def batches(self, batch: int) -> int:
        """Minibatches per :meth:`shuffled` epoch."""
        if self.groups is None:
            return max(1, -(-len(self.idx) // batch))
        return max(1, len(self._group_batches(batch, None)))

    def shuffled(
        self, batch: int, gen: np.random.Generator
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One epoch of ``(indices, faces)`` batches in a random order drawn from ``gen``.

        Every sample appears once; the last batch may be smaller. With ``groups`` each
        batch is one group's (at most ``batch`` samples) and the batches come in a random
        order.
        """
        if self.groups is not None:
            parts = self._group_batches(batch, gen)
            for j in gen.permutation(len(parts)):
                p = parts[j]
                if self.cached:
                    yield self.idx[p], self._all()[p]
                else:
                    p = np.sort(p)
                    yield self.idx[p], read_rows(self.face, self.idx[p])
            return
        if self.cached:
            perm = gen.permutation(len(self.idx))
            allf = self._all()
            for i in range(0, len(perm), batch):
                p = perm[i : i + batch]
                yield self.idx[p], allf[p]
            return
        chunk = int(self.face.chunks[0]) if hasattr(self.face, "chunks") else len(self.idx)
        blocks = self.idx // max(1, chunk)
        ids = np.unique(blocks)
        order = gen.permutation(ids)
        carry_i = np.zeros(0, np.int64)
        carry_f = np.zeros((0, *self.face.shape[1:]), self.face.dtype)
        for j in range(0, len(order), self.buffer_chunks):
            sel = np.sort(self.idx[np.isin(blocks, order[j : j + self.buffer_chunks])])
            faces = read_rows(self.face, sel)
            p = gen.permutation(len(sel))
            bi = np.concatenate([carry_i, sel[p]])
            bf = np.concatenate([carry_f, faces[p]])
            n_full = len(bi) // batch * batch
            for i in range(0, n_full, batch):
                yield bi[i : i + batch], bf[i : i + batch]
            carry_i, carry_f = bi[n_full:], bf[n_full:]
        if len(carry_i):
            yield carry_i, carry_f


__all__ = [
    "SPLIT_FOLD",
    "as_text",
    "optional_array",
    "FaceLoader",
    "FoldPlan",
    "draw_validation",
    "eyes_input",
    "plan_folds",
    "read_eyes",
    "read_rows",
    "resize_eyes",
    "resize_faces",
    "to_input",
]
