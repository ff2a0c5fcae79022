// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TaskMarketFixture} from "./utils/TaskMarketFixture.sol";
import {ITaskMarket} from "../src/interfaces/ITaskMarket.sol";
import {Batch} from "./utils/Batch.sol";

/// @notice Votes: the draw of the quorum, commit, reveal, replacement, and every way a first vote can end
/// (no challenge window here: verdicts are final at once; appeals are in TaskMarket.appeals.t.sol).
contract TaskMarketVotesTest is TaskMarketFixture {
    uint256 internal taskId;

    function setUp() public override {
        super.setUp();
        taskId = _createDefault();
        _claimAndSubmit(taskId, 0, 0, miners[0]);
    }

    function _commitAll(address[] memory seats, bool valid) internal {
        for (uint256 i; i < seats.length; ++i) _commit(taskId, 0, 0, seats[i], valid);
    }

    function _notSeated(address[] memory seats) internal view returns (address) {
        for (uint256 i; i < verifiers.length; ++i) {
            bool seated;
            for (uint256 j; j < seats.length; ++j) seated = seated || seats[j] == verifiers[i];
            if (!seated) return verifiers[i];
        }
        revert("everyone seated");
    }

    // ---------------------------------------------------------------------------------------------- draw

    function test_drawVerifiers_revertsUntilTheSeedBlockIsMined() public {
        uint64 seedBlock = _unit(taskId, 0, 0).seedBlock;
        vm.assertEq(seedBlock, vm.getBlockNumber(), "seeded by the submission's block");
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketSeedNotReady.selector, seedBlock, seedBlock));
        market.drawVerifiers(taskId, 0, Batch.one(0));
    }

    function test_drawVerifiers_seatsTheQuorumAndLocksABondPerSeat() public {
        address[] memory seats = _draw(taskId, 0, 0);
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, 0);
        vm.assertEq(seats.length, 3, "three seats");
        vm.assertEq(u.seats, 3, "unit counts them");
        vm.assertEq(u.deadline, vm.getBlockTimestamp() + 30 minutes, "a full commit window from the draw");
        for (uint256 i; i < 3; ++i) {
            vm.assertEq(_locked(seats[i]), VOTE_BOND, "bond locked at the draw");
            vm.assertEq(market.getBallot(taskId, 0, 0, seats[i]).seats, 1, "one seat each");
        }
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketQuorumDrawn.selector, taskId, 0, 0));
        market.drawVerifiers(taskId, 0, Batch.one(0));
    }

    function test_drawVerifiers_neverSeatsTheUnitsMiner() public {
        // The miner holds twice the other verifiers' stake in the pool: it would take two seats in three.
        uint256 other = _create(_params(1, 1, 3));
        vm.deal(miners[1], 2_000 ether);
        vm.startPrank(miners[1]);
        market.stake{value: 100 ether}();
        market.joinVerifierPool();
        vm.stopPrank();
        vm.roll(vm.getBlockNumber() + 1);
        _claimAndSubmit(other, 0, 0, miners[1]);
        vm.roll(vm.getBlockNumber() + 1);
        // Draws that pick the miner are skipped; a call tries a bounded number, the next call goes on.
        for (uint256 calls; calls < 10 && _unit(other, 0, 0).seats < 3; ++calls) market.drawVerifiers(other, 0, Batch.one(0));
        address[] memory seats = market.getSeats(other, 0, 0);
        vm.assertEq(seats.length, 3, "filled from the others");
        for (uint256 i; i < seats.length; ++i) vm.assertTrue(seats[i] != miners[1], "miner never judges itself");
    }

    function test_declineTask_keepsTheDeclinerOutOfEveryDrawOfTheTask() public {
        // Two of the five verifiers cannot re-execute this task's units in time and say so before the draw.
        for (uint256 i; i < 2; ++i) {
            vm.prank(verifiers[i]);
            market.declineTask(taskId);
            vm.assertTrue(market.hasDeclined(taskId, verifiers[i]), "recorded");
        }
        vm.assertFalse(market.hasDeclined(taskId, verifiers[2]), "nobody else");
        vm.roll(vm.getBlockNumber() + 1);
        for (uint256 calls; calls < 20 && _unit(taskId, 0, 0).seats < 3; ++calls) {
            market.drawVerifiers(taskId, 0, Batch.one(0));
        }
        address[] memory seats = market.getSeats(taskId, 0, 0);
        vm.assertEq(seats.length, 3, "filled from the others");
        for (uint256 i; i < seats.length; ++i) {
            vm.assertTrue(seats[i] != verifiers[0] && seats[i] != verifiers[1], "a decliner is never seated");
            vm.assertEq(_locked(seats[i]), VOTE_BOND * market.getBallot(taskId, 0, 0, seats[i]).seats, "bonds");
        }
        vm.assertEq(_locked(verifiers[0]), 0, "no bond locked for a decliner");
        // Another task still draws them.
        vm.assertFalse(market.hasDeclined(_createDefault(), verifiers[0]), "declining is per task");
    }

    function test_declineTask_revertsForAnUnknownTaskOrASecondTime() public {
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketUnknownTask.selector, 99));
        vm.prank(verifiers[0]);
        market.declineTask(99);
        vm.prank(verifiers[0]);
        market.declineTask(taskId);
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketAlreadyDeclined.selector, taskId, verifiers[0]));
        vm.prank(verifiers[0]);
        market.declineTask(taskId);
    }

    function test_drawVerifiers_ignoresStakeAddedAtOrAfterTheSeedBlock() public {
        // In the submission's own block, a newcomer joins with 100 times everyone's stake.
        vm.deal(stranger, 2_000 ether);
        vm.startPrank(stranger);
        market.stake{value: 1_000 ether}();
        market.joinVerifierPool();
        vm.stopPrank();
        uint64 seedBlock = _unit(taskId, 0, 0).seedBlock;
        vm.roll(seedBlock + 1);
        for (uint256 k; k < 20; ++k) {
            uint256 snapshot = vm.snapshotState();
            vm.setBlockhash(seedBlock, keccak256(abi.encode(k)));
            market.drawVerifiers(taskId, 0, Batch.one(0));
            address[] memory seats = market.getSeats(taskId, 0, 0);
            for (uint256 i; i < seats.length; ++i) vm.assertTrue(seats[i] != stranger, "late stake is not drawn");
            vm.revertToState(snapshot);
        }
    }

    function test_drawVerifiers_retargetsASeedTooOldToRead() public {
        uint64 seedBlock = _unit(taskId, 0, 0).seedBlock;
        vm.roll(seedBlock + 300);
        vm.expectEmit();
        emit ITaskMarket.QuorumSeedRetargeted(taskId, 0, 0, 1, uint64(vm.getBlockNumber()));
        market.drawVerifiers(taskId, 0, Batch.one(0));
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, 0);
        vm.assertEq(u.seedBlock, vm.getBlockNumber(), "seeded anew");
        vm.assertEq(u.seats, 0, "nobody drawn from an unreadable seed");
        _vote(taskId, 0, 0, _unanimous(3, true));
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Accepted, "then voted as usual");
    }

    function test_drawVerifiers_drawsFromALaterSeedWhenThePoolWasEmptyAtTheSeed() public {
        for (uint256 i; i < verifiers.length; ++i) {
            vm.prank(verifiers[i]);
            market.leaveVerifierPool();
        }
        vm.roll(vm.getBlockNumber() + 1);
        uint256 other = _createDefault();
        _claimAndSubmit(other, 0, 0, miners[1]); // nobody in the pool: its seed's snapshot is empty
        for (uint256 i; i < verifiers.length; ++i) {
            vm.prank(verifiers[i]);
            market.joinVerifierPool(); // verifiers (re)starting after the submission
        }
        vm.roll(vm.getBlockNumber() + 1);
        vm.expectEmit();
        emit ITaskMarket.QuorumSeedRetargeted(other, 0, 0, 1, uint64(vm.getBlockNumber()));
        market.drawVerifiers(other, 0, Batch.one(0));
        vm.assertEq(_unit(other, 0, 0).seats, 0, "nobody drawn from the empty snapshot");
        vm.assertEq(_unit(other, 0, 0).seedBlock, vm.getBlockNumber(), "seeded anew");
        address[] memory seats = _draw(other, 0, 0);
        vm.assertEq(seats.length, 3, "drawn from the pool as it stands, without waiting out the commit window");
    }

    function test_drawVerifiers_givesOneVerifierSeveralSeatsWhenDrawnAgain() public {
        uint64 seedBlock = _unit(taskId, 0, 0).seedBlock;
        vm.roll(seedBlock + 1);
        address[] memory seats;
        for (uint256 k; k < 256; ++k) {
            vm.setBlockhash(seedBlock, keccak256(abi.encode("twice", k)));
            uint256 snapshot = vm.snapshotState();
            market.drawVerifiers(taskId, 0, Batch.one(0));
            seats = market.getSeats(taskId, 0, 0);
            if (!_distinct(seats)) break;
            vm.revertToState(snapshot);
        }
        vm.assertFalse(_distinct(seats), "found a draw with a repeated verifier");
        address twice = seats[0] == seats[1] || seats[0] == seats[2] ? seats[0] : seats[1];
        uint8 held = market.getBallot(taskId, 0, 0, twice).seats;
        vm.assertGe(held, 2, "two seats or more");
        vm.assertEq(_locked(twice), uint256(held) * VOTE_BOND, "a bond per seat");
        _commit(taskId, 0, 0, twice, true);
        vm.assertEq(_unit(taskId, 0, 0).commits, held, "one commit covers all its seats");
    }

    // ---------------------------------------------------------------------------------------------- commit

    function test_commitVotes_opensRevealsWhenEverySeatCommitted() public {
        address[] memory seats = _draw(taskId, 0, 0);
        _commit(taskId, 0, 0, seats[0], true);
        _commit(taskId, 0, 0, seats[1], true);
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Submitted, "still committing");
        bytes32 c = market.commitmentOf(taskId, 0, 0, seats[2], true, _salt(seats[2], taskId, 0, 0));
        vm.expectEmit();
        emit ITaskMarket.VoteCommitted(taskId, 0, 0, seats[2], 1, c, 1);
        vm.expectEmit();
        emit ITaskMarket.RevealOpened(taskId, 0, 0, 1, uint64(vm.getBlockTimestamp() + 30 minutes));
        vm.prank(seats[2]);
        market.commitVotes(taskId, 0, Batch.one(0), Batch.word(c));
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, 0);
        vm.assertTrue(u.status == ITaskMarket.UnitStatus.Revealing, "revealing");
        vm.assertEq(u.commits, 3, "three commits");
        ITaskMarket.BallotInfo memory b = market.getBallot(taskId, 0, 0, seats[2]);
        vm.assertTrue(b.committed && !b.revealed, "ballot committed, not revealed");
        vm.assertEq(b.commitment, c, "commitment kept");
        vm.assertEq(_locked(seats[2]), VOTE_BOND, "no second bond at commit");
    }

    /// The attack the draw exists for: committing first gains nothing when the seat was not drawn.
    function test_commitVotes_revertsForAnyoneNotDrawn() public {
        address[] memory seats = _draw(taskId, 0, 0);
        address outsider = _notSeated(seats);
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketNotSelected.selector, outsider));
        _commit(taskId, 0, 0, outsider, true);
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketNotSelected.selector, miners[0]));
        _commit(taskId, 0, 0, miners[0], true);
    }

    function test_commitVotes_revertsBeforeTheDraw() public {
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketNotSelected.selector, verifiers[0]));
        _commit(taskId, 0, 0, verifiers[0], true);
    }

    function test_commitVotes_revertsOnSecondVote() public {
        address[] memory seats = _draw(taskId, 0, 0);
        _commit(taskId, 0, 0, seats[0], true);
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketAlreadyCommitted.selector, seats[0]));
        _commit(taskId, 0, 0, seats[0], false);
    }

    function test_commitVotes_revertsOnZeroCommitment() public {
        address[] memory seats = _draw(taskId, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketZeroDigest.selector, "commitment"));
        vm.prank(seats[0]);
        market.commitVotes(taskId, 0, Batch.one(0), Batch.word(0));
    }

    function test_commitVotes_revertsWhenEverySeatCommitted() public {
        address[] memory seats = _draw(taskId, 0, 0);
        _commitAll(seats, true);
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketUnitWrongStatus.selector, taskId, 0, 0, ITaskMarket.UnitStatus.Revealing
            )
        );
        _commit(taskId, 0, 0, _notSeated(seats), true);
    }

    function test_commitVotes_revertsBeforeSubmission() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketUnitWrongStatus.selector, taskId, 0, 1, ITaskMarket.UnitStatus.Open
            )
        );
        _commit(taskId, 0, 1, verifiers[0], true);
    }

    function testFuzz_commitVotes_deadlineIsInclusive(uint8 pick) public {
        address[] memory seats = _draw(taskId, 0, 0);
        int256 delta = int256(uint256(bound(pick, 0, 2))) - 1;
        uint256 deadline = _unit(taskId, 0, 0).deadline;
        vm.warp(uint256(int256(deadline) + delta));
        if (delta > 0) {
            vm.expectRevert(
                abi.encodeWithSelector(ITaskMarket.TaskMarketDeadlinePassed.selector, deadline, deadline + 1)
            );
        }
        _commit(taskId, 0, 0, seats[0], true);
    }

    // ---------------------------------------------------------------------------------------------- reveal

    function test_revealVotes_revertsBeforeTheCommitPhaseCloses() public {
        address[] memory seats = _draw(taskId, 0, 0);
        _commit(taskId, 0, 0, seats[0], true);
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketUnitWrongStatus.selector, taskId, 0, 0, ITaskMarket.UnitStatus.Submitted
            )
        );
        _reveal(taskId, 0, 0, seats[0], true);
    }

    function test_revealVotes_revertsOnWrongSalt() public {
        address[] memory seats = _draw(taskId, 0, 0);
        _commitAll(seats, true);
        bytes32 committed = market.getBallot(taskId, 0, 0, seats[0]).commitment;
        bytes32 wrong = market.commitmentOf(taskId, 0, 0, seats[0], true, bytes32(uint256(7)));
        vm.expectRevert(
            abi.encodeWithSelector(ITaskMarket.TaskMarketCommitmentMismatch.selector, committed, wrong)
        );
        vm.prank(seats[0]);
        market.revealVotes(taskId, 0, Batch.one(0), Batch.bit(true), Batch.word(bytes32(uint256(7))));
    }

    function test_revealVotes_revertsOnFlippedVote() public {
        address[] memory seats = _draw(taskId, 0, 0);
        _commitAll(seats, true);
        vm.expectRevert(); // a CommitmentMismatch: the vote is bound by the commitment
        _reveal(taskId, 0, 0, seats[0], false);
    }

    function test_revealVotes_revertsWithoutBallot() public {
        address[] memory seats = _draw(taskId, 0, 0);
        _commitAll(seats, true);
        address outsider = _notSeated(seats);
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketNoBallot.selector, outsider));
        _reveal(taskId, 0, 0, outsider, true);
    }

    function test_revealVotes_revertsOnSecondReveal() public {
        address[] memory seats = _draw(taskId, 0, 0);
        _commitAll(seats, true);
        _reveal(taskId, 0, 0, seats[0], true);
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketAlreadyRevealed.selector, seats[0]));
        _reveal(taskId, 0, 0, seats[0], true);
    }

    function testFuzz_revealVotes_deadlineIsInclusive(uint8 pick) public {
        int256 delta = int256(uint256(bound(pick, 0, 2))) - 1;
        address[] memory seats = _draw(taskId, 0, 0);
        _commitAll(seats, true);
        uint256 deadline = _unit(taskId, 0, 0).deadline;
        vm.warp(uint256(int256(deadline) + delta));
        if (delta > 0) {
            vm.expectRevert(
                abi.encodeWithSelector(ITaskMarket.TaskMarketDeadlinePassed.selector, deadline, deadline + 1)
            );
        }
        _reveal(taskId, 0, 0, seats[0], true);
    }

    function test_revealVotes_copiedCommitmentCannotBeRevealedAndIsSlashed() public {
        address[] memory seats = _draw(taskId, 0, 0);
        _commit(taskId, 0, 0, seats[0], true);
        bytes32 copied = market.getBallot(taskId, 0, 0, seats[0]).commitment;
        vm.prank(seats[1]);
        market.commitVotes(taskId, 0, Batch.one(0), Batch.word(copied)); // a lazy verifier copies seats[0]'s commitment
        _commit(taskId, 0, 0, seats[2], true);
        _reveal(taskId, 0, 0, seats[0], true);
        // Even knowing the vote and salt, the copier's own address changes the hash.
        vm.expectRevert();
        vm.prank(seats[1]);
        market.revealVotes(taskId, 0, Batch.one(0), Batch.bit(true), Batch.word(_salt(seats[0], taskId, 0, 0)));
        _reveal(taskId, 0, 0, seats[2], true);
        vm.warp(vm.getBlockTimestamp() + 30 minutes + 1);
        market.finalizeUnit(taskId, 0, 0);
        vm.assertEq(_total(seats[1]), STAKE - VOTE_BOND, "copier slashed as a non-revealer");
        vm.assertEq(market.creditOf(seats[1]), 0, "copier unpaid");
        vm.assertEq(market.creditOf(seats[0]), VERIFIER_REWARD, "honest paid");
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Accepted, "accepted 2-0");
    }

    function test_revealVotes_lastRevealAcceptsAndPaysTheMajority() public {
        uint256 escrow = _state(taskId).escrow;
        bool[] memory votes = new bool[](3);
        votes[0] = true;
        votes[1] = false;
        votes[2] = true;
        address[] memory seats = _vote(taskId, 0, 0, votes);
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, 0);
        vm.assertTrue(u.status == ITaskMarket.UnitStatus.Accepted, "accepted");
        vm.assertEq(u.validVotes, 2, "two valid");
        vm.assertEq(market.creditOf(miners[0]), MINER_REWARD, "miner paid");
        vm.assertEq(_locked(miners[0]), 0, "miner bond released");
        vm.assertEq(market.creditOf(seats[0]), VERIFIER_REWARD, "majority paid");
        vm.assertEq(market.creditOf(seats[2]), VERIFIER_REWARD, "majority paid");
        vm.assertEq(market.creditOf(seats[1]), 0, "minority unpaid");
        vm.assertEq(_total(seats[1]), STAKE - VOTE_BOND, "minority slashed");
        vm.assertEq(_locked(seats[1]), 0, "nothing left locked");
        vm.assertEq(
            _state(taskId).escrow,
            escrow - MINER_REWARD - 2 * VERIFIER_REWARD + VOTE_BOND,
            "escrow: paid out, slash in"
        );
        _assertSolvent();
    }

    function test_revealVotes_majorityInvalidRejectsAndReopens() public {
        uint256 escrow = _state(taskId).escrow;
        bool[] memory votes = new bool[](3);
        votes[0] = false;
        votes[1] = false;
        votes[2] = true;
        address[] memory seats = _vote(taskId, 0, 0, votes);
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, 0);
        vm.assertTrue(u.status == ITaskMarket.UnitStatus.Open, "open again");
        vm.assertEq(u.miner, address(0), "no miner");
        vm.assertEq(u.rejections, 1, "one rejection");
        vm.assertEq(_total(miners[0]), STAKE - UNIT_BOND, "miner slashed");
        vm.assertEq(_total(seats[2]), STAKE - VOTE_BOND, "valid-voting minority slashed");
        vm.assertEq(market.creditOf(seats[0]), VERIFIER_REWARD, "majority paid");
        vm.assertEq(
            _state(taskId).escrow, escrow + UNIT_BOND + VOTE_BOND - 2 * VERIFIER_REWARD, "escrow after rejection"
        );
        vm.assertEq(_state(taskId).openUnits, 2, "claimable again");
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketClaimCoolingDown.selector, taskId, 0, 0, miners[0], vm.getBlockTimestamp() + 1 hours
            )
        );
        _claim(taskId, 0, 0, miners[0]); // the rejected miner waits; others go first
        // The retry is paid from the slashed bond: accept it and check the budget still covers everything.
        _acceptUnit(taskId, 0, 0, miners[1]);
        vm.assertEq(market.creditOf(miners[1]), MINER_REWARD, "retry paid");
        _assertSolvent();
    }

    // ---------------------------------------------------------------------------------------------- finalize

    function test_finalizeUnit_slashesTheNonRevealer() public {
        address[] memory seats = _draw(taskId, 0, 0);
        _commitAll(seats, true);
        _reveal(taskId, 0, 0, seats[0], true);
        _reveal(taskId, 0, 0, seats[1], true);
        uint256 deadline = _unit(taskId, 0, 0).deadline;
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketFinalizeNotDue.selector, taskId, 0, 0, deadline));
        market.finalizeUnit(taskId, 0, 0);
        vm.warp(deadline + 1);
        market.finalizeUnit(taskId, 0, 0);
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Accepted, "accepted");
        vm.assertEq(_total(seats[2]), STAKE - VOTE_BOND, "non-revealer slashed");
        vm.assertEq(_locked(seats[2]), 0, "its bond is gone, not locked");
        _assertSolvent();
    }

    function test_finalizeUnit_drawsAFreshQuorumWhenNobodyRevealed() public {
        address[] memory seats = _draw(taskId, 0, 0);
        _commitAll(seats, true);
        vm.warp(vm.getBlockTimestamp() + 30 minutes + 1);
        vm.expectEmit();
        emit ITaskMarket.VoteReopened(taskId, 0, 0, 2, uint64(vm.getBlockTimestamp() + 30 minutes));
        market.finalizeUnit(taskId, 0, 0);
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, 0);
        vm.assertTrue(u.status == ITaskMarket.UnitStatus.Submitted, "voting again");
        vm.assertEq(u.epoch, 2, "new epoch");
        vm.assertEq(u.commits, 0, "fresh ballots");
        vm.assertEq(u.seats, 0, "a fresh draw");
        vm.assertEq(u.seedBlock, vm.getBlockNumber(), "seeded anew");
        for (uint256 i; i < 3; ++i) vm.assertEq(_total(seats[i]), STAKE - VOTE_BOND, "all slashed");
        _vote(taskId, 0, 0, _unanimous(3, true));
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Accepted, "accepted in epoch 2");
        _assertSolvent();
    }

    function test_finalizeUnit_reopensOnATie() public {
        address[] memory seats = _draw(taskId, 0, 0);
        for (uint256 i; i < 3; ++i) _commit(taskId, 0, 0, seats[i], i == 0);
        _reveal(taskId, 0, 0, seats[0], true);
        _reveal(taskId, 0, 0, seats[1], false);
        vm.warp(vm.getBlockTimestamp() + 30 minutes + 1);
        market.finalizeUnit(taskId, 0, 0);
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Submitted, "no verdict");
        vm.assertEq(_total(seats[0]), STAKE, "revealer kept its bond");
        vm.assertEq(_total(seats[1]), STAKE, "revealer kept its bond");
        vm.assertEq(_locked(seats[0]), 0, "unlocked");
        vm.assertEq(_total(seats[2]), STAKE - VOTE_BOND, "non-revealer slashed");
        vm.assertEq(_locked(miners[0]), UNIT_BOND, "miner's bond still at stake");
    }

    function test_finalizeUnit_replacesVerifiersThatDidNotCommit() public {
        address[] memory seats = _draw(taskId, 0, 0);
        _commit(taskId, 0, 0, seats[0], true);
        _commit(taskId, 0, 0, seats[1], true);
        uint256 deadline = _unit(taskId, 0, 0).deadline;
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketFinalizeNotDue.selector, taskId, 0, 0, deadline));
        market.finalizeUnit(taskId, 0, 0);
        vm.warp(deadline + 1);
        vm.expectEmit();
        emit ITaskMarket.VerifierReplaced(taskId, 0, 0, seats[2], 1);
        market.finalizeUnit(taskId, 0, 0);
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, 0);
        vm.assertEq(u.epoch, 1, "same epoch: the committed keep their votes");
        vm.assertEq(u.commits, 2, "two commits kept");
        vm.assertEq(u.seats, 2, "the released seat is empty");
        vm.assertEq(u.seedBlock, vm.getBlockNumber(), "drawn again from a fresh seed");
        vm.assertEq(_total(seats[2]), STAKE, "a no-show is not slashed");
        vm.assertEq(_locked(seats[2]), 0, "its bond is back");
        vm.roll(vm.getBlockNumber() + 1);
        market.drawVerifiers(taskId, 0, Batch.one(0));
        address[] memory now_ = market.getSeats(taskId, 0, 0);
        vm.assertEq(now_.length, 3, "the empty seat drawn again");
        vm.assertEq(now_[0], seats[0], "kept");
        vm.assertEq(now_[1], seats[1], "kept");
        if (!market.getBallot(taskId, 0, 0, now_[2]).committed) _commit(taskId, 0, 0, now_[2], true);
        for (uint256 i; i < 3; ++i) {
            if (market.getBallot(taskId, 0, 0, now_[i]).revealed) continue;
            _reveal(taskId, 0, 0, now_[i], true);
        }
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Accepted, "decided with the replacement");
        _assertSolvent();
    }

    /// A unit submitted while nobody could be drawn (the pool empty at its seed) is seated once verifiers join:
    /// the replacement round draws from a fresh seed against the pool as it stands then.
    function test_finalizeUnit_seatsAUnitWhosePoolWasEmptyAtItsSeed() public {
        for (uint256 i; i < verifiers.length; ++i) {
            vm.prank(verifiers[i]);
            market.leaveVerifierPool();
        }
        vm.roll(vm.getBlockNumber() + 1);
        uint256 other = _create(_params(1, 1, 1));
        _claimAndSubmit(other, 0, 0, miners[1]);
        vm.roll(vm.getBlockNumber() + 1);
        market.drawVerifiers(other, 0, Batch.one(0));
        vm.assertEq(_unit(other, 0, 0).seats, 0, "nobody to draw");
        vm.prank(verifiers[0]);
        market.joinVerifierPool();
        vm.roll(vm.getBlockNumber() + 1);
        market.drawVerifiers(other, 0, Batch.one(0));
        vm.assertEq(_unit(other, 0, 0).seats, 0, "the old seed still sees the empty pool");
        vm.warp(_unit(other, 0, 0).deadline + 1);
        market.finalizeUnit(other, 0, 0);
        vm.roll(vm.getBlockNumber() + 1);
        market.drawVerifiers(other, 0, Batch.one(0));
        vm.assertEq(market.getSeats(other, 0, 0)[0], verifiers[0], "seated from the pool as it stands now");
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
        address[] memory seats = _draw(five, 0, 0);
        for (uint256 i; i < 5; ++i) _commit(five, 0, 0, seats[i], (pattern >> i) & 1 == 1);
        for (uint256 i; i < 5; ++i) {
            if ((pattern >> (8 + i)) & 1 == 1) _reveal(five, 0, 0, seats[i], (pattern >> i) & 1 == 1);
        }
        ITaskMarket.UnitInfo memory u = _unit(five, 0, 0);
        if (u.status == ITaskMarket.UnitStatus.Revealing) {
            vm.warp(vm.getBlockTimestamp() + 30 minutes + 1);
            market.finalizeUnit(five, 0, 0);
        }
        vm.assertEq(address(market).balance, balance, "no value moved in or out");
        vm.assertEq(market.totalOwed(), balance, "every wei still owed to somebody");
        for (uint256 i; i < 5; ++i) vm.assertEq(_locked(seats[i]), 0, "every vote bond settled");
    }

    function test_canFillQuorum_followsThePoolsStake() public {
        vm.assertTrue(market.canFillQuorum(taskId), "five verifiers of 10 ether each");
        for (uint256 i; i < verifiers.length; ++i) {
            vm.prank(verifiers[i]);
            market.leaveVerifierPool();
        }
        vm.assertFalse(market.canFillQuorum(taskId), "an empty pool seats nobody");
    }
}
