// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {TransientCache} from "dmlnet-evm/EvmFeatures.sol";
import {IVerifierPool} from "./interfaces/IVerifierPool.sol";

/// @title VerifierPool
/// @notice A stake-weighted sortition pool with history: see {IVerifierPool}.
/// @dev Leaves are members (1-based, assigned on first weight, never reused by another account). Node `i` of the
/// Fenwick tree holds the sum of leaves (i − lowbit(i), i]; the tree's capacity is a power of two, and node
/// `capacity` holds the total. Growing the capacity from C to 2C only sets node 2C to the total: the nodes in
/// between cover leaves that do not exist yet. Every node value and the capacity are checkpointed by block, so
/// the whole tree can be read as of any past block.
contract VerifierPool is IVerifierPool {
    using Checkpoints for Checkpoints.Trace208;

    address private immutable _market;

    mapping(uint256 node => Checkpoints.Trace208 sums) private _nodes;
    Checkpoints.Trace208 private _capacity;
    mapping(address account => uint256 leaf) private _leafOf;
    mapping(uint256 leaf => address account) private _accountAt;
    mapping(address account => uint256 weight) private _weights;
    uint256 private _leaves;

    constructor() {
        _market = msg.sender;
    }

    /// @inheritdoc IVerifierPool
    function setWeight(address account, uint256 weight) external {
        if (msg.sender != _market) revert VerifierPoolNotMarket(msg.sender);
        uint256 current = _weights[account];
        if (weight == current) return;
        uint256 leaf = _leafOf[account];
        if (leaf == 0) leaf = _addLeaf(account);
        _weights[account] = weight;
        uint256 capacity = _capacity.latest();
        uint48 now_ = SafeCast.toUint48(block.number);
        // Walk up the tree: every node whose range holds the leaf moves by the same difference.
        for (uint256 node = leaf; node <= capacity; node += node & (~node + 1)) {
            uint256 sum = _nodes[node].latest();
            // slither-disable-next-line unused-return (push returns the old and new values, both known here)
            _nodes[node].push(now_, SafeCast.toUint208(weight > current ? sum + (weight - current) : sum - (current - weight)));
        }
        emit PoolWeightChanged(account, weight, _nodes[capacity].latest());
    }

    /// @inheritdoc IVerifierPool
    function market() external view returns (address) {
        return _market;
    }

    /// @inheritdoc IVerifierPool
    function weightOf(address account) external view returns (uint256) {
        return _weights[account];
    }

    /// @inheritdoc IVerifierPool
    function weightAt(address account, uint256 blockNumber) external view returns (uint256) {
        uint48 at = _past(blockNumber);
        uint256 leaf = _leafOf[account];
        if (leaf == 0 || leaf > _capacity.upperLookupRecent(at)) return 0;
        return _prefixAt(leaf, at) - _prefixAt(leaf - 1, at);
    }

    /// @inheritdoc IVerifierPool
    function totalWeight() external view returns (uint256) {
        return _nodes[_capacity.latest()].latest();
    }

    /// @inheritdoc IVerifierPool
    function totalWeightAt(uint256 blockNumber) external view returns (uint256) {
        uint48 at = _past(blockNumber);
        return _nodes[_capacity.upperLookupRecent(at)].upperLookupRecent(at);
    }

    /// @inheritdoc IVerifierPool
    function memberCount() external view returns (uint256) {
        return _leaves;
    }

    /// @inheritdoc IVerifierPool
    function draw(uint256 random, uint256 blockNumber) external returns (address) {
        uint48 at = _past(blockNumber);
        uint256 capacity = _sumAt(0, at);
        uint256 total = _sumAt(capacity, at);
        if (total == 0) return address(0);
        uint256 target = random % total;
        // Descend: find the first leaf whose prefix sum exceeds `target`. Node `capacity` (the total) is never
        // skipped over, so the descent starts at half of it.
        uint256 position = 0;
        for (uint256 step = capacity >> 1; step != 0; step >>= 1) {
            uint256 sum = _sumAt(position + step, at);
            if (sum <= target) {
                position += step;
                target -= sum;
            }
        }
        return _accountAt[position + 1];
    }

    /// @dev Gives `account` the next leaf, doubling the capacity when the tree is full.
    function _addLeaf(address account) private returns (uint256 leaf) {
        leaf = ++_leaves;
        _leafOf[account] = leaf;
        _accountAt[leaf] = account;
        uint256 capacity = _capacity.latest();
        if (leaf > capacity) {
            uint48 now_ = SafeCast.toUint48(block.number);
            uint256 grown = capacity == 0 ? 1 : capacity * 2;
            // The new top node covers every existing leaf plus empty ones: its sum is the current total.
            // slither-disable-next-line unused-return (push returns the old and new values, both known here)
            if (capacity != 0) _nodes[grown].push(now_, _nodes[capacity].latest());
            // slither-disable-next-line unused-return
            _capacity.push(now_, SafeCast.toUint208(grown));
        }
    }

    /// @dev Sum of leaves 1..leaf at block `at`.
    function _prefixAt(uint256 leaf, uint48 at) private view returns (uint256 sum) {
        for (uint256 node = leaf; node != 0; node -= node & (~node + 1)) {
            sum += _nodes[node].upperLookupRecent(at);
        }
    }

    /// @dev Node `node`'s sum at block `at` (node 0: the capacity). A past block's values never change, so they are
    /// kept in transient storage for the rest of the transaction: a batch of draws from one block (a round's quorums)
    /// searches each node's history once, and every later draw reads it for 100 gas. The current block's values may
    /// still change in this transaction, so they are never kept. Transient slot: `node << 48 | at`, holding the sum
    /// plus one (zero: not kept); nothing else in this contract uses transient storage. The Shanghai build has no
    /// transient storage: there every draw searches the history again.
    function _sumAt(uint256 node, uint48 at) private returns (uint256 sum) {
        bool kept = TransientCache.ENABLED && at < block.number;
        uint256 slot = (node << 48) | at;
        if (kept) {
            uint256 value = TransientCache.load(slot);
            // value ≤ 2^208 (a checkpointed sum plus one): no underflow, and nonzero here.
            unchecked {
                if (value != 0) return value - 1;
            }
        }
        sum = node == 0 ? _capacity.upperLookupRecent(at) : _nodes[node].upperLookupRecent(at);
        if (kept) TransientCache.store(slot, sum + 1);
    }

    function _past(uint256 blockNumber) private view returns (uint48) {
        if (blockNumber > block.number) revert VerifierPoolFutureLookup(blockNumber, block.number);
        return SafeCast.toUint48(blockNumber);
    }
}
