"""`dml demo` stops everything it started: on SIGTERM (an orderly exit) and when it is killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.polling import wait_until

# Anvil, the store server, one miner, one verifier.
CHILDREN = 4


def _start_demo(workdir: Path) -> tuple[subprocess.Popen[bytes], list[psutil.Process]]:
    cmd = [sys.executable, "-m", "client.cli", "demo", "--miners", "1", "--verifiers", "1", "--quorum", "1",
           "--rounds", "1", "--units", "2", "--local-steps", "50", "--workdir", str(workdir)]  # fmt: skip
    demo = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "200"}
    )

    def all_started() -> list[psutil.Process] | None:
        if demo.poll() is not None:
            raise AssertionError(f"the demo exited early: {demo.stderr.read().decode() if demo.stderr else ''}")
        children = psutil.Process(demo.pid).children(recursive=True)
        return children if len(children) >= CHILDREN else None

    return demo, wait_until(all_started, timeout_s=120, what="the demo's chain, store and nodes")


def _gone(processes: list[psutil.Process]) -> bool:
    return not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in processes)


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_demo_stops_every_process_it_started(tmp_path: Path, how: str) -> None:
    demo, children = _start_demo(tmp_path / "demo")
    names = sorted(p.name() for p in children)
    assert any("anvil" in n for n in names), names
    try:
        demo.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
        code = demo.wait(timeout=60)
        assert code == (128 + signal.SIGTERM if how == "sigterm" else -signal.SIGKILL)
        wait_until(lambda: _gone(children), timeout_s=30, what="every child of the demo to stop")
    finally:
        for p in children:
            if p.is_running():
                p.kill()
