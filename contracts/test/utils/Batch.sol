// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Batches of one, for tests that drive a single unit through the market's batch calls.
library Batch {
    function one(uint32 index) internal pure returns (uint32[] memory list) {
        list = new uint32[](1);
        list[0] = index;
    }

    function word(bytes32 value) internal pure returns (bytes32[] memory list) {
        list = new bytes32[](1);
        list[0] = value;
    }

    /// @dev A reveal's vote bits for a batch of one.
    function bit(bool valid) internal pure returns (uint256) {
        return valid ? 1 : 0;
    }
}
