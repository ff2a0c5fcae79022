"""`dml account earnings` against a task run to completion: the events add up to the contract's books."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.earnings import TaskEarnings, earnings_of
from node.chain.events import EventReader
from testkit.chain import Chain
from testkit.servers import store_server
from tests.integration.client.driver import complete
from tests.integration.client.test_task_cli import flags, invoke, submit_small_task

pytestmark = pytest.mark.chain


def test_account_earnings_add_up_to_credit(chain: Chain, tmp_path: Path) -> None:
    with store_server(tmp_path / "objects") as (store, _):
        f = flags(chain, tmp_path, store)
        task_id = submit_small_task(f)
        complete(chain, tmp_path, store, task_id)
        task = chain.market().get_task(task_id)
        miner, verifier = chain.accounts[2].address, chain.accounts[4].address
        reader = EventReader(chain.w3, chain.deployment.address, chain.market().contract.abi)  # type: ignore[arg-type]
        events = reader.read(chain.deployment.block_number, reader.head())

        mined = earnings_of(miner, events)
        units = task.params.units_per_round * task.params.rounds
        expected = units * task.params.miner_reward + task.params.rounds * task.params.aggregator_reward
        assert mined.by_task[task_id].earned == expected, "the miner (also the aggregator) was paid for every unit"
        assert mined.slashed == 0
        voted = earnings_of(verifier, events)
        assert voted.by_task[task_id].earned == (units + task.params.rounds) * task.params.verifier_reward
        owner = earnings_of(chain.accounts[1].address, events)
        assert owner.by_task.get(task_id, TaskEarnings()) == TaskEarnings(), "a completed task spends its escrow"
        for who in (miner, verifier, chain.accounts[1].address):
            assert earnings_of(who, events).credit == chain.market().credit_of(who), who

        out = invoke("account", "earnings", "--dev-account", "2", *f)
        assert f"account {miner}" in out.replace("\n", "")
        assert "credit now" in out
