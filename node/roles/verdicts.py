"""Judging a unit's result from what the chain and the task say: the verifier's vote and a miner's check of its
own rejected result go through these functions, so both reach the same verdict on the same bytes.

A training unit is judged by re-executing sampled segments (:func:`node.ml.verify.verify_unit`) in the context the
chain fixes (task, round, index, miner, the round's input, the unit seed, the owner for a split task); the
aggregation unit by recomputing the aggregate over the round's accepted results as the chain records them.
"""

from __future__ import annotations

from node.chain.contract import TaskMarket
from node.chain.hashing import unit_seed
from node.chain.types import Task, UnitStatus
from node.errors import DmlnetError, NodeError, SpecError
from node.ml.aggregate import AggregateCheck, Contribution, verify_aggregate
from node.ml.manifest import AggregateInput, parse_aggregate, parse_trail
from node.ml.material import TaskMaterial
from node.ml.model import state_from_bytes
from node.ml.verify import Check, Fetch, Outcome, UnitContext, Verdict, verify_unit
from node.roles.context import Services
from node.roles.step_auth import Binding, traffic_signer
from node.store.cid import to_cid


def judge(
    s: Services,
    task: Task,
    round_: int,
    index: int,
    *,
    miner: str,
    result_cid: str,
    model_cid: str | None,
    material: TaskMaterial,
    challenge: bytes,
) -> Verdict:
    """The verdict on ``miner``'s result ``result_cid`` for unit ``index`` of ``round_`` (its model ``model_cid``,
    as submitted; None when unknown, and then an aggregate manifest's own model is judged), re-executing the
    segments ``challenge`` draws."""
    if index == task.params.units_per_round:
        return judge_aggregate(
            s, task, round_, miner=miner, result_cid=result_cid, model_cid=model_cid, material=material
        )
    try:
        manifest = s.fetch(result_cid)
    except DmlnetError as err:
        return Verdict(Outcome.UNAVAILABLE, f"could not fetch the manifest: {err}", check=Check.AVAILABILITY)
    return judge_trail(s.market, s.fetch, task, round_, index, miner, manifest, material, challenge)


def unit_context(market: TaskMarket, task: Task, round_: int, index: int, miner: str) -> UnitContext:
    """What re-executing a unit needs from the chain: the round's input and the unit's seed for its miner."""
    return UnitContext(
        task_id=task.task_id,
        round=round_,
        index=index,
        miner=miner,
        spec_cid=to_cid(task.params.spec_digest),
        dataset_cid=to_cid(task.params.dataset_digest),
        input_model_cid=to_cid(market.round_input(task.task_id, round_)),
        unit_seed=unit_seed(task.task_id, round_, index, miner),
        owner=task.state.owner,
    )


def judge_trail(
    market: TaskMarket,
    fetch: Fetch,
    task: Task,
    round_: int,
    index: int,
    miner: str,
    manifest: bytes,
    material: TaskMaterial,
    challenge: bytes,
    *,
    segments: int | None = None,
) -> Verdict:
    """A training unit's trail (``manifest``'s bytes) judged in the context the chain fixes, the owner's signature
    checked for a split task: the one judge of a trail for the verifier, the miner's own check, the audit and the
    explanation of a rejection. ``segments``: how many besides the anchor (default: the spec's)."""
    binding = Binding(int(market.w3.eth.chain_id), market.address)
    return verify_unit(
        material.spec,
        manifest,
        fetch,
        challenge,
        unit_context(market, task, round_, index, miner),
        material.shard(index),
        traffic_signer=traffic_signer(binding, task.task_id, round_, index, miner),
        segments=segments,
    )


def aggregate_verdict(check: AggregateCheck) -> Verdict:
    """The verdict of an aggregate's recomputation."""
    if check.valid:
        return Verdict(Outcome.VALID, check.reason)
    return Verdict(Outcome.INVALID, check.reason, check=Check.AGGREGATE)


def judge_aggregate(
    s: Services,
    task: Task,
    round_: int,
    *,
    miner: str,
    result_cid: str,
    model_cid: str | None,
    material: TaskMaterial,
) -> Verdict:
    try:
        manifest = parse_aggregate(s.fetch(result_cid))
    except SpecError as err:
        return Verdict(Outcome.INVALID, f"malformed aggregate manifest: {err}", check=Check.AGGREGATE)
    except DmlnetError as err:
        return Verdict(Outcome.UNAVAILABLE, f"could not fetch the manifest: {err}", check=Check.AVAILABILITY)
    expected: dict[str, object] = {"task_id": task.task_id, "round": round_, "index": task.params.units_per_round}
    if model_cid is not None:
        expected["model"] = model_cid
    for field, value in expected.items():
        if getattr(manifest, field) != value:
            return Verdict(
                Outcome.INVALID,
                f"aggregate manifest {field} is {getattr(manifest, field)}, expected {value}",
                check=Check.AGGREGATE,
            )
    if manifest.aggregator.lower() != miner.lower():
        return Verdict(Outcome.INVALID, "the aggregate manifest names another aggregator", check=Check.AGGREGATE)
    try:
        contributions, _ = accepted_contributions(s, task, round_, material)
        claimed = state_from_bytes(s.fetch(manifest.model), material.model_specs)
    except SpecError as err:
        return Verdict(Outcome.INVALID, f"aggregate model refused: {err}", check=Check.AGGREGATE)
    except DmlnetError as err:
        return Verdict(Outcome.UNAVAILABLE, f"could not fetch an input: {err}", check=Check.AVAILABILITY)
    keys = set(material.parameter_keys)
    return aggregate_verdict(
        verify_aggregate(material.spec, contributions, claimed, keys, task_id=task.task_id, round_=round_)
    )


def accepted_contributions(
    s: Services, task: Task, round_: int, material: TaskMaterial
) -> tuple[list[Contribution], list[AggregateInput]]:
    """The accepted results of a round as the chain records them (never as an aggregator claims them)."""
    contributions = []
    inputs = []
    for index in range(task.params.units_per_round):
        unit = s.market.get_unit(task.task_id, round_, index)
        if unit.status is not UnitStatus.ACCEPTED:
            raise NodeError(f"unit {index} of round {round_} is not accepted: nothing to aggregate yet")
        result_cid = to_cid(unit.result_digest)
        manifest = parse_trail(s.fetch(result_cid))
        model = state_from_bytes(s.fetch(manifest.final_model), material.model_specs)
        contributions.append(Contribution(index, model, manifest.samples))
        inputs.append(
            AggregateInput(index=index, result=result_cid, model=manifest.final_model, samples=manifest.samples)
        )
    return contributions, inputs
