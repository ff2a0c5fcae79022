"""Token streams for language models: text as bytes (byte-level, 256 tokens, no tokenizer to download), a token
file in nanoGPT's convention (``uint16`` ids, little-endian, no header) taken as is, and Debian's ``fortunes``.

A stream is cut into sequences of ``context`` tokens, back to back; a sequence's labels are the tokens one step
ahead (its samples int32 ids, its labels int64: :class:`node.ml.data.Dataset`). The last ``validation_fraction``
of the stream is held out as the validation split: a language model is evaluated on text it has not seen, not on
windows interleaved with its training text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from node.errors import SpecError
from node.ml.data import Corpus, Dataset

DEFAULT_CONTEXT = 64
BYTE_VOCABULARY = 256
VALIDATION_FRACTION = 0.1
FORTUNES = Path("/usr/share/games/fortunes")


def sequences(stream: np.ndarray, context: int, what: str) -> Dataset:
    """Back-to-back sequences of ``context`` tokens of ``stream``, each labelled with its next tokens."""
    if not 1 <= context <= 8192:
        raise SpecError(f"{what}: a context of {context} tokens, expected 1 to 8192")
    n = (len(stream) - 1) // context
    if n < 1:
        raise SpecError(f"{what}: {len(stream)} tokens, fewer than one sequence of {context} and its next token")
    ids = torch.from_numpy(np.asarray(stream[: n * context + 1], dtype=np.int64))
    x = ids[:-1].reshape(n, context)
    y = ids[1:].reshape(n, context)
    return Dataset(x.to(torch.int32).contiguous(), y.contiguous())


def corpus_of(
    stream: np.ndarray, context: int, what: str, *, validation_fraction: float = VALIDATION_FRACTION
) -> Corpus:
    """The stream's head for training and its tail (``validation_fraction`` of it) for validation."""
    cut = len(stream) - max(int(len(stream) * validation_fraction), context + 1)
    if cut < context + 1:
        raise SpecError(f"{what}: {len(stream)} tokens are too few for a training and a validation sequence")
    return Corpus(sequences(stream[:cut], context, what), sequences(stream[cut:], context, f"{what}'s tail"))


def from_text(path: Path, context: int = DEFAULT_CONTEXT) -> Corpus:
    """A text file, byte-level: every byte is a token (UTF-8 text is learnt as its bytes)."""
    return corpus_of(np.frombuffer(path.read_bytes(), dtype=np.uint8), context, str(path))


def from_token_file(path: Path, context: int = DEFAULT_CONTEXT) -> Corpus:
    """A ``.bin`` file of uint16 token ids (nanoGPT's ``train.bin``), read as is: its ids are the vocabulary."""
    data = path.read_bytes()
    if len(data) % 2:
        raise SpecError(f"{path}: {len(data)} bytes, not a file of uint16 token ids (an even number of bytes)")
    return corpus_of(np.frombuffer(data, dtype="<u2"), context, str(path))


def fortunes(context: int = DEFAULT_CONTEXT, folder: Path = FORTUNES) -> Corpus:
    """Debian's ``fortunes`` package: its English fortune files (not the ``.dat`` indexes), in name order."""
    files = sorted(
        p for p in folder.glob("*") if p.is_file() and not p.is_symlink() and p.suffix not in (".dat", ".u8")
    )
    if not files:
        raise SpecError(
            f"dataset fortunes: no fortune files in {folder}: install Debian's fortunes package (make datasets)"
        )
    text = b"".join(p.read_bytes() for p in files)
    return corpus_of(np.frombuffer(text, dtype=np.uint8), context, "dataset fortunes")
