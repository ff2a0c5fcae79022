// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITaskMarket} from "./ITaskMarket.sol";

/// @title ITaskMarketViews
/// @notice The market's views of tasks, units, votes and its rules. The market answers them at its own address
/// (its fallback runs them in TaskMarketViews, on its storage): call them on the market as {ITaskMarketWithViews}.
interface ITaskMarketViews {
    /// @notice The budget `createTask` takes for `params`.
    function budgetOf(ITaskMarket.TaskParams calldata params) external pure returns (uint256);

    /// @notice The commitment a verifier sends for a vote.
    function commitmentOf(uint256 taskId, uint32 round, uint32 index, address verifier, bool valid, bytes32 salt)
        external
        pure
        returns (bytes32);

    /// @notice Number of tasks created.
    function taskCount() external view returns (uint256);

    /// @notice A task's parameters and state.
    function getTask(uint256 taskId)
        external
        view
        returns (ITaskMarket.TaskParams memory params, ITaskMarket.TaskState memory state);

    /// @notice A unit. Units are stored by index and their storage is reused by the next round: a unit of an earlier
    /// round reads as accepted with its round's aggregate (for the aggregation unit) and nothing else; its history
    /// (miner, result, votes) is in the events.
    function getUnit(uint256 taskId, uint32 round, uint32 index) external view returns (ITaskMarket.UnitInfo memory);

    /// @notice Every unit of a round, the aggregation unit last: what a node scans each cycle, in one call.
    /// @dev Off-chain reads only: its cost grows with `unitsPerRound`.
    function getUnits(uint256 taskId, uint32 round) external view returns (ITaskMarket.UnitInfo[] memory units);

    /// @notice The verifiers seated in the unit's current epoch, one entry per seat drawn so far (none for a unit of
    /// an earlier round: see {getUnit}).
    function getSeats(uint256 taskId, uint32 round, uint32 index) external view returns (address[] memory);

    /// @notice A decided (or current) appeal level of the unit's vote on its current result. Once the unit settled,
    /// level 0 reads as the final verdict (an appealed level 0 is forgotten then: the events keep it).
    function getLevel(uint256 taskId, uint32 round, uint32 index, uint8 level)
        external
        view
        returns (ITaskMarket.LevelInfo memory);

    /// @notice Seats of a quorum at appeal `level`: `quorum`, then 2·seats + 1 per level.
    function seatsAt(uint32 quorum, uint8 level) external pure returns (uint8);

    /// @notice Whether the verifier pool holds stake for every seat's bond of a first vote of the task (a rough
    /// test: a seat also needs its verifier's stake to be free, and a miner in the pool never judges itself).
    function canFillQuorum(uint256 taskId) external view returns (bool);

    /// @notice Whether `verifier` declined task `taskId` (see {ITaskMarket.declineTask}).
    function hasDeclined(uint256 taskId, address verifier) external view returns (bool);

    /// @notice `verifier`'s ballot in the unit's current epoch (empty for a unit of an earlier round).
    function getBallot(uint256 taskId, uint32 round, uint32 index, address verifier)
        external
        view
        returns (ITaskMarket.BallotInfo memory);

    /// @notice Whether `claimUnits(taskId, round, [index])` would succeed for a caller with enough free stake.
    function isClaimable(uint256 taskId, uint32 round, uint32 index) external view returns (bool);

    /// @notice The input model of a round: the initial model for round 0, then the previous round's accepted aggregate.
    function roundInput(uint256 taskId, uint32 round) external view returns (bytes32);
}

/// @title ITaskMarketWithViews
/// @notice The whole market as a client sees it at its address: its calls and views ({ITaskMarket}) and the views
/// its fallback answers ({ITaskMarketViews}).
interface ITaskMarketWithViews is ITaskMarket, ITaskMarketViews {}
