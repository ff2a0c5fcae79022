"""`dml devnet up --explorer` as a user runs it: the explorer follows the devnet through a kill of its own process,
a crash of the chain under it, and a new chain in the same folder, never mixing two chains' figures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from client.home import DevnetRecord, alive, devnet_file
from node.chain.build import load_artifact
from node.chain.contract import TaskMarket
from node.chain.deployment import Deployment
from node.chain.devnet import dev_accounts
from node.chain.rpc import connect
from testkit.polling import wait_until
from tests.integration.chain.helpers import params

pytestmark = pytest.mark.chain


def dml(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "client.cli", *args, "--home", str(home)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def record(home: Path) -> DevnetRecord:
    found = DevnetRecord.read(devnet_file(home))
    assert found is not None
    return found


def create_task(home: Path) -> int:
    devnet = record(home)
    deployment = Deployment.read(home / "devnet" / "deployment.json")
    owner = TaskMarket.for_account(connect(devnet.rpc_url), deployment.address, load_artifact(), dev_accounts(2)[1])
    task_id, _ = owner.create_task(params(rounds=1, units=2, quorum=1))
    return task_id


def tasks(url: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/api/tasks", timeout=5)
    return response.json() if response.status_code == 200 else []  # type: ignore[no-any-return]


def test_the_explorer_follows_the_devnet_through_kills_and_restarts(tmp_path: Path) -> None:
    home = tmp_path / ".dmlnet"
    try:
        dml(home, "devnet", "up", "--explorer")
        url = record(home).explorer_url
        first = create_task(home)
        wait_until(lambda: [t["task_id"] for t in tasks(url)] == [first], timeout_s=30, what="the task indexed")
        events = httpx.get(f"{url}/api/network").json()["transactions"]

        # The explorer killed outright: `devnet up --explorer` starts it again, and it resumes from its index.
        os.kill(record(home).explorer_pid, signal.SIGKILL)
        wait_until(lambda: not alive(record(home).explorer_pid), timeout_s=10, what="the explorer to die")
        dml(home, "devnet", "up", "--explorer")
        url = record(home).explorer_url
        wait_until(lambda: [t["task_id"] for t in tasks(url)] == [first], timeout_s=30, what="the index reopened")
        assert httpx.get(f"{url}/api/network").json()["transactions"] == events, "nothing indexed twice"

        # The chain crashes under the running explorer; `devnet up --fresh` starts a new one where it was.
        explorer_pid = record(home).explorer_pid
        os.kill(record(home).pid, signal.SIGKILL)
        dml(home, "devnet", "up", "--fresh")
        assert record(home).explorer_pid == explorer_pid, "the running explorer was kept"
        wait_until(lambda: tasks(url) == [], timeout_s=60, what="the explorer to notice the new chain")
        second = create_task(home)
        wait_until(lambda: [t["task_id"] for t in tasks(url)] == [second], timeout_s=30, what="the new chain indexed")
        aside = list((home / "explorer").glob("explorer.other-chain-*.sqlite"))
        assert len(aside) == 1, "the old chain's index was moved aside, not mixed in or deleted"

        # down stops the explorer too.
        dml(home, "devnet", "down")
        assert not alive(explorer_pid)
    finally:
        subprocess.run([sys.executable, "-m", "client.cli", "devnet", "down", "--home", str(home)],
                       capture_output=True, timeout=60, check=False)  # fmt: skip
