"""Small in-process fakes of the chain for unit tests of logic that is not the chain's: a reader (the judge, the
audit's checks) and a market one node writes to (the roles' state machines), tasks and units as the contract would
report them, held in dictionaries. The chain itself is tested against Anvil."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from node.chain.events import ChainEvent
from node.chain.reverts import TaskMarketDeadlinePassed, TaskMarketNotSelected, TaskMarketUnitWrongStatus
from node.chain.tx import SentTransaction
from node.chain.types import (
    BallotInfo,
    BlockHead,
    StakeInfo,
    Task,
    TaskParams,
    TaskState,
    TaskStatus,
    UnitInfo,
    UnitStatus,
)
from node.store.cid import to_digest

OWNER = "0x" + "0a" * 20
CONTRACT = "0x" + "c0" * 20


def task_of(task_id: int, *, spec_cid: str, dataset_cid: str, input_cid: str, units: int, quorum: int = 1) -> Task:
    params = TaskParams(
        spec_digest=to_digest(spec_cid), dataset_digest=to_digest(dataset_cid),
        initial_model_digest=to_digest(input_cid), rounds=1, units_per_round=units, quorum=quorum,
        claim_timeout=600, commit_timeout=60, reveal_timeout=60, miner_reward=10, aggregator_reward=10,
        verifier_reward=1, unit_bond=10, vote_bond=4, challenge_window=60,
    )  # fmt: skip
    state = TaskState(OWNER, TaskStatus.ACTIVE, 0, 0, units, 0, params.budget, b"\0" * 32)
    return Task(task_id, params, state)


def unit_of(status: UnitStatus = UnitStatus.OPEN, miner: str = "0x" + "00" * 20, **fields: object) -> UnitInfo:
    base = UnitInfo(status, miner, 0, 0, 0, 0, 0, 0, 0, b"\0" * 32, b"\0" * 32)
    return replace(base, **fields)  # type: ignore[arg-type]


@dataclass
class FakeChain:
    """Tasks, their units by (task, round) and each round's input digest; reads as :class:`MarketReader` asks."""

    tasks: dict[int, Task] = field(default_factory=dict)
    units: dict[tuple[int, int], list[UnitInfo]] = field(default_factory=dict)
    inputs: dict[tuple[int, int], bytes] = field(default_factory=dict)
    address: str = CONTRACT
    chain_id: int = 31337

    def get_task(self, task_id: int, *, block: int | str = "latest") -> Task:
        return self.tasks[task_id]

    def get_unit(self, task_id: int, round_: int, index: int, *, block: int | str = "latest") -> UnitInfo:
        return self.units[(task_id, round_)][index]

    def get_units(self, task_id: int, round_: int, *, block: int | str = "latest") -> list[UnitInfo]:
        return list(self.units[(task_id, round_)])

    def round_input(self, task_id: int, round_: int) -> bytes:
        return self.inputs[(task_id, round_)]

    def block_hash(self, number: int) -> bytes:
        return number.to_bytes(32, "big")


# ---------------------------------------------------------------------------------------------- the write side


@dataclass(frozen=True)
class FakeSender:
    address: str
    account: Any = None

    def reconcile(
        self, head: int | None = None, *, stuck_after_s: float | None = None, force: bool = False
    ) -> list[tuple[str, int]]:
        return []  # nothing in flight: the fakes mine at once


@dataclass
class FakeEvents:
    events: list[ChainEvent] = field(default_factory=list)
    number: int = 0

    def head(self) -> int:
        return self.number

    def iter(self, from_block: int, to_block: int) -> Iterator[ChainEvent]:
        return iter([e for e in self.events if from_block <= e.block_number <= to_block])


def _sent(label: str, n: int) -> SentTransaction:
    return SentTransaction(tx_hash=f"0x{label}{n:04d}", nonce=n, receipt={})  # type: ignore[arg-type]


@dataclass
class FakeMarket(FakeChain):
    """The market as one account's node sees it, with the contract's rules the roles' state machines rely on: a
    claim takes open units (all or none), a submission needs the claim still ours and its deadline ahead, a batch
    is refused whole. ``now`` is the chain's time; ``before`` runs a hook (given the call's arguments) before a named
    transaction applies (a rival's claim landing first, a crash), ``refuse`` makes the next such transaction revert
    once. Every
    transaction that lands is in ``sent``."""

    me: str = "0x" + "aa" * 20
    now: int = 1_000_000
    number: int = 10
    stakes: dict[str, int] = field(default_factory=dict)
    credits: dict[str, int] = field(default_factory=dict)
    balances: dict[str, int] = field(default_factory=dict)  # ETH an account holds (100 ETH unless set)
    locked: dict[str, int] = field(default_factory=dict)  # stake an account holds in bonds (none unless set)
    ballots: dict[tuple[int, int, int, str], BallotInfo] = field(default_factory=dict)
    before: dict[str, Callable[..., None]] = field(default_factory=dict)
    refuse: dict[str, Exception] = field(default_factory=dict)
    sent: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)  # every transaction sent, landed or refused
    pool: set[str] = field(default_factory=set)
    declined: set[tuple[int, str]] = field(default_factory=set)
    _events: FakeEvents = field(default_factory=FakeEvents)

    @property
    def signer(self) -> FakeSender:
        return FakeSender(self.me)

    def latest(self) -> BlockHead:
        return BlockHead(self.number, self.now, self.block_hash(self.number))

    def block(self, at: int | str) -> BlockHead:
        number = self.number if isinstance(at, str) else at  # a tag: the fake chain's every block is final
        return BlockHead(number, self.now, self.block_hash(number))

    def events(self) -> FakeEvents:
        self._events.number = self.number
        return self._events

    def mine(self, seconds: int = 1) -> None:
        self.number += 1
        self.now += seconds

    def get_ballot(self, task_id: int, round_: int, index: int, verifier: str) -> BallotInfo:
        return self.ballots.get((task_id, round_, index, verifier), BallotInfo(False, False, False, b"\0" * 32))

    def stake_of(self, account: str) -> StakeInfo:
        total, locked = self.stakes.get(account, 0), self.locked.get(account, 0)
        return StakeInfo(total, locked, 0, 0, total - locked, verifying=account in self.pool, pool_weight=total)

    def credit_of(self, account: str) -> int:
        return self.credits.get(account, 0)

    def balance_of(self, account: str) -> int:
        return self.balances.get(account, 100 * 10**18)

    def task_count(self) -> int:
        return max(self.tasks, default=0)

    def count(self, label: str) -> int:
        return sum(1 for name, _ in self.sent if name == label)

    def _gate(self, label: str, *args: Any) -> None:
        """What happens before a transaction applies: the hook (once, given the call's arguments), then a refusal
        (once)."""
        self.tried.append(label)
        hook = self.before.pop(label, None)
        if hook is not None:
            hook(*args)
        refused = self.refuse.pop(label, None)
        if refused is not None:
            raise refused

    def _send(self, label: str, *args: Any) -> SentTransaction:
        self._gate(label, *args)
        return self._land(label, args)

    def _land(self, label: str, args: tuple[Any, ...]) -> SentTransaction:
        self.sent.append((label, args))
        self.mine()
        return _sent(label, len(self.sent))

    def _unit(self, task_id: int, round_: int, index: int) -> UnitInfo:
        return self.units[(task_id, round_)][index]

    def _set(self, task_id: int, round_: int, index: int, unit: UnitInfo) -> None:
        self.units[(task_id, round_)][index] = unit

    def take(self, task_id: int, round_: int, index: int, miner: str) -> None:
        """Someone's claim of an open unit lands (a rival's, or this node's before it wrote its state)."""
        task = self.tasks[task_id]
        deadline = self.now + task.params.claim_timeout
        self._set(task_id, round_, index, replace(self._unit(task_id, round_, index), status=UnitStatus.CLAIMED,
                                                   miner=miner, deadline=deadline))  # fmt: skip

    def stake(self, amount: int) -> SentTransaction:
        sent = self._send("stake", amount)
        self.stakes[self.me] = self.stakes.get(self.me, 0) + amount
        return sent

    def withdraw(self) -> SentTransaction:
        sent = self._send("withdraw")
        self.credits[self.me] = 0
        return sent

    def join_verifier_pool(self) -> SentTransaction:
        sent = self._send("joinVerifierPool")
        self.pool.add(self.me)
        return sent

    def decline_task(self, task_id: int) -> SentTransaction:
        sent = self._send("declineTask", task_id)
        self.declined.add((task_id, self.me.lower()))
        return sent

    def has_declined(self, task_id: int, account: str) -> bool:
        return (task_id, account.lower()) in self.declined

    def claim_units(self, task_id: int, round_: int, indices: Sequence[int]) -> SentTransaction:
        self._gate("claimUnits", task_id, round_, list(indices))
        for i in indices:
            unit = self._unit(task_id, round_, i)
            if unit.status is not UnitStatus.OPEN:
                raise TaskMarketUnitWrongStatus(
                    {"taskId": task_id, "round": round_, "index": i, "status": unit.status.value}
                )
        for i in indices:
            self.take(task_id, round_, i, self.me)
        return self._land("claimUnits", (task_id, round_, tuple(indices)))

    def submit_results(self, task_id: int, round_: int, results: Sequence[tuple[int, bytes, bytes]]) -> SentTransaction:
        self._gate("submitResults", task_id, round_, list(results))
        for i, _, _ in results:
            unit = self._unit(task_id, round_, i)
            if unit.status is not UnitStatus.CLAIMED or unit.miner != self.me:
                raise TaskMarketUnitWrongStatus(
                    {"taskId": task_id, "round": round_, "index": i, "status": unit.status.value}
                )
            if unit.deadline < self.now:
                raise TaskMarketDeadlinePassed({"deadline": unit.deadline})
        for i, result, model in results:
            self._set(task_id, round_, i, replace(self._unit(task_id, round_, i), status=UnitStatus.SUBMITTED,
                      result_digest=result, model_digest=model, submitted_block=self.number))  # fmt: skip
        return self._land("submitResults", (task_id, round_, tuple(i for i, _, _ in results)))

    def claim_and_submit(
        self, task_id: int, round_: int, index: int, result_digest: bytes, model_digest: bytes
    ) -> SentTransaction:
        raise NotImplementedError("aggregation is tested on Anvil")

    def reclaim_expired(self, task_id: int, round_: int, index: int) -> SentTransaction:
        sent = self._send("reclaimExpired", task_id, round_, index)
        self._set(task_id, round_, index, unit_of())
        return sent

    def finalize_unit(self, task_id: int, round_: int, index: int) -> SentTransaction:
        return self._send("finalizeUnit", task_id, round_, index)

    def draw_quorums(self, task_id: int, round_: int, indices: Sequence[int]) -> SentTransaction:
        return self._send("drawVerifiers", task_id, round_, tuple(indices))

    def challenge_verdict(self, task_id: int, round_: int, index: int) -> SentTransaction:
        return self._send("challengeVerdict", task_id, round_, index)

    def commit_votes(self, task_id: int, round_: int, commitments: Sequence[tuple[int, bytes]]) -> SentTransaction:
        self._gate("commitVotes", task_id, round_, list(commitments))
        for i, _ in commitments:
            unit = self._unit(task_id, round_, i)
            ballot = self.get_ballot(task_id, round_, i, self.me)
            if unit.status is not UnitStatus.SUBMITTED or unit.deadline < self.now:
                raise TaskMarketDeadlinePassed({"deadline": unit.deadline})
            if ballot.seats == 0:
                raise TaskMarketNotSelected({"verifier": self.me})
        for i, commitment in commitments:
            key = (task_id, round_, i, self.me)
            self.ballots[key] = replace(self.ballots[key], committed=True, commitment=commitment)
        return self._land("commitVotes", (task_id, round_, tuple(i for i, _ in commitments)))

    def reveal_votes(self, task_id: int, round_: int, votes: Sequence[tuple[int, bool, bytes]]) -> SentTransaction:
        self._gate("revealVotes", task_id, round_, list(votes))
        for i, _, _ in votes:
            if self._unit(task_id, round_, i).status is not UnitStatus.REVEALING:
                raise TaskMarketUnitWrongStatus({"taskId": task_id, "round": round_, "index": i, "status": 0})
        for i, valid, _ in votes:
            key = (task_id, round_, i, self.me)
            self.ballots[key] = replace(self.ballots[key], revealed=True, valid=valid)
        return self._land("revealVotes", (task_id, round_, tuple(i for i, _, _ in votes)))

    def seat(self, task_id: int, round_: int, index: int, *, seats: int = 1) -> None:
        """This node is drawn for the unit's quorum (the draw's outcome, as the pool would decide it)."""
        self.ballots[(task_id, round_, index, self.me)] = BallotInfo(False, False, False, b"\0" * 32, seats)
        unit = self._unit(task_id, round_, index)
        self._set(task_id, round_, index, replace(unit, seats=unit.seats + seats, deadline=self.now + 60))
