from __future__ import annotations

from collections.abc import Sequence

import pytest

from node.protocol.sender import send_batch_then_singles


class Gone(Exception):
    pass


def _sender(bad: set[int], sent: list[list[int]]):  # type: ignore[no-untyped-def]
    def send(batch: Sequence[int]) -> None:
        if bad & set(batch):
            raise Gone(sorted(bad & set(batch)))
        sent.append(list(batch))

    return send


def test_send_batch_then_singles_sends_a_good_batch_in_one_call() -> None:
    sent: list[list[int]] = []
    send_batch_then_singles([1, 2, 3], _sender(set(), sent), refused=(Gone,))
    assert sent == [[1, 2, 3]]


def test_send_batch_then_singles_falls_back_to_singles_and_lets_the_refused_one_go() -> None:
    sent: list[list[int]] = []
    batches: list[Exception] = []
    let_go: list[int] = []
    send_batch_then_singles(
        [1, 2, 3], _sender({2}, sent), refused=(Gone,), batch_refused=batches.append,
        item_refused=lambda item, err: let_go.append(item),
    )  # fmt: skip
    assert (sent, len(batches), let_go) == ([[1], [3]], 1, [2])


def test_send_batch_then_singles_raises_a_refused_single_without_a_handler() -> None:
    sent: list[list[int]] = []
    with pytest.raises(Gone):
        send_batch_then_singles([1, 2], _sender({1}, sent), refused=(Gone,))
    assert sent == [], "the first single raised: nothing after it went out"


def test_send_batch_then_singles_does_not_catch_other_errors() -> None:
    def send(batch: Sequence[int]) -> None:
        raise KeyError("not a refusal")

    with pytest.raises(KeyError):
        send_batch_then_singles([1, 2], send, refused=(Gone,), item_refused=lambda item, err: None)


def test_send_batch_then_singles_sends_nothing_for_no_items() -> None:
    sent: list[list[int]] = []
    send_batch_then_singles([], _sender(set(), sent), refused=(Gone,))
    assert sent == []
