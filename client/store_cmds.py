"""``dml store serve|put|get``."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from client.home import home, running_devnet
from client.options import cli_app
from node.store.client import StoreClient
from node.store.local import LocalStore

store_app = cli_app("The content-addressed store.")
console = Console()

DEFAULT_MAX_BYTES = 1 << 30

StoreOption = Annotated[
    list[str] | None,
    typer.Option(
        "--store",
        help="store URL or folder, repeatable (default: $DMLNET_STORE, the running devnet's, or .dmlnet/store)",
    ),
]


def _endpoints(stores: list[str] | None) -> list[str]:
    """--store, else $DMLNET_STORE, else the store of the devnet running from here (said on stderr), else the
    folder .dmlnet/store."""
    if stores:
        return stores
    env = os.environ.get("DMLNET_STORE")
    if env:
        return [s for s in env.split(",") if s]
    record = running_devnet(home(None))
    if record is not None and record.store_url:
        print(f"using the devnet's store {record.store_url}", file=sys.stderr)
        return [record.store_url]
    return [str(Path(".dmlnet/store").resolve())]


def _token(token_env: str | None, token_file: Path | None = None) -> str | None:
    from node.keys import store_token  # here: eth_account is heavy, and `dml --help` imports this module

    return store_token(token_file, token_env, flags=("--token-file", "--token-env"))


@store_app.command("serve")
def serve(
    directory: Annotated[Path, typer.Option("--dir", help="folder holding the objects")],
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to bind")] = 8700,
    max_bytes: Annotated[int, typer.Option(help="largest object accepted (413 above)")] = DEFAULT_MAX_BYTES,
    token_env: Annotated[
        str | None, typer.Option(help="environment variable holding the bearer token required for writes")
    ] = None,
    token_file: Annotated[
        Path | None, typer.Option(help="file holding the bearer token required for writes (e.g. a container secret)")
    ] = None,
) -> None:
    """Serve a folder of objects over HTTP (PUT/GET/HEAD /ipfs/{cid}, /health, /metrics, /openapi.json)."""
    import uvicorn

    from node.store.server import create_app

    app = create_app(LocalStore(directory, max_bytes=max_bytes), write_token=_token(token_env, token_file))
    level = logging.getLogger().getEffectiveLevel()
    uvicorn.run(app, host=host, port=port, log_level="info" if level <= logging.INFO else "warning")


@store_app.command("put")
def put(
    file: Annotated[Path, typer.Argument(help="file to store", exists=True, dir_okay=False, readable=True)],
    store: StoreOption = None,
    replicas: Annotated[int, typer.Option(help="how many replicas must hold it")] = 1,
    token_env: Annotated[str | None, typer.Option(help="environment variable holding the write token")] = None,
    token_file: Annotated[Path | None, typer.Option(help="file holding the write token")] = None,
) -> None:
    """Store a file; prints its CID."""
    client = StoreClient.from_endpoints(_endpoints(store), token=_token(token_env, token_file), put_replicas=replicas)
    print(client.put_file(file))


@store_app.command("get")
def get(
    cid: Annotated[str, typer.Argument(help="CID (bafkrei…) or hex digest")],
    out: Annotated[Path, typer.Option("-o", "--out", help="where to write the checked bytes")],
    store: StoreOption = None,
) -> None:
    """Fetch an object, check its digest, write it."""
    client = StoreClient.from_endpoints(_endpoints(store))
    size = client.get_to_file(cid, out)
    console.print(f"{size} bytes → {out}")
