"""Datasets as safetensors ``x``/``y``, their deterministic split into a held-out test set and shards.

Samples keep their own dtype: ``float32`` features, or ``uint8`` pixels, stored and held as bytes and scaled to
[0, 1] (÷ 255, exact in float32 on every machine) only when a batch is built (:meth:`Dataset.features`).
Built in here: scikit-learn's handwritten digits (shipped inside the package, nothing downloaded) and a seeded
synthetic classification generator of any size; files and Fashion-MNIST are read by :mod:`node.ml.importers`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from node.errors import SpecError
from node.store.tensors import TensorLimits, load_tensors, save_tensors

# The dtypes a dataset's samples may have: what they are stored as, and held as until a batch is built. int32
# samples are token ids (a language model's sequences), their labels the next token at every position.
SAMPLE_DTYPES = (torch.float32, torch.uint8, torch.int32)


@dataclass(frozen=True, slots=True)
class Dataset:
    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if self.x.shape[0] != self.y.shape[0]:
            raise SpecError(f"dataset: {self.x.shape[0]} samples in x but {self.y.shape[0]} labels in y")
        if self.x.shape[0] == 0:
            raise SpecError("dataset: no samples")
        if self.x.dtype not in SAMPLE_DTYPES:
            raise SpecError(f"dataset: samples of dtype {self.x.dtype}, expected float32, uint8 or int32 tokens")
        if self.tokens and tuple(self.y.shape) != tuple(self.x.shape):
            raise SpecError(
                f"dataset: token sequences {tuple(self.x.shape)} need a next token each, got {tuple(self.y.shape)}"
            )

    @property
    def tokens(self) -> bool:
        """Whether the samples are sequences of token ids (a language model's data)."""
        return self.x.dtype == torch.int32

    def features(self, index: torch.Tensor | slice | None = None) -> torch.Tensor:
        """The samples at ``index`` (all by default) as a model takes them: uint8 pixels ÷ 255 as float32, token
        ids as int64."""
        x = self.x if index is None else self.x[index]
        if x.dtype == torch.uint8:
            return x.to(torch.float32).div_(255.0)
        return x.to(torch.int64) if x.dtype == torch.int32 else x

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
    x_array = arrays["x"]
    if x_array.dtype not in (np.float32, np.uint8, np.int32):
        raise SpecError(f"dataset: x of dtype {x_array.dtype}, expected float32, uint8 or int32 tokens")
    x = torch.from_numpy(np.array(x_array, copy=True))
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


@dataclass(frozen=True, slots=True)
class Corpus:
    """A dataset as a user brings it: its samples, and its own test split when it comes with one."""

    train: Dataset
    test: Dataset | None = None

    def __post_init__(self) -> None:
        if self.test is not None and self.test.sample_shape != self.train.sample_shape:
            raise SpecError(
                f"dataset: test samples of shape {self.test.sample_shape}, training samples {self.train.sample_shape}"
            )

    @property
    def evaluation(self) -> Dataset:
        """What a model is evaluated on: the test split when the dataset has one, else every sample."""
        return self.test if self.test is not None else self.train

    @property
    def whole(self) -> Dataset:
        """Every sample, the test split's after the training ones."""
        if self.test is None:
            return self.train
        return Dataset(torch.cat([self.train.x, self.test.x]), torch.cat([self.train.y, self.test.y]))


@dataclass(frozen=True, slots=True)
class Split:
    """The owner's held-out test set and the training shards, fixed by the task's shard seed."""

    test: Dataset
    shards: list[Dataset]


def split(dataset: Dataset, *, shards: int, seed: int, holdout_fraction: float, test: Dataset | None = None) -> Split:
    """A seeded permutation: the first ``holdout_fraction`` is held out, the rest dealt into ``shards``. A dataset
    that comes with its own test split (``test``: Fashion-MNIST's official one) keeps it as the held-out part and
    deals all of ``dataset`` into the shards."""
    if test is not None:
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
        if len(dataset) < shards:
            raise SpecError(f"dataset.shards: {shards} shards but only {len(dataset)} training samples")
        return Split(test=test, shards=[dataset.subset(order[i::shards]) for i in range(shards)])
    n = len(dataset)
    holdout = int(n * holdout_fraction)
    if n - holdout < shards:
        raise SpecError(f"dataset.shards: {shards} shards but only {n - holdout} training samples")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    train = order[holdout:]
    parts = [train[i::shards] for i in range(shards)]
    return Split(test=dataset.subset(order[:holdout]), shards=[dataset.subset(p) for p in parts])
