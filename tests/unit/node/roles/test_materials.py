from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch

from node.ml.data import digits, to_bytes
from node.ml.defaults import digits_spec
from node.ml.material import load_material, split_for
from node.ml.shards import encode_split
from node.roles.materials import Materials
from node.store.canonical import canonical_bytes
from node.store.cid import cid_of
from node.store.errors import ContentNotFound

# Materials.shards_at_hand, the one gate before a unit's work (a miner's claim, a verifier's verdict): a shard the
# store cannot serve is waited for, a malformed one sets the task aside; a real dataset manifest, a dict for a store.


def _world(shards: int = 2) -> tuple[Any, dict[str, bytes], Materials, Any]:
    spec = digits_spec(dataset_digest="0x" + "00" * 32, shards=shards)
    manifest, objects = encode_split(split_for(spec, digits()), shard_seed=1, holdout_fraction=0.2)
    store = dict(objects)

    def fetch(cid: str) -> bytes:
        if cid not in store:
            raise ContentNotFound(cid)
        return store[cid]

    material = load_material(canonical_bytes(spec), fetch, spec_cid="s", dataset_cid=cid_of(manifest))
    materials = Materials(None, fetch)  # type: ignore[arg-type]  # round models are not asked for here
    task = SimpleNamespace(
        task_id=7, params=SimpleNamespace(units_per_round=shards), state=SimpleNamespace(current_round=0)
    )
    return material, store, materials, task


def test_a_shard_the_store_cannot_serve_is_waited_for_and_the_aggregation_unit_needs_none() -> None:
    material, store, materials, task = _world()
    missing = material.data.manifest.shards[1].cid
    held = store.pop(missing)
    assert materials.shards_at_hand(task, material, [2]), "the aggregation unit trains on no shard"
    assert not materials.shards_at_hand(task, material, [0, 1])
    assert materials.unusable == {}, "the store's fault, not the task's"
    store[missing] = held
    assert materials.shards_at_hand(task, material, [0, 1])


def test_a_malformed_shard_sets_the_task_aside_once() -> None:
    material, store, materials, task = _world()
    materials._cache[7] = material
    wrong = digits().subset(torch.arange(5))
    store[material.data.manifest.shards[0].cid] = to_bytes(wrong)  # a store's CID check would catch it first
    assert not materials.shards_at_hand(task, material, [0])
    assert "shard 0" in materials.unusable[7]
    assert 7 not in materials._cache, "not worked on again"
