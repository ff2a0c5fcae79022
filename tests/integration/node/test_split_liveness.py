"""Split mode's liveness rule on a real chain: an owner's node that does not answer leaves its miner's claim to
expire, and the miner keeps its bond (the task's ``ownerInLoop``); a split task created without that promise is
set aside by miners."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from client.tasks import Economics, create_task, prepare_task
from node.chain.devnet import free_port
from node.chain.events import EventReader
from node.chain.types import UnitStatus
from node.ml.data import digits
from node.ml.defaults import digits_spec
from node.runner import build_roles
from node.state import WorkStatus
from node.store.client import StoreClient
from testkit.chain import Chain
from tests.integration.client.driver import node

pytestmark = pytest.mark.chain

CLAIM_TIMEOUT_S = 60


def _split_task(chain: Chain, tmp_path: Path, *, owner_in_loop: bool = True) -> int:
    silent = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the owner's node is down
    spec = digits_spec(dataset_digest="0x" + "00" * 32, shards=1, local_steps=4, checkpoint_every=2, owner_url=silent)
    economics = Economics(rounds=1, quorum=1, claim_timeout_s=CLAIM_TIMEOUT_S)
    prepared = prepare_task(StoreClient.from_endpoints([str(tmp_path / "store")]), spec, digits(), economics)
    assert prepared.params.owner_in_loop, "a split task is created with the owner in the loop"
    if not owner_in_loop:
        prepared = replace(prepared, params=replace(prepared.params, owner_in_loop=False))
    return create_task(chain.market(chain.accounts[1]), prepared)


def test_a_silent_owner_expires_the_claim_and_the_miner_keeps_its_bond(chain: Chain, tmp_path: Path) -> None:
    start = chain.w3.eth.block_number
    task_id = _split_task(chain, tmp_path)
    miner, miner_daemon = node(chain, tmp_path, str(tmp_path / "store"), "miner", 2, ["miner"])
    keeper, keeper_daemon = node(chain, tmp_path, str(tmp_path / "store"), "keeper", 4, ["keeper"])
    miner_daemon.cycle()  # claims, then cannot train a step: the owner's node does not answer
    assert miner.market.get_unit(task_id, 0, 0).status is UnitStatus.CLAIMED
    work = miner.state.get_work(task_id, 0, 0)
    assert work is not None
    assert work.status is WorkStatus.CLAIMED, "kept, to be tried again while the claim lasts"
    staked = miner.market.stake_of(miner.address)
    assert staked.locked == miner.market.get_task(task_id).params.unit_bond

    chain.advance(CLAIM_TIMEOUT_S + 1)
    keeper_daemon.cycle()
    miner_daemon.cycle()

    assert miner.market.get_unit(task_id, 0, 0).status is UnitStatus.OPEN, "re-opened for another miner"
    after = miner.market.stake_of(miner.address)
    assert (after.total, after.locked) == (staked.total, 0), "the bond unlocked, not slashed"
    events = EventReader(chain.w3, chain.deployment.address, chain.artifact.abi).read(start, chain.w3.eth.block_number)
    expired = [e.args for e in events if e.name == "UnitExpired"]
    assert [(a["miner"], a["slashed"]) for a in expired] == [(miner.address, 0)]
    assert not [e for e in events if e.name == "StakeSlashed"]
    assert miner.state.get_work(task_id, 0, 0).status is WorkStatus.ABANDONED  # type: ignore[union-attr]
    for services in (miner, keeper):
        services.state.close()


def test_a_split_task_without_the_owner_in_the_loop_is_set_aside(chain: Chain, tmp_path: Path) -> None:
    task_id = _split_task(chain, tmp_path, owner_in_loop=False)
    miner, _ = node(chain, tmp_path, str(tmp_path / "store"), "miner", 2, ["miner"])
    miner.state.add_task(task_id, 0)
    build_roles(miner)[0].tick(miner.cycle_at_head())
    assert miner.market.get_unit(task_id, 0, 0).status is UnitStatus.OPEN, "not claimed"
    assert "ownerInLoop" in miner.materials.unusable[task_id]
    miner.state.close()
