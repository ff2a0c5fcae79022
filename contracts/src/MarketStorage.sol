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

    /// @dev Three slots, kept by unit index and reused from round to round: the first holds what every transition
    /// touches and the round the unit was last claimed in, the second the vote's bookkeeping. From the second round
    /// on every write overwrites a non-zero slot (a fifth of a fresh one's cost). A slot whose `round` is not the
    /// task's current round belongs to an earlier round: its unit of the current round is open, untouched.
    /// An open unit's `miner` and `deadline` name the last claimant that failed it and the end of its cooldown.
    struct Unit {
        address miner;
        uint40 deadline;
        UnitStatus status;
        uint8 commits;
        uint8 reveals;
        uint8 validVotes;
        uint24 round;
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

    /// @dev Most units one batch call takes (a reveal's votes are the bits of one word).
    uint256 internal constant MAX_BATCH = 256;

    mapping(uint256 taskId => Task task) internal _tasks;
    mapping(uint256 taskId => mapping(uint32 index => Unit unit)) internal _units;

    constructor(uint256 unbondingDelay_) Staking(unbondingDelay_) {}

    function _existingTask(uint256 taskId) internal view returns (Task storage t) {
        t = _tasks[taskId];
        if (t.state.status == TaskStatus.None) revert TaskMarketUnknownTask(taskId);
    }

    /// @dev The unit's slot and its status in `round`: a slot last claimed in a later round was accepted in this
    /// one (a round ends only when all its units are), one last claimed in an earlier round is still open in it.
    function _unitIn(uint256 taskId, uint32 round, uint32 index)
        internal
        view
        returns (Unit storage u, UnitStatus status)
    {
        u = _units[taskId][index];
        uint24 last = u.round;
        if (last == round) status = u.status;
        else status = round < last ? UnitStatus.Accepted : UnitStatus.Open;
    }

    /// @dev The unit's slot, which must be in `status` for `round`.
    function _unitWith(uint256 taskId, uint32 round, uint32 index, UnitStatus wanted)
        internal
        view
        returns (Unit storage u)
    {
        UnitStatus status;
        (u, status) = _unitIn(taskId, round, index);
        if (status != wanted) revert TaskMarketUnitWrongStatus(taskId, round, index, status);
    }

    /// @dev Checks a batch's size and that each of its per-unit arrays has one value per unit; returns the size.
    function _batch(uint256 units, uint256 values) internal pure returns (uint256) {
        if (units == 0) revert TaskMarketEmptyBatch();
        if (units > MAX_BATCH) revert TaskMarketBatchTooLarge(units, MAX_BATCH);
        if (values != units) revert TaskMarketBatchLengthMismatch(units, values);
        return units;
    }

    /// @dev A unit of a round, as events and ballots name it (round << 32 | index); storage is by index alone.
    function _unitKey(uint32 round, uint32 index) internal pure returns (uint256) {
        return (uint256(round) << 32) | index;
    }

    function _roundIndex(uint256 key) internal pure returns (uint32 round, uint32 index) {
        // key = round << 32 | index, both uint32 (see _unitKey): the casts only undo that packing.
        // forge-lint: disable-next-line(unsafe-typecast)
        return (uint32(key >> 32), uint32(key));
    }

    /// @dev The slot of the unit that `key` names.
    function _unitOf(uint256 taskId, uint256 key) internal view returns (Unit storage) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return _units[taskId][uint32(key)]; // the index half of the key (see _unitKey)
    }
}
