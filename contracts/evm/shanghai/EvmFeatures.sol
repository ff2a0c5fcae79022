// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {StorageSlot} from "@openzeppelin/contracts/utils/StorageSlot.sol";

// The Shanghai build's EVM features (chains before Cancun: no TLOAD, TSTORE or MCOPY): the same names as
// `contracts/evm/cancun/EvmFeatures.sol`, the same behaviour, without transient storage.

/// @title ReentrancyGuarded
/// @notice `nonReentrant`, its flag in ordinary storage at OpenZeppelin's namespaced slot (ERC-7201): outside the
/// layout `MarketStorage` declares, so the market and its views still share that layout.
abstract contract ReentrancyGuarded {
    /// @dev keccak256(abi.encode(uint256(keccak256("openzeppelin.storage.ReentrancyGuard")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant _GUARD_SLOT = 0x9b779b17422d0df92223018b32b4d1fa46e071723d6817e2486d003becc55f00;

    /// @notice A `nonReentrant` function was entered again before it returned (the same error as OpenZeppelin's).
    error ReentrancyGuardReentrantCall();

    modifier nonReentrant() {
        StorageSlot.Uint256Slot storage status = StorageSlot.getUint256Slot(_GUARD_SLOT);
        if (status.value == 2) revert ReentrancyGuardReentrantCall();
        // 2 while entered, 1 after: the slot stays non-zero after the first call, so later calls pay no fresh write.
        status.value = 2;
        _;
        status.value = 1;
    }
}

/// @title TransientCache
/// @notice Keeps nothing (no transient storage before Cancun): every `load` misses, callers compute again.
library TransientCache {
    /// @dev Whether `store` keeps anything: callers skip the cache when it does not.
    bool internal constant ENABLED = false;

    function load(uint256) internal pure returns (uint256) {
        return 0;
    }

    function store(uint256, uint256) internal pure {}
}
