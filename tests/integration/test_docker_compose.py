"""docker-compose.yml is valid and complete (checked by Debian's docker-compose, which needs no engine)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_is_valid_and_runs_the_whole_network() -> None:
    check = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                           capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert check.returncode == 0, check.stderr
    resolved = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
                              capture_output=True, text=True, timeout=60, check=True).stdout  # fmt: skip
    config = yaml.safe_load(resolved)
    services = config["services"]
    assert set(services) == {"anvil", "deployer", "store", "miner-1", "miner-2", "verifier-1", "verifier-2", "explorer"}
    for name, service in services.items():
        assert service["build"]["context"] == str(ROOT), f"{name} is built from the repository's Dockerfile"
        if name != "deployer":
            assert "healthcheck" in service, f"{name} has a healthcheck"
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
    explorer = " ".join(services["explorer"]["command"])
    assert "--store http://store:8700" in explorer, "the explorer reads models for its accuracy figures"
    assert "COPY explorer" in (ROOT / "Dockerfile").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "torch==2.13.0" in dockerfile
    assert "npm install" in dockerfile
