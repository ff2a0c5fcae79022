"""`dml node status`: how each running node is, asked of the node itself (its API's ``/status``): its health, roles,
account, stake, work in flight, the blocks it is at, its last cycle and its last error."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from client.home import node_records
from client.render import eth

TIMEOUT_S = 5.0
NO_API = "started without --api-port: nothing to ask"


@dataclass(frozen=True, slots=True)
class NodeReport:
    """One node as it answered (``status``), or why it did not (``problem``)."""

    where: str  # its API URL, or its pid and data folder when it has no API
    status: dict[str, Any] | None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """Answered and ok, or has no API to ask (not a fault of the node's)."""
        if self.status is None:
            return self.problem == NO_API
        return self.status.get("health") == "ok"

    def as_json(self) -> dict[str, Any]:
        if self.status is None:
            return {"api": self.where, "answered": False, "problem": self.problem}
        from client.json_out import amount

        st = self.status
        amounts = {
            k: v for name in ("stake", "locked", "credit") for k, v in amount(name, int(st[f"{name}_wei"])).items()
        }
        return {"api": self.where, "answered": True, **st, **amounts}


def ask(url: str, timeout_s: float = TIMEOUT_S) -> NodeReport:
    """The node at ``url`` (its API's base URL)."""
    base = url.rstrip("/")
    try:
        answer = requests.get(f"{base}/status", timeout=timeout_s)
        answer.raise_for_status()
        status = answer.json()
    except requests.RequestException as err:
        return NodeReport(base, None, f"not answering: {type(err).__name__}")
    except ValueError:
        return NodeReport(base, None, "answered something that is not a node's status")
    if not isinstance(status, dict) or "health" not in status:
        return NodeReport(base, None, "answered something that is not a node's status")
    return NodeReport(base, status)


def local_nodes(base: Path) -> list[NodeReport]:
    """Every running node started from the folder ``base``: asked through its API, or said to have none."""
    out = []
    for record, running in node_records(base):
        if not running:
            continue
        if record.api_port is None:
            where = f"pid {record.pid} ({record.data_dir})"
            out.append(NodeReport(where, None, NO_API))
        else:
            out.append(ask(f"http://127.0.0.1:{record.api_port}"))
    return out


def lines(report: NodeReport) -> list[tuple[str, str]]:
    """One node as `dml node status` prints it: a label and a value a line (it fits 80 columns)."""
    if report.status is None:
        return [("node", report.where), ("health", report.problem or "")]
    st = report.status
    out = [
        ("node", report.where),
        ("health", str(st["health"])),
        ("roles", ",".join(st["roles"])),
        ("account", str(st["address"])),
        ("stake", f"{eth(int(st['stake_wei']))} ({eth(int(st['locked_wei']))} locked)"),
        ("credit", eth(int(st["credit_wei"]))),
        ("work in flight", f"{st['work_in_flight']} units, {st['votes_open']} votes open"),
        ("blocks", f"head {st['last_block']}, acts on {st['view_block']} ({st['confirmations']})"),
        ("last cycle", f"{float(st['seconds_since_cycle']):.0f} s ago, {st['cycles']} cycles"),
    ]
    if st.get("last_cycle_error"):
        out.append(("error", str(st["last_cycle_error"])))
    for label, key in (("set aside", "tasks_set_aside"), ("store waits", "tasks_waiting_for_store"),
                       ("not claiming", "tasks_not_claimed")):  # fmt: skip
        for task, why in (st.get(key) or {}).items():
            out.append((label, f"task {task}: {why}"))
    return out
