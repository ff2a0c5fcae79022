from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from fastapi.testclient import TestClient

from node.api import create_app
from node.daemon import NodeStatus


def _daemon(last_cycle_at: float, last_error: str | None) -> Any:
    status = NodeStatus(
        roles=["miner"],
        address="0x0",
        last_block=41,
        last_error=last_error,
        started_at=time.time() - 1000,
        last_cycle_at=last_cycle_at,
        last_cycle_s=2.5,
        cycles_cut=1,
    )
    settings = SimpleNamespace(health_stall_s=60.0, cycle_budget_s=600.0)
    return SimpleNamespace(status=status, s=SimpleNamespace(settings=settings))


def test_health_ok_retrying_and_stalled() -> None:
    ok = TestClient(create_app(_daemon(time.time() - 1, None))).get("/health")
    assert (ok.status_code, ok.json()["status"]) == (200, "ok")
    retrying = TestClient(create_app(_daemon(time.time() - 5, "ConnectionError: refused"))).get("/health")
    assert (retrying.status_code, retrying.json()["status"]) == (200, "retrying")
    stalled = TestClient(create_app(_daemon(time.time() - 61, "ConnectionError: refused"))).get("/health")
    assert (stalled.status_code, stalled.json()["status"]) == (503, "stalled")
    assert stalled.json()["seconds_since_cycle"] > 60
    pulse = ok.json()  # the last good cycle's pulse: its block, its length, the cycles the budget cut
    assert (pulse["last_good_block"], pulse["last_cycle_s"], pulse["cycle_budget_s"], pulse["cycles_cut"]) == (
        41,
        2.5,
        600.0,
        1,
    )
    never = TestClient(create_app(_daemon(0.0, None))).get("/health")  # no cycle since a start 1000 s ago
    assert never.status_code == 503
