// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TaskMarketFixture} from "./utils/TaskMarketFixture.sol";
import {ITaskMarket} from "../src/interfaces/ITaskMarket.sol";
import {ReentrantReceiver} from "./mocks/ReentrantReceiver.sol";
import {RevertingReceiver} from "./mocks/RevertingReceiver.sol";
import {ForceSender} from "./mocks/ForceSender.sol";

contract CreditsTest is TaskMarketFixture {
    address internal alice = address(0xA1);

    function _creditAlice(uint256 amount) internal {
        vm.deal(alice, amount);
        vm.startPrank(alice);
        market.stake{value: amount}();
        market.requestUnstake(amount);
        vm.warp(vm.getBlockTimestamp() + DELAY);
        market.releaseUnstaked();
        vm.stopPrank();
    }

    function test_withdraw_paysAllCredit() public {
        _creditAlice(2 ether);
        uint256 owedBefore = market.totalOwed();
        vm.expectEmit();
        emit ITaskMarket.Withdrawn(alice, 2 ether);
        vm.prank(alice);
        market.withdraw();
        vm.assertEq(alice.balance, 2 ether, "paid");
        vm.assertEq(market.creditOf(alice), 0, "credit cleared");
        vm.assertEq(market.totalOwed(), owedBefore - 2 ether, "owed shrank");
        _assertSolvent();
    }

    function test_withdraw_revertsWithNoCredit() public {
        vm.expectRevert(abi.encodeWithSelector(ITaskMarket.TaskMarketNothingToWithdraw.selector, alice));
        vm.prank(alice);
        market.withdraw();
    }

    function test_withdraw_refusesReentry() public {
        ReentrantReceiver attacker = new ReentrantReceiver(market);
        attacker.stakeAndUnstake{value: 1 ether}(1 ether);
        vm.warp(vm.getBlockTimestamp() + DELAY);
        attacker.release();
        uint256 balanceBefore = address(market).balance;
        attacker.attack();
        vm.assertEq(attacker.reentryAttempts(), 1, "tried to re-enter");
        vm.assertFalse(attacker.reentrySucceeded(), "re-entry refused");
        vm.assertEq(
            keccak256(attacker.reentryError()),
            keccak256(abi.encodeWithSignature("ReentrancyGuardReentrantCall()")),
            "refused by the guard"
        );
        vm.assertEq(address(attacker).balance, 1 ether, "paid exactly once");
        vm.assertEq(address(market).balance, balanceBefore - 1 ether, "market paid once");
        _assertSolvent();
    }

    function test_withdraw_revertingReceiverKeepsItsCreditAndBlocksNobody() public {
        RevertingReceiver sink = new RevertingReceiver(market);
        sink.stakeAndUnstake{value: 1 ether}(1 ether);
        vm.warp(vm.getBlockTimestamp() + DELAY);
        sink.release();
        vm.expectRevert(
            abi.encodeWithSelector(ITaskMarket.TaskMarketTransferFailed.selector, address(sink), 1 ether)
        );
        sink.withdraw();
        vm.assertEq(market.creditOf(address(sink)), 1 ether, "credit kept");

        _creditAlice(3 ether);
        vm.prank(alice);
        market.withdraw();
        vm.assertEq(alice.balance, 3 ether, "others unaffected");
        _assertSolvent();
    }

    function test_forcedEth_onlyRaisesTheSurplus() public {
        uint256 owed = market.totalOwed();
        new ForceSender{value: 5 ether}(payable(address(market)));
        vm.assertEq(address(market).balance, owed + 5 ether, "forced in");
        vm.assertEq(market.totalOwed(), owed, "owed unchanged");
        // everyone still exits: every verifier unstakes and withdraws its whole stake
        for (uint256 i; i < verifiers.length; ++i) {
            vm.prank(verifiers[i]);
            market.requestUnstake(STAKE);
        }
        vm.warp(vm.getBlockTimestamp() + DELAY);
        for (uint256 i; i < verifiers.length; ++i) {
            vm.startPrank(verifiers[i]);
            market.releaseUnstaked();
            market.withdraw();
            vm.stopPrank();
        }
        _assertSolvent();
    }

    function test_plainTransfer_isRefused() public {
        vm.prank(alice);
        vm.deal(alice, 1 ether);
        (bool ok,) = address(market).call{value: 1 ether}("");
        vm.assertFalse(ok, "no receive function: value enters only through stake or createTask");
    }
}
