// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TaskMarketFixture} from "./utils/TaskMarketFixture.sol";
import {ITaskMarket} from "../src/interfaces/ITaskMarket.sol";

/// @notice Votes: commit, reveal, finalize, and every way a vote can end.
contract TaskMarketVotesTest is TaskMarketFixture {
    uint256 internal taskId;

    function setUp() public override {
        super.setUp();
        taskId = _createDefault();
        _claimAndSubmit(taskId, 0, 0, miners[0]);
    }

    function test_commitVote_locksTheBondAndOpensRevealsAtQuorum() public {
        _commit(taskId, 0, 0, verifiers[0], true);
        _commit(taskId, 0, 0, verifiers[1], true);
        vm.assertEq(_locked(verifiers[0]), VOTE_BOND, "vote bond locked");
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Submitted, "still committing");
        bytes32 c = market.commitmentOf(taskId, 0, 0, verifiers[2], true, _salt(verifiers[2], taskId, 0, 0));
        vm.expectEmit();
        emit ITaskMarket.VoteCommitted(taskId, 0, 0, verifiers[2], 1, c);
        vm.expectEmit();
        emit ITaskMarket.RevealOpened(taskId, 0, 0, 1, uint64(block.timestamp + 30 minutes));
        vm.prank(verifiers[2]);
        market.commitVote(taskId, 0, 0, c);
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, 0);
        vm.assertTrue(u.status == ITaskMarket.UnitStatus.Revealing, "revealing");
        vm.assertEq(u.commits, 3, "three commits");
        ITaskMarket.BallotInfo memory b = market.getBallot(taskId, 0, 0, verifiers[2]);
        vm.assertTrue(b.committed && !b.revealed, "ballot committed, not revealed");
        vm.assertEq(b.commitment, c, "commitment kept");
    }

    function test_commitVote_revertsOnSelfVote() public {
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketSelfVote.selector, miners[0]));
        _commit(taskId, 0, 0, miners[0], true);
    }

    function test_commitVote_revertsOnSecondVote() public {
        _commit(taskId, 0, 0, verifiers[0], true);
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketAlreadyCommitted.selector, verifiers[0]));
        _commit(taskId, 0, 0, verifiers[0], false);
    }

    function test_commitVote_revertsOnZeroCommitment() public {
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketZeroDigest.selector, "commitment"));
        vm.prank(verifiers[0]);
        market.commitVote(taskId, 0, 0, 0);
    }

    function test_commitVote_revertsWithoutFreeStake() public {
        vm.expectRevert(
            abi.encodeWithSelector(ITaskMarket.TaskMarketInsufficientFreeStake.selector, stranger, 0, VOTE_BOND)
        );
        _commit(taskId, 0, 0, stranger, true);
    }

    function test_commitVote_revertsWhenQuorumIsFull() public {
        for (uint256 i; i < 3; ++i) _commit(taskId, 0, 0, verifiers[i], true);
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketUnitWrongStatus.selector, taskId, 0, 0, ITaskMarket.UnitStatus.Revealing
            )
        );
        _commit(taskId, 0, 0, verifiers[3], true);
    }

    function test_commitVote_revertsBeforeSubmission() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketUnitWrongStatus.selector, taskId, 0, 1, ITaskMarket.UnitStatus.Open
            )
        );
        _commit(taskId, 0, 1, verifiers[0], true);
    }

    function testFuzz_commitVote_deadlineIsInclusive(uint8 pick) public {
        int256 delta = int256(uint256(bound(pick, 0, 2))) - 1;
        uint256 deadline = _unit(taskId, 0, 0).deadline;
        vm.warp(uint256(int256(deadline) + delta));
        if (delta > 0) {
            vm.expectRevert(
                abi.encodeWithSelector(ITaskMarket.TaskMarketDeadlinePassed.selector, deadline, deadline + 1)
            );
        }
        _commit(taskId, 0, 0, verifiers[0], true);
    }

    function test_revealVote_revertsBeforeTheCommitPhaseCloses() public {
        _commit(taskId, 0, 0, verifiers[0], true);
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketUnitWrongStatus.selector, taskId, 0, 0, ITaskMarket.UnitStatus.Submitted
            )
        );
        _reveal(taskId, 0, 0, verifiers[0], true);
    }

    function test_revealVote_revertsOnWrongSalt() public {
        for (uint256 i; i < 3; ++i) _commit(taskId, 0, 0, verifiers[i], true);
        bytes32 committed = market.getBallot(taskId, 0, 0, verifiers[0]).commitment;
        bytes32 wrong = market.commitmentOf(taskId, 0, 0, verifiers[0], true, bytes32(uint256(7)));
        vm.expectRevert(
            abi.encodeWithSelector(ITaskMarket.TaskMarketCommitmentMismatch.selector, committed, wrong)
        );
        vm.prank(verifiers[0]);
        market.revealVote(taskId, 0, 0, true, bytes32(uint256(7)));
    }

    function test_revealVote_revertsOnFlippedVote() public {
        for (uint256 i; i < 3; ++i) _commit(taskId, 0, 0, verifiers[i], true);
        vm.expectRevert(); // a CommitmentMismatch: the vote is bound by the commitment
        _reveal(taskId, 0, 0, verifiers[0], false);
    }

    function test_revealVote_revertsWithoutBallot() public {
        for (uint256 i; i < 3; ++i) _commit(taskId, 0, 0, verifiers[i], true);
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketNoBallot.selector, verifiers[4]));
        _reveal(taskId, 0, 0, verifiers[4], true);
    }

    function test_revealVote_revertsOnSecondReveal() public {
        for (uint256 i; i < 3; ++i) _commit(taskId, 0, 0, verifiers[i], true);
        _reveal(taskId, 0, 0, verifiers[0], true);
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketAlreadyRevealed.selector, verifiers[0]));
        _reveal(taskId, 0, 0, verifiers[0], true);
    }

    function testFuzz_revealVote_deadlineIsInclusive(uint8 pick) public {
        int256 delta = int256(uint256(bound(pick, 0, 2))) - 1;
        for (uint256 i; i < 3; ++i) _commit(taskId, 0, 0, verifiers[i], true);
        uint256 deadline = _unit(taskId, 0, 0).deadline;
        vm.warp(uint256(int256(deadline) + delta));
        if (delta > 0) {
            vm.expectRevert(
                abi.encodeWithSelector(ITaskMarket.TaskMarketDeadlinePassed.selector, deadline, deadline + 1)
            );
        }
        _reveal(taskId, 0, 0, verifiers[0], true);
    }

    function test_revealVote_copiedCommitmentCannotBeRevealedAndIsSlashed() public {
        _commit(taskId, 0, 0, verifiers[0], true);
        bytes32 copied = market.getBallot(taskId, 0, 0, verifiers[0]).commitment;
        vm.prank(verifiers[1]);
        market.commitVote(taskId, 0, 0, copied); // a lazy verifier copies verifiers[0]'s commitment
        _commit(taskId, 0, 0, verifiers[2], true);
        _reveal(taskId, 0, 0, verifiers[0], true);
        // Even knowing the vote and salt, the copier's own address changes the hash.
        vm.expectRevert();
        vm.prank(verifiers[1]);
        market.revealVote(taskId, 0, 0, true, _salt(verifiers[0], taskId, 0, 0));
        _reveal(taskId, 0, 0, verifiers[2], true);
        vm.warp(block.timestamp + 30 minutes + 1);
        market.finalizeUnit(taskId, 0, 0);
        vm.assertEq(_total(verifiers[1]), STAKE - VOTE_BOND, "copier slashed as a non-revealer");
        vm.assertEq(market.creditOf(verifiers[1]), 0, "copier unpaid");
        vm.assertEq(market.creditOf(verifiers[0]), VERIFIER_REWARD, "honest paid");
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Accepted, "accepted 2-0");
    }

    function test_revealVote_lastRevealAcceptsAndPaysTheMajority() public {
        uint256 escrow = _state(taskId).escrow;
        bool[] memory votes = new bool[](3);
        votes[0] = true;
        votes[1] = false;
        votes[2] = true;
        _vote(taskId, 0, 0, votes);
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, 0);
        vm.assertTrue(u.status == ITaskMarket.UnitStatus.Accepted, "accepted");
        vm.assertEq(u.validVotes, 2, "two valid");
        vm.assertEq(market.creditOf(miners[0]), MINER_REWARD, "miner paid");
        vm.assertEq(_locked(miners[0]), 0, "miner bond released");
        vm.assertEq(market.creditOf(verifiers[0]), VERIFIER_REWARD, "majority paid");
        vm.assertEq(market.creditOf(verifiers[2]), VERIFIER_REWARD, "majority paid");
        vm.assertEq(market.creditOf(verifiers[1]), 0, "minority unpaid");
        vm.assertEq(_total(verifiers[1]), STAKE - VOTE_BOND, "minority slashed");
        vm.assertEq(_locked(verifiers[1]), 0, "nothing left locked");
        vm.assertEq(
            _state(taskId).escrow,
            escrow - MINER_REWARD - 2 * VERIFIER_REWARD + VOTE_BOND,
            "escrow: paid out, slash in"
        );
        _assertSolvent();
    }

    function test_revealVote_majorityInvalidRejectsAndReopens() public {
        uint256 escrow = _state(taskId).escrow;
        bool[] memory votes = new bool[](3);
        votes[0] = false;
        votes[1] = false;
        votes[2] = true;
        _vote(taskId, 0, 0, votes);
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, 0);
        vm.assertTrue(u.status == ITaskMarket.UnitStatus.Open, "open again");
        vm.assertEq(u.miner, address(0), "no miner");
        vm.assertEq(u.rejections, 1, "one rejection");
        vm.assertEq(_total(miners[0]), STAKE - UNIT_BOND, "miner slashed");
        vm.assertEq(_total(verifiers[2]), STAKE - VOTE_BOND, "valid-voting minority slashed");
        vm.assertEq(market.creditOf(verifiers[0]), VERIFIER_REWARD, "majority paid");
        vm.assertEq(
            _state(taskId).escrow, escrow + UNIT_BOND + VOTE_BOND - 2 * VERIFIER_REWARD, "escrow after rejection"
        );
        vm.assertEq(_state(taskId).openUnits, 2, "claimable again");
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketClaimCoolingDown.selector, taskId, 0, 0, miners[0], block.timestamp + 1 hours
            )
        );
        _claim(taskId, 0, 0, miners[0]); // the rejected miner waits; others go first
        // The retry is paid from the slashed bond: accept it and check the budget still covers everything.
        _acceptUnit(taskId, 0, 0, miners[1]);
        vm.assertEq(market.creditOf(miners[1]), MINER_REWARD, "retry paid");
        _assertSolvent();
    }

    function test_finalizeUnit_slashesTheNonRevealer() public {
        for (uint256 i; i < 3; ++i) _commit(taskId, 0, 0, verifiers[i], true);
        _reveal(taskId, 0, 0, verifiers[0], true);
        _reveal(taskId, 0, 0, verifiers[1], true);
        uint256 deadline = _unit(taskId, 0, 0).deadline;
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketFinalizeNotDue.selector, taskId, 0, 0, deadline));
        market.finalizeUnit(taskId, 0, 0);
        vm.warp(deadline + 1);
        market.finalizeUnit(taskId, 0, 0);
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Accepted, "accepted");
        vm.assertEq(_total(verifiers[2]), STAKE - VOTE_BOND, "non-revealer slashed");
        vm.assertEq(_locked(verifiers[2]), 0, "its bond is gone, not locked");
        _assertSolvent();
    }

    function test_finalizeUnit_reopensTheVoteWhenNobodyRevealed() public {
        for (uint256 i; i < 3; ++i) _commit(taskId, 0, 0, verifiers[i], true);
        vm.warp(block.timestamp + 30 minutes + 1);
        vm.expectEmit();
        emit ITaskMarket.VoteReopened(taskId, 0, 0, 2, uint64(block.timestamp + 30 minutes));
        market.finalizeUnit(taskId, 0, 0);
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, 0);
        vm.assertTrue(u.status == ITaskMarket.UnitStatus.Submitted, "voting again");
        vm.assertEq(u.epoch, 2, "new epoch");
        vm.assertEq(u.commits, 0, "fresh ballots");
        for (uint256 i; i < 3; ++i) vm.assertEq(_total(verifiers[i]), STAKE - VOTE_BOND, "all slashed");
        // The same verifiers can vote in the new epoch, with fresh stake.
        _vote(taskId, 0, 0, _unanimous(3, true));
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Accepted, "accepted in epoch 2");
        _assertSolvent();
    }

    function test_finalizeUnit_reopensOnATie() public {
        for (uint256 i; i < 3; ++i) _commit(taskId, 0, 0, verifiers[i], i == 0);
        _reveal(taskId, 0, 0, verifiers[0], true);
        _reveal(taskId, 0, 0, verifiers[1], false);
        vm.warp(block.timestamp + 30 minutes + 1);
        market.finalizeUnit(taskId, 0, 0);
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Submitted, "no verdict");
        vm.assertEq(_total(verifiers[0]), STAKE, "revealer kept its bond");
        vm.assertEq(_total(verifiers[1]), STAKE, "revealer kept its bond");
        vm.assertEq(_locked(verifiers[0]), 0, "unlocked");
        vm.assertEq(_total(verifiers[2]), STAKE - VOTE_BOND, "non-revealer slashed");
        vm.assertEq(_locked(miners[0]), UNIT_BOND, "miner's bond still at stake");
    }

    function test_finalizeUnit_releasesBondsWhenTheQuorumDidNotFill() public {
        _commit(taskId, 0, 0, verifiers[0], true);
        uint256 deadline = _unit(taskId, 0, 0).deadline;
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketFinalizeNotDue.selector, taskId, 0, 0, deadline));
        market.finalizeUnit(taskId, 0, 0);
        vm.warp(deadline + 1);
        market.finalizeUnit(taskId, 0, 0);
        vm.assertEq(_locked(verifiers[0]), 0, "bond back");
        vm.assertEq(_total(verifiers[0]), STAKE, "not slashed");
        vm.assertEq(_unit(taskId, 0, 0).epoch, 2, "vote re-opened");
    }

    function test_finalizeUnit_revertsOnAUnitNotVoting() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketUnitWrongStatus.selector, taskId, 0, 1, ITaskMarket.UnitStatus.Open
            )
        );
        market.finalizeUnit(taskId, 0, 1);
    }

    function testFuzz_settlement_conservesEveryWei(uint256 pattern) public {
        uint256 five = _create(_params(1, 1, 5));
        _claimAndSubmit(five, 0, 0, miners[1]);
        uint256 balance = address(market).balance;
        for (uint256 i; i < 5; ++i) _commit(five, 0, 0, verifiers[i], (pattern >> i) & 1 == 1);
        for (uint256 i; i < 5; ++i) {
            if ((pattern >> (8 + i)) & 1 == 1) _reveal(five, 0, 0, verifiers[i], (pattern >> i) & 1 == 1);
        }
        ITaskMarket.UnitInfo memory u = _unit(five, 0, 0);
        if (u.status == ITaskMarket.UnitStatus.Revealing) {
            vm.warp(block.timestamp + 30 minutes + 1);
            market.finalizeUnit(five, 0, 0);
        }
        vm.assertEq(address(market).balance, balance, "no value moved in or out");
        vm.assertEq(market.totalOwed(), balance, "every wei still owed to somebody");
        for (uint256 i; i < 5; ++i) vm.assertEq(_locked(verifiers[i]), 0, "every vote bond settled");
    }
}
