"""Keeps the explorer's index up with the chain: events in bounded batches, the blocks and transactions they
came in (timestamps, gas), a reorganised tail undone, a replaced chain refused (the caller re-opens the index,
which moves the old one aside).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from web3 import Web3
from web3.exceptions import BlockNotFound

from explorer.index import Index, IndexedBlock
from node.chain.confirmations import Confirmations
from node.chain.events import ChainEvent, EventReader
from node.chain.rpc import with_retries
from node.errors import ChainReplaced

log = logging.getLogger(__name__)


class IndexerMetrics:
    """Prometheus metrics of the indexer itself, on their own registry (one per explorer)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.indexed_block = Gauge("dmlnet_explorer_indexed_block", "last block indexed", registry=self.registry)
        self.head_lag = Gauge(
            "dmlnet_explorer_head_lag_blocks", "chain head minus indexed block", registry=self.registry
        )
        self.events = Counter("dmlnet_explorer_events", "events indexed", registry=self.registry)
        self.reorgs = Counter("dmlnet_explorer_reorgs", "reorganised tails undone", registry=self.registry)
        self.sync_errors = Counter("dmlnet_explorer_sync_errors", "sync passes that failed", registry=self.registry)


@dataclass(frozen=True, slots=True)
class SyncResult:
    cursor: int
    head: int
    events: int
    rewound_to: int | None

    @property
    def caught_up(self) -> bool:
        return self.cursor >= self.head


class Indexer:
    """Indexes ``address``'s events from ``start_block`` on. ``identity`` names the chain as the index is bound to
    it; it is asked again whenever the chain looks different (shorter, or another hash where we indexed)."""

    def __init__(
        self,
        w3: Web3,
        address: str,
        abi: list[dict[str, Any]],
        index: Index,
        *,
        start_block: int,
        identity: Callable[[], str],
        confirmations: Confirmations | None = None,
        batch_blocks: int = 2_000,
        metrics: IndexerMetrics | None = None,
    ) -> None:
        self._w3 = w3
        self._reader = EventReader(w3, address, abi, chunk_blocks=batch_blocks)
        self._index = index
        self._start = start_block
        self._identity = identity
        # How deep a block must be before its events are indexed (node.chain.confirmations, as a node's view).
        self._confirmations = confirmations or Confirmations()
        self._batch = batch_blocks
        self.metrics = metrics or IndexerMetrics()

    def sync(self) -> SyncResult:
        """One batch: undoes a reorganised tail if there is one, then indexes up to ``batch_blocks`` blocks."""
        head = self._reader.head()
        rewound = self._undo_reorg(head)
        cursor = self._index.cursor
        first = self._start if cursor is None else cursor + 1
        target = min(self._view(head), first + self._batch - 1)
        if target < first:
            self._observe(cursor, head)
            return SyncResult(cursor if cursor is not None else first - 1, head, 0, rewound)
        events = self._reader.read(first, target)
        blocks = {n: self._block(n) for n in sorted({e.block_number for e in events})}
        end = blocks.get(target) or self._block(target)
        added = self._index.append(events, blocks, self._transactions(events), end)
        self.metrics.events.inc(added)
        self._observe(target, head)
        if added:
            log.info("indexed", extra={"from": first, "to": target, "events": added, "head": head})
        return SyncResult(target, head, added, rewound)

    def catch_up(self, *, max_batches: int = 1_000_000) -> SyncResult:
        """Syncs until the cursor reaches the head seen (or ``max_batches`` batches ran)."""
        result = self.sync()
        for _ in range(max_batches - 1):
            if result.cursor >= self._view(result.head):
                break
            result = self.sync()
        return result

    def _view(self, head: int) -> int:
        """The newest block final enough to index: ``depth`` under ``head``, or the chain's safe/finalized block."""
        c = self._confirmations
        if c.tag is None:
            return head - c.depth
        tagged = self._w3.eth.get_block(c.tag)  # type: ignore[arg-type]  # "safe" and "finalized" are block tags
        return min(head, int(tagged["number"]))

    # ---------------------------------------------------------------------------------------------- reorgs

    def _undo_reorg(self, head: int) -> int | None:
        """If the block we indexed last is not the chain's any more, finds the newest indexed block that still is
        and forgets everything after it. A chain whose identity changed is another chain: ChainReplaced."""
        cursor = self._index.cursor
        if cursor is None:
            return None
        ours = self._index.block(cursor)
        if head >= cursor and (ours is None or self._hash_at(cursor) == ours.hash):
            return None
        bound = self._index.get_meta("chain")
        now = self._identity()
        if bound is not None and now != bound:
            raise ChainReplaced(f"the chain under the explorer is another one now ({now}, was {bound})")
        ancestor = self._start - 1
        for block in self._index.blocks_from(min(cursor, head)):
            if self._hash_at(block.number) == block.hash:
                ancestor = block.number
                break
        dropped = self._index.rewind(ancestor)
        self.metrics.reorgs.inc()
        log.warning(
            "the chain reorganised under the index: its tail was undone",
            extra={"from_block": ancestor + 1, "was_cursor": cursor, "events_dropped": dropped},
        )
        return ancestor

    # ---------------------------------------------------------------------------------------------- chain reads

    def _hash_at(self, number: int) -> str | None:
        try:
            block = with_retries(lambda: self._w3.eth.get_block(number), what="get_block")
        except BlockNotFound:
            return None  # past a head that went back
        return "0x" + bytes(block["hash"]).hex()

    def _block(self, number: int) -> IndexedBlock:
        block = with_retries(lambda: self._w3.eth.get_block(number), what="get_block")
        return IndexedBlock(number, "0x" + bytes(block["hash"]).hex(), int(block["timestamp"]))

    def _transactions(self, events: list[ChainEvent]) -> list[tuple[str, int, str, int, str, str]]:
        """(hash, block, sender, gas used, fee in wei, first event) of each transaction that emitted an event."""
        first_event: dict[str, ChainEvent] = {}
        for e in events:
            first_event.setdefault(e.tx_hash, e)
        out = []
        for tx_hash, e in first_event.items():
            receipt = with_retries(lambda h=tx_hash: self._w3.eth.get_transaction_receipt(h), what="receipt")  # type: ignore[misc]
            gas = int(receipt["gasUsed"])
            fee = gas * int(receipt.get("effectiveGasPrice", 0))
            out.append((tx_hash, e.block_number, str(receipt["from"]), gas, str(fee), e.name))
        return out

    def _observe(self, cursor: int | None, head: int) -> None:
        if cursor is not None:
            self.metrics.indexed_block.set(cursor)
            self.metrics.head_lag.set(max(0, head - cursor))
