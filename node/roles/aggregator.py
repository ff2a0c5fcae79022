"""The aggregator's unit: the round's accepted results averaged by the task's rule into the next global model,
published with the manifest that names its inputs, and claimed and submitted in one transaction (the aggregate
follows from the accepted results alone, so it is computed before the claim)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from node.chain.reverts import (
    TaskMarketAggregationNotReady,
    TaskMarketClaimCoolingDown,
    TaskMarketTaskNotActive,
    TaskMarketUnitWrongStatus,
)
from node.chain.types import Task
from node.errors import ContractRevert
from node.ml.aggregate import aggregate
from node.ml.manifest import publish_aggregate
from node.ml.material import TaskMaterial
from node.protocol.judge import accepted_contributions
from node.roles.context import Services
from node.state import Work, WorkStatus
from node.store.cid import to_digest

log = logging.getLogger(__name__)

# Not ours to claim (now): another miner was first, the unit is not open yet, or our own cooldown runs.
LOST_RACE = (
    TaskMarketUnitWrongStatus,
    TaskMarketAggregationNotReady,
    TaskMarketTaskNotActive,
    TaskMarketClaimCoolingDown,
)


class Aggregator:
    """``refused``: what the miner does with a claim another node won (counts it, remembers a cooldown)."""

    def __init__(self, services: Services, *, refused: Callable[[int, int, list[int], ContractRevert], None]) -> None:
        self.s = services
        self._refused = refused

    def aggregate_and_submit(self, task: Task) -> bool:
        """Aggregates the round's accepted results, publishes the aggregate and claims and submits it in one
        transaction; False when another aggregator was first. The row is written as published before the
        transaction: a node restarted in between reads the chain to learn whether it landed."""
        material = self.s.materials.of(task)
        if material is None:  # pragma: no cover - _claim_next only offers tasks with material
            return False
        r, index = task.state.current_round, task.params.units_per_round
        work = Work(task.task_id, r, index, WorkStatus.CLAIMED)
        result_cid, model_cid = self.aggregate(task, work, material)
        work = Work(task.task_id, r, index, WorkStatus.PUBLISHED, result_cid, model_cid)
        self.s.state.put_work(work)
        try:
            sent = self.s.market.claim_and_submit(task.task_id, r, index, to_digest(result_cid), to_digest(model_cid))
        except LOST_RACE as err:
            self.s.state.put_work(
                Work(task.task_id, r, index, WorkStatus.ABANDONED, result_cid, model_cid, "lost the claim race")
            )
            self._refused(task.task_id, r, [index], err)
            return False
        self.s.metrics.units_claimed.inc()
        self.s.metrics.units_submitted.inc()
        self.s.metrics.tx_sent.labels("claimAndSubmit").inc()
        self.s.state.put_work(Work(task.task_id, r, index, WorkStatus.SUBMITTED, result_cid, model_cid))
        log.info(
            "claimed and submitted",
            extra={"task": task.task_id, "round": r, "unit": index, "result": result_cid, "tx": sent.tx_hash},
        )
        return True

    def aggregate(self, task: Task, work: Work, material: TaskMaterial) -> tuple[str, str]:
        contributions, inputs = accepted_contributions(self.s.market, self.s.fetch, task, work.round, material)
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
