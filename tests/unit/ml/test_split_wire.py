"""The messages that cross the cut: refused unless they are exactly what the step expects; the traffic chain."""

from __future__ import annotations

import pickle

import pytest
import torch

from node.ml.split_wire import MESSAGE_LIMITS, Kind, TrafficChain, decode, encode, replay
from node.store.errors import ArtifactError, UnsafeArtifact


def test_a_message_round_trips_exactly_and_is_the_same_bytes_each_time() -> None:
    x = torch.randn(32, 16, 4, 4)
    data = encode(Kind.ACTIVATIONS, 7, x)
    assert torch.equal(decode(data, Kind.ACTIVATIONS, 7, (32, 16, 4, 4)), x)
    assert all(encode(Kind.ACTIVATIONS, 7, x) == data for _ in range(20)), "the traffic chain hashes these bytes"
    assert len(data) < 32 * 16 * 4 * 4 * 4 + 256, "the floats and a short header"


@pytest.mark.parametrize(
    ("data", "kind", "step", "shape", "error", "words"),
    [
        (encode(Kind.OUTPUT, 7, torch.zeros(4, 64)), Kind.OUTPUT, 7, (4, 63), ArtifactError, "shape"),
        (
            encode(Kind.OUTPUT, 7, torch.zeros(4, 64)),
            Kind.GRADIENT_OUT,
            7,
            (4, 64),
            ArtifactError,
            "expected the gradient_out of step 7, got output/7",
        ),
        (encode(Kind.OUTPUT, 7, torch.zeros(4, 64)), Kind.OUTPUT, 8, (4, 64), ArtifactError, "of step 8"),
        (encode(Kind.OUTPUT, 1, torch.full((4, 64), float("nan"))), Kind.OUTPUT, 1, (4, 64), ArtifactError, "NaN"),
        (pickle.dumps([1.0] * 4), Kind.OUTPUT, 1, (4,), UnsafeArtifact, "pickle"),
        (b"\x00" * 7, Kind.OUTPUT, 1, (4,), ArtifactError, "shorter"),
    ],
    ids=["wrong shape", "wrong kind", "wrong step", "nan", "pickle", "truncated"],
)
def test_a_message_other_than_expected_is_refused(
    data: bytes, kind: Kind, step: int, shape: tuple[int, ...], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        decode(data, kind, step, shape)


def test_an_oversized_message_is_refused_before_it_is_read() -> None:
    rows = MESSAGE_LIMITS.max_bytes // (4 * 1024) + 1
    with pytest.raises(ArtifactError, match="exceeds the limit"):
        decode(encode(Kind.ACTIVATIONS, 0, torch.zeros(rows, 1024)), Kind.ACTIVATIONS, 0, (rows, 1024))


def test_the_chain_commits_to_every_message_and_their_order() -> None:
    seed = b"\x01" * 32
    messages = [encode(k, s, torch.full((2, 3), float(s))) for s in range(3) for k in Kind]
    chain = TrafficChain.start(seed)
    for m in messages:
        chain.add(m)
    assert chain.count == 12
    assert replay(seed, messages) == chain.head
    assert replay(seed, messages[:4]) == chain.head_after(4), "a segment's boundary"
    swapped = [messages[1], messages[0], *messages[2:]]
    assert replay(seed, swapped) != chain.head
    tampered = [*messages[:5], encode(Kind.OUTPUT, 1, torch.full((2, 3), 1.0001)), *messages[6:]]
    assert replay(seed, tampered) != chain.head
    assert replay(b"\x02" * 32, messages) != chain.head, "another unit's traffic"
    with pytest.raises(ArtifactError):
        chain.head_after(13)
