// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TaskMarketFixture} from "./utils/TaskMarketFixture.sol";
import {ITaskMarket} from "../src/interfaces/ITaskMarket.sol";

/// @notice Batches: several units per call, all or nothing, each unit as if it had its own call; partial outcomes
/// (some units rejected, some votes not revealed) and conservation to the wei.
contract TaskMarketBatchesTest is TaskMarketFixture {
    uint256 internal taskId;
    address internal judge;

    function setUp() public override {
        super.setUp();
        // One verifier left in the pool: every seat of every unit is its, so one batch votes on every unit.
        judge = verifiers[0];
        for (uint256 i = 1; i < verifiers.length; ++i) {
            vm.prank(verifiers[i]);
            market.leaveVerifierPool();
        }
        vm.roll(vm.getBlockNumber() + 1);
        taskId = _create(_params(2, 3, 1));
    }

    function _list(uint32 a, uint32 b, uint32 c) internal pure returns (uint32[] memory l) {
        l = new uint32[](3);
        (l[0], l[1], l[2]) = (a, b, c);
    }

    function _results(uint32[] memory indices, address miner) internal view returns (bytes32[] memory r) {
        r = new bytes32[](indices.length);
        for (uint256 i; i < r.length; ++i) r[i] = _result(taskId, 0, indices[i], miner);
    }

    function _models(uint32[] memory indices) internal view returns (bytes32[] memory m) {
        m = new bytes32[](indices.length);
        for (uint256 i; i < m.length; ++i) m[i] = _model(taskId, 0, indices[i]);
    }

    function _wrongStatus(uint32 index, ITaskMarket.UnitStatus status) internal view returns (bytes memory) {
        return abi.encodeWithSelector(ITaskMarket.TaskMarketUnitWrongStatus.selector, taskId, 0, index, status);
    }

    /// @dev Units 0..2 claimed and submitted by miners[0] in one call each, their quorums drawn in one call.
    function _submitAndDraw() internal returns (uint32[] memory all) {
        all = _list(0, 1, 2);
        vm.startPrank(miners[0]);
        market.claimUnits(taskId, 0, all);
        market.submitResults(taskId, 0, all, _results(all, miners[0]), _models(all));
        vm.stopPrank();
        vm.roll(vm.getBlockNumber() + 1);
        market.drawVerifiers(taskId, 0, all);
    }

    function _commitments(uint32[] memory indices, uint256 bits) internal view returns (bytes32[] memory c) {
        c = new bytes32[](indices.length);
        for (uint256 i; i < c.length; ++i) {
            bool valid = (bits >> i) & 1 == 1;
            c[i] = keccak256(abi.encode(taskId, uint32(0), indices[i], judge, valid, _salt(judge, taskId, 0, indices[i])));
        }
    }

    function _salts(uint32[] memory indices) internal view returns (bytes32[] memory s) {
        s = new bytes32[](indices.length);
        for (uint256 i; i < s.length; ++i) s[i] = _salt(judge, taskId, 0, indices[i]);
    }

    function test_claimUnits_claimsEveryUnitWithABondEach() public {
        uint32[] memory all = _list(0, 1, 2);
        uint64 deadline = uint64(vm.getBlockTimestamp() + 1 hours);
        for (uint32 i; i < 3; ++i) {
            vm.expectEmit();
            emit ITaskMarket.UnitClaimed(taskId, 0, i, miners[0], deadline, UNIT_BOND);
        }
        vm.prank(miners[0]);
        market.claimUnits(taskId, 0, all);
        for (uint32 i; i < 3; ++i) {
            vm.assertTrue(_unit(taskId, 0, i).status == ITaskMarket.UnitStatus.Claimed, "claimed");
            vm.assertEq(_unit(taskId, 0, i).miner, miners[0], "by the caller");
        }
        vm.assertEq(_locked(miners[0]), 3 * uint256(UNIT_BOND), "a bond per unit");
        ITaskMarket.TaskState memory s = _state(taskId);
        vm.assertEq(s.openUnits, 0, "nothing open");
        vm.assertEq(s.inFlight, 3, "three in flight");
    }

    function test_claimUnits_revertsWholeWhenOneUnitIsTaken() public {
        _claim(taskId, 0, 1, miners[1]);
        vm.prank(miners[0]);
        vm.expectRevert(_wrongStatus(1, ITaskMarket.UnitStatus.Claimed));
        market.claimUnits(taskId, 0, _list(0, 1, 2));
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Open, "unit 0 still open");
        vm.assertEq(_locked(miners[0]), 0, "no bond locked");
        vm.assertEq(_state(taskId).inFlight, 1, "only the other miner's unit in flight");
    }

    function test_claimUnits_revertsOnARepeatedUnit() public {
        vm.prank(miners[0]);
        vm.expectRevert(_wrongStatus(0, ITaskMarket.UnitStatus.Claimed));
        market.claimUnits(taskId, 0, _list(0, 2, 0));
    }

    function test_claimUnits_revertsWithoutStakeForEveryBond() public {
        address poor = address(0x3001);
        _fundAndStake(poor, 2 * uint256(UNIT_BOND));
        vm.prank(poor);
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketInsufficientFreeStake.selector, poor, 2 * uint256(UNIT_BOND), 3 * uint256(UNIT_BOND)
            )
        );
        market.claimUnits(taskId, 0, _list(0, 1, 2));
    }

    function test_batches_revertWhenEmptyTooLargeOrMismatched() public {
        vm.startPrank(miners[0]);
        vm.expectRevert(ITaskMarket.TaskMarketEmptyBatch.selector);
        market.claimUnits(taskId, 0, new uint32[](0));
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketBatchTooLarge.selector, 257, 256));
        market.claimUnits(taskId, 0, new uint32[](257));
        market.claimUnits(taskId, 0, _list(0, 1, 2));
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketBatchLengthMismatch.selector, 3, 2));
        market.submitResults(taskId, 0, _list(0, 1, 2), new bytes32[](2), new bytes32[](3));
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketBatchLengthMismatch.selector, 3, 4));
        market.submitResults(taskId, 0, _list(0, 1, 2), new bytes32[](3), new bytes32[](4));
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketBatchLengthMismatch.selector, 3, 1));
        market.commitVotes(taskId, 0, _list(0, 1, 2), new bytes32[](1));
    }

    function test_submitResults_revertsWholeForAUnitOfAnotherMiner() public {
        _claim(taskId, 0, 0, miners[0]);
        _claim(taskId, 0, 1, miners[1]);
        uint32[] memory both = new uint32[](2);
        (both[0], both[1]) = (0, 1);
        vm.prank(miners[0]);
        vm.expectRevert(
            abi.encodeWithSelector(ITaskMarket.TaskMarketNotAssignee.selector, taskId, 0, 1, miners[0], miners[1])
        );
        market.submitResults(taskId, 0, both, _results(both, miners[0]), _models(both));
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Claimed, "unit 0 not submitted either");
    }

    function test_revealVotes_revertsWholeWhenOneUnitIsNotRevealing() public {
        uint32[] memory all = _submitAndDraw();
        uint32[] memory two = new uint32[](2);
        (two[0], two[1]) = (0, 1);
        vm.prank(judge);
        market.commitVotes(taskId, 0, two, _commitments(two, 3));
        vm.prank(judge);
        vm.expectRevert(_wrongStatus(2, ITaskMarket.UnitStatus.Submitted));
        market.revealVotes(taskId, 0, all, 7, _salts(all));
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Revealing, "unit 0 not revealed");
    }

    /// @dev One batch per phase over three units: the judge votes `validBits` and reveals only the units in
    /// `revealMask`. Every unit ends as if it had been voted on alone: revealed valid → accepted and paid, revealed
    /// invalid → rejected and its miner slashed, not revealed → the judge slashed at the deadline and the vote
    /// drawn again. Escrow moves by exactly what was paid and slashed, and the contract stays solvent.
    function testFuzz_revealVotes_partialBatchesSettleEachUnitAsAlone(uint8 validBits, uint8 revealMask) public {
        validBits &= 7;
        revealMask = uint8(bound(revealMask, 1, 7));
        uint32[] memory all = _submitAndDraw();
        vm.prank(judge);
        market.commitVotes(taskId, 0, all, _commitments(all, validBits));
        for (uint32 i; i < 3; ++i) {
            vm.assertTrue(_unit(taskId, 0, i).status == ITaskMarket.UnitStatus.Revealing, "every unit revealing");
        }

        uint256 n;
        for (uint32 i; i < 3; ++i) if ((revealMask >> i) & 1 == 1) ++n;
        uint32[] memory shown = new uint32[](n);
        uint256 shownBits;
        uint256 k;
        for (uint32 i; i < 3; ++i) {
            if ((revealMask >> i) & 1 == 0) continue;
            shown[k] = i;
            if ((validBits >> i) & 1 == 1) shownBits |= 1 << k;
            ++k;
        }
        uint256 escrowBefore = _state(taskId).escrow;
        uint256 minerStake = market.stakeOf(miners[0]).total;
        uint256 judgeStake = market.stakeOf(judge).total;
        vm.prank(judge);
        market.revealVotes(taskId, 0, shown, shownBits, _salts(shown));

        uint256 accepted;
        uint256 rejected;
        for (uint32 i; i < 3; ++i) {
            ITaskMarket.UnitStatus status = _unit(taskId, 0, i).status;
            if ((revealMask >> i) & 1 == 0) {
                vm.assertTrue(status == ITaskMarket.UnitStatus.Revealing, "unrevealed: still revealing");
            } else if ((validBits >> i) & 1 == 1) {
                vm.assertTrue(status == ITaskMarket.UnitStatus.Accepted, "revealed valid: accepted");
                ++accepted;
            } else {
                vm.assertTrue(status == ITaskMarket.UnitStatus.Open, "revealed invalid: rejected");
                ++rejected;
            }
        }
        vm.assertEq(
            _state(taskId).escrow,
            escrowBefore + rejected * UNIT_BOND - accepted * MINER_REWARD - n * VERIFIER_REWARD,
            "escrow: bonds in, rewards out, to the wei"
        );
        vm.assertEq(market.stakeOf(miners[0]).total, minerStake - rejected * UNIT_BOND, "the miner's slashes");
        vm.assertEq(market.creditOf(judge), n * VERIFIER_REWARD, "the judge paid per revealed unit");

        // The votes not revealed: the judge is slashed at the deadline and each such vote starts again.
        vm.warp(vm.getBlockTimestamp() + 30 minutes + 1);
        uint256 unrevealed = 3 - n;
        for (uint32 i; i < 3; ++i) {
            if ((revealMask >> i) & 1 == 0) market.finalizeUnit(taskId, 0, i);
        }
        for (uint32 i; i < 3; ++i) {
            if ((revealMask >> i) & 1 == 1) continue;
            ITaskMarket.UnitInfo memory u = _unit(taskId, 0, i);
            vm.assertTrue(u.status == ITaskMarket.UnitStatus.Submitted, "a fresh vote");
            vm.assertEq(u.epoch, 2, "in a new epoch");
        }
        vm.assertEq(market.stakeOf(judge).total, judgeStake - unrevealed * VOTE_BOND, "slashed per unrevealed vote");
        _assertSolvent();
    }
}
