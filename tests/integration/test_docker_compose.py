"""docker-compose.yml (one machine) and docker-compose.join.yml (a second machine joining it) are valid and complete
(checked by Debian's docker-compose, which needs no engine), and the processes the join file starts join a running
network (no Docker engine here: the same commands run directly)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from client.node_status import ask
from node.chain.devnet import free_port
from node.store.client import StoreClient
from testkit.chain import Chain
from testkit.polling import wait_until
from testkit.servers import store_server

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_is_valid_and_runs_the_whole_network() -> None:
    check = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                           capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert check.returncode == 0, check.stderr
    resolved = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
                              capture_output=True, text=True, timeout=60, check=True).stdout  # fmt: skip
    config = yaml.safe_load(resolved)
    services = config["services"]
    assert set(services) == {
        "anvil", "deployer", "publisher", "store", "miner-1", "miner-2", "verifier-1", "verifier-2", "explorer"
    }  # fmt: skip
    for name, service in services.items():
        assert service["build"]["context"] == str(ROOT), f"{name} is built from the repository's Dockerfile"
        if name not in ("deployer", "publisher"):
            assert "healthcheck" in service, f"{name} has a healthcheck"
        for port in service.get("ports", []):
            published = port if isinstance(port, str) else f"{port['host_ip']}:{port['published']}"
            assert published.startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"
    for name in ("miner-1", "miner-2", "verifier-1", "verifier-2", "explorer"):
        depends = services[name]["depends_on"]
        assert depends["deployer"]["condition"] == "service_completed_successfully"
        assert depends["store"]["condition"] == "service_healthy"
        targets = [v.split(":")[1] if isinstance(v, str) else v["target"] for v in services[name]["volumes"]]
        assert "/data" in targets, f"{name} keeps its state on a volume"
    assert "aggregator" in " ".join(services["miner-2"]["command"])
    assert set(config["volumes"]) >= {
        "shared",
        "store-data",
        "miner-1",
        "miner-2",
        "verifier-1",
        "verifier-2",
        "explorer",
    }
    store = " ".join(services["store"]["command"])
    assert "--token-file /run/secrets/store-token" in store, "the store takes writes only with its token"
    for name in ("miner-1", "miner-2", "verifier-1", "verifier-2"):
        assert "--store-token-file /run/secrets/store-token" in " ".join(services[name]["command"])
    assert "quorum ≤ 2" not in (ROOT / "docker-compose.yml").read_text(), "quorums are odd"
    explorer = " ".join(services["explorer"]["command"])
    assert "--store http://store:8700" in explorer, "the explorer reads models for its accuracy figures"
    assert "COPY explorer" in (ROOT / "Dockerfile").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "torch==2.13.0" in dockerfile
    assert "npm install" in dockerfile


JOIN = ROOT / "docker-compose.join.yml"


def _join_config(env: dict[str, str]) -> dict[str, Any]:
    resolved = subprocess.run(["docker-compose", "-f", str(JOIN), "config"], capture_output=True, text=True,
                              timeout=60, check=True, env={**os.environ, **env}).stdout  # fmt: skip
    config: dict[str, Any] = yaml.safe_load(resolved)
    return config


def test_the_join_file_needs_its_network_and_takes_no_dev_key() -> None:
    missing = subprocess.run(["docker-compose", "-f", str(JOIN), "config", "-q"], capture_output=True, text=True,
                             timeout=60, check=False, env={k: v for k, v in os.environ.items()
                                                           if not k.startswith("DMLNET_")})  # fmt: skip
    assert missing.returncode != 0
    assert "the network's JSON-RPC URL" in missing.stderr
    config = _join_config({
        "DMLNET_RPC_URL": "http://chain:8545", "DMLNET_STORE_URL": "http://store:8700",
        "DMLNET_DEPLOYMENT": "bafkreiexample", "DMLNET_MINER_KEYSTORE": "/k/m.json",
        "DMLNET_VERIFIER_KEYSTORE": "/k/v.json",
    })  # fmt: skip
    assert set(config["services"]) == {"miner", "verifier"}
    for name, service in config["services"].items():
        command = " ".join(service["command"])
        assert "--dev-account" not in command, f"{name} signs with its own keystore"
        assert "--deployment-from bafkreiexample" in command
        assert "--password-file /run/secrets/keystore-password" in command
        assert "--store-token-file /run/secrets/store-token" in command
        [keystore] = [v for v in service["volumes"] if (v if isinstance(v, str) else v["target"]).count("/keys/")]
        assert keystore.endswith(":ro") if isinstance(keystore, str) else keystore["read_only"], "read-only"
        for port in service["ports"]:
            published = port if isinstance(port, str) else f"{port['host_ip']}:{port['published']}"
            assert published.startswith("127.0.0.1:")


@pytest.mark.chain
def test_the_processes_the_join_file_starts_join_a_running_network(chain: Chain, tmp_path: Path) -> None:
    """The first machine's network: a chain with TaskMarket, a store that takes writes with a token, the deployment
    file in it. The join file's verifier, as its resolved command (secrets and volumes mapped to files here, its
    API on a free port): it fetches the deployment by CID, signs with its funded keystore, answers `dml node
    status` as ok, and stops cleanly."""
    from eth_account import Account

    password, token = "correct horse", "s3cret-token"
    (tmp_path / "keystore-password").write_text(password)
    (tmp_path / "store-token").write_text(token + "\n")
    account = Account.create()
    (tmp_path / "verifier.json").write_text(json.dumps(Account.encrypt(account.key, password, iterations=2)))
    funder = chain.accounts[0]
    w3 = chain.w3
    sent = w3.eth.send_transaction({"from": funder.address, "to": account.address, "value": 5 * 10**18})
    w3.eth.wait_for_transaction_receipt(sent)
    chain.deployment.write(tmp_path / "deployment.json")

    with store_server(tmp_path / "objects", token=token) as (store, _):
        cid = StoreClient.from_endpoints([store], token=token).put_file(tmp_path / "deployment.json")
        config = _join_config({
            "DMLNET_RPC_URL": chain.rpc_url, "DMLNET_STORE_URL": store, "DMLNET_DEPLOYMENT": cid,
            "DMLNET_MINER_KEYSTORE": str(tmp_path / "miner.json"),
            "DMLNET_VERIFIER_KEYSTORE": str(tmp_path / "verifier.json"),
            "DMLNET_KEYSTORE_PASSWORD_FILE": str(tmp_path / "keystore-password"),
            "DMLNET_STORE_TOKEN_FILE": str(tmp_path / "store-token"),
        })  # fmt: skip
        service = config["services"]["verifier"]
        # What the container sees, mapped to this machine: its secrets, its read-only keystore, its data volume.
        where = {f"/run/secrets/{s['source']}": config["secrets"][s["source"]]["file"] for s in service["secrets"]}
        for volume in service["volumes"]:
            if isinstance(volume, str):
                source, target = volume.split(":")[:2]
            else:
                source, target = volume["source"], volume["target"]
            where[target] = source if source.startswith("/") else str(tmp_path / "data")
        api = free_port()
        argv = [where.get(a, a) for a in service["command"]]
        argv[argv.index("--api-port") + 1] = str(api)
        argv[argv.index("--api-host") + 1] = "127.0.0.1"
        log = (tmp_path / "verifier.log").open("wb")
        node = subprocess.Popen([sys.executable, "-m", "client.cli", *argv], cwd=tmp_path, stdout=log,
                                stderr=subprocess.STDOUT)  # fmt: skip
        try:

            def status() -> dict[str, Any] | None:
                assert node.poll() is None, (tmp_path / "verifier.log").read_text()[-3000:]
                report = ask(f"http://127.0.0.1:{api}")
                return report.status if report.ok else None

            answered = wait_until(status, timeout_s=90, what="the joining verifier to answer ok")
            assert answered["address"] == account.address
            assert answered["roles"] == ["verifier", "keeper"]
        finally:
            node.send_signal(signal.SIGTERM)
            code = node.wait(timeout=60)
            log.close()
    assert code == 0, "stopped cleanly by SIGTERM"
    written = tmp_path / "data" / "deployment.json"
    assert json.loads(written.read_text())["address"] == chain.deployment.address, "fetched by CID, as published"
    text = (tmp_path / "verifier.log").read_text()
    assert "deployment fetched" in text
    assert token not in text, "never a secret in a log"
