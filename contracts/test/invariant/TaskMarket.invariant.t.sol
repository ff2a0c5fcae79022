// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TestBase} from "../utils/TestBase.sol";
import {ITaskMarket} from "../../src/interfaces/ITaskMarket.sol";
import {ITaskMarketWithViews} from "../../src/interfaces/ITaskMarketViews.sol";
import {TaskMarketHandler} from "./TaskMarketHandler.sol";

/// @notice The books of the market hold under random sequences of every action by several actors.
contract TaskMarketInvariantTest is TestBase {
    ITaskMarketWithViews internal market;
    TaskMarketHandler internal handler;

    function setUp() public {
        vm.warp(1_700_000_000);
        market = ITaskMarketWithViews(_deployMarket(1 days));
        handler = new TaskMarketHandler(market);
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](18);
        selectors[0] = TaskMarketHandler.stake.selector;
        selectors[1] = TaskMarketHandler.requestUnstake.selector;
        selectors[2] = TaskMarketHandler.releaseUnstaked.selector;
        selectors[3] = TaskMarketHandler.withdraw.selector;
        selectors[4] = TaskMarketHandler.forceEth.selector;
        selectors[5] = TaskMarketHandler.createTask.selector;
        selectors[6] = TaskMarketHandler.cancelTask.selector;
        selectors[7] = TaskMarketHandler.claim.selector;
        selectors[8] = TaskMarketHandler.submit.selector;
        selectors[9] = TaskMarketHandler.reclaimExpired.selector;
        selectors[10] = TaskMarketHandler.commit.selector;
        selectors[11] = TaskMarketHandler.reveal.selector;
        selectors[12] = TaskMarketHandler.finalize.selector;
        selectors[13] = TaskMarketHandler.warp.selector;
        selectors[14] = TaskMarketHandler.createTask.selector; // tasks are the point: weigh their creation twice
        selectors[15] = TaskMarketHandler.draw.selector;
        selectors[16] = TaskMarketHandler.challenge.selector;
        selectors[17] = TaskMarketHandler.claimAndSubmit.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    function invariant_balanceMatchesGhostSums() public view {
        uint256 owed = handler.ghostDeposited() - handler.ghostWithdrawn();
        vm.assertEq(market.totalOwed(), owed, "totalOwed = deposited - withdrawn");
        vm.assertEq(address(market).balance, owed + handler.ghostForced(), "balance = owed + forced");
    }

    function invariant_bucketsSumToWhatIsOwed() public view {
        uint256 sum;
        for (uint256 i; i < handler.taskCount(); ++i) {
            (, ITaskMarket.TaskState memory s) = market.getTask(handler.taskIds(i));
            sum += s.escrow;
        }
        for (uint256 i; i < handler.actorCount(); ++i) {
            address a = handler.actors(i);
            sum += market.stakeOf(a).total + market.creditOf(a);
        }
        for (uint256 i; i < handler.ownerCount(); ++i) sum += market.creditOf(handler.owners(i));
        vm.assertEq(sum, market.totalOwed(), "escrow + stake + credit = owed");
    }

    function invariant_taskPaysAtMostItsBudgetAndSlashes() public view {
        for (uint256 i; i < handler.taskCount(); ++i) {
            uint256 taskId = handler.taskIds(i);
            (, ITaskMarket.TaskState memory s) = market.getTask(taskId);
            uint256 budget = handler.ghostBudget(taskId);
            uint256 slashed = handler.ghostSlashedIn(taskId);
            uint256 paid = handler.ghostPaid(taskId);
            uint256 refunded = handler.ghostRefunded(taskId);
            vm.assertLe(paid, budget + slashed, "paid <= budget + slashed in");
            vm.assertEq(s.escrow, budget + slashed - paid - refunded, "escrow = budget + slashed - paid - refunded");
            if (s.status == ITaskMarket.TaskStatus.Completed) vm.assertEq(s.escrow, 0, "completed: refunded");
            if (s.status == ITaskMarket.TaskStatus.Cancelled && s.inFlight == 0) {
                vm.assertEq(s.escrow, 0, "cancelled and idle: refunded");
            }
        }
    }

    function invariant_noUnitAcceptedTwice() public view {
        for (uint256 i; i < handler.taskCount(); ++i) {
            uint256 taskId = handler.taskIds(i);
            (ITaskMarket.TaskParams memory p,) = market.getTask(taskId);
            for (uint32 r; r < p.rounds; ++r) {
                for (uint32 u; u <= p.unitsPerRound; ++u) {
                    vm.assertLe(handler.acceptances(taskId, r, u), 1, "a unit paid twice");
                }
            }
        }
    }

    /// @dev Unit slots are reused from round to round: every unit of an earlier round reads accepted (and was paid
    /// exactly once), every unit of a round still to come reads open, whatever the slot now holds.
    function invariant_earlierRoundsReadAcceptedAndLaterOnesOpen() public view {
        for (uint256 i; i < handler.taskCount(); ++i) {
            uint256 taskId = handler.taskIds(i);
            (ITaskMarket.TaskParams memory p, ITaskMarket.TaskState memory s) = market.getTask(taskId);
            for (uint32 r; r < p.rounds; ++r) {
                if (r == s.currentRound) continue;
                for (uint32 u; u <= p.unitsPerRound; ++u) {
                    ITaskMarket.UnitInfo memory info = market.getUnit(taskId, r, u);
                    if (r < s.currentRound) {
                        vm.assertTrue(info.status == ITaskMarket.UnitStatus.Accepted, "an earlier round's unit");
                        vm.assertEq(handler.acceptances(taskId, r, u), 1, "accepted once");
                    } else {
                        vm.assertTrue(info.status == ITaskMarket.UnitStatus.Open, "a later round's unit");
                        vm.assertEq(info.miner, address(0), "nobody in it");
                        vm.assertEq(market.getSeats(taskId, r, u).length, 0, "no seats");
                    }
                }
            }
        }
    }

    function invariant_terminalStatesStayTerminal() public view {
        vm.assertEq(handler.ghostTerminalBroken(), 0, "a terminal state changed");
    }

    function invariant_lockedAndUnbondingWithinStake() public view {
        for (uint256 i; i < handler.actorCount(); ++i) {
            ITaskMarket.StakeInfo memory s = market.stakeOf(handler.actors(i));
            // A seat may lock beyond what is free (Staking._lockSeat); the bonds an account took itself never do.
            vm.assertLe(s.locked - s.seatLocked, s.total, "own bonds <= total");
            vm.assertLe(s.unbonding, s.total, "unbonding <= total");
        }
    }

    /// @notice The handler really reaches deep states: a scripted sequence accepts a unit through it.
    function test_handler_drivesUnitsToAcceptanceAndExit() public {
        handler.createTask(1 << 16); // 1 round, 2 units, quorum 1
        (ITaskMarket.TaskParams memory p,) = market.getTask(1);
        vm.assertEq(p.unitsPerRound, 2, "two units");
        vm.assertEq(p.quorum, 1, "quorum 1");
        handler.claim(0, 0, 0);
        handler.submit(0, 0, 42);
        handler.draw(0, 0);
        handler.commit(1, 0, 0, true);
        handler.reveal(1, 0, 0);
        vm.assertTrue(market.getUnit(1, 0, 0).status == ITaskMarket.UnitStatus.Accepted, "accepted");
        vm.assertEq(handler.acceptances(1, 0, 0), 1, "counted once");
        vm.assertEq(handler.ghostPaid(1), p.minerReward + p.verifierReward, "paid miner and verifier");
        handler.claim(2, 0, 1);
        handler.submit(0, 1, 43);
        handler.draw(0, 1);
        handler.commit(3, 0, 1, false);
        handler.reveal(3, 0, 1);
        vm.assertEq(market.getUnit(1, 0, 1).rejections, 1, "rejected");
        vm.assertEq(handler.ghostSlashedIn(1), p.unitBond, "miner's bond slashed in");
        invariant_bucketsSumToWhatIsOwed();
        invariant_taskPaysAtMostItsBudgetAndSlashes();
        afterInvariant();
    }

    /// @notice After every random sequence: once all deadlines pass, everyone can take out everything owed,
    /// and only the forced-in ETH stays behind.
    function afterInvariant() public {
        handler.exitEverybody();
        vm.assertEq(market.totalOwed(), 0, "nothing owed after everyone exits");
        vm.assertEq(address(market).balance, handler.ghostForced(), "only forced ETH is left");
    }
}
