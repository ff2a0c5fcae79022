"""The foundation CLI against a real devnet: up, status, state, down, and its errors' exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from node.chain.devnet import free_port

pytestmark = pytest.mark.chain


def dml(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["--home", str(home)] if home is not None else []
    return subprocess.run(
        [sys.executable, "-m", "client.cli", *args, *extra], capture_output=True, text=True, timeout=120, check=False
    )


def test_devnet_up_state_down(tmp_path: Path) -> None:
    up = dml("devnet", "up", home=tmp_path)
    try:
        assert up.returncode == 0, up.stderr
        assert "TaskMarket" in up.stdout
        assert (tmp_path / "devnet" / "deployment.json").exists()
        again = dml("devnet", "up", home=tmp_path)  # idempotent: same chain, same address
        assert again.returncode == 0
        assert again.stdout.splitlines()[0] == up.stdout.splitlines()[0]
        status = dml("devnet", "status", home=tmp_path)
        assert status.returncode == 0
        assert "head block" in status.stdout
        state = dml("state", home=tmp_path)
        assert state.returncode == 0, state.stderr
        assert "buckets sum to totalOwed: yes; solvent: yes" in state.stdout
    finally:
        down = dml("devnet", "down", home=tmp_path)
    assert down.returncode == 0
    assert "devnet stopped" in down.stdout
    assert not (tmp_path / "devnet" / "devnet.json").exists()


def test_unreachable_chain_is_one_line_with_its_own_exit_code(tmp_path: Path) -> None:
    (tmp_path / "deployment.json").write_text(
        '{"chain_id": 31337, "address": "0x5FbDB2315678afecb367f032d93F642f64180aa3", "block_number": 1,'
        ' "abi_digest": "x", "tx_hash": "0x", "unbonding_delay_s": 600}'
    )
    result = dml("state", "--rpc", f"http://127.0.0.1:{free_port()}", "--deployment", str(tmp_path / "deployment.json"))
    assert result.returncode == 11
    assert "dml devnet up" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_deployment_and_missing_devnet_have_distinct_codes(tmp_path: Path) -> None:
    no_devnet = dml("state", home=tmp_path)
    assert no_devnet.returncode == 2
    no_file = dml("state", "--rpc", "http://127.0.0.1:1", "--deployment", str(tmp_path / "none.json"))
    assert no_file.returncode == 13
    assert "no deployment file" in no_file.stderr


def test_demo_runs_a_unit_to_acceptance_and_balances(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "client.cli", "demo", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "accepted (3/3 valid votes)" in result.stdout
    assert "buckets sum to totalOwed: yes; solvent: yes" in result.stdout
