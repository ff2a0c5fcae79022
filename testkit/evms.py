"""Chains other than Anvil, started from node_modules as the tests run them, with Anvil's chain id and development
accounts: Ganache 7.9.2 (npm ``ganache``; its newest hardfork is Shanghai, so it runs the contracts' Shanghai
build) and Hardhat 3's node (npm ``hardhat``, on npm's Node 22 with EDR's native binding; the Cancun build)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from node.chain.build import Artifact, repo_root
from node.chain.deploy import deploy_market
from node.chain.devnet import DEV_CHAIN_ID, DEV_MNEMONIC, dev_accounts, free_port, wait_for_rpc
from node.chain.rpc import connect
from node.chain.tx import Signer
from node.children import stop_child, tied_to_parent
from node.errors import ToolchainError
from testkit.chain import UNBONDING_DELAY_S, Chain

ANVIL = "anvil"
GANACHE = "ganache"
HARDHAT = "hardhat"
# The EVMs the end-to-end suite runs on (tests parametrize the `chain` fixture with them).
EVMS = (ANVIL, HARDHAT, GANACHE)
HARDHAT_CONFIG = Path("tools") / "hardhat" / "hardhat.config.mjs"


def find_node_tool(name: str, root: Path | None = None) -> Path:
    """An npm package's command under node_modules/.bin (``make test`` installs it)."""
    path = (root or repo_root()) / "node_modules" / ".bin" / name
    if not path.exists():
        raise ToolchainError(f"{path} is missing: run `make install` (npm installs {name})")
    return path


def ganache_command(port: int, *, accounts: int, block_time_s: float) -> list[str]:
    """Ganache with Anvil's chain id, mnemonic and balances, mining a block every ``block_time_s``: Ganache's
    pending block is its latest, so a draw (which needs a block after the submission's) is only simulated as ready
    once another block is mined, and an instamine chain with no traffic would mine none."""
    node = shutil.which("node")
    if node is None:
        raise ToolchainError("node (Node.js) is not on PATH: Ganache runs on it")
    return [
        node, str(find_node_tool("ganache")),
        "--server.host", "127.0.0.1",
        "--server.port", str(port),
        "--chain.chainId", str(DEV_CHAIN_ID),
        "--chain.hardfork", "shanghai",
        "--wallet.mnemonic", DEV_MNEMONIC,
        "--wallet.totalAccounts", str(accounts),
        "--wallet.defaultBalance", "10000",
        "--miner.blockTime", str(block_time_s),
        "--logging.quiet",
    ]  # fmt: skip


def hardhat_command(port: int) -> list[str]:
    """Hardhat 3's node on npm's Node (Hardhat needs Node 22.13 or newer), automining as Anvil does."""
    root = repo_root()
    return [
        str(find_node_tool("node")), str(find_node_tool("hardhat")),
        "--config", str(root / HARDHAT_CONFIG),
        "node", "--hostname", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip


@contextlib.contextmanager
def ganache(log_path: Path, *, accounts: int = 20, block_time_s: float = 1.0) -> Iterator[str]:
    """A Ganache process on a free port for the block; yields its RPC URL."""
    port = free_port()
    with _running(ganache_command(port, accounts=accounts, block_time_s=block_time_s), port, log_path, {}):
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def hardhat(log_path: Path, *, accounts: int = 20) -> Iterator[str]:
    """A Hardhat node on a free port for the block; yields its RPC URL."""
    port = free_port()
    env = {"DMLNET_HARDHAT_ACCOUNTS": str(accounts), "DMLNET_HARDHAT_DIR": str(log_path.parent / "hardhat")}
    with _running(hardhat_command(port), port, log_path, env):
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def _running(cmd: list[str], port: int, log_path: Path, env: dict[str, str]) -> Iterator[None]:
    """The chain process, ready when it answers on ``port``; always stopped on leaving."""
    with log_path.open("ab") as sink:
        process = subprocess.Popen(
            tied_to_parent(cmd),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=log_path.parent,  # nothing it writes lands in the checkout
            env={**os.environ, **env},
        )
    try:
        wait_for_rpc(f"http://127.0.0.1:{port}", 60.0, process)
        yield
    finally:
        stop_child(process)


def deployed_chain(rpc_url: str, artifact: Artifact, *, accounts: int = 20) -> Chain:
    """The market deployed on the chain at ``rpc_url`` (the build it runs, chosen by probing it)."""
    w3 = connect(rpc_url)
    keys = dev_accounts(accounts)
    deployment = deploy_market(Signer(w3, keys[0]), artifact, unbonding_delay_s=UNBONDING_DELAY_S)
    return Chain(rpc_url, w3, artifact, deployment, keys)
