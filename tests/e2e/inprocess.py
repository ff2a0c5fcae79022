"""Driving a network of in-process daemons on a real chain: create a task with short timeouts, then cycle every
node in turn until the task completes, moving chain time on whenever a whole pass sends no transaction."""

from __future__ import annotations

from collections.abc import Callable

from client.tasks import Economics, create_task, prepare_task
from node.chain.types import TaskStatus
from node.daemon import Daemon
from node.ml import spec as sp
from node.ml.data import digits
from node.store.client import StoreClient
from testkit.chain import Chain
from testkit.polling import wait_until

TIMEOUT_S = 60
# Chain time a pass with no transaction skips: under half the default 10-s challenge window, so that watchers get
# cycles inside every window.
IDLE_STEP_S = 4


def short_task(chain: Chain, store_url: str, spec: sp.TaskSpec, *, rounds: int) -> int:
    """A digits task of quorum 3 with 60-s claim, commit and reveal timeouts, created by dev account 1."""
    economics = Economics(
        rounds=rounds, quorum=3, claim_timeout_s=TIMEOUT_S, commit_timeout_s=TIMEOUT_S, reveal_timeout_s=TIMEOUT_S
    )
    prepared = prepare_task(StoreClient.from_endpoints([store_url]), spec, digits(), economics)
    return create_task(chain.market(chain.accounts[1]), prepared)


def drive(
    chain: Chain,
    task_id: int,
    daemons: list[Daemon],
    *,
    first: Callable[[], None] | None = None,
    timeout_s: float = 900,
) -> None:
    """Cycles ``first`` (an adversary racing everyone) then every daemon until the task completes. When a whole
    pass sends no transaction, everyone waits on a deadline (an idle claim, a ballot never revealed, a challenge
    window): chain time moves on by IDLE_STEP_S. (A chain that mines blocks on a timer, Ganache here, mines empty
    ones meanwhile: what counts is whether a transaction was mined.)"""
    market = chain.market()

    def one_pass() -> bool:
        before = chain.w3.eth.block_number
        if first is not None:
            first()
        for d in daemons:
            d.cycle()
        if market.get_task(task_id).state.status is TaskStatus.COMPLETED:
            return True
        if not _mined_since(chain, before):
            chain.advance(IDLE_STEP_S)
        return False

    try:
        wait_until(one_pass, timeout_s=timeout_s, what=f"task {task_id} to complete", interval_s=0)
    finally:
        for d in daemons:
            d.s.state.close()


def _mined_since(chain: Chain, block: int) -> bool:
    """Whether a block after ``block`` holds a transaction (every daemon waits for its receipts in its cycle)."""
    head = chain.w3.eth.block_number
    return any(chain.w3.eth.get_block_transaction_count(b) for b in range(block + 1, head + 1))
