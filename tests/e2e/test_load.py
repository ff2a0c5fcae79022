"""Load: 20 miners and 5 verifiers (one thread each, a light model) on a task of 200 training units and its
aggregations. Every unit is accepted exactly once, nobody is slashed, the work spreads over the miners, and the
money balances to the wei."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.tasks import Economics, create_task, prepare_task
from node.audit.audit import audit_task
from node.chain.events import EventReader
from node.chain.types import TaskStatus
from node.ml.data import digits
from node.ml.defaults import digits_spec
from node.store.client import StoreClient
from testkit.chain import Chain
from testkit.polling import wait_until
from testkit.servers import store_server
from testkit.swarm import swarm
from tests.e2e.ledger import Ledger

pytestmark = [pytest.mark.chain, pytest.mark.slow]

MINERS, VERIFIERS = 20, 5
UNITS, ROUNDS = 100, 2


def test_twenty_miners_and_five_verifiers_finish_two_hundred_units(chain: Chain, tmp_path: Path) -> None:
    owner = chain.market(chain.accounts[1])
    start = chain.w3.eth.block_number
    deployment = tmp_path / "deployment.json"
    chain.deployment.write(deployment)
    with store_server(tmp_path / "store", max_bytes=1 << 30) as (store_url, _):
        store = StoreClient.from_endpoints([store_url])
        spec = digits_spec(dataset_digest="0x" + "00" * 32, shards=UNITS, local_steps=8, checkpoint_every=4, hidden=8)
        economics = Economics(rounds=ROUNDS, quorum=1, claim_timeout_s=600, commit_timeout_s=600, reveal_timeout_s=600)
        task_id = create_task(owner, prepare_task(store, spec, digits(), economics))
        params = owner.get_task(task_id).params
        miners = [(f"miner-{i}", 2 + i, ["miner", "aggregator"] if i < 2 else ["miner"]) for i in range(MINERS)]
        verifiers = [(f"verifier-{i}", 2 + MINERS + i, ["verifier", "keeper"]) for i in range(VERIFIERS)]
        with swarm(chain.rpc_url, deployment, store_url, tmp_path, miners + verifiers, poll_interval_s=0.5) as nodes:
            wait_until(
                lambda: owner.get_task(task_id).state.status is TaskStatus.COMPLETED,
                timeout_s=600,
                what="200 units",
                interval_s=0.5,
            )
            assert nodes.errors == []
        report = audit_task(owner, store, task_id, from_block=start, sample=20, seed=1)
        assert report.ok, report.findings

    reader = EventReader(chain.w3, chain.deployment.address, chain.artifact.abi)
    ledger = Ledger.of(reader.read(start, reader.head()), task_id, params.units_per_round)
    assert len(ledger.accepted) == ROUNDS * (UNITS + 1) >= 200
    assert len(ledger.submitted) == len(ledger.accepted), "every unit submitted once and accepted"
    assert not ledger.rejected
    assert not ledger.expired
    assert not ledger.slashed
    trained = {m: ledger.accepted_by(m, aggregation=False) for m in {a["miner"] for a in ledger.accepted}}
    assert len([m for m, n in trained.items() if n > 0]) == MINERS, f"every miner got work: {trained}"
    for name, account, _ in miners:
        a = chain.accounts[account].address
        assert owner.credit_of(a) == (
            ledger.accepted_by(a, aggregation=False) * params.miner_reward
            + ledger.accepted_by(a, aggregation=True) * params.aggregator_reward
        ), name
    assert owner.balance() == owner.total_owed()
