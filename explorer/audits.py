"""`dml audit` run from the explorer's task page: one audit per task at a time, in a background thread, its
report (JSON, HTML, plot) kept under the explorer's folder and linked from the page."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from node.audit.audit import AuditReport

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AuditState:
    task_id: int
    state: str  # running, passed, failed (findings), error (could not run)
    started_at: float
    finished_at: float | None = None
    findings: int | None = None
    detail: str | None = None
    report: str | None = None  # the HTML report's path under /audits


class AuditRunner:
    """``audit`` runs one task's audit and returns its report (it reads the chain and the store itself)."""

    def __init__(self, directory: Path, audit: Callable[[int], AuditReport] | None = None) -> None:
        self.directory = directory
        self._audit = audit
        self._lock = threading.Lock()
        self._states: dict[int, AuditState] = {}

    def use(self, audit: Callable[[int], AuditReport] | None) -> None:
        self._audit = audit

    def state(self, task_id: int) -> AuditState | None:
        with self._lock:
            found = self._states.get(task_id)
        if found is None and (self.directory / f"task-{task_id}" / f"audit-task-{task_id}.html").exists():
            return AuditState(task_id, "kept", 0.0, report=_report_path(task_id))  # a report from an earlier run
        return found

    def start(self, task_id: int) -> AuditState:
        """Starts an audit unless one is running for this task (then returns that one)."""
        with self._lock:
            running = self._states.get(task_id)
            if running is not None and running.state == "running":
                return running
            if self._audit is None:
                raise RuntimeError("not connected to the chain yet")
            state = AuditState(task_id, "running", time.time())
            self._states[task_id] = state
        audit = self._audit
        threading.Thread(target=self._run, args=(task_id, audit, state), name=f"audit-{task_id}", daemon=True).start()
        return state

    def _run(self, task_id: int, audit: Callable[[int], AuditReport], state: AuditState) -> None:
        from node.audit.audit import write_report

        try:
            report = audit(task_id)
            write_report(report, self.directory / f"task-{task_id}")
        except Exception as err:  # a worker's boundary: the page shows why the audit could not run
            log.warning("audit could not run", extra={"task": task_id, "error": str(err)})
            done = replace(state, state="error", finished_at=time.time(), detail=f"{type(err).__name__}: {err}")
        else:
            findings = len(report.findings)
            done = replace(
                state,
                state="passed" if report.ok else "failed",
                finished_at=time.time(),
                findings=findings,
                detail="; ".join(f"{f.kind}: {f.detail}" for f in report.findings[:5]) or None,
                report=_report_path(task_id),
            )
        with self._lock:
            self._states[task_id] = done


def _report_path(task_id: int) -> str:
    return f"/audits/task-{task_id}/audit-task-{task_id}.html"
