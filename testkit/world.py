"""A small digits task and an in-memory content store for ML tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from node.ml import spec as sp
from node.ml.data import Dataset, digits, split
from node.ml.device import Hardware
from node.ml.manifest import UnitContext, publish_trail
from node.ml.model import State, build_module, state_of, state_to_bytes
from node.ml.shards import encode_split
from node.ml.train import Trail, train_unit
from node.store.cid import cid_of, normalize
from node.store.client import StoreStats
from node.store.errors import ContentNotFound

MINER = "0x" + "11" * 20
OTHER_MINER = "0x" + "22" * 20


@dataclass
class MemoryStore:
    objects: dict[str, bytes] = field(default_factory=dict)
    stats: StoreStats = field(default_factory=StoreStats)  # as the store client counts (a node's loop reads them)

    def put(self, data: bytes) -> str:
        cid = cid_of(data)
        self.objects[normalize(cid)] = data  # keyed as a chain digest reads (node.store.cid.normalize)
        return cid

    def get(self, cid: str) -> bytes:
        try:
            return self.objects[normalize(cid)]
        except KeyError as err:
            raise ContentNotFound(cid) from err


def small_spec(**training: Any) -> sp.TaskSpec:
    values: dict[str, Any] = {
        "loss": "cross_entropy",
        "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9},
        "batch_size": 32,
        "local_steps": 20,
        "checkpoint_every": 2,
    }
    values.update(training)
    return sp.TaskSpec.model_validate(
        {
            "model": {
                "input_shape": [1, 8, 8],
                "layers": [
                    {"type": "flatten"},
                    {"type": "linear", "in_features": 64, "out_features": 32},
                    {"type": "relu"},
                    {"type": "dropout", "p": 0.1},
                    {"type": "linear", "in_features": 32, "out_features": 10},
                ],
            },
            "training": values,
            "verification": {"segments": 2, "tolerance": 1e-4},
            "dataset": {"digest": "0x" + "ab" * 32, "shards": 4, "shard_seed": 7},
        }
    )


@dataclass
class World:
    spec: sp.TaskSpec
    store: MemoryStore
    shards: list[Dataset]
    test: Dataset
    initial: State
    spec_cid: str
    dataset_cid: str
    input_cid: str

    def context(self, *, index: int = 0, round_: int = 0, miner: str = MINER, seed: bytes = b"") -> UnitContext:
        return UnitContext(
            task_id=1,
            round=round_,
            index=index,
            miner=miner,
            spec_cid=self.spec_cid,
            dataset_cid=self.dataset_cid,
            input_model_cid=self.input_cid,
            unit_seed=seed or unit_seed(index, miner),
        )

    def train(self, *, index: int = 0, miner: str = MINER, threads: int = 1) -> Trail:
        return train_unit(
            self.spec, self.initial, self.shards[index], unit_seed(index, miner), hardware=Hardware(threads=threads)
        )

    def publish(self, trail: Trail, *, index: int = 0, miner: str = MINER, round_: int = 0) -> tuple[bytes, str]:
        ctx = UnitContext(1, round_, index, miner, self.spec_cid, self.dataset_cid, self.input_cid, b"")
        _, cid = publish_trail(trail, self.store.put, ctx)
        return self.store.get(cid), cid


def unit_seed(index: int, miner: str, round_: int = 0) -> bytes:
    return cid_of(f"seed/{round_}/{index}/{miner}".encode()).encode()


def make_world(spec: sp.TaskSpec | None = None) -> World:
    spec = spec or small_spec()
    store = MemoryStore()
    data = digits()
    parts = split(data, shards=spec.dataset.shards, seed=spec.dataset.shard_seed, holdout_fraction=0.2)
    initial = state_of(build_module(spec.model, seed=1))
    from node.store.canonical import canonical_bytes

    return World(
        spec=spec,
        store=store,
        shards=parts.shards,
        test=parts.test,
        initial=initial,
        spec_cid=store.put(canonical_bytes(spec)),
        dataset_cid=_put_all(store, encode_split(parts, shard_seed=spec.dataset.shard_seed, holdout_fraction=0.2)),
        input_cid=store.put(state_to_bytes(initial)),
    )


def _put_all(store: MemoryStore, encoded: tuple[bytes, dict[str, bytes]]) -> str:
    """Stores a dataset's shards and manifest; returns the manifest's CID."""
    manifest, objects = encoded
    for data in objects.values():
        store.put(data)
    return store.put(manifest)
