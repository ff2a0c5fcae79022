// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TaskMarketFixture} from "./utils/TaskMarketFixture.sol";
import {ITaskMarket} from "../src/interfaces/ITaskMarket.sol";
import {IVerifierPool} from "../src/interfaces/IVerifierPool.sol";
import {Batch} from "./utils/Batch.sol";

contract StakingTest is TaskMarketFixture {
    address internal alice = address(0xA1);

    function setUp() public override {
        super.setUp();
        vm.deal(alice, 100 ether);
    }

    function test_constructor_revertsWhenDelayTooShort() public {
        bytes memory code = _marketCode(59);
        vm.expectRevert(
            abi.encodeWithSelector(ITaskMarket.TaskMarketUnbondingDelayOutOfRange.selector, 59, 60, 60 days)
        );
        _create(code);
    }

    function test_constructor_revertsWhenDelayTooLong() public {
        bytes memory code = _marketCode(60 days + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketUnbondingDelayOutOfRange.selector, 60 days + 1, 60, 60 days
            )
        );
        _create(code);
    }

    function test_stake_addsToTotalAndFree() public {
        vm.expectEmit();
        emit ITaskMarket.StakeDeposited(alice, 3 ether, 3 ether);
        vm.prank(alice);
        market.stake{value: 3 ether}();
        ITaskMarket.StakeInfo memory s = market.stakeOf(alice);
        vm.assertEq(s.total, 3 ether, "total");
        vm.assertEq(s.free, 3 ether, "free");
        vm.assertEq(s.locked, 0, "locked");
        vm.assertEq(market.totalOwed(), address(market).balance, "owed == balance");
    }

    function test_stake_revertsOnZeroValue() public {
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketZeroAmount.selector, "value"));
        vm.prank(alice);
        market.stake();
    }

    function testFuzz_stake_accumulates(uint256 a, uint256 b) public {
        a = bound(a, 1, 40 ether);
        b = bound(b, 1, 40 ether);
        vm.startPrank(alice);
        market.stake{value: a}();
        market.stake{value: b}();
        vm.stopPrank();
        vm.assertEq(market.stakeOf(alice).total, a + b, "total");
        _assertSolvent();
    }

    function test_requestUnstake_movesStakeToUnbonding() public {
        vm.startPrank(alice);
        market.stake{value: 5 ether}();
        vm.expectEmit();
        emit ITaskMarket.UnstakeRequested(alice, 2 ether, 2 ether, vm.getBlockTimestamp() + DELAY);
        market.requestUnstake(2 ether);
        vm.stopPrank();
        ITaskMarket.StakeInfo memory s = market.stakeOf(alice);
        vm.assertEq(s.unbonding, 2 ether, "unbonding");
        vm.assertEq(s.free, 3 ether, "free");
        vm.assertEq(s.releaseAt, vm.getBlockTimestamp() + DELAY, "releaseAt");
    }

    function test_requestUnstake_revertsOnZero() public {
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketZeroAmount.selector, "amount"));
        vm.prank(alice);
        market.requestUnstake(0);
    }

    function test_requestUnstake_revertsWhenTooLarge() public {
        vm.startPrank(alice);
        market.stake{value: 1 ether}();
        market.requestUnstake(0.4 ether);
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketUnstakeTooLarge.selector, alice, 0.6 ether + 1, 0.6 ether
            )
        );
        market.requestUnstake(0.6 ether + 1);
        vm.stopPrank();
    }

    function test_requestUnstake_restartsTheDelay() public {
        vm.startPrank(alice);
        market.stake{value: 2 ether}();
        market.requestUnstake(1 ether);
        vm.warp(vm.getBlockTimestamp() + DELAY / 2);
        market.requestUnstake(1 ether);
        vm.stopPrank();
        vm.assertEq(market.stakeOf(alice).releaseAt, vm.getBlockTimestamp() + DELAY, "delay restarted");
        vm.assertEq(market.stakeOf(alice).unbonding, 2 ether, "both requests unbonding");
    }

    function testFuzz_releaseUnstaked_dueExactlyAtReleaseTime(int8 offset) public {
        int256 delta = int256(bound(uint256(int256(offset) + 128), 127, 129)) - 128; // -1, 0, +1
        vm.startPrank(alice);
        market.stake{value: 1 ether}();
        market.requestUnstake(1 ether);
        uint256 releaseAt = vm.getBlockTimestamp() + DELAY;
        vm.warp(uint256(int256(releaseAt) + delta));
        if (delta < 0) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    ITaskMarket.TaskMarketUnbondingNotDue.selector, alice, releaseAt, releaseAt - 1
                )
            );
            market.releaseUnstaked();
        } else {
            market.releaseUnstaked();
            vm.assertEq(market.creditOf(alice), 1 ether, "credited");
            vm.assertEq(market.stakeOf(alice).total, 0, "stake gone");
        }
        vm.stopPrank();
    }

    function test_releaseUnstaked_revertsWhenNothingUnbonding() public {
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketNothingUnbonding.selector, alice));
        vm.prank(alice);
        market.releaseUnstaked();
    }

    function test_releaseUnstaked_revertsWhileAllOfItBacksBonds() public {
        uint256 taskId = _createDefault();
        vm.startPrank(alice);
        market.stake{value: UNIT_BOND}();
        market.claimUnits(taskId, 0, Batch.one(0));
        market.requestUnstake(UNIT_BOND);
        vm.warp(vm.getBlockTimestamp() + DELAY);
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketUnbondingStakeLocked.selector, alice, UNIT_BOND, UNIT_BOND
            )
        );
        market.releaseUnstaked();
        vm.stopPrank();
    }

    function test_releaseUnstaked_releasesOnlyWhatNoBondNeeds() public {
        uint256 taskId = _createDefault();
        vm.startPrank(alice);
        market.stake{value: 2 ether}();
        market.claimUnits(taskId, 0, Batch.one(0));
        market.requestUnstake(2 ether);
        vm.warp(vm.getBlockTimestamp() + DELAY);
        market.releaseUnstaked();
        vm.stopPrank();
        ITaskMarket.StakeInfo memory s = market.stakeOf(alice);
        vm.assertEq(market.creditOf(alice), 2 ether - UNIT_BOND, "released the unlocked part");
        vm.assertEq(s.unbonding, UNIT_BOND, "the bonded part is still unbonding");
        vm.assertEq(s.total, UNIT_BOND, "bond still held");
    }

    function test_slash_reachesStakeThatIsUnbonding() public {
        uint256 taskId = _createDefault();
        vm.startPrank(alice);
        market.stake{value: 1 ether}();
        market.claimUnits(taskId, 0, Batch.one(0));
        market.requestUnstake(1 ether); // everything, the bonded half included
        vm.stopPrank();
        vm.assertEq(market.stakeOf(alice).free, 0, "nothing free while all unbonds");

        vm.warp(vm.getBlockTimestamp() + 1 hours + 1);
        vm.expectEmit();
        emit ITaskMarket.StakeSlashed(alice, taskId, 0, 0, UNIT_BOND, 1 ether - UNIT_BOND);
        market.reclaimExpired(taskId, 0, 0);

        ITaskMarket.StakeInfo memory s = market.stakeOf(alice);
        vm.assertEq(s.total, 1 ether - UNIT_BOND, "slashed");
        vm.assertEq(s.unbonding, 1 ether - UNIT_BOND, "unbonding shrank with the slash");
        vm.warp(vm.getBlockTimestamp() + DELAY);
        vm.prank(alice);
        market.releaseUnstaked();
        vm.assertEq(market.creditOf(alice), 1 ether - UNIT_BOND, "only the unslashed part leaves");
        _assertSolvent();
    }

    function test_claimUnits_revertsWhenUnbondingLeavesNoFreeStake() public {
        uint256 taskId = _createDefault();
        vm.startPrank(alice);
        market.stake{value: 1 ether}();
        market.requestUnstake(0.6 ether);
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketInsufficientFreeStake.selector, alice, 0.4 ether, UNIT_BOND
            )
        );
        market.claimUnits(taskId, 0, Batch.one(0));
        vm.stopPrank();
    }

    function test_unbondingDelay_isTheConstructorValue() public view {
        vm.assertEq(market.unbondingDelay(), DELAY, "delay");
    }

    // ------------------------------------------------------------------------------------------------------------
    // The verifier pool follows the stake at risk of its members
    // ------------------------------------------------------------------------------------------------------------

    function _pool() internal view returns (IVerifierPool) {
        return IVerifierPool(market.verifierPool());
    }

    function test_joinVerifierPool_addsStakeAtRisk() public {
        vm.startPrank(alice);
        market.stake{value: 3 ether}();
        vm.expectEmit();
        emit ITaskMarket.VerifierJoined(alice, 3 ether);
        market.joinVerifierPool();
        vm.stopPrank();
        ITaskMarket.StakeInfo memory s = market.stakeOf(alice);
        vm.assertTrue(s.verifying, "verifying");
        vm.assertEq(s.poolWeight, 3 ether, "weight = stake");
        vm.assertEq(_pool().market(), address(market), "the market writes the pool");
    }

    function test_joinVerifierPool_revertsWithoutStake() public {
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketZeroAmount.selector, "stake"));
        vm.prank(alice);
        market.joinVerifierPool();
    }

    function test_joinVerifierPool_revertsWhenAlreadyIn() public {
        vm.startPrank(alice);
        market.stake{value: 1 ether}();
        market.joinVerifierPool();
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketAlreadyVerifying.selector, alice));
        market.joinVerifierPool();
        vm.stopPrank();
    }

    function test_leaveVerifierPool_revertsWhenNotIn() public {
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketNotVerifying.selector, alice));
        vm.prank(alice);
        market.leaveVerifierPool();
    }

    function test_poolWeight_followsStakeUnstakeReleaseAndLeave() public {
        uint256 others = _pool().totalWeight(); // the fixture's verifiers
        vm.startPrank(alice);
        market.stake{value: 2 ether}();
        market.joinVerifierPool();
        market.stake{value: 1 ether}();
        vm.assertEq(market.stakeOf(alice).poolWeight, 3 ether, "top-up counts");
        market.requestUnstake(1 ether);
        vm.assertEq(market.stakeOf(alice).poolWeight, 2 ether, "unbonding stake is not drawn");
        vm.warp(vm.getBlockTimestamp() + DELAY);
        market.releaseUnstaked();
        vm.assertEq(market.stakeOf(alice).poolWeight, 2 ether, "release leaves the weight as it was");
        vm.expectEmit();
        emit ITaskMarket.VerifierLeft(alice);
        market.leaveVerifierPool();
        vm.stopPrank();
        vm.assertEq(market.stakeOf(alice).poolWeight, 0, "left");
        vm.assertEq(_pool().totalWeight(), others, "only the others are left");
    }

    function test_poolWeight_shrinksWithASlash() public {
        uint256 taskId = _createDefault();
        vm.startPrank(alice);
        market.stake{value: 2 ether}();
        market.joinVerifierPool();
        market.claimUnits(taskId, 0, Batch.one(0));
        vm.stopPrank();
        vm.warp(vm.getBlockTimestamp() + 1 hours + 1);
        market.reclaimExpired(taskId, 0, 0);
        vm.assertEq(market.stakeOf(alice).poolWeight, 2 ether - UNIT_BOND, "slashed stake is out of the pool");
    }

    function test_stake_leavesNonMembersOutOfThePool() public {
        uint256 members = _pool().memberCount();
        vm.prank(alice);
        market.stake{value: 2 ether}();
        vm.assertEq(market.stakeOf(alice).poolWeight, 0, "not a member");
        vm.assertEq(_pool().memberCount(), members, "no new member");
    }
}
