"""`dml demo` stops everything it started: on SIGTERM (an orderly exit) and when it is killed outright."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from testkit.polling import wait_until

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


def test_demo_with_stay_keeps_the_network_and_its_explorer_up_until_ctrl_c(tmp_path: Path) -> None:
    """What `make demo` does at a terminal: the summary, then the explorer (on the finished task) until Ctrl-C, which
    ends it cleanly (exit 0) and stops everything."""
    cmd = [sys.executable, "-m", "client.cli", "demo", "--miners", "1", "--verifiers", "1", "--quorum", "1",
           "--rounds", "1", "--units", "2", "--local-steps", "40", "--stay"]  # fmt: skip
    cmd += ["--workdir", str(tmp_path / "demo")]
    log = (tmp_path / "out.txt").open("wb")
    demo = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"})
    try:
        staying = wait_until(
            lambda: re.search(r"stay up at (http://127\.0\.0\.1:\d+)", (tmp_path / "out.txt").read_text()),
            timeout_s=240,
            what="the demo to finish its task and stay up",
        )
        url = staying[1]
        task = httpx.get(f"{url}/api/tasks/1", timeout=5)
        assert task.status_code == 200
        children = psutil.Process(demo.pid).children(recursive=True)
        assert demo.poll() is None, "still up after the summary"
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=60) == 0, "Ctrl-C after the demo finished is a normal end"
        wait_until(lambda: _gone(children), timeout_s=30, what="every child of the demo to stop")
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/health", timeout=2)
    finally:
        if demo.poll() is None:
            demo.kill()
        log.close()
