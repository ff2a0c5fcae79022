// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Staking} from "./Staking.sol";

/// @title MarketStorage
/// @notice The state of tasks and units that the market's parts share, and the helpers that address it.
abstract contract MarketStorage is Staking {
    struct Task {
        TaskParams params;
        TaskState state;
    }

    /// @dev Three slots: the first holds what every transition touches, the second the vote's bookkeeping.
    struct Unit {
        address miner;
        uint64 deadline;
        UnitStatus status;
        uint8 commits;
        uint8 reveals;
        uint8 validVotes;
        uint32 epoch;
        uint32 rejections;
        uint64 submittedBlock;
        uint64 seedBlock;
        uint8 seats;
        uint8 level;
        uint32 drawNonce;
        bool verdict;
        uint8 replacements;
        bytes32 resultDigest;
    }

    mapping(uint256 taskId => Task task) internal _tasks;
    mapping(uint256 taskId => mapping(uint256 unitKey => Unit unit)) internal _units;

    constructor(uint256 unbondingDelay_) Staking(unbondingDelay_) {}

    function _existingTask(uint256 taskId) internal view returns (Task storage t) {
        t = _tasks[taskId];
        if (t.state.status == TaskStatus.None) revert TaskMarketUnknownTask(taskId);
    }

    function _unitKey(uint32 round, uint32 index) internal pure returns (uint256) {
        return (uint256(round) << 32) | index;
    }

    function _roundIndex(uint256 key) internal pure returns (uint32 round, uint32 index) {
        // key = round << 32 | index, both uint32 (see _unitKey): the casts only undo that packing.
        // forge-lint: disable-next-line(unsafe-typecast)
        return (uint32(key >> 32), uint32(key));
    }
}
