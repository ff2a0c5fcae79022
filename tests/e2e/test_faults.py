"""Faults across a whole task, with node processes: 20 SIGKILLs of random nodes at random moments, an RPC proxy
injecting delays, failed requests, lost answers and a 30 s outage, and a store replica serving tampered bytes in
front of every node. The task completes, every unit is accepted exactly once, nobody is slashed, and the money
balances to the wei."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from node.audit.audit import audit_task
from node.chain.events import EventReader
from node.chain.types import TaskStatus
from node.store.client import StoreClient
from testkit.chain import Chain
from testkit.network import network
from testkit.polling import wait_until
from tests.e2e.ledger import Ledger
from tests.e2e.rpc_proxy import rpc_proxy
from tests.e2e.store_proxy import tampering_replica

pytestmark = [pytest.mark.chain, pytest.mark.slow]

KILLS = 20
ROUNDS, UNITS = 3, 3


def test_a_task_survives_kills_rpc_faults_and_a_tampering_replica(chain: Chain, tmp_path: Path) -> None:
    owner = chain.market(chain.accounts[1])
    rng = random.Random(7)
    faults = {"delay_probability": 0.1, "max_delay_s": 0.3, "error_probability": 0.04, "seed": 7}
    with (
        rpc_proxy(chain.rpc_url, **faults) as (proxy_url, proxy),
        network(chain, tmp_path, rpc_url=proxy_url) as net,
        tampering_replica(net.store_url) as (tampered_url, tampered),
    ):
        good_url = net.store_url
        start = chain.w3.eth.block_number
        task_id = net.submit_digits_task(
            owner, units=UNITS, rounds=ROUNDS, quorum=3, local_steps=3000, checkpoint_every=150, claim_timeout_s=300,
            commit_timeout_s=300, reveal_timeout_s=300,
        )  # fmt: skip
        params = owner.get_task(task_id).params
        # Every node reads the tampering replica first: each of its answers must be refused, then the good one used.
        net.store_url = tampered_url
        nodes = [
            net.node("miner-a", "miner", 2, "--store", good_url),
            net.node("miner-b", "miner,aggregator", 3, "--store", good_url),
            net.node("miner-c", "miner,aggregator", 4, "--store", good_url),
            *(net.node(f"verifier-{i}", "verifier,keeper", 5 + i, "--store", good_url) for i in range(3)),
        ]
        for n in nodes:
            n.start()

        def underway() -> bool:
            state = owner.get_task(task_id).state
            return state.accepted_in_round > 0 or state.current_round > 0

        wait_until(underway, timeout_s=180, what="the first accepted unit")

        def active() -> bool:
            return owner.get_task(task_id).state.status is TaskStatus.ACTIVE

        kills_while_active = 0

        def kill_some(count: int) -> None:
            nonlocal kills_while_active
            for _ in range(count):
                # A random moment: after the protocol moved on by 1 to 4 transactions (blocks, on Anvil).
                target = chain.w3.eth.block_number + rng.randint(1, 4)
                wait_until(
                    lambda target=target: chain.w3.eth.block_number >= target,
                    timeout_s=120,
                    what="the protocol to move on",
                    interval_s=0.05,
                )
                victim = rng.choice(nodes)
                kills_while_active += active()
                victim.kill()
                victim.start()

        kill_some(KILLS // 2)
        proxy.outage(30)
        wait_until(lambda: not proxy.down, timeout_s=40, what="the end of the outage", interval_s=1)
        kill_some(KILLS - KILLS // 2)
        wait_until(lambda: not active(), timeout_s=600, what="completion despite the faults", interval_s=1)

        assert owner.get_task(task_id).state.status is TaskStatus.COMPLETED
        assert kills_while_active == KILLS, "every kill landed while the task was running"
        for n in nodes:
            assert n.alive, f"{n.name} died:\n{n.log()[-3000:]}"
        assert proxy.dropped > 0, "the outage dropped requests"
        assert proxy.failed_before > 0
        assert proxy.lost_after > 0
        assert proxy.delayed > 0
        assert tampered["tampered"] > 0, "the tampering replica was read, and refused"

        reader = EventReader(chain.w3, chain.deployment.address, chain.artifact.abi)
        ledger = Ledger.of(reader.read(start, reader.head()), task_id, params.units_per_round)
        assert len(ledger.accepted) == ROUNDS * (UNITS + 1)
        assert len(ledger.submitted) == len(ledger.accepted), "no unit was submitted twice or rejected"
        assert not ledger.rejected
        assert not ledger.expired
        assert not ledger.slashed, "no honest node slashed"
        for account in chain.accounts[2:5]:
            a = account.address
            assert owner.credit_of(a) == (
                ledger.accepted_by(a, aggregation=False) * params.miner_reward
                + ledger.accepted_by(a, aggregation=True) * params.aggregator_reward
            )
        for account in chain.accounts[5:8]:
            fees = ledger.expected_vote_fees[account.address]
            assert owner.credit_of(account.address) == fees * params.verifier_reward
            assert owner.stake_of(account.address).locked == 0
        report = audit_task(owner, StoreClient.from_endpoints([good_url]), task_id, from_block=start, full=True)
        assert report.ok, report.findings
        assert owner.balance() == owner.total_owed()
        logs = "".join(n.log() for n in nodes)
        # A kill may land while a node is still starting (before it logs): at least some restarts came up.
        assert len(nodes) < logs.count("node started") <= len(nodes) + KILLS
