"""Datasets a user brings, read from files, and the real datasets this machine's package registries provide.

Every reader refuses what is malformed in one line naming the file, the field and why, and keeps the samples'
own dtype where the model's input allows it (uint8 pixels stay bytes until a batch is built; see
:meth:`node.ml.data.Dataset.features`). Formats (README, "Bring your own data"):

- ``.npz``: arrays ``x`` (samples, any shape) and ``y`` (one non-negative integer class label per sample);
- ``.csv``: one sample per row, features then the label in the last column, a header line optional;
- idx (``.gz`` or plain): LeCun's MNIST format, an images file and its labels file;
- an image folder: one sub-folder per class (named as the class; sorted names give labels 0, 1, …), PNG or
  JPEG files all of one size, read through Pillow as grayscale or RGB;
- Parquet (``.parquet``, what Hugging Face ``datasets`` save): a column of images (PNG/JPEG bytes, or structs
  with a ``bytes`` field as ``datasets`` writes them) or of feature lists, and a label column, named by flags.

Built in: ``fashion-mnist``, the 70,000 images of Debian's ``dataset-fashion-mnist`` package, its official
10,000-image test split kept as the held-out set.
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from node.errors import SpecError
from node.ml.data import Corpus, Dataset
from node.store.errors import UnsafeArtifact

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})
# idx: the type byte of the magic number → numpy dtype (big-endian, as the format stores them).
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def from_npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as archive:  # never unpickle: object arrays are refused
            if not hasattr(archive, "files"):
                raise SpecError(f"{path}: not an .npz archive (a single .npy array?): save x and y with np.savez")
            if "x" not in archive or "y" not in archive:
                raise SpecError(f"{path}: an .npz dataset holds arrays named x and y, found {sorted(archive.files)}")
            x, y = archive["x"], archive["y"]
    except ValueError as err:
        if "allow_pickle" in str(err) and zipfile.is_zipfile(path):
            raise UnsafeArtifact(f"{path}: holds object arrays, which only unpickling could load: refused") from err
        raise SpecError(f"{path}: not an .npz archive (a zip of .npy arrays x and y)") from err
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise SpecError(f"{path}: not an .npz archive (a zip of .npy arrays x and y)") from err
    return from_arrays(x, y, str(path))


def from_csv(path: Path) -> Dataset:
    rows: list[list[str]] = []
    try:
        with path.open(newline="") as f:
            rows = [row for row in csv.reader(f) if row]
    except UnicodeDecodeError as err:
        raise SpecError(f"{path}: not a text CSV file ({err.reason})") from err
    if not rows:
        raise SpecError(f"{path}: empty CSV")
    try:
        [float(v) for v in rows[0]]
    except ValueError:
        rows = rows[1:]  # a header line
    widths = {len(row) for row in rows}
    if len(widths) > 1:
        raise SpecError(f"{path}: rows of {sorted(widths)} columns: every row needs as many")
    try:
        table = np.asarray([[float(v) for v in row] for row in rows], dtype=np.float64)
    except ValueError as err:
        raise SpecError(f"{path}: every value must be a number ({err})") from err
    if table.ndim != 2 or table.shape[1] < 2:
        raise SpecError(f"{path}: need at least one feature column and a label column")
    return from_arrays(table[:, :-1], table[:, -1], str(path))


def read_idx(path: Path) -> np.ndarray:
    """One idx file (gzip-compressed when it ends in ``.gz``): its array, in native byte order."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise SpecError(f"{path}: not a readable idx file ({err})") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES or raw[3] == 0:
        raise SpecError(f"{path}: not an idx file (its first bytes are not an idx magic number)")
    dims = raw[3]
    header = 4 + 4 * dims
    if len(raw) < header:
        raise SpecError(f"{path}: idx header cut short ({dims} dimensions announced)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise SpecError(f"{path}: {len(raw) - header} bytes of data for shape {shape} of {dtype.name}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def from_idx(images: Path, labels: Path) -> Dataset:
    """An idx images file (N × rows × cols, uint8) and its labels file (N): samples of shape (1, rows, cols)."""
    x, y = read_idx(images), read_idx(labels)
    if x.ndim == 3:
        x = x[:, None, :, :]  # one channel
    if y.ndim != 1:
        raise SpecError(f"{labels}: labels of shape {y.shape}, expected one per image")
    if x.shape[0] != y.shape[0]:
        raise SpecError(f"{images}: {x.shape[0]} images but {labels} holds {y.shape[0]} labels")
    return from_arrays(x, y, str(images))


def from_image_folder(root: Path) -> Dataset:
    """One sub-folder per class (sorted names give labels 0, 1, …), every image of one size and mode."""
    from PIL import Image, UnidentifiedImageError

    classes = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if len(classes) < 2:
        raise SpecError(f"{root}: an image folder holds one sub-folder per class, found {len(classes)}")
    images: list[np.ndarray] = []
    labels: list[int] = []
    for label, folder in enumerate(classes):
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SpecError(f"{folder}: no PNG or JPEG images in this class folder")
        for file in files:
            try:
                with Image.open(file) as image:
                    array = _pixels(image)
            except (UnidentifiedImageError, OSError) as err:
                raise SpecError(f"{file}: not a readable PNG or JPEG image ({err})") from err
            if images and array.shape != images[0].shape:
                raise SpecError(f"{file}: image of shape {array.shape}, the folder's first is {images[0].shape}")
            images.append(array)
            labels.append(label)
    return from_arrays(np.stack(images), np.asarray(labels), str(root))


def from_parquet(path: Path, *, x_column: str, y_column: str) -> Dataset:
    """A Parquet table: ``x_column`` holds images (encoded bytes) or feature lists, ``y_column`` the labels."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise SpecError(f"{path}: not a readable Parquet file ({err})") from err
    for flag, name in (("--x-column", x_column), ("--y-column", y_column)):
        if name not in table.column_names:
            raise SpecError(f"{path}: {flag} {name!r} is not a column; the columns are {table.column_names}")
    y = np.asarray(table.column(y_column).to_pylist())
    values = table.column(x_column).to_pylist()
    if not values:
        raise SpecError(f"{path}: no rows")
    first = values[0]
    if (isinstance(first, dict) and "bytes" in first) or isinstance(first, bytes):
        images = [_decoded(v, path, x_column, i) for i, v in enumerate(values)]
        for i, image in enumerate(images):
            if image.shape != images[0].shape:
                raise SpecError(
                    f"{path}: column {x_column!r} row {i}: image of shape {image.shape}, row 0's is {images[0].shape}"
                )
        x = np.stack(images)
    else:
        try:
            x = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise SpecError(
                f"{path}: column {x_column!r} holds neither images nor lists of numbers of one length"
            ) from err
    return from_arrays(x, y, str(path))


def fashion_mnist(root: Path = FASHION_MNIST_DIR) -> Corpus:
    """Zalando's Fashion-MNIST as Debian packages it: 60,000 training and 10,000 test images, 28×28 uint8."""
    if not (root / "train-images-idx3-ubyte.gz").is_file():
        raise SpecError(
            f"fashion-mnist: not installed ({root} is missing): `make datasets` or "
            "`apt-get install dataset-fashion-mnist`"
        )
    train = from_idx(root / "train-images-idx3-ubyte.gz", root / "train-labels-idx1-ubyte.gz")
    test = from_idx(root / "t10k-images-idx3-ubyte.gz", root / "t10k-labels-idx1-ubyte.gz")
    return Corpus(train, test)


def from_arrays(x: np.ndarray, y: np.ndarray, where: str) -> Dataset:
    """Checks samples and labels; uint8 samples stay uint8, every other number becomes float32."""
    if object in (x.dtype, y.dtype) or x.dtype.kind not in "biuf" or y.dtype.kind not in "biuf":
        raise SpecError(f"{where}: x and y must hold numbers (found {x.dtype} and {y.dtype})")
    if x.ndim < 2:
        raise SpecError(f"{where}: x of shape {x.shape}: one row of features (or an image) per sample")
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise SpecError(f"{where}: y of shape {y.shape}, expected one label per sample ({x.shape[0]})")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise SpecError(f"{where}: x holds NaN or Inf")
    labels = y.astype(np.int64)
    if not np.array_equal(labels, y) or (labels < 0).any():
        raise SpecError(f"{where}: y must hold non-negative integer class labels")
    samples = x if x.dtype == np.uint8 else x.astype(np.float32)
    return Dataset(torch.from_numpy(np.ascontiguousarray(samples)), torch.from_numpy(labels))


def _pixels(image: Any) -> np.ndarray:
    """An image as uint8 channels first: (1, H, W) grayscale or (3, H, W) RGB."""
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")  # palette, alpha, CMYK…: as RGB
    array = np.asarray(image, dtype=np.uint8)
    return array[None, :, :] if array.ndim == 2 else array.transpose(2, 0, 1)


def _decoded(value: Any, path: Path, column: str, row: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    data = value.get("bytes") if isinstance(value, dict) else value
    if not isinstance(data, bytes):
        raise SpecError(f"{path}: column {column!r} row {row}: no image bytes")
    try:
        with Image.open(io.BytesIO(data)) as image:
            return _pixels(image)
    except (UnidentifiedImageError, OSError) as err:
        raise SpecError(f"{path}: column {column!r} row {row}: not a PNG or JPEG image ({err})") from err
