// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TaskMarketFixture} from "./utils/TaskMarketFixture.sol";
import {ITaskMarket} from "../src/interfaces/ITaskMarket.sol";
import {Batch} from "./utils/Batch.sol";

/// @notice Units: claim, submit, expiry.
contract TaskMarketUnitsTest is TaskMarketFixture {
    uint256 internal taskId;

    function setUp() public override {
        super.setUp();
        taskId = _createDefault();
    }

    function test_claimUnits_locksTheBondAndSetsTheDeadline() public {
        uint64 deadline = uint64(vm.getBlockTimestamp() + 1 hours);
        vm.expectEmit();
        emit ITaskMarket.UnitClaimed(taskId, 0, 1, miners[0], deadline, UNIT_BOND);
        _claim(taskId, 0, 1, miners[0]);
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, 1);
        vm.assertTrue(u.status == ITaskMarket.UnitStatus.Claimed, "claimed");
        vm.assertEq(u.miner, miners[0], "miner");
        vm.assertEq(u.deadline, deadline, "deadline");
        vm.assertEq(_locked(miners[0]), UNIT_BOND, "bond locked");
        vm.assertEq(market.stakeOf(miners[0]).free, STAKE - UNIT_BOND, "free shrank");
        ITaskMarket.TaskState memory s = _state(taskId);
        vm.assertEq(s.openUnits, 1, "one open unit left");
        vm.assertEq(s.inFlight, 1, "one in flight");
        vm.assertFalse(market.isClaimable(taskId, 0, 1), "no longer claimable");
    }

    function test_claimUnits_revertsOnUnknownTask() public {
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketUnknownTask.selector, 9));
        _claim(9, 0, 0, miners[0]);
    }

    function test_claimUnits_revertsOnRoundNotCurrent() public {
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketRoundNotCurrent.selector, taskId, 1, 0));
        _claim(taskId, 1, 0, miners[0]);
    }

    function test_claimUnits_revertsOnIndexOutOfRange() public {
        vm.expectRevert(
            abi.encodeWithSelector(ITaskMarket.TaskMarketUnitIndexOutOfRange.selector, taskId, 3, 2)
        );
        _claim(taskId, 0, 3, miners[0]);
    }

    function test_claimUnits_revertsOnAggregationBeforeTrainingIsAccepted() public {
        _acceptUnit(taskId, 0, 0, miners[0]);
        vm.assertFalse(market.isClaimable(taskId, 0, 2), "aggregation not claimable yet");
        vm.expectRevert(
            abi.encodeWithSelector(ITaskMarket.TaskMarketAggregationNotReady.selector, taskId, 0, 1, 2)
        );
        _claim(taskId, 0, 2, miners[0]);
        _acceptUnit(taskId, 0, 1, miners[1]);
        vm.assertTrue(market.isClaimable(taskId, 0, 2), "aggregation opens");
        vm.assertEq(_state(taskId).openUnits, 1, "counted as open");
        _claim(taskId, 0, 2, miners[2]);
    }

    function test_claimAndSubmit_claimsAndSubmitsTheAggregationUnitInOneCall() public {
        _acceptUnit(taskId, 0, 0, miners[0]);
        _acceptUnit(taskId, 0, 1, miners[1]);
        uint256 lockedBefore = _locked(miners[2]);
        bytes32 result = _result(taskId, 0, 2, miners[2]);
        bytes32 model = _model(taskId, 0, 2);
        uint64 deadline = uint64(vm.getBlockTimestamp() + 1 hours);
        vm.expectEmit();
        emit ITaskMarket.UnitClaimed(taskId, 0, 2, miners[2], deadline, UNIT_BOND);
        vm.expectEmit();
        emit ITaskMarket.ResultSubmitted(
            taskId, 0, 2, miners[2], result, model, 1, uint64(vm.getBlockTimestamp() + 30 minutes)
        );
        vm.prank(miners[2]);
        market.claimAndSubmit(taskId, 0, 2, result, model);
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, 2);
        vm.assertTrue(u.status == ITaskMarket.UnitStatus.Submitted, "submitted");
        vm.assertEq(u.miner, miners[2], "miner");
        vm.assertEq(u.resultDigest, result, "result");
        vm.assertEq(u.modelDigest, model, "the aggregate is kept");
        vm.assertEq(u.epoch, 1, "its vote opened");
        vm.assertEq(_locked(miners[2]) - lockedBefore, UNIT_BOND, "one bond locked");
        ITaskMarket.TaskState memory s = _state(taskId);
        vm.assertEq(s.openUnits, 0, "nothing open");
        vm.assertEq(s.inFlight, 1, "the aggregation in flight");
        // It is then voted on like any submitted unit: the round closes on its acceptance.
        _vote(taskId, 0, 2, _unanimous(_quorumOf(taskId), true));
        vm.assertEq(_state(taskId).currentRound, 1, "round 1 opened");
        vm.assertEq(market.roundInput(taskId, 1), model, "on the aggregate");
    }

    function test_claimAndSubmit_revertsWholeBeforeTrainingIsAccepted() public {
        _acceptUnit(taskId, 0, 0, miners[0]);
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketAggregationNotReady.selector, taskId, 0, 1, 2));
        vm.prank(miners[2]);
        market.claimAndSubmit(taskId, 0, 2, _result(taskId, 0, 2, miners[2]), _model(taskId, 0, 2));
        vm.assertEq(_locked(miners[2]), 0, "no bond locked");
    }

    function test_claimAndSubmit_revertsWholeOnAZeroDigest() public {
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketZeroDigest.selector, "modelDigest"));
        vm.prank(miners[0]);
        market.claimAndSubmit(taskId, 0, 0, _result(taskId, 0, 0, miners[0]), bytes32(0));
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Open, "still open");
        vm.assertEq(_state(taskId).openUnits, 2, "nothing claimed");
        vm.assertEq(_locked(miners[0]), 0, "no bond locked");
    }

    function test_claimAndSubmit_revertsWhenAlreadyClaimed() public {
        _claim(taskId, 0, 0, miners[0]);
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketUnitWrongStatus.selector, taskId, 0, 0, ITaskMarket.UnitStatus.Claimed
            )
        );
        vm.prank(miners[1]);
        market.claimAndSubmit(taskId, 0, 0, _result(taskId, 0, 0, miners[1]), _model(taskId, 0, 0));
    }

    function test_claimUnits_revertsWhenAlreadyClaimed() public {
        _claim(taskId, 0, 0, miners[0]);
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketUnitWrongStatus.selector, taskId, 0, 0, ITaskMarket.UnitStatus.Claimed
            )
        );
        _claim(taskId, 0, 0, miners[1]);
    }

    function test_claimUnits_revertsWithoutEnoughFreeStake() public {
        vm.expectRevert(
            abi.encodeWithSelector(ITaskMarket.TaskMarketInsufficientFreeStake.selector, stranger, 0, UNIT_BOND)
        );
        _claim(taskId, 0, 0, stranger);
    }

    function test_claimUnits_revertsOnCompletedTask() public {
        uint256 small = _create(_params(1, 1, 1));
        _acceptRound(small, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketTaskNotActive.selector, small, ITaskMarket.TaskStatus.Completed
            )
        );
        _claim(small, 0, 0, miners[0]);
    }

    function test_submitResults_recordsTheResultAndOpensTheVote() public {
        _claim(taskId, 0, 0, miners[0]);
        bytes32 result = _result(taskId, 0, 0, miners[0]);
        bytes32 model = _model(taskId, 0, 0);
        vm.expectEmit();
        emit ITaskMarket.ResultSubmitted(taskId, 0, 0, miners[0], result, model, 1, uint64(vm.getBlockTimestamp() + 30 minutes));
        vm.prank(miners[0]);
        market.submitResults(taskId, 0, Batch.one(0), Batch.word(result), Batch.word(model));
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, 0);
        vm.assertTrue(u.status == ITaskMarket.UnitStatus.Submitted, "submitted");
        vm.assertEq(u.resultDigest, result, "result");
        vm.assertEq(u.modelDigest, bytes32(0), "training models are only in the event");
        vm.assertEq(u.epoch, 1, "epoch 1");
        vm.assertEq(u.submittedBlock, vm.getBlockNumber(), "submission block");
    }

    function test_submitResults_revertsForAnotherMiner() public {
        _claim(taskId, 0, 0, miners[0]);
        vm.expectRevert(
            abi.encodeWithSelector(ITaskMarket.TaskMarketNotAssignee.selector, taskId, 0, 0, miners[1], miners[0])
        );
        vm.prank(miners[1]);
        market.submitResults(taskId, 0, Batch.one(0), Batch.word(bytes32(uint256(1))), Batch.word(bytes32(uint256(2))));
    }

    function test_submitResults_revertsWhenNotClaimed() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketUnitWrongStatus.selector, taskId, 0, 0, ITaskMarket.UnitStatus.Open
            )
        );
        vm.prank(miners[0]);
        market.submitResults(taskId, 0, Batch.one(0), Batch.word(bytes32(uint256(1))), Batch.word(bytes32(uint256(2))));
    }

    function test_submitResults_revertsOnZeroDigests() public {
        _claim(taskId, 0, 0, miners[0]);
        vm.startPrank(miners[0]);
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketZeroDigest.selector, "resultDigest"));
        market.submitResults(taskId, 0, Batch.one(0), Batch.word(0), Batch.word(bytes32(uint256(2))));
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketZeroDigest.selector, "modelDigest"));
        market.submitResults(taskId, 0, Batch.one(0), Batch.word(bytes32(uint256(1))), Batch.word(0));
        vm.stopPrank();
    }

    function testFuzz_submitResults_deadlineIsInclusive(uint8 pick) public {
        int256 delta = int256(uint256(bound(pick, 0, 2))) - 1; // -1, 0, +1 around the deadline
        _claim(taskId, 0, 0, miners[0]);
        uint256 deadline = _unit(taskId, 0, 0).deadline;
        vm.warp(uint256(int256(deadline) + delta));
        vm.prank(miners[0]);
        if (delta > 0) {
            vm.expectRevert(
                abi.encodeWithSelector(ITaskMarket.TaskMarketDeadlinePassed.selector, deadline, deadline + 1)
            );
        }
        market.submitResults(taskId, 0, Batch.one(0), Batch.word(bytes32(uint256(1))), Batch.word(bytes32(uint256(2))));
    }

    function testFuzz_reclaimExpired_onlyAfterTheDeadline(uint8 pick) public {
        int256 delta = int256(uint256(bound(pick, 0, 2))) - 1;
        _claim(taskId, 0, 0, miners[0]);
        uint256 deadline = _unit(taskId, 0, 0).deadline;
        vm.warp(uint256(int256(deadline) + delta));
        if (delta <= 0) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    ITaskMarket.TaskMarketDeadlineNotPassed.selector, deadline, uint256(int256(deadline) + delta)
                )
            );
            market.reclaimExpired(taskId, 0, 0);
        } else {
            market.reclaimExpired(taskId, 0, 0);
            vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Open, "re-opened");
        }
    }

    function test_reclaimExpired_slashesIntoEscrowAndReopens() public {
        uint256 escrow = _state(taskId).escrow;
        _claim(taskId, 0, 0, miners[0]);
        vm.warp(vm.getBlockTimestamp() + 1 hours + 1);
        vm.expectEmit();
        emit ITaskMarket.UnitExpired(taskId, 0, 0, miners[0], UNIT_BOND);
        vm.prank(stranger); // anyone may call it
        market.reclaimExpired(taskId, 0, 0);
        vm.assertEq(_total(miners[0]), STAKE - UNIT_BOND, "bond slashed");
        vm.assertEq(_locked(miners[0]), 0, "nothing locked");
        vm.assertEq(_state(taskId).escrow, escrow + UNIT_BOND, "into escrow");
        vm.assertEq(_state(taskId).openUnits, 2, "open again");
        vm.assertEq(_state(taskId).inFlight, 0, "not in flight");
        _claim(taskId, 0, 0, miners[1]);
        _assertSolvent();
    }

    function test_reclaimExpired_unlocksTheBondWhenTheOwnerIsInTheLoop() public {
        ITaskMarket.TaskParams memory p = _params(1, 2, 1);
        p.ownerInLoop = true;
        uint256 split = _create(p);
        uint256 escrow = _state(split).escrow;
        _claim(split, 0, 0, miners[0]);
        vm.warp(vm.getBlockTimestamp() + 1 hours + 1);
        vm.expectEmit();
        emit ITaskMarket.UnitExpired(split, 0, 0, miners[0], 0);
        vm.prank(stranger);
        market.reclaimExpired(split, 0, 0);
        vm.assertEq(_total(miners[0]), STAKE, "nothing slashed: the owner's node may be the one that went silent");
        vm.assertEq(_locked(miners[0]), 0, "the bond unlocked");
        vm.assertEq(_state(split).escrow, escrow, "escrow unchanged: the unit is paid again when trained");
        vm.assertEq(_state(split).openUnits, 2, "open again");
        vm.assertEq(_state(split).inFlight, 0, "not in flight");
        _claim(split, 0, 0, miners[1]);
        _assertSolvent();
    }

    function test_claimUnits_revertsForTheFailedClaimantDuringItsCooldown() public {
        _claim(taskId, 0, 0, miners[0]);
        vm.warp(vm.getBlockTimestamp() + 1 hours + 1);
        market.reclaimExpired(taskId, 0, 0);
        uint256 until = vm.getBlockTimestamp() + 1 hours;
        vm.expectRevert(
            abi.encodeWithSelector(ITaskMarket.TaskMarketClaimCoolingDown.selector, taskId, 0, 0, miners[0], until)
        );
        _claim(taskId, 0, 0, miners[0]);
        vm.warp(until - 1);
        vm.expectRevert(
            abi.encodeWithSelector(ITaskMarket.TaskMarketClaimCoolingDown.selector, taskId, 0, 0, miners[0], until)
        );
        _claim(taskId, 0, 0, miners[0]);
        vm.warp(until);
        _claim(taskId, 0, 0, miners[0]); // the cooldown is over: a lone miner can always retry
    }

    function test_claimUnits_letsOtherMinersClaimDuringTheCooldown() public {
        _claim(taskId, 0, 0, miners[0]);
        vm.warp(vm.getBlockTimestamp() + 1 hours + 1);
        market.reclaimExpired(taskId, 0, 0);
        _claim(taskId, 0, 0, miners[1]);
        vm.assertEq(_unit(taskId, 0, 0).miner, miners[1], "another miner took it");
    }

    function test_reclaimExpired_revertsWhenNotClaimed() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketUnitWrongStatus.selector, taskId, 0, 0, ITaskMarket.UnitStatus.Open
            )
        );
        market.reclaimExpired(taskId, 0, 0);
    }
}
