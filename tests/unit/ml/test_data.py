from __future__ import annotations

import pytest
import torch

from node.errors import SpecError
from node.ml.data import Dataset, digits, from_bytes, split, synthetic, to_bytes


def test_digits_are_the_real_handwritten_digits() -> None:
    data = digits()
    assert data.x.shape == (1797, 1, 8, 8)
    assert data.num_classes == 10
    assert float(data.x.min()) >= 0.0
    assert float(data.x.max()) <= 1.0
    assert digits(image=False).x.shape == (1797, 64)


def test_synthetic_is_seeded() -> None:
    a, b, c = synthetic(500, seed=3), synthetic(500, seed=3), synthetic(500, seed=4)
    assert torch.equal(a.x, b.x)
    assert torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)
    assert synthetic(100_000, features=8, seed=1).x.shape == (100_000, 8)


def test_bytes_round_trip() -> None:
    data = digits()
    back = from_bytes(to_bytes(data))
    assert torch.equal(back.x, data.x)
    assert torch.equal(back.y, data.y)


def test_split_is_deterministic_disjoint_and_complete() -> None:
    data = synthetic(1000, seed=0)
    data = type(data)(data.x, torch.arange(1000))  # label = sample id, to track samples
    a = split(data, shards=4, seed=9, holdout_fraction=0.2)
    b = split(data, shards=4, seed=9, holdout_fraction=0.2)
    assert all(torch.equal(x.y, y.y) for x, y in zip(a.shards, b.shards, strict=True))
    ids = torch.cat([a.test.y, *(s.y for s in a.shards)])
    assert sorted(ids.tolist()) == list(range(1000))
    assert len(a.test) == 200
    assert [len(s) for s in a.shards] == [200, 200, 200, 200]
    assert not torch.equal(split(data, shards=4, seed=10, holdout_fraction=0.2).test.y, a.test.y)
    with pytest.raises(SpecError, match="shards"):
        split(data, shards=900, seed=0, holdout_fraction=0.2)


def test_uint8_samples_stay_bytes_in_the_store_and_become_floats_in_a_batch() -> None:
    pixels = torch.arange(0, 250, dtype=torch.uint8).reshape(10, 1, 5, 5)
    data = Dataset(pixels, torch.arange(10) % 3)
    blob = to_bytes(data)
    assert len(blob) < pixels.numel() + 400, "a byte per pixel, and the header"
    back = from_bytes(blob)
    assert back.x.dtype == torch.uint8
    assert torch.equal(back.x, pixels)
    batch = back.features(torch.tensor([0, 9]))
    assert batch.dtype == torch.float32
    assert torch.equal(batch, pixels[[0, 9]].to(torch.float32) / 255)
    assert digits().features().dtype == torch.float32
    with pytest.raises(SpecError, match="float32, uint8 or int32"):
        Dataset(torch.zeros(2, 3, dtype=torch.float64), torch.zeros(2, dtype=torch.int64))
