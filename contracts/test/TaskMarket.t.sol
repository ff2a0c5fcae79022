// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TaskMarketFixture} from "./utils/TaskMarketFixture.sol";
import {ITaskMarket} from "../src/interfaces/ITaskMarket.sol";
import {ITaskMarketViews} from "../src/interfaces/ITaskMarketViews.sol";
import {Batch} from "./utils/Batch.sol";

/// @notice Tasks: creation with every parameter check, cancellation, completion, views.
contract TaskMarketTasksTest is TaskMarketFixture {
    function test_createTask_escrowsExactlyTheBudget() public {
        ITaskMarket.TaskParams memory p = _params(2, 2, 3);
        uint256 budget = _budget(p);
        vm.assertEq(market.budgetOf(p), budget, "budgetOf");
        // 2 × (2 × 1 + 0.5 + 3 × 3 × 0.1) = 6.8 ether
        vm.assertEq(budget, 6.8 ether, "hand-computed budget");
        uint256 owedBefore = market.totalOwed();
        vm.expectEmit();
        emit ITaskMarket.TaskCreated(1, owner, p, budget);
        uint256 taskId = _create(p);
        vm.assertEq(taskId, 1, "first id");
        vm.assertEq(market.taskCount(), 1, "count");
        ITaskMarket.TaskState memory s = _state(taskId);
        vm.assertEq(s.owner, owner, "owner");
        vm.assertTrue(s.status == ITaskMarket.TaskStatus.Active, "active");
        vm.assertEq(s.escrow, budget, "escrow");
        vm.assertEq(s.openUnits, 2, "training units open");
        vm.assertEq(market.totalOwed(), owedBefore + budget, "owed");
        _assertSolvent();
    }

    function test_createTask_revertsOnBudgetOneWeiShort() public {
        ITaskMarket.TaskParams memory p = _params(1, 1, 1);
        uint256 budget = _budget(p);
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketBudgetMismatch.selector, budget, budget - 1));
        vm.prank(owner);
        market.createTask{value: budget - 1}(p);
    }

    function test_createTask_revertsOnBudgetOneWeiOver() public {
        ITaskMarket.TaskParams memory p = _params(1, 1, 1);
        uint256 budget = _budget(p);
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketBudgetMismatch.selector, budget, budget + 1));
        vm.prank(owner);
        market.createTask{value: budget + 1}(p);
    }

    function _expectCreateRevert(ITaskMarket.TaskParams memory p, bytes memory err) internal {
        vm.expectRevert(err);
        vm.prank(owner);
        market.createTask{value: 100 ether}(p);
    }

    function test_createTask_revertsOnZeroDigests() public {
        ITaskMarket.TaskParams memory p = _params(1, 1, 1);
        p.specDigest = 0;
        _expectCreateRevert(p, abi.encodeWithSelector(ITaskMarket.TaskMarketZeroDigest.selector, "specDigest"));
        p = _params(1, 1, 1);
        p.datasetDigest = 0;
        _expectCreateRevert(p, abi.encodeWithSelector(ITaskMarket.TaskMarketZeroDigest.selector, "datasetDigest"));
        p = _params(1, 1, 1);
        p.initialModelDigest = 0;
        _expectCreateRevert(
            p, abi.encodeWithSelector(ITaskMarket.TaskMarketZeroDigest.selector, "initialModelDigest")
        );
    }

    function test_createTask_revertsOnCountsOutOfRange() public {
        bytes4 sel = ITaskMarket.TaskMarketParamOutOfRange.selector;
        _expectCreateRevert(_params(0, 1, 1), abi.encodeWithSelector(sel, "rounds", 0, 1, 1000));
        _expectCreateRevert(_params(1001, 1, 1), abi.encodeWithSelector(sel, "rounds", 1001, 1, 1000));
        _expectCreateRevert(_params(1, 0, 1), abi.encodeWithSelector(sel, "unitsPerRound", 0, 1, 1000));
        _expectCreateRevert(_params(1, 1001, 1), abi.encodeWithSelector(sel, "unitsPerRound", 1001, 1, 1000));
        _expectCreateRevert(_params(1, 1, 0), abi.encodeWithSelector(sel, "quorum", 0, 1, 15));
        _expectCreateRevert(_params(1, 1, 17), abi.encodeWithSelector(sel, "quorum", 17, 1, 15));
    }

    function test_createTask_revertsOnEvenQuorum() public {
        _expectCreateRevert(
            _params(1, 1, 2), abi.encodeWithSelector(ITaskMarket.TaskMarketQuorumEven.selector, 2)
        );
    }

    function test_createTask_revertsOnTimeoutsOutOfRange() public {
        bytes4 sel = ITaskMarket.TaskMarketParamOutOfRange.selector;
        ITaskMarket.TaskParams memory p = _params(1, 1, 1);
        p.claimTimeout = 29;
        _expectCreateRevert(p, abi.encodeWithSelector(sel, "claimTimeout", 29, 30, 30 days));
        p = _params(1, 1, 1);
        p.commitTimeout = 30 days + 1;
        _expectCreateRevert(p, abi.encodeWithSelector(sel, "commitTimeout", 30 days + 1, 30, 30 days));
        p = _params(1, 1, 1);
        p.revealTimeout = 0;
        _expectCreateRevert(p, abi.encodeWithSelector(sel, "revealTimeout", 0, 30, 30 days));
    }

    function test_createTask_revertsOnZeroAmounts() public {
        bytes4 sel = ITaskMarket.TaskMarketZeroAmount.selector;
        ITaskMarket.TaskParams memory p = _params(1, 1, 1);
        p.minerReward = 0;
        _expectCreateRevert(p, abi.encodeWithSelector(sel, "minerReward"));
        p = _params(1, 1, 1);
        p.aggregatorReward = 0;
        _expectCreateRevert(p, abi.encodeWithSelector(sel, "aggregatorReward"));
        p = _params(1, 1, 1);
        p.verifierReward = 0;
        _expectCreateRevert(p, abi.encodeWithSelector(sel, "verifierReward"));
        p = _params(1, 1, 1);
        p.voteBond = 0;
        _expectCreateRevert(p, abi.encodeWithSelector(sel, "voteBond"));
    }

    function test_createTask_revertsWhenUnitBondCannotPayARetry() public {
        ITaskMarket.TaskParams memory p = _params(1, 1, 5);
        p.unitBond = 5 * VERIFIER_REWARD - 1;
        _expectCreateRevert(
            p,
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketUnitBondTooSmall.selector, 5 * VERIFIER_REWARD - 1, 5 * VERIFIER_REWARD
            )
        );
        p.unitBond = 5 * VERIFIER_REWARD; // the boundary is allowed
        vm.prank(owner);
        market.createTask{value: _budget(p)}(p);
    }

    function testFuzz_createTask_budgetMatchesFormula(
        uint32 rounds,
        uint32 units,
        uint32 quorum,
        uint96 minerReward,
        uint96 verifierReward
    ) public {
        ITaskMarket.TaskParams memory p = _params(
            uint32(bound(rounds, 1, 20)), uint32(bound(units, 1, 50)), uint32(bound(quorum, 0, 7) * 2 + 1)
        );
        p.minerReward = uint96(bound(minerReward, 1, 1 ether));
        p.verifierReward = uint96(bound(verifierReward, 1, 0.1 ether));
        p.unitBond = uint96(uint256(p.quorum) * p.verifierReward);
        uint256 budget = _budget(p);
        vm.deal(owner, budget);
        uint256 taskId = _create(p);
        vm.assertEq(_state(taskId).escrow, budget, "escrow");
        vm.assertEq(address(market).balance, market.totalOwed(), "balance == owed");
    }

    function test_cancelTask_refundsEverythingWhenIdle() public {
        uint256 taskId = _createDefault();
        uint256 budget = _state(taskId).escrow;
        vm.expectEmit();
        emit ITaskMarket.TaskCancelled(taskId, 0);
        vm.expectEmit();
        emit ITaskMarket.EscrowRefunded(taskId, owner, budget);
        vm.prank(owner);
        market.cancelTask(taskId);
        vm.assertTrue(_state(taskId).status == ITaskMarket.TaskStatus.Cancelled, "cancelled");
        vm.assertEq(_state(taskId).escrow, 0, "escrow emptied");
        vm.assertEq(market.creditOf(owner), budget, "owner credited");
        vm.assertFalse(market.isClaimable(taskId, 0, 0), "nothing claimable");
    }

    function test_cancelTask_revertsForNonOwner() public {
        uint256 taskId = _createDefault();
        vm.expectRevert(
            abi.encodeWithSelector(ITaskMarket.TaskMarketNotTaskOwner.selector, taskId, stranger, owner)
        );
        vm.prank(stranger);
        market.cancelTask(taskId);
    }

    function test_cancelTask_revertsWhenAlreadyCancelled() public {
        uint256 taskId = _createDefault();
        vm.startPrank(owner);
        market.cancelTask(taskId);
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketTaskNotActive.selector, taskId, ITaskMarket.TaskStatus.Cancelled
            )
        );
        market.cancelTask(taskId);
        vm.stopPrank();
    }

    function test_cancelTask_revertsOnUnknownTask() public {
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketUnknownTask.selector, 42));
        vm.prank(owner);
        market.cancelTask(42);
    }

    function test_cancelTask_letsUnitsInFlightFinishAndPaysThem() public {
        uint256 taskId = _createDefault();
        _claimAndSubmit(taskId, 0, 0, miners[0]);
        _claim(taskId, 0, 1, miners[1]);
        vm.prank(owner);
        market.cancelTask(taskId);
        vm.assertEq(market.creditOf(owner), 0, "no refund while units are in flight");

        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketTaskNotActive.selector, taskId, ITaskMarket.TaskStatus.Cancelled
            )
        );
        vm.prank(miners[2]);
        market.claimUnits(taskId, 0, Batch.one(1));

        _vote(taskId, 0, 0, _unanimous(3, true));
        vm.assertEq(market.creditOf(miners[0]), MINER_REWARD, "in-flight unit paid");
        vm.assertEq(market.creditOf(owner), 0, "one unit still in flight");

        vm.prank(miners[1]);
        market.submitResults(taskId, 0, Batch.one(1), Batch.word(_result(taskId, 0, 1, miners[1])), Batch.word(_model(taskId, 0, 1)));
        _vote(taskId, 0, 1, _unanimous(3, true));
        uint256 spent = 2 * MINER_REWARD + 6 * VERIFIER_REWARD;
        vm.assertEq(market.creditOf(owner), 6.8 ether - spent, "the rest refunded once nothing is in flight");
        vm.assertEq(_state(taskId).escrow, 0, "escrow emptied");
        vm.assertFalse(market.isClaimable(taskId, 0, 2), "aggregation never opens after a cancel");
        _assertSolvent();
    }

    /// @notice The scenario of the Python end-to-end test, in Solidity: 2 rounds × 2 units, quorum 3, every
    /// balance checked to the wei.
    function test_fullTask_completesAndPaysEveryoneToTheWei() public {
        uint256 taskId = _createDefault();
        uint256 budget = _state(taskId).escrow;
        _acceptRound(taskId, 0);
        ITaskMarket.TaskState memory s = _state(taskId);
        vm.assertEq(s.currentRound, 1, "round advanced");
        vm.assertEq(market.roundInput(taskId, 1), _model(taskId, 0, 2), "round 1 input is round 0's aggregate");

        bytes32 finalModel = _model(taskId, 1, 2);
        _claimAndSubmit(taskId, 1, 0, miners[0]);
        _vote(taskId, 1, 0, _unanimous(3, true));
        _claimAndSubmit(taskId, 1, 1, miners[1]);
        _vote(taskId, 1, 1, _unanimous(3, true));
        _claimAndSubmit(taskId, 1, 2, miners[0]);
        address[] memory seats = _draw(taskId, 1, 2);
        for (uint256 i; i < 3; ++i) _commit(taskId, 1, 2, seats[i], true);
        _reveal(taskId, 1, 2, seats[0], true);
        _reveal(taskId, 1, 2, seats[1], true);
        vm.expectEmit();
        emit ITaskMarket.TaskCompleted(taskId, finalModel);
        _reveal(taskId, 1, 2, seats[2], true);

        s = _state(taskId);
        vm.assertTrue(s.status == ITaskMarket.TaskStatus.Completed, "completed");
        vm.assertEq(s.finalModelDigest, finalModel, "final model recorded");
        vm.assertEq(s.escrow, 0, "escrow emptied");
        vm.assertEq(s.inFlight, 0, "nothing in flight");
        // miners[0]: 2 training units + 2 aggregations; miners[1]: 2 training units
        vm.assertEq(market.creditOf(miners[0]), 2 * MINER_REWARD + 2 * AGG_REWARD, "miner 0");
        vm.assertEq(market.creditOf(miners[1]), 2 * MINER_REWARD, "miner 1");
        uint256 paidToVerifiers;
        for (uint256 i; i < verifiers.length; ++i) {
            paidToVerifiers += market.creditOf(verifiers[i]);
            vm.assertEq(_locked(verifiers[i]), 0, "vote bonds released");
        }
        vm.assertEq(paidToVerifiers, 18 * VERIFIER_REWARD, "18 seats paid, whoever was drawn");
        vm.assertEq(market.creditOf(owner), 0, "the budget was spent exactly");
        vm.assertEq(
            budget, 4 * MINER_REWARD + 2 * AGG_REWARD + 18 * VERIFIER_REWARD, "budget = what was paid"
        );
        vm.assertEq(_locked(miners[0]), 0, "unit bonds released");
        vm.assertEq(address(market).balance, market.totalOwed(), "balance == owed");
    }

    function test_roundInput_revertsForARoundNotReached() public {
        uint256 taskId = _createDefault();
        vm.assertEq(market.roundInput(taskId, 0), keccak256("model-0"), "round 0 is the initial model");
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketRoundNotReached.selector, taskId, 1, 0));
        market.roundInput(taskId, 1);
    }

    function test_getTask_revertsOnUnknownTask() public {
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketUnknownTask.selector, 0));
        market.getTask(0);
    }

    function test_getUnit_revertsOnIndexOutOfRange() public {
        uint256 taskId = _createDefault();
        vm.expectRevert(
            abi.encodeWithSelector(ITaskMarket.TaskMarketUnitIndexOutOfRange.selector, taskId, 3, 2)
        );
        market.getUnit(taskId, 0, 3);
    }

    function test_getUnits_returnsEveryUnitOfTheRoundAsGetUnitDoes() public {
        uint256 taskId = _createDefault();
        _claim(taskId, 0, 1, miners[0]);
        ITaskMarket.UnitInfo[] memory units = market.getUnits(taskId, 0);
        vm.assertEq(units.length, 3, "two training units and the aggregation unit");
        for (uint32 i; i < units.length; ++i) {
            vm.assertEq(keccak256(abi.encode(units[i])), keccak256(abi.encode(market.getUnit(taskId, 0, i))), "same unit");
        }
        vm.assertEq(units[1].miner, miners[0], "the claim shows");
        vm.assertEq(uint8(units[0].status), uint8(ITaskMarket.UnitStatus.Open), "the others are open");
    }

    function test_getUnits_revertsOnUnknownTask() public {
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketUnknownTask.selector, 5));
        market.getUnits(5, 0);
    }

    function test_commitmentOf_matchesTheSharedVector() public view {
        // The same vector is checked by tests/unit/chain/test_commitment.py.
        bytes32 c = market.commitmentOf(7, 1, 2, address(0xA1), true, bytes32(uint256(0x1111111111111111111111111111111111111111111111111111111111111111)));
        vm.assertEq(c, 0xff1635fcd83a365b4d05d5964d77a1ff36966c1396b2a459eae19802d4b3f21b, "commitment vector");
        // A unit's seed (batch order and dropout) is the nodes' own: keccak256(abi.encode(taskId, round, index, miner)).
        bytes32 seed = keccak256(abi.encode(uint256(7), uint32(1), uint32(2), address(0xA1)));
        vm.assertEq(seed, 0xd6e7a5c2b51cb209b4c3909024f022caead86140730929ee9aa46b18109b910b, "unit seed vector");
    }

    /// Real chains refuse runtime code over 24,576 bytes (EIP-170); Anvil can be told to ignore it, they cannot.
    function test_deployedCode_staysUnderTheEip170Limit() public view {
        vm.assertLe(address(market).code.length, 24_576, "TaskMarket runtime size");
        vm.assertLe(market.verifierPool().code.length, 24_576, "VerifierPool runtime size");
        vm.assertLe(_viewsContract().code.length, 24_576, "TaskMarketViews runtime size");
    }

    /// The market's second creation (after its pool): TaskMarketViews, at the CREATE address of nonce 2.
    function _viewsContract() internal view returns (address) {
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes2(0xd694), address(market), bytes1(0x02))))));
    }

    /// The views run in TaskMarketViews on the market's storage: at its own address that contract holds nothing.
    function test_fallback_runsTheViewsOnTheMarketsStorage() public {
        uint256 taskId = _create(_params(1, 1, 1));
        ITaskMarketViews views = ITaskMarketViews(_viewsContract());
        vm.assertGt(address(views).code.length, 0, "created with the market");
        vm.assertEq(market.taskCount(), taskId, "the market's tasks");
        vm.assertEq(views.taskCount(), 0, "its own storage is empty");
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketUnknownTask.selector, taskId));
        views.getTask(taskId);
    }

    /// A call the market does not know reverts, without a reason, and so does a plain transfer.
    function test_fallback_revertsForAnUnknownCallAndForValue() public {
        (bool ok, bytes memory reason) = address(market).call(abi.encodeWithSignature("mint(uint256)", 1));
        vm.assertFalse(ok, "unknown call");
        vm.assertEq(reason.length, 0, "no reason");
        vm.deal(address(this), 1 ether);
        (ok,) = address(market).call{value: 1 ether}("");
        vm.assertFalse(ok, "no plain transfer");
    }

    function test_createTask_revertsWhenVoteBondCannotPayAnAppeal() public {
        ITaskMarket.TaskParams memory p = _params(1, 1, 1);
        p.voteBond = 4 * VERIFIER_REWARD - 1;
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketVoteBondTooSmall.selector, 4 * VERIFIER_REWARD - 1, 4 * VERIFIER_REWARD
            )
        );
        vm.prank(owner);
        market.createTask{value: _budget(p)}(p);
    }

    function test_createTask_revertsWhenStakeCouldLeaveBeforeItsLastSlash() public {
        ITaskMarket.TaskParams memory p = _params(1, 1, 1);
        p.challengeWindow = 8 hours; // 1 h claim + 5 levels x (30 + 30 min + 8 h) = 46 h > the 1-day delay
        uint256 exposure = 1 hours + 5 * (30 minutes + 30 minutes + 8 hours);
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketUnbondingTooShort.selector, DELAY, exposure));
        vm.prank(owner);
        market.createTask{value: _budget(p)}(p);
    }

    function test_createTask_revertsOnAChallengeWindowOutOfRange() public {
        ITaskMarket.TaskParams memory p = _params(1, 1, 1);
        p.challengeWindow = 30 days + 1;
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketParamOutOfRange.selector, "challengeWindow", 30 days + 1, 0, 30 days
            )
        );
        vm.prank(owner);
        market.createTask{value: _budget(p)}(p);
    }
}
