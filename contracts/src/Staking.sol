// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Credits} from "./Credits.sol";
import {VerifierPool} from "./VerifierPool.sol";
import {ITaskMarket} from "./interfaces/ITaskMarket.sol";
import {IVerifierPool} from "./interfaces/IVerifierPool.sol";

/// @title Staking
/// @notice Stake per account: bonds are locked by claims, challenges and drawn seats, then unlocked or slashed.
/// A claim or a challenge, which the account takes on itself, locks free stake. A seat, which a draw gives it, locks
/// its vote bond whatever is free (Kleros' rule): so no party can make another's stake unavailable to a draw by
/// seating it elsewhere first. An account is drawn only while its stake at risk beyond its own bonds covers one vote
/// bond, and a seat's slash takes the bond or, for an account seated beyond its stake, what is left of the stake
/// beyond its own bonds (which stay fully backed).
/// Stake leaves only through an unbonding delay, and stake that is unbonding can still be slashed: an unstake
/// request may cover stake that currently backs bonds; such stake is released only once those bonds are settled,
/// and a slash shrinks the unbonding amount when it would exceed what is left.
/// An account that joins the verifier pool is drawn for quorums with a weight equal to its stake at risk (total
/// minus unbonding); every change of that stake is written to the pool at once, with its block.
abstract contract Staking is Credits {
    /// @dev Shortest allowed unbonding delay (the constructor refuses less).
    uint256 internal constant MIN_UNBONDING_DELAY = 1 minutes;
    /// @dev Longest allowed unbonding delay.
    uint256 internal constant MAX_UNBONDING_DELAY = 60 days;

    uint256 private immutable _unbondingDelay;
    IVerifierPool private immutable _pool;

    constructor(uint256 unbondingDelay_) {
        if (unbondingDelay_ < MIN_UNBONDING_DELAY || unbondingDelay_ > MAX_UNBONDING_DELAY) {
            revert TaskMarketUnbondingDelayOutOfRange(unbondingDelay_, MIN_UNBONDING_DELAY, MAX_UNBONDING_DELAY);
        }
        _unbondingDelay = unbondingDelay_;
        _pool = new VerifierPool();
    }

    /// @inheritdoc ITaskMarket
    function stake() external payable {
        if (msg.value == 0) revert TaskMarketZeroAmount("value");
        StakeRecord storage s = _stakes[msg.sender];
        s.total += SafeCast.toUint128(msg.value);
        _recordDeposit(msg.value);
        emit StakeDeposited(msg.sender, msg.value, s.total);
        _syncPool(msg.sender, s);
    }

    /// @inheritdoc ITaskMarket
    function requestUnstake(uint256 amount) external {
        if (amount == 0) revert TaskMarketZeroAmount("amount");
        StakeRecord storage s = _stakes[msg.sender];
        uint256 available = s.total - s.unbonding;
        if (amount > available) revert TaskMarketUnstakeTooLarge(msg.sender, amount, available);
        s.unbonding = SafeCast.toUint96(s.unbonding + amount); // ≤ total; over 2^96 wei (79e9 ETH) reverts
        uint40 releaseAt = SafeCast.toUint40(block.timestamp + _unbondingDelay);
        s.releaseAt = releaseAt;
        emit UnstakeRequested(msg.sender, amount, s.unbonding, releaseAt);
        _syncPool(msg.sender, s);
    }

    /// @inheritdoc ITaskMarket
    function releaseUnstaked() external {
        StakeRecord storage s = _stakes[msg.sender];
        uint256 unbonding = s.unbonding;
        if (unbonding == 0) revert TaskMarketNothingUnbonding(msg.sender);
        if (block.timestamp < s.releaseAt) revert TaskMarketUnbondingNotDue(msg.sender, s.releaseAt, block.timestamp);
        uint256 bonded = uint256(s.locked) + s.seatLocked;
        uint256 unlocked = s.total > bonded ? s.total - bonded : 0;
        uint256 amount = unbonding < unlocked ? unbonding : unlocked;
        if (amount == 0) revert TaskMarketUnbondingStakeLocked(msg.sender, unbonding, bonded);
        // amount ≤ unbonding (a uint96) and amount ≤ total − bonded ≤ total: neither subtraction can underflow.
        unchecked {
            // forge-lint: disable-next-line(unsafe-typecast) amount ≤ unbonding, a uint96
            s.unbonding -= uint96(amount);
            // forge-lint: disable-next-line(unsafe-typecast) amount ≤ total, a uint128
            s.total -= uint128(amount);
        }
        _addCredit(msg.sender, amount);
        emit StakeReleased(msg.sender, amount);
        _syncPool(msg.sender, s);
    }

    /// @inheritdoc ITaskMarket
    function joinVerifierPool() external {
        StakeRecord storage s = _stakes[msg.sender];
        if (s.verifying) revert TaskMarketAlreadyVerifying(msg.sender);
        uint256 weight = s.total - s.unbonding;
        if (weight == 0) revert TaskMarketZeroAmount("stake");
        s.verifying = true;
        emit VerifierJoined(msg.sender, weight);
        _syncPool(msg.sender, s);
    }

    /// @inheritdoc ITaskMarket
    function leaveVerifierPool() external {
        StakeRecord storage s = _stakes[msg.sender];
        if (!s.verifying) revert TaskMarketNotVerifying(msg.sender);
        s.verifying = false;
        emit VerifierLeft(msg.sender);
        _pool.setWeight(msg.sender, 0);
    }

    /// @inheritdoc ITaskMarket
    function verifierPool() external view returns (address) {
        return address(_pool);
    }

    /// @inheritdoc ITaskMarket
    function stakeOf(address account) external view returns (StakeInfo memory) {
        StakeRecord memory s = _stakes[account];
        return StakeInfo({
            total: s.total,
            locked: s.locked + s.seatLocked, // both kinds of bond (seats may lock more than is free)
            unbonding: s.unbonding,
            releaseAt: s.releaseAt,
            free: _free(s),
            verifying: s.verifying,
            poolWeight: _pool.weightOf(account),
            seatLocked: s.seatLocked
        });
    }

    /// @inheritdoc ITaskMarket
    function unbondingDelay() external view returns (uint256) {
        return _unbondingDelay;
    }

    /// @dev Locks `amount` of `account`'s free stake as a bond.
    function _lockBond(address account, uint256 amount) internal {
        StakeRecord storage s = _stakes[account];
        uint128 free = _free(s);
        if (free < amount) revert TaskMarketInsufficientFreeStake(account, free, amount);
        // amount ≤ free ≤ total − locked: the new locked amount still fits in uint128.
        uint128 bond = SafeCast.toUint128(amount);
        unchecked {
            s.locked += bond;
        }
    }

    /// @dev Unlocks a bond that was locked by {_lockBond}.
    function _unlockBond(address account, uint256 amount) internal {
        _stakes[account].locked -= SafeCast.toUint128(amount);
    }

    /// @dev Removes a locked bond (or part of one) from `account`'s stake; the caller puts it in a task's escrow.
    /// Always whole: stake never falls below `locked` (seat slashes leave it, releases stop at it).
    function _slashBond(address account, uint256 taskId, uint32 round, uint32 index, uint256 amount) internal {
        StakeRecord storage s = _stakes[account];
        uint128 bond = SafeCast.toUint128(amount);
        s.locked -= bond;
        _take(s, account, taskId, round, index, bond);
    }

    /// @dev Locks a drawn seat's vote bond, free or not (see the contract's notice); the draw checked {_canSit}.
    function _lockSeat(address account, uint256 amount) internal {
        StakeRecord storage s = _stakes[account];
        s.seatLocked = SafeCast.toUint96(s.seatLocked + amount);
    }

    /// @dev Unlocks a seat's bond that was locked by {_lockSeat}.
    function _unlockSeat(address account, uint256 amount) internal {
        _stakes[account].seatLocked -= SafeCast.toUint96(amount);
    }

    /// @dev Slashes a seat's bond: the bond, or what the account's stake holds beyond its own bonds when it was
    /// seated beyond its stake. Returns what was taken (what the caller puts in a task's escrow).
    function _slashSeat(address account, uint256 taskId, uint32 round, uint32 index, uint256 amount)
        internal
        returns (uint256 slashed)
    {
        StakeRecord storage s = _stakes[account];
        s.seatLocked -= SafeCast.toUint96(amount);
        uint256 beyondOwnBonds = s.total - s.locked; // total ≥ locked always (see _slashBond)
        slashed = amount < beyondOwnBonds ? amount : beyondOwnBonds;
        // forge-lint: disable-next-line(unsafe-typecast) slashed ≤ total − locked, below a uint128
        _take(s, account, taskId, round, index, uint128(slashed));
    }

    /// @dev Whether a draw may seat `account` for a vote bond of `bond`: its stake at risk beyond the bonds it took
    /// on itself covers one. Only the account's own acts change this (its stake, claims, challenges, unstaking and
    /// its own slashes), never another's draws.
    function _canSit(address account, uint256 bond) internal view returns (bool) {
        StakeRecord storage s = _stakes[account];
        return uint256(s.total) >= uint256(s.unbonding) + s.locked + bond;
    }

    function _unbondingDelaySeconds() internal view returns (uint256) {
        return _unbondingDelay;
    }

    /// @dev The pool the quorums are drawn from.
    function _verifierPool() internal view returns (IVerifierPool) {
        return _pool;
    }

    /// @dev Writes a verifying account's stake at risk to the pool (unbonding stake is leaving: it is not drawn).
    function _syncPool(address account, StakeRecord storage s) private {
        if (s.verifying) _pool.setWeight(account, s.total - s.unbonding);
    }

    function _take(StakeRecord storage s, address account, uint256 taskId, uint32 round, uint32 index, uint128 amount)
        private
    {
        uint128 total = s.total - amount;
        s.total = total;
        // Unbonding stake is still at stake: it shrinks when the slash leaves less than it.
        // forge-lint: disable-next-line(unsafe-typecast) total < unbonding, a uint96
        if (s.unbonding > total) s.unbonding = uint96(total);
        emit StakeSlashed(account, taskId, round, index, amount, s.unbonding);
        _syncPool(account, s);
    }

    function _free(StakeRecord memory s) private pure returns (uint128) {
        uint256 committed = uint256(s.locked) + s.seatLocked + s.unbonding;
        // locked and unbonding may overlap (see the contract's notice), so their sum can exceed the total.
        // forge-lint: disable-next-line(unsafe-typecast) the difference is below s.total, a uint128
        return committed >= s.total ? 0 : uint128(s.total - committed);
    }
}
