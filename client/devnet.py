"""``dml devnet up|down|status``: a local chain with TaskMarket deployed, kept under one folder."""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from client.home import deployment_file, devnet_dir, devnet_file
from node.chain.build import load_artifact
from node.chain.deploy import Deployment, deploy_market
from node.chain.devnet import DEV_CHAIN_ID, Devnet, dev_accounts, rpc_chain_id
from node.chain.rpc import connect
from node.chain.tx import Signer
from node.errors import ChainUnreachable, ConfigError

DEV_UNBONDING_DELAY_S = 600


@dataclass(frozen=True, slots=True)
class DevnetRecord:
    rpc_url: str
    chain_id: int
    pid: int
    started_at: float

    @classmethod
    def read(cls, path: Path) -> DevnetRecord | None:
        if not path.exists():
            return None
        document = json.loads(path.read_text())
        return cls(**document)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def up(base: Path, *, port: int | None = None, accounts: int = 20) -> tuple[DevnetRecord, Deployment]:
    """Starts Anvil in the background and deploys TaskMarket; idempotent while the devnet is running."""
    record = DevnetRecord.read(devnet_file(base))
    if record is not None and _alive(record.pid):
        try:
            rpc_chain_id(record.rpc_url)
            return record, Deployment.read(deployment_file(base))
        except OSError:
            pass
    folder = devnet_dir(base)
    folder.mkdir(parents=True, exist_ok=True)
    devnet = Devnet(port=port, accounts=accounts, log_path=folder / "anvil.log")
    info = devnet.start()
    try:
        w3 = connect(info.rpc_url)
        deployment = deploy_market(Signer(w3, dev_accounts(1)[0]), load_artifact(), DEV_UNBONDING_DELAY_S)
    except Exception:
        devnet.stop()
        raise
    record = DevnetRecord(rpc_url=info.rpc_url, chain_id=info.chain_id, pid=devnet.detach(), started_at=time.time())
    record.write(devnet_file(base))
    deployment.write(deployment_file(base))
    return record, deployment


def down(base: Path, grace_s: float = 5.0) -> bool:
    """Stops the devnet this folder started; returns whether one was running."""
    path = devnet_file(base)
    record = DevnetRecord.read(path)
    if record is None:
        return False
    running = _alive(record.pid)
    if running:
        os.kill(record.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while _alive(record.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(record.pid):
            os.kill(record.pid, signal.SIGKILL)
    path.unlink()
    deployment_file(base).unlink(missing_ok=True)
    return running


def status(base: Path) -> tuple[DevnetRecord, int]:
    """The running devnet and its head block; raises when there is none."""
    record = DevnetRecord.read(devnet_file(base))
    if record is None:
        raise ConfigError(f"no devnet recorded under {devnet_dir(base)}: start one with `dml devnet up`")
    if not _alive(record.pid):
        raise ChainUnreachable(record.rpc_url, f"anvil (pid {record.pid}) is not running")
    w3 = connect(record.rpc_url, expected_chain_id=DEV_CHAIN_ID)
    return record, int(w3.eth.block_number)
