"""The options many commands share, declared once: where the state lives, which chain, deployment and store,
and which key signs (:func:`connected` puts them on a command as one :class:`~client.session.Connection`). Each
defaults to the devnet running from this folder when there is one."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from client.session import Connection

HomeOpt = Annotated[Path | None, typer.Option("--home", help="state folder (default $DMLNET_HOME or ./.dmlnet)")]
RpcOpt = Annotated[str | None, typer.Option(help="JSON-RPC URL (default: the devnet's)")]
DeploymentOpt = Annotated[Path | None, typer.Option(help="deployment file (default: the devnet's)")]
StoreOpt = Annotated[list[str] | None, typer.Option(help="store URL or folder, repeatable (default: the devnet's)")]
DevOpt = Annotated[int | None, typer.Option(help="sign with Anvil's well-known account N (devnet only)")]
KeystoreOpt = Annotated[Path | None, typer.Option(help="encrypted keystore file")]
PwFileOpt = Annotated[Path | None, typer.Option(help="file holding the keystore password")]
PwEnvOpt = Annotated[str | None, typer.Option(help="environment variable holding the keystore password")]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="print one JSON document (amounts also in exact wei, as strings) instead")
]
XColumnOpt = Annotated[str, typer.Option(help="a Parquet dataset's column of images or features")]
YColumnOpt = Annotated[str, typer.Option(help="a Parquet dataset's column of class labels")]
ContextOpt = Annotated[
    int, typer.Option(min=1, max=8192, help="tokens per sequence a text dataset is cut into (a language model's input)")
]

# The connection options, in the order --help lists them: parameter name → its declaration.
_WHERE: dict[str, object] = {"home_dir": HomeOpt, "rpc": RpcOpt, "deployment": DeploymentOpt}
_STORE: dict[str, object] = {"store": StoreOpt}
_SIGNER: dict[str, object] = {
    "dev_account": DevOpt,
    "keystore": KeystoreOpt,
    "password_file": PwFileOpt,
    "password_env": PwEnvOpt,
}

F = TypeVar("F", bound=Callable[..., Any])


def cli_app(help_text: str) -> typer.Typer:
    """A command group of the CLI. Its --help is click's plain text: every option's full name and range at any width
    (rich's tables cut long option names, e.g. `--aggregator-rewa…`, at 80 columns)."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


def connected(*, store: bool = True, signs: bool = False) -> Callable[[F], F]:
    """Declares the connection options on a command once: the command takes ``connection: Connection`` and its
    ``--help`` lists ``--home``, ``--rpc``, ``--deployment`` (``--store`` unless ``store=False``; the key options
    when it ``signs``), each defaulting to the devnet running from this folder."""
    options = {**_WHERE, **(_STORE if store else {}), **(_SIGNER if signs else {})}

    def decorate(command: F) -> F:
        signature = inspect.signature(command)
        if "connection" not in signature.parameters:  # pragma: no cover - a programming error, said at import
            raise TypeError(f"{command.__name__} takes no connection parameter")
        # The command's own annotations, resolved (they are strings under postponed evaluation, which the
        # replaced signature would lose the options' declarations with).
        hints = typing.get_type_hints(command, include_extras=True)
        kept = [p.replace(annotation=hints[p.name]) for p in signature.parameters.values() if p.name != "connection"]
        added = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=option)
            for name, option in options.items()
        ]

        @functools.wraps(command)
        def with_connection(*args: Any, **kwargs: Any) -> Any:
            given: dict[str, Any] = {name: kwargs.pop(name, None) for name in options}
            given["store"] = given.get("store") or None  # no --store given: the devnet's
            connection = Connection(home=given.pop("home_dir"), **given)
            return command(*args, connection=connection, **kwargs)

        with_connection.__signature__ = signature.replace(parameters=[*kept, *added])  # type: ignore[attr-defined]
        annotations = {k: v for k, v in hints.items() if k != "connection"}
        with_connection.__annotations__ = {**annotations, **options}
        return with_connection  # type: ignore[return-value]

    return decorate
