from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from node.errors import SpecError
from node.ml.data import digits, from_bytes, from_csv, from_npz, split, synthetic, to_bytes
from node.store.errors import UnsafeArtifact


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


def test_npz_and_csv_imports(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", x=np.ones((5, 3), np.float32), y=np.arange(5))
    assert from_npz(tmp_path / "d.npz").x.shape == (5, 3)
    np.savez(tmp_path / "bad.npz", x=np.array([{"a": 1}], dtype=object), y=np.arange(1))
    with pytest.raises(UnsafeArtifact, match="object arrays"):  # loading them would mean unpickling
        from_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "wrong.npz", a=np.ones(2))
    with pytest.raises(SpecError, match="named x and y"):
        from_npz(tmp_path / "wrong.npz")
    (tmp_path / "d.csv").write_text("f1,f2,label\n0.5,1.5,0\n2,3,1\n")
    csv = from_csv(tmp_path / "d.csv")
    assert csv.x.tolist() == [[0.5, 1.5], [2.0, 3.0]]
    assert csv.y.tolist() == [0, 1]
    (tmp_path / "bad.csv").write_text("1,2,0.5\n")
    with pytest.raises(SpecError, match="integer class labels"):
        from_csv(tmp_path / "bad.csv")
