"""A miner's second look at its rejected results (node.roles.own_results) and how it takes refused claims, with
in-process nodes on a real chain and a real store folder."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from client.tasks import Economics, create_task, prepare_task
from node.api import create_app
from node.chain.types import UnitStatus
from node.daemon import Daemon
from node.ml.data import digits
from node.ml.defaults import digits_spec
from node.state import WorkStatus
from node.store.client import StoreClient
from testkit.chain import Chain
from testkit.polling import wait_until
from tests.integration.client.driver import folder_node

pytestmark = pytest.mark.chain

CLAIM_TIMEOUT_S = 120


def _task(chain: Chain, tmp_path: Path) -> int:
    """One unit, one round, quorum 1, no appeals: a verdict is final as soon as it is revealed."""
    spec = digits_spec(dataset_digest="0x" + "00" * 32, shards=1, local_steps=8, checkpoint_every=4, hidden=16)
    economics = Economics(rounds=1, quorum=1, challenge_window_s=0, claim_timeout_s=CLAIM_TIMEOUT_S)
    prepared = prepare_task(StoreClient.from_endpoints([str(tmp_path / "store")]), spec, digits(), economics)
    return create_task(chain.market(chain.accounts[1]), prepared)


def _until_rejected(chain: Chain, task_id: int, daemons: list[Daemon], miner: str) -> None:
    def rejected() -> bool:
        for d in daemons:
            d.cycle()
        reader = daemons[0].reader
        return any(
            e.name == "UnitRejected" and e.args["taskId"] == task_id and e.args["miner"] == miner
            for e in reader.iter(0, reader.head())
        )

    wait_until(rejected, timeout_s=120, what="the result's rejection", interval_s=0)


def _claims(daemon: Daemon, task_id: int, miner: str) -> int:
    reader = daemon.reader
    return sum(
        1
        for e in reader.iter(0, reader.head())
        if e.name == "UnitClaimed" and e.args["taskId"] == task_id and e.args["miner"] == miner
    )


def test_a_miner_whose_rejected_result_fails_its_own_check_sets_the_task_aside_and_says_so_once(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    task_id = _task(chain, tmp_path)
    miner = folder_node(chain, tmp_path, "m", 2, ["cheat-noise"])  # its own judge is the honest one
    verifier = folder_node(chain, tmp_path, "v", 4, ["verifier", "keeper"])
    _until_rejected(chain, task_id, [miner, verifier], miner.s.address)
    caplog.set_level(logging.INFO)
    chain.advance(CLAIM_TIMEOUT_S + 5)  # past the cooldown: the unit is open to it again
    for _ in range(4):
        miner.cycle()
    reason = miner.s.claims_paused[task_id]
    assert "fails our own check too" in reason
    assert "does not re-execute" in reason or "segment" in reason, reason
    assert _claims(miner, task_id, miner.s.address) == 1, "no second claim, no second bond"
    assert [r.message for r in caplog.records].count("task set aside for claims") == 1, "said once"
    work = miner.s.state.get_work(task_id, 0, 0)
    assert work is not None
    assert work.status is WorkStatus.REVIEWED
    assert work.note is not None
    assert work.note.startswith("invalid: ")
    status = TestClient(create_app(miner)).get("/status").json()
    assert status["tasks_not_claimed"] == {str(task_id): reason}
    # A restart keeps the task aside: the re-check's outcome is on disk.
    miner.s.state.close()
    again = folder_node(chain, tmp_path, "m", 2, ["cheat-noise"])
    again.cycle()
    assert task_id in again.s.claims_paused
    assert _claims(again, task_id, again.s.address) == 1
    for d in (again, verifier):
        d.s.state.close()


def test_a_miner_rejected_by_a_lazy_verifier_keeps_claiming_after_its_cooldown_and_logs_the_refusal_once(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    task_id = _task(chain, tmp_path)
    miner = folder_node(chain, tmp_path, "m", 2, ["miner"])
    lazy = folder_node(chain, tmp_path, "v", 4, ["lazy-reject", "keeper"])
    _until_rejected(chain, task_id, [miner, lazy], miner.s.address)
    caplog.set_level(logging.INFO)
    lost_before = miner.s.metrics.claim_races_lost._value.get()
    for _ in range(5):  # within its cooldown: one refused claim, then none until the cooldown ends
        miner.cycle()
    assert task_id not in miner.s.claims_paused, "its own check passes: the rejection was the verifiers'"
    messages = [r.message for r in caplog.records]
    assert messages.count("own result rejected although it passes our own check: still claiming") == 1
    assert messages.count("cooling down on a unit") == 1
    assert miner.s.metrics.claim_races_lost._value.get() - lost_before == 1, "tried once, then waited"
    assert _claims(miner, task_id, miner.s.address) == 1
    chain.advance(CLAIM_TIMEOUT_S + 5)
    miner.cycle()
    assert _claims(miner, task_id, miner.s.address) == 2, "claimed again once its cooldown ended"
    assert miner.s.market.get_unit(task_id, 0, 0).status is not UnitStatus.OPEN
    for d in (miner, lazy):
        d.s.state.close()
