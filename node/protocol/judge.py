"""The one judge of a unit: the verifier's vote, a watcher's re-check, a miner's check of its own rejected result, the
audit and the explanation of a rejection all go through these functions, so they reach the same verdict on the same
bytes.

A training unit is judged by re-executing sampled segments, as its task's mode does (:mod:`node.protocol.modes`), in
the context the chain fixes (:class:`~node.protocol.unit.UnitRef`: task, round, index, miner, the round's input, the
unit seed, the owner who signs a split unit's traffic); the aggregation unit by checking that its manifest names this
task, round, unit, aggregator and the model submitted, then recomputing the aggregate over the round's accepted
results as the chain records them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from node.chain.types import Task, UnitStatus
from node.errors import DmlnetError, NodeError, SpecError
from node.ml.aggregate import AggregateCheck, Contribution, verify_aggregate
from node.ml.device import CPU, Hardware
from node.ml.manifest import AggregateInput, parse_aggregate, parse_trail
from node.ml.material import TaskMaterial
from node.ml.model import state_from_bytes
from node.ml.verify import Check, Fetch, Outcome, Verdict
from node.protocol.chain import MarketReader
from node.protocol.modes import TrailToJudge, mode_of
from node.protocol.unit import UnitRef, unit_ref
from node.store.cid import to_cid


class Judge(Protocol):
    """What judges a unit (:func:`judge`; a test adversary's judges otherwise)."""

    def __call__(
        self,
        market: MarketReader,
        fetch: Fetch,
        ref: UnitRef,
        *,
        result_cid: str,
        model_cid: str | None,
        material: TaskMaterial,
        challenge: bytes,
        segments: int | None = None,
        results: Mapping[int, str] | None = None,
        hardware: Hardware = CPU,
    ) -> Verdict: ...


def judge(
    market: MarketReader,
    fetch: Fetch,
    ref: UnitRef,
    *,
    result_cid: str,
    model_cid: str | None,
    material: TaskMaterial,
    challenge: bytes,
    segments: int | None = None,
    results: Mapping[int, str] | None = None,
    hardware: Hardware = CPU,
) -> Verdict:
    """The verdict on ``ref``'s result ``result_cid`` (its model ``model_cid`` as submitted; None when unknown, and
    then an aggregate manifest's own model is judged), re-executing the segments ``challenge`` draws (``segments``
    besides the anchor; default: the spec's). ``results``: an aggregate's inputs, each training unit's accepted result
    as the events record it (a past round's: the chain's unit slots hold the latest round only); default: read from
    the chain. ``hardware``: what the re-execution runs on (the verifier's own)."""
    if ref.is_aggregation:
        return judge_aggregate(
            market, fetch, ref, result_cid=result_cid, model_cid=model_cid, material=material, results=results
        )
    try:
        manifest = fetch(result_cid)
    except DmlnetError as err:
        return Verdict(Outcome.UNAVAILABLE, f"could not fetch the manifest: {err}", check=Check.AVAILABILITY)
    return judge_trail(fetch, ref, manifest, material, challenge, segments=segments, hardware=hardware)


def judge_trail(
    fetch: Fetch,
    ref: UnitRef,
    manifest: bytes,
    material: TaskMaterial,
    challenge: bytes,
    *,
    segments: int | None = None,
    hardware: Hardware = CPU,
) -> Verdict:
    """A training unit's trail (``manifest``'s bytes) judged in the context the chain fixes, as the task's mode
    verifies it (a split task's: the owner's signature on the traffic too)."""
    return mode_of(material.spec).verify(TrailToJudge(ref, manifest, material, fetch, challenge, segments, hardware))


def aggregate_verdict(check: AggregateCheck) -> Verdict:
    """The verdict of an aggregate's recomputation."""
    if check.valid:
        return Verdict(Outcome.VALID, check.reason)
    return Verdict(Outcome.INVALID, check.reason, check=Check.AGGREGATE)


def judge_aggregate(
    market: MarketReader,
    fetch: Fetch,
    ref: UnitRef,
    *,
    result_cid: str,
    model_cid: str | None,
    material: TaskMaterial,
    results: Mapping[int, str] | None = None,
) -> Verdict:
    task, round_ = ref.task, ref.round
    try:
        manifest = parse_aggregate(fetch(result_cid))
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
    if manifest.aggregator.lower() != ref.miner.lower():
        return Verdict(Outcome.INVALID, "the aggregate manifest names another aggregator", check=Check.AGGREGATE)
    try:
        contributions, _ = accepted_contributions(market, fetch, task, round_, material, results)
        claimed = state_from_bytes(fetch(manifest.model), material.model_specs)
    except SpecError as err:
        return Verdict(Outcome.INVALID, f"aggregate model refused: {err}", check=Check.AGGREGATE)
    except DmlnetError as err:
        return Verdict(Outcome.UNAVAILABLE, f"could not fetch an input: {err}", check=Check.AVAILABILITY)
    keys = set(material.parameter_keys)
    return aggregate_verdict(
        verify_aggregate(material.spec, contributions, claimed, keys, task_id=task.task_id, round_=round_)
    )


def accepted_contributions(
    market: MarketReader,
    fetch: Fetch,
    task: Task,
    round_: int,
    material: TaskMaterial,
    results: Mapping[int, str] | None = None,
) -> tuple[list[Contribution], list[AggregateInput]]:
    """The accepted results of a round as the chain records them (never as an aggregator claims them): its unit
    slots for the current round, or ``results`` (from the events) for any round."""
    contributions = []
    inputs = []
    for index in range(task.params.units_per_round):
        if results is not None:
            if index not in results:
                raise NodeError(f"unit {index} of round {round_} has no accepted result in the events")
            result_cid = results[index]
        else:
            unit = market.get_unit(task.task_id, round_, index)
            if unit.status is not UnitStatus.ACCEPTED:
                raise NodeError(f"unit {index} of round {round_} is not accepted: nothing to aggregate yet")
            result_cid = to_cid(unit.result_digest)
        manifest = parse_trail(fetch(result_cid))
        model = state_from_bytes(fetch(manifest.final_model), material.model_specs)
        contributions.append(Contribution(index, model, manifest.samples))
        inputs.append(
            AggregateInput(index=index, result=result_cid, model=manifest.final_model, samples=manifest.samples)
        )
    return contributions, inputs


__all__ = ["accepted_contributions", "aggregate_verdict", "judge", "judge_aggregate", "judge_trail", "unit_ref"]
