"""Every custom error reachable from an account surfaces as its typed Python exception, with its arguments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from node.chain import reverts
from node.chain.contract import TaskMarket
from node.chain.deploy import deploy_market
from node.chain.tx import Signer
from node.errors import ContractRevert
from testkit.chain import Chain
from tests.integration.chain.helpers import ETHER, Voter, params, seated, submit

pytestmark = pytest.mark.chain


@pytest.fixture
def world(chain: Chain) -> dict[str, object]:
    owner = chain.market(chain.accounts[1])
    miner = chain.market(chain.accounts[2])
    other = chain.market(chain.accounts[3])
    poor = chain.market(chain.accounts[10])
    voters = [Voter(chain.market(a), {}) for a in chain.accounts[4:7]]
    for m in (miner, other, *(v.market for v in voters)):
        m.stake(5 * ETHER)
    for v in voters:
        v.market.join_verifier_pool()
    task_id, _ = owner.create_task(params(rounds=1, units=2, quorum=3))
    return {"owner": owner, "miner": miner, "other": other, "poor": poor, "voters": voters, "task": task_id}


def _expect(fn: Callable[[], object], cls: type[ContractRevert], **values: object) -> ContractRevert:
    with pytest.raises(cls) as info:
        fn()
    err = info.value
    assert err.error_name == cls.error_name
    for key, value in values.items():
        assert err.values[key] == value, (key, err.values)
    assert cls.error_name in str(err)
    return err


def test_task_parameter_errors(world: dict[str, object]) -> None:
    owner: TaskMarket = world["owner"]  # type: ignore[assignment]
    p = params(rounds=1, units=1, quorum=1)
    _expect(lambda: owner.create_task(replace(p, quorum=2)), reverts.TaskMarketQuorumEven, quorum=2)
    _expect(
        lambda: owner.create_task(replace(p, rounds=0)),
        reverts.TaskMarketParamOutOfRange,
        field="rounds",
        value=0,
        min=1,
        max=1000,
    )
    _expect(
        lambda: owner.create_task(replace(p, spec_digest=b"\0" * 32)),
        reverts.TaskMarketZeroDigest,
        field="specDigest",
    )
    _expect(
        lambda: owner.create_task(replace(p, miner_reward=0)),
        reverts.TaskMarketZeroAmount,
        field="minerReward",
    )
    _expect(
        lambda: owner.create_task(replace(p, unit_bond=1)),
        reverts.TaskMarketUnitBondTooSmall,
        unitBond=1,
        minimum=p.verifier_reward,
    )
    call = owner._call("createTask", p.as_tuple(), value=p.budget - 1)
    _expect(
        lambda: owner.signer.send(call),
        reverts.TaskMarketBudgetMismatch,
        expected=p.budget,
        sent=p.budget - 1,
    )


def test_unit_and_vote_errors(chain: Chain, world: dict[str, object]) -> None:
    owner: TaskMarket = world["owner"]  # type: ignore[assignment]
    miner: TaskMarket = world["miner"]  # type: ignore[assignment]
    other: TaskMarket = world["other"]  # type: ignore[assignment]
    poor: TaskMarket = world["poor"]  # type: ignore[assignment]
    voters: list[Voter] = world["voters"]  # type: ignore[assignment]
    task: int = world["task"]  # type: ignore[assignment]

    _expect(lambda: miner.claim_unit(99, 0, 0), reverts.TaskMarketUnknownTask, taskId=99)
    _expect(lambda: miner.claim_unit(task, 1, 0), reverts.TaskMarketRoundNotCurrent, round=1, currentRound=0)
    _expect(lambda: miner.claim_unit(task, 0, 3), reverts.TaskMarketUnitIndexOutOfRange, index=3, maxIndex=2)
    _expect(lambda: miner.claim_unit(task, 0, 2), reverts.TaskMarketAggregationNotReady, accepted=0, needed=2)
    _expect(
        lambda: poor.claim_unit(task, 0, 0),
        reverts.TaskMarketInsufficientFreeStake,
        account=poor.signer.address,
        free=0,
    )
    miner.claim_unit(task, 0, 0)
    _expect(lambda: other.claim_unit(task, 0, 0), reverts.TaskMarketUnitWrongStatus, status=1)
    _expect(
        lambda: other.submit_result(task, 0, 0, b"\1" * 32, b"\2" * 32),
        reverts.TaskMarketNotAssignee,
        caller=other.signer.address,
        miner=miner.signer.address,
    )
    _expect(lambda: miner.submit_result(task, 0, 0, b"\0" * 32, b"\2" * 32), reverts.TaskMarketZeroDigest)
    _expect(lambda: other.reclaim_expired(task, 0, 0), reverts.TaskMarketDeadlineNotPassed)
    submit(miner, task, 0, 0)
    # Seats are drawn from the hash of the submission's block: nobody holds one before the draw.
    _expect(
        lambda: voters[0].market.reveal_vote(task, 0, 0, True, b"\3" * 32), reverts.TaskMarketUnitWrongStatus, status=2
    )
    _expect(lambda: owner.finalize_unit(task, 0, 0), reverts.TaskMarketFinalizeNotDue)
    _expect(lambda: voters[0].commit(task, 0, 0, True), reverts.TaskMarketNotSelected)
    seated(voters, task, 0, 0)
    _expect(lambda: owner.draw_verifiers(task, 0, 0), reverts.TaskMarketQuorumDrawn, index=0)
    _expect(
        lambda: miner.commit_vote(task, 0, 0, b"\1" * 32),
        reverts.TaskMarketNotSelected,
        verifier=miner.signer.address,
    )
    # A quorum of one: its only judge's commit opens the reveals, whoever it is.
    single, _ = owner.create_task(params(rounds=1, units=1, quorum=1))
    miner.claim_unit(single, 0, 0)
    submit(miner, single, 0, 0)
    (judge,) = seated(voters, single, 0, 0)
    judge.commit(single, 0, 0, True)
    _expect(lambda: judge.commit(single, 0, 0, True), reverts.TaskMarketUnitWrongStatus, status=3)
    _expect(
        lambda: other.reveal_vote(single, 0, 0, True, b"\3" * 32),
        reverts.TaskMarketNoBallot,
        verifier=other.signer.address,
    )
    wrong = _expect(
        lambda: judge.market.reveal_vote(single, 0, 0, True, b"\3" * 32),
        reverts.TaskMarketCommitmentMismatch,
    )
    assert isinstance(wrong.values["committed"], bytes)
    chain.advance(601)
    _expect(lambda: judge.reveal(single, 0, 0, True), reverts.TaskMarketDeadlinePassed)
    _expect(lambda: owner.challenge_verdict(single, 0, 0), reverts.TaskMarketUnitWrongStatus, status=3)
    _expect(lambda: other.cancel_task(task), reverts.TaskMarketNotTaskOwner, caller=other.signer.address)
    owner.cancel_task(task)
    _expect(lambda: owner.cancel_task(task), reverts.TaskMarketTaskNotActive, status=3)


def test_staking_and_credit_errors(chain: Chain, world: dict[str, object]) -> None:
    poor: TaskMarket = world["poor"]  # type: ignore[assignment]
    address = poor.signer.address
    _expect(lambda: poor.stake(0), reverts.TaskMarketZeroAmount, field="value")
    _expect(poor.withdraw, reverts.TaskMarketNothingToWithdraw, account=address)
    _expect(poor.release_unstaked, reverts.TaskMarketNothingUnbonding, account=address)
    poor.stake(ETHER)
    _expect(lambda: poor.request_unstake(0), reverts.TaskMarketZeroAmount, field="amount")
    _expect(lambda: poor.request_unstake(2 * ETHER), reverts.TaskMarketUnstakeTooLarge, available=ETHER)
    poor.request_unstake(ETHER)
    _expect(poor.release_unstaked, reverts.TaskMarketUnbondingNotDue, account=address)
    _expect(lambda: poor.round_input(world["task"], 1), reverts.TaskMarketRoundNotReached)  # type: ignore[arg-type]


def test_a_failed_simulation_spends_no_nonce(chain: Chain, world: dict[str, object]) -> None:
    poor: TaskMarket = world["poor"]  # type: ignore[assignment]
    nonce = chain.w3.eth.get_transaction_count(poor.signer.address)
    with pytest.raises(reverts.TaskMarketNothingToWithdraw):
        poor.withdraw()
    assert chain.w3.eth.get_transaction_count(poor.signer.address) == nonce
    poor.stake(1)
    assert chain.w3.eth.get_transaction_count(poor.signer.address) == nonce + 1


def test_constructor_refuses_an_unbonding_delay_out_of_range(chain: Chain) -> None:
    signer = Signer(chain.w3, chain.accounts[11], decode_revert=chain.market().decode_revert)
    with pytest.raises(reverts.TaskMarketUnbondingDelayOutOfRange) as info:
        deploy_market(signer, chain.artifact, unbonding_delay_s=1)
    assert info.value.values == {"delay": 1, "min": 60, "max": 60 * 24 * 3600}
