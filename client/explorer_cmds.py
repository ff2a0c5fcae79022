"""``dml explorer``: the network in a browser (and as JSON), served until Ctrl-C."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console

from client import interrupt
from client.home import home
from client.options import connected
from client.session import NO_FLAGS, Connection, chain_of

console = Console()

DEFAULT_PORT = 8780


@connected()
def explorer(
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to serve on")] = DEFAULT_PORT,
    poll_interval: Annotated[float, typer.Option(help="seconds between looks at the chain head")] = 1.0,
    confirmations: Annotated[
        str,
        typer.Option(
            help="how deep a block must be before its events are indexed: auto (0 on a devnet, else the chain's safe "
            "block or 12), safe, finalized, or a block count"
        ),
    ] = "auto",
    connection: Connection = NO_FLAGS,
) -> None:
    """Index the chain's events (resumable, into HOME/explorer) and serve the explorer until Ctrl-C."""
    from explorer.service import ExplorerService, Target

    def resolve() -> Target:
        # Asked again on every reconnection: a devnet restarted under this folder may have moved.
        _, record, rpc_url, dep = chain_of(connection)
        endpoints = connection.store or ([record.store_url] if record is not None and record.store_url else [])
        return Target(rpc_url, dep, tuple(endpoints))

    from node.chain.confirmations import check_setting
    from node.errors import ConfigError

    try:
        check_setting(confirmations)
    except ValueError as err:
        raise ConfigError(f"--confirmations: {err}") from err
    service = ExplorerService(
        resolve, home(connection.home) / "explorer", poll_interval_s=poll_interval, confirmations=confirmations
    )
    with service.serving(host, port) as url:
        console.print(f"explorer: {url}/  (JSON API schema at /openapi.json, metrics at /metrics; Ctrl-C stops)")
        while True:
            interrupt.check()
            time.sleep(0.5)
