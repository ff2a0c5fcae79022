from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

from node.errors import SpecError
from node.ml.importers import (
    fashion_mnist,
    from_csv,
    from_idx,
    from_image_folder,
    from_npz,
    from_parquet,
    read_idx,
)
from node.store.errors import UnsafeArtifact


def _idx(array: np.ndarray, type_byte: int = 0x08) -> bytes:
    header = bytes([0, 0, type_byte, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def test_npz_and_csv_imports(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", x=np.ones((5, 3), np.float32), y=np.arange(5))
    assert from_npz(tmp_path / "d.npz").x.shape == (5, 3)
    np.savez(tmp_path / "u8.npz", x=np.ones((5, 1, 2, 2), np.uint8), y=np.arange(5))
    assert from_npz(tmp_path / "u8.npz").x.dtype == torch.uint8, "pixels keep their dtype"
    np.savez(tmp_path / "bad.npz", x=np.array([{"a": 1}], dtype=object), y=np.arange(1))
    with pytest.raises(UnsafeArtifact, match="object arrays"):  # loading them would mean unpickling
        from_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "wrong.npz", a=np.ones(2))
    with pytest.raises(SpecError, match="named x and y"):
        from_npz(tmp_path / "wrong.npz")
    (tmp_path / "text.npz").write_text("not an archive at all\n")
    with pytest.raises(SpecError, match=r"not an \.npz archive"):
        from_npz(tmp_path / "text.npz")
    (tmp_path / "d.csv").write_text("f1,f2,label\n0.5,1.5,0\n2,3,1\n")
    csv = from_csv(tmp_path / "d.csv")
    assert csv.x.tolist() == [[0.5, 1.5], [2.0, 3.0]]
    assert csv.y.tolist() == [0, 1]
    (tmp_path / "bad.csv").write_text("1,2,0.5\n")
    with pytest.raises(SpecError, match="integer class labels"):
        from_csv(tmp_path / "bad.csv")
    (tmp_path / "ragged.csv").write_text("1,2,0\n1,0\n")
    with pytest.raises(SpecError, match="columns"):
        from_csv(tmp_path / "ragged.csv")


def test_idx_plain_and_gzipped(tmp_path: Path) -> None:
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    labels = np.array([2, 0, 1], dtype=np.uint8)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx(images))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(labels)))
    data = from_idx(tmp_path / "train-images-idx3-ubyte", tmp_path / "train-labels-idx1-ubyte.gz")
    assert data.x.shape == (3, 1, 4, 5)
    assert data.x.dtype == torch.uint8
    assert torch.equal(data.x[:, 0], torch.from_numpy(images))
    assert data.y.tolist() == [2, 0, 1]
    floats = np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)
    (tmp_path / "f.idx").write_bytes(_idx(floats, 0x0D))
    assert np.array_equal(read_idx(tmp_path / "f.idx"), floats), "big-endian floats read back"
    (tmp_path / "short").write_bytes(_idx(images)[:-1])
    with pytest.raises(SpecError, match="bytes of data for shape"):
        read_idx(tmp_path / "short")
    (tmp_path / "junk").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(SpecError, match="not an idx file"):
        read_idx(tmp_path / "junk")
    (tmp_path / "two-labels").write_bytes(_idx(labels[:2]))
    with pytest.raises(SpecError, match="3 images but"):
        from_idx(tmp_path / "train-images-idx3-ubyte", tmp_path / "two-labels")


def _png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def test_an_image_folder_one_sub_folder_per_class(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for name, count in (("cat", 2), ("dog", 3)):
        (tmp_path / name).mkdir()
        for i in range(count):
            (tmp_path / name / f"{i}.png").write_bytes(_png(rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)))
    data = from_image_folder(tmp_path)
    assert data.x.shape == (5, 3, 6, 7)
    assert data.x.dtype == torch.uint8
    assert data.y.tolist() == [0, 0, 1, 1, 1], "sorted folder names give the labels"
    (tmp_path / "dog" / "big.png").write_bytes(_png(np.zeros((8, 8, 3), np.uint8)))
    with pytest.raises(SpecError, match=r"big.png: image of shape \(3, 8, 8\)"):
        from_image_folder(tmp_path)
    (tmp_path / "dog" / "big.png").write_bytes(b"not a png")
    with pytest.raises(SpecError, match=r"big\.png: not a readable PNG or JPEG"):
        from_image_folder(tmp_path)
    with pytest.raises(SpecError, match="one sub-folder per class"):
        from_image_folder(tmp_path / "cat")


def test_parquet_images_or_features_named_by_flags(tmp_path: Path) -> None:
    gray = [np.full((4, 4), v, np.uint8) for v in (0, 128, 255)]
    # As Hugging Face datasets saves an Image column: structs with the encoded bytes.
    table = pa.table({"img": [{"bytes": _png(g), "path": None} for g in gray], "label": [1, 0, 1]})
    pq.write_table(table, tmp_path / "hf.parquet")
    data = from_parquet(tmp_path / "hf.parquet", x_column="img", y_column="label")
    assert data.x.shape == (3, 1, 4, 4)
    assert data.x.dtype == torch.uint8
    assert int(data.x[2].max()) == 255
    pq.write_table(pa.table({"f": [[0.5, 1.0], [2.0, 3.0]], "y": [0, 1]}), tmp_path / "feat.parquet")
    feats = from_parquet(tmp_path / "feat.parquet", x_column="f", y_column="y")
    assert feats.x.tolist() == [[0.5, 1.0], [2.0, 3.0]]
    assert feats.x.dtype == torch.float32
    with pytest.raises(SpecError, match="--x-column 'image' is not a column"):
        from_parquet(tmp_path / "hf.parquet", x_column="image", y_column="label")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 but not really")
    with pytest.raises(SpecError, match="not a readable Parquet file"):
        from_parquet(tmp_path / "bad.parquet", x_column="x", y_column="y")


def test_fashion_mnist_is_the_real_70000_images_with_its_own_test_split() -> None:
    corpus = fashion_mnist()
    assert corpus.test is not None
    assert (len(corpus.train), len(corpus.test)) == (60_000, 10_000)
    assert corpus.train.x.shape[1:] == (1, 28, 28)
    assert corpus.train.x.dtype == torch.uint8
    assert corpus.train.x.numel() == 47_040_000, "47 MB of pixels, not 188 MB of floats"
    assert sorted(torch.bincount(corpus.test.y).tolist()) == [1000] * 10
    with pytest.raises(SpecError, match="not installed"):
        fashion_mnist(Path("/nonexistent"))
