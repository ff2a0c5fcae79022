"""Why rejected, for the task pages: each rejected result re-judged once (node.audit.rejections) on the explorer's
evaluation thread, and kept in the index beside its UnitRejected event."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection

from explorer.index import Index
from node.audit.rejections import Rejection

log = logging.getLogger(__name__)

# (task id, what is explained already by (round, unit, block)) → the next rejections, re-judged.
Explain = Callable[[int, Collection[tuple[int, int, int]]], list[Rejection]]


class RejectionExplainer:
    """Explains rejections the index holds and has not explained yet, at most ``per_pass`` per call."""

    def __init__(self, index: Index, explain: Explain, *, per_pass: int = 4) -> None:
        self._index = index
        self._explain = explain
        self._per_pass = per_pass

    def pending_tasks(self) -> list[int]:
        rows = self._index.query(
            "SELECT DISTINCT e.task_id FROM events e WHERE e.name = 'UnitRejected' AND NOT EXISTS (SELECT 1 FROM "
            "rejections x WHERE x.task_id = e.task_id AND x.round = e.round AND x.idx = e.idx AND x.block = e.block) "
            "ORDER BY e.task_id"
        )
        return [int(r["task_id"]) for r in rows]

    def explain_pending(self) -> int:
        """Explains what is pending; returns how many rejections got an explanation."""
        done = 0
        for task_id in self.pending_tasks():
            known = {
                (int(r["round"]), int(r["idx"]), int(r["block"]))
                for r in self._index.query("SELECT round, idx, block FROM rejections WHERE task_id = ?", (task_id,))
            }
            found = [r for r in self._explain(task_id, known)[: self._per_pass - done] if r.outcome != "unavailable"]
            with self._index.transaction() as db:
                for r in found:
                    db.execute(
                        "INSERT OR REPLACE INTO rejections VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (task_id, r.round, r.unit, r.block, r.result, r.outcome, r.check, r.reason[:500], r.segment,
                         r.distance, r.tolerance),
                    )  # fmt: skip
            done += len(found)
            if done >= self._per_pass:
                break
        return done
