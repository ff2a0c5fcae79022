"""A miner's second look at its own rejected results, before it claims on the same task again.

Honest work that the network rejects costs the miner a bond per unit: if the miner's own trail fails the judge
that verifiers use (a spec this node cannot train verifiably, a bug in its software), claiming again would only
lose bond after bond. So each rejected result is judged once, as a verifier would judge it (fresh segments). When
the miner's own judge agrees with the rejection, the task is set aside for claims, with why (logged once, listed
in ``/status`` under ``tasks_not_claimed``); when it disagrees, the rejection came from the verifiers (lazy or
dishonest ones, which appeals exist for) and the miner carries on.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace

from node.chain.types import Task
from node.ml.material import TaskMaterial
from node.ml.verify import Outcome
from node.protocol.judge import judge
from node.protocol.unit import unit_ref
from node.roles.context import Services
from node.state import WorkStatus

log = logging.getLogger(__name__)


def claims_blocked(s: Services, task: Task, material: TaskMaterial) -> str | None:
    """Why this miner should not claim on ``task`` again (its own rejected result fails its own check), or None.
    Each rejected result is re-checked once; the outcome is kept in the node state, so a restart does not forget
    that a task was set aside."""
    if task.task_id in s.claims_paused:
        return s.claims_paused[task.task_id]
    for row in s.state.rejected_work(task.task_id):
        work = row
        if work.status is WorkStatus.REJECTED:
            if work.result_cid is None:  # pragma: no cover - mark_rejected always records the result
                continue
            verdict = judge(
                s.market,
                s.fetch,
                unit_ref(s.market, task, work.round, work.unit, s.address),
                result_cid=work.result_cid,
                model_cid=work.model_cid,
                material=material,
                challenge=os.urandom(32),
                hardware=s.hardware,
            )
            if verdict.outcome is Outcome.UNAVAILABLE:
                continue  # asked again next cycle
            work = replace(work, status=WorkStatus.REVIEWED, note=f"{verdict.outcome.value}: {verdict.reason}")
            s.state.put_work(work)
            where = {"task": task.task_id, "round": work.round, "unit": work.unit, "reason": verdict.reason}
            if verdict.valid:
                log.warning("own result rejected although it passes our own check: still claiming", extra=where)
        if work.note is not None and work.note.startswith(f"{Outcome.INVALID.value}:"):
            reason = (
                f"our result for round {work.round} unit {work.unit} was rejected and fails our own check too "
                f"({work.note.removeprefix(f'{Outcome.INVALID.value}: ')}): not claiming on this task"
            )
            s.claims_paused[task.task_id] = reason
            log.error("task set aside for claims", extra={"task": task.task_id, "reason": reason})
            return reason
    return None
