"""The miner (and, with ``aggregate=True``, the aggregator): claims open units, trains or aggregates, publishes
the result to the store and submits its digest.

One unit at a time. Work in flight is recorded in the node state at each stage, so a restarted miner finishes
what it had claimed, or notices it lost it; it never submits twice (the chain is read before every
submission). Losing a claim race is a normal event.
"""

from __future__ import annotations

import hashlib
import logging
import time

from node.chain.hashing import unit_seed
from node.chain.reverts import (
    TaskMarketAggregationNotReady,
    TaskMarketClaimCoolingDown,
    TaskMarketTaskNotActive,
    TaskMarketUnitWrongStatus,
)
from node.chain.types import Task, TaskStatus, UnitInfo, UnitStatus
from node.errors import NodeError
from node.ml.aggregate import Contribution, aggregate
from node.ml.manifest import AggregateInput, parse_trail, publish_aggregate, publish_trail
from node.ml.material import TaskMaterial
from node.ml.model import state_from_bytes
from node.ml.train import train_unit
from node.roles.context import Services
from node.state import Work, WorkStatus
from node.store.cid import to_cid, to_digest

log = logging.getLogger(__name__)

# Not ours to claim (now): another miner was first, the unit is not open yet, or our own cooldown runs.
LOST_RACE = (
    TaskMarketUnitWrongStatus,
    TaskMarketAggregationNotReady,
    TaskMarketTaskNotActive,
    TaskMarketClaimCoolingDown,
)


class MinerRole:
    name = "miner"

    def __init__(self, services: Services, *, train: bool = True, aggregate: bool = False) -> None:
        self.s = services
        self.train = train
        self.aggregate = aggregate
        self._longest_training_s = 0.0  # the longest unit this node has trained: what a new claim may block for

    # ---------------------------------------------------------------------------------------------- loop

    def tick(self) -> None:
        self._adopt_claims_found_on_chain()
        for work in self.s.state.work_in_flight():
            self._advance(work)
        if self.s.state.work_in_flight():
            return
        if self._own_votes_due_during_training():
            return
        self._claim_next()

    def _own_votes_due_during_training(self) -> bool:
        """A node that also verifies trains inside the same loop: a unit claimed now must not keep it from its own
        commits and reveals. No claim while a vote of ours is due sooner than a unit takes to train (twice the
        longest so far, plus a margin); the vote goes out first, the claim follows in a later cycle."""
        votes = self.s.state.open_votes()
        if not votes or self._longest_training_s == 0.0:
            return False
        deadlines = [self.s.market.get_unit(v.task_id, v.round, v.unit).deadline for v in votes]
        if vote_due_within(deadlines, now=self.s.clock.now(), busy_s=2 * self._longest_training_s + 10):
            log.debug("not claiming: a vote of ours is due before a unit could be trained")
            return True
        return False

    def _adopt_claims_found_on_chain(self) -> None:
        """A claim whose transaction landed just before a crash is not in the state yet: take it back."""
        me = self.s.address
        for task in self.s.live_tasks():
            r = task.state.current_round
            for index, unit in enumerate(self.s.round_units(task)):
                if (
                    unit.status is UnitStatus.CLAIMED
                    and unit.miner == me
                    and self.s.state.get_work(task.task_id, r, index) is None
                ):
                    log.warning(
                        "adopting a claim found on chain", extra={"task": task.task_id, "round": r, "unit": index}
                    )
                    self.s.state.put_work(Work(task.task_id, r, index, WorkStatus.CLAIMED))

    def _claim_next(self) -> None:
        me = self.s.address
        # Start the scan at an offset from the address: miners spread over units instead of racing for unit 0.
        offset = int(hashlib.sha256(me.lower().encode()).hexdigest(), 16)
        for task in self.s.live_tasks():
            if self.s.material(task) is None:
                continue
            units = task.params.units_per_round
            r = task.state.current_round
            snapshot = self.s.round_units(task)
            candidates = []
            if self.train:
                candidates += [(offset + k) % units for k in range(units)]
            if self.aggregate:
                candidates.append(units)
            for index in candidates:
                if not _claimable(task, index, snapshot[index]):
                    continue  # as of this cycle's block; a claim taken since is a lost race below
                if not self.s.ensure_free_stake(task.params.unit_bond, "claim"):
                    return
                try:
                    self.s.market.claim_unit(task.task_id, r, index)
                except LOST_RACE as err:
                    self.s.metrics.claim_races_lost.inc()
                    log.info(
                        "lost a claim race",
                        extra={"task": task.task_id, "round": r, "unit": index, "error": err.error_name},
                    )
                    continue
                self.s.metrics.units_claimed.inc()
                self.s.metrics.tx_sent.labels("claimUnits").inc()
                log.info("claimed", extra={"task": task.task_id, "round": r, "unit": index})
                work = Work(task.task_id, r, index, WorkStatus.CLAIMED)
                self.s.state.put_work(work)
                self._advance(work)
                return

    # ---------------------------------------------------------------------------------------------- one unit

    def _advance(self, work: Work) -> None:
        market = self.s.market
        unit = market.get_unit(work.task_id, work.round, work.unit)
        mine = unit.miner == self.s.address
        if unit.status is not UnitStatus.CLAIMED or not mine:
            landed = mine and unit.status in (
                UnitStatus.SUBMITTED,
                UnitStatus.REVEALING,
                UnitStatus.DECIDED,
                UnitStatus.ACCEPTED,
            )
            status = WorkStatus.SUBMITTED if landed else WorkStatus.ABANDONED
            self.s.state.put_work(
                Work(
                    work.task_id,
                    work.round,
                    work.unit,
                    status,
                    work.result_cid,
                    work.model_cid,
                    "reconciled with the chain",
                )
            )
            log.info(
                "work reconciled",
                extra={"task": work.task_id, "round": work.round, "unit": work.unit, "status": status.value},
            )
            return
        if unit.deadline < self.s.clock.now():
            log.warning("claim deadline passed", extra={"task": work.task_id, "round": work.round, "unit": work.unit})
            self.s.state.put_work(
                Work(work.task_id, work.round, work.unit, WorkStatus.ABANDONED, note="deadline passed")
            )
            return
        task = market.get_task(work.task_id)
        material = self.s.material(task)
        if material is None:
            return
        if work.status is WorkStatus.CLAIMED:
            started = time.monotonic()
            if work.unit == task.params.units_per_round:
                result_cid, model_cid = self._aggregate(task, work, material)
            else:
                result_cid, model_cid = self._train(task, work, material)
            elapsed = time.monotonic() - started
            self.s.metrics.training_seconds.inc(elapsed)
            log.info(
                "work done",
                extra={"task": work.task_id, "round": work.round, "unit": work.unit, "seconds": round(elapsed, 3)},
            )
            work = Work(work.task_id, work.round, work.unit, WorkStatus.PUBLISHED, result_cid, model_cid)
            self.s.state.put_work(work)
        if work.result_cid is None or work.model_cid is None:  # pragma: no cover - PUBLISHED rows have both
            raise NodeError(f"work {work} was published without its digests")
        # Read the chain again right before submitting: a submission that landed before a crash is not resent.
        unit = market.get_unit(work.task_id, work.round, work.unit)
        if unit.status is not UnitStatus.CLAIMED or unit.miner != self.s.address:
            self._advance(work)
            return
        sent = market.submit_result(
            work.task_id, work.round, work.unit, to_digest(work.result_cid), to_digest(work.model_cid)
        )
        self.s.metrics.units_submitted.inc()
        self.s.metrics.tx_sent.labels("submitResults").inc()
        self.s.state.put_work(
            Work(work.task_id, work.round, work.unit, WorkStatus.SUBMITTED, work.result_cid, work.model_cid)
        )
        log.info(
            "submitted",
            extra={
                "task": work.task_id,
                "round": work.round,
                "unit": work.unit,
                "result": work.result_cid,
                "tx": sent.tx_hash,
            },
        )

    def _train(self, task: Task, work: Work, material: TaskMaterial) -> tuple[str, str]:
        model, input_cid = self.s.round_model(task, work.round, material)
        seed = unit_seed(task.task_id, work.round, work.unit, self.s.address)
        shard = material.split.shards[work.unit]
        began = time.monotonic()
        trail = train_unit(material.spec, model, shard, seed, threads=self.s.settings.threads)
        training_s = time.monotonic() - began
        self._longest_training_s = max(self._longest_training_s, training_s)
        manifest, cid = publish_trail(
            trail,
            self.s.store.put,
            task_id=task.task_id,
            round_=work.round,
            index=work.unit,
            miner=self.s.address,
            spec_cid=material.spec_cid,
            dataset_cid=material.dataset_cid,
            input_model_cid=input_cid,
        )
        log.info(
            "trained",
            extra={
                "task": task.task_id,
                "round": work.round,
                "unit": work.unit,
                "loss": trail.segment_losses[-1],
                "manifest": cid,
                "training_s": round(training_s, 3),
            },
        )
        return cid, manifest.final_model

    def _aggregate(self, task: Task, work: Work, material: TaskMaterial) -> tuple[str, str]:
        contributions, inputs = accepted_contributions(self.s, task, work.round, material)
        model = aggregate(
            material.spec, contributions, set(material.parameter_keys), task_id=task.task_id, round_=work.round
        )
        _, cid, model_cid = publish_aggregate(
            model,
            inputs,
            self.s.store.put,
            task_id=task.task_id,
            round_=work.round,
            index=work.unit,
            aggregator=self.s.address,
            spec_cid=material.spec_cid,
            rule=material.spec.aggregation.rule,
        )
        log.info(
            "aggregated", extra={"task": task.task_id, "round": work.round, "inputs": len(inputs), "model": model_cid}
        )
        return cid, model_cid


def _claimable(task: Task, index: int, unit: UnitInfo) -> bool:
    """The contract's ``isClaimable``, from a unit already read: open, and for the aggregation unit, every
    training unit of the round accepted."""
    if task.state.status is not TaskStatus.ACTIVE or unit.status is not UnitStatus.OPEN:
        return False
    return index < task.params.units_per_round or task.state.accepted_in_round == task.params.units_per_round


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


def vote_due_within(deadlines: list[int], *, now: float, busy_s: float) -> bool:
    """Whether a deadline (chain seconds) still ahead falls within the next ``busy_s`` seconds."""
    return any(now <= deadline <= now + busy_s for deadline in deadlines)
