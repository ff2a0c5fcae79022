// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ReentrancyGuarded} from "dmlnet-evm/EvmFeatures.sol";
import {MarketStorage} from "./MarketStorage.sol";
import {ITaskMarket} from "./interfaces/ITaskMarket.sol";

/// @title Credits
/// @notice Withdrawable credit per address and the pull payment that pays it out.
/// @dev Also keeps `_totalOwed` (Σ escrow + Σ stake + Σ credit). Moves between buckets leave it unchanged, so it is
/// written only where value enters (stake, createTask) or leaves (withdraw): the solvency check costs no gas on
/// the paths in between.
abstract contract Credits is MarketStorage, ITaskMarket, ReentrancyGuarded {
    /// @inheritdoc ITaskMarket
    function withdraw() external nonReentrant {
        uint256 amount = _credits[msg.sender];
        if (amount == 0) revert TaskMarketNothingToWithdraw(msg.sender);
        _credits[msg.sender] = 0;
        _totalOwed -= amount;
        emit Withdrawn(msg.sender, amount);
        // Interaction last; a receiver that reverts only hurts itself (its credit is restored by the revert).
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert TaskMarketTransferFailed(msg.sender, amount);
    }

    /// @inheritdoc ITaskMarket
    function creditOf(address account) external view returns (uint256) {
        return _credits[account];
    }

    /// @inheritdoc ITaskMarket
    function totalOwed() external view returns (uint256) {
        return _totalOwed;
    }

    /// @dev Adds to an account's credit; the caller has taken `amount` out of another bucket.
    function _addCredit(address account, uint256 amount) internal {
        _credits[account] += amount;
    }

    /// @dev Records value that entered the contract into one of the buckets.
    function _recordDeposit(uint256 amount) internal {
        _totalOwed += amount;
    }
}
