"""The whole network: real Anvil, a real store server, node processes training digits."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.chain.types import TaskStatus, UnitStatus
from node.ml.model import state_from_bytes
from node.store.cid import digest_of, to_cid
from testkit.chain import Chain
from testkit.evms import EVMS
from testkit.network import network
from testkit.polling import wait_until

pytestmark = [pytest.mark.chain, pytest.mark.slow]


@pytest.mark.parametrize("chain", EVMS, indirect=True)
def test_a_digits_task_completes_and_everyone_is_paid_to_the_wei(chain: Chain, tmp_path: Path) -> None:
    owner = chain.market(chain.accounts[1])
    with network(chain, tmp_path) as net:
        task_id = net.submit_digits_task(owner, units=3, rounds=2, quorum=3)
        params = owner.get_task(task_id).params
        start = chain.w3.eth.block_number
        # Two miners (the second also aggregates: an aggregator is a miner that opts in), three verifiers.
        net.node("miner-a", "miner", 2).start()
        net.node("miner-b", "miner,aggregator", 3).start()
        for n, account in enumerate((4, 5, 6)):
            net.node(f"verifier-{n}", "verifier,keeper", account).start()
        try:
            wait_until(
                lambda: owner.get_task(task_id).state.status is TaskStatus.COMPLETED,
                timeout_s=300,
                what="task completion",
            )
        except TimeoutError:
            print(net.logs())
            raise
        task = owner.get_task(task_id)
        last = owner.get_unit(task_id, 1, params.units_per_round)
        assert task.state.final_model_digest == last.model_digest
        final = net.store().get(to_cid(task.state.final_model_digest))
        assert digest_of(final) == task.state.final_model_digest
        assert state_from_bytes(final)  # loads as safetensors with finite weights

        events = net.events(start)
        accepted = [a for name, a in events if name == "UnitAccepted"]
        assert len(accepted) == 2 * (params.units_per_round + 1)
        assert not [a for name, a in events if name in ("UnitRejected", "StakeSlashed", "UnitExpired")]
        miners = {a.address for a in chain.accounts[2:4]}
        verifiers = [a.address for a in chain.accounts[4:7]]
        for address in miners:
            trained = sum(1 for a in accepted if a["miner"] == address and a["index"] < params.units_per_round)
            aggregated = sum(1 for a in accepted if a["miner"] == address and a["index"] == params.units_per_round)
            assert owner.credit_of(address) == trained * params.miner_reward + aggregated * params.aggregator_reward
        # Seats are drawn: the quorum's reward of every accepted unit went to the verifiers, whoever sat.
        paid = sum(owner.credit_of(address) for address in verifiers)
        assert paid == len(accepted) * params.quorum * params.verifier_reward
        for address in verifiers:
            assert owner.stake_of(address).locked == 0
        assert owner.credit_of(owner.signer.address) == 0, "honest network: the whole budget was paid out"
        assert task.state.escrow == 0
        assert owner.balance() == owner.total_owed()
        for node in net.nodes.values():
            assert node.alive, node.log()[-2000:]
        stopped = {name: node.stop() for name, node in net.nodes.items()}
        assert set(stopped.values()) == {0}, "SIGTERM ends a node cleanly with exit code 0"


def test_a_verifier_killed_between_commit_and_reveal_reveals_after_restart(chain: Chain, tmp_path: Path) -> None:
    owner = chain.market(chain.accounts[1])
    me = chain.accounts[4].address
    with network(chain, tmp_path) as net:
        task_id = net.submit_digits_task(owner, units=1, rounds=1, quorum=3)
        net.node("miner", "miner,aggregator", 2).start()
        # The only verifier in the pool: every seat of the quorum is its own, and its one commit fills them all.
        # Its reveal comes a cycle after its commit: 3 s leave the kill ample time to land in between.
        verifier = net.node("verifier-0", "verifier,keeper", 4, "--poll-interval", "3")
        verifier.start()
        wait_until(
            lambda: owner.get_ballot(task_id, 0, 0, me).committed, timeout_s=120, what="the commit", interval_s=0.02
        )
        verifier.kill()
        assert owner.get_unit(task_id, 0, 0).status is UnitStatus.REVEALING
        assert not owner.get_ballot(task_id, 0, 0, me).revealed, "killed before revealing"
        verifier.start()  # same data dir: the salt is on disk
        wait_until(
            lambda: owner.get_unit(task_id, 0, 0).status is UnitStatus.ACCEPTED, timeout_s=120, what="acceptance"
        )
        assert owner.stake_of(me).locked == 0, "every vote bond released"
        slashes = [a for name, a in net.events() if name == "StakeSlashed"]
        assert slashes == [], "nobody slashed"
        assert owner.credit_of(me) == 3 * owner.get_task(task_id).params.verifier_reward, "paid for its 3 seats"


def test_a_miner_killed_mid_training_resumes_without_a_double_submission(chain: Chain, tmp_path: Path) -> None:
    owner = chain.market(chain.accounts[1])
    me = chain.accounts[2].address
    with network(chain, tmp_path) as net:
        # Long enough local training that the kill lands mid-unit.
        task_id = net.submit_digits_task(owner, units=2, rounds=1, quorum=1, local_steps=4000)
        miner = net.node("miner", "miner,aggregator", 2)
        miner.start()

        def claimed_unit() -> int | None:
            return next((i for i in range(2) if owner.get_unit(task_id, 0, i).status is UnitStatus.CLAIMED), None)

        unit = wait_until(claimed_unit, timeout_s=120, what="a claim", interval_s=0.05)
        assert owner.get_unit(task_id, 0, unit).miner == me
        miner.kill()
        assert owner.get_unit(task_id, 0, unit).status is UnitStatus.CLAIMED, "killed before submitting"
        miner.start()
        net.node("verifier", "verifier,keeper", 4).start()
        wait_until(
            lambda: owner.get_task(task_id).state.status is TaskStatus.COMPLETED, timeout_s=300, what="completion"
        )
        submissions = [a for name, a in net.events() if name == "ResultSubmitted" and a["taskId"] == task_id]
        per_unit = [sum(1 for a in submissions if a["index"] == i) for i in range(3)]
        assert per_unit == [1, 1, 1], "each unit submitted exactly once"
        log = miner.log()
        assert log.count("node started") == 2
        assert log.count(" submitted ") == 3, "both training units and the aggregate, each once"
        # From the chain, not the log: the kill may land between the claim's receipt and its log line.
        claims = [a for name, a in net.events() if name == "UnitClaimed" and a["taskId"] == task_id]
        assert len(claims) == 3, "the resumed unit was not claimed again"
