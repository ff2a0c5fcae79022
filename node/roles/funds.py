"""What a node can afford, said when it starts: a node that could not pay for any of its work refuses to start (the
funds exit code) instead of failing its first cycle and waiting silently.

A miner (or aggregator) locks a task's unit bond per claim and a verifier its vote bond per seat, from free stake
topped up from the account's balance within ``--stake-cap``; every role pays gas from the balance. So: no ETH at
all to pay gas is refused, and so is an account whose stake and balance cover no bond of any active task for the
roles it runs, when it has no stake at all (a node with stake may hold bonds to honour: it starts, and says it can
take no more). Otherwise one line says how many claims or seats it can take on each active task.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from node.chain.types import Task, TaskStatus
from node.errors import InsufficientFunds
from node.money import eth
from node.roles.context import Services

log = logging.getLogger(__name__)

# The newest tasks looked at (a node starting on a long-lived chain does not read every task ever created).
RECENT_TASKS = 50
BONDING_ROLES = {"miner": "claims", "aggregator": "claims", "verifier": "seats"}


@dataclass(frozen=True, slots=True)
class Funds:
    """An account's means against its roles' bonds on the active tasks."""

    balance: int
    free_stake: int
    staked: int  # all of its stake, free, locked in bonds and unbonding
    for_bonds: int  # free stake plus what the balance may still stake under the cap
    claims: dict[int, int] = field(default_factory=dict)  # task → unit bonds the node can lock (miners)
    seats: dict[int, int] = field(default_factory=dict)  # task → vote bonds the node can lock (verifiers)
    smallest_bond: int = 0  # the smallest bond its roles need on an active task (0: none active)

    @property
    def bonds_wanted(self) -> bool:
        return bool(self.claims or self.seats)

    @property
    def any_bond(self) -> bool:
        return any(self.claims.values()) or any(self.seats.values())


def active_tasks(services: Services) -> list[Task]:
    market = services.market
    count = market.task_count()
    wanted = services.settings.tasks
    ids = [i for i in range(max(1, count - RECENT_TASKS + 1), count + 1) if wanted is None or i in wanted]
    return [t for t in (market.get_task(i) for i in ids) if t.state.status is TaskStatus.ACTIVE]


def funds_of(services: Services, roles: list[str]) -> Funds:
    market = services.market
    me = services.address
    balance = market.balance_of(me)
    stake = market.stake_of(me)
    room = max(0, services.settings.stake_cap_wei - stake.total)
    for_bonds = stake.free + min(balance, room)
    wants = {BONDING_ROLES[r] for r in roles if r in BONDING_ROLES}
    claims: dict[int, int] = {}
    seats: dict[int, int] = {}
    bonds: list[int] = []
    for task in active_tasks(services) if wants else []:
        if "claims" in wants:
            claims[task.task_id] = for_bonds // max(1, task.params.unit_bond)
            bonds.append(task.params.unit_bond)
        if "seats" in wants:
            seats[task.task_id] = for_bonds // max(1, task.params.vote_bond)
            bonds.append(task.params.vote_bond)
    return Funds(balance, stake.free, stake.total, for_bonds, claims, seats, min(bonds, default=0))


def check_funds(services: Services, roles: list[str]) -> Funds:
    """Says what the node can afford; raises :class:`InsufficientFunds` when it can pay for none of its work."""
    funds = funds_of(services, roles)
    me = services.address
    if funds.balance == 0:
        raise InsufficientFunds(
            f"account {me} holds 0 ETH: it cannot pay gas for any transaction; send it ETH (on a devnet, "
            "--dev-account N uses a funded account)"
        )
    if funds.bonds_wanted and not funds.any_bond and funds.staked > 0:
        # A node with stake (locked in its bonds, say: restarted mid-task) starts whatever it can afford: what it
        # holds must be finished, or its bonds are slashed.
        log.warning(
            "no more bonds affordable on the active tasks: finishing what the node holds",
            extra={"bonds_wei": funds.for_bonds, "staked_wei": funds.staked},
        )
    elif funds.bonds_wanted and not funds.any_bond:
        smallest = funds.smallest_bond
        raise InsufficientFunds(
            f"account {me} can lock {eth(funds.for_bonds)} in bonds (free stake and balance within --stake-cap), less "
            f"than the smallest bond of the active tasks, {eth(smallest)}: send it ETH or raise --stake-cap"
        )
    log.info(
        "funds",
        extra={
            "balance_wei": funds.balance,
            "free_stake_wei": funds.free_stake,
            "bonds_wei": funds.for_bonds,
            **({"claims_per_task": funds.claims} if funds.claims else {}),
            **({"seats_per_task": funds.seats} if funds.seats else {}),
        },
    )
    return funds
