"""One set of units, honest and not, judged by the one judge as a verifier calls it and by the audit: both reach the
same verdict on the same bytes (the audit once judged aggregates with checks of its own, and skipped the task,
round, index and aggregator checks the verifier makes)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

import pytest

from node.audit.audit import AuditReport, _Auditor, _reverify_aggregate, _reverify_unit
from node.chain.contract import TaskMarket
from node.chain.types import UnitStatus
from node.ml.aggregate import Contribution, aggregate
from node.ml.manifest import AggregateInput, publish_aggregate, publish_trail
from node.ml.material import TaskMaterial
from node.ml.train import train_unit
from node.ml.verify import Outcome
from node.protocol.judge import judge
from node.protocol.material import material_of
from node.protocol.unit import unit_ref
from node.store.cid import to_digest
from node.store.client import StoreClient
from testkit.adversaries import noise_trail
from testkit.world import World, make_world
from tests.unit.node.fakes import FakeChain, task_of, unit_of

MINERS = ["0x" + f"{i + 1:02x}" * 20 for i in range(4)]
AGGREGATOR = "0x" + "99" * 20
UNITS = 4


@dataclass
class Round:
    world: World
    chain: FakeChain
    material: TaskMaterial
    results: list[str]  # each training unit's trail CID, accepted on the fake chain
    aggregate_cid: str
    model_cid: str


@pytest.fixture(scope="module")
def round_() -> Round:
    """A round of four honest, accepted training units and its honest aggregate."""
    world = make_world()
    chain = FakeChain()
    task = task_of(1, spec_cid=world.spec_cid, dataset_cid=world.dataset_cid, input_cid=world.input_cid, units=UNITS)
    chain.tasks[1] = task
    chain.inputs[(1, 0)] = to_digest(world.input_cid)
    material = material_of(task, world.store.get)
    results, contributions, inputs = [], [], []
    chain.units[(1, 0)] = [unit_of() for _ in range(UNITS + 1)]
    for index, miner in enumerate(MINERS):
        ref = unit_ref(chain, task, 0, index, miner)
        trail = train_unit(material.spec, world.initial, material.shard(index), ref.seed)
        manifest, cid = publish_trail(trail, world.store.put, ref.context)
        results.append(cid)
        contributions.append(Contribution(index, trail.final_model, trail.samples))
        inputs.append(AggregateInput(index=index, result=cid, model=manifest.final_model, samples=manifest.samples))
        chain.units[(1, 0)][index] = unit_of(UnitStatus.ACCEPTED, miner, result_digest=to_digest(cid))
    keys = set(material.parameter_keys)
    model = aggregate(material.spec, contributions, keys, task_id=1, round_=0)
    _, aggregate_cid, model_cid = publish_aggregate(
        model, inputs, world.store.put, task_id=1, round_=0, index=UNITS, aggregator=AGGREGATOR,
        spec_cid=world.spec_cid, rule=material.spec.aggregation.rule,
    )  # fmt: skip
    return Round(world, chain, material, results, aggregate_cid, model_cid)


def _republished(r: Round, edit: Callable[[Any], Any]) -> str:
    """The honest aggregate's manifest edited (another round, another aggregator, another model)."""
    from node.ml.manifest import parse_aggregate
    from node.store.canonical import canonical_bytes

    manifest = parse_aggregate(r.world.store.get(r.aggregate_cid))
    return r.world.store.put(canonical_bytes(edit(manifest)))


AGGREGATES: dict[str, tuple[Callable[[Round], str], bool]] = {
    "honest": (lambda r: r.aggregate_cid, True),
    "another round": (lambda r: _republished(r, lambda m: m.model_copy(update={"round": 1})), False),
    "another task": (lambda r: _republished(r, lambda m: m.model_copy(update={"task_id": 2})), False),
    "another aggregator": (lambda r: _republished(r, lambda m: m.model_copy(update={"aggregator": MINERS[0]})), False),
    "another model": (
        lambda r: _republished(r, lambda m: m.model_copy(update={"model": r.world.store.put(b"not a model")})),
        False,
    ),
}


@pytest.mark.parametrize("case", list(AGGREGATES))
def test_judge_and_audit_agree_on_an_aggregate(round_: Round, case: str) -> None:
    make, valid = AGGREGATES[case]
    r = round_
    result = make(r)
    ref = unit_ref(r.chain, r.chain.tasks[1], 0, UNITS, AGGREGATOR)
    verdict = judge(
        r.chain, r.world.store.get, ref, result_cid=result, model_cid=r.model_cid, material=r.material, challenge=b""
    )
    assert verdict.outcome is (Outcome.VALID if valid else Outcome.INVALID), verdict.reason
    report = AuditReport(1)
    auditor = _Auditor(cast(TaskMarket, r.chain), cast(StoreClient, r.world.store), 1, report)
    accepted = {"resultDigest": to_digest(result), "modelDigest": to_digest(r.model_cid), "miner": AGGREGATOR}
    _reverify_aggregate(auditor, r.material, (0, UNITS), accepted)
    assert [f.kind for f in report.findings] == ([] if valid else ["wrong acceptance"])
    if not valid:
        assert report.findings[0].detail == verdict.reason, "the audit says what the verifier's judge says"


@pytest.mark.parametrize("case", ["honest", "noise", "relabelled"])
def test_judge_and_audit_agree_on_a_training_unit(round_: Round, case: str) -> None:
    r = round_
    task = r.chain.tasks[1]
    miner = MINERS[1]
    ref = unit_ref(r.chain, task, 0, 1, miner)
    if case == "honest":
        cid = r.results[1]
    elif case == "noise":
        trail = noise_trail(train_unit(r.material.spec, r.world.initial, r.material.shard(1), ref.seed))
        _, cid = publish_trail(trail, r.world.store.put, ref.context)
    else:  # another miner's honest trail relabelled as this miner's: trained under the other's seed
        other = unit_ref(r.chain, task, 0, 1, MINERS[0])
        trail = train_unit(r.material.spec, r.world.initial, r.material.shard(1), other.seed)
        _, cid = publish_trail(trail, r.world.store.put, replace(other.context, miner=miner))
    raw = r.world.store.get(cid)
    verdict = judge(
        r.chain, r.world.store.get, ref, result_cid=cid, model_cid=None, material=r.material, challenge=b"x"
    )
    assert verdict.valid is (case == "honest"), verdict.reason
    report = AuditReport(1)
    auditor = _Auditor(cast(TaskMarket, r.chain), cast(StoreClient, r.world.store), 1, report)
    _reverify_unit(auditor, r.material, (0, 1), {"miner": miner}, raw, random.Random(1))
    assert [f.kind for f in report.findings] == ([] if case == "honest" else ["wrong acceptance"])
