// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TestBase} from "./utils/TestBase.sol";
import {VerifierPool} from "../src/VerifierPool.sol";
import {IVerifierPool} from "../src/interfaces/IVerifierPool.sol";

/// @notice The pool on its own, this test contract acting as its market.
contract VerifierPoolTest is TestBase {
    VerifierPool internal pool;

    function setUp() public {
        vm.roll(100);
        pool = new VerifierPool();
    }

    function _member(uint256 i) internal pure returns (address) {
        return address(uint160(0x10000 + i));
    }

    function test_setWeight_revertsWhenNotMarket() public {
        vm.expectRevert(abi.encodeWithSelector(IVerifierPool.VerifierPoolNotMarket.selector, address(0xBAD)));
        vm.prank(address(0xBAD));
        pool.setWeight(address(0xBAD), 1);
    }

    function test_setWeight_emitsAndTracksTotal() public {
        vm.expectEmit();
        emit IVerifierPool.PoolWeightChanged(_member(1), 5, 5);
        pool.setWeight(_member(1), 5);
        pool.setWeight(_member(2), 7);
        pool.setWeight(_member(1), 2);
        vm.assertEq(pool.totalWeight(), 9, "total");
        vm.assertEq(pool.weightOf(_member(1)), 2, "weight 1");
        vm.assertEq(pool.weightAt(_member(2), vm.getBlockNumber()), 7, "weight 2 from the tree");
        vm.assertEq(pool.memberCount(), 2, "members");
    }

    function test_draw_returnsZeroWhenEmpty() public {
        vm.assertEq(pool.draw(123, vm.getBlockNumber()), address(0), "never filled");
        pool.setWeight(_member(1), 5);
        pool.setWeight(_member(1), 0);
        vm.assertEq(pool.draw(123, vm.getBlockNumber()), address(0), "emptied");
    }

    function test_draw_revertsForFutureBlock() public {
        vm.expectRevert(
            abi.encodeWithSelector(IVerifierPool.VerifierPoolFutureLookup.selector, vm.getBlockNumber() + 1, vm.getBlockNumber())
        );
        pool.draw(1, vm.getBlockNumber() + 1);
    }

    /// Every value of `random` below the total picks a member: each member exactly as often as its weight.
    function test_draw_picksEveryMemberExactlyInProportion() public {
        uint256[6] memory weights = [uint256(3), 0, 1, 7, 2, 5];
        for (uint256 i; i < weights.length; ++i) pool.setWeight(_member(i), weights[i]);
        uint256[6] memory counts;
        for (uint256 r; r < 18; ++r) {
            address picked = pool.draw(r, vm.getBlockNumber());
            uint256 i = uint160(picked) - 0x10000;
            counts[i] += 1;
        }
        for (uint256 i; i < weights.length; ++i) vm.assertEq(counts[i], weights[i], "count = weight");
    }

    /// Weights moved after a block do not change what a draw at that block picks, nor its totals.
    function test_draw_seesThePoolAsItStoodAtThatBlock() public {
        pool.setWeight(_member(0), 10);
        pool.setWeight(_member(1), 10);
        uint256 before = vm.getBlockNumber();
        address[20] memory picks;
        for (uint256 r; r < 20; ++r) picks[r] = pool.draw(r, before);

        vm.roll(before + 1);
        pool.setWeight(_member(0), 0); // leaves
        pool.setWeight(_member(1), 1_000); // grows
        for (uint256 i = 2; i < 9; ++i) pool.setWeight(_member(i), 50); // newcomers; the tree grows twice

        for (uint256 r; r < 20; ++r) vm.assertEq(pool.draw(r, before), picks[r], "same pick at the old block");
        vm.assertEq(pool.totalWeightAt(before), 20, "old total");
        vm.assertEq(pool.weightAt(_member(0), before), 10, "old weight");
        vm.assertEq(pool.weightAt(_member(5), before), 0, "not a member then");
        vm.assertEq(pool.totalWeightAt(vm.getBlockNumber()), 1_350, "new total");
        vm.assertEq(pool.weightAt(_member(0), vm.getBlockNumber()), 0, "left");
    }

    /// The current block's sums may still change in this transaction: a draw at it is never answered from what
    /// an earlier draw in the same transaction read.
    function test_draw_neverKeepsTheCurrentBlock() public {
        pool.setWeight(_member(0), 10);
        pool.setWeight(_member(1), 10);
        vm.assertEq(pool.draw(0, vm.getBlockNumber()), _member(0), "the first leaf holds target 0");
        pool.setWeight(_member(0), 0);
        vm.assertEq(pool.draw(0, vm.getBlockNumber()), _member(1), "the leaf moved in this block counts");
        vm.assertEq(pool.draw(15, vm.getBlockNumber()), _member(1), "and the new total");
    }

    /// A past block's sums are kept for the rest of the transaction: a second draw from the same block reads them
    /// instead of searching the nodes' histories again, and picks exactly what a first draw would.
    function test_draw_keepsAPastBlockForLaterDraws() public {
        for (uint256 i; i < 7; ++i) pool.setWeight(_member(i), 10 + i);
        for (uint256 b = 1; b <= 40; ++b) {
            vm.roll(100 + b); // long histories: a search has something to search
            pool.setWeight(_member(b % 7), 10 + b);
        }
        uint256 at = vm.getBlockNumber();
        vm.roll(at + 1);
        uint256 gas = gasleft();
        address first = pool.draw(uint256(keccak256("a")), at);
        uint256 firstGas = gas - gasleft();
        gas = gasleft();
        address second = pool.draw(uint256(keccak256("a")), at);
        uint256 secondGas = gas - gasleft();
        vm.assertEq(second, first, "the same pick");
        vm.assertGt(firstGas, secondGas * 3, "a kept block costs under a third of a search");
        // A different random descends through nodes the first may not have read: still exact.
        for (uint256 r; r < 20; ++r) {
            uint256 random = uint256(keccak256(abi.encode(r)));
            uint256 target = random % pool.totalWeightAt(at);
            address expected;
            for (uint256 i; i < 7; ++i) {
                uint256 w = pool.weightAt(_member(i), at);
                if (target < w) {
                    expected = _member(i);
                    break;
                }
                target -= w;
            }
            vm.assertEq(pool.draw(random, at), expected, "pick");
        }
    }

    /// Random histories of weights over several blocks, checked against a linear scan of the same weights.
    function testFuzz_draw_matchesLinearScan(uint256 seed) public {
        uint256 members = bound(seed % 1000, 1, 13);
        uint256 blocks = 4;
        uint256[13][4] memory history;
        uint256[4] memory atBlock;
        // Leaves in member order, so that the scan below walks them in the tree's order.
        vm.roll(199);
        for (uint256 i; i < members; ++i) pool.setWeight(_member(i), 1);
        for (uint256 b; b < blocks; ++b) {
            vm.roll(200 + b);
            atBlock[b] = vm.getBlockNumber();
            for (uint256 i; i < members; ++i) {
                uint256 w = uint256(keccak256(abi.encode(seed, b, i))) % 4 == 0
                    ? 0
                    : uint256(keccak256(abi.encode(seed, b, i, "w"))) % 1e20;
                pool.setWeight(_member(i), w);
                history[b][i] = w;
            }
        }
        vm.roll(300);
        for (uint256 b; b < blocks; ++b) {
            uint256 total;
            for (uint256 i; i < members; ++i) total += history[b][i];
            vm.assertEq(pool.totalWeightAt(atBlock[b]), total, "total");
            for (uint256 k; k < 8; ++k) {
                uint256 random = uint256(keccak256(abi.encode(seed, b, k, "r")));
                address expected;
                if (total != 0) {
                    uint256 target = random % total;
                    for (uint256 i; i < members; ++i) {
                        if (target < history[b][i]) {
                            expected = _member(i);
                            break;
                        }
                        target -= history[b][i];
                    }
                }
                vm.assertEq(pool.draw(random, atBlock[b]), expected, "pick");
            }
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // The selection's statistics: an attacker holding a fraction s of the weight, in one account or split over
    // 20, against 10 honest accounts. Quorums of 3 drawn from 2,000 seeds: the attacker holds a majority as often
    // as Binomial(3, s) says, whatever the number of its accounts.
    // ------------------------------------------------------------------------------------------------------------

    uint256 internal constant DRAWS = 2_000;

    function test_draw_attackerMajorityIsBinomial_s10_oneAccount() public {
        _assertBinomialMajority(100, 1);
    }

    function test_draw_attackerMajorityIsBinomial_s10_twentyAccounts() public {
        _assertBinomialMajority(100, 20);
    }

    function test_draw_attackerMajorityIsBinomial_s20_oneAccount() public {
        _assertBinomialMajority(200, 1);
    }

    function test_draw_attackerMajorityIsBinomial_s20_twentyAccounts() public {
        _assertBinomialMajority(200, 20);
    }

    function test_draw_attackerMajorityIsBinomial_s33_oneAccount() public {
        _assertBinomialMajority(330, 1);
    }

    function test_draw_attackerMajorityIsBinomial_s33_twentyAccounts() public {
        _assertBinomialMajority(330, 20);
    }

    /// @param sPermille the attacker's share of the pool in thousandths.
    function _assertBinomialMajority(uint256 sPermille, uint256 accounts) internal {
        uint256 honestEach = 9 ether;
        uint256 honestTotal = 10 * honestEach;
        // s = A / (A + H)  ⇒  A = H·s / (1 − s)
        uint256 attackerTotal = honestTotal * sPermille / (1000 - sPermille);
        for (uint256 i; i < 10; ++i) pool.setWeight(_member(i), honestEach);
        for (uint256 i; i < accounts; ++i) pool.setWeight(address(uint160(0xA000 + i)), attackerTotal / accounts);
        vm.roll(vm.getBlockNumber() + 1);

        uint256 majorities;
        for (uint256 d; d < DRAWS; ++d) {
            uint256 seats;
            for (uint256 seat; seat < 3; ++seat) {
                address v = pool.draw(uint256(keccak256(abi.encode(sPermille, accounts, d, seat))), vm.getBlockNumber() - 1);
                if (uint160(v) >= 0xA000 && uint160(v) < 0xA000 + accounts) seats += 1;
            }
            if (seats >= 2) majorities += 1;
        }
        // p = 3s²(1 − s) + s³, in parts per 10^9; tolerance 4 standard errors of the rate over DRAWS quorums.
        uint256 s = sPermille * 1e6;
        uint256 p = (3 * s * s / 1e9 * (1e9 - s) / 1e9) + (s * s / 1e9 * s / 1e9);
        uint256 observed = majorities * 1e9 / DRAWS;
        uint256 sigma = _sqrt(p * (1e9 - p) / DRAWS);
        uint256 gap = observed > p ? observed - p : p - observed;
        vm.assertLe(gap, 4 * sigma, "majority rate within 4 standard errors of Binomial(3, s)");
    }

    function _sqrt(uint256 x) internal pure returns (uint256 y) {
        if (x == 0) return 0;
        y = x;
        uint256 z = (x + 1) / 2;
        while (z < y) {
            y = z;
            z = (x / z + z) / 2;
        }
    }
}
