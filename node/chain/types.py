"""Domain values read from TaskMarket: frozen dataclasses mirroring the interface's structs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

# A deployment's default unbonding delay: a week, longer than any task's exposure with sane windows.
DEFAULT_UNBONDING_DELAY_S = 7 * 24 * 3600


class TaskStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    COMPLETED = 2
    CANCELLED = 3


class UnitStatus(IntEnum):
    OPEN = 0
    CLAIMED = 1
    SUBMITTED = 2
    REVEALING = 3
    ACCEPTED = 4
    DECIDED = 5
    """A provisional verdict (``UnitInfo.verdict``), open to challenge until ``deadline``; nothing paid yet."""


# Appeal levels run 0..MAX_APPEAL_LEVEL (the contract's constant): the last level's verdict is final at once.
MAX_APPEAL_LEVEL = 4


def seats_at(quorum: int, level: int) -> int:
    """Seats of a quorum at appeal ``level``: ``quorum``, then 2·seats + 1 per level (the contract's ``seatsAt``)."""
    seats = quorum
    for _ in range(level):
        seats = 2 * seats + 1
    return seats


@dataclass(frozen=True, slots=True)
class BlockHead:
    """The chain's latest block as a node's cycle starts from it."""

    number: int
    timestamp: int
    hash: bytes


# TaskMarket.sol's bounds on a task (MAX_ROUNDS, MAX_QUORUM, MAX_TIMEOUT), for the CLI's --help and ranges; the
# contract checks them (and the rest) when a task is simulated, before anything is uploaded.
MAX_ROUNDS = 1_000
MAX_QUORUM = 15
MAX_TIMEOUT_S = 30 * 24 * 3600


@dataclass(frozen=True, slots=True)
class TaskParams:
    """What a task owner fixes at creation (amounts in wei, timeouts in seconds)."""

    spec_digest: bytes
    dataset_digest: bytes
    initial_model_digest: bytes
    rounds: int
    units_per_round: int
    quorum: int
    claim_timeout: int
    commit_timeout: int
    reveal_timeout: int
    miner_reward: int
    aggregator_reward: int
    verifier_reward: int
    unit_bond: int
    vote_bond: int
    challenge_window: int = 0
    """Seconds a verdict stays open to challenge; 0: verdicts are final at once."""
    owner_in_loop: bool = False
    """Split mode: an expired claim unlocks the miner's bond instead of slashing it (the owner may be silent)."""

    @property
    def budget(self) -> int:
        """DESIGN.md §3: rounds × (U × minerReward + aggregatorReward + (U+1) × quorum × verifierReward)."""
        u = self.units_per_round
        return self.rounds * (
            u * self.miner_reward + self.aggregator_reward + (u + 1) * self.quorum * self.verifier_reward
        )

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.spec_digest,
            self.dataset_digest,
            self.initial_model_digest,
            self.rounds,
            self.units_per_round,
            self.quorum,
            self.claim_timeout,
            self.commit_timeout,
            self.reveal_timeout,
            self.miner_reward,
            self.aggregator_reward,
            self.verifier_reward,
            self.unit_bond,
            self.vote_bond,
            self.challenge_window,
            self.owner_in_loop,
        )

    @classmethod
    def from_tuple(cls, t: Sequence[Any]) -> TaskParams:
        n = [int(x) for x in t[3:15]]
        return cls(
            bytes(t[0]), bytes(t[1]), bytes(t[2]),
            n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8], n[9], n[10], n[11],
            bool(t[15]),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class TaskState:
    owner: str
    status: TaskStatus
    current_round: int
    accepted_in_round: int
    open_units: int
    in_flight: int
    escrow: int
    final_model_digest: bytes

    @classmethod
    def from_tuple(cls, t: Sequence[Any]) -> TaskState:
        return cls(str(t[0]), TaskStatus(t[1]), int(t[2]), int(t[3]), int(t[4]), int(t[5]), int(t[6]), bytes(t[7]))


@dataclass(frozen=True, slots=True)
class Task:
    task_id: int
    params: TaskParams
    state: TaskState

    @property
    def aggregation_index(self) -> int:
        return self.params.units_per_round


@dataclass(frozen=True, slots=True)
class UnitInfo:
    status: UnitStatus
    miner: str
    deadline: int
    commits: int
    reveals: int
    valid_votes: int
    epoch: int
    rejections: int
    submitted_block: int
    result_digest: bytes
    model_digest: bytes
    seed_block: int = 0
    """The block whose hash seeds the draw of the current epoch's quorum."""
    seats: int = 0
    """Seats drawn so far in the current epoch."""
    level: int = 0
    """Appeal level of the current epoch (0: the first vote on this result)."""
    verdict: bool = False
    """The provisional verdict while DECIDED (True: valid)."""

    @classmethod
    def from_tuple(cls, t: Sequence[Any]) -> UnitInfo:
        return cls(
            status=UnitStatus(t[0]),
            miner=str(t[1]),
            deadline=int(t[2]),
            commits=int(t[3]),
            reveals=int(t[4]),
            valid_votes=int(t[5]),
            epoch=int(t[6]),
            rejections=int(t[7]),
            submitted_block=int(t[8]),
            result_digest=bytes(t[9]),
            model_digest=bytes(t[10]),
            seed_block=int(t[11]),
            seats=int(t[12]),
            level=int(t[13]),
            verdict=bool(t[14]),
        )


@dataclass(frozen=True, slots=True)
class StakeInfo:
    total: int
    locked: int
    unbonding: int
    release_at: int
    free: int
    verifying: bool = False
    """In the verifier pool: drawn for quorums with ``pool_weight`` (stake at risk: total − unbonding)."""
    pool_weight: int = 0
    seat_locked: int = 0
    """The part of ``locked`` backing drawn seats, which may exceed what is free (a draw never skips for it)."""

    @property
    def seatable(self) -> int:
        """What a draw weighs against a task's vote bond: stake at risk beyond the bonds the account took itself."""
        return max(0, self.total - self.unbonding - (self.locked - self.seat_locked))

    @classmethod
    def from_tuple(cls, t: Sequence[Any]) -> StakeInfo:
        return cls(
            total=int(t[0]),
            locked=int(t[1]),
            unbonding=int(t[2]),
            release_at=int(t[3]),
            free=int(t[4]),
            verifying=bool(t[5]),
            pool_weight=int(t[6]),
            seat_locked=int(t[7]),
        )


@dataclass(frozen=True, slots=True)
class BallotInfo:
    committed: bool
    revealed: bool
    valid: bool
    commitment: bytes
    seats: int = 0
    """Seats the verifier holds in the current epoch (0: not drawn); committed/revealed mean all of them."""

    @classmethod
    def from_tuple(cls, t: Sequence[Any]) -> BallotInfo:
        return cls(bool(t[0]), bool(t[1]), bool(t[2]), bytes(t[3]), int(t[4]))


@dataclass(frozen=True, slots=True)
class LevelInfo:
    """One level of the vote on a unit's current result."""

    epoch: int
    verdict: bool
    challenger: str

    @classmethod
    def from_tuple(cls, t: Sequence[Any]) -> LevelInfo:
        return cls(int(t[0]), bool(t[1]), str(t[2]))
