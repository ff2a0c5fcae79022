// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Quorums} from "./Quorums.sol";
import {Staking} from "./Staking.sol";
import {TaskMarketViews} from "./TaskMarketViews.sol";
import {ITaskMarket} from "./interfaces/ITaskMarket.sol";

/// @title TaskMarket
/// @notice Escrowed training tasks, claimed units, and the settlement of their final verdicts. Who votes and how is
/// in {Quorums}; stake in {Staking}; pull payments in {Credits}.
/// @dev Every external function is O(1) in the number of tasks, units and verifiers, times the units of its batch;
/// loops run over one unit's seats only, and a draw costs O(seats · log members).
contract TaskMarket is Quorums {
    uint32 internal constant MAX_ROUNDS = 1_000;
    uint32 internal constant MAX_UNITS_PER_ROUND = 1_000;
    uint32 internal constant MAX_QUORUM = 15;
    uint32 internal constant MIN_TIMEOUT = 30 seconds;
    uint32 internal constant MAX_TIMEOUT = 30 days;

    /// @dev The contract that answers the views (ITaskMarketViews) on this contract's storage: see fallback.
    address private immutable _views;

    constructor(uint256 unbondingDelay_) Staking(unbondingDelay_) {
        _views = address(new TaskMarketViews(_verifierPool()));
    }

    /// @notice Answers the views of ITaskMarketViews: they run in TaskMarketViews, on this contract's storage
    /// (delegatecall), which keeps this contract's code under EIP-170's limit. Anything else reverts there.
    /// @dev TaskMarketViews only has `view` and `pure` functions and no fallback, so nothing it runs can change
    /// this contract's state; its address is fixed at construction.
    fallback() external {
        address views = _views;
        // Not memory-safe by Solidity's rules (it writes from offset 0), and it does not need to be: it never
        // returns to Solidity code.
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), views, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // Tasks
    // ------------------------------------------------------------------------------------------------------------

    /// @inheritdoc ITaskMarket
    function createTask(TaskParams calldata params) external payable returns (uint256 taskId) {
        _checkParams(params);
        uint256 budget = _budget(params);
        if (msg.value != budget) revert TaskMarketBudgetMismatch(budget, msg.value);
        unchecked {
            taskId = ++_taskCount; // a counter of transactions cannot reach 2^256
        }
        Task storage t = _tasks[taskId];
        t.params = params;
        t.state.owner = msg.sender;
        t.state.status = TaskStatus.Active;
        t.state.openUnits = params.unitsPerRound;
        t.state.escrow = SafeCast.toUint128(budget);
        _recordDeposit(budget);
        emit TaskCreated(taskId, msg.sender, params, budget);
    }

    /// @inheritdoc ITaskMarket
    function cancelTask(uint256 taskId) external {
        Task storage t = _existingTask(taskId);
        if (t.state.owner != msg.sender) revert TaskMarketNotTaskOwner(taskId, msg.sender, t.state.owner);
        if (t.state.status != TaskStatus.Active) revert TaskMarketTaskNotActive(taskId, t.state.status);
        t.state.status = TaskStatus.Cancelled;
        t.state.openUnits = 0;
        emit TaskCancelled(taskId, t.state.inFlight);
        if (t.state.inFlight == 0) _refundEscrow(taskId, t);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Units
    // ------------------------------------------------------------------------------------------------------------

    /// @inheritdoc ITaskMarket
    function claimUnits(uint256 taskId, uint32 round, uint32[] calldata indices) external {
        Task storage t = _existingTask(taskId);
        uint256 n = _batch(indices.length, indices.length);
        uint64 deadline = _startClaims(taskId, t, round, n);
        for (uint256 i; i < n; ++i) {
            _claim(taskId, t, round, indices[i], deadline);
        }
        _claimed(t, n);
    }

    /// @inheritdoc ITaskMarket
    function claimAndSubmit(uint256 taskId, uint32 round, uint32 index, bytes32 resultDigest, bytes32 modelDigest)
        external
    {
        Task storage t = _existingTask(taskId);
        _claim(taskId, t, round, index, _startClaims(taskId, t, round, 1));
        _claimed(t, 1);
        _submit(taskId, t, round, index, resultDigest, modelDigest);
    }

    /// @dev Checks that the task's `round` takes claims and locks one bond per unit of the `n` about to be claimed
    /// (a miner without the stake for all of them claims none); returns their claim deadline.
    function _startClaims(uint256 taskId, Task storage t, uint32 round, uint256 n) private returns (uint64) {
        if (t.state.status != TaskStatus.Active) revert TaskMarketTaskNotActive(taskId, t.state.status);
        if (round != t.state.currentRound) revert TaskMarketRoundNotCurrent(taskId, round, t.state.currentRound);
        _lockBond(msg.sender, n * t.params.unitBond);
        return uint64(block.timestamp) + t.params.claimTimeout;
    }

    /// @dev Moves `n` units just claimed from open to in flight.
    function _claimed(Task storage t, uint256 n) private {
        // n ≤ MAX_BATCH, and each claimed unit was a distinct open one (a repeated index is no longer open).
        // forge-lint: disable-next-line(unsafe-typecast)
        uint32 claimed = uint32(n);
        t.state.openUnits -= claimed;
        t.state.inFlight += claimed;
    }

    /// @dev Claims one open unit of the current round for the caller (bond and counters: see _startClaims, _claimed).
    function _claim(uint256 taskId, Task storage t, uint32 round, uint32 index, uint64 deadline) private {
        uint32 units = t.params.unitsPerRound;
        if (index > units) revert TaskMarketUnitIndexOutOfRange(taskId, index, units);
        if (index == units && t.state.acceptedInRound < units) {
            revert TaskMarketAggregationNotReady(taskId, round, t.state.acceptedInRound, units);
        }
        Unit storage u = _unitWith(taskId, round, index, UnitStatus.Open);
        bool firstClaim = u.round != round;
        // A miner that just failed this unit waits one claim timeout: without it, a cheater that re-claims first
        // every time could hold a unit hostage (paying a bond per attempt, but stalling the task). An open unit's
        // slot keeps that miner and the cooldown's end (see MarketStorage.Unit).
        if (!firstClaim && u.miner == msg.sender && block.timestamp < u.deadline) {
            revert TaskMarketClaimCoolingDown(taskId, round, index, msg.sender, u.deadline);
        }
        u.miner = msg.sender;
        // forge-lint: disable-next-line(unsafe-typecast)
        u.deadline = uint40(deadline); // block time + at most MAX_TIMEOUT: far below 2^40 s
        u.status = UnitStatus.Claimed;
        if (firstClaim) {
            // The slot held an earlier round's unit: this round's starts with no votes. Its second slot (epoch,
            // rejections, seats, level, verdict) is only marked stale here and reset by the submission, which
            // writes that slot anyway: a claim writes one slot. round < MAX_ROUNDS < 2^16 (checked at creation).
            // forge-lint: disable-next-line(unsafe-typecast)
            u.round = uint16(round);
            u.stale = true;
            u.commits = 0;
            u.reveals = 0;
            u.validVotes = 0;
        }
        emit UnitClaimed(taskId, round, index, msg.sender, deadline, t.params.unitBond);
    }

    /// @inheritdoc ITaskMarket
    function submitResults(
        uint256 taskId,
        uint32 round,
        uint32[] calldata indices,
        bytes32[] calldata resultDigests,
        bytes32[] calldata modelDigests
    ) external {
        Task storage t = _existingTask(taskId);
        uint256 n = _batch(indices.length, resultDigests.length);
        _batch(n, modelDigests.length);
        for (uint256 i; i < n; ++i) {
            _submit(taskId, t, round, indices[i], resultDigests[i], modelDigests[i]);
        }
    }

    function _submit(
        uint256 taskId,
        Task storage t,
        uint32 round,
        uint32 index,
        bytes32 resultDigest,
        bytes32 modelDigest
    ) private {
        Unit storage u = _unitWith(taskId, round, index, UnitStatus.Claimed);
        if (u.miner != msg.sender) revert TaskMarketNotAssignee(taskId, round, index, msg.sender, u.miner);
        if (block.timestamp > u.deadline) revert TaskMarketDeadlinePassed(u.deadline, block.timestamp);
        if (resultDigest == bytes32(0)) revert TaskMarketZeroDigest("resultDigest");
        if (modelDigest == bytes32(0)) revert TaskMarketZeroDigest("modelDigest");

        if (u.stale) {
            // The round's first submission: the second slot still holds an earlier round's vote (see _claim).
            u.stale = false;
            u.epoch = 0;
            u.rejections = 0;
            u.verdict = false;
        }
        u.submittedBlock = uint64(block.number);
        u.resultDigest = resultDigest;
        uint32 epoch = _startVote(t, u, taskId, _unitKey(round, index), 0);
        if (index == t.params.unitsPerRound) _aggregateModels[taskId][round] = modelDigest;
        emit ResultSubmitted(taskId, round, index, msg.sender, resultDigest, modelDigest, epoch, u.deadline);
    }

    /// @inheritdoc ITaskMarket
    function reclaimExpired(uint256 taskId, uint32 round, uint32 index) external {
        Task storage t = _existingTask(taskId);
        Unit storage u = _unitWith(taskId, round, index, UnitStatus.Claimed);
        if (block.timestamp <= u.deadline) revert TaskMarketDeadlineNotPassed(u.deadline, block.timestamp);

        address miner = u.miner;
        uint96 bond = t.params.unitBond;
        _reopen(t, u);
        if (t.params.ownerInLoop) {
            // Nobody can tell on chain whether the miner or the owner's node stopped answering: the miner keeps its
            // bond, and the task pays for the unit again when it is trained.
            _unlockBond(miner, bond);
            emit UnitExpired(taskId, round, index, miner, 0);
        } else {
            _slashBond(miner, taskId, round, index, bond);
            t.state.escrow += bond;
            emit UnitExpired(taskId, round, index, miner, bond);
        }
        _unitLeftFlight(taskId, t, true);
    }

    /// @inheritdoc ITaskMarket
    function finalizeUnit(uint256 taskId, uint32 round, uint32 index) external {
        Task storage t = _existingTask(taskId);
        uint256 key = _unitKey(round, index);
        (Unit storage u, UnitStatus status) = _unitIn(taskId, round, index);
        if (status != UnitStatus.Submitted && status != UnitStatus.Revealing && status != UnitStatus.Decided) {
            revert TaskMarketUnitWrongStatus(taskId, round, index, status);
        }
        if (block.timestamp <= u.deadline) revert TaskMarketFinalizeNotDue(taskId, round, index, u.deadline);
        if (status == UnitStatus.Submitted) {
            _replaceNoShows(taskId, t, u, key); // at every level: an appeal never lapses (see Quorums)
        } else if (status == UnitStatus.Revealing) {
            _decide(taskId, t, u, key);
        } else {
            _settleVerdict(taskId, t, u, key, u.verdict);
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------------------------

    /// @dev Settles a final verdict: pays and slashes the vote (see {Quorums-_settleVotes}), then pays or slashes the
    /// miner and moves the unit and task on. Escrow is updated once with what came in and went out.
    // slither-disable-next-line reentrancy-no-eth,reentrancy-benign,reentrancy-events (the pool call: see Quorums)
    function _settleVerdict(uint256 taskId, Task storage t, Unit storage u, uint256 key, bool accepted)
        internal
        override
    {
        (uint256 escrowIn, uint256 escrowOut) = _settleVotes(taskId, t, u, key, accepted);
        uint8 validVotes = u.validVotes;
        uint8 invalidVotes = u.reveals - validVotes;
        if (accepted) {
            escrowOut += _acceptResult(taskId, t, u, key, validVotes, invalidVotes);
        } else {
            escrowIn += _rejectResult(taskId, t, u, key, validVotes, invalidVotes);
        }

        uint256 escrow = t.state.escrow + escrowIn;
        if (escrowOut > escrow) revert TaskMarketEscrowExhausted(taskId, escrow, escrowOut);
        t.state.escrow = SafeCast.toUint128(escrow - escrowOut);

        if (accepted) {
            (uint32 round, uint32 index) = _roundIndex(key);
            _afterAccepted(taskId, t, round, index);
        } else {
            _unitLeftFlight(taskId, t, true);
        }
    }

    /// @dev Marks the unit accepted and credits its miner; returns the reward taken from escrow.
    function _acceptResult(uint256 taskId, Task storage t, Unit storage u, uint256 key, uint8 valid, uint8 invalid)
        private
        returns (uint256 reward)
    {
        (uint32 round, uint32 index) = _roundIndex(key);
        address miner = u.miner;
        u.status = UnitStatus.Accepted;
        _unlockBond(miner, t.params.unitBond);
        reward = index == t.params.unitsPerRound ? t.params.aggregatorReward : t.params.minerReward;
        _addCredit(miner, reward);
        emit Credited(miner, taskId, reward);
        emit UnitAccepted(taskId, round, index, miner, u.resultDigest, valid, invalid);
    }

    /// @dev Re-opens the unit and slashes its miner; returns the bond put into escrow.
    function _rejectResult(uint256 taskId, Task storage t, Unit storage u, uint256 key, uint8 valid, uint8 invalid)
        private
        returns (uint256 bond)
    {
        (uint32 round, uint32 index) = _roundIndex(key);
        address miner = u.miner;
        _reopen(t, u);
        u.rejections += 1;
        bond = t.params.unitBond;
        _slashBond(miner, taskId, round, index, bond);
        emit UnitRejected(taskId, round, index, miner, u.resultDigest, valid, invalid);
    }

    /// @dev Advances the round's bookkeeping after an acceptance; the aggregation unit advances the task.
    function _afterAccepted(uint256 taskId, Task storage t, uint32 round, uint32 index) private {
        uint32 units = t.params.unitsPerRound;
        bool active = t.state.status == TaskStatus.Active;
        if (index < units) {
            uint32 accepted = t.state.acceptedInRound + 1;
            t.state.acceptedInRound = accepted;
            // The aggregation unit opens now, unless the task was cancelled (no new claims).
            if (accepted == units && active) t.state.openUnits += 1;
        } else {
            bytes32 model = _aggregateModels[taskId][round];
            if (round + 1 == t.params.rounds) {
                t.state.finalModelDigest = model;
                if (active) {
                    t.state.status = TaskStatus.Completed;
                    emit TaskCompleted(taskId, model);
                }
            } else {
                t.state.currentRound = round + 1;
                t.state.acceptedInRound = 0;
                if (active) t.state.openUnits = units;
                emit RoundAdvanced(taskId, round + 1, model);
            }
        }
        _unitLeftFlight(taskId, t, false);
    }

    /// @dev A unit stopped being in flight; `reopened` if it is claimable again. Refunds a finished task's escrow.
    function _unitLeftFlight(uint256 taskId, Task storage t, bool reopened) private {
        // inFlight ≥ 1: this unit was in flight.
        unchecked {
            t.state.inFlight -= 1;
        }
        TaskStatus status = t.state.status;
        if (status == TaskStatus.Active) {
            if (reopened) t.state.openUnits += 1;
        } else if (t.state.inFlight == 0) {
            // Completed, or Cancelled with its last unit settled: nothing can spend the escrow any more.
            _refundEscrow(taskId, t);
        }
    }

    /// @dev Opens a failed unit again; its slot keeps the failed miner, who may claim it again only after one claim
    /// timeout (see _claim).
    function _reopen(Task storage t, Unit storage u) private {
        u.status = UnitStatus.Open;
        // forge-lint: disable-next-line(unsafe-typecast)
        u.deadline = uint40(block.timestamp + t.params.claimTimeout); // far below 2^40 s (see _claim)
    }

    function _refundEscrow(uint256 taskId, Task storage t) private {
        uint256 amount = t.state.escrow;
        if (amount == 0) return;
        address owner = t.state.owner;
        t.state.escrow = 0;
        _addCredit(owner, amount);
        emit EscrowRefunded(taskId, owner, amount);
        emit Credited(owner, taskId, amount);
    }

    function _checkParams(TaskParams calldata p) private view {
        if (p.specDigest == bytes32(0)) revert TaskMarketZeroDigest("specDigest");
        if (p.datasetDigest == bytes32(0)) revert TaskMarketZeroDigest("datasetDigest");
        if (p.initialModelDigest == bytes32(0)) revert TaskMarketZeroDigest("initialModelDigest");
        _checkRange("rounds", p.rounds, 1, MAX_ROUNDS);
        _checkRange("unitsPerRound", p.unitsPerRound, 1, MAX_UNITS_PER_ROUND);
        _checkRange("quorum", p.quorum, 1, MAX_QUORUM);
        if (p.quorum % 2 == 0) revert TaskMarketQuorumEven(p.quorum);
        _checkRange("claimTimeout", p.claimTimeout, MIN_TIMEOUT, MAX_TIMEOUT);
        _checkRange("commitTimeout", p.commitTimeout, MIN_TIMEOUT, MAX_TIMEOUT);
        _checkRange("revealTimeout", p.revealTimeout, MIN_TIMEOUT, MAX_TIMEOUT);
        _checkRange("challengeWindow", p.challengeWindow, 0, MAX_TIMEOUT);
        if (p.minerReward == 0) revert TaskMarketZeroAmount("minerReward");
        if (p.aggregatorReward == 0) revert TaskMarketZeroAmount("aggregatorReward");
        if (p.verifierReward == 0) revert TaskMarketZeroAmount("verifierReward");
        if (p.voteBond == 0) revert TaskMarketZeroAmount("voteBond");
        uint256 minimumBond = uint256(p.quorum) * p.verifierReward;
        if (p.unitBond < minimumBond) revert TaskMarketUnitBondTooSmall(p.unitBond, minimumBond);
        uint256 minimumVoteBond = 4 * uint256(p.verifierReward);
        if (p.voteBond < minimumVoteBond) revert TaskMarketVoteBondTooSmall(p.voteBond, minimumVoteBond);
        // A bond can be slashed until its unit's last appeal level settles: stake must not leave before that.
        uint256 exposure = uint256(p.claimTimeout)
            + uint256(MAX_APPEAL_LEVEL + 1) * (uint256(p.commitTimeout) + p.revealTimeout + p.challengeWindow);
        uint256 delay = _unbondingDelaySeconds();
        if (delay <= exposure) revert TaskMarketUnbondingTooShort(delay, exposure);
    }

    function _checkRange(string memory field, uint256 value, uint256 min, uint256 max) private pure {
        if (value < min || value > max) revert TaskMarketParamOutOfRange(field, value, min, max);
    }

}
