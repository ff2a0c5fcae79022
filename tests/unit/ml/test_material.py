from __future__ import annotations

import pytest

from node.errors import SpecError
from node.ml.data import digits, to_bytes
from node.ml.defaults import digits_spec
from node.ml.material import load_material, split_for
from node.store.canonical import canonical_bytes


def test_load_material_builds_the_split_and_layout_every_part_of_dmlnet_uses() -> None:
    spec = digits_spec(dataset_digest="0x" + "00" * 32, shards=3)
    data = digits()
    m = load_material(canonical_bytes(spec), to_bytes(data), spec_cid="s", dataset_cid="d", units_per_round=3)
    assert (m.spec, m.spec_cid, m.dataset_cid) == (spec, "s", "d")
    assert len(m.split.shards) == 3
    assert [len(s) for s in m.split.shards] == [len(s) for s in split_for(spec, data).shards]
    assert set(m.model_specs) >= m.parameter_keys == {"1.weight", "1.bias", "4.weight", "4.bias"}


def test_load_material_refuses_what_cannot_be_used() -> None:
    spec = digits_spec(dataset_digest="0x" + "00" * 32, shards=3)
    data = to_bytes(digits())
    with pytest.raises(SpecError, match="3 shards, the task 4 units"):
        load_material(canonical_bytes(spec), data, spec_cid="s", dataset_cid="d", units_per_round=4)
    with pytest.raises(SpecError):
        load_material(b'{"not": "a spec"}', data, spec_cid="s", dataset_cid="d")
