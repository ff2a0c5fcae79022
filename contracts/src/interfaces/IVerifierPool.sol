// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IVerifierPool
/// @notice The stake-weighted pool that verifiers of a unit are drawn from. Its market writes each member's
/// weight; anyone reads it. Every weight is kept with its history by block, so a draw made now reproduces the
/// pool exactly as it stood at an earlier block: stake moved after a draw's randomness became known cannot
/// change who that randomness picks.
/// @dev A Fenwick (binary indexed) tree of partial sums whose every node is a checkpointed value: updates and
/// draws cost O(log n) in the number of members, and nothing loops over members.
interface IVerifierPool {
    /// @notice Only the market that created the pool may write weights.
    error VerifierPoolNotMarket(address caller);
    /// @notice A lookup asked for a block that has not been mined yet.
    error VerifierPoolFutureLookup(uint256 blockNumber, uint256 currentBlock);

    /// @notice `account`'s weight became `weight`; the pool now weighs `total` in all.
    event PoolWeightChanged(address indexed account, uint256 weight, uint256 total);

    /// @notice Sets `account`'s weight (zero takes it out of every later draw). Market only.
    function setWeight(address account, uint256 weight) external;

    /// @notice The market allowed to write weights.
    function market() external view returns (address);

    /// @notice `account`'s current weight.
    function weightOf(address account) external view returns (uint256);

    /// @notice `account`'s weight at the end of block `blockNumber`.
    function weightAt(address account, uint256 blockNumber) external view returns (uint256);

    /// @notice The pool's current total weight.
    function totalWeight() external view returns (uint256);

    /// @notice The pool's total weight at the end of block `blockNumber`.
    function totalWeightAt(uint256 blockNumber) external view returns (uint256);

    /// @notice Accounts that ever held a weight (each keeps its place in the tree).
    function memberCount() external view returns (uint256);

    /// @notice The account that `random` picks from the pool as it stood at the end of block `blockNumber`:
    /// account `a` is picked for a fraction weightAt(a)/totalWeightAt of all values of `random`, so holding the
    /// same weight in one account or in many picks the holder equally often. Zero when the pool was empty.
    /// @dev Not `view`: the tree's nodes at a past block are kept in transient storage for the rest of the
    /// transaction, so many draws from one block search each node's history once. It changes no storage, and an
    /// `eth_call` answers it like a view.
    function draw(uint256 random, uint256 blockNumber) external returns (address);
}
