"""Why a result was rejected: each ``UnitRejected`` of a task re-judged from the chain and the store alone.

The chain records that a result was rejected and by how many votes, not why (a verifier's reason never leaves its
node). An explanation re-executes every segment of the rejected trail (or recomputes the rejected aggregate) in the
context the chain fixes, and says which check failed, at which segment, by which distance against which
tolerance. When the explanation finds the result valid, the verifiers who rejected it were wrong: that is what
appeals (``dml task challenge``) are for. ``dml task show``, ``dml audit`` and the explorer's task page show it.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any

from node.chain.contract import TaskMarket
from node.chain.events import ChainEvent
from node.errors import DmlnetError
from node.ml.material import TaskMaterial
from node.ml.verify import Check, Outcome, Verdict
from node.protocol.judge import judge
from node.protocol.material import material_of
from node.protocol.unit import unit_ref
from node.store.cid import to_cid
from node.store.client import StoreClient

# Every segment of a rejected trail is re-executed: an explanation must find the fault wherever it is.
ALL_SEGMENTS = 1000


@dataclass(frozen=True, slots=True)
class Rejection:
    """One rejected result and what re-judging it found."""

    round: int
    unit: int
    miner: str
    result: str  # the rejected result's CID
    valid_votes: int
    invalid_votes: int
    block: int
    outcome: str  # the re-judged verdict: invalid (the reason below), valid (wrongly rejected) or unavailable
    check: str | None  # which check failed (node.ml.verify.Check), None when valid
    reason: str
    segment: int | None = None  # the segment that did not re-execute, with its distance and the tolerance
    distance: float | None = None
    tolerance: float | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def explain_rejections(
    market: TaskMarket,
    store: StoreClient,
    task_id: int,
    *,
    from_block: int,
    limit: int = 10,
    skip: Collection[tuple[int, int, int]] = (),
) -> list[Rejection]:
    """The task's ``limit`` latest rejections, newest first, each re-judged; those already explained, by (round,
    unit, block), are skipped."""
    reader = market.events()
    events = [e for e in reader.read(from_block, reader.head()) if e.args.get("taskId") == task_id]
    rejected = [
        e
        for e in events[::-1]
        if e.name == "UnitRejected" and (int(e.args["round"]), int(e.args["index"]), e.block_number) not in skip
    ][:limit]
    if not rejected:
        return []
    task = market.get_task(task_id)
    try:
        material = material_of(task, store.get)
    except (DmlnetError, ValueError) as err:
        return [_rejection(e, Verdict(Outcome.UNAVAILABLE, f"the task's material: {err}"), None) for e in rejected]
    return [_rejection(e, _judge(market, store, material, events, e), material) for e in rejected]


def _judge(
    market: TaskMarket, store: StoreClient, material: TaskMaterial, events: list[ChainEvent], event: ChainEvent
) -> Verdict:
    """The rejected result judged by the one judge, every segment of a trail re-executed (the aggregate's
    recomputation over the round's accepted results, as the chain records them)."""
    round_, index, miner = int(event.args["round"]), int(event.args["index"]), str(event.args["miner"])
    result = to_cid(bytes(event.args["resultDigest"]))
    ref = unit_ref(market, market.get_task(int(event.args["taskId"])), round_, index, miner)
    accepted = {  # an aggregate's inputs as the events record them (a past round's slots are reused)
        int(e.args["index"]): to_cid(bytes(e.args["resultDigest"]))
        for e in events
        if e.name == "UnitAccepted"
        and int(e.args["round"]) == round_
        and int(e.args["index"]) < ref.task.params.units_per_round
    }
    try:
        store.get(result)
    except DmlnetError as err:
        return Verdict(Outcome.UNAVAILABLE, f"the rejected result cannot be fetched: {err}", check=Check.AVAILABILITY)
    return judge(
        market, store.get, ref, result_cid=result, model_cid=None, material=material, challenge=os.urandom(32),
        segments=ALL_SEGMENTS, results=accepted,
    )  # fmt: skip


def _rejection(event: ChainEvent, verdict: Verdict, material: TaskMaterial | None) -> Rejection:
    tolerance = None if material is None else material.spec.tolerance
    failing = next((c for c in verdict.segments if tolerance is not None and not c.distance <= tolerance), None)
    return Rejection(
        round=int(event.args["round"]),
        unit=int(event.args["index"]),
        miner=str(event.args["miner"]),
        result=to_cid(bytes(event.args["resultDigest"])),
        valid_votes=int(event.args["validVotes"]),
        invalid_votes=int(event.args["invalidVotes"]),
        block=event.block_number,
        outcome=verdict.outcome.value,
        check=None if verdict.check is None else verdict.check.value,
        reason=verdict.reason,
        segment=None if failing is None else failing.segment,
        distance=None if failing is None else failing.distance,
        tolerance=tolerance,
    )


def rejection_rows(rejections: list[dict[str, Any]]) -> list[tuple[object, ...]]:
    """A table of rejections (``Rejection.as_json`` documents), rounds counted from 1, for the CLI and reports."""
    rows: list[tuple[object, ...]] = [("round", "unit", "miner", "votes", "re-judged", "check", "why")]
    for r in rejections:
        where = ""
        if r.get("segment") is not None:
            where = f"segment {r['segment']}: distance {r['distance']:.3g} > tolerance {r['tolerance']:g}; "
        rows.append(
            (
                r["round"] + 1,
                r["unit"],
                r["miner"],
                f"{r['valid_votes']} valid / {r['invalid_votes']} invalid",
                r["outcome"],
                r["check"] or "",
                where + r["reason"],
            )
        )
    return rows
