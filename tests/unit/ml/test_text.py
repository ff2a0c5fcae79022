"""Token streams: byte-level text, nanoGPT's uint16 token files, the fortunes corpus and its held-out tail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from client.datasets import load_dataset
from node.errors import SpecError
from node.ml import text
from node.ml.data import from_bytes, to_bytes
from node.ml.defaults import lm_spec
from node.ml.evaluate import evaluate
from node.ml.model import build_module, state_of


def test_a_text_is_cut_into_sequences_labelled_with_the_next_byte(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_bytes(bytes(range(100)) * 3)
    corpus = text.from_text(path, context=8)
    train, tail = corpus.train, corpus.evaluation
    assert train.tokens
    assert train.x.dtype == torch.int32
    assert train.sample_shape == (8,)
    assert torch.equal(train.y[:, :-1], train.x[:, 1:].to(torch.int64))  # the label is the next token
    assert int(train.x[0, 0]) == 0
    assert int(train.y[0, -1]) == 8
    # The held-out part is the stream's tail, never windows from inside the training text.
    assert (len(tail) * 8 < 0.2 * 300 and int(tail.x[0, 0]) == int(train.y[-1, -1])) or len(tail) >= 1
    back = from_bytes(to_bytes(train))
    assert torch.equal(back.x, train.x)
    assert back.tokens


def test_a_token_file_is_read_as_uint16_ids(tmp_path: Path) -> None:
    ids = (np.arange(5000) % 50_000).astype("<u2")
    path = tmp_path / "train.bin"
    path.write_bytes(ids.tobytes())
    corpus = text.from_token_file(path, context=16)
    assert int(corpus.train.x.max()) > 255
    assert corpus.train.num_classes == int(corpus.train.y.max()) + 1
    (tmp_path / "odd.bin").write_bytes(b"abc")
    with pytest.raises(SpecError, match="not a file of uint16 token ids"):
        text.from_token_file(tmp_path / "odd.bin")
    (tmp_path / "short.txt").write_bytes(b"abc")
    with pytest.raises(SpecError, match="too few"):
        text.from_text(tmp_path / "short.txt", context=8)


def test_fortunes_is_built_in_with_a_held_out_tail() -> None:
    corpus = load_dataset("fortunes", context=32)
    assert corpus.test is not None
    total = (len(corpus.train) + len(corpus.test)) * 32
    assert 2_500_000 < total < 3_000_000, "Debian's fortunes: 2.8 MB of text"
    assert 0.09 < len(corpus.test) / (len(corpus.train) + len(corpus.test)) < 0.11


def test_a_language_model_is_evaluated_by_loss_and_perplexity() -> None:
    corpus = load_dataset("fortunes")
    spec = lm_spec(dataset_digest="0x" + "00" * 32, dim=32, blocks=1)
    tail = corpus.evaluation.subset(torch.arange(64))
    figure = evaluate(spec.model, state_of(build_module(spec.model)), tail)
    assert figure.kind == "language"
    assert abs(figure.loss - np.log(256)) < 0.3, "an untrained model hesitates between all 256 bytes"
    assert abs(figure.perplexity - np.exp(figure.loss)) < 1e-9
    assert figure.summary().startswith("validation loss ")
    assert "perplexity" in figure.summary()
    assert figure.headline[0] == "loss"


@pytest.mark.parametrize(("local_steps", "every"), [(15, 5), (400, 5), (2_000, 25), (10_000, 125)])
def test_the_language_models_units_keep_80_segments_as_they_grow(local_steps: int, every: int) -> None:
    training = lm_spec(dataset_digest="0x" + "00" * 32, local_steps=local_steps).training
    assert training.checkpoint_every == every, "a verifier redoes the same share of a longer unit"
