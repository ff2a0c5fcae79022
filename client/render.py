"""Rich renderings shared by the CLI commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from client.inspect import MarketState

from node.money import eth  # re-exported: the client's tables format amounts with the one formatter

__all__ = ["eth", "print_state"]


def print_state(console: Console, state: MarketState) -> None:
    books = Table(title=f"TaskMarket {state.address}", show_header=True)
    books.add_column("bucket")
    books.add_column("amount", justify="right")
    books.add_column("wei", justify="right")
    for label, value in (
        ("balance", state.balance),
        ("owed: task escrow", state.escrow),
        ("owed: stake", state.staked),
        ("owed: credit", state.credit),
        ("owed in all (totalOwed)", state.total_owed),
        ("balance − owed", state.surplus),
    ):
        books.add_row(label, eth(value), str(value))
    console.print(books)
    sums_match = state.escrow + state.staked + state.credit == state.total_owed
    console.print(
        f"buckets sum to totalOwed: {'yes' if sums_match else 'NO'}; solvent: {'yes' if state.surplus >= 0 else 'NO'}"
    )

    tasks = Table(title="tasks")
    for column in ("id", "status", "round", "open", "in flight", "escrow"):
        tasks.add_column(column, justify="right" if column != "status" else "left")
    for t in state.tasks:
        tasks.add_row(
            str(t.task_id),
            t.state.status.name.lower(),
            f"{t.state.current_round + 1}/{t.params.rounds}",
            str(t.state.open_units),
            str(t.state.in_flight),
            eth(t.state.escrow),
        )
    console.print(tasks)
    nodes = Table(title="accounts")
    for column in ("address", "stake", "locked", "unbonding", "credit"):
        nodes.add_column(column, justify="left" if column == "address" else "right")
    for a in state.accounts:
        nodes.add_row(a.address, eth(a.stake.total), eth(a.stake.locked), eth(a.stake.unbonding), eth(a.credit))
    console.print(nodes)
