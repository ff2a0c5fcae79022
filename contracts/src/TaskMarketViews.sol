// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MarketStorage} from "./MarketStorage.sol";
import {ITaskMarket} from "./interfaces/ITaskMarket.sol";
import {ITaskMarketViews} from "./interfaces/ITaskMarketViews.sol";
import {IVerifierPool} from "./interfaces/IVerifierPool.sol";

/// @title TaskMarketViews
/// @notice The market's views, answered at the market's address: its fallback runs them here by delegatecall, on
/// its own storage (this contract's storage is never used). Created by the market, which keeps its address.
/// @dev Only `view` and `pure` functions and no fallback: nothing here can change the state it reads. It inherits
/// the layout from MarketStorage, as the market does.
contract TaskMarketViews is MarketStorage, ITaskMarketViews {
    /// @dev The market's verifier pool (immutables live in code, not in the market's storage).
    IVerifierPool private immutable _pool;

    constructor(IVerifierPool pool) {
        _pool = pool;
    }

    /// @inheritdoc ITaskMarketViews
    function budgetOf(ITaskMarket.TaskParams calldata params) external pure returns (uint256) {
        return _budget(params);
    }

    /// @inheritdoc ITaskMarketViews
    function taskCount() external view returns (uint256) {
        return _taskCount;
    }

    /// @inheritdoc ITaskMarketViews
    function getTask(uint256 taskId)
        external
        view
        returns (ITaskMarket.TaskParams memory params, ITaskMarket.TaskState memory state)
    {
        Task storage t = _existingTask(taskId);
        return (t.params, t.state);
    }

    /// @inheritdoc ITaskMarketViews
    function getUnit(uint256 taskId, uint32 round, uint32 index) external view returns (ITaskMarket.UnitInfo memory) {
        Task storage t = _existingTask(taskId);
        if (index > t.params.unitsPerRound) {
            revert ITaskMarket.TaskMarketUnitIndexOutOfRange(taskId, index, t.params.unitsPerRound);
        }
        return _unitInfo(taskId, t, round, index);
    }

    /// @inheritdoc ITaskMarketViews
    function getUnits(uint256 taskId, uint32 round) external view returns (ITaskMarket.UnitInfo[] memory units) {
        Task storage t = _existingTask(taskId);
        uint32 count = t.params.unitsPerRound + 1;
        units = new ITaskMarket.UnitInfo[](count);
        for (uint32 index; index < count; ++index) {
            units[index] = _unitInfo(taskId, t, round, index);
        }
    }

    function _unitInfo(uint256 taskId, Task storage t, uint32 round, uint32 index)
        private
        view
        returns (ITaskMarket.UnitInfo memory)
    {
        (Unit storage u, ITaskMarket.UnitStatus status) = _unitIn(taskId, round, index);
        bool live = u.round == round;
        bool claimed = status == ITaskMarket.UnitStatus.Claimed;
        if (!live || status == ITaskMarket.UnitStatus.Open || u.stale) {
            // An earlier round's unit (accepted: its history is in the events), an open one (its slot's miner is a
            // cooldown, not a claimant) or one not submitted yet this round (its second slot is an earlier
            // round's): only what the round itself still knows.
            bool votedOn = live && !u.stale;
            return ITaskMarket.UnitInfo({
                status: status,
                miner: claimed ? u.miner : address(0),
                deadline: claimed ? u.deadline : 0,
                commits: 0,
                reveals: 0,
                validVotes: 0,
                epoch: votedOn ? u.epoch : 0,
                rejections: votedOn ? u.rejections : 0,
                submittedBlock: 0,
                resultDigest: bytes32(0),
                modelDigest: index == t.params.unitsPerRound ? _aggregateModels[taskId][round] : bytes32(0),
                seedBlock: 0,
                seats: 0,
                level: 0,
                verdict: status == ITaskMarket.UnitStatus.Accepted
            });
        }
        return ITaskMarket.UnitInfo({
            status: status,
            miner: u.miner,
            deadline: u.deadline,
            commits: u.commits,
            reveals: u.reveals,
            validVotes: u.validVotes,
            epoch: u.epoch,
            rejections: u.rejections,
            submittedBlock: u.submittedBlock,
            resultDigest: u.resultDigest,
            modelDigest: index == t.params.unitsPerRound ? _aggregateModels[taskId][round] : bytes32(0),
            seedBlock: u.seedBlock,
            seats: u.seats,
            level: u.level,
            verdict: _verdictOf(u, status)
        });
    }

    /// @inheritdoc ITaskMarketViews
    function isClaimable(uint256 taskId, uint32 round, uint32 index) external view returns (bool) {
        Task storage t = _tasks[taskId];
        if (t.state.status != ITaskMarket.TaskStatus.Active || round != t.state.currentRound) return false;
        uint32 units = t.params.unitsPerRound;
        if (index > units || (index == units && t.state.acceptedInRound < units)) return false;
        (, ITaskMarket.UnitStatus status) = _unitIn(taskId, round, index);
        // slither-disable-next-line incorrect-equality (an enum compared with its value, not a balance or time)
        return status == ITaskMarket.UnitStatus.Open;
    }

    /// @inheritdoc ITaskMarketViews
    function roundInput(uint256 taskId, uint32 round) external view returns (bytes32) {
        Task storage t = _existingTask(taskId);
        if (round == 0) return t.params.initialModelDigest;
        // Round r > 0 has an input once the aggregate of round r − 1 was accepted.
        (, ITaskMarket.UnitStatus status) = _unitIn(taskId, round - 1, t.params.unitsPerRound);
        if (status != ITaskMarket.UnitStatus.Accepted) {
            revert ITaskMarket.TaskMarketRoundNotReached(taskId, round, t.state.currentRound);
        }
        return _aggregateModels[taskId][round - 1];
    }

    /// @inheritdoc ITaskMarketViews
    function getBallot(uint256 taskId, uint32 round, uint32 index, address verifier)
        external
        view
        returns (ITaskMarket.BallotInfo memory info)
    {
        (Unit storage u,) = _unitIn(taskId, round, index);
        // An earlier round's unit (its ballots were settled and reused), or one not yet submitted in this round.
        if (u.round != round || u.stale) return info;
        uint256 committed = 0;
        uint256 revealed = 0;
        for (uint256 seat; seat < u.seats; ++seat) {
            Ballot storage b = _ballots[_ballotKey(taskId, index, u.level, seat)];
            if (b.verifier != verifier) continue;
            info.seats += 1;
            if (!b.committed) continue;
            committed += 1;
            info.commitment = b.commitment;
            if (b.revealed) {
                revealed += 1;
                info.valid = b.valid;
            }
        }
        // Committed (revealed) only when every one of its seats is: a verifier drawn again after committing still
        // owes a commitment for the new seat.
        info.committed = info.seats != 0 && committed == info.seats;
        info.revealed = info.seats != 0 && revealed == info.seats;
    }

    /// @inheritdoc ITaskMarketViews
    function getSeats(uint256 taskId, uint32 round, uint32 index) external view returns (address[] memory seats) {
        (Unit storage u,) = _unitIn(taskId, round, index);
        if (u.round != round || u.stale) return seats; // see getBallot
        seats = new address[](u.seats);
        for (uint256 seat; seat < seats.length; ++seat) {
            seats[seat] = _ballots[_ballotKey(taskId, index, u.level, seat)].verifier;
        }
    }

    /// @inheritdoc ITaskMarketViews
    function getLevel(uint256 taskId, uint32 round, uint32 index, uint8 level)
        external
        view
        returns (ITaskMarket.LevelInfo memory)
    {
        if (level > MAX_APPEAL_LEVEL) {
            revert ITaskMarket.TaskMarketAppealLevelExhausted(taskId, round, index, level);
        }
        (Unit storage u, ITaskMarket.UnitStatus status) = _unitIn(taskId, round, index);
        if (u.round != round || u.stale) {
            // An earlier round's unit: accepted, its levels were settled and reused (the events keep them). Or one
            // not yet submitted in this round: nothing voted on yet.
            return ITaskMarket.LevelInfo({
                epoch: 0, verdict: status == ITaskMarket.UnitStatus.Accepted, challenger: address(0)
            });
        }
        Level storage l = _levels[taskId][index][level];
        if (level == 0 && l.epoch == 0) {
            // Not appealed (see challengeVerdict): level 0 is the unit's own vote.
            return ITaskMarket.LevelInfo({
                epoch: u.level == 0 ? u.epoch : 0, verdict: _verdictOf(u, status), challenger: address(0)
            });
        }
        return ITaskMarket.LevelInfo({epoch: l.epoch, verdict: l.verdict, challenger: l.challenger});
    }

    /// @inheritdoc ITaskMarketViews
    function seatsAt(uint32 quorum, uint8 level) external pure returns (uint8) {
        return _seats(quorum, level);
    }

    /// @inheritdoc ITaskMarketViews
    function hasDeclined(uint256 taskId, address verifier) external view returns (bool) {
        return _declined[taskId][verifier];
    }

    /// @inheritdoc ITaskMarketViews
    function canFillQuorum(uint256 taskId) external view returns (bool) {
        Task storage t = _existingTask(taskId);
        return _pool.totalWeight() >= uint256(t.params.quorum) * t.params.voteBond;
    }

    /// @inheritdoc ITaskMarketViews
    function commitmentOf(uint256 taskId, uint32 round, uint32 index, address verifier, bool valid, bytes32 salt)
        external
        pure
        returns (bytes32)
    {
        return _commitment(taskId, round, index, verifier, valid, salt);
    }
}
