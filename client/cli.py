"""``dml``: the dmlnet command line.

Every failure is one line in plain words and a distinct exit code (see :mod:`node.errors`); ``--debug`` shows
the traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from client import interrupt
from client.data_cmds import data_app
from client.explorer_cmds import explorer
from client.home import alive, deployment_file, home, node_records
from client.model_cmds import model_app
from client.money_cmds import money_commands
from client.node_cmds import account_app, miner_app, node_app, verifier_app
from client.options import HomeOpt, JsonOpt, cli_app, connected
from client.session import NO_FLAGS, Connection
from client.spec_cmds import spec_app
from client.store_cmds import store_app
from client.task_cmds import task_app, task_challenge
from node.chain.types import DEFAULT_UNBONDING_DELAY_S
from node.errors import AuditFailed, ConfigError, DmlnetError, NotFound
from node.logs import configure_logging

if TYPE_CHECKING:
    from client.session import Session

# Every command imports what it needs when it runs (web3, torch and FastAPI cost seconds to import): `dml --help`
# and a command that only reads the chain stay quick. tests/unit/client/test_imports.py holds that line.

app = cli_app("dmlnet: verified decentralized model training.")
devnet_app = cli_app("A local Anvil chain with TaskMarket deployed.")
app.add_typer(devnet_app, name="devnet")
app.add_typer(store_app, name="store")
app.add_typer(node_app, name="node")
app.add_typer(miner_app, name="miner")
app.add_typer(verifier_app, name="verifier")
app.add_typer(account_app, name="account")
app.add_typer(data_app, name="data")
app.add_typer(task_app, name="task")
app.add_typer(spec_app, name="spec")
app.add_typer(model_app, name="model")
app.command("explorer")(explorer)
app.command("challenge")(task_challenge)  # `dml challenge` = `dml task challenge`: the owner's appeal
money_commands(app)

console = Console()


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        typer.echo(f"dml {version('dmlnet')} (Python {sys.version.split()[0]})")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log at INFO")] = False,
    _version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    # --debug is read again by main(), which decides whether a failure shows its traceback.
    configure_logging(logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING)


@devnet_app.command("up")
def devnet_up(
    home_dir: HomeOpt = None,
    port: Annotated[int | None, typer.Option(help="RPC port (default: a free one)")] = None,
    explorer: Annotated[bool, typer.Option(help="also serve the explorer (`dml explorer`) in the background")] = False,
    block_time: Annotated[
        float | None,
        typer.Option(min=0.1, max=60, help="mine a block every this many seconds (default: on each transaction)"),
    ] = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="a new chain, deployed anew (default: resume the one kept by `down`)")
    ] = False,
) -> None:
    """Start Anvil in the background and deploy TaskMarket (idempotent)."""
    from client import devnet as devnet_cmds
    from node.chain.devnet import dev_accounts

    base = home(home_dir)
    record, deployment = devnet_cmds.up(base, port=port, explorer=explorer, block_time_s=block_time, fresh=fresh)
    if record.resumed:
        from node.chain.jsonrpc import JsonRpc

        head = int(JsonRpc(record.rpc_url).request("eth_blockNumber"), 16)
        console.print(f"chain          kept from before, resumed at block {head} (`--fresh` starts a new one)")
    else:
        console.print("chain          a new one")
    console.print(f"RPC URL        {record.rpc_url}")
    console.print(f"chain id       {record.chain_id}")
    console.print(f"TaskMarket     {deployment.address}")
    console.print(f"store          {record.store_url}")
    console.print(f"deployment     {deployment_file(base)}")
    if record.explorer_url:
        console.print(f"explorer       {record.explorer_url}")
    console.print("dev accounts   (Anvil's well-known keys; devnet only)")
    for i, account in enumerate(dev_accounts(5)):
        console.print(f"  [{i}] {account.address}  10000 ETH")


@devnet_app.command("down")
def devnet_down(home_dir: HomeOpt = None) -> None:
    """Stop the devnet started from this folder."""
    from client import devnet as devnet_cmds

    stopped = devnet_cmds.down(home(home_dir))
    kept = " (its chain is kept: `dml devnet up` resumes it, `--fresh` starts a new one)"
    console.print("devnet stopped" + kept if stopped else "no devnet was running")


@devnet_app.command("status")
def devnet_status(home_dir: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Is the devnet up, and where: chain, contract, store, and the nodes started from this folder."""
    from client import devnet as devnet_cmds

    base = home(home_dir)
    record, head = devnet_cmds.status(base)
    deployment = deployment_file(base)
    address = json.loads(deployment.read_text())["address"] if deployment.exists() else None
    store_ok = devnet_cmds.store_healthy(record.store_url) if record.store_url else None
    explorer_running = alive(record.explorer_pid) if record.explorer_url else None
    nodes = node_records(base)
    if as_json:
        from client.json_out import emit

        emit(
            {
                "rpc_url": record.rpc_url,
                "pid": record.pid,
                "chain_id": record.chain_id,
                "head_block": head,
                "task_market": address,
                "deployment": str(deployment) if address else None,
                "store_url": record.store_url or None,
                "store_pid": record.store_pid or None,
                "store_ok": store_ok,
                "explorer_url": record.explorer_url or None,
                "explorer_running": explorer_running,
                "nodes": [
                    {
                        "pid": node.pid,
                        "running": running,
                        "roles": node.roles,
                        "data_dir": node.data_dir,
                        "api_url": f"http://127.0.0.1:{node.api_port}" if node.api_port else None,
                    }
                    for node, running in nodes
                ],
            }
        )
        return
    console.print(f"devnet up at {record.rpc_url} (pid {record.pid}), chain id {record.chain_id}, head block {head}")
    if address is not None:
        console.print(f"TaskMarket     {address}  ({deployment})")
    if record.store_url:
        console.print(
            f"store          {record.store_url} (pid {record.store_pid}) {'ok' if store_ok else 'NOT ANSWERING'}"
        )
    if record.explorer_url:
        console.print(
            f"explorer       {record.explorer_url} (pid {record.explorer_pid}) {'' if explorer_running else 'STOPPED'}"
        )
    console.print(f"nodes started from here: {len(nodes)}" + ("" if nodes else " (dml node run … from this folder)"))
    for node, running in nodes:
        api = f", API http://127.0.0.1:{node.api_port}" if node.api_port else ""
        state = "running" if running else "stopped"
        console.print(f"  pid {node.pid} {state}: {','.join(node.roles)}, data {node.data_dir}{api}", soft_wrap=True)


@app.command()
def deploy(
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL of any EVM chain")],
    out: Annotated[Path, typer.Option(help="where to write the deployment file")] = Path("deployment.json"),
    dev_account: Annotated[int | None, typer.Option(help="sign with Anvil's well-known account N")] = None,
    key_env: Annotated[str | None, typer.Option(help="name of an environment variable holding the private key")] = None,
    unbonding_delay: Annotated[int, typer.Option(help="seconds")] = DEFAULT_UNBONDING_DELAY_S,
    evm_version: Annotated[
        str,
        typer.Option(
            help="the contracts' build: cancun, shanghai (no transient storage), or auto: the newest the chain runs"
        ),
    ] = "auto",
) -> None:
    """Deploy TaskMarket and write the deployment file."""
    from node.chain.build import load_artifact
    from node.chain.deploy import deploy_market
    from node.chain.devnet import dev_accounts
    from node.chain.rpc import connect
    from node.chain.tx import Signer

    w3 = connect(rpc)
    if (dev_account is None) == (key_env is None):
        raise ConfigError("give exactly one of --dev-account N or --key-env VAR")
    if key_env is not None:
        from eth_account import Account

        key = os.environ.get(key_env)
        if not key:
            raise ConfigError(f"environment variable {key_env} is not set")
        account = Account.from_key(key)
    else:
        account = dev_accounts((dev_account or 0) + 1)[dev_account or 0]
    artifact = load_artifact()
    deployment = deploy_market(Signer(w3, account), artifact, unbonding_delay, evm_version=evm_version)
    deployment.write(out)
    console.print(
        f"TaskMarket ({deployment.evm_version} build) deployed at {deployment.address} on chain "
        f"{deployment.chain_id} → {out}"
    )


@app.command()
@connected(store=False)
def state(
    as_json: JsonOpt = False,
    connection: Connection = NO_FLAGS,
) -> None:
    """The contract's balance against what it owes, tasks by status, accounts with stake and credit."""
    from client.inspect import market_state
    from client.render import print_state
    from client.session import chain_of
    from node.chain.build import load_artifact
    from node.chain.contract import TaskMarket
    from node.chain.rpc import connect

    _, _, rpc_url, dep = chain_of(connection)
    artifact = load_artifact()
    w3 = connect(rpc_url, expected_chain_id=dep.chain_id)
    dep.check(w3, artifact)
    books = market_state(TaskMarket(w3, dep.address, artifact), dep.block_number)
    if as_json:
        from client.json_out import emit, state_document

        emit(state_document(books))
        return
    print_state(console, books)


@app.command()
def demo(
    miners: Annotated[int, typer.Option(help="miner processes (the last one also aggregates)")] = 2,
    verifiers: Annotated[int, typer.Option(help="verifier processes")] = 3,
    units: Annotated[int, typer.Option(help="training units per round")] = 4,
    rounds: Annotated[int, typer.Option(help="rounds")] = 3,
    quorum: Annotated[int, typer.Option(help="verifiers per unit")] = 3,
    local_steps: Annotated[
        int,
        typer.Option(min=0, help="training steps per unit (0: the workload's: 800 digits, 400 fashion, 400 lm)"),
    ] = 0,
    byzantine: Annotated[int, typer.Option(help="how many miners cheat (noise, copy, replay in turn)")] = 0,
    workload: Annotated[
        str,
        typer.Option(
            help="digits (an MLP on 8×8 digits) | fashion-mnist (a CNN on Debian's Fashion-MNIST) | fashion-resnet (a "
            "residual CNN on it) | lm (a small GPT on Debian's fortunes, byte-level)"
        ),
    ] = "digits",
    workdir: Annotated[Path, typer.Option(help="logs, node state and the report")] = Path(".dmlnet/demo"),
    stay: Annotated[
        bool | None,
        typer.Option(
            help="after the summary, keep the network and its explorer up until Ctrl-C (default: at a terminal)"
        ),
    ] = None,
    explorer_port: Annotated[int | None, typer.Option(help="the explorer's port (default 8780, or a free one)")] = None,
    privacy: Annotated[
        str,
        typer.Option(
            help="split: also run an owner's node, and train the digits CNN twice, in plain then split mode "
            "(the owner keeps its first and last layers); prints the owner's accuracy next to plain mode's"
        ),
    ] = "none",
) -> None:
    """Run a whole local network training a workload (handwritten digits by default), end to end; print and write
    a report."""
    from client.demo import DemoConfig, run_demo

    keep = sys.stdin.isatty() and sys.stdout.isatty() if stay is None else stay
    config = DemoConfig(miners, verifiers, units, rounds, quorum, local_steps, byzantine, stay=keep,
                        explorer_port=explorer_port, privacy=privacy, workload=workload)  # fmt: skip
    run_demo(console, workdir, config)


@app.command()
@connected(signs=True)
def audit(
    task_id: int,
    full: Annotated[bool, typer.Option(help="re-verify every unit and fetch every checkpoint")] = False,
    sample: Annotated[int, typer.Option(help="training units re-verified (without --full)")] = 2,
    out: Annotated[
        Path | None, typer.Option(help="folder for the JSON and HTML report (default: audits/ in the state folder)")
    ] = None,
    challenge: Annotated[
        bool, typer.Option(help="also re-execute verdicts still open to challenge, and appeal the wrong ones")
    ] = False,
    connection: Connection = NO_FLAGS,
) -> None:
    """Rebuild a task from events, check every artifact, re-verify aggregates and units, sum the money."""
    from client.session import open_session
    from node.audit.audit import audit_task, write_report

    session = open_session(connection, sign=challenge)
    if not 1 <= task_id <= session.market.task_count():
        raise NotFound(f"no task {task_id} (there are {session.market.task_count()})")
    report = audit_task(
        session.market, session.store, task_id, from_block=session.deployment.block_number, full=full, sample=sample
    )
    json_path, html_path = write_report(report, out if out is not None else home(connection.home) / "audits")
    console.print(
        f"task {task_id}: {report.units_accepted} units accepted, {report.units_reverified} re-executed, "
        f"{report.aggregates_reverified} aggregates recomputed, {report.artifacts_checked} artifacts re-hashed",
        soft_wrap=True,
    )
    for f in report.findings:
        where = "" if f.round is None else f" round {f.round + 1} unit {f.unit}"
        console.print(f"FINDING {f.kind}{where}: {f.detail}", markup=False, soft_wrap=True)
    for appeal in report.appeals:
        console.print(
            f"appeal round {appeal['round'] + 1} unit {appeal['unit']} level {appeal['level']}: {appeal['outcome']}, "
            f"bond {appeal['bond']} wei, settlement credited {appeal.get('credited', 0)} and slashed "
            f"{appeal.get('slashed', 0)} wei",
            soft_wrap=True,
        )
    if challenge:
        _challenge_wrong_verdicts(session, task_id)
    console.print(f"report: {json_path} {html_path}")
    if not report.ok:
        raise AuditFailed(f"audit of task {task_id} failed with {len(report.findings)} finding(s)")
    console.print("audit passed")


def _challenge_wrong_verdicts(session: Session, task_id: int) -> None:
    from node.audit.audit import open_verdicts

    for v in open_verdicts(session.market, session.store, task_id):
        where = f"round {v.round + 1} unit {v.unit}"
        if v.ours == v.verdict:
            console.print(f"{where}: verdict {'valid' if v.verdict else 'invalid'} confirmed by re-execution")
            continue
        sent = session.market.challenge_verdict(task_id, v.round, v.unit)
        console.print(
            f"{where}: verdict {'valid' if v.verdict else 'invalid'} is wrong ({v.reason}): "
            f"challenged, tx {sent.tx_hash}",
            soft_wrap=True,
        )


def main() -> None:
    debug = "--debug" in sys.argv[1:]
    interrupt.install()
    try:
        # Without standalone mode, click returns an exit code (130 after Ctrl-C) instead of exiting.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code != 0:
            if code == 130:
                print("aborted", file=sys.stderr)
            sys.exit(code)
    except DmlnetError as err:
        if debug:
            raise
        print(f"error: {err}", file=sys.stderr)  # one line, never wrapped
        sys.exit(err.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except typer.TyperException as err:  # a bad flag or argument: one line, like our own errors
        ctx = getattr(err, "ctx", None)
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        print(f"error: {err.format_message()}{where}".replace("\n", " "), file=sys.stderr)
        sys.exit(err.exit_code)
    except typer.Exit as err:
        sys.exit(err.exit_code)
    except Exception as err:  # the one place a surprise becomes a clean line instead of a traceback
        if debug:
            raise
        print(f"internal error: {type(err).__name__}: {err} (run with --debug for details)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
