// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TaskMarketFixture} from "./utils/TaskMarketFixture.sol";
import {ITaskMarket} from "../src/interfaces/ITaskMarket.sol";
import {Batch} from "./utils/Batch.sol";

/// @notice A unit's storage is reused from round to round: what an earlier round's unit reads as, and that nothing of
/// it (status, votes, ballots, cooldowns) leaks into the next round's unit in the same slot.
contract TaskMarketRoundsTest is TaskMarketFixture {
    uint256 internal taskId;

    function setUp() public override {
        super.setUp();
        taskId = _create(_params(3, 2, 3));
    }

    function _wrongStatus(uint32 round, uint32 index, ITaskMarket.UnitStatus status) internal view returns (bytes memory) {
        return abi.encodeWithSelector(ITaskMarket.TaskMarketUnitWrongStatus.selector, taskId, round, index, status);
    }

    function test_getUnit_anEarlierRoundReadsAcceptedOnceItsSlotIsReused() public {
        _acceptRound(taskId, 0);
        _claimAndSubmit(taskId, 1, 0, miners[1]);
        address[] memory seats = _draw(taskId, 1, 0);
        _claimAndSubmit(taskId, 1, 1, miners[2]);

        ITaskMarket.UnitInfo memory past = _unit(taskId, 0, 0);
        vm.assertTrue(past.status == ITaskMarket.UnitStatus.Accepted, "round 0 unit 0 accepted");
        vm.assertTrue(past.verdict, "its verdict: valid");
        vm.assertEq(past.miner, address(0), "its miner is in the events, not the slot");
        vm.assertEq(past.resultDigest, bytes32(0), "its result is in the events");
        vm.assertEq(market.getSeats(taskId, 0, 0).length, 0, "its seats were reused");
        vm.assertEq(market.getBallot(taskId, 0, 0, seats[0]).seats, 0, "no ballot of round 0 left");
        vm.assertTrue(market.getLevel(taskId, 0, 0, 0).verdict, "level 0 reads as the final verdict");
        vm.assertEq(_unit(taskId, 0, 2).modelDigest, _model(taskId, 0, 2), "round 0's aggregate is kept");
        vm.assertEq(market.roundInput(taskId, 1), _model(taskId, 0, 2), "and is round 1's input");
        vm.assertFalse(market.isClaimable(taskId, 0, 0), "an earlier round is not claimable");

        ITaskMarket.UnitInfo memory live = _unit(taskId, 1, 0);
        vm.assertTrue(live.status == ITaskMarket.UnitStatus.Submitted, "round 1 unit 0 submitted");
        vm.assertEq(live.miner, miners[1], "round 1's miner");
        vm.assertEq(live.epoch, 1, "round 1's first vote is epoch 1");
        vm.assertEq(market.getSeats(taskId, 1, 0).length, 3, "round 1's seats");

        ITaskMarket.UnitInfo memory later = _unit(taskId, 2, 0);
        vm.assertTrue(later.status == ITaskMarket.UnitStatus.Open, "a round still to come reads open");
        vm.assertEq(later.miner, address(0), "with nobody in it");
    }

    function test_claimUnits_aNewRoundStartsWithNoVotesAndNoRejections() public {
        _claimAndSubmit(taskId, 0, 0, miners[0]);
        _vote(taskId, 0, 0, _unanimous(3, false)); // rejected: epoch 1, one rejection
        vm.assertFalse(_unit(taskId, 0, 0).verdict, "rejected and open again: no verdict");
        _acceptUnit(taskId, 0, 0, miners[1]); // epoch 2
        // A final verdict is not stored (the slot still holds none): the view reads it from the status.
        vm.assertTrue(_unit(taskId, 0, 0).verdict, "accepted reads valid");
        vm.assertTrue(market.getLevel(taskId, 0, 0, 0).verdict, "and so does its level 0");
        vm.assertEq(_unit(taskId, 0, 0).epoch, 2, "two votes in round 0");
        vm.assertEq(_unit(taskId, 0, 0).rejections, 1, "one rejection in round 0");
        address[] memory roundZeroSeats = market.getSeats(taskId, 0, 0);
        _acceptUnit(taskId, 0, 1, miners[1]);
        _acceptUnit(taskId, 0, 2, miners[1]);

        // The claim writes the unit's first slot only; its second still holds round 0's vote, which reads as none.
        _claim(taskId, 1, 0, miners[0]); // the miner slashed in round 0 claims at once: its cooldown was that round's
        ITaskMarket.UnitInfo memory u = _unit(taskId, 1, 0);
        vm.assertTrue(u.status == ITaskMarket.UnitStatus.Claimed, "claimed");
        vm.assertEq(u.miner, miners[0], "by its miner");
        vm.assertEq(u.epoch, 0, "no vote yet");
        vm.assertEq(u.rejections, 0, "no rejection yet");
        vm.assertEq(u.commits + u.reveals + u.validVotes + u.seats + u.level, 0, "no vote bookkeeping");
        vm.assertEq(u.submittedBlock + u.seedBlock, 0, "nothing submitted");
        vm.assertFalse(u.verdict, "no verdict");
        vm.assertEq(market.getSeats(taskId, 1, 0).length, 0, "none of round 0's seats");
        vm.assertEq(market.getBallot(taskId, 1, 0, roundZeroSeats[0]).seats, 0, "nor its ballots");
        ITaskMarket.LevelInfo memory level = market.getLevel(taskId, 1, 0, 0);
        vm.assertEq(level.epoch, 0, "no level 0 yet");
        vm.assertFalse(level.verdict, "nor its verdict");
        vm.prank(miners[0]);
        market.submitResults(taskId, 1, Batch.one(0), Batch.word(_result(taskId, 1, 0, miners[0])), Batch.word(_model(taskId, 1, 0)));
        u = _unit(taskId, 1, 0);
        vm.assertEq(u.epoch, 1, "the first vote of round 1 is epoch 1");
        vm.assertEq(u.rejections, 0, "round 0's rejection stayed in round 0");
        vm.assertFalse(u.verdict, "no verdict yet");
        vm.assertEq(u.resultDigest, _result(taskId, 1, 0, miners[0]), "round 1's result");
    }

    /// A claim that expires before anything was submitted leaves the stale second slot as it was: the unit claimed
    /// again still reads as never voted on, and its first submission starts at epoch 1.
    function test_claimUnits_anExpiredFirstClaimLeavesTheNextRoundsVoteFresh() public {
        _acceptRound(taskId, 0);
        _claim(taskId, 1, 0, miners[0]);
        vm.warp(vm.getBlockTimestamp() + 2 hours);
        market.reclaimExpired(taskId, 1, 0);
        ITaskMarket.UnitInfo memory u = _unit(taskId, 1, 0);
        vm.assertTrue(u.status == ITaskMarket.UnitStatus.Open, "open again");
        vm.assertEq(u.epoch + u.rejections, 0, "still no vote of round 1");
        _claimAndSubmit(taskId, 1, 0, miners[1]);
        u = _unit(taskId, 1, 0);
        vm.assertEq(u.epoch, 1, "the first vote of round 1 is epoch 1");
        vm.assertEq(market.getSeats(taskId, 1, 0).length, 0, "no seats until drawn");
        _draw(taskId, 1, 0);
        vm.assertEq(market.getSeats(taskId, 1, 0).length, 3, "then round 1's");
    }

    function test_submitResults_revertsForAnEarlierRoundsUnitInAReusedSlot() public {
        _acceptRound(taskId, 0);
        _claim(taskId, 1, 0, miners[0]);
        vm.prank(miners[0]);
        vm.expectRevert(_wrongStatus(0, 0, ITaskMarket.UnitStatus.Accepted));
        market.submitResults(taskId, 0, Batch.one(0), Batch.word(_result(taskId, 0, 0, miners[0])), Batch.word(_model(taskId, 0, 0)));
        vm.prank(miners[0]);
        vm.expectRevert(_wrongStatus(2, 0, ITaskMarket.UnitStatus.Open));
        market.submitResults(taskId, 2, Batch.one(0), Batch.word(_result(taskId, 2, 0, miners[0])), Batch.word(_model(taskId, 2, 0)));
        vm.warp(vm.getBlockTimestamp() + 2 hours);
        vm.expectRevert(_wrongStatus(0, 0, ITaskMarket.UnitStatus.Accepted));
        market.reclaimExpired(taskId, 0, 0);
        market.reclaimExpired(taskId, 1, 0); // the live unit is the one that expires
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Accepted, "round 0 untouched");
        _assertSolvent();
    }

    function test_commitVotes_revertsForAnEarlierRoundsUnitInAReusedSlot() public {
        _acceptRound(taskId, 0);
        _claimAndSubmit(taskId, 1, 0, miners[0]);
        address[] memory seats = _draw(taskId, 1, 0);
        bytes32 old = keccak256(abi.encode(taskId, uint32(0), uint32(0), seats[0], true, bytes32("s")));
        vm.prank(seats[0]);
        vm.expectRevert(_wrongStatus(0, 0, ITaskMarket.UnitStatus.Accepted));
        market.commitVotes(taskId, 0, Batch.one(0), Batch.word(old));
        vm.expectRevert(_wrongStatus(0, 0, ITaskMarket.UnitStatus.Accepted));
        market.finalizeUnit(taskId, 0, 0);
        vm.expectRevert(_wrongStatus(0, 0, ITaskMarket.UnitStatus.Accepted));
        market.drawVerifiers(taskId, 0, Batch.one(0));
    }

    /// @dev Whoever held a seat in an earlier round, and whatever it committed there, the same seat of the next
    /// round starts uncommitted: its old commitment is still in the slot but counts for nothing.
    function testFuzz_revealVotes_aStaleCommitmentInAReusedSeatNeverCounts(uint256 seed) public {
        _claimAndSubmit(taskId, 0, 0, miners[0]);
        vm.roll(vm.getBlockNumber() + 1);
        vm.setBlockhash(vm.getBlockNumber() - 1, keccak256(abi.encode(seed)));
        market.drawVerifiers(taskId, 0, Batch.one(0));
        address[] memory before = market.getSeats(taskId, 0, 0);
        for (uint256 i; i < before.length; ++i) {
            if (!market.getBallot(taskId, 0, 0, before[i]).committed) _commit(taskId, 0, 0, before[i], true);
        }
        for (uint256 i; i < before.length; ++i) {
            if (!market.getBallot(taskId, 0, 0, before[i]).revealed) _reveal(taskId, 0, 0, before[i], true);
        }
        _acceptUnit(taskId, 0, 1, miners[1]);
        _acceptUnit(taskId, 0, 2, miners[1]);

        _claimAndSubmit(taskId, 1, 0, miners[1]);
        vm.roll(vm.getBlockNumber() + 1);
        vm.setBlockhash(vm.getBlockNumber() - 1, keccak256(abi.encode(seed, "next")));
        market.drawVerifiers(taskId, 1, Batch.one(0));
        address[] memory seats = market.getSeats(taskId, 1, 0);
        ITaskMarket.UnitInfo memory u = _unit(taskId, 1, 0);
        vm.assertEq(u.commits, 0, "nothing committed in round 1");
        for (uint256 i; i < seats.length; ++i) {
            ITaskMarket.BallotInfo memory b = market.getBallot(taskId, 1, 0, seats[i]);
            vm.assertFalse(b.committed, "a reused seat starts uncommitted");
            vm.assertEq(b.commitment, bytes32(0), "and shows no commitment");
        }
        // Round 0's reveal, replayed against round 1, opens nothing: the vote is not revealing.
        vm.prank(before[0]);
        vm.expectRevert(_wrongStatus(1, 0, ITaskMarket.UnitStatus.Submitted));
        market.revealVotes(taskId, 1, Batch.one(0), Batch.bit(true), Batch.word(_salt(before[0], taskId, 0, 0)));
        // Round 1 is decided by round 1's commitments only.
        for (uint256 i; i < seats.length; ++i) {
            if (!market.getBallot(taskId, 1, 0, seats[i]).committed) _commit(taskId, 1, 0, seats[i], false);
        }
        vm.assertTrue(_unit(taskId, 1, 0).status == ITaskMarket.UnitStatus.Revealing, "every seat committed anew");
        for (uint256 i; i < seats.length; ++i) {
            if (!market.getBallot(taskId, 1, 0, seats[i]).revealed) _reveal(taskId, 1, 0, seats[i], false);
        }
        vm.assertTrue(_unit(taskId, 1, 0).status == ITaskMarket.UnitStatus.Open, "rejected by round 1's votes");
        vm.assertEq(_unit(taskId, 1, 0).rejections, 1, "one rejection in round 1");
        _assertSolvent();
    }
}
