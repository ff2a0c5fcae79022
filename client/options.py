"""The options many commands share, declared once: where the state lives, which chain, deployment and store,
and which key signs. Each defaults to the devnet running from this folder when there is one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

HomeOpt = Annotated[Path | None, typer.Option("--home", help="state folder (default $DMLNET_HOME or ./.dmlnet)")]
RpcOpt = Annotated[str | None, typer.Option(help="JSON-RPC URL (default: the devnet's)")]
DeploymentOpt = Annotated[Path | None, typer.Option(help="deployment file (default: the devnet's)")]
StoreOpt = Annotated[list[str] | None, typer.Option(help="store URL or folder, repeatable (default: the devnet's)")]
DevOpt = Annotated[int | None, typer.Option(help="sign with Anvil's well-known account N (devnet only)")]
KeystoreOpt = Annotated[Path | None, typer.Option(help="encrypted keystore file")]
PwFileOpt = Annotated[Path | None, typer.Option(help="file holding the keystore password")]
PwEnvOpt = Annotated[str | None, typer.Option(help="environment variable holding the keystore password")]
XColumnOpt = Annotated[str, typer.Option(help="a Parquet dataset's column of images or features")]
YColumnOpt = Annotated[str, typer.Option(help="a Parquet dataset's column of class labels")]
