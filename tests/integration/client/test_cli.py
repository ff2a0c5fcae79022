"""The foundation CLI against a real devnet: up, status, state, down, and its errors' exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
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
        # --json: one document on stdout, the same fields, amounts in exact wei as strings.
        described = json.loads(dml("devnet", "status", "--json", home=tmp_path).stdout)
        assert described["head_block"] >= 1
        assert described["task_market"] == json.loads((tmp_path / "devnet" / "deployment.json").read_text())["address"]
        assert (described["store_ok"], described["nodes"]) == (True, [])
        books = json.loads(dml("state", "--json", home=tmp_path).stdout)
        assert (books["balance_wei"], books["total_owed_wei"], books["solvent"], books["tasks"]) == ("0", "0", True, [])
        assert books["balance"] == "0.000000 ETH"
    finally:
        down = dml("devnet", "down", home=tmp_path)
    assert down.returncode == 0
    assert "devnet stopped" in down.stdout
    assert not (tmp_path / "devnet" / "devnet.json").exists()
    # The chain is kept across down/up: the same contract, the same genesis; --fresh starts a new one.
    address = json.loads((tmp_path / "devnet" / "deployment.json").read_text())["address"]
    try:
        resumed = dml("devnet", "up", home=tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        assert "kept from before, resumed at block" in resumed.stdout
        assert json.loads(dml("devnet", "status", "--json", home=tmp_path).stdout)["task_market"] == address
        assert dml("devnet", "down", home=tmp_path).returncode == 0
        fresh = dml("devnet", "up", "--fresh", home=tmp_path)
        assert fresh.returncode == 0, fresh.stderr
        assert "chain          a new one" in fresh.stdout
    finally:
        dml("devnet", "down", home=tmp_path)


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


def test_demo_small_configuration_and_its_figures_match_the_chain(tmp_path: Path) -> None:
    from rich.console import Console

    from client.demo import DemoConfig, run_demo
    from client.tasks import Economics
    from node.errors import ConfigError

    config = DemoConfig(miners=2, verifiers=1, units=2, rounds=2, quorum=1, local_steps=40)
    result = run_demo(Console(file=open(tmp_path / "out.txt", "w")), tmp_path / "demo", config)  # noqa: SIM115
    economics = Economics(rounds=2, quorum=1)
    budget = 2 * (2 * economics.miner_reward + economics.aggregator_reward + 3 * economics.verifier_reward)
    assert result.accepted == 2 * 3
    assert result.rejected == 0
    assert sum(result.payouts.values()) == budget, "every wei of the budget is accounted for in the payouts"
    assert result.slashes == {}
    assert sorted(result.figures) == [0, 1]
    assert result.metric == "accuracy"
    assert all(0.5 < a <= 1.0 for a in result.figures.values())
    assert 0.5 < result.centralized <= 1.0
    assert result.gas_used > 0
    report = result.report.read_text()
    assert "Payouts and slashes" in report
    assert (tmp_path / "demo" / "accuracy.png").stat().st_size > 1000
    printed = (tmp_path / "out.txt").read_text()
    assert f"{result.gas_used:,} gas" in printed
    explorer = re.search(r"explorer (http://127\.0\.0\.1:\d+)", printed)
    assert explorer, "the demo says where its explorer is"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{explorer[1]}/health", timeout=2)  # stopped with the demo (no --stay)
    assert (tmp_path / "demo" / "explorer" / "explorer.sqlite").exists()

    # A second run in the same folder (a new chain): it starts from an empty folder and finishes too.
    again = run_demo(
        Console(file=open(tmp_path / "out2.txt", "w")),  # noqa: SIM115
        tmp_path / "demo",
        DemoConfig(miners=2, verifiers=1, units=2, rounds=1, quorum=1, local_steps=40),
    )
    assert again.accepted == 3
    assert not list((tmp_path / "demo").rglob("*other-chain*")), "no state of the first run's chain was found"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="did not write"):
        run_demo(Console(file=open(tmp_path / "out3.txt", "w")), tmp_path / "mine", config)  # noqa: SIM115
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine"


def test_demo_with_a_byzantine_miner_slashes_it_and_still_finishes(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "client.cli", "demo", "--workdir", str(tmp_path), "--miners", "2", "--verifiers", "1",
         "--quorum", "1", "--units", "2", "--rounds", "1", "--local-steps", "40", "--byzantine", "1"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    row = next(line for line in result.stdout.splitlines() if "cheater-0-noise" in line)
    paid, slashed = re.findall(r"([0-9.]+) ETH", row)
    assert float(paid) == 0.0, "a cheater earns nothing"
    assert float(slashed) > 0.0, "and loses its bonds"
    assert "report:" in result.stdout
    leftovers = [
        p.info["cmdline"]
        for p in psutil.process_iter(["cmdline"])
        if str(tmp_path) in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == [], "every process the demo started is gone"


@pytest.mark.slow
def test_demo_of_the_language_model_reports_validation_loss_against_centralized(tmp_path: Path) -> None:
    """dml demo --workload lm: the small GPT on fortunes through the network, judged by validation loss."""
    from rich.console import Console

    from client.demo import DemoConfig, run_demo

    config = DemoConfig(miners=2, verifiers=1, units=2, rounds=2, quorum=1, local_steps=30, workload="lm")
    result = run_demo(Console(file=open(tmp_path / "out.txt", "w"), width=120), tmp_path / "demo", config)  # noqa: SIM115
    assert result.metric == "validation loss"
    assert result.accepted == 2 * 3
    assert result.rejected == 0
    assert sorted(result.figures) == [0, 1]
    assert result.figures[1] < result.figures[0] < 5.55, "below an untrained model's ln 256, and improving"
    assert abs(result.figures[1] / result.centralized - 1) < 0.25
    printed = (tmp_path / "out.txt").read_text()
    assert "network validation loss" in printed
    assert "perplexity" in printed


@pytest.mark.slow
def test_demo_of_the_residual_cnn_trains_through_the_network_against_centralized(tmp_path: Path) -> None:
    """dml demo --workload fashion-resnet: residual blocks through a real devnet, store and verifier, no honest unit
    rejected, the network's accuracy beside centralized training of the same steps."""
    from rich.console import Console

    from client.demo import DemoConfig, run_demo

    config = DemoConfig(miners=2, verifiers=1, units=2, rounds=2, quorum=1, local_steps=60, workload="fashion-resnet")
    result = run_demo(Console(file=open(tmp_path / "out.txt", "w"), width=120), tmp_path / "demo", config)  # noqa: SIM115
    assert result.metric == "accuracy"
    assert result.accepted == 2 * 3, "two training units and an aggregation unit a round, every one accepted"
    assert result.rejected == 0
    assert sorted(result.figures) == [0, 1]
    assert 0.5 < result.figures[1] <= 1.0, "far above chance (0.1) after 240 steps"
    assert result.figures[1] > result.centralized - 0.15
    assert "centralized" in (tmp_path / "out.txt").read_text()


@pytest.mark.slow
def test_demo_in_split_mode_prints_the_owners_accuracy_next_to_plain_mode(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "client.cli", "demo", "--workdir", str(tmp_path), "--miners", "2", "--verifiers", "1",
         "--quorum", "1", "--units", "2", "--rounds", "2", "--local-steps", "40", "--privacy", "split", "--no-stay"],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "task 2 in split mode" in out
    rows = re.findall(r"│\s+([12]) │\s+([0-9.]+) │\s+([0-9.]+) │", out)
    assert [r[0] for r in rows] == ["1", "2"], out[-2000:]
    plain, owner = float(rows[-1][1]), float(rows[-1][2])
    assert 0.5 < owner <= 1.0, "the owner's model, from its node's private layers and the public middle, works"
    assert 0.5 < plain <= 1.0
    ratio = re.search(r"task wall time: plain ([0-9.]+) s, split ([0-9.]+) s \(([0-9.]+)×\)", out)
    assert ratio is not None
    assert float(ratio[3]) == pytest.approx(float(ratio[2]) / float(ratio[1]), rel=0.02)
    assert list((tmp_path / "owner").rglob("private-round-2.safetensors")), "the owner's layers stay on its disk"


def test_demo_cleans_up_every_process_on_ctrl_c(tmp_path: Path) -> None:
    import signal

    from testkit.polling import wait_until

    demo = subprocess.Popen(
        [sys.executable, "-m", "client.cli", "demo", "--workdir", str(tmp_path), "--verifiers", "1", "--quorum", "1",
         "--local-steps", "4000"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    log = tmp_path / "verifier-0.log"

    def nodes_started() -> bool:
        assert demo.poll() is None, "the demo exited before its nodes started"
        return log.exists() and "node started" in log.read_text()

    wait_until(nodes_started, timeout_s=120, what="the demo's nodes to start")
    demo.send_signal(signal.SIGINT)
    demo.wait(timeout=90)
    assert demo.returncode == 130
    leftovers = [
        p.info["cmdline"]
        for p in psutil.process_iter(["cmdline"])
        if str(tmp_path) in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == [], "every process the demo started is gone after Ctrl-C"


def test_commands_take_the_running_devnet_when_given_nothing(tmp_path: Path) -> None:
    import os

    from client.home import deployment_file, running_devnet
    from client.node_cmds import with_devnet_defaults
    from node.config import load_settings
    from node.store.client import StoreClient

    home = tmp_path / "home"
    assert dml("devnet", "up", home=home).returncode == 0
    try:
        record = running_devnet(home)
        assert record is not None
        node = with_devnet_defaults(load_settings({"roles": ["miner"], "dev_account": 3}), home)
        assert (node.rpc_url, node.deployment, node.store) == (
            record.rpc_url, deployment_file(home), [record.store_url],
        )  # fmt: skip
        given = with_devnet_defaults(
            load_settings({"roles": ["miner"], "dev_account": 3, "rpc_url": "http://x:1"}), home
        )
        assert given.rpc_url == "http://x:1", "what the user gave wins"
        assert given.store == [record.store_url]

        blob = tmp_path / "blob.bin"
        blob.write_bytes(b"kept by the devnet's store")
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        put = subprocess.run(
            [sys.executable, "-m", "client.cli", "store", "put", str(blob)],
            capture_output=True, text=True, timeout=120, check=False, cwd=elsewhere,
            env={**os.environ, "DMLNET_HOME": str(home), "PYTHONPATH": str(Path.cwd())},
        )  # fmt: skip
        assert put.returncode == 0, put.stderr
        assert put.stderr.strip() == f"using the devnet's store {record.store_url}"
        cid = put.stdout.strip()
        assert StoreClient.from_endpoints([record.store_url]).get(cid) == blob.read_bytes()
        assert not (elsewhere / ".dmlnet").exists(), "nothing written to a folder store"
        listed = subprocess.run(
            [sys.executable, "-m", "client.cli", "task", "list"],
            capture_output=True, text=True, timeout=120, check=False, cwd=elsewhere,
            env={**os.environ, "DMLNET_HOME": str(home), "PYTHONPATH": str(Path.cwd())},
        )  # fmt: skip
        assert listed.returncode == 0, listed.stderr
        assert listed.stderr.strip() == f"using the devnet's chain {record.rpc_url}", "it reads no store"
    finally:
        dml("devnet", "down", home=home)
    plain = with_devnet_defaults(load_settings({"roles": ["miner"], "dev_account": 3}), home)
    assert plain.rpc_url == "http://127.0.0.1:8545", "no devnet running: the documented default"


def test_a_node_started_with_only_its_account_joins_the_devnet_and_status_lists_it(tmp_path: Path) -> None:
    import os
    import signal

    import httpx

    from testkit.polling import wait_until

    home = tmp_path / "home"
    env = {**os.environ, "DMLNET_HOME": str(home), "PYTHONPATH": str(Path.cwd())}
    assert dml("devnet", "up", home=home).returncode == 0
    port = free_port()
    node = subprocess.Popen(
        [sys.executable, "-m", "client.cli", "verifier", "run", "--dev-account", "4", "--data-dir", "v",
         "--api-port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:

        def healthy() -> bool:
            assert node.poll() is None, node.stderr.read().decode() if node.stderr else ""
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).json()["status"] == "ok"
            except httpx.TransportError:
                return False

        wait_until(healthy, timeout_s=60, what="the node to run against the devnet (no --rpc, --store given)")
        status = dml("devnet", "status", home=home)
        assert status.returncode == 0, status.stderr
        assert re.search(r"store +http://127\.0\.0\.1:\d+ \(pid \d+\) ok", status.stdout), status.stdout
        assert re.search(
            rf"pid {node.pid} running: verifier,keeper, data .*v, API http://127\.0\.0\.1:{port}", status.stdout
        )
        node.send_signal(signal.SIGTERM)
        assert node.wait(timeout=60) == 0
        after = dml("devnet", "status", home=home)
        assert "nodes started from here: 0" in after.stdout
    finally:
        if node.poll() is None:
            node.kill()
        dml("devnet", "down", home=home)
