"""What a node can afford at start (node.roles.funds): said in one line, or refused with the funds code."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from node.errors import InsufficientFunds
from node.roles.funds import check_funds
from tests.unit.node.roles.harness import TASK, node


def test_an_account_with_no_eth_cannot_pay_gas_and_is_refused(tmp_path: Path) -> None:
    n = node(tmp_path)
    n.market.balances[n.market.me] = 0
    with pytest.raises(InsufficientFunds, match="holds 0 ETH: it cannot pay gas") as info:
        check_funds(n.services, ["keeper"])
    assert info.value.exit_code == 4


def test_a_miner_whose_stake_and_balance_cover_no_unit_bond_is_refused_naming_the_bond(tmp_path: Path) -> None:
    n = node(tmp_path)  # the fake task's unit bond is 10 wei, its vote bond 4 wei
    n.market.stakes[n.market.me] = 0
    n.market.balances[n.market.me] = 9
    with pytest.raises(InsufficientFunds, match=r"smallest bond of the active tasks, 0\.000000 ETH"):
        check_funds(n.services, ["miner", "aggregator"])
    assert check_funds(n.services, ["verifier"]).seats == {TASK: 2}, "two vote bonds of 4 wei: a verifier can sit"


def test_the_stake_cap_bounds_what_the_balance_may_stake(tmp_path: Path) -> None:
    n = node(tmp_path, stake_cap_wei=25)
    n.market.stakes[n.market.me] = 0
    funds = check_funds(n.services, ["miner", "verifier"])
    assert (funds.for_bonds, funds.claims, funds.seats) == (25, {TASK: 2}, {TASK: 6})


def test_a_funded_node_with_no_active_task_starts_and_says_what_it_holds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    n = node(tmp_path)
    task = n.market.tasks[TASK]
    n.market.tasks[TASK] = replace(task, state=replace(task.state, status=type(task.state.status).COMPLETED))
    with caplog.at_level("INFO", logger="node.roles.funds"):
        funds = check_funds(n.services, ["miner"])
    assert (funds.claims, funds.seats) == ({}, {})
    [line] = [r for r in caplog.records if r.getMessage() == "funds"]
    assert line.balance_wei == 100 * 10**18  # type: ignore[attr-defined]


def test_a_node_with_stake_locked_in_its_bonds_starts_to_honour_them_even_when_it_can_take_no_more(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Restarted mid-task at its stake cap, every wei of stake locked: refusing to start would leave its votes
    unrevealed and its claims untrained, and slash it. It starts, and says it can take no more."""
    n = node(tmp_path, stake_cap_wei=10**18)
    n.market.stakes[n.market.me] = 10**18  # at the cap
    n.market.locked[n.market.me] = 10**18  # all of it in bonds
    with caplog.at_level("WARNING", logger="node.roles.funds"):
        funds = check_funds(n.services, ["miner", "verifier"])
    assert (funds.for_bonds, funds.claims, funds.seats) == (0, {TASK: 0}, {TASK: 0})
    assert any(r.getMessage().startswith("no more bonds affordable") for r in caplog.records)
