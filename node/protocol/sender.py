"""The one batch-then-singles sender. A batch transaction (claims, results, draws, commitments, reveals of one task
round) is refused whole when one of its items can no longer go in (its deadline passed, its seat released, another
node was first): then each item is sent alone, so that the others still count and the failing one surfaces by
itself."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def send_batch_then_singles(
    items: Sequence[T],
    send: Callable[[Sequence[T]], object],
    *,
    refused: tuple[type[Exception], ...],
    batch_refused: Callable[[Exception], None] | None = None,
    item_refused: Callable[[T, Exception], None] | None = None,
) -> None:
    """Sends ``items`` in one call of ``send``; when that raises one of ``refused``, calls ``batch_refused`` and
    sends each item alone. An item refused alone goes to ``item_refused`` (which lets it go), or raises when there
    is none."""
    if not items:
        return
    if len(items) > 1:
        try:
            send(items)
            return
        except refused as err:
            if batch_refused is not None:
                batch_refused(err)
    for item in items:
        try:
            send([item])
        except refused as err:
            if item_refused is None:
                raise
            item_refused(item, err)
