"""Where a CLI command finds the chain, the contract, the store and the account to sign with.

Flags first; otherwise the devnet recorded under the home folder (``dml devnet up``), whose owner account is
Anvil's dev account 1 unless another key is given.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from client.home import DevnetRecord, deployment_file, home, running_devnet
from node.chain.deployment import Deployment
from node.errors import ConfigError, NotFound

if TYPE_CHECKING:
    from node.chain.contract import TaskMarket
    from node.chain.views import MarketViews
    from node.store.client import StoreClient

DEVNET_OWNER_ACCOUNT = 1


@dataclass(frozen=True, slots=True)
class Session:
    market: TaskMarket
    store: StoreClient
    deployment: Deployment
    rpc_url: str
    store_endpoints: list[str]


@dataclass(frozen=True, slots=True)
class Connection:
    home: Path | None = None
    rpc: str | None = None
    deployment: Path | None = None
    store: list[str] | None = None
    dev_account: int | None = None
    keystore: Path | None = None
    password_file: Path | None = None
    password_env: str | None = None


# A command's connection when none of its options is given (the devnet's chain, store and owner account): the
# default the commands declare, which :func:`client.options.connected` replaces by what the options say.
NO_FLAGS = Connection()


@dataclass(frozen=True, slots=True)
class Reader:
    """Views only, over plain JSON-RPC: what a command that just reads needs, without web3's import time."""

    views: MarketViews
    deployment: Deployment
    rpc_url: str


def chain_of(c: Connection) -> tuple[Path, DevnetRecord | None, str, Deployment]:
    """The home folder, the running devnet (if any), the RPC URL and the deployment a command uses: flags first,
    the devnet's otherwise."""
    base = home(c.home)
    record = running_devnet(base)
    rpc_url = c.rpc or (record.rpc_url if record else None)
    if rpc_url is None:
        raise ConfigError("no --rpc given and no devnet running here: start one with `dml devnet up`")
    return base, record, rpc_url, Deployment.read(c.deployment or deployment_file(base))


def _say_taken(record: DevnetRecord | None, taken: list[str]) -> None:
    if record is not None and taken:  # said on stderr: stdout stays what the command answers
        print(f"using the devnet's {' and '.join(taken)}", file=sys.stderr)


def open_reader(c: Connection) -> Reader:
    from node.chain.build import load_artifact
    from node.chain.jsonrpc import JsonRpc
    from node.chain.views import RpcViews

    _, record, rpc_url, deployment = chain_of(c)
    _say_taken(record, [f"chain {rpc_url}"] if c.rpc is None else [])
    artifact = load_artifact()
    rpc = JsonRpc(rpc_url)
    deployment.check_answers(rpc.chain_id(), rpc.code_at(deployment.address), artifact, genesis=rpc.genesis_hash())
    return Reader(RpcViews(rpc, deployment.address, artifact.abi), deployment, rpc_url)


def open_session(c: Connection, *, sign: bool) -> Session:
    from node.chain.build import load_artifact
    from node.chain.contract import TaskMarket
    from node.chain.rpc import connect
    from node.keys import load_account
    from node.store.client import StoreClient

    _, record, rpc_url, deployment = chain_of(c)
    endpoints = c.store or ([record.store_url] if record and record.store_url else [])
    taken = [f"chain {rpc_url}"] if c.rpc is None else []
    taken += [f"store {endpoints[0]}"] if c.store is None and endpoints else []
    _say_taken(record, taken)
    if not endpoints:
        raise ConfigError("no --store given and no devnet store here: start one with `dml devnet up`")
    artifact = load_artifact()
    w3 = connect(rpc_url, expected_chain_id=deployment.chain_id)
    deployment.check(w3, artifact)
    if not sign:
        market = TaskMarket(w3, deployment.address, artifact)
    else:
        dev = c.dev_account
        if c.keystore is None and dev is None:
            if record is None:
                raise ConfigError("give --keystore (with --password-file or --password-env) or --dev-account")
            dev = DEVNET_OWNER_ACCOUNT
        account = load_account(
            keystore=c.keystore, password_file=c.password_file, password_env=c.password_env, dev_account=dev
        )
        market = TaskMarket.for_account(w3, deployment.address, artifact, account)
    return Session(market, StoreClient.from_endpoints(endpoints), deployment, rpc_url, endpoints)


def require_task(views: MarketViews, task_id: int) -> None:
    count = views.task_count()
    if not 1 <= task_id <= count:
        raise NotFound(f"no task {task_id} (there are {count})")
