"""The audit of a split task (regression: the audit once judged a split unit without the owner's traffic signer, so
an honest unit came back "a split trail cannot be checked without the owner's address" and `dml audit --challenge`
would have appealed a correct verdict, losing the owner its bonds). An honest split unit, its verdict open to
challenge, judged by the verifier's path, the audit's re-verification and the audit's open-verdict check."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import cast

import pytest
from eth_account import Account

from node.audit.audit import AuditReport, _Auditor, _reverify_unit, open_verdicts
from node.chain.contract import TaskMarket
from node.chain.types import UnitStatus
from node.ml import spec as sp
from node.ml.split_unit import OwnerUnit, middle_of, publish_middle_trail, train_middle
from node.ml.verify import Outcome
from node.protocol.judge import judge_trail
from node.protocol.material import material_of
from node.protocol.step_auth import TrafficCommitment, sign_commitment
from node.protocol.unit import unit_ref
from node.store.cid import to_digest
from node.store.client import StoreClient
from testkit.world import World, make_world
from tests.unit.ml.split_fixtures import SPEC as SMALL_CNN
from tests.unit.node.fakes import FakeChain, task_of, unit_of

OWNER = Account.from_key("0x" + "33" * 32)
MINER = "0x" + "12" * 20
SPLIT = {"mode": "split", "private_prefix": 1, "private_suffix": 1, "owner_url": "http://owner:8790"}


def _split_world() -> tuple[World, FakeChain, str]:
    """A one-unit split task on the fake chain, its honest unit submitted and decided valid, open to challenge."""
    base = SMALL_CNN.model_dump()
    spec = sp.TaskSpec.model_validate({**base, "privacy": SPLIT})
    world = make_world(spec)
    chain = FakeChain()
    task = task_of(1, spec_cid=world.spec_cid, dataset_cid=world.dataset_cid, input_cid=world.input_cid, units=1)
    task = replace(task, state=replace(task.state, owner=OWNER.address))
    chain.tasks[1] = task
    material = material_of(task, world.store.get)
    plan = material.plan
    assert plan is not None
    # The round's input is the public middle; the owner keeps the rest.
    from node.ml.model import state_to_bytes
    from node.ml.split import public_part

    input_cid = world.store.put(state_to_bytes(public_part(world.initial, plan)))
    chain.inputs[(1, 0)] = to_digest(input_cid)
    chain.units[(1, 0)] = [unit_of(), unit_of()]
    ref = unit_ref(chain, task, 0, 0, MINER)
    shard = material.shard(0)
    owner = OwnerUnit(spec, plan, world.initial, shard, ref.seed)
    trail = train_middle(spec, plan, middle_of(spec, plan, world.initial), owner, ref.seed, len(shard))
    signed = TrafficCommitment(chain.chain_id, chain.address, 1, 0, 0, MINER, owner.checkpoint_heads())
    _, cid = publish_middle_trail(
        spec, plan, trail, world.store.put, ref.context, owner_signature=sign_commitment(OWNER, signed),
        segment_losses=owner.segment_losses(), samples=len(shard),
    )  # fmt: skip
    chain.units[(1, 0)][0] = unit_of(
        UnitStatus.DECIDED, MINER, deadline=2**40, verdict=True, result_digest=to_digest(cid), level=0
    )
    return world, chain, cid


@pytest.fixture(scope="module")
def split_world() -> tuple[World, FakeChain, str]:
    return _split_world()


def test_an_honest_split_unit_is_valid_to_the_verifier_and_the_audit(split_world: tuple[World, FakeChain, str]) -> None:
    world, chain, cid = split_world
    task = chain.tasks[1]
    material = material_of(task, world.store.get)
    ref = unit_ref(chain, task, 0, 0, MINER)
    raw = world.store.get(cid)
    verdict = judge_trail(world.store.get, ref, raw, material, b"challenge")
    assert verdict.outcome is Outcome.VALID, verdict.reason
    report = AuditReport(1)
    auditor = _Auditor(cast(TaskMarket, chain), cast(StoreClient, world.store), 1, report)
    _reverify_unit(auditor, material, (0, 0), {"miner": MINER}, raw, random.Random(1))
    assert report.findings == []


def test_audit_challenge_agrees_with_an_honest_split_verdict_and_appeals_nothing(
    split_world: tuple[World, FakeChain, str],
) -> None:
    world, chain, _ = split_world
    [open_verdict] = open_verdicts(cast(TaskMarket, chain), cast(StoreClient, world.store), 1)
    assert open_verdict.verdict is True
    assert open_verdict.ours is True, open_verdict.reason  # agree: `dml audit --challenge` sends no challenge
