"""``dml devnet up|down|status``: a local chain with TaskMarket deployed, kept under one folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

from client.home import DevnetRecord, alive, chain_state_file, deployment_file, devnet_dir, devnet_file, ports_file
from node.chain.deployment import Deployment
from node.chain.jsonrpc import JsonRpc
from node.children import tied_to_parent as tied
from node.errors import ChainUnreachable, ConfigError, WrongChain

# The chain and deployment modules import web3 and eth_account: `up` imports them when it runs, so that
# `dml devnet status` and `down` answer at once.

# Longer than a default task can still slash: claim + 3 appeal levels × (commit + reveal + challenge window).
DEV_UNBONDING_DELAY_S = 2 * 3600


def up(
    base: Path,
    *,
    port: int | None = None,
    accounts: int = 20,
    explorer: bool = False,
    block_time_s: float | None = None,
    fresh: bool = False,
) -> tuple[DevnetRecord, Deployment]:
    """Starts Anvil in the background and deploys TaskMarket (with ``explorer``, the explorer too); idempotent
    while the devnet is running. The chain is kept across ``down``/``up`` (and a crash, up to its last write): it is
    resumed with its deployment, unless ``fresh`` (a new chain, deployed anew; the old one is deleted).
    ``block_time_s``: a block on a timer as well as on each transaction (a chain that moves while idle, as a node at
    ``--confirmations N`` needs)."""
    from node.chain.build import load_artifact
    from node.chain.deploy import deploy_market
    from node.chain.devnet import Devnet, dev_accounts, free_port
    from node.chain.rpc import connect
    from node.chain.tx import Signer

    record = DevnetRecord.read(devnet_file(base))
    if record is not None and alive(record.pid):
        try:
            JsonRpc(record.rpc_url, timeout_s=2.0).chain_id()
            if explorer:
                record = _with_explorer(base, record)
            return record, Deployment.read(deployment_file(base))
        except ChainUnreachable:
            pass
    if record is not None:  # a devnet whose chain died (a crash): its store would hold the port the new one takes
        _terminate(record.store_pid, 5.0)
    folder = devnet_dir(base)
    folder.mkdir(parents=True, exist_ok=True)
    chain_file = chain_state_file(base)
    if fresh or not deployment_file(base).exists():  # a kept chain is resumed with its deployment, or not at all
        chain_file.unlink(missing_ok=True)
        deployment_file(base).unlink(missing_ok=True)
    last = _last_ports(base)
    devnet = Devnet(
        port=port or free_port(last.get("rpc")),
        accounts=accounts,
        log_path=folder / "anvil.log",
        block_time_s=block_time_s,
        mixed_mining=True,
        state_path=chain_file,
    )
    info = devnet.start()
    try:
        w3 = connect(info.rpc_url)
        if devnet.resumed:
            deployment = Deployment.read(deployment_file(base))
            deployment.check(w3, load_artifact())
        else:
            deployment = deploy_market(Signer(w3, dev_accounts(1)[0]), load_artifact(), DEV_UNBONDING_DELAY_S)
    except Exception:
        devnet.stop()
        raise
    try:
        store_url, store_pid = _start_store(folder, port=free_port(last.get("store")))
    except Exception:
        devnet.stop()
        raise
    # An explorer still running from before the crash keeps running: it finds the new chain by itself.
    kept = record is not None and alive(record.explorer_pid)
    record = DevnetRecord(
        rpc_url=info.rpc_url,
        chain_id=info.chain_id,
        pid=devnet.detach(),
        started_at=time.time(),
        store_url=store_url,
        store_pid=store_pid,
        explorer_url=record.explorer_url if kept and record is not None else "",
        explorer_pid=record.explorer_pid if kept and record is not None else 0,
        resumed=devnet.resumed,
    )
    record.write(devnet_file(base))
    deployment.write(deployment_file(base))
    ports_file(base).write_text(json.dumps({"rpc": info.port, "store": int(store_url.rsplit(":", 1)[1])}) + "\n")
    if explorer:
        record = _with_explorer(base, record)
    return record, deployment


def _with_explorer(base: Path, record: DevnetRecord) -> DevnetRecord:
    """The record with a running explorer: the one it names, or one started now and recorded."""
    if record.explorer_pid and alive(record.explorer_pid):
        return record
    url, pid = start_explorer(base)
    record = replace(record, explorer_url=url, explorer_pid=pid)
    record.write(devnet_file(base))
    return record


def _last_ports(base: Path) -> dict[str, int]:
    try:
        document = json.loads(ports_file(base).read_text())
        return {k: int(v) for k, v in document.items() if k in ("rpc", "store")}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}  # none yet, or unreadable: any free ports will do


def _start_store(folder: Path, *, port: int | None = None, tied_to_parent: bool = False) -> tuple[str, int]:
    """A store server in the background, its objects under the devnet folder; ready when /health answers.
    ``tied_to_parent``: it stops when this process dies (the demo's), instead of outliving it (the devnet's)."""
    from node.chain.devnet import free_port

    port = port or free_port()
    cmd = [sys.executable, "-m", "client.cli", "store", "serve", "--dir", str(folder / "objects"), "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    return url, _start_background(cmd, folder / "store.log", url, "the store server", tied_to_parent=tied_to_parent)


def start_explorer(base: Path, *, port: int | None = None, tied_to_parent: bool = False) -> tuple[str, int]:
    """``dml explorer`` over the devnet of ``base`` in the background (its index under ``base``); ready when it
    serves. It follows the devnet: a restarted chain is found again, a new one indexed afresh."""
    from client.explorer_cmds import DEFAULT_PORT
    from node.chain.devnet import free_port

    port = port or free_port(DEFAULT_PORT)
    cmd = [sys.executable, "-m", "client.cli", "explorer", "--home", str(base), "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    log = devnet_dir(base) / "explorer.log"
    return url, _start_background(cmd, log, url, "the explorer", tied_to_parent=tied_to_parent, any_status=True)


def _start_background(
    cmd: list[str], log_path: Path, url: str, what: str, *, tied_to_parent: bool, any_status: bool = False
) -> int:
    """Starts ``cmd`` in its own session, output to ``log_path``; returns its pid once ``url``/health answers
    (``any_status``: any HTTP answer will do, e.g. an explorer still waiting for its chain says 503)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    process = subprocess.Popen(
        tied(cmd) if tied_to_parent else cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ConfigError(f"{what} exited (see {log_path})")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                if response.status == 200:
                    return process.pid
        except urllib.error.HTTPError:
            if any_status:
                return process.pid
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    raise ConfigError(f"{what} did not answer within 30s (see {log_path})")


def _terminate(pid: int, grace_s: float) -> bool:
    if not pid or not alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
    return True


def down(base: Path, grace_s: float = 5.0) -> bool:
    """Stops the devnet this folder started; returns whether one was running."""
    path = devnet_file(base)
    record = DevnetRecord.read(path)
    if record is None:
        return False
    running = _terminate(record.pid, grace_s)
    _terminate(record.store_pid, grace_s)
    _terminate(record.explorer_pid, grace_s)
    path.unlink()  # the chain (chain-state.json, written by Anvil as it stops) and its deployment file are kept
    return running


def status(base: Path) -> tuple[DevnetRecord, int]:
    """The running devnet and its head block; raises when there is none."""
    record = DevnetRecord.read(devnet_file(base))
    if record is None:
        raise ConfigError(f"no devnet recorded under {devnet_dir(base)}: start one with `dml devnet up`")
    if not alive(record.pid):
        raise ChainUnreachable(record.rpc_url, f"anvil (pid {record.pid}) is not running")
    rpc = JsonRpc(record.rpc_url)
    if (chain_id := rpc.chain_id()) != record.chain_id:
        raise WrongChain(record.chain_id, chain_id)
    return record, int(rpc.request("eth_blockNumber"), 16)


def store_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False
