"""README's tour, restarted: nodes started with only their account keep serving the devnet across `dml devnet
down && dml devnet up` (the chain kept: the nodes go on with their state) on the same ports (the usual case), and
across `dml devnet up --fresh` (a new chain: each node moves its state aside) on other ones (the old port taken
meanwhile)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.chain, pytest.mark.slow]

TASK = ["task", "submit", "--units", "2", "--rounds", "1", "--quorum", "1", "--local-steps", "60", "--yes", "--watch"]


def _dml(cwd: Path, env: dict[str, str], *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "client.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s, check=False,
    )  # fmt: skip


def _ports(home: Path) -> dict[str, int]:
    return {k: int(v) for k, v in json.loads((home / "devnet" / "ports.json").read_text()).items()}


def _completes_a_task(cwd: Path, env: dict[str, str], nodes: list[subprocess.Popen[bytes]], task_id: int) -> None:
    result = _dml(cwd, env, *TASK, timeout_s=240)
    assert all(n.poll() is None for n in nodes), "the nodes kept running"
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert f"task {task_id} created" in result.stdout  # 1 on a new chain, the next on a kept one


def test_nodes_follow_the_devnet_through_restarts(tmp_path: Path) -> None:
    home = tmp_path / ".dmlnet"
    env = {**os.environ, "PYTHONPATH": str(Path.cwd()), "COLUMNS": "200"}
    env.pop("DMLNET_HOME", None)  # the tour's default: ./.dmlnet of the folder the commands run in
    assert _dml(tmp_path, env, "devnet", "up").returncode == 0
    first = _ports(home)
    logs = [(tmp_path / f"{name}.log").open("wb") for name in ("miner", "verifier")]
    nodes = [
        subprocess.Popen(
            [sys.executable, "-m", "client.cli", *argv], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        for argv, log in zip(
            (
                ["node", "run", "--roles", "miner,aggregator", "--dev-account", "2", "--data-dir", ".dmlnet/miner"],
                ["verifier", "run", "--dev-account", "4", "--data-dir", ".dmlnet/verifier"],
            ),
            logs,
            strict=True,
        )
    ]
    holder: socket.socket | None = None
    try:
        _completes_a_task(tmp_path, env, nodes, 1)

        assert _dml(tmp_path, env, "devnet", "down").returncode == 0
        resumed = _dml(tmp_path, env, "devnet", "up")
        assert resumed.returncode == 0
        assert "kept from before" in resumed.stdout
        assert _ports(home) == first, "a devnet started again takes its last ports while they are free"
        _completes_a_task(tmp_path, env, nodes, 2)  # the same chain: its second task
        assert list((tmp_path / ".dmlnet" / "miner").glob("state.other-chain-*.sqlite")) == [], "state kept"

        assert _dml(tmp_path, env, "devnet", "down").returncode == 0
        holder = socket.socket()  # someone else took the chain's port meanwhile
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", first["rpc"]))
        holder.listen()
        assert _dml(tmp_path, env, "devnet", "up", "--fresh").returncode == 0
        assert _ports(home)["rpc"] != first["rpc"]
        _completes_a_task(tmp_path, env, nodes, 1)  # a new chain

        miner_log = (tmp_path / "miner.log").read_text()
        assert "the chain moved to" in miner_log, "the node followed the devnet to its new port"
        assert "rpc read failed, retrying" not in miner_log, "one line per outage, not one per retry"
        assert len(list((tmp_path / ".dmlnet" / "miner").glob("state.other-chain-*.sqlite"))) == 1
    finally:
        if holder is not None:
            holder.close()
        for n in nodes:
            n.send_signal(signal.SIGTERM)
        codes = [n.wait(timeout=60) for n in nodes]
        for log in logs:
            log.close()
        _dml(tmp_path, env, "devnet", "down")
    assert codes == [0, 0], "stopped cleanly by SIGTERM"
