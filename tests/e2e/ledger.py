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
    """One epoch's vote: seats committed and revealed per verifier."""

    committed: Counter[str] = field(default_factory=Counter)
    revealed: dict[str, bool] = field(default_factory=dict)


@dataclass
class Ledger:
    """Events of one task, replayed in chain order."""

    task_id: int
    units_per_round: int
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    expired: list[dict[str, Any]] = field(default_factory=list)
    submitted: list[dict[str, Any]] = field(default_factory=list)
    challenges: list[dict[str, Any]] = field(default_factory=list)
    slashed: Counter[str] = field(default_factory=Counter)
    credited: Counter[str] = field(default_factory=Counter)
    # Vote bonds (one per seat) the rules say must be slashed: a committed seat not revealed when its epoch was
    # decided, or revealed against the final verdict. The fees they say must be paid: seats voting the final
    # verdict. Challenge bonds to slash, and challengers to reward, by the final verdict.
    expected_vote_slashes: Counter[str] = field(default_factory=Counter)
    expected_vote_fees: Counter[str] = field(default_factory=Counter)
    expected_challenge_slashes: Counter[str] = field(default_factory=Counter)
    expected_challenge_rewards: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, events: list[ChainEvent], task_id: int, units_per_round: int) -> Ledger:
        ledger = cls(task_id, units_per_round)
        ballots: dict[tuple[int, int, int], Ballots] = {}
        epoch_of: dict[UnitKey, int] = {}
        # Per unit, the decided levels of the vote on its current result: (epoch, verdict, challenger, bond).
        levels: dict[UnitKey, dict[int, tuple[int, bool, str | None, int]]] = {}
        challenger_of: dict[tuple[int, int, int], tuple[str, int]] = {}  # (round, index, level) -> (who, bond)
        for e in events:
            a = dict(e.args)
            if a.get("taskId") != task_id:
                continue
            unit = (int(a.get("round", -1)), int(a.get("index", -1)))
            if e.name == "ResultSubmitted":
                ledger.submitted.append(a)
                epoch_of[unit] = int(a["epoch"])
                levels[unit] = {}
            elif e.name == "VoteCommitted":
                ballots.setdefault((*unit, int(a["epoch"])), Ballots()).committed[a["verifier"]] += int(a["seats"])
            elif e.name == "VoteRevealed":
                ballots[(*unit, int(a["epoch"]))].revealed[a["verifier"]] = bool(a["valid"])
            elif e.name == "VerdictReached":
                level = int(a["level"])
                who, bond = challenger_of.get((*unit, level), (None, 0))
                levels[unit][level] = (epoch_of[unit], bool(a["valid"]), who, bond)
            elif e.name == "VerdictChallenged":
                challenger_of[(*unit, int(a["level"]))] = (a["challenger"], int(a["bond"]))
                ledger.challenges.append(a)
                epoch_of[unit] = int(a["epoch"])
            elif e.name in ("UnitAccepted", "UnitRejected"):
                (ledger.accepted if e.name == "UnitAccepted" else ledger.rejected).append(a)
                ledger._settle_levels(ballots, unit, levels.pop(unit, {}), e.name == "UnitAccepted")
            elif e.name == "VoteReopened":
                ledger._settle_epoch(ballots.get((*unit, epoch_of.get(unit, 0)), Ballots()), None)
                epoch_of[unit] = int(a["epoch"])
            elif e.name == "UnitExpired":
                ledger.expired.append(a)
            elif e.name == "StakeSlashed":
                ledger.slashed[a["account"]] += int(a["amount"])
            elif e.name == "Credited":
                ledger.credited[a["account"]] += int(a["amount"])
        return ledger

    def _settle_levels(
        self,
        ballots: dict[tuple[int, int, int], Ballots],
        unit: UnitKey,
        levels: dict[int, tuple[int, bool, str | None, int]],
        outcome: bool,
    ) -> None:
        for level, (epoch, _, challenger, bond) in sorted(levels.items()):
            self._settle_epoch(ballots.get((*unit, epoch), Ballots()), outcome)
            if level == 0 or challenger is None:
                continue
            if levels[level - 1][1] != outcome:
                self.expected_challenge_rewards[challenger] += 1
            else:
                self.expected_challenge_slashes[challenger] += bond

    def _settle_epoch(self, b: Ballots, outcome: bool | None) -> None:
        """``outcome`` None: an epoch without a verdict, where only non-revealers lose their bonds."""
        for verifier, seats in b.committed.items():
            vote = b.revealed.get(verifier)
            if vote is None or (outcome is not None and vote != outcome):
                self.expected_vote_slashes[verifier] += seats
            elif outcome is not None:
                self.expected_vote_fees[verifier] += seats

    def accepted_by(self, miner: str, *, aggregation: bool) -> int:
        return sum(
            1 for a in self.accepted if a["miner"] == miner and (a["index"] == self.units_per_round) == aggregation
        )


def slash_story(events: list[ChainEvent], task_id: int, account: str) -> str:
    """What happened, in chain order, on each unit of ``task_id`` where ``account`` was slashed: every draw, vote,
    verdict and challenge of that unit (the account's own marked), for a failure message."""
    units = {
        (int(e.args["round"]), int(e.args["index"]))
        for e in events
        if e.name == "StakeSlashed" and e.args.get("taskId") == task_id and e.args.get("account") == account
    }
    lines = []
    for e in events:
        a = dict(e.args)
        if a.get("taskId") != task_id or (int(a.get("round", -1)), int(a.get("index", -1))) not in units:
            continue
        mine = account in (a.get("account"), a.get("verifier"), a.get("challenger"), a.get("miner"))
        shown = {k: v.hex()[:12] if isinstance(v, bytes) else v for k, v in a.items() if k not in ("taskId",)}
        lines.append(f"{'*' if mine else ' '} block {e.block_number} {e.name} {shown}")
    return "\n".join(lines)
