"""A running node under a chain that goes away, comes back as another chain, and goes away for good."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from pathlib import Path

import pytest

from node.chain.build import load_artifact
from node.chain.deploy import deploy_market
from node.chain.devnet import Devnet, dev_accounts, free_port
from node.chain.rpc import connect
from node.chain.tx import Signer
from node.errors import ChainUnreachable
from node.runner import run_node
from testkit.chain import UNBONDING_DELAY_S
from testkit.nodes import dev_settings
from testkit.polling import wait_until

pytestmark = pytest.mark.chain


def _chain(port: int, deployment: Path) -> Devnet:
    devnet = Devnet(port=port, accounts=6)
    devnet.start()
    w3 = connect(devnet.rpc_url)
    deploy_market(Signer(w3, dev_accounts(1)[0]), load_artifact(), UNBONDING_DELAY_S).write(deployment)
    return devnet


def _bound_chain(data_dir: Path) -> str | None:
    """The chain the node's state is bound to, read without writing (the node owns the file: opening it for
    writing here would race the node's own schema creation)."""
    path = data_dir / "state.sqlite"
    if not path.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'chain'").fetchone()
    except sqlite3.OperationalError:  # created but no schema yet, or being moved aside
        return None
    return None if row is None else str(row[0])


def test_a_node_outlives_a_chain_restart_and_gives_up_on_a_chain_gone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port, deployment, data_dir = free_port(), tmp_path / "deployment.json", tmp_path / "node"
    settings = dev_settings(
        f"http://127.0.0.1:{port}", deployment, str(tmp_path / "store"), data_dir, 2, ["keeper"],
        poll_interval_s=0.1, chain_wait_s=20,
    )  # fmt: skip
    first = _chain(port, deployment)
    stop = threading.Event()
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            run_node(settings, stop)
            outcome.append(None)
        except BaseException as err:
            outcome.append(err)

    caplog.set_level(logging.INFO)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    second = None
    try:
        wait_until(lambda: _bound_chain(data_dir), timeout_s=30, what="the node's state bound to the first chain")
        old = _bound_chain(data_dir)
        first.stop()  # `dml devnet down`, then `dml devnet up` on the same port: another chain, same address
        wait_until(
            lambda: any("cannot reach the chain" in r.getMessage() for r in caplog.records),
            timeout_s=30, what="the node to notice the outage",
        )  # fmt: skip
        second = _chain(port, deployment)
        wait_until(
            lambda: list(data_dir.glob("state.other-chain-*.sqlite")) and _bound_chain(data_dir) not in (None, old),
            timeout_s=60, what="the node to start again on the new chain, the old state moved aside",
        )  # fmt: skip
        assert thread.is_alive(), "the node kept running"
        outages = [r for r in caplog.records if "cannot reach the chain" in r.getMessage()]
        assert len(outages) == 1, "one line per outage, not one per retry"

        second.stop()  # gone for good: the node gives up after chain_wait_s with the unreachable-chain error
        thread.join(timeout=90)
        assert not thread.is_alive()
        assert isinstance(outcome[0], ChainUnreachable), outcome
        assert outcome[0].exit_code == 11
    finally:
        stop.set()
        thread.join(timeout=30)
        first.stop()
        if second is not None:
            second.stop()
