from __future__ import annotations

import pytest
import torch

from node.errors import SpecError
from node.ml.data import Dataset, synthetic, to_bytes
from node.ml.shards import CACHED_SHARDS, ShardedData, encode_parts, parse_manifest, publish_parts
from node.store.cid import cid_of


def _pixels(n: int, seed: int) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    return Dataset(torch.randint(0, 256, (n, 1, 4, 4), generator=g, dtype=torch.uint8), torch.arange(n) % 3)


def test_a_manifest_names_every_shard_by_cid_with_its_counts_shape_dtype_and_classes() -> None:
    shards = [_pixels(5, 0), _pixels(7, 1)]
    manifest_bytes, objects = encode_parts(iter(shards), _pixels(3, 2), shard_seed=4, holdout_fraction=None)
    m = parse_manifest(manifest_bytes)
    assert (m.sample_shape, m.dtype, m.classes, m.shard_seed, m.holdout_fraction) == ([1, 4, 4], "uint8", 3, 4, None)
    assert [p.samples for p in m.shards] == [5, 7]
    assert m.test.samples == 3
    assert [p.cid for p in m.shards] == [cid_of(to_bytes(s)) for s in shards]
    assert set(objects) == {p.cid for p in m.shards} | {m.test.cid, cid_of(manifest_bytes)}


def test_shards_are_published_as_they_come_and_fetched_one_at_a_time() -> None:
    put: list[str] = []
    stored: dict[str, bytes] = {}

    def keep(data: bytes) -> str:
        cid = cid_of(data)
        stored[cid] = data
        put.append(cid)
        return cid

    made = 0

    def produce() -> object:
        nonlocal made
        for i in range(6):
            made += 1
            assert len(put) == i, "each shard is stored before the next is made"
            yield synthetic(20, features=4, seed=i)

    manifest = publish_parts(keep, produce(), synthetic(10, features=4, seed=99), shard_seed=0, holdout_fraction=0.2)  # type: ignore[arg-type]
    fetched: list[str] = []
    data = ShardedData(parse_manifest(manifest), lambda c: fetched.append(c) or stored[c])  # type: ignore[func-returns-value]
    assert data.shard_size(3) == 20
    assert data.shard_count == 6
    assert torch.equal(data.shard(3).x, synthetic(20, features=4, seed=3).x)
    for i in range(6):
        data.shard(i)
    assert len(fetched) == 6
    assert len(data._cache) == CACHED_SHARDS
    assert data.bytes_fetched == sum(len(stored[c]) for c in fetched)


def test_a_shard_that_is_not_what_its_manifest_says_is_refused() -> None:
    manifest, objects = encode_parts(iter([_pixels(5, 0)]), _pixels(3, 1), shard_seed=0, holdout_fraction=None)
    m = parse_manifest(manifest)
    swapped = dict(objects)
    swapped[m.shards[0].cid] = to_bytes(_pixels(4, 0))  # a store that lied would fail its CID check first
    with pytest.raises(SpecError, match="4 samples of shape"):
        ShardedData(m, swapped.__getitem__).shard(0)
    with pytest.raises(SpecError, match="not a dataset manifest"):
        parse_manifest(to_bytes(_pixels(2, 0)))
    with pytest.raises(SpecError, match=r"holds torch\.float32 samples"):
        encode_parts(
            iter([_pixels(5, 0), synthetic(5, features=16)]), _pixels(3, 1), shard_seed=0, holdout_fraction=None
        )
