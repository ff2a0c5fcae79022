// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TaskMarketFixture} from "./utils/TaskMarketFixture.sol";
import {ITaskMarket} from "../src/interfaces/ITaskMarket.sol";
import {Batch} from "./utils/Batch.sol";

/// @notice Provisional verdicts, challenges, appeal quorums, and the money of every way an appeal can end.
/// A quorum of 1 with a challenge window of one hour: levels 1 to 4 seat 3, 7, 15 and 31 verifiers.
contract TaskMarketAppealsTest is TaskMarketFixture {
    uint32 internal constant WINDOW = 1 hours;
    uint256 internal taskId;

    function setUp() public override {
        super.setUp();
        ITaskMarket.TaskParams memory p = _params(1, 2, 1);
        p.challengeWindow = WINDOW;
        taskId = _create(p);
        vm.prank(stranger);
        market.stake{value: 5 ether}(); // a challenger that is not a verifier
        _claimAndSubmit(taskId, 0, 0, miners[0]);
    }

    /// @dev Every distinct holder of a seat commits and reveals `valid` once for all of its seats.
    function _voteAll(uint32 index, bool valid) internal returns (address[] memory seats) {
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, index);
        if (vm.getBlockNumber() <= u.seedBlock) vm.roll(u.seedBlock + 1);
        for (uint256 calls; calls < 8 && _unit(taskId, 0, index).seats < market.seatsAt(1, u.level); ++calls) {
            market.drawVerifiers(taskId, 0, Batch.one(index));
        }
        seats = market.getSeats(taskId, 0, index);
        for (uint256 i; i < seats.length; ++i) {
            if (!market.getBallot(taskId, 0, index, seats[i]).committed) _commit(taskId, 0, index, seats[i], valid);
        }
        for (uint256 i; i < seats.length; ++i) {
            if (!market.getBallot(taskId, 0, index, seats[i]).revealed) _reveal(taskId, 0, index, seats[i], valid);
        }
    }

    function _challenge(address who) internal {
        vm.prank(who);
        market.challengeVerdict(taskId, 0, 0);
    }

    function _closeWindow() internal {
        vm.warp(_unit(taskId, 0, 0).deadline + 1);
        market.finalizeUnit(taskId, 0, 0);
    }

    function _contains(address[] memory list, address a) internal pure returns (bool) {
        for (uint256 i; i < list.length; ++i) {
            if (list[i] == a) return true;
        }
        return false;
    }

    function test_revealVotes_verdictIsProvisionalDuringTheChallengeWindow() public {
        address[] memory seats = _voteAll(0, true);
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, 0);
        vm.assertTrue(u.status == ITaskMarket.UnitStatus.Decided, "decided, not final");
        vm.assertTrue(u.verdict, "valid");
        vm.assertEq(u.deadline, vm.getBlockTimestamp() + WINDOW, "open to challenge for the window");
        vm.assertEq(market.creditOf(miners[0]), 0, "nothing paid yet");
        vm.assertEq(_locked(seats[0]), VOTE_BOND, "bond still at stake");
        vm.assertEq(_state(taskId).acceptedInRound, 0, "not counted for the round yet");
        vm.expectRevert(
            abi.encodeWithSelector(ITaskMarket.TaskMarketFinalizeNotDue.selector, taskId, 0, 0, u.deadline)
        );
        market.finalizeUnit(taskId, 0, 0);
        _closeWindow();
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Accepted, "final once the window closed");
        vm.assertEq(market.creditOf(miners[0]), MINER_REWARD, "miner paid");
        vm.assertEq(market.creditOf(seats[0]), VERIFIER_REWARD, "verifier paid");
        vm.assertEq(_state(taskId).acceptedInRound, 1, "counted");
    }

    function test_challengeVerdict_drawsALargerQuorumFromTheWholePool() public {
        address[] memory first = _voteAll(0, true);
        vm.expectEmit();
        emit ITaskMarket.VerdictChallenged(taskId, 0, 0, stranger, 1, 2, 3 * VERIFIER_REWARD);
        _challenge(stranger);
        vm.assertEq(_locked(stranger), 3 * VERIFIER_REWARD, "challenge bond = appeal seats x reward");
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, 0);
        vm.assertTrue(u.status == ITaskMarket.UnitStatus.Submitted, "a new vote");
        vm.assertEq(u.level, 1, "level 1");
        // Whoever sat before may sit again: over many seeds the first quorum's verifier holds appeal seats as its
        // stake says (one in five of the pool), not none.
        uint256 seats;
        uint256 hers;
        uint64 seedBlock = _unit(taskId, 0, 0).seedBlock;
        vm.roll(seedBlock + 1);
        for (uint256 k; k < 100; ++k) {
            uint256 snapshot = vm.snapshotState();
            vm.setBlockhash(seedBlock, keccak256(abi.encode("appeal", k)));
            market.drawVerifiers(taskId, 0, Batch.one(0));
            address[] memory drawn = market.getSeats(taskId, 0, 0);
            for (uint256 i; i < drawn.length; ++i) {
                ++seats;
                if (drawn[i] == first[0]) ++hers;
            }
            vm.revertToState(snapshot);
        }
        vm.assertGt(hers, seats / 10, "an earlier participant is drawn again at its share");
        address[] memory appeal = _draw(taskId, 0, 0);
        vm.assertEq(appeal.length, 3, "2q + 1 seats");
        for (uint256 i; i < appeal.length; ++i) vm.assertTrue(appeal[i] != miners[0], "only the miner is excluded");
        ITaskMarket.LevelInfo memory level = market.getLevel(taskId, 0, 0, 1);
        vm.assertEq(level.challenger, stranger, "challenger recorded");
        vm.assertEq(level.epoch, 2, "level 1 voted in epoch 2");
    }

    function test_challengeVerdict_overturnsAcceptedJunkAndPaysTheChallenger() public {
        uint256 escrow = _state(taskId).escrow;
        address[] memory first = _voteAll(0, true); // a captured first quorum accepts junk
        _challenge(stranger);
        address[] memory appeal = _voteAll(0, false);
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, 0);
        vm.assertTrue(u.status == ITaskMarket.UnitStatus.Decided && !u.verdict, "overturned, provisionally");
        _closeWindow();
        u = _unit(taskId, 0, 0);
        vm.assertTrue(u.status == ITaskMarket.UnitStatus.Open, "junk rejected: the unit is open again");
        vm.assertEq(_total(miners[0]), STAKE - UNIT_BOND, "miner slashed");
        vm.assertEq(_total(first[0]), STAKE - VOTE_BOND, "the wrong majority slashed");
        uint256 itsAppealSeats;
        for (uint256 i; i < appeal.length; ++i) {
            if (appeal[i] == first[0]) ++itsAppealSeats; // it may sit the appeal too (drawn from the whole pool)
        }
        vm.assertEq(market.creditOf(first[0]), itsAppealSeats * VERIFIER_REWARD, "unpaid for its wrong vote");
        uint256 appealPaid;
        for (uint256 i; i < verifiers.length; ++i) {
            appealPaid += market.creditOf(verifiers[i]);
            vm.assertEq(_locked(verifiers[i]), 0, "no bond left locked");
        }
        vm.assertEq(appealPaid, appeal.length * VERIFIER_REWARD, "every appeal seat paid");
        vm.assertEq(_total(stranger), 5 ether, "challenger's bond back");
        vm.assertEq(market.creditOf(stranger), VERIFIER_REWARD, "plus its reward");
        vm.assertEq(
            _state(taskId).escrow,
            escrow + UNIT_BOND + VOTE_BOND - 3 * VERIFIER_REWARD - VERIFIER_REWARD,
            "escrow: the slashes paid the appeal and the reward"
        );
        _assertSolvent();
    }

    function test_challengeVerdict_theNextVoteAfterAnOverturnedOneSettlesUnappealed() public {
        _voteAll(0, true); // junk accepted, appealed, overturned: the unit is open again
        _challenge(stranger);
        _voteAll(0, false);
        _closeWindow();
        ITaskMarket.LevelInfo memory appealedFirst = market.getLevel(taskId, 0, 0, 0);
        vm.assertEq(appealedFirst.epoch, 0, "the appealed submission's level 0 is forgotten with it");

        _claimAndSubmit(taskId, 0, 0, miners[1]); // an honest result, voted on once, not appealed
        uint256[] memory credit = new uint256[](verifiers.length);
        for (uint256 i; i < verifiers.length; ++i) {
            credit[i] = market.creditOf(verifiers[i]);
        }
        address[] memory seats = _voteAll(0, true);
        ITaskMarket.LevelInfo memory first = market.getLevel(taskId, 0, 0, 0);
        vm.assertEq(first.epoch, _unit(taskId, 0, 0).epoch, "level 0 is the unit's own vote");
        vm.assertTrue(first.verdict, "and its verdict");
        _closeWindow();
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Accepted, "accepted");
        for (uint256 i; i < verifiers.length; ++i) {
            uint256 paid = market.creditOf(verifiers[i]) - credit[i];
            vm.assertEq(paid, _contains(seats, verifiers[i]) ? VERIFIER_REWARD : 0, "this vote's seat, and only it");
            vm.assertEq(_locked(verifiers[i]), 0, "no bond left locked");
        }
        _assertSolvent();
    }

    function test_challengeVerdict_confirmedVerdictPaysTheAppealFromTheBond() public {
        uint256 escrow = _state(taskId).escrow;
        _voteAll(0, true);
        _challenge(stranger);
        _voteAll(0, true);
        _closeWindow();
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Accepted, "accepted");
        vm.assertEq(market.creditOf(miners[0]), MINER_REWARD, "miner paid");
        vm.assertEq(_total(stranger), 5 ether - 3 * VERIFIER_REWARD, "challenger's bond slashed");
        vm.assertEq(market.creditOf(stranger), 0, "no reward");
        uint256 verifiersPaid;
        for (uint256 i; i < verifiers.length; ++i) verifiersPaid += market.creditOf(verifiers[i]);
        vm.assertEq(verifiersPaid, 4 * VERIFIER_REWARD, "first seat and three appeal seats paid");
        vm.assertEq(_state(taskId).escrow, escrow - MINER_REWARD - VERIFIER_REWARD, "the bond paid the appeal");
        _assertSolvent();
    }

    function test_challengeVerdict_revertsAfterTheWindow() public {
        _voteAll(0, true);
        uint64 deadline = _unit(taskId, 0, 0).deadline;
        vm.warp(deadline + 1);
        vm.expectRevert(
            abi.encodeWithSelector(ITaskMarket.TaskMarketDeadlinePassed.selector, deadline, deadline + 1)
        );
        _challenge(stranger);
    }

    function test_challengeVerdict_revertsWithoutStakeForTheBond() public {
        _voteAll(0, true);
        address poor = address(0xB0B);
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketInsufficientFreeStake.selector, poor, 0, 3 * VERIFIER_REWARD
            )
        );
        _challenge(poor);
    }

    function test_challengeVerdict_revertsBeforeAVerdict() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                ITaskMarket.TaskMarketUnitWrongStatus.selector, taskId, 0, 0, ITaskMarket.UnitStatus.Submitted
            )
        );
        _challenge(stranger);
    }

    function test_challengeVerdict_lastLevelIsFinalAtOnce() public {
        _voteAll(0, true);
        vm.deal(owner, 1_000 ether);
        vm.prank(owner);
        market.stake{value: 5 ether}();
        // Two challengers take turns up the ladder, each level voting the other way: 3, 7, 15, then 31 seats.
        address[4] memory challengers = [stranger, owner, stranger, owner];
        for (uint256 l; l < 4; ++l) {
            _challenge(challengers[l]);
            _voteAll(0, l % 2 == 1);
        }
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, 0);
        vm.assertEq(u.level, 4, "level 4, the last");
        vm.assertTrue(u.status == ITaskMarket.UnitStatus.Accepted, "the last level settles at once");
        vm.assertEq(_total(stranger), 5 ether - 3 * VERIFIER_REWARD - 15 * VERIFIER_REWARD, "its challenged verdicts stood");
        vm.assertEq(_total(owner), 5 ether, "the last challenger won: bonds back");
        vm.assertEq(market.creditOf(owner), 2 * VERIFIER_REWARD, "with a reward per upheld level");
        for (uint256 i; i < verifiers.length; ++i) vm.assertEq(_locked(verifiers[i]), 0, "all bonds settled");
        _assertSolvent();
    }

    function test_finalizeUnit_anAppealNobodyCanSitWaitsForTheNextVerifierAndNeverLapses() public {
        address[] memory first = _voteAll(0, true);
        for (uint256 i; i < verifiers.length; ++i) {
            vm.prank(verifiers[i]);
            market.leaveVerifierPool();
        }
        vm.roll(vm.getBlockNumber() + 1);
        _challenge(stranger);
        vm.roll(vm.getBlockNumber() + 1);
        market.drawVerifiers(taskId, 0, Batch.one(0));
        vm.assertEq(_unit(taskId, 0, 0).seats, 0, "nobody in the pool");
        for (uint256 w; w < 3; ++w) {
            vm.warp(_unit(taskId, 0, 0).deadline + 1);
            market.finalizeUnit(taskId, 0, 0); // a replacement round, never a lapse
            vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Submitted, "still waiting for its quorum");
            vm.assertEq(_unit(taskId, 0, 0).level, 1, "at the appeal's level");
        }
        vm.prank(first[0]);
        market.joinVerifierPool(); // anyone who can sit, whoever it sat for before
        vm.roll(vm.getBlockNumber() + 1);
        vm.warp(_unit(taskId, 0, 0).deadline + 1);
        market.finalizeUnit(taskId, 0, 0);
        vm.roll(vm.getBlockNumber() + 1);
        _voteAll(0, false);
        _closeWindow();
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Open, "the appeal decided: rejected");
        vm.assertEq(market.creditOf(stranger), VERIFIER_REWARD, "the challenger won");
        _assertSolvent();
    }

    function test_claimUnits_aggregationWaitsUntilTrainingVerdictsAreFinal() public {
        _voteAll(0, true);
        _claimAndSubmit(taskId, 0, 1, miners[1]);
        _voteAll(1, true);
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketAggregationNotReady.selector, taskId, 0, 0, 2));
        _claim(taskId, 0, 2, miners[2]);
        vm.warp(vm.getBlockTimestamp() + WINDOW + 1);
        market.finalizeUnit(taskId, 0, 0);
        market.finalizeUnit(taskId, 0, 1);
        _claim(taskId, 0, 2, miners[2]);
        vm.assertTrue(_unit(taskId, 0, 2).status == ITaskMarket.UnitStatus.Claimed, "aggregation claimed");
    }

    function testFuzz_appeals_conserveEveryWei(uint256 pattern) public {
        uint256 balance = address(market).balance;
        vm.deal(owner, 1_000 ether);
        vm.prank(owner);
        market.stake{value: 5 ether}();
        _voteAll(0, pattern & 1 == 1);
        if ((pattern >> 1) & 1 == 1) {
            _challenge(stranger);
            _voteAll(0, (pattern >> 2) & 1 == 1);
            if ((pattern >> 3) & 1 == 1) {
                _challenge(owner);
                _voteAll(0, (pattern >> 4) & 1 == 1);
            }
        }
        if (_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Decided) _closeWindow();
        balance += 5 ether; // the owner's stake
        vm.assertEq(address(market).balance, balance, "no value moved in or out");
        vm.assertEq(market.totalOwed(), balance, "every wei still owed to somebody");
        for (uint256 i; i < verifiers.length; ++i) vm.assertEq(_locked(verifiers[i]), 0, "every vote bond settled");
        vm.assertEq(_locked(stranger), 0, "challenge bonds settled");
        vm.assertEq(_locked(owner), 0, "challenge bonds settled");
    }
}
