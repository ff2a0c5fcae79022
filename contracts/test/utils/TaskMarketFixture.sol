// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TestBase} from "./TestBase.sol";
import {TaskMarket} from "../../src/TaskMarket.sol";
import {ITaskMarket} from "../../src/interfaces/ITaskMarket.sol";

/// @notice A deployed market, funded actors with stake, and helpers that drive units through their life.
abstract contract TaskMarketFixture is TestBase {
    uint256 internal constant DELAY = 1 days;
    uint96 internal constant MINER_REWARD = 1 ether;
    uint96 internal constant AGG_REWARD = 0.5 ether;
    uint96 internal constant VERIFIER_REWARD = 0.1 ether;
    uint96 internal constant UNIT_BOND = 0.5 ether;
    uint96 internal constant VOTE_BOND = 0.2 ether;
    uint256 internal constant STAKE = 10 ether;

    TaskMarket internal market;
    address internal owner = address(0xA11CE);
    address internal stranger = address(0xBAD);
    address[3] internal miners = [address(0x1001), address(0x1002), address(0x1003)];
    address[5] internal verifiers = [address(0x2001), address(0x2002), address(0x2003), address(0x2004), address(0x2005)];

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        market = new TaskMarket(DELAY);
        vm.deal(owner, 1_000 ether);
        vm.deal(stranger, 1_000 ether);
        vm.label(owner, "owner");
        for (uint256 i; i < miners.length; ++i) _fundAndStake(miners[i], STAKE);
        for (uint256 i; i < verifiers.length; ++i) _fundAndStake(verifiers[i], STAKE);
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
            voteBond: VOTE_BOND
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
        market.claimUnit(taskId, round, index);
    }

    function _claimAndSubmit(uint256 taskId, uint32 round, uint32 index, address miner) internal {
        _claim(taskId, round, index, miner);
        vm.prank(miner);
        market.submitResult(taskId, round, index, _result(taskId, round, index, miner), _model(taskId, round, index));
    }

    function _commit(uint256 taskId, uint32 round, uint32 index, address verifier, bool valid) internal {
        // Computed here, not through market.commitmentOf: a view call would consume a pending expectRevert.
        bytes32 c = keccak256(abi.encode(taskId, round, index, verifier, valid, _salt(verifier, taskId, round, index)));
        vm.prank(verifier);
        market.commitVote(taskId, round, index, c);
    }

    function _reveal(uint256 taskId, uint32 round, uint32 index, address verifier, bool valid) internal {
        vm.prank(verifier);
        market.revealVote(taskId, round, index, valid, _salt(verifier, taskId, round, index));
    }

    /// @dev The first `votes.length` verifiers commit then reveal the given votes.
    function _vote(uint256 taskId, uint32 round, uint32 index, bool[] memory votes) internal {
        for (uint256 i; i < votes.length; ++i) _commit(taskId, round, index, verifiers[i], votes[i]);
        for (uint256 i; i < votes.length; ++i) _reveal(taskId, round, index, verifiers[i], votes[i]);
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
