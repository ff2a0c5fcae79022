"""The keeper: finalizes units whose windows are over (commit: no-shows replaced; reveal: decided; challenge:
settled) and reclaims expired claims. Anyone may do it;
verifiers do by default. A keeper that loses a race to another one just sees a revert in simulation."""

from __future__ import annotations

import logging

from node.chain.types import UnitStatus
from node.errors import ContractRevert
from node.roles.context import CycleView, Services

log = logging.getLogger(__name__)


class KeeperRole:
    name = "keeper"

    def __init__(self, services: Services, *, grace_s: float = 1.0) -> None:
        self.s = services
        self.grace_s = grace_s  # the next block's timestamp may be a second behind our estimate

    def tick(self, view: CycleView) -> None:
        now = self.s.clock.now()
        for task in self.s.live_tasks():
            r = task.state.current_round
            for index, unit in enumerate(self.s.round_units(task)):
                if unit.deadline + self.grace_s >= now:
                    continue
                try:
                    if unit.status is UnitStatus.CLAIMED:
                        sent = self.s.market.reclaim_expired(task.task_id, r, index)
                        action = "reclaimExpired"
                    elif unit.status in (UnitStatus.REVEALING, UnitStatus.SUBMITTED, UnitStatus.DECIDED):
                        sent = self.s.market.finalize_unit(task.task_id, r, index)
                        action = "finalizeUnit"
                    else:
                        continue
                except ContractRevert as err:
                    log.debug(
                        "keeper action not due", extra={"task": task.task_id, "unit": index, "error": err.error_name}
                    )
                    continue
                self.s.metrics.keeper_actions.labels(action).inc()
                self.s.metrics.tx_sent.labels(action).inc()
                log.info(action, extra={"task": task.task_id, "round": r, "unit": index, "tx": sent.tx_hash})
