"""What an account earned, was slashed and withdrew, rebuilt from the contract's events (``dml account earnings``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from node.chain.events import ChainEvent


@dataclass(frozen=True, slots=True)
class TaskEarnings:
    earned: int = 0  # rewards credited from the task's escrow (units, votes, upheld challenges)
    slashed: int = 0  # stake taken for this task's units or votes
    refunded: int = 0  # the owner's unspent escrow back


@dataclass(frozen=True, slots=True)
class Earnings:
    address: str
    by_task: dict[int, TaskEarnings] = field(default_factory=dict)
    staked: int = 0
    released: int = 0  # stake whose unbonding ended, moved to credit
    withdrawn: int = 0

    @property
    def earned(self) -> int:
        return sum(t.earned for t in self.by_task.values())

    @property
    def slashed(self) -> int:
        return sum(t.slashed for t in self.by_task.values())

    @property
    def refunded(self) -> int:
        return sum(t.refunded for t in self.by_task.values())

    @property
    def credit(self) -> int:
        """What the events say the account's credit is now: everything credited less what was withdrawn."""
        return self.earned + self.refunded + self.released - self.withdrawn


def earnings_of(address: str, events: Iterable[ChainEvent]) -> Earnings:
    me = address.lower()
    tasks: dict[int, dict[str, int]] = defaultdict(lambda: {"earned": 0, "slashed": 0, "refunded": 0})
    totals = {"staked": 0, "released": 0, "withdrawn": 0}
    for e in events:
        a = e.args
        who = str(a.get("account", a.get("owner", ""))).lower()
        if who != me:
            continue
        if e.name == "Credited":
            tasks[int(a["taskId"])]["earned"] += int(a["amount"])
        elif e.name == "EscrowRefunded":  # also announced by a Credited of the same amount: not an earning
            tasks[int(a["taskId"])]["refunded"] += int(a["amount"])
            tasks[int(a["taskId"])]["earned"] -= int(a["amount"])
        elif e.name == "StakeSlashed":
            tasks[int(a["taskId"])]["slashed"] += int(a["amount"])
        elif e.name == "StakeDeposited":
            totals["staked"] += int(a["amount"])
        elif e.name == "StakeReleased":
            totals["released"] += int(a["amount"])
        elif e.name == "Withdrawn":
            totals["withdrawn"] += int(a["amount"])
    by_task = {t: TaskEarnings(**v) for t, v in sorted(tasks.items())}
    return Earnings(address, by_task, **totals)
