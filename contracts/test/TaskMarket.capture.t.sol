// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TaskMarketFixture} from "./utils/TaskMarketFixture.sol";
import {ITaskMarket} from "../src/interfaces/ITaskMarket.sol";
import {Batch} from "./utils/Batch.sol";

/// @notice Capture of the judges, vector by vector (issue 29), each with the attacker's stake in one account and
/// split over 50 of one vote bond each: 20% of the pool's weight against the fixture's five honest verifiers.
/// 1. appeals drawn without earlier participants → every level is drawn from the whole pool: the attacker's seats
///    follow its stake at every level, whoever sat before;
/// 2. appeals that lapse when their seats stay away → no-shows are drawn again, an appeal never lapses;
/// 3. honest bonds locked by decoy quorums → a seat locks its bond whatever else it is seated for: decoys leave
///    the honest accounts in every draw.
/// Then the whole ladder, played out: junk is final no more often than the final level's binomial tail, the
/// attacker loses money, and a third of the stake voting "invalid" on everything never gets an honest result
/// finally rejected nor an honest verifier slashed.
contract TaskMarketCaptureTest is TaskMarketFixture {
    uint32 internal constant WINDOW = 1 hours;
    /// @dev Honest stake: the fixture's five verifiers topped up to 16 ether each (80 ether), so that an attacker
    /// of 20 ether holds 20% of the pool.
    uint256 internal constant HONEST_EACH = 16 ether;
    uint256 internal constant ATTACKER_STAKE = 20 ether;

    address[] internal attackers;
    /// @dev The attacker's stake for its challenge bonds, outside the pool (in it, it would be more than 20%).
    address internal purse = address(0xA77A);

    function setUp() public override {
        super.setUp();
        vm.deal(purse, 1_000 ether);
        vm.prank(purse);
        market.stake{value: 500 ether}();
        for (uint256 i; i < verifiers.length; ++i) {
            vm.prank(verifiers[i]);
            market.stake{value: HONEST_EACH - STAKE}();
        }
    }

    /// @dev The attacker's pool stake, split over `accounts` accounts (all in the pool).
    function _attacker(uint256 accounts) internal {
        for (uint256 i; i < accounts; ++i) {
            address a = address(uint160(0xA000 + i));
            vm.deal(a, ATTACKER_STAKE);
            vm.prank(a);
            market.stake{value: ATTACKER_STAKE / accounts}();
            vm.prank(a);
            market.joinVerifierPool();
            attackers.push(a);
        }
        vm.roll(vm.getBlockNumber() + 1);
    }

    function _isAttacker(address a) internal view returns (bool) {
        for (uint256 i; i < attackers.length; ++i) {
            if (attackers[i] == a) return true;
        }
        return false;
    }

    function _task(uint32 quorum) internal returns (uint256 taskId) {
        ITaskMarket.TaskParams memory p = _params(1, 2, quorum);
        p.challengeWindow = WINDOW;
        taskId = _create(p);
    }

    /// @dev Draws the unit's current level until its seats are full.
    function _fill(uint256 taskId, uint32 index) internal returns (address[] memory) {
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, index);
        if (vm.getBlockNumber() <= u.seedBlock) vm.roll(u.seedBlock + 1);
        uint8 needed = market.seatsAt(_quorumOf(taskId), u.level);
        for (uint256 calls; calls < 16 && _unit(taskId, 0, index).seats < needed; ++calls) {
            market.drawVerifiers(taskId, 0, Batch.one(index));
        }
        return market.getSeats(taskId, 0, index);
    }

    /// @dev Every seat holder commits, then reveals: honest accounts `truth`, the attacker's `!truth`.
    function _vote(uint256 taskId, uint32 index, bool truth) internal {
        address[] memory seats = _fill(taskId, index);
        for (uint256 i; i < seats.length; ++i) {
            if (!market.getBallot(taskId, 0, index, seats[i]).committed) {
                _commit(taskId, 0, index, seats[i], _isAttacker(seats[i]) ? !truth : truth);
            }
        }
        for (uint256 i; i < seats.length; ++i) {
            if (!market.getBallot(taskId, 0, index, seats[i]).revealed) {
                _reveal(taskId, 0, index, seats[i], _isAttacker(seats[i]) ? !truth : truth);
            }
        }
    }

    /// @dev Fractions of the attacker's seats over `trials` draws of the unit's current level (from other seeds).
    function _attackerSeats(uint256 taskId, uint32 index, uint256 trials)
        internal
        returns (uint256 seats, uint256 theirs, uint256 majorities)
    {
        ITaskMarket.UnitInfo memory u = _unit(taskId, 0, index);
        if (vm.getBlockNumber() <= u.seedBlock) vm.roll(u.seedBlock + 1);
        for (uint256 k; k < trials; ++k) {
            uint256 snapshot = vm.snapshotState();
            vm.setBlockhash(u.seedBlock, keccak256(abi.encode("capture", k)));
            address[] memory drawn = _fill(taskId, index);
            uint256 mine;
            for (uint256 i; i < drawn.length; ++i) {
                if (_isAttacker(drawn[i])) ++mine;
            }
            seats += drawn.length;
            theirs += mine;
            if (2 * mine > drawn.length) ++majorities;
            vm.revertToState(snapshot);
        }
    }

    /// @dev |theirs/seats − 0.2| within 4 standard deviations of the binomial share.
    function _assertShare(uint256 seats, uint256 theirs, string memory what) internal pure {
        // σ of the count = sqrt(n · 0.2 · 0.8) = 0.4 · sqrt(n); 4σ = 1.6 · sqrt(n)
        uint256 expected = seats / 5;
        uint256 band = (16 * _sqrt(seats)) / 10 + 1;
        uint256 gap = theirs > expected ? theirs - expected : expected - theirs;
        if (gap > band) revert(what);
    }

    function _sqrt(uint256 x) internal pure returns (uint256 y) {
        y = x;
        uint256 z = (x + 1) / 2;
        while (z < y) (y, z) = (z, (x / z + z) / 2);
    }

    // ------------------------------------------------------------------------------------------------------------
    // 1. Every level is drawn from the whole pool
    // ------------------------------------------------------------------------------------------------------------

    function test_drawVerifiers_appealSeatsFollowStakeAtEveryLevel_oneAccount() public {
        _assertAppealSeatsFollowStake(1);
    }

    function test_drawVerifiers_appealSeatsFollowStakeAtEveryLevel_fiftyAccounts() public {
        _assertAppealSeatsFollowStake(50);
    }

    /// @dev The attacker challenges every verdict against its junk, up the whole ladder; at each level, 60 draws from
    /// other seeds give it 20% of the seats (within 4σ), whoever sat below, however it split its stake. At the
    /// last level (31 seats) a majority of 20% has a binomial chance of 9e-5: none in 60 draws.
    function _assertAppealSeatsFollowStake(uint256 accounts) internal {
        _attacker(accounts);
        uint256 taskId = _task(1);
        _claimAndSubmit(taskId, 0, 0, miners[0]); // junk: the truth is "invalid"
        for (uint8 level; level <= 4; ++level) {
            if (level != 0) {
                // Whichever side lost the level appeals it: the attacker its rejections, the honest its acceptances.
                vm.prank(_unit(taskId, 0, 0).verdict ? verifiers[level] : purse);
                market.challengeVerdict(taskId, 0, 0);
            }
            (uint256 seats, uint256 theirs, uint256 majorities) = _attackerSeats(taskId, 0, 60);
            _assertShare(seats, theirs, "the attacker's appeal seats are not its share of the stake");
            if (level == 4) vm.assertEq(majorities, 0, "no attacker majority at the last level");
            _vote(taskId, 0, false);
        }
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Open, "junk finally rejected");
        _assertSolvent();
    }

    // ------------------------------------------------------------------------------------------------------------
    // 2. An appeal is never decided by who stays away
    // ------------------------------------------------------------------------------------------------------------

    function test_finalizeUnit_anAppealIsNotDecidedByTheAttackersNoShows_oneAccount() public {
        _assertNoShowsDecideNothing(1);
    }

    function test_finalizeUnit_anAppealIsNotDecidedByTheAttackersNoShows_fiftyAccounts() public {
        _assertNoShowsDecideNothing(50);
    }

    /// @dev Junk accepted at level 0 by the attacker (seeds searched until it holds the seat); an honest verifier
    /// challenges; the attacker's seats at the appeal never commit. Window after window they are released and
    /// drawn again while the honest seats stay, until the appeal is seated: it rejects the junk; nothing lapses.
    function _assertNoShowsDecideNothing(uint256 accounts) internal {
        _attacker(accounts);
        uint256 taskId = _task(1);
        _claimAndSubmit(taskId, 0, 0, miners[0]);
        uint64 seedBlock = _unit(taskId, 0, 0).seedBlock;
        vm.roll(seedBlock + 1);
        for (uint256 k;; ++k) {
            vm.setBlockhash(seedBlock, keccak256(abi.encode("capture-seat", k)));
            uint256 snapshot = vm.snapshotState();
            market.drawVerifiers(taskId, 0, Batch.one(0));
            if (_isAttacker(market.getSeats(taskId, 0, 0)[0])) break;
            vm.revertToState(snapshot);
        }
        _vote(taskId, 0, false); // the attacker's seat: "valid"
        vm.assertTrue(_unit(taskId, 0, 0).verdict, "junk accepted, provisionally");
        vm.prank(verifiers[0]);
        market.challengeVerdict(taskId, 0, 0);
        uint256 windows;
        for (; windows < 20; ++windows) {
            address[] memory seats = _fill(taskId, 0);
            for (uint256 i; i < seats.length; ++i) {
                if (!_isAttacker(seats[i]) && !market.getBallot(taskId, 0, 0, seats[i]).committed) {
                    _commit(taskId, 0, 0, seats[i], false);
                }
            }
            if (_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Revealing) break;
            vm.warp(_unit(taskId, 0, 0).deadline + 1);
            market.finalizeUnit(taskId, 0, 0); // the no-shows are released and drawn again
            vm.assertEq(_unit(taskId, 0, 0).level, 1, "still the appeal: it does not lapse");
            vm.roll(vm.getBlockNumber() + 1);
        }
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Revealing, "seated, all honest");
        address[] memory final_ = market.getSeats(taskId, 0, 0);
        for (uint256 i; i < final_.length; ++i) {
            if (!market.getBallot(taskId, 0, 0, final_[i]).revealed) _reveal(taskId, 0, 0, final_[i], false);
        }
        vm.warp(_unit(taskId, 0, 0).deadline + 1);
        market.finalizeUnit(taskId, 0, 0);
        vm.assertTrue(_unit(taskId, 0, 0).status == ITaskMarket.UnitStatus.Open, "junk rejected by the appeal");
        vm.assertGe(market.creditOf(verifiers[0]), VERIFIER_REWARD, "the challenger was right and paid");
        _assertSolvent();
    }

    // ------------------------------------------------------------------------------------------------------------
    // 3. Nobody can lock another's stake out of a draw
    // ------------------------------------------------------------------------------------------------------------

    function test_drawVerifiers_decoyQuorumsLeaveHonestStakeInTheDraw_oneAccount() public {
        _assertDecoysLockNobodyOut(1);
    }

    function test_drawVerifiers_decoyQuorumsLeaveHonestStakeInTheDraw_fiftyAccounts() public {
        _assertDecoysLockNobodyOut(50);
    }

    /// @dev Before its unit's quorum is drawn, the attacker draws the quorums of decoy tasks of its own whose vote
    /// bond is all of an honest verifier's stake: they seat honest accounts (split in vote-bond accounts, its own
    /// cannot sit that bond), and used to leave them without a free bond, skipped by the next draw. The honest seats now lock their bonds
    /// beyond what is free, and the attacker's unit is drawn from the whole pool as before: 20% of the seats.
    function _assertDecoysLockNobodyOut(uint256 accounts) internal {
        _attacker(accounts);
        uint256 taskId = _task(3);
        _claimAndSubmit(taskId, 0, 0, miners[0]);
        for (uint256 d; d < 3; ++d) {
            ITaskMarket.TaskParams memory p = _params(1, 1, 15);
            p.voteBond = uint96(HONEST_EACH);
            p.verifierReward = 1;
            p.minerReward = 1;
            p.aggregatorReward = 1;
            p.unitBond = 1 ether;
            uint256 decoy = _create(p);
            _claimAndSubmit(decoy, 0, 0, miners[1]);
        }
        vm.roll(vm.getBlockNumber() + 1);
        for (uint256 d = taskId + 1; d <= taskId + 3; ++d) {
            market.drawVerifiers(d, 0, Batch.one(0));
            vm.assertEq(market.getSeats(d, 0, 0).length, 15, "the decoy is seated");
        }
        uint256 lockedOut;
        for (uint256 i; i < verifiers.length; ++i) {
            if (market.stakeOf(verifiers[i]).free == 0) ++lockedOut; // the old rule skipped these
        }
        vm.assertGt(lockedOut, 0, "the decoys bonded honest stake beyond what is free");
        (uint256 seats, uint256 theirs,) = _attackerSeats(taskId, 0, 200);
        _assertShare(seats, theirs, "decoys moved the attacker's share of the unit's seats");
        _assertSolvent();
    }

    // ------------------------------------------------------------------------------------------------------------
    // An account seated beyond its stake: slashes stop at its stake, and no settlement pays out more than came in
    // ------------------------------------------------------------------------------------------------------------

    function test_challengeVerdict_anOverturnedSeatSeatedBeyondItsStakeNeverCostsTheChallengerItsBond() public {
        address thin = address(0x7117);
        vm.deal(thin, 1 ether);
        vm.prank(thin);
        market.stake{value: VOTE_BOND}(); // one vote bond: it can be slashed once
        vm.prank(thin);
        market.joinVerifierPool();
        vm.roll(vm.getBlockNumber() + 1);
        attackers.push(thin);
        uint256 taskId = _task(1);
        _claimAndSubmit(taskId, 0, 0, miners[0]);
        _claimAndSubmit(taskId, 0, 1, miners[1]);
        // Thin is seated on both junk results before either settles: its one bond backs two seats.
        for (uint32 index; index < 2; ++index) {
            uint64 seedBlock = _unit(taskId, 0, index).seedBlock;
            if (vm.getBlockNumber() <= seedBlock) vm.roll(seedBlock + 1);
            for (uint256 k;; ++k) {
                vm.setBlockhash(seedBlock, keccak256(abi.encode("thin", index, k)));
                uint256 snapshot = vm.snapshotState();
                market.drawVerifiers(taskId, 0, Batch.one(index));
                if (market.getSeats(taskId, 0, index)[0] == thin) break;
                vm.revertToState(snapshot);
            }
        }
        vm.assertEq(_locked(thin), 2 * uint256(VOTE_BOND), "two seats on one bond's stake");
        vm.assertEq(market.stakeOf(thin).free, 0, "nothing free");
        for (uint32 index; index < 2; ++index) {
            _vote(taskId, index, false); // thin votes "valid" on both junk results: wrong twice
            vm.prank(verifiers[0]);
            market.challengeVerdict(taskId, 0, index);
        }
        for (uint32 index; index < 2; ++index) {
            _vote(taskId, index, false); // the appeals overturn both
        }
        vm.warp(_unit(taskId, 0, 1).deadline + 1);
        address challenger = verifiers[0];
        uint256 challengerStake = _total(challenger);
        for (uint32 index; index < 2; ++index) {
            uint256 before = _total(thin);
            uint256 credit = market.creditOf(challenger);
            // The first appeal is paid by thin's bond, the challenger's reward included; the second finds nothing
            // left to take: that level's seats share nothing (their bonds come back), the challenger gets its bond
            // back and no reward, and no one that was right is slashed.
            vm.expectEmit();
            emit ITaskMarket.ChallengeSettled(taskId, 0, index, challenger, 1, true, index == 0 ? VERIFIER_REWARD : 0);
            market.finalizeUnit(taskId, 0, index);
            vm.assertTrue(_unit(taskId, 0, index).status == ITaskMarket.UnitStatus.Open, "junk rejected");
            vm.assertEq(before - _total(thin), index == 0 ? VOTE_BOND : 0, "its stake paid once, then nothing");
            vm.assertEq(_total(challenger), challengerStake, "the challenger's bond came back whole: never slashed");
            vm.assertEq(market.creditOf(challenger) - credit, index == 0 ? VERIFIER_REWARD : 0, "its reward");
            _assertSolvent();
        }
        vm.assertEq(_locked(thin), 0, "no bond left behind");
        vm.assertEq(_locked(verifiers[0]), 0, "the challenger's bonds settled");
        vm.assertEq(market.totalOwed(), address(market).balance, "every wei accounted for");
    }

    // ------------------------------------------------------------------------------------------------------------
    // The ladder played out
    // ------------------------------------------------------------------------------------------------------------

    /// @dev One unit's whole vote: the attacker's accounts vote against `truth`. After each verdict the honest side
    /// challenges a wrong one, and the liars (when `liarsChallenge`) a right one, up to the last level. Returns
    /// whether the result was finally accepted.
    function _ladder(uint256 taskId, uint32 index, bool truth, bool liarsChallenge) internal returns (bool) {
        for (uint8 level;; ++level) {
            _vote(taskId, index, truth);
            ITaskMarket.UnitInfo memory u = _unit(taskId, 0, index);
            if (u.status != ITaskMarket.UnitStatus.Decided) return u.status == ITaskMarket.UnitStatus.Accepted;
            address challenger;
            if (u.verdict != truth) challenger = verifiers[level % verifiers.length];
            else if (liarsChallenge) challenger = purse;
            if (challenger == address(0)) {
                vm.warp(u.deadline + 1);
                market.finalizeUnit(taskId, 0, index);
                return _unit(taskId, 0, index).status == ITaskMarket.UnitStatus.Accepted;
            }
            vm.prank(challenger);
            market.challengeVerdict(taskId, 0, index);
        }
    }

    function test_challengeVerdict_junkIsFinalNoMoreThanTheLastLevelsTailAndCostsTheAttacker_oneAccount() public {
        _assertJunkRarelyFinalAndUnprofitable(1);
    }

    function test_challengeVerdict_junkIsFinalNoMoreThanTheLastLevelsTailAndCostsTheAttacker_fiftyAccounts() public {
        _assertJunkRarelyFinalAndUnprofitable(50);
    }

    /// @dev 40 junk units, the attacker (20%) voting them valid and challenging every rejection up the ladder, the
    /// honest challenging every acceptance: the final level (31 seats at quorum 1) decides, and a 20% majority
    /// there has a chance of 9e-5. None is final; the attacker ends poorer (its wrong seats and lost challenges).
    function _assertJunkRarelyFinalAndUnprofitable(uint256 accounts) internal {
        _attacker(accounts);
        uint256 wealth = _wealth();
        uint256 junkFinal;
        for (uint256 trial; trial < 40; ++trial) {
            uint256 taskId = _task(1);
            _claimAndSubmit(taskId, 0, 0, miners[trial % 2]);
            vm.setBlockhash(_unit(taskId, 0, 0).seedBlock, keccak256(abi.encode("ladder", accounts, trial)));
            if (_ladder(taskId, 0, false, true)) ++junkFinal;
        }
        vm.assertEq(junkFinal, 0, "junk final");
        vm.assertGt(wealth, _wealth(), "the attacker lost money");
        _assertSolvent();
    }

    function test_challengeVerdict_grievingHonestWorkUpTheLadderFailsAndCostsTheAttacker_oneAccount() public {
        _assertGriefFails(1);
    }

    function test_challengeVerdict_grievingHonestWorkUpTheLadderFailsAndCostsTheAttacker_fiftyAccounts() public {
        _assertGriefFails(50);
    }

    /// @dev The fourth vector: the attacker votes "invalid" on honest results (an honest aggregate, say) and appeals
    /// every acceptance up the ladder. 20 honest units: every one finally accepted, no honest account slashed, the
    /// attacker poorer.
    function _assertGriefFails(uint256 accounts) internal {
        _attacker(accounts);
        uint256[5] memory honest;
        for (uint256 i; i < verifiers.length; ++i) honest[i] = _total(verifiers[i]);
        uint256 wealth = _wealth();
        for (uint256 trial; trial < 20; ++trial) {
            uint256 taskId = _task(1);
            _claimAndSubmit(taskId, 0, 0, miners[trial % 2]);
            vm.setBlockhash(_unit(taskId, 0, 0).seedBlock, keccak256(abi.encode("grief", accounts, trial)));
            vm.assertTrue(_ladder(taskId, 0, true, true), "honest work finally rejected");
        }
        for (uint256 i; i < verifiers.length; ++i) vm.assertGe(_total(verifiers[i]), honest[i], "honest slashed");
        vm.assertEq(_total(miners[0]), STAKE, "no honest miner slashed");
        vm.assertGt(wealth, _wealth(), "the attacker lost money");
        _assertSolvent();
    }

    function _wealth() internal view returns (uint256 sum) {
        sum = _total(purse) + market.creditOf(purse);
        for (uint256 i; i < attackers.length; ++i) sum += _total(attackers[i]) + market.creditOf(attackers[i]);
    }

    function test_challengeVerdict_aLazyThirdNeverGetsHonestWorkFinallyRejectedNorHonestStakeSlashed() public {
        // A third of the stake votes "invalid" on everything (two accounts of 20 ether each against 80 honest) and
        // never challenges; the honest challenge every rejection. Chance of a final rejection per unit, the
        // product of the levels' tails at s = 1/3 and quorum 1: 3.6e-5.
        attackers.push(address(0xA000));
        attackers.push(address(0xA001));
        for (uint256 i; i < 2; ++i) {
            vm.deal(attackers[i], 100 ether);
            vm.prank(attackers[i]);
            market.stake{value: 20 ether}();
            vm.prank(attackers[i]);
            market.joinVerifierPool();
        }
        vm.roll(vm.getBlockNumber() + 1);
        uint256[5] memory honest;
        for (uint256 i; i < verifiers.length; ++i) honest[i] = _total(verifiers[i]);
        uint256 rejectedFirst;
        for (uint256 trial; trial < 40; ++trial) {
            uint256 taskId = _task(1);
            _claimAndSubmit(taskId, 0, 0, miners[trial % 2]);
            vm.setBlockhash(_unit(taskId, 0, 0).seedBlock, keccak256(abi.encode("lazy", trial)));
            uint256 challengesBefore = _total(purse); // unchanged: only the honest challenge here
            vm.assertTrue(_ladder(taskId, 0, true, false), "honest work finally rejected");
            vm.assertEq(_total(purse), challengesBefore, "nobody else challenged");
            if (market.getLevel(taskId, 0, 0, 1).epoch != 0) ++rejectedFirst; // its first vote was appealed
        }
        vm.assertGt(rejectedFirst, 0, "the lazy third won some first votes: the ladder was climbed");
        for (uint256 i; i < verifiers.length; ++i) vm.assertGe(_total(verifiers[i]), honest[i], "honest slashed");
        vm.assertEq(_total(miners[0]), STAKE, "no honest miner slashed");
        vm.assertEq(_total(miners[1]), STAKE, "no honest miner slashed");
        _assertSolvent();
    }
}
