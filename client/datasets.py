"""The one reader of a user's dataset argument (``--dataset`` and ``dml data add``): a built-in name or a file in
one of the formats of :mod:`node.ml.importers`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from node.errors import ConfigError

if TYPE_CHECKING:
    from node.ml.data import Corpus
    from node.ml.spec import TaskSpec

DATASET_HELP = (
    "digits | fashion-mnist | fortunes | synthetic:N | FILE.npz | FILE.csv | FILE.parquet | IMAGES-idx[.gz] (its "
    "labels file beside it) | a folder of class sub-folders of images | FILE.txt (byte-level text) | FILE.bin "
    "(uint16 token ids)"
)
SYNTHETIC_MAX = 10_000_000


def load_dataset(source: str, *, x_column: str = "image", y_column: str = "label", context: int = 64) -> Corpus:
    """Reads ``source``; ``x_column`` and ``y_column`` name a Parquet file's sample and label columns; ``context``
    is the length of a text's sequences (a language model's ``input_shape``)."""
    from node.ml import importers, text
    from node.ml.data import Corpus, digits, synthetic

    if source == "digits":
        return Corpus(digits())
    if source == "fashion-mnist":
        return importers.fashion_mnist()
    if source == "fortunes":
        return text.fortunes(context)
    if source.startswith("synthetic:"):
        count = source.split(":", 1)[1]
        if not count.isdigit() or not 1 <= int(count) <= SYNTHETIC_MAX:
            raise ConfigError(f"dataset {source!r}: synthetic:N takes a whole number of samples N, 1 to 10,000,000")
        return Corpus(synthetic(int(count)))
    path = Path(source)
    if path.is_dir():
        return Corpus(importers.from_image_folder(path))
    if not path.is_file():
        raise ConfigError(f"dataset {source!r}: no such file or folder, nor a built-in dataset ({DATASET_HELP})")
    name = path.name.removesuffix(".gz")
    if path.suffix == ".npz":
        return Corpus(importers.from_npz(path))
    if path.suffix == ".csv":
        return Corpus(importers.from_csv(path))
    if path.suffix == ".txt":
        return text.from_text(path, context)
    if path.suffix == ".bin":
        return text.from_token_file(path, context)
    if path.suffix == ".parquet":
        return Corpus(importers.from_parquet(path, x_column=x_column, y_column=y_column))
    if "idx3" in name or name.endswith("-images-idx"):
        return Corpus(importers.from_idx(path, _labels_beside(path)))
    raise ConfigError(f"unknown dataset {source}: its format is not one of {DATASET_HELP}")


def context_of(spec: TaskSpec) -> int:
    """The sequence length a spec's text is cut into: a language model's input length (64 for any other spec)."""
    return spec.model.input_shape[0] if spec.model.takes_tokens else 64


def _labels_beside(images: Path) -> Path:
    """An idx images file's labels: the same name with ``images-idx3`` as ``labels-idx1`` (MNIST's naming)."""
    name = images.name.replace("images-idx3", "labels-idx1").replace("images", "labels")
    labels = images.with_name(name)
    if labels == images or not labels.is_file():
        raise ConfigError(f"dataset {images}: its labels file {labels.name} is not beside it")
    return labels
