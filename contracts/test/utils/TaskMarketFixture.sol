// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TestBase} from "./TestBase.sol";
import {ITaskMarket} from "../../src/interfaces/ITaskMarket.sol";
import {ITaskMarketWithViews} from "../../src/interfaces/ITaskMarketViews.sol";
import {Batch} from "./Batch.sol";

/// @notice A deployed market, funded actors with stake, and helpers that drive units through their life.
abstract contract TaskMarketFixture is TestBase {
    uint256 internal constant DELAY = 1 days;
    uint96 internal constant MINER_REWARD = 1 ether;
    uint96 internal constant AGG_REWARD = 0.5 ether;
    uint96 internal constant VERIFIER_REWARD = 0.1 ether;
    uint96 internal constant UNIT_BOND = 0.5 ether;
    uint96 internal constant VOTE_BOND = 0.4 ether;
    uint256 internal constant STAKE = 10 ether;

    /// @dev The market at its address: its calls and the views its fallback answers.
    ITaskMarketWithViews internal market;
    address internal owner = address(0xA11CE);
    address internal stranger = address(0xBAD);
    address[3] internal miners = [address(0x1001), address(0x1002), address(0x1003)];
    address[5] internal verifiers = [address(0x2001), address(0x2002), address(0x2003), address(0x2004), address(0x2005)];

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        market = ITaskMarketWithViews(_deployMarket(DELAY));
        vm.deal(owner, 1_000 ether);
        vm.deal(stranger, 1_000 ether);
        vm.label(owner, "owner");
        for (uint256 i; i < miners.length; ++i) _fundAndStake(miners[i], STAKE);
        for (uint256 i; i < verifiers.length; ++i) {
            _fundAndStake(verifiers[i], STAKE);
            vm.prank(verifiers[i]);
            market.joinVerifierPool();
        }
        vm.roll(vm.getBlockNumber() + 1); // the pool as it stands now is what the next seeds draw from
    }

    function _fundAndStake(address account, uint256 amount) internal {
        vm.deal(account, 100 ether);
        vm.prank(account);
        market.stake{value: amount}();
    }

    function _params(uint32 rounds, uint32 units, uint32 quorum) internal pure returns (ITaskMarket.TaskParams memory) {
        return ITaskMarket.TaskParams({
            specDigest: keccak256("spec"),
            datasetDigest: keccak256("dataset"),
            initialModelDigest: keccak256("model-0"),
            rounds: rounds,
            unitsPerRound: units,
            quorum: quorum,
            claimTimeout: 1 hours,
            commitTimeout: 30 minutes,
            revealTimeout: 30 minutes,
            minerReward: MINER_REWARD,
            aggregatorReward: AGG_REWARD,
            verifierReward: VERIFIER_REWARD,
            unitBond: UNIT_BOND,
            voteBond: VOTE_BOND,
            challengeWindow: 0,
            ownerInLoop: false
        });
    }

    function _budget(ITaskMarket.TaskParams memory p) internal pure returns (uint256) {
        return uint256(p.rounds)
            * (uint256(p.unitsPerRound) * p.minerReward + p.aggregatorReward
                + (uint256(p.unitsPerRound) + 1) * p.quorum * p.verifierReward);
    }

    function _create(ITaskMarket.TaskParams memory p) internal returns (uint256 taskId) {
        vm.prank(owner);
        taskId = market.createTask{value: _budget(p)}(p);
    }

    function _createDefault() internal returns (uint256) {
        return _create(_params(2, 2, 3));
    }

    function _salt(address verifier, uint256 taskId, uint32 round, uint32 index) internal pure returns (bytes32) {
        return keccak256(abi.encode("salt", verifier, taskId, round, index));
    }

    function _result(uint256 taskId, uint32 round, uint32 index, address miner) internal pure returns (bytes32) {
        return keccak256(abi.encode("result", taskId, round, index, miner));
    }

    function _model(uint256 taskId, uint32 round, uint32 index) internal pure returns (bytes32) {
        return keccak256(abi.encode("model", taskId, round, index));
    }

    function _claim(uint256 taskId, uint32 round, uint32 index, address miner) internal {
        vm.prank(miner);
        market.claimUnits(taskId, round, Batch.one(index));
    }

    function _claimAndSubmit(uint256 taskId, uint32 round, uint32 index, address miner) internal {
        _claim(taskId, round, index, miner);
        vm.prank(miner);
        market.submitResults(taskId, round, Batch.one(index), Batch.word(_result(taskId, round, index, miner)), Batch.word(_model(taskId, round, index)));
    }

    function _commit(uint256 taskId, uint32 round, uint32 index, address verifier, bool valid) internal {
        // Computed here, not through market.commitmentOf: a view call would consume a pending expectRevert.
        bytes32 c = keccak256(abi.encode(taskId, round, index, verifier, valid, _salt(verifier, taskId, round, index)));
        vm.prank(verifier);
        market.commitVotes(taskId, round, Batch.one(index), Batch.word(c));
    }

    function _reveal(uint256 taskId, uint32 round, uint32 index, address verifier, bool valid) internal {
        vm.prank(verifier);
        market.revealVotes(taskId, round, Batch.one(index), Batch.bit(valid), Batch.word(_salt(verifier, taskId, round, index)));
    }

    /// @dev Draws the unit's quorum so that every seat goes to a different verifier: tries seed-block hashes until
    /// the draw (the contract's own) comes out that way, undoing the others. Returns the seats.
    function _draw(uint256 taskId, uint32 round, uint32 index) internal returns (address[] memory seats) {
        uint64 seedBlock = _unit(taskId, round, index).seedBlock;
        if (vm.getBlockNumber() <= seedBlock) vm.roll(seedBlock + 1);
        for (uint256 k; k < 256; ++k) {
            uint256 snapshot = vm.snapshotState();
            vm.setBlockhash(seedBlock, keccak256(abi.encode("seed", k)));
            market.drawVerifiers(taskId, round, Batch.one(index));
            seats = market.getSeats(taskId, round, index);
            if (_distinct(seats)) return seats;
            vm.revertToState(snapshot);
        }
        revert("no draw with distinct seats");
    }

    function _distinct(address[] memory list) internal pure returns (bool) {
        for (uint256 i; i < list.length; ++i) {
            for (uint256 j = i + 1; j < list.length; ++j) {
                if (list[i] == list[j]) return false;
            }
        }
        return true;
    }

    /// @dev Draws a quorum of distinct verifiers; seat i commits then reveals `votes[i]`.
    function _vote(uint256 taskId, uint32 round, uint32 index, bool[] memory votes) internal returns (address[] memory seats) {
        seats = _draw(taskId, round, index);
        for (uint256 i; i < votes.length; ++i) _commit(taskId, round, index, seats[i], votes[i]);
        for (uint256 i; i < votes.length; ++i) _reveal(taskId, round, index, seats[i], votes[i]);
    }

    function _unanimous(uint256 n, bool valid) internal pure returns (bool[] memory votes) {
        votes = new bool[](n);
        for (uint256 i; i < n; ++i) votes[i] = valid;
    }

    function _quorumOf(uint256 taskId) internal view returns (uint32) {
        (ITaskMarket.TaskParams memory p,) = market.getTask(taskId);
        return p.quorum;
    }

    /// @dev Claims, submits and has the quorum accept the unit unanimously.
    function _acceptUnit(uint256 taskId, uint32 round, uint32 index, address miner) internal {
        _claimAndSubmit(taskId, round, index, miner);
        _vote(taskId, round, index, _unanimous(_quorumOf(taskId), true));
    }

    function _acceptRound(uint256 taskId, uint32 round) internal {
        (ITaskMarket.TaskParams memory p,) = market.getTask(taskId);
        for (uint32 i; i < p.unitsPerRound; ++i) _acceptUnit(taskId, round, i, miners[i % miners.length]);
        _acceptUnit(taskId, round, p.unitsPerRound, miners[0]);
    }

    function _state(uint256 taskId) internal view returns (ITaskMarket.TaskState memory state) {
        (, state) = market.getTask(taskId);
    }

    function _unit(uint256 taskId, uint32 round, uint32 index) internal view returns (ITaskMarket.UnitInfo memory) {
        return market.getUnit(taskId, round, index);
    }

    function _total(address a) internal view returns (uint256) {
        return market.stakeOf(a).total;
    }

    function _locked(address a) internal view returns (uint256) {
        return market.stakeOf(a).locked;
    }

    function _assertSolvent() internal view {
        vm.assertGe(address(market).balance, market.totalOwed(), "balance below what is owed");
    }
}
