"""``dml store serve|put|get|export|import``."""

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

CidArgument = Annotated[str, typer.Argument(help="CID (bafy…, bafk…, Qm…) or the hex digest a chain records")]
ReplicasOption = Annotated[int, typer.Option(help="how many replicas must hold it")]
TokenEnvOption = Annotated[str | None, typer.Option(help="environment variable holding the write token")]
TokenFileOption = Annotated[Path | None, typer.Option(help="file holding the write token")]
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
    """Serve a folder of objects: an IPFS trustless gateway (GET /ipfs/{cid}?format=raw|car) that takes writes
    (PUT /ipfs/{cid}), with /health, /metrics, /openapi.json."""
    import uvicorn

    from node.store.server import create_app

    app = create_app(LocalStore(directory, max_bytes=max_bytes), write_token=_token(token_env, token_file))
    level = logging.getLogger().getEffectiveLevel()
    uvicorn.run(app, host=host, port=port, log_level="info" if level <= logging.INFO else "warning")


@store_app.command("put")
def put(
    file: Annotated[Path, typer.Argument(help="file to store", exists=True, dir_okay=False, readable=True)],
    store: StoreOption = None,
    replicas: ReplicasOption = 1,
    token_env: TokenEnvOption = None,
    token_file: TokenFileOption = None,
) -> None:
    """Store a file; prints its CID."""
    client = StoreClient.from_endpoints(_endpoints(store), token=_token(token_env, token_file), put_replicas=replicas)
    print(client.put_file(file))


@store_app.command("get")
def get(
    cid: CidArgument,
    out: Annotated[Path, typer.Option("-o", "--out", help="where to write the checked bytes")],
    store: StoreOption = None,
) -> None:
    """Fetch an object block by block, check every block, write it."""
    client = StoreClient.from_endpoints(_endpoints(store))
    size = client.get_to_file(cid, out)
    console.print(f"{size} bytes → {out}")


@store_app.command("export")
def export(
    cid: CidArgument,
    out: Annotated[Path, typer.Option("-o", "--out", help="the CAR file to write")],
    store: StoreOption = None,
) -> None:
    """Write an object's blocks as a CARv1 (DAG order), for `ipfs dag import` or any IPFS pinning service."""
    root, size = StoreClient.from_endpoints(_endpoints(store)).export_car(cid, out)
    console.print(f"{root}: {size} bytes of CAR → {out}")


@store_app.command("import")
def import_car(
    file: Annotated[Path, typer.Argument(help="a CARv1 with one root", exists=True, dir_okay=False, readable=True)],
    store: StoreOption = None,
    replicas: ReplicasOption = 1,
    token_env: TokenEnvOption = None,
    token_file: TokenFileOption = None,
) -> None:
    """Check a CAR (every block against its CID, the root's DAG whole) and store its object; prints its CID."""
    client = StoreClient.from_endpoints(_endpoints(store), token=_token(token_env, token_file), put_replicas=replicas)
    print(client.put_car(file))
