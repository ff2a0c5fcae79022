// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "./Vm.sol";

/// @notice A small stand-in for forge-std's Test: cheatcodes, `bound`, and the hooks forge's invariant runner
/// reads (`targetContracts`, `targetSelectors`).
abstract contract TestBase {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    address[] private _targetedContracts;
    FuzzSelector[] private _targetedSelectors;

    /// @dev Maps `x` into [min, max] uniformly enough for fuzzing, keeping values already in range unchanged.
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (x >= min && x <= max) return x;
        uint256 size = max - min;
        if (size == type(uint256).max) return x;
        return min + (x % (size + 1));
    }

    /// @dev The market's creation code with its constructor argument, read from forge's build (`vm.getCode`):
    /// a test that wrote `new TaskMarket(...)` would embed the market's bytecode and have the IR pipeline optimize
    /// the whole market again inside every test contract (most of the suite's compile time).
    function _marketCode(uint256 unbondingDelay) internal view returns (bytes memory) {
        return abi.encodePacked(vm.getCode("TaskMarket.sol:TaskMarket"), abi.encode(unbondingDelay));
    }

    /// @dev The market as a fixture deploys it; a failed deployment stops the test here, not at its first call.
    function _deployMarket(uint256 unbondingDelay) internal returns (address deployed) {
        deployed = _create(_marketCode(unbondingDelay));
        require(deployed != address(0), "TestBase: the market's deployment failed");
    }

    /// @dev Deploys `creationCode` by CREATE (zero when the constructor reverts); a constructor's revert is what
    /// `vm.expectRevert` sees.
    function _create(bytes memory creationCode) internal returns (address deployed) {
        assembly ("memory-safe") {
            deployed := create(0, add(creationCode, 0x20), mload(creationCode))
        }
    }

    function targetContract(address target) internal {
        _targetedContracts.push(target);
    }

    function targetSelector(FuzzSelector memory selector) internal {
        _targetedSelectors.push(selector);
    }

    function targetContracts() public view returns (address[] memory) {
        return _targetedContracts;
    }

    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _targetedSelectors;
    }
}
