"""What the chain's events say happened in a task, and what each account should therefore have been paid or
slashed: the yardstick the end-to-end tests hold the contract's balances against."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from node.chain.events import ChainEvent

UnitKey = tuple[int, int]  # (round, index)


@dataclass
class Ballots:
    committed: list[str] = field(default_factory=list)
    revealed: dict[str, bool] = field(default_factory=dict)
    reveal_opened: bool = False


@dataclass
class Ledger:
    """Events of one task, replayed in chain order."""

    task_id: int
    units_per_round: int
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    expired: list[dict[str, Any]] = field(default_factory=list)
    submitted: list[dict[str, Any]] = field(default_factory=list)
    slashed: Counter[str] = field(default_factory=Counter)
    credited: Counter[str] = field(default_factory=Counter)
    # Vote bonds the rules say must be slashed: a committed ballot not revealed by settlement, or a revealed one
    # on the losing side of a verdict. And the fees they say must be paid: the winning side of a verdict.
    expected_vote_slashes: Counter[str] = field(default_factory=Counter)
    expected_vote_fees: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, events: list[ChainEvent], task_id: int, units_per_round: int) -> Ledger:
        ledger = cls(task_id, units_per_round)
        ballots: dict[tuple[int, int, int], Ballots] = {}
        epoch_of: dict[UnitKey, int] = {}
        for e in events:
            a = dict(e.args)
            if a.get("taskId") != task_id:
                continue
            unit = (int(a.get("round", -1)), int(a.get("index", -1)))
            if e.name == "ResultSubmitted":
                ledger.submitted.append(a)
                epoch_of[unit] = int(a["epoch"])
            elif e.name == "VoteCommitted":
                ballots.setdefault((*unit, int(a["epoch"])), Ballots()).committed.append(a["verifier"])
            elif e.name == "RevealOpened":
                ballots.setdefault((*unit, int(a["epoch"])), Ballots()).reveal_opened = True
            elif e.name == "VoteRevealed":
                ballots[(*unit, int(a["epoch"]))].revealed[a["verifier"]] = bool(a["valid"])
            elif e.name in ("UnitAccepted", "UnitRejected"):
                (ledger.accepted if e.name == "UnitAccepted" else ledger.rejected).append(a)
                ledger._settle(ballots.get((*unit, epoch_of[unit]), Ballots()), e.name == "UnitAccepted")
            elif e.name == "VoteReopened":
                settled = ballots.get((*unit, epoch_of.get(unit, 0)), Ballots())
                if settled.reveal_opened:  # a vote with no verdict; a commit-phase timeout slashes nobody
                    ledger._settle(settled, None)
                epoch_of[unit] = int(a["epoch"])
            elif e.name == "UnitExpired":
                ledger.expired.append(a)
            elif e.name == "StakeSlashed":
                ledger.slashed[a["account"]] += int(a["amount"])
            elif e.name == "Credited":
                ledger.credited[a["account"]] += int(a["amount"])
        return ledger

    def _settle(self, b: Ballots, outcome: bool | None) -> None:
        for verifier in b.committed:
            vote = b.revealed.get(verifier)
            if vote is None or (outcome is not None and vote != outcome):
                self.expected_vote_slashes[verifier] += 1
            elif outcome is not None:
                self.expected_vote_fees[verifier] += 1

    def accepted_by(self, miner: str, *, aggregation: bool) -> int:
        return sum(
            1 for a in self.accepted if a["miner"] == miner and (a["index"] == self.units_per_round) == aggregation
        )
