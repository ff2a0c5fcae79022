from __future__ import annotations

import pytest

from node.errors import SpecError
from node.ml.data import digits, to_bytes
from node.ml.defaults import digits_spec
from node.ml.material import load_material, split_for
from node.ml.shards import encode_split
from node.store.canonical import canonical_bytes
from node.store.cid import cid_of


def _stored(shards: int) -> tuple[str, dict[str, bytes]]:
    spec = digits_spec(dataset_digest="0x" + "00" * 32, shards=shards)
    manifest, objects = encode_split(split_for(spec, digits()), shard_seed=0, holdout_fraction=0.2)
    return cid_of(manifest), objects


def test_load_material_builds_the_layout_and_fetches_each_shard_only_when_used() -> None:
    spec = digits_spec(dataset_digest="0x" + "00" * 32, shards=3)
    cid, objects = _stored(3)
    fetched: list[str] = []

    def fetch(c: str) -> bytes:
        fetched.append(c)
        return objects[c]

    m = load_material(canonical_bytes(spec), fetch, spec_cid="s", dataset_cid=cid, units_per_round=3)
    assert (m.spec, m.spec_cid, m.dataset_cid) == (spec, "s", cid)
    assert fetched == [cid], "the manifest alone, until a unit needs its shard"
    expected = split_for(spec, digits())
    assert [m.shard_size(i) for i in range(3)] == [len(s) for s in expected.shards]
    shard = m.shard(1)
    assert fetched == [cid, m.data.manifest.shards[1].cid]
    assert (shard.x == expected.shards[1].x).all()
    assert (m.test_set().y == expected.test.y).all()
    m.shard(1)
    assert len(fetched) == 3, "a shard is fetched once"
    assert set(m.model_specs) >= m.parameter_keys == {"1.weight", "1.bias", "4.weight", "4.bias"}


def test_load_material_refuses_what_cannot_be_used() -> None:
    spec = digits_spec(dataset_digest="0x" + "00" * 32, shards=3)
    cid, objects = _stored(3)
    with pytest.raises(SpecError, match="3 shards, the task 4 units"):
        load_material(canonical_bytes(spec), objects.__getitem__, spec_cid="s", dataset_cid=cid, units_per_round=4)
    with pytest.raises(SpecError):
        load_material(b'{"not": "a spec"}', objects.__getitem__, spec_cid="s", dataset_cid=cid)
    four, objects4 = _stored(4)
    with pytest.raises(SpecError, match="the spec has 3 shards, the dataset 4"):
        load_material(canonical_bytes(spec), objects4.__getitem__, spec_cid="s", dataset_cid=four)
    blob = to_bytes(digits())
    with pytest.raises(SpecError, match="not a dataset manifest"):
        load_material(canonical_bytes(spec), lambda c: blob, spec_cid="s", dataset_cid="d")
