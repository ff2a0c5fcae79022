"""What the unit protocol and the roles ask of the chain, as protocols: :class:`node.chain.contract.TaskMarket` in a
node, the audit and the explorer; small in-process fakes in unit tests (``tests/unit/node/fakes.py``), so that the
judge and the roles' state machines are tested without a chain (their integration tests run on Anvil)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from eth_account.signers.local import LocalAccount

from node.chain.events import ChainEvent
from node.chain.tx import SentTransaction
from node.chain.types import BallotInfo, StakeInfo, Task, UnitInfo


class MarketReader(Protocol):
    """The reads the unit protocol makes."""

    @property
    def address(self) -> str: ...

    @property
    def chain_id(self) -> int: ...

    def get_task(self, task_id: int, *, block: int | str = "latest") -> Task: ...

    def get_unit(self, task_id: int, round_: int, index: int, *, block: int | str = "latest") -> UnitInfo: ...

    def get_units(self, task_id: int, round_: int, *, block: int | str = "latest") -> list[UnitInfo]: ...

    def round_input(self, task_id: int, round_: int) -> bytes: ...

    def block_hash(self, number: int) -> bytes: ...


class Sender(Protocol):
    """Who a node sends as."""

    @property
    def address(self) -> str: ...

    @property
    def account(self) -> LocalAccount: ...


class Events(Protocol):
    """The contract's events between two blocks, in chain order."""

    def head(self) -> int: ...

    def iter(self, from_block: int, to_block: int) -> Iterator[ChainEvent]: ...


class Market(MarketReader, Protocol):
    """Everything a node's roles and loop ask of the market: its reads, its events, and the transactions they send
    (each simulated first: a refusal raises the contract's error as its Python class)."""

    @property
    def signer(self) -> Sender: ...

    def latest(self) -> tuple[int, int]: ...

    def events(self) -> Events: ...

    def get_ballot(self, task_id: int, round_: int, index: int, verifier: str) -> BallotInfo: ...

    def stake_of(self, account: str) -> StakeInfo: ...

    def credit_of(self, account: str) -> int: ...

    def stake(self, amount: int) -> SentTransaction: ...

    def withdraw(self) -> SentTransaction: ...

    def join_verifier_pool(self) -> SentTransaction: ...

    def claim_units(self, task_id: int, round_: int, indices: Sequence[int]) -> SentTransaction: ...

    def submit_results(
        self, task_id: int, round_: int, results: Sequence[tuple[int, bytes, bytes]]
    ) -> SentTransaction: ...

    def claim_and_submit(
        self, task_id: int, round_: int, index: int, result_digest: bytes, model_digest: bytes
    ) -> SentTransaction: ...

    def reclaim_expired(self, task_id: int, round_: int, index: int) -> SentTransaction: ...

    def finalize_unit(self, task_id: int, round_: int, index: int) -> SentTransaction: ...

    def draw_quorums(self, task_id: int, round_: int, indices: Sequence[int]) -> SentTransaction: ...

    def challenge_verdict(self, task_id: int, round_: int, index: int) -> SentTransaction: ...

    def commit_votes(self, task_id: int, round_: int, commitments: Sequence[tuple[int, bytes]]) -> SentTransaction: ...

    def reveal_votes(self, task_id: int, round_: int, votes: Sequence[tuple[int, bool, bytes]]) -> SentTransaction: ...
