"""Whether this verifier can re-execute a task's units within the task's commit window on its own hardware, its view
of the chain seeing each submission late by as much as its --confirmations lag.

Measured, not assumed: the first time a verifier sees a task, it re-executes one segment of the task's spec on one
shard (``checkpoint_every`` steps, on its ``--threads`` and ``--device``) and scales it to what judging a unit
re-executes (the anchor and the spec's ``segments``), with a margin for fetching and loading checkpoints. A verifier
that cannot make the window declines the task on chain before it is seated (``declineTask``: no draw of the task
seats it from then on) instead of holding seats it would leave empty, and says so in one line.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from node.chain.types import Task
from node.ml.material import TaskMaterial
from node.ml.model import build_module, state_of
from node.ml.train import deterministic, first_checkpoint, run_segment
from node.roles.context import Services

log = logging.getLogger(__name__)

# Judging a unit costs its re-executed segments times this (fetching the trail's checkpoints, loading them, the
# structure checks), plus a fixed allowance for the fetch of the shard and the manifest.
MARGIN = 2.0
FIXED_S = 5.0


@dataclass(frozen=True, slots=True)
class Estimate:
    """How long judging one unit of a task takes on this node, against the task's commit window."""

    segment_s: float
    judge_s: float
    window_s: int
    lag_s: int = 0  # how late this node sees a submission (its view under the head, --confirmations)

    @property
    def fits(self) -> bool:
        return self.judge_s + self.lag_s <= self.window_s


class Capacity:
    """One estimate per task, taken once per process; a decline sent once (the chain remembers it)."""

    def __init__(self, services: Services) -> None:
        self.s = services
        self._estimates: dict[int, Estimate] = {}

    def estimate(self, task: Task, material: TaskMaterial) -> Estimate | None:
        """This node's estimate for ``task`` (None while the shard it probes on cannot be had)."""
        known = self._estimates.get(task.task_id)
        if known is not None:
            return known
        if not self.s.materials.shards_at_hand(task, material, [0]):
            return None
        spec = material.spec
        start = first_checkpoint(spec, state_of(build_module(spec.model, check=False)))
        hardware = self.s.hardware
        began = time.monotonic()
        with deterministic(hardware.threads):
            run_segment(spec, start, spec.training.checkpoint_every, material.shard(0), b"probe",
                        device=hardware.torch_device)  # fmt: skip
        segment_s = time.monotonic() - began
        judge_s = (spec.verification.segments + 1) * segment_s * MARGIN + FIXED_S
        found = Estimate(segment_s, judge_s, task.params.commit_timeout, self.s.view_lag_s)
        self._estimates[task.task_id] = found
        return found

    def can_judge(self, task: Task, material: TaskMaterial) -> bool:
        """Whether this verifier should sit on ``task``'s quorums; declines the task on chain when it cannot judge
        a unit within the commit window."""
        if self.s.market.has_declined(task.task_id, self.s.address):
            return False
        found = self.estimate(task, material)
        if found is None or found.fits:
            return found is not None
        sent = self.s.market.decline_task(task.task_id)
        self.s.metrics.tx_sent.labels("declineTask").inc()
        log.warning(
            "declined a task it cannot judge in time",
            extra={
                "task": task.task_id,
                "judge_s": round(found.judge_s, 1),
                "commit_window_s": found.window_s,
                "view_lag_s": found.lag_s,
                "hardware": self.s.hardware.describe(),
                "tx": sent.tx_hash,
            },
        )
        return False
