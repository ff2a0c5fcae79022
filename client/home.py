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


@dataclass(frozen=True, slots=True)
class DevnetRecord:
    rpc_url: str
    chain_id: int
    pid: int
    started_at: float
    store_url: str = ""
    store_pid: int = 0

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
