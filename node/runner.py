"""Assembling a node from its settings: keys, chain, store, state, roles; then running it."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from web3 import Web3

from node.api import serve_in_background
from node.chain.build import Artifact, load_artifact
from node.chain.confirmations import Confirmations, for_chain
from node.chain.contract import TaskMarket
from node.chain.deployment import Deployment
from node.chain.rpc import TRANSIENT, UNREACHABLE, connect, rpc_requests
from node.config import NodeSettings
from node.daemon import Daemon, Role
from node.errors import ChainReplaced, ChainUnreachable, ConfigError, DeploymentNotFound, StoreError
from node.keys import load_account, store_token
from node.metrics import NodeMetrics
from node.retry import RetryPolicy, retry
from node.roles.context import Services
from node.roles.funds import check_funds
from node.roles.keeper import KeeperRole
from node.roles.miner import MinerRole
from node.roles.owner import OwnerRole
from node.roles.registry import BUILT_IN, load_plugins, registered_role
from node.roles.verifier import VerifierRole
from node.state import NodeState, open_state
from node.store.client import StoreClient

log = logging.getLogger(__name__)


def build_services(settings: NodeSettings, *, restarting: bool = False) -> tuple[Services, Deployment]:
    """``restarting``: the node starts again after its chain was replaced, and waits for the deployment file
    too (a devnet restarting writes it once it has deployed, after its chain already answers)."""
    account = load_account(
        keystore=settings.keystore,
        password_file=settings.password_file,
        password_env=settings.password_env,
        dev_account=settings.dev_account,
    )
    artifact = load_artifact()
    token = store_token(
        settings.store_token_file, settings.store_token_env, flags=("--store-token-file", "store_token_env")
    )
    settings = _fetch_deployment(settings, token)
    w3, deployment, confirmations = _wait_for_chain(settings, artifact, wait_for_file=restarting)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    state = open_state(settings.data_dir / "state.sqlite", deployment.identity(w3))
    _bind_to_account(state, account.address, settings.data_dir)
    market = TaskMarket.for_account(
        w3, deployment.address, artifact, account, journal=state, receipt_timeout_s=settings.receipt_timeout_s
    )
    store = StoreClient.from_endpoints(settings.store, token=token, put_replicas=settings.put_replicas)
    metrics = NodeMetrics()
    metrics.rpc_requests.set_function(lambda: rpc_requests(w3))
    services = Services(
        settings=settings, market=market, store=store, state=state, metrics=metrics, confirmations=confirmations
    )
    return services, deployment


def _fetch_deployment(settings: NodeSettings, token: str | None) -> NodeSettings:
    """With ``deployment_from``: the deployment file fetched from its URL (retried while the server does not answer,
    for ``chain_wait_s``) or from the node's stores by CID (its bytes checked against the CID), written to
    ``data_dir/deployment.json``, and the settings pointing there. The chain checks it as any deployment file
    (its chain id, genesis, code) before the node uses it."""
    source = settings.deployment_from
    if source is None:
        return settings
    if source.startswith(("http://", "https://")):
        import requests

        def fetch() -> bytes:
            answer = requests.get(source, timeout=30)
            if answer.status_code == 404:
                raise DeploymentNotFound(f"--deployment-from {source}: not found (404)")
            answer.raise_for_status()
            return answer.content

        try:
            data = retry(
                fetch,
                retry_if=lambda err: isinstance(err, requests.RequestException),
                policy=RetryPolicy(attempts=None, base_delay_s=0.5, max_delay_s=5.0),
                deadline_s=settings.chain_wait_s,
            )
        except requests.RequestException as err:
            raise DeploymentNotFound(f"--deployment-from {source}: {type(err).__name__}: {err}") from err
    else:
        try:
            data = StoreClient.from_endpoints(settings.store, token=token).get(source)
        except (ValueError, StoreError) as err:
            raise DeploymentNotFound(f"--deployment-from {source}: not a CID the stores hold: {err}") from err
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    target = settings.data_dir / "deployment.json"
    target.write_bytes(data)
    Deployment.read(target)  # a file that is not a deployment is refused here, naming it
    log.info("deployment fetched", extra={"source": source, "written_to": str(target)})
    return settings.model_copy(update={"deployment": target})


def _bind_to_account(state: NodeState, address: str, data_dir: Path) -> None:
    """A node's state is one account's: its vote salts, its work and its nonces. Two nodes of different accounts
    on one data dir would reveal each other's votes (refused, and the real owner's reveal blocked until its
    deadline: it is slashed). Refused at start, naming the fix."""
    owner = state.get_meta("account")
    if owner is None:
        state.set_meta("account", address)
    elif owner.lower() != address.lower():
        state.close()
        raise ConfigError(
            f"--data-dir {data_dir} holds the state of account {owner}, not {address}: "
            "give each node its own --data-dir"
        )


def _wait_for_chain(
    settings: NodeSettings, artifact: Artifact, *, wait_for_file: bool
) -> tuple[Web3, Deployment, Confirmations]:
    """Connects and checks the deployment, retrying for ``chain_wait_s`` (said once, with the bound) while the
    chain does not answer or does not hold the contract yet (a devnet being restarted deploys after it starts);
    the deployment file is read again on every try, since the restart rewrites it."""
    if not wait_for_file:
        Deployment.read(settings.deployment)  # no file at all is a configuration error: at once, not after a wait

    def connect_and_check() -> tuple[Web3, Deployment, Confirmations]:
        deployment = Deployment.read(settings.deployment)
        w3 = connect(settings.rpc_url, expected_chain_id=deployment.chain_id)
        deployment.check(w3, artifact)
        return w3, deployment, for_chain(w3, settings.confirmations)  # how deep a view is: asked of this chain

    def say_once(attempt: int, err: Exception) -> None:
        if attempt == 1:
            log.warning(
                "waiting for the chain",
                extra={"rpc": settings.rpc_url, "for_up_to_s": settings.chain_wait_s, "error": str(err)},
            )

    try:
        return retry(
            connect_and_check,
            retry_if=lambda err: isinstance(err, (ChainUnreachable, DeploymentNotFound, *TRANSIENT)),
            policy=RetryPolicy(attempts=None, base_delay_s=0.5, max_delay_s=2.0),
            deadline_s=settings.chain_wait_s,
            on_retry=say_once,
        )
    except (ChainUnreachable, DeploymentNotFound):
        raise
    except TRANSIENT as err:
        raise ChainUnreachable(settings.rpc_url, type(err).__name__) from err


def build_roles(services: Services) -> list[Role]:
    """The node's roles: the built-in ones by name, then any a plugin registered (``--plugin``)."""
    load_plugins(services.settings.plugins)
    roles = services.settings.roles
    out: list[Role] = []
    # The verifier first: in a node that also trains, a cycle sends its due commits and reveals before training.
    if "verifier" in roles:
        out.append(VerifierRole(services))
    if "miner" in roles or "aggregator" in roles:
        out.append(MinerRole(services, train="miner" in roles, aggregate="aggregator" in roles))
    if "keeper" in roles:
        out.append(KeeperRole(services))
    if "owner" in roles:
        out.append(OwnerRole(services))
    for name in roles:
        if name not in BUILT_IN:
            role = registered_role(name)(services)
            log.warning("this node runs a plugin role", extra={"role": name})
            out.append(role)
    return out


Follow = Callable[[], NodeSettings | None]


def run_node(settings: NodeSettings, stop: threading.Event | None = None, *, follow: Follow | None = None) -> None:
    """Runs the node until SIGINT/SIGTERM (or ``stop``, when given: then no signal handler is installed).

    A chain replaced under the running node (a devnet restarted) is not an exit: the node starts again against
    the new chain, and its state of the old one is moved aside (see :func:`node.state.open_state`).
    ``follow``: the settings as they resolve now, when the chain and store can move (a node that took the running
    devnet's); during an outage the node asks it, and starts again where they point once they point elsewhere."""
    stop = stop or _stop_on_signals()
    restarting = False
    while not stop.is_set():
        try:
            _run_once(settings, stop, _moved(settings, follow), restarting=restarting)
            return
        except UNREACHABLE as err:  # gone while starting (again): the same exit as a chain gone while running
            if isinstance(err, ChainUnreachable):
                raise
            raise ChainUnreachable(settings.rpc_url, f"{type(err).__name__} while starting") from err
        except ChainReplaced as err:
            log.warning(
                "the chain was replaced under the node: starting again against the new one", extra={"error": str(err)}
            )
            settings = (follow() if follow is not None else None) or settings
            restarting = True


def _moved(settings: NodeSettings, follow: Follow | None) -> Callable[[], str | None] | None:
    if follow is None:
        return None

    def where() -> str | None:
        now = follow()
        if now is None or (now.rpc_url, now.store) == (settings.rpc_url, settings.store):
            return None
        return f"{now.rpc_url} (store {', '.join(now.store)})"

    return where


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping after the current step", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _run_once(
    settings: NodeSettings, stop: threading.Event, moved: Callable[[], str | None] | None, *, restarting: bool
) -> None:
    services, deployment = build_services(settings, restarting=restarting)
    if not isinstance(services.market, TaskMarket):  # pragma: no cover - build_services builds a chain client
        raise ConfigError("the node's market is not a chain client")
    w3 = services.market.w3
    # At start: a node that can pay for none of its work says so and stops (its reads ride out an outage as the
    # wait for the chain above did: a node restarted as the chain goes away waits for it, not dies).
    retry(
        lambda: check_funds(services, settings.roles),
        retry_if=lambda err: isinstance(err, (*UNREACHABLE, *TRANSIENT)),
        policy=RetryPolicy(attempts=None, base_delay_s=0.5, max_delay_s=2.0),
        deadline_s=settings.chain_wait_s,
    )
    roles = build_roles(services)
    daemon = Daemon(
        services,
        roles,
        start_block=deployment.block_number,
        stop=stop,
        chain_identity=lambda: deployment.identity(w3),
        moved=moved,
    )
    server = None
    if settings.api_port is not None:
        server = serve_in_background(daemon, settings.api_host, settings.api_port)
    try:
        daemon.run()
    finally:
        if server is not None:
            server.stop()
        for role in roles:  # roles that serve (the owner's step protocol) free their port for a restart
            close = getattr(role, "close", None)
            if close is not None:
                close()
        services.state.close()
