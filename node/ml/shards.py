"""A task's dataset as the network stores it: a manifest of shard objects, each content-addressed (DESIGN.md §5).

The owner cuts its data once, before the task (:func:`node.ml.data.split`: the seeded permutation, or the
dataset's own test split), and stores each training shard and the held-out part as its own safetensors object,
samples in their own dtype. The manifest — canonical JSON whose CID is the task's dataset digest — lists them
with their sample counts, the samples' shape and dtype and the number of classes. A miner fetches the one shard
of the unit it trains, a verifier the one of the unit it checks, the evaluator the held-out part: no node ever
holds the whole dataset, and every object is verified against its CID by the store client as it is read.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from node.errors import SpecError
from node.ml.data import Dataset, Split, from_bytes, to_bytes
from node.store.canonical import CidText, canonical_bytes, parse_document
from node.store.cid import cid_of

Cid = CidText
Fetch = Callable[[str], bytes]
MAX_SHARDS = 1000
# Shards a node keeps parsed in memory at once: the units of one claim (a miner fetches them before it claims) or
# the units a verifier moves between; never the whole dataset.
CACHED_SHARDS = 4


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Part(_Doc):
    cid: Cid
    samples: Annotated[int, Field(ge=1)]


class DatasetManifest(_Doc):
    kind: Literal["dataset"] = "dataset"
    version: Literal[1] = 1
    sample_shape: Annotated[list[Annotated[int, Field(ge=1, le=1 << 20)]], Field(min_length=1, max_length=4)]
    dtype: Literal["float32", "uint8", "int32"]  # int32: token ids
    classes: Annotated[int, Field(ge=1, le=1 << 20)]  # 1: regression (float labels)
    shard_seed: Annotated[int, Field(ge=0)]
    holdout_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] | None  # None: the dataset's own test split
    test: Part
    shards: Annotated[list[Part], Field(min_length=1, max_length=MAX_SHARDS)]

    @property
    def samples(self) -> int:
        return sum(p.samples for p in self.shards)

    @property
    def sample_bytes(self) -> int:
        return math.prod(self.sample_shape) * (1 if self.dtype == "uint8" else 4)


def encode_split(parts: Split, *, shard_seed: int, holdout_fraction: float | None) -> tuple[bytes, dict[str, bytes]]:
    """The manifest's bytes and every object it names (CID → bytes), the manifest's own included."""
    return encode_parts(iter(parts.shards), parts.test, shard_seed=shard_seed, holdout_fraction=holdout_fraction)


def encode_parts(
    shards: Iterable[Dataset], test: Dataset, *, shard_seed: int, holdout_fraction: float | None
) -> tuple[bytes, dict[str, bytes]]:
    """As :func:`encode_split`, from shards produced one by one (see :func:`publish_parts` to store them as they
    come instead of holding them all)."""
    objects: dict[str, bytes] = {}

    def keep(data: bytes) -> str:
        cid = cid_of(data)
        objects[cid] = data
        return cid

    manifest = publish_parts(keep, shards, test, shard_seed=shard_seed, holdout_fraction=holdout_fraction)
    return manifest, objects


def publish_parts(
    put: Callable[[bytes], str],
    shards: Iterable[Dataset],
    test: Dataset,
    *,
    shard_seed: int,
    holdout_fraction: float | None,
) -> bytes:
    """Stores each shard with ``put`` as it comes (a dataset larger than memory is built shard by shard), then the
    held-out part and the manifest; returns the manifest's bytes (its CID is the dataset's)."""
    refs: list[Part] = []
    first: Dataset | None = None
    classes = test.num_classes
    for shard in shards:
        first = first or shard
        _same_kind(first, shard, f"shard {len(refs)}")
        classes = max(classes, shard.num_classes)
        refs.append(Part(cid=put(to_bytes(shard)), samples=len(shard)))
    if first is None:
        raise SpecError("dataset: no shards")
    _same_kind(first, test, "the held-out part")
    manifest = DatasetManifest(
        sample_shape=list(first.sample_shape),
        dtype={torch.uint8: "uint8", torch.int32: "int32"}.get(first.x.dtype, "float32"),
        classes=classes,
        shard_seed=shard_seed,
        holdout_fraction=holdout_fraction,
        test=Part(cid=put(to_bytes(test)), samples=len(test)),
        shards=refs,
    )
    data = canonical_bytes(manifest)
    put(data)
    return data


def parse_manifest(data: bytes) -> DatasetManifest:
    """The manifest of a task's dataset; a dataset stored as one object (x and y) is refused by name."""
    if data[:1] != b"{" or b'"kind":"dataset"' not in data:
        raise SpecError("the dataset is not a dataset manifest (a list of shard objects): store it with dml data add")
    return parse_document(data, DatasetManifest, require_canonical=True)


class ShardedData:
    """A task's shards and held-out part, each fetched on first use and checked against the manifest."""

    def __init__(self, manifest: DatasetManifest, fetch: Fetch) -> None:
        self.manifest = manifest
        self._fetch = fetch
        self._cache: OrderedDict[str, Dataset] = OrderedDict()
        self._test: Dataset | None = None
        self.bytes_fetched = 0

    @property
    def training_bytes(self) -> int:
        """What holding every training shard's samples takes (what no node does)."""
        return self.manifest.samples * self.manifest.sample_bytes

    @property
    def shard_count(self) -> int:
        return len(self.manifest.shards)

    def shard_size(self, index: int) -> int:
        return self.manifest.shards[index].samples

    def shard(self, index: int) -> Dataset:
        """Training shard ``index`` (fetching it raises the store's error: unavailable, not malformed)."""
        return self._part(self.manifest.shards[index], f"shard {index}")

    def test(self) -> Dataset:
        if self._test is None:  # kept apart from the shards: an evaluator uses it every round
            self._test = self._read(self.manifest.test, "the held-out part")
        return self._test

    def shards(self) -> Iterator[Dataset]:
        """Every shard, one after the other (the centralized baseline's union; a node's roles never need it)."""
        for index in range(self.shard_count):
            yield self.shard(index)

    def _part(self, part: Part, what: str) -> Dataset:
        if part.cid in self._cache:
            self._cache.move_to_end(part.cid)
            return self._cache[part.cid]
        dataset = self._read(part, what)
        self._cache[part.cid] = dataset
        while len(self._cache) > CACHED_SHARDS:
            self._cache.popitem(last=False)
        return dataset

    def _read(self, part: Part, what: str) -> Dataset:
        data = self._fetch(part.cid)
        self.bytes_fetched += len(data)
        dataset = from_bytes(data)
        m = self.manifest
        if len(dataset) != part.samples or list(dataset.sample_shape) != m.sample_shape:
            raise SpecError(
                f"dataset {what}: {len(dataset)} samples of shape {dataset.sample_shape}, the manifest says "
                f"{part.samples} of shape {tuple(m.sample_shape)}"
            )
        if str(dataset.x.dtype).removeprefix("torch.") != m.dtype:
            raise SpecError(f"dataset {what}: samples of dtype {dataset.x.dtype}, the manifest says {m.dtype}")
        if m.classes > 1 and (dataset.y.is_floating_point() or int(dataset.y.max()) >= m.classes):
            raise SpecError(f"dataset {what}: labels outside the manifest's {m.classes} classes")
        return dataset


def _same_kind(first: Dataset, other: Dataset, what: str) -> None:
    if other.sample_shape != first.sample_shape or other.x.dtype != first.x.dtype:
        raise SpecError(
            f"dataset: {what} holds {other.x.dtype} samples of shape {other.sample_shape}, "
            f"shard 0 {first.x.dtype} of shape {first.sample_shape}"
        )
    if other.y.is_floating_point() != first.y.is_floating_point():
        kind = "float" if other.y.is_floating_point() else "class"
        raise SpecError(f"dataset: {what} has {kind} labels, shard 0 does not")
