"""``dml node run``, ``dml miner run``, ``dml verifier run`` and ``dml account new|import|list``."""

from __future__ import annotations

import getpass
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from client.home import NodeRecord, deployment_file, home, running_devnet
from client.options import (
    DeploymentOpt,
    DevOpt,
    HomeOpt,
    JsonOpt,
    KeystoreOpt,
    PwEnvOpt,
    PwFileOpt,
    RpcOpt,
    StoreOpt,
    cli_app,
    connected,
)
from client.session import NO_FLAGS, Connection
from node.errors import AuditFailed, ConfigError, NodeError, NotFound

if TYPE_CHECKING:
    from node.config import NodeSettings

log = logging.getLogger(__name__)

console = Console()
account_app = cli_app("Encrypted keystore accounts.")
miner_app = cli_app("The miner node.")
verifier_app = cli_app("The verifier node.")
node_app = cli_app("A node holding several roles.")

KEYSTORE_DIR = Path(".dmlnet/keystore")


def _node_command(default_roles: str, summary: str) -> Any:
    def command(
        roles: Annotated[
            str, typer.Option(help="comma-separated: miner, verifier, aggregator, keeper, or a plugin's roles")
        ] = default_roles,
        config: Annotated[Path | None, typer.Option(help="TOML file: keys at the top level or in a node table")] = None,
        rpc: RpcOpt = None,
        deployment: DeploymentOpt = None,
        store: StoreOpt = None,
        data_dir: Annotated[Path | None, typer.Option(help="where the node keeps its state")] = None,
        keystore: KeystoreOpt = None,
        password_file: PwFileOpt = None,
        password_env: PwEnvOpt = None,
        dev_account: DevOpt = None,
        poll_interval: Annotated[float | None, typer.Option(help="seconds between cycles")] = None,
        api_port: Annotated[int | None, typer.Option(help="serve /health, /status, /metrics here")] = None,
        api_host: Annotated[str | None, typer.Option(help="address the API binds (default 127.0.0.1)")] = None,
        owner_port: Annotated[
            int | None, typer.Option(help="owner role: serve split training's step protocol on this port")
        ] = None,
        owner_host: Annotated[
            str | None, typer.Option(help="address the owner's service binds (default 127.0.0.1)")
        ] = None,
        threads: Annotated[
            int | None,
            typer.Option(min=1, max=256, help="torch intra-op threads to train and re-execute (default: every core)"),
        ] = None,
        device: Annotated[
            str | None, typer.Option(help="cpu | cuda | mps: where to train and re-execute (default: the best present)")
        ] = None,
        task: Annotated[list[int] | None, typer.Option(help="serve only these task ids (repeatable)")] = None,
        confirmations: Annotated[
            str | None,
            typer.Option(
                help="act on blocks this deep: auto (0 on a devnet, else the chain's safe block or 12), safe, "
                "finalized, or a block count"
            ),
        ] = None,
        stake_cap: Annotated[
            str | None, typer.Option(help="most this node keeps staked (ETH, or with gwei/wei; default 100)")
        ] = None,
        withdraw_threshold: Annotated[
            str | None, typer.Option(help="withdraw credit above this (ETH, or with gwei/wei; default 1)")
        ] = None,
        watch_budget: Annotated[
            int | None, typer.Option(help="verdicts re-checked per cycle, to challenge wrong ones (default 2)")
        ] = None,
        claim_batch: Annotated[
            int | None,
            typer.Option(help="miners: most units one claim takes, as many as fit the claim timeout (default 1)"),
        ] = None,
        chain_wait: Annotated[
            float | None, typer.Option(help="seconds to wait for the chain at startup (default 120)")
        ] = None,
        cycle_budget: Annotated[
            float | None,
            typer.Option(help="seconds a cycle may take before jobs not started wait for the next (default 600)"),
        ] = None,
        plugin: Annotated[
            list[str] | None, typer.Option(help="module that registers more roles (repeatable; tests, demos)")
        ] = None,
        log_file: Annotated[Path | None, typer.Option(help="append every log line to this file too")] = None,
        deployment_from: Annotated[
            str | None,
            typer.Option(
                help="fetch the deployment file at start from this URL, or this CID in --store (a node "
                "joining from another machine); written to DATA_DIR/deployment.json"
            ),
        ] = None,
        store_token_file: Annotated[
            Path | None, typer.Option(help="file holding the store's write token (e.g. a container secret)")
        ] = None,
    ) -> None:
        from node.config import load_settings
        from node.runner import run_node

        overrides: dict[str, Any] = {
            "roles": [r.strip() for r in roles.split(",") if r.strip()],
            "rpc_url": rpc,
            "deployment": deployment,
            "store": store or None,
            "data_dir": data_dir,
            "keystore": keystore,
            "password_file": password_file,
            "password_env": password_env,
            "dev_account": dev_account,
            "poll_interval_s": poll_interval,
            "api_port": api_port,
            "api_host": api_host,
            "owner_port": owner_port,
            "owner_host": owner_host,
            "threads": threads,
            "device": device,
            "tasks": task or None,
            "confirmations": confirmations,
            "stake_cap_wei": _amount("--stake-cap", stake_cap),
            "withdraw_threshold_wei": _amount("--withdraw-threshold", withdraw_threshold),
            "watch_budget": watch_budget,
            "claim_batch": claim_batch,
            "chain_wait_s": chain_wait,
            "cycle_budget_s": cycle_budget,
            "plugins": plugin or None,
            "log_file": log_file,
            "deployment_from": deployment_from,
            "store_token_file": store_token_file,
        }
        base = home(None)
        given = load_settings(overrides, config)  # a bad setting is refused before anything else happens
        if given.log_file is not None:
            from node.logs import add_log_file

            add_log_file(given.log_file)
        if logging.getLogger().level > logging.INFO:
            logging.getLogger().setLevel(logging.INFO)  # a daemon logs its decisions by default
        settings = with_devnet_defaults(given, base)
        taken = _taken_from_devnet(given, settings)
        if taken:
            log.info("using the devnet running from this folder", extra={"home": str(base), **taken})

        def follow() -> NodeSettings | None:
            """The devnet's chain and store as they are now: a devnet restarted on other ports is followed."""
            now = with_devnet_defaults(given, base)
            return now if running_devnet(base) is not None else None

        record = NodeRecord(
            os.getpid(), settings.roles, settings.rpc_url, str(settings.data_dir.resolve()), settings.api_port
        )
        record.write(base)  # so that `dml devnet status` lists it
        try:
            run_node(settings, follow=follow if taken else None)
        finally:
            record.path(base).unlink(missing_ok=True)

    command.__doc__ = summary
    return command


def _amount(flag: str, text: str | None) -> int | None:
    """An amount flag in wei (None: not given), the same decimal-with-unit form as every amount the CLI takes."""
    if text is None:
        return None
    from client.amounts import parse_amount

    return parse_amount(text, what=flag, allow_zero=True)


def _taken_from_devnet(given: NodeSettings, settings: NodeSettings) -> dict[str, str]:
    return {
        name: str(getattr(settings, name))
        for name in ("rpc_url", "deployment", "store")
        if getattr(settings, name) != getattr(given, name)
    }


def with_devnet_defaults(settings: NodeSettings, base: Path) -> NodeSettings:
    """Chain, deployment and store the node was given nowhere (flag, environment, file) come from the devnet
    running from this folder, when there is one."""
    record = running_devnet(base)
    if record is None:
        return settings
    given = settings.model_fields_set
    update: dict[str, Any] = {}
    if "rpc_url" not in given:
        update["rpc_url"] = record.rpc_url
    if "deployment" not in given:
        update["deployment"] = deployment_file(base)
    if "store" not in given and record.store_url:
        update["store"] = [record.store_url]
    return settings.model_copy(update=update)


node_app.command("run")(
    _node_command("miner,verifier,aggregator,keeper", "Run a node with the given roles until SIGINT/SIGTERM.")
)


@node_app.command("status")
def node_status(
    api: Annotated[
        list[str] | None,
        typer.Option(help="a node's API URL, e.g. http://127.0.0.1:9100 (repeatable; default: nodes run from here)"),
    ] = None,
    home_dir: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """How each running node is, from its own API: health, roles, stake, work in flight, blocks, last cycle, error.
    Exits 50 when a node does not answer or is not ok."""
    from rich.console import Group
    from rich.table import Table

    from client.node_status import ask, lines, local_nodes

    reports = [ask(url) for url in api] if api else local_nodes(home(home_dir))
    if not reports:
        raise NotFound("no running node started from this folder: give --api URL (a node started with --api-port)")
    if as_json:
        from client.json_out import emit

        emit({"nodes": [r.as_json() for r in reports]})
    else:
        for k, report in enumerate(reports):
            table = Table.grid(padding=(0, 2))
            for label, value in lines(report):
                table.add_row(label, value)
            console.print(table if k == 0 else Group("", table))
    bad = [r.where for r in reports if not r.ok]
    if bad:
        raise NodeError(f"{len(bad)} of {len(reports)} nodes not ok: {', '.join(bad)}")


miner_app.command("run")(_node_command("miner", "Claim units, train, publish, submit; get paid."))
verifier_app.command("run")(_node_command("verifier,keeper", "Verify submitted units, vote, finalize; get paid."))


def _password(password_file: Path | None, password_env: str | None, *, confirm: bool) -> str:
    import os

    if password_file is not None:
        return password_file.read_text().rstrip("\n")
    if password_env is not None:
        value = os.environ.get(password_env)
        if value is None:
            raise ConfigError(f"environment variable {password_env} is not set")
        return value
    if not sys.stdin.isatty():
        raise ConfigError("no terminal to ask for a password: give --password-file or --password-env")
    first = getpass.getpass("keystore password: ")
    if confirm and getpass.getpass("again: ") != first:
        raise ConfigError("the passwords differ")
    return first


PasswordFile = Annotated[Path | None, typer.Option(help="file holding the password")]
PasswordEnv = Annotated[str | None, typer.Option(help="environment variable holding the password")]
Dir = Annotated[Path, typer.Option("--dir", help="keystore folder")]


@account_app.command("new")
def account_new(
    directory: Dir = KEYSTORE_DIR, password_file: PasswordFile = None, password_env: PasswordEnv = None
) -> None:
    """Create a key, stored encrypted; prints its address and file."""
    from node.keys import new_keystore

    address, path = new_keystore(directory, _password(password_file, password_env, confirm=True))
    console.print(f"{address}  {path}")


@account_app.command("import")
def account_import(
    key_env: Annotated[str, typer.Option(help="environment variable holding the private key (never a flag)")],
    directory: Dir = KEYSTORE_DIR,
    password_file: PasswordFile = None,
    password_env: PasswordEnv = None,
) -> None:
    """Encrypt an existing private key into the keystore folder."""
    import os

    from node.keys import import_key

    key = os.environ.get(key_env)
    if not key:
        raise ConfigError(f"environment variable {key_env} is not set")
    address, path = import_key(directory, key, _password(password_file, password_env, confirm=True))
    console.print(f"{address}  {path}")


@account_app.command("list")
def account_list(directory: Dir = KEYSTORE_DIR, as_json: JsonOpt = False) -> None:
    """Addresses of the keystores in the folder."""
    from node.keys import list_keystores

    entries = list_keystores(directory)
    if as_json:
        from client.json_out import emit

        emit({"keystores": [{"address": address, "path": str(path)} for address, path in entries]})
        return
    if not entries:
        console.print(f"no keystore in {directory}")
    for address, path in entries:
        console.print(f"{address}  {path}")


@account_app.command("earnings")
@connected()
def account_earnings(
    address: Annotated[str | None, typer.Argument(help="the account (default: --dev-account's)")] = None,
    dev_account: DevOpt = None,
    as_json: JsonOpt = False,
    connection: Connection = NO_FLAGS,
) -> None:
    """Earned, slashed, refunded and withdrawn, per task, from the contract's events; checked against the credit."""
    from rich.table import Table

    from client.earnings import earnings_of
    from client.render import eth
    from client.session import open_session
    from node.chain.devnet import dev_accounts

    if (address is None) == (dev_account is None):
        raise ConfigError("give an ADDRESS or --dev-account N")
    who = address if address is not None else dev_accounts((dev_account or 0) + 1)[dev_account or 0].address
    session = open_session(connection, sign=False)
    market = session.market
    reader = market.events()
    books = earnings_of(who, reader.iter(session.deployment.block_number, reader.head()))
    credit = market.credit_of(who)
    if as_json:
        from client.json_out import earnings_document, emit

        emit(earnings_document(books, credit))
        if credit != books.credit:
            raise AuditFailed(f"the events give a credit of {books.credit} wei, the contract holds {credit} wei")
        return
    table = Table("task", "earned", "slashed", "refunded (owner)", title=f"account {who}")
    for task_id, t in books.by_task.items():
        table.add_row(str(task_id), eth(t.earned), eth(t.slashed), eth(t.refunded))
    table.add_row("all", eth(books.earned), eth(books.slashed), eth(books.refunded), style="bold")
    console.print(table)
    console.print(
        f"staked {eth(books.staked)}, released from stake {eth(books.released)}, withdrawn {eth(books.withdrawn)}; "
        f"credit now {eth(credit)}",
        soft_wrap=True,
    )
    if credit != books.credit:  # the events do not add up to the contract's books: say so, loudly
        raise AuditFailed(f"the events give a credit of {books.credit} wei, the contract holds {credit} wei")
