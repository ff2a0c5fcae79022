"""A local Anvil chain: started from node_modules on a free port, ready when it answers ``eth_chainId``.

Used by ``dml devnet up|down`` and by the tests' fixtures. Anvil's well-known development accounts are derived
from its public mnemonic; they hold test ETH on the devnet only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from eth_account import Account
from eth_account.signers.local import LocalAccount

from node.chain.jsonrpc import JsonRpc
from node.children import stop_child, tied_to_parent
from node.errors import ChainUnreachable, ToolchainError
from node.retry import RetryPolicy, retry

log = logging.getLogger(__name__)

DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_CHAIN_ID = 31337
# Seconds between Anvil's writes of a kept chain: a devnet killed outright loses at most this much of it.
STATE_INTERVAL_S = 5


def dev_accounts(count: int = 10) -> list[LocalAccount]:
    """Anvil's default accounts (public keys of a public mnemonic: devnet only)."""
    Account.enable_unaudited_hdwallet_features()
    return [Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(count)]


def find_anvil(root: Path | None = None) -> Path:
    """The Anvil binary: ``DMLNET_ANVIL``, then npm's platform package under node_modules, then PATH."""
    override = os.environ.get("DMLNET_ANVIL")
    if override:
        return Path(override)
    base = root or Path(__file__).resolve().parents[2]
    machine = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    system = platform.system().lower()
    candidates = [
        base / "node_modules" / "@foundry-rs" / f"anvil-{system}-{machine}" / "bin" / "anvil",
        base / "node_modules" / ".bin" / "anvil",
    ]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise ToolchainError("anvil not found: run `npm ci` in the dmlnet checkout (it installs @foundry-rs/anvil)")


def free_port(preferred: int | None = None) -> int:
    """``preferred`` when nothing listens there (a devnet started again keeps its address), else any free port."""
    if preferred:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            # As a server binds it: connections of the last process left in TIME_WAIT do not hold the port.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_rpc(rpc_url: str, deadline_s: float = 30.0, process: subprocess.Popen[bytes] | None = None) -> int:
    """Polls ``eth_chainId`` until it answers or the deadline passes; returns the chain id."""

    rpc = JsonRpc(rpc_url, timeout_s=2.0)

    def exited() -> bool:
        return process is not None and process.poll() is not None

    def ask() -> int:
        if exited():
            raise ToolchainError(f"anvil exited with code {process.returncode if process else None}")
        return rpc.chain_id()

    try:
        return retry(
            ask,
            retry_if=lambda err: isinstance(err, ChainUnreachable),
            policy=RetryPolicy(attempts=None, base_delay_s=0.05, max_delay_s=0.5),
            deadline_s=deadline_s,
        )
    except ToolchainError as err:
        raise ChainUnreachable(rpc_url, str(err)) from err
    except ChainUnreachable as err:
        raise ChainUnreachable(rpc_url, f"no answer to eth_chainId within {deadline_s:.0f}s: {err}") from err


@dataclass(frozen=True, slots=True)
class DevnetInfo:
    rpc_url: str
    chain_id: int
    port: int
    pid: int


class _GenesisClock:
    """Now, in seconds, but never the same twice in this process: two devnets started within one second would
    otherwise have the same genesis block, and a node could not tell the second chain from the first."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._last = max(int(time.time()), self._last + 1)
            return self._last


_GENESIS = _GenesisClock()


class Devnet:
    """One Anvil process; a context manager that always stops what it started."""

    def __init__(
        self,
        *,
        port: int | None = None,
        chain_id: int = DEV_CHAIN_ID,
        accounts: int = 20,
        balance_eth: int = 10_000,
        block_time_s: float | None = None,
        log_path: Path | None = None,
        anvil: Path | None = None,
        tied_to_parent: bool = False,
        hardfork: str | None = None,
        mixed_mining: bool = False,
        state_path: Path | None = None,
    ) -> None:
        self._port = port or free_port()
        self._mixed_mining = mixed_mining  # with block_time_s: on each transaction too, not only on the timer
        # Where Anvil keeps its chain (blocks, state) across restarts: loaded at start when there, written every
        # STATE_INTERVAL_S and at a clean exit. None: a new chain every start.
        self._state_path = state_path
        self.resumed = False  # whether the last start loaded a kept chain
        self._tied_to_parent = tied_to_parent
        self._chain_id = chain_id
        self._accounts = accounts
        self._balance_eth = balance_eth
        self._block_time_s = block_time_s
        self._log_path = log_path
        self._anvil = anvil
        self._hardfork = hardfork  # Anvil's newest by default; e.g. "shanghai" for a chain before transient storage
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self, deadline_s: float = 30.0) -> DevnetInfo:
        if self._process is not None:
            raise ToolchainError("this devnet is already running")
        binary = self._anvil or find_anvil()
        cmd = [
            str(binary),
            "--host", "127.0.0.1",
            "--port", str(self._port),
            "--chain-id", str(self._chain_id),
            "--accounts", str(self._accounts),
            "--balance", str(self._balance_eth),
            "--mnemonic", DEV_MNEMONIC,
        ]  # fmt: skip
        if self._block_time_s is not None:
            cmd += ["--block-time", str(self._block_time_s)]
            if self._mixed_mining:
                cmd += ["--mixed-mining"]
        if self._hardfork is not None:
            cmd += ["--hardfork", self._hardfork]
        self.resumed = self._state_path is not None and self._state_path.exists()
        if self._state_path is not None:
            cmd += ["--state", str(self._state_path), "--state-interval", str(STATE_INTERVAL_S)]
        if not self.resumed:  # a new chain: its own genesis time (a kept chain's clock goes on from its blocks)
            cmd += ["--timestamp", str(_GENESIS.next())]
        sink = self._log_path.open("ab") if self._log_path else subprocess.DEVNULL
        try:
            self._process = subprocess.Popen(
                tied_to_parent(cmd) if self._tied_to_parent else cmd,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal reaches the owner, which stops Anvil last
            )
        finally:
            if self._log_path and not isinstance(sink, int):
                sink.close()
        try:
            chain_id = wait_for_rpc(self.rpc_url, deadline_s, self._process)
        except ChainUnreachable as err:
            self.stop()
            if self.resumed:
                raise ToolchainError(
                    f"anvil could not load the kept chain {self._state_path}: `dml devnet up --fresh` starts a new one"
                    f" (see {self._log_path})"
                ) from err
            raise
        log.info("devnet started", extra={"rpc_url": self.rpc_url, "pid": self._process.pid})
        return DevnetInfo(rpc_url=self.rpc_url, chain_id=chain_id, port=self._port, pid=self._process.pid)

    def detach(self) -> int:
        """Leaves Anvil running after this object is gone (``dml devnet up``); returns its pid."""
        if self._process is None:
            raise ToolchainError("this devnet is not running")
        pid = self._process.pid
        self._process = None
        return pid

    def stop(self, grace_s: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is not None:
            stop_child(process, grace_s)

    def __enter__(self) -> Devnet:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with contextlib.suppress(Exception):
            self.stop()
