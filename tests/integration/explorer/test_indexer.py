"""The explorer's index over a real chain: its figures equal the contract's views, and it survives a kill, a
reorganisation and a new chain under the same folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.queries import Queries
from node.chain.contract import TaskMarket
from node.chain.deploy import deploy_market
from node.chain.devnet import Devnet
from node.chain.rpc import connect
from node.chain.tx import Signer
from node.chain.types import UnitStatus
from testkit.chain import UNBONDING_DELAY_S, Chain
from tests.integration.chain.helpers import ETHER, Voter, params, submit, vote
from tests.integration.explorer.helpers import derived, indexer, open_index

pytestmark = pytest.mark.chain

STAKE = 5 * ETHER


def _run_task(chain: Chain) -> tuple[int, list[TaskMarket], list[Voter]]:
    """One round of two units: unit 0 rejected once (its miner slashed), then every unit accepted."""
    owner = chain.market(chain.accounts[1])
    miners = [chain.market(a) for a in chain.accounts[2:4]]
    voters = [Voter(chain.market(a), {}) for a in chain.accounts[4:9]]
    for m in miners:
        m.stake(STAKE)
    for v in voters:
        v.market.stake(STAKE)
        v.market.join_verifier_pool()
    task_id, _ = owner.create_task(params(rounds=1, units=2, quorum=3))
    cheat, honest = miners
    cheat.claim_unit(task_id, 0, 0)
    submit(cheat, task_id, 0, 0)
    vote(voters, task_id, 0, 0, False)
    for index in range(3):
        honest.claim_unit(task_id, 0, index)
        submit(honest, task_id, 0, index)
        vote(voters, task_id, 0, index, True)
    return task_id, miners, voters


def test_the_index_says_what_the_contract_says(chain: Chain, tmp_path: Path) -> None:
    task_id, miners, voters = _run_task(chain)
    index = open_index(chain, tmp_path / "explorer.sqlite")
    result = indexer(chain, index).catch_up()
    assert result.caught_up
    queries = Queries(index)
    market = chain.market()

    task = queries.task(task_id)
    assert task is not None
    on_chain = market.get_task(task_id)
    assert task["status"] == "completed"
    assert int(task["escrow"]) == on_chain.state.escrow == 0
    assert task["final_model"] == "0x" + on_chain.state.final_model_digest.hex()
    assert (task["accepted"], task["rejected"]) == (3, 1)
    assert int(task["slashed_in"]) == on_chain.params.unit_bond  # the cheat's bond; every voter revealed
    assert int(task["budget"]) + int(task["slashed_in"]) == int(task["paid_out"]) + int(task["refunded"])
    for index_, unit in enumerate(task["rounds_grid"][0]):
        view = market.get_unit(task_id, 0, index_)
        assert unit["status"] == "accepted"
        assert view.status is UnitStatus.ACCEPTED
        assert unit["miner"] == view.miner
        assert unit["result_digest"] == "0x" + view.result_digest.hex()
        assert (unit["valid_votes"], unit["invalid_votes"]) == (view.valid_votes, view.reveals - view.valid_votes)

    for account in [*(m.signer.address for m in miners), *(v.address for v in voters)]:
        row = queries.account(account)
        assert row is not None
        assert int(row["credited"]) == market.credit_of(account), account
        stake = market.stake_of(account)
        assert STAKE - int(row["slashed"]) == stake.total == int(row["staked"]), account
    cheat = queries.account(miners[0].signer.address)
    assert cheat is not None
    assert [(m["kind"], int(m["amount"])) for m in cheat["money"] if m["kind"] == "slash"] == [
        ("slash", on_chain.params.unit_bond)
    ]
    assert cheat["units_rejected"] == 1

    network = queries.network(window_s=86_400)
    assert network["tasks"]["completed"] >= 1
    assert network["units_accepted"] == 3
    receipts_gas = sum(
        int(chain.w3.eth.get_transaction_receipt(r["hash"])["gasUsed"]) for r in index.query("SELECT hash FROM txs")
    )
    assert network["gas_used"] == receipts_gas > 0


def test_a_killed_indexer_resumes_where_it_stopped(chain: Chain, tmp_path: Path) -> None:
    _run_task(chain)
    whole = open_index(chain, tmp_path / "whole.sqlite")
    indexer(chain, whole).catch_up()

    path = tmp_path / "resumed.sqlite"
    first = open_index(chain, path)
    partial = indexer(chain, first, batch_blocks=7).sync()  # one small batch, then the process "dies"
    assert not partial.caught_up
    first.close()
    again = open_index(chain, path)
    assert again.cursor == partial.cursor
    indexer(chain, again, batch_blocks=7).catch_up()
    assert derived(again) == derived(whole)
    assert again.query("SELECT COUNT(*) FROM events")[0][0] == whole.query("SELECT COUNT(*) FROM events")[0][0]


def test_a_reorganised_tail_is_undone(chain: Chain, tmp_path: Path) -> None:
    owner = chain.market(chain.accounts[1])
    first_miner, second_miner = (chain.market(a) for a in chain.accounts[2:4])
    for m in (first_miner, second_miner):
        m.stake(STAKE)
    task_id, _ = owner.create_task(params(rounds=1, units=2, quorum=3))
    index = open_index(chain, tmp_path / "explorer.sqlite")
    ours = indexer(chain, index)
    ours.catch_up()

    fork = chain.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    first_miner.claim_unit(task_id, 0, 0)
    ours.catch_up()
    assert Queries(index).unit(task_id, 0, 0)["miner"] == first_miner.signer.address  # type: ignore[index]

    # The other branch: the same heights with other blocks, and a longer chain.
    assert chain.w3.provider.make_request("evm_revert", [fork])["result"]  # type: ignore[arg-type]
    second_miner.claim_unit(task_id, 0, 1)
    chain.advance(1)
    result = ours.catch_up()

    assert result.rewound_to is not None
    assert ours.metrics.reorgs._value.get() == 1
    queries = Queries(index)
    assert queries.unit(task_id, 0, 0) is None, "the claim of the abandoned branch is gone"
    assert queries.unit(task_id, 0, 1)["miner"] == second_miner.signer.address  # type: ignore[index]
    fresh = open_index(chain, tmp_path / "fresh.sqlite")
    indexer(chain, fresh).catch_up()
    assert derived(index) == derived(fresh)


def test_a_new_chain_under_the_same_folder_is_not_mixed_with_the_old(chain: Chain, tmp_path: Path) -> None:
    _run_task(chain)
    path = tmp_path / "explorer.sqlite"
    old = open_index(chain, path)
    indexer(chain, old).catch_up()
    old.close()

    with Devnet(accounts=3) as other:
        w3 = connect(other.rpc_url)
        from node.chain.devnet import dev_accounts

        deployment = deploy_market(Signer(w3, dev_accounts(1)[0]), chain.artifact, unbonding_delay_s=UNBONDING_DELAY_S)
        replaced = Chain(other.rpc_url, w3, chain.artifact, deployment, dev_accounts(3))
        new = open_index(replaced, path)
        assert new.cursor is None
        assert new.query("SELECT COUNT(*) FROM tasks")[0][0] == 0
        indexer(replaced, new).catch_up()
        assert new.query("SELECT COUNT(*) FROM tasks")[0][0] == 0
    aside = [p for p in tmp_path.iterdir() if ".other-chain-" in p.name and p.suffix == ".sqlite"]
    assert len(aside) == 1, "the old chain's index was moved aside, not deleted"


def test_the_index_holds_only_blocks_deep_enough(chain: Chain, tmp_path: Path) -> None:
    """--confirmations 2: a task created at the head is indexed once 2 blocks are on top of it; with the chain's
    safe tag (Anvil's: 32 under the head) the cursor stays at the safe block."""
    from node.chain.confirmations import Confirmations

    owner = chain.market(chain.accounts[1])
    index = open_index(chain, tmp_path / "explorer.sqlite")
    deep = indexer(chain, index, confirmations=Confirmations(depth=2))
    deep.catch_up()
    task_id, _ = owner.create_task(params(rounds=1, units=2, quorum=3))
    head = chain.w3.eth.block_number
    assert deep.catch_up().cursor == head - 2
    assert Queries(index).task(task_id) is None, "not 2 blocks deep yet"
    chain.advance(1)
    chain.advance(1)
    assert deep.catch_up().cursor == head
    assert Queries(index).task(task_id) is not None

    chain.w3.provider.make_request("anvil_mine", [40])  # type: ignore[arg-type]
    tagged = indexer(chain, open_index(chain, tmp_path / "safe.sqlite"), confirmations=Confirmations(tag="safe"))
    assert tagged.catch_up().cursor == int(chain.w3.eth.get_block("safe")["number"]) < chain.w3.eth.block_number
