"""The connection options are declared once (client.options.connected): a command takes one Connection, and its
--help lists the options with their declarations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.testing import CliRunner

from client.cli import app as dml
from client.options import connected
from client.session import NO_FLAGS, Connection

app = typer.Typer()
seen: list[Connection] = []


@app.command()
@connected(signs=True)
def probe(
    task_id: Annotated[int, typer.Argument(help="a task")],
    full: Annotated[bool, typer.Option(help="all of it")] = False,
    connection: Connection = NO_FLAGS,
) -> None:
    seen.append(connection)
    print(task_id, full)


def test_connected_passes_the_options_as_one_connection() -> None:
    seen.clear()
    args = ["7", "--full", "--rpc", "http://h:1", "--home", "/tmp/h", "--store", "a", "--store", "b"]
    result = CliRunner().invoke(app, [*args, "--dev-account", "3"])
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["7", "True"], "the command's own options keep their declarations"
    assert seen == [Connection(home=Path("/tmp/h"), rpc="http://h:1", store=["a", "b"], dev_account=3)]
    CliRunner().invoke(app, ["8"])
    assert seen[-1] == NO_FLAGS, "none given: the devnet's"


def test_connected_leaves_out_what_a_command_does_not_use() -> None:
    readonly = typer.Typer()

    @readonly.command()
    @connected(store=False)
    def look(connection: Connection = NO_FLAGS) -> None:
        seen.append(connection)

    result = CliRunner().invoke(readonly, ["--store", "x"])
    assert result.exit_code == 2, "no --store on a command that reads the chain alone"
    assert CliRunner().invoke(readonly, ["--keystore", "k"]).exit_code == 2, "no key options on a reader"


def test_every_command_that_names_a_chain_takes_the_same_connection_options() -> None:
    root = typer.main.get_command(dml)

    def commands(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
        out = []
        for name, command in group.commands.items():
            if hasattr(command, "commands"):  # a group
                out += commands(command, f"{prefix}{name} ")
            else:
                out.append((prefix + name, command))
        return out

    checked = 0
    for name, command in commands(root):
        options = {o for p in command.params for o in p.opts}
        if "--deployment" in options and not name.startswith(("node ", "miner ", "verifier ", "deploy")):
            assert {"--home", "--rpc"} <= options, name
            checked += 1
    assert checked >= 12


def test_help_shows_every_option_whole_and_the_ranges_the_contract_enforces_at_80_columns() -> None:
    from client.cli import app

    result = CliRunner().invoke(app, ["task", "submit", "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0
    text = result.stdout
    assert "--aggregator-reward" in text
    assert "…" not in text, "no option cut"
    assert "1<=x<=1000" in text
    assert "1<=x<=15" in text
    assert "4294967295" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    node_help = CliRunner().invoke(app, ["node", "run", "--help"], env={"COLUMNS": "80"}, terminal_width=80).stdout
    assert "--stake-cap <str>" in node_help
    assert "ETH, or with gwei/wei" in node_help
