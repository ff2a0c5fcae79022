"""The contract's books as a user wants to see them: what it holds against what it owes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from node.chain.contract import TaskMarket
from node.chain.types import StakeInfo, Task, TaskStatus


@dataclass(frozen=True, slots=True)
class AccountBooks:
    address: str
    stake: StakeInfo
    credit: int


@dataclass(frozen=True, slots=True)
class MarketState:
    address: str
    balance: int
    total_owed: int
    escrow: int
    staked: int
    credit: int
    tasks: list[Task]
    accounts: list[AccountBooks]

    @property
    def surplus(self) -> int:
        """Balance − what is owed: 0 unless ETH was forced into the contract; never negative."""
        return self.balance - self.total_owed

    @property
    def tasks_by_status(self) -> dict[str, int]:
        counts = Counter(t.state.status.name.lower() for t in self.tasks)
        return {s.name.lower(): counts.get(s.name.lower(), 0) for s in TaskStatus if s is not TaskStatus.NONE}


def market_state(market: TaskMarket, from_block: int) -> MarketState:
    """Reads every task and every account that ever held stake or credit (found from events)."""
    tasks = [market.get_task(i) for i in range(1, market.task_count() + 1)]
    reader = market.events()
    addresses: set[str] = {t.state.owner for t in tasks}
    for event in reader.iter(from_block, reader.head()):
        for key in ("account", "miner", "verifier"):
            value = event.args.get(key)
            if isinstance(value, str):
                addresses.add(value)
    accounts = [AccountBooks(a, market.stake_of(a), market.credit_of(a)) for a in sorted(addresses)]
    return MarketState(
        address=market.address,
        balance=market.balance(),
        total_owed=market.total_owed(),
        escrow=sum(t.state.escrow for t in tasks),
        staked=sum(a.stake.total for a in accounts),
        credit=sum(a.credit for a in accounts),
        tasks=tasks,
        accounts=accounts,
    )
