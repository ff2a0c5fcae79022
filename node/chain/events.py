"""Reading TaskMarket's events from a block cursor, in bounded chunks, decoded by their ABI.

The reader is stateless: the caller keeps the cursor (the node in SQLite) and replays are harmless because
every event carries its (block, log index) identity.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils.abi import event_abi_to_log_topic
from web3 import Web3
from web3._utils.events import get_event_data
from web3.types import FilterParams, LogReceipt

from node.chain.rpc import with_retries
from node.retry import RetryPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChainEvent:
    name: str
    args: Mapping[str, Any]
    block_number: int
    log_index: int
    tx_hash: str

    @property
    def key(self) -> tuple[int, int]:
        """Identity of the event on a chain: (block, log index)."""
        return (self.block_number, self.log_index)


def jsonable(value: Any) -> Any:
    """An event argument (or anything built from them) as plain JSON: bytes as 0x hex, structs as objects or
    lists, integers exact; anything else as its text."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


class EventReader:
    """Decodes the logs of one contract between two blocks, ``chunk_blocks`` blocks per ``eth_getLogs``."""

    def __init__(
        self,
        w3: Web3,
        address: str,
        abi: list[dict[str, Any]],
        *,
        chunk_blocks: int = 2_000,
        read_policy: RetryPolicy | None = None,
    ) -> None:
        if chunk_blocks < 1:
            raise ValueError("chunk_blocks must be at least 1")
        self._w3 = w3
        self._address = Web3.to_checksum_address(address)
        self._chunk = chunk_blocks
        self._policy = read_policy or RetryPolicy()
        self._by_topic = {
            event_abi_to_log_topic(item): item  # type: ignore[arg-type]
            for item in abi
            if item["type"] == "event"
        }

    def head(self) -> int:
        return int(with_retries(lambda: self._w3.eth.block_number, policy=self._policy, what="block_number"))

    def read(self, from_block: int, to_block: int) -> list[ChainEvent]:
        """All events in [from_block, to_block], in chain order."""
        return list(self.iter(from_block, to_block))

    def iter(self, from_block: int, to_block: int) -> Iterator[ChainEvent]:
        start = from_block
        while start <= to_block:
            end = min(start + self._chunk - 1, to_block)
            params: FilterParams = {"address": self._address, "fromBlock": start, "toBlock": end}
            logs = self._logs(params)
            for entry in logs:
                decoded = self._decode(entry)
                if decoded is not None:
                    yield decoded
            start = end + 1

    def _logs(self, params: FilterParams) -> list[LogReceipt]:
        return list(with_retries(lambda: self._w3.eth.get_logs(params), policy=self._policy, what="get_logs"))

    def _decode(self, entry: LogReceipt) -> ChainEvent | None:
        if not entry["topics"]:
            return None
        abi = self._by_topic.get(bytes(entry["topics"][0]))
        if abi is None:
            log.debug("unknown event topic", extra={"topic": bytes(entry["topics"][0]).hex()})
            return None
        data = get_event_data(self._w3.codec, abi, entry)
        return ChainEvent(
            name=str(data["event"]),
            args=dict(data["args"]),
            block_number=int(data["blockNumber"]),
            log_index=int(data["logIndex"]),
            tx_hash="0x" + bytes(data["transactionHash"]).hex(),
        )
