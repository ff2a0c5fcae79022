"""Whole tasks through the Python wrapper on a real Anvil chain, every balance checked to the wei."""

from __future__ import annotations

import pytest

from node.chain.contract import TaskMarket
from node.chain.types import TaskStatus, UnitStatus
from testkit.chain import Chain
from tests.integration.chain.helpers import ETHER, Voter, digest, params, seated, submit, vote

pytestmark = pytest.mark.chain

STAKE = 5 * ETHER


@pytest.fixture
def owner(chain: Chain) -> TaskMarket:
    return chain.market(chain.accounts[1])


@pytest.fixture
def miners(chain: Chain) -> list[TaskMarket]:
    out = [chain.market(a) for a in chain.accounts[2:4]]
    for m in out:
        m.stake(STAKE)
    return out


@pytest.fixture
def voters(chain: Chain) -> list[Voter]:
    out = [Voter(chain.market(a), {}) for a in chain.accounts[4:9]]
    for v in out:
        v.market.stake(STAKE)
        v.market.join_verifier_pool()
    return out


def _withdraw_and_check(chain: Chain, market: TaskMarket) -> int:
    """Withdraws all credit and checks the account received exactly it, net of the gas it paid."""
    address = market.signer.address
    credit = market.credit_of(address)
    before = chain.w3.eth.get_balance(address)
    sent = market.withdraw()
    fee = sent.gas_used * int(sent.receipt["effectiveGasPrice"])
    assert chain.w3.eth.get_balance(address) == before + credit - fee
    assert market.credit_of(address) == 0
    return credit


def test_whole_task_completes_and_pays_everyone_to_the_wei(
    chain: Chain, owner: TaskMarket, miners: list[TaskMarket], voters: list[Voter]
) -> None:
    p = params(rounds=2, units=2, quorum=3)
    assert owner.budget_of(p) == p.budget == 2 * (2 * ETHER + ETHER // 2 + 3 * 3 * ETHER // 10)
    balance_before = owner.balance()
    task_id, _ = owner.create_task(p)
    assert owner.balance() == balance_before + p.budget
    task = owner.get_task(task_id)
    assert task.state.status is TaskStatus.ACTIVE
    assert task.state.escrow == p.budget

    final_model = b""
    for round_ in range(2):
        assert owner.round_input(task_id, round_) == (digest("model-0") if round_ == 0 else final_model)
        for index in range(2):
            miner = miners[index]
            miner.claim_unit(task_id, round_, index)
            submit(miner, task_id, round_, index)
            vote(voters, task_id, round_, index, True)
            assert owner.get_unit(task_id, round_, index).status is UnitStatus.ACCEPTED
        assert owner.is_claimable(task_id, round_, 2)
        miners[0].claim_unit(task_id, round_, 2)
        _, final_model = submit(miners[0], task_id, round_, 2)
        vote(voters, task_id, round_, 2, True)

    task = owner.get_task(task_id)
    assert task.state.status is TaskStatus.COMPLETED
    assert task.state.final_model_digest == final_model
    assert task.state.escrow == 0
    assert owner.credit_of(owner.signer.address) == 0, "the budget was spent exactly"
    assert miners[0].credit_of(miners[0].signer.address) == 2 * ETHER + 2 * (ETHER // 2)
    assert miners[1].credit_of(miners[1].signer.address) == 2 * ETHER
    # 2 rounds × 3 units × 3 seats, whoever was drawn into them
    assert sum(v.market.credit_of(v.address) for v in voters) == 18 * (ETHER // 10)
    for v in voters:
        assert v.market.stake_of(v.address).locked == 0
    assert owner.balance() == owner.total_owed()

    paid = sum(_withdraw_and_check(chain, m) for m in miners)
    paid += sum(_withdraw_and_check(chain, v.market) for v in voters if v.market.credit_of(v.address) > 0)
    assert paid == p.budget
    assert owner.balance() == owner.total_owed() == len(miners) * STAKE + len(voters) * STAKE


def test_rejection_slashes_and_the_unit_is_reclaimed(
    chain: Chain, owner: TaskMarket, miners: list[TaskMarket], voters: list[Voter]
) -> None:
    p = params(rounds=1, units=1, quorum=3)
    task_id, _ = owner.create_task(p)
    cheat, honest = miners
    cheat.claim_unit(task_id, 0, 0)
    submit(cheat, task_id, 0, 0)
    vote(voters, task_id, 0, 0, False)
    unit = owner.get_unit(task_id, 0, 0)
    assert unit.status is UnitStatus.OPEN
    assert unit.rejections == 1
    assert cheat.stake_of(cheat.signer.address).total == STAKE - p.unit_bond
    escrow = owner.get_task(task_id).state.escrow
    assert escrow == p.budget + p.unit_bond - 3 * p.verifier_reward

    honest.claim_unit(task_id, 0, 0)
    submit(honest, task_id, 0, 0)
    vote(voters, task_id, 0, 0, True)
    honest.claim_unit(task_id, 0, 1)
    submit(honest, task_id, 0, 1)
    vote(voters, task_id, 0, 1, True)
    task = owner.get_task(task_id)
    assert task.state.status is TaskStatus.COMPLETED
    # The slashed bond paid the rejecting verifiers; what is left of it goes back to the owner.
    refund = p.unit_bond - 3 * p.verifier_reward
    assert owner.credit_of(owner.signer.address) == refund
    assert owner.balance() == owner.total_owed()


def test_expired_claim_is_slashed_and_reopened(chain: Chain, owner: TaskMarket, miners: list[TaskMarket]) -> None:
    p = params(rounds=1, units=1, quorum=1)
    task_id, _ = owner.create_task(p)
    miners[0].claim_unit(task_id, 0, 0)
    deadline = owner.get_unit(task_id, 0, 0).deadline
    chain.advance(deadline - chain.timestamp() + 1)
    miners[1].reclaim_expired(task_id, 0, 0)
    assert owner.get_unit(task_id, 0, 0).status is UnitStatus.OPEN
    assert miners[0].stake_of(miners[0].signer.address).total == STAKE - p.unit_bond
    assert owner.get_task(task_id).state.escrow == p.budget + p.unit_bond
    miners[1].claim_unit(task_id, 0, 0)


def test_non_revealer_is_slashed_and_replaced_by_a_fresh_draw(
    chain: Chain, owner: TaskMarket, miners: list[TaskMarket], voters: list[Voter]
) -> None:
    p = params(rounds=1, units=1, quorum=1)
    task_id, _ = owner.create_task(p)
    miners[0].claim_unit(task_id, 0, 0)
    submit(miners[0], task_id, 0, 0)
    (silent,) = seated(voters, task_id, 0, 0)
    silent.commit(task_id, 0, 0, True)
    deadline = owner.get_unit(task_id, 0, 0).deadline
    chain.advance(deadline - chain.timestamp() + 1)
    owner.finalize_unit(task_id, 0, 0)  # anyone may finalize
    unit = owner.get_unit(task_id, 0, 0)
    assert (unit.status, unit.epoch, unit.seats) == (UnitStatus.SUBMITTED, 2, 0), "a fresh quorum is due"
    assert silent.market.stake_of(silent.address).total == STAKE - p.vote_bond
    (judge,) = vote(voters, task_id, 0, 0, True)
    assert owner.get_unit(task_id, 0, 0).status is UnitStatus.ACCEPTED
    assert judge.market.credit_of(judge.address) == p.verifier_reward
    assert silent is judge or silent.market.credit_of(silent.address) == 0


def test_cancel_refunds_the_rest_once_units_in_flight_finish(
    chain: Chain, owner: TaskMarket, miners: list[TaskMarket], voters: list[Voter]
) -> None:
    p = params(rounds=2, units=2, quorum=1)
    task_id, _ = owner.create_task(p)
    miners[0].claim_unit(task_id, 0, 0)
    owner.cancel_task(task_id)
    assert owner.get_task(task_id).state.status is TaskStatus.CANCELLED
    assert owner.credit_of(owner.signer.address) == 0
    submit(miners[0], task_id, 0, 0)
    vote(voters, task_id, 0, 0, True)
    assert miners[0].credit_of(miners[0].signer.address) == p.miner_reward
    assert owner.credit_of(owner.signer.address) == p.budget - p.miner_reward - p.verifier_reward
    assert owner.get_task(task_id).state.escrow == 0
    _withdraw_and_check(chain, owner)
    assert owner.balance() == owner.total_owed()


def test_verifier_pool_follows_stake_at_risk(chain: Chain, voters: list[Voter]) -> None:
    """Joining puts the stake at risk (total − unbonding) in the pool; unstaking and leaving take it out."""
    market = voters[0].market  # the fixture put it in the pool
    me = market.signer.address
    info = market.stake_of(me)
    assert (info.verifying, info.pool_weight) == (True, STAKE)
    market.request_unstake(ETHER)
    assert market.stake_of(me).pool_weight == STAKE - ETHER
    market.leave_verifier_pool()
    info = market.stake_of(me)
    assert (info.verifying, info.pool_weight) == (False, 0)
    assert market.verifier_pool() != market.address
