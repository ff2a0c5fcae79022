"""Where the CLI keeps its local state: ``$DMLNET_HOME`` or ``./.dmlnet``."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


def home(override: Path | None = None) -> Path:
    if override is not None:
        return override
    return Path(os.environ.get("DMLNET_HOME", ".dmlnet")).resolve()


def devnet_dir(base: Path) -> Path:
    return base / "devnet"


def deployment_file(base: Path) -> Path:
    return devnet_dir(base) / "deployment.json"


def devnet_file(base: Path) -> Path:
    return devnet_dir(base) / "devnet.json"


def chain_state_file(base: Path) -> Path:
    """Anvil's kept chain (blocks and state), written while it runs and when it stops: the next ``up`` resumes it."""
    return devnet_dir(base) / "chain-state.json"


def ports_file(base: Path) -> Path:
    """The ports the devnet last used, kept after ``down``: the next ``up`` takes them again when they are free,
    so nodes (and anything else) pointed at the devnet find the restarted one where the old one was."""
    return devnet_dir(base) / "ports.json"


@dataclass(frozen=True, slots=True)
class DevnetRecord:
    rpc_url: str
    chain_id: int
    pid: int
    started_at: float
    store_url: str = ""
    store_pid: int = 0
    explorer_url: str = ""
    explorer_pid: int = 0
    resumed: bool = False  # the chain was the one kept from before (not a new one)

    @classmethod
    def read(cls, path: Path) -> DevnetRecord | None:
        if not path.exists():
            return None
        document = json.loads(path.read_text())
        return cls(**document)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_devnet(base: Path) -> DevnetRecord | None:
    """The devnet this folder started, when its chain process is still alive."""
    record = DevnetRecord.read(devnet_file(base))
    return record if record is not None and alive(record.pid) else None


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """A node started from this folder, as ``dml devnet status`` lists it (written while the node runs)."""

    pid: int
    roles: list[str]
    rpc_url: str
    data_dir: str
    api_port: int | None

    def path(self, base: Path) -> Path:
        return base / "nodes" / f"{self.pid}.json"

    def write(self, base: Path) -> None:
        self.path(base).parent.mkdir(parents=True, exist_ok=True)
        self.path(base).write_text(json.dumps(asdict(self)) + "\n")


def node_records(base: Path) -> list[tuple[NodeRecord, bool]]:
    """Every node recorded under ``base`` with whether it still runs; records of nodes long gone are dropped."""
    out = []
    for path in sorted((base / "nodes").glob("*.json")):
        try:
            record = NodeRecord(**json.loads(path.read_text()))
        except (ValueError, TypeError):
            path.unlink(missing_ok=True)  # a torn write of a crashed node: nothing to show
            continue
        running = alive(record.pid)
        if not running:
            path.unlink(missing_ok=True)  # shown once as stopped, then forgotten
        out.append((record, running))
    return out
