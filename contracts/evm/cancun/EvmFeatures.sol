// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

// The contracts are built twice, for two EVM versions, from the same sources: `dmlnet-evm/` is remapped to this
// folder for chains at Cancun or later (transient storage, EIP-1153), to `contracts/evm/shanghai/` for chains
// before it (Ganache 7's newest hardfork is Shanghai). Both folders declare the same names with the same behaviour;
// only gas differs.

/// @title ReentrancyGuarded
/// @notice `nonReentrant`, its flag in transient storage.
abstract contract ReentrancyGuarded is ReentrancyGuardTransient {}

/// @title TransientCache
/// @notice A word per slot for the rest of the transaction, for values that cannot change within it.
library TransientCache {
    /// @dev Whether `store` keeps anything: the Shanghai build's cache keeps nothing.
    bool internal constant ENABLED = true;

    function load(uint256 slot) internal view returns (uint256 value) {
        assembly ("memory-safe") {
            value := tload(slot)
        }
    }

    function store(uint256 slot, uint256 value) internal {
        assembly ("memory-safe") {
            tstore(slot, value)
        }
    }
}
