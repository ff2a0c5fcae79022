"""``dml stake|unstake|withdraw``: an account's stake and credit."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from client.amounts import parse_amount
from client.options import connected
from client.render import eth
from client.session import NO_FLAGS, Connection, open_session
from node.errors import ConfigError

if TYPE_CHECKING:
    pass

console = Console()


def money_commands(app: typer.Typer) -> None:
    @app.command("stake")
    @connected(signs=True)
    def stake(
        amount: Annotated[str, typer.Argument(help="ETH (exact decimal), or with a unit: 20 gwei, 100 wei")],
        connection: Connection = NO_FLAGS,
    ) -> None:
        """Add to your stake."""
        wei = parse_amount(amount, what="stake")
        s = open_session(connection, sign=True)
        s.market.stake(wei)
        console.print(f"staked; total {eth(s.market.stake_of(s.market.signer.address).total)}")

    @app.command("unstake")
    @connected(signs=True)
    def unstake(
        amount: Annotated[str, typer.Argument(help="ETH to start unbonding (exact decimal); 0 releases what is due")],
        connection: Connection = NO_FLAGS,
    ) -> None:
        """Request unbonding, or (with 0) move stake whose delay has passed to your credit."""
        wei = parse_amount(amount, what="unstake", allow_zero=True)
        s = open_session(connection, sign=True)
        if wei > 0:
            before = s.market.stake_of(s.market.signer.address)
            available = before.total - before.unbonding
            if wei > available:  # what the contract would refuse (TaskMarketUnstakeTooLarge), said in ETH
                raise ConfigError(
                    f"unstake {eth(wei)}: your stake is {eth(before.total)}, {eth(before.unbonding)} of it already "
                    f"unbonding: at most {eth(available)} can start"
                )
            s.market.request_unstake(wei)
            info = s.market.stake_of(s.market.signer.address)
            console.print(f"unbonding {eth(info.unbonding)}, releasable from {time.ctime(info.release_at)}")
        else:
            s.market.release_unstaked()
            console.print(f"released; credit {eth(s.market.credit_of(s.market.signer.address))}")

    @app.command("withdraw")
    @connected(signs=True)
    def withdraw(
        connection: Connection = NO_FLAGS,
    ) -> None:
        """Send yourself all of your credit."""
        s = open_session(connection, sign=True)
        credit = s.market.credit_of(s.market.signer.address)
        s.market.withdraw()
        console.print(f"withdrew {eth(credit)}")
