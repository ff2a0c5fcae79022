"""Datasets as safetensors ``x``/``y``, their deterministic split into a held-out test set and shards.

Built in: scikit-learn's handwritten digits (shipped inside the package, nothing downloaded) and a seeded
synthetic classification generator of any size. Import from ``.npz`` (arrays ``x`` and ``y``) and ``.csv``
(features then the label in the last column, header optional).
"""

from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from node.errors import SpecError
from node.store.errors import UnsafeArtifact
from node.store.tensors import TensorLimits, load_tensors, save_tensors


@dataclass(frozen=True, slots=True)
class Dataset:
    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if self.x.shape[0] != self.y.shape[0]:
            raise SpecError(f"dataset: {self.x.shape[0]} samples in x but {self.y.shape[0]} labels in y")
        if self.x.shape[0] == 0:
            raise SpecError("dataset: no samples")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def num_classes(self) -> int:
        return int(self.y.max().item()) + 1 if not self.y.is_floating_point() else 1

    def subset(self, index: torch.Tensor) -> Dataset:
        return Dataset(self.x[index], self.y[index])


def to_bytes(dataset: Dataset) -> bytes:
    return save_tensors({"x": dataset.x.numpy(), "y": dataset.y.numpy()})


def from_bytes(data: bytes, limits: TensorLimits | None = None) -> Dataset:
    arrays = load_tensors(data, limits=limits or TensorLimits(max_bytes=2 << 30))
    if set(arrays) != {"x", "y"}:
        raise SpecError(f"a dataset holds exactly the tensors x and y, found {sorted(arrays)}")
    x = torch.from_numpy(np.array(arrays["x"], dtype=np.float32, copy=True))
    y_array = arrays["y"]
    y = torch.from_numpy(np.array(y_array, copy=True))
    if not y.is_floating_point():
        y = y.to(torch.int64)
        if (y < 0).any():
            raise SpecError("dataset: class labels must be non-negative")
    return Dataset(x, y)


def digits(*, image: bool = True) -> Dataset:
    """scikit-learn's 1,797 8×8 handwritten digits, pixels scaled to [0, 1]; shape (N, 1, 8, 8) or (N, 64)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy(np.asarray(bunch.data, dtype=np.float32) / 16.0)
    if image:
        x = x.reshape(-1, 1, 8, 8)
    return Dataset(x.contiguous(), torch.from_numpy(np.asarray(bunch.target, dtype=np.int64)))


def synthetic(n: int, *, features: int = 32, classes: int = 10, seed: int = 0, noise: float = 0.5) -> Dataset:
    """A seeded Gaussian-mixture classification problem: class means on a sphere, isotropic noise."""
    if n < 1 or features < 1 or classes < 2:
        raise SpecError("synthetic data needs n ≥ 1, features ≥ 1 and classes ≥ 2")
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(classes, features, generator=g)
    means = means / means.norm(dim=1, keepdim=True) * 2.0
    y = torch.randint(0, classes, (n,), generator=g)
    x = means[y] + noise * torch.randn(n, features, generator=g)
    return Dataset(x.to(torch.float32), y.to(torch.int64))


def from_npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as archive:  # never unpickle: object arrays are refused
            if "x" not in archive or "y" not in archive:
                raise SpecError(f"{path}: an .npz dataset holds arrays named x and y, found {sorted(archive.files)}")
            x, y = archive["x"], archive["y"]
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise UnsafeArtifact(f"{path}: holds object arrays, which only unpickling could load: refused") from err
        raise SpecError(f"{path}: not a readable .npz archive ({err})") from err
    except (OSError, zipfile.BadZipFile) as err:
        raise SpecError(f"{path}: not a readable .npz archive ({err})") from err
    return _from_arrays(x, y, str(path))


def from_csv(path: Path) -> Dataset:
    rows: list[list[str]] = []
    with path.open(newline="") as f:
        for row in csv.reader(f):
            if row:
                rows.append(row)
    if not rows:
        raise SpecError(f"{path}: empty CSV")
    try:
        [float(v) for v in rows[0]]
    except ValueError:
        rows = rows[1:]  # a header line
    try:
        table = np.asarray([[float(v) for v in row] for row in rows], dtype=np.float64)
    except ValueError as err:
        raise SpecError(f"{path}: every value must be a number ({err})") from err
    if table.ndim != 2 or table.shape[1] < 2:
        raise SpecError(f"{path}: need at least one feature column and a label column")
    return _from_arrays(table[:, :-1], table[:, -1], str(path))


def _from_arrays(x: np.ndarray, y: np.ndarray, where: str) -> Dataset:
    if object in (x.dtype, y.dtype):
        raise SpecError(f"{where}: object arrays are refused")
    if not np.isfinite(x).all():
        raise SpecError(f"{where}: x holds NaN or Inf")
    labels = y.astype(np.int64)
    if not np.array_equal(labels, y) or (labels < 0).any():
        raise SpecError(f"{where}: y must hold non-negative integer class labels")
    return Dataset(torch.from_numpy(x.astype(np.float32)), torch.from_numpy(labels))


@dataclass(frozen=True, slots=True)
class Split:
    """The owner's held-out test set and the training shards, fixed by the task's shard seed."""

    test: Dataset
    shards: list[Dataset]


def split(dataset: Dataset, *, shards: int, seed: int, holdout_fraction: float) -> Split:
    """A seeded permutation: the first ``holdout_fraction`` is held out, the rest dealt into ``shards``."""
    n = len(dataset)
    holdout = int(n * holdout_fraction)
    if n - holdout < shards:
        raise SpecError(f"dataset.shards: {shards} shards but only {n - holdout} training samples")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    train = order[holdout:]
    parts = [train[i::shards] for i in range(shards)]
    return Split(test=dataset.subset(order[:holdout]), shards=[dataset.subset(p) for p in parts])
