// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ITaskMarket} from "./interfaces/ITaskMarket.sol";

/// @title MarketStorage
/// @notice The market's whole state, declared in one place, and the helpers that address it.
/// @dev The base of both the market's logic (Credits → Staking → Quorums → TaskMarket) and TaskMarketViews, whose
/// views run on the market's storage by delegatecall: the two share this layout because only this contract declares
/// state (the reentrancy guard keeps its flag in transient storage, or in the Shanghai build at a namespaced slot far
/// from this layout). Nothing else may declare a state variable.
abstract contract MarketStorage {
    struct Task {
        ITaskMarket.TaskParams params;
        ITaskMarket.TaskState state;
    }

    /// @dev Three slots, kept by unit index and reused from round to round: the first holds what every transition
    /// touches and the round the unit was last claimed in, the second the vote's bookkeeping. From the second round
    /// on every write overwrites a non-zero slot (a fifth of a fresh one's cost). A slot whose `round` is not the
    /// task's current round belongs to an earlier round: its unit of the current round is open, untouched.
    /// An open unit's `miner` and `deadline` name the last claimant that failed it and the end of its cooldown.
    struct Unit {
        address miner;
        uint40 deadline;
        ITaskMarket.UnitStatus status;
        uint8 commits;
        uint8 reveals;
        uint8 validVotes;
        uint16 round;
        bool stale;
        uint32 epoch;
        uint32 rejections;
        uint64 submittedBlock;
        uint64 seedBlock;
        uint8 seats;
        uint8 level;
        uint32 drawNonce;
        bool verdict;
        bytes32 resultDigest;
    }

    /// @dev `locked`: the bonds the account took on itself (claims, challenges), always backed by its stake.
    /// `seatLocked`: the vote bonds of the seats it was drawn for, which may exceed what is free (see
    /// Staking._lockSeat): nobody can make an account's stake unavailable to a draw by seating it elsewhere first.
    struct StakeRecord {
        uint128 total;
        uint128 locked;
        uint96 unbonding;
        uint96 seatLocked;
        uint40 releaseAt;
        bool verifying;
    }

    /// @dev A seat's ballot. Its slots are reused by the next vote at the same level (the next epoch, the next
    /// round): a draw rewrites the first, and `commitment` is left as it was until the seat commits (`committed`
    /// says whether it holds this vote's), so that committing overwrites a non-zero slot instead of filling an empty one.
    struct Ballot {
        address verifier;
        bool committed;
        bool revealed;
        bool valid;
        bytes32 commitment;
    }

    /// @dev One decided level of the vote on a unit's current result: the epoch whose seats decided it.
    struct Level {
        uint32 epoch;
        bool verdict;
        address challenger;
    }

    /// @dev Most units one batch call takes (a reveal's votes are the bits of one word).
    uint256 internal constant MAX_BATCH = 256;
    /// @dev The last appeal level: its verdict is final. Five levels of q, 2q+1, 4q+3, 8q+7 and 16q+15 seats (255 at
    /// the largest quorum, 15): the chance that a side holding a share s < 1/3 of the pool's stake wins the final
    /// level is the binomial tail of s over its seats (docs/DESIGN.md has the figures per level).
    uint8 internal constant MAX_APPEAL_LEVEL = 4;

    /// @dev Withdrawable credit per account.
    mapping(address account => uint256 credit) internal _credits;
    /// @dev Σ escrow + Σ stake + Σ credit: what the contract owes (see Credits).
    uint256 internal _totalOwed;
    mapping(address account => StakeRecord record) internal _stakes;
    // slither-disable-next-line uninitialized-state (written by the market; TaskMarketViews only reads them)
    uint256 internal _taskCount;
    mapping(uint256 taskId => Task task) internal _tasks;
    mapping(uint256 taskId => mapping(uint32 index => Unit unit)) internal _units;
    /// @dev Ballots by keccak256(taskId, unit index, level, seat): seats 0..seats−1 of the level's latest epoch.
    // slither-disable-next-line uninitialized-state (written by the market; TaskMarketViews only reads them)
    mapping(bytes32 ballotKey => Ballot ballot) internal _ballots;
    /// @dev Levels 0..MAX_APPEAL_LEVEL of the vote on a unit's current result, by unit index. Level 0 is written only
    /// when appealed and deleted when its unit settles; higher levels are rewritten before they are read.
    // slither-disable-next-line uninitialized-state (written by the market; TaskMarketViews only reads them)
    mapping(uint256 taskId => mapping(uint32 index => Level[5] levels)) internal _levels;
    /// @dev The model digest submitted for a round's aggregation unit; the next round's input once accepted.
    // slither-disable-next-line uninitialized-state (written by the market; TaskMarketViews only reads them)
    mapping(uint256 taskId => mapping(uint32 round => bytes32 modelDigest)) internal _aggregateModels;
    /// @dev Verifiers that declined a task: no draw of its quorums seats them.
    // slither-disable-next-line uninitialized-state (written by the market; TaskMarketViews only reads them)
    mapping(uint256 taskId => mapping(address verifier => bool declined)) internal _declined;

    function _existingTask(uint256 taskId) internal view returns (Task storage t) {
        t = _tasks[taskId];
        if (t.state.status == ITaskMarket.TaskStatus.None) revert ITaskMarket.TaskMarketUnknownTask(taskId);
    }

    /// @dev The unit's slot and its status in `round`: a slot last claimed in a later round was accepted in this
    /// one (a round ends only when all its units are), one last claimed in an earlier round is still open in it.
    function _unitIn(uint256 taskId, uint32 round, uint32 index)
        internal
        view
        returns (Unit storage u, ITaskMarket.UnitStatus status)
    {
        u = _units[taskId][index];
        uint16 last = u.round;
        if (last == round) status = u.status;
        else status = round < last ? ITaskMarket.UnitStatus.Accepted : ITaskMarket.UnitStatus.Open;
    }

    /// @dev The unit's slot, which must be in `status` for `round`.
    function _unitWith(uint256 taskId, uint32 round, uint32 index, ITaskMarket.UnitStatus wanted)
        internal
        view
        returns (Unit storage u)
    {
        ITaskMarket.UnitStatus status;
        (u, status) = _unitIn(taskId, round, index);
        if (status != wanted) revert ITaskMarket.TaskMarketUnitWrongStatus(taskId, round, index, status);
    }

    /// @dev Checks a batch's size and that each of its per-unit arrays has one value per unit; returns the size.
    function _batch(uint256 units, uint256 values) internal pure returns (uint256) {
        if (units == 0) revert ITaskMarket.TaskMarketEmptyBatch();
        if (units > MAX_BATCH) revert ITaskMarket.TaskMarketBatchTooLarge(units, MAX_BATCH);
        if (values != units) revert ITaskMarket.TaskMarketBatchLengthMismatch(units, values);
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

    function _ballotKey(uint256 taskId, uint32 index, uint8 level, uint256 seat) internal pure returns (bytes32) {
        return keccak256(abi.encode(taskId, index, level, seat));
    }

    /// @dev Seats of a quorum at appeal `level`: `quorum`, then 2 · seats + 1 per level.
    function _seats(uint32 quorum, uint8 level) internal pure returns (uint8) {
        uint256 seats = quorum;
        for (uint8 l; l < level; ++l) {
            seats = 2 * seats + 1;
        }
        return SafeCast.toUint8(seats);
    }

    function _commitment(uint256 taskId, uint32 round, uint32 index, address verifier, bool valid, bytes32 salt)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(taskId, round, index, verifier, valid, salt));
    }

    /// @dev The unit's current verdict as the views show it: a final one is not kept (see Quorums._decide), so
    /// valid when accepted, the kept one while open to challenge, and none (false) before or after.
    function _verdictOf(Unit storage u, ITaskMarket.UnitStatus status) internal view returns (bool) {
        return status == ITaskMarket.UnitStatus.Accepted || (status == ITaskMarket.UnitStatus.Decided && u.verdict);
    }

    /// @dev What a task with `p` escrows: every reward of every round, at the first level's quorum.
    function _budget(ITaskMarket.TaskParams calldata p) internal pure returns (uint256) {
        uint256 units = p.unitsPerRound;
        return
            uint256(p.rounds) * (units * p.minerReward + p.aggregatorReward + (units + 1) * p.quorum * p.verifierReward);
    }
}
