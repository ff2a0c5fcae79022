// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TestBase} from "../utils/TestBase.sol";
import {ITaskMarket} from "../../src/interfaces/ITaskMarket.sol";
import {ITaskMarketWithViews} from "../../src/interfaces/ITaskMarketViews.sol";
import {ForceSender} from "../mocks/ForceSender.sol";
import {Batch} from "../utils/Batch.sol";

/// @notice Drives random sequences of every TaskMarket action by several actors, and keeps ghost sums of what
/// went in and out so the invariant test can check the contract's books against them.
contract TaskMarketHandler is TestBase {
    ITaskMarketWithViews public immutable market;

    uint256 internal constant ACTORS = 8;
    address[] public actors;
    address[] public owners;
    uint256[] public taskIds;

    // Ghost sums
    uint256 public ghostDeposited;
    uint256 public ghostWithdrawn;
    uint256 public ghostForced;
    mapping(uint256 taskId => uint256) public ghostBudget;
    mapping(uint256 taskId => uint256) public ghostSlashedIn;
    mapping(uint256 taskId => uint256) public ghostPaid;
    mapping(uint256 taskId => uint256) public ghostRefunded;
    mapping(bytes32 unit => uint256) public ghostAcceptances;
    uint256 public ghostTerminalBroken;
    mapping(string action => uint256) public calls;

    constructor(ITaskMarketWithViews market_) {
        market = market_;
        for (uint256 i; i < ACTORS; ++i) {
            address a = address(uint160(0x5000 + i));
            actors.push(a);
            vm.deal(a, 1_000_000 ether);
            // Every actor may be drawn as a verifier: all are in the pool from the start.
            vm.startPrank(a);
            market.stake{value: 1 ether}();
            market.joinVerifierPool();
            vm.stopPrank();
            ghostDeposited += 1 ether;
        }
        vm.roll(vm.getBlockNumber() + 1);
        for (uint256 i; i < 2; ++i) {
            address o = address(uint160(0x6000 + i));
            owners.push(o);
            vm.deal(o, 1_000_000 ether);
        }
    }

    // ---------------------------------------------------------------------------------------------- views

    function taskCount() external view returns (uint256) {
        return taskIds.length;
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function ownerCount() external view returns (uint256) {
        return owners.length;
    }

    // ---------------------------------------------------------------------------------------------- actions

    function stake(uint256 actorSeed, uint256 amount) external {
        address a = actors[actorSeed % ACTORS];
        amount = bound(amount, 1, 5 ether);
        vm.prank(a);
        market.stake{value: amount}();
        ghostDeposited += amount;
        calls["stake"]++;
    }

    function requestUnstake(uint256 actorSeed, uint256 amount) external {
        address a = actors[actorSeed % ACTORS];
        ITaskMarket.StakeInfo memory s = market.stakeOf(a);
        uint256 available = s.total - s.unbonding;
        if (available == 0) return;
        amount = bound(amount, 1, available);
        vm.prank(a);
        market.requestUnstake(amount);
        calls["requestUnstake"]++;
    }

    function releaseUnstaked(uint256 actorSeed) external {
        address a = actors[actorSeed % ACTORS];
        ITaskMarket.StakeInfo memory s = market.stakeOf(a);
        if (s.unbonding == 0 || vm.getBlockTimestamp() < s.releaseAt || s.total <= s.locked) return;
        vm.prank(a);
        market.releaseUnstaked();
        calls["releaseUnstaked"]++;
    }

    function withdraw(uint256 seed) external {
        address a = seed % 2 == 0 ? actors[seed / 2 % ACTORS] : owners[seed / 2 % owners.length];
        uint256 credit = market.creditOf(a);
        if (credit == 0) return;
        vm.prank(a);
        market.withdraw();
        ghostWithdrawn += credit;
        calls["withdraw"]++;
    }

    function forceEth(uint256 amount) external {
        amount = bound(amount, 1, 1 ether);
        vm.deal(address(this), amount);
        new ForceSender{value: amount}(payable(address(market)));
        ghostForced += amount;
        calls["forceEth"]++;
    }

    function createTask(uint256 seed) external {
        if (taskIds.length >= 6) return;
        address o = owners[seed % owners.length];
        ITaskMarket.TaskParams memory p = ITaskMarket.TaskParams({
            specDigest: keccak256(abi.encode("spec", seed)),
            datasetDigest: keccak256("data"),
            initialModelDigest: keccak256("m0"),
            rounds: uint32(1 + (seed >> 8) % 2),
            unitsPerRound: uint32(1 + (seed >> 16) % 3),
            quorum: uint32(1 + 2 * ((seed >> 24) % 3)),
            claimTimeout: 1 hours,
            commitTimeout: 1 hours,
            revealTimeout: 1 hours,
            minerReward: uint96(bound(seed >> 32, 1, 1 ether)),
            aggregatorReward: uint96(bound(seed >> 96, 1, 1 ether)),
            verifierReward: uint96(bound(seed >> 160, 1, 0.1 ether)),
            unitBond: 0,
            voteBond: 0,
            challengeWindow: (seed >> 4) & 1 == 1 ? 1 hours : 0,
            ownerInLoop: (seed >> 5) & 1 == 1
        });
        p.voteBond = uint96(4 * uint256(p.verifierReward) + bound(seed >> 200, 0, 0.5 ether));
        p.unitBond = uint96(uint256(p.quorum) * p.verifierReward + (seed >> 232) % 1 ether);
        uint256 budget = market.budgetOf(p);
        vm.prank(o);
        uint256 taskId = market.createTask{value: budget}(p);
        taskIds.push(taskId);
        ghostBudget[taskId] = budget;
        ghostDeposited += budget;
        calls["createTask"]++;
    }

    function cancelTask(uint256 taskSeed) external {
        if (taskIds.length == 0) return;
        uint256 taskId = taskIds[taskSeed % taskIds.length];
        (, ITaskMarket.TaskState memory s) = market.getTask(taskId);
        if (s.status != ITaskMarket.TaskStatus.Active) return;
        _tracked(taskId, s.owner, abi.encodeCall(ITaskMarket.cancelTask, (taskId)));
        calls["cancelTask"]++;
    }

    function claim(uint256 actorSeed, uint256 taskSeed, uint256 indexSeed) external {
        if (taskIds.length == 0) return;
        uint256 taskId = taskIds[taskSeed % taskIds.length];
        (ITaskMarket.TaskParams memory p, ITaskMarket.TaskState memory s) = market.getTask(taskId);
        uint32 index = uint32(indexSeed % (p.unitsPerRound + 1));
        if (!market.isClaimable(taskId, s.currentRound, index)) return;
        address a = actors[actorSeed % ACTORS];
        _ensureFree(a, p.unitBond);
        vm.prank(a);
        market.claimUnits(taskId, s.currentRound, Batch.one(index));
        calls["claim"]++;
    }

    function submit(uint256 taskSeed, uint256 indexSeed, uint256 digestSeed) external {
        (uint256 taskId, uint32 round, uint32 index, ITaskMarket.UnitInfo memory u, bool found) =
            _pickUnit(taskSeed, indexSeed);
        if (!found || u.status != ITaskMarket.UnitStatus.Claimed || vm.getBlockTimestamp() > u.deadline) return;
        vm.prank(u.miner);
        market.submitResults(
            taskId,
            round,
            Batch.one(index),
            Batch.word(keccak256(abi.encode(digestSeed, "r"))),
            Batch.word(keccak256(abi.encode(digestSeed, "m")))
        );
        calls["submit"]++;
    }

    /// @dev An aggregator's one-call path: the aggregation unit, claimed and submitted at once.
    function claimAndSubmit(uint256 actorSeed, uint256 taskSeed, uint256 digestSeed) external {
        if (taskIds.length == 0) return;
        uint256 taskId = taskIds[taskSeed % taskIds.length];
        (ITaskMarket.TaskParams memory p, ITaskMarket.TaskState memory s) = market.getTask(taskId);
        if (!market.isClaimable(taskId, s.currentRound, p.unitsPerRound)) return;
        address a = actors[actorSeed % ACTORS];
        _ensureFree(a, p.unitBond);
        vm.prank(a);
        market.claimAndSubmit(
            taskId,
            s.currentRound,
            p.unitsPerRound,
            keccak256(abi.encode(digestSeed, "r")),
            keccak256(abi.encode(digestSeed, "m"))
        );
        calls["claimAndSubmit"]++;
    }

    function reclaimExpired(uint256 taskSeed, uint256 indexSeed) external {
        (uint256 taskId, uint32 round, uint32 index, ITaskMarket.UnitInfo memory u, bool found) =
            _pickUnit(taskSeed, indexSeed);
        if (!found || u.status != ITaskMarket.UnitStatus.Claimed || vm.getBlockTimestamp() <= u.deadline) return;
        _tracked(taskId, address(this), abi.encodeCall(ITaskMarket.reclaimExpired, (taskId, round, index)));
        calls["reclaimExpired"]++;
    }

    function draw(uint256 taskSeed, uint256 indexSeed) external {
        (uint256 taskId, uint32 round, uint32 index, ITaskMarket.UnitInfo memory u, bool found) =
            _pickUnit(taskSeed, indexSeed);
        if (!found || u.status != ITaskMarket.UnitStatus.Submitted) return;
        (ITaskMarket.TaskParams memory p,) = market.getTask(taskId);
        if (u.seats >= market.seatsAt(p.quorum, u.level)) return;
        if (vm.getBlockNumber() <= u.seedBlock) vm.roll(u.seedBlock + 1);
        market.drawVerifiers(taskId, round, Batch.one(index));
        calls["draw"]++;
    }

    function commit(uint256 actorSeed, uint256 taskSeed, uint256 indexSeed, bool valid) external {
        (uint256 taskId, uint32 round, uint32 index, ITaskMarket.UnitInfo memory u, bool found) =
            _pickUnit(taskSeed, indexSeed);
        if (!found || u.status != ITaskMarket.UnitStatus.Submitted || vm.getBlockTimestamp() > u.deadline) return;
        address[] memory seats = market.getSeats(taskId, round, index);
        if (seats.length == 0) return;
        address a = seats[actorSeed % seats.length];
        bytes32 commitment = market.commitmentOf(taskId, round, index, a, valid, _salt(a, u.epoch));
        ITaskMarket.BallotInfo memory b = market.getBallot(taskId, round, index, a);
        // A verifier drawn again after committing (a replacement draw in the same epoch may seat it twice) commits its
        // same vote for the new seat, as a node does: a seat's commitment is set once any of its seats committed.
        if (b.commitment != bytes32(0)) commitment = b.commitment;
        vm.prank(a);
        try market.commitVotes(taskId, round, Batch.one(index), Batch.word(commitment)) {
            calls["commit"]++;
        } catch {
            calls["commitRefused"]++;
        }
    }

    function reveal(uint256 actorSeed, uint256 taskSeed, uint256 indexSeed) external {
        (uint256 taskId, uint32 round, uint32 index, ITaskMarket.UnitInfo memory u, bool found) =
            _pickUnit(taskSeed, indexSeed);
        if (!found || u.status != ITaskMarket.UnitStatus.Revealing || vm.getBlockTimestamp() > u.deadline) return;
        address[] memory seats = market.getSeats(taskId, round, index);
        address a = seats[actorSeed % seats.length];
        ITaskMarket.BallotInfo memory b = market.getBallot(taskId, round, index, a);
        if (!b.committed || b.revealed) return;
        bool valid = b.commitment == market.commitmentOf(taskId, round, index, a, true, _salt(a, u.epoch));
        _tracked(
            taskId,
            a,
            abi.encodeCall(
                ITaskMarket.revealVotes,
                (taskId, round, Batch.one(index), Batch.bit(valid), Batch.word(_salt(a, u.epoch)))
            )
        );
        _afterVerdict(taskId, round, index, u);
        calls["reveal"]++;
    }

    function challenge(uint256 actorSeed, uint256 taskSeed, uint256 indexSeed) external {
        (uint256 taskId, uint32 round, uint32 index, ITaskMarket.UnitInfo memory u, bool found) =
            _pickUnit(taskSeed, indexSeed);
        if (!found || u.status != ITaskMarket.UnitStatus.Decided || vm.getBlockTimestamp() > u.deadline) return;
        (ITaskMarket.TaskParams memory p,) = market.getTask(taskId);
        address a = actors[actorSeed % ACTORS];
        _ensureFree(a, uint256(market.seatsAt(p.quorum, u.level + 1)) * p.verifierReward);
        vm.prank(a);
        market.challengeVerdict(taskId, round, index);
        calls["challenge"]++;
    }

    function finalize(uint256 taskSeed, uint256 indexSeed) external {
        (uint256 taskId, uint32 round, uint32 index, ITaskMarket.UnitInfo memory u, bool found) =
            _pickUnit(taskSeed, indexSeed);
        if (!found) return;
        bool voting = u.status == ITaskMarket.UnitStatus.Revealing || u.status == ITaskMarket.UnitStatus.Submitted
            || u.status == ITaskMarket.UnitStatus.Decided;
        if (!voting || vm.getBlockTimestamp() <= u.deadline) return;
        _tracked(taskId, address(this), abi.encodeCall(ITaskMarket.finalizeUnit, (taskId, round, index)));
        _afterVerdict(taskId, round, index, u);
        calls["finalize"]++;
    }

    function warp(uint256 secondsAhead) external {
        vm.warp(vm.getBlockTimestamp() + bound(secondsAhead, 1, 3 hours));
        calls["warp"]++;
    }

    // ---------------------------------------------------------------------------------------------- exit drill

    /// @notice Settles everything and lets every actor leave: used after a random sequence.
    function exitEverybody() external {
        vm.warp(vm.getBlockTimestamp() + 2 hours);
        for (uint256 t; t < taskIds.length; ++t) _drainTask(taskIds[t]);
        vm.warp(vm.getBlockTimestamp() + market.unbondingDelay() + 1);
        for (uint256 i; i < ACTORS; ++i) {
            address a = actors[i];
            ITaskMarket.StakeInfo memory s = market.stakeOf(a);
            if (s.total > s.unbonding) {
                vm.prank(a);
                market.requestUnstake(s.total - s.unbonding);
            }
        }
        vm.warp(vm.getBlockTimestamp() + market.unbondingDelay());
        for (uint256 i; i < ACTORS; ++i) {
            address a = actors[i];
            if (market.stakeOf(a).unbonding > 0) {
                vm.prank(a);
                market.releaseUnstaked();
            }
            this.withdraw(i * 2);
        }
        for (uint256 i; i < owners.length; ++i) this.withdraw(i * 2 + 1);
    }

    function _drainTask(uint256 taskId) internal {
        (ITaskMarket.TaskParams memory p, ITaskMarket.TaskState memory s) = market.getTask(taskId);
        for (uint32 index; index <= p.unitsPerRound; ++index) {
            for (uint256 step; step < 16; ++step) {
                ITaskMarket.UnitInfo memory u = market.getUnit(taskId, s.currentRound, index);
                if (u.status == ITaskMarket.UnitStatus.Open || u.status == ITaskMarket.UnitStatus.Accepted) break;
                if (u.status == ITaskMarket.UnitStatus.Claimed) {
                    if (vm.getBlockTimestamp() <= u.deadline) vm.warp(u.deadline + 1);
                    this.reclaimExpired(_taskSeed(taskId), index);
                } else if (u.status == ITaskMarket.UnitStatus.Submitted) {
                    _seatAndVote(taskId, p, s.currentRound, index);
                } else {
                    if (vm.getBlockTimestamp() <= u.deadline) vm.warp(u.deadline + 1);
                    this.finalize(_taskSeed(taskId), index);
                }
            }
        }
        (, s) = market.getTask(taskId);
        if (s.status == ITaskMarket.TaskStatus.Active) this.cancelTask(_taskSeed(taskId));
    }

    /// @dev Fills the quorum (every actor able to back every seat), has every seat vote valid, or lets the commit
    /// window pass when the quorum cannot be seated (a replacement round: an appeal never lapses).
    function _seatAndVote(uint256 taskId, ITaskMarket.TaskParams memory p, uint32 round, uint32 index) internal {
        ITaskMarket.UnitInfo memory u = market.getUnit(taskId, round, index);
        if (vm.getBlockTimestamp() > u.deadline) {
            this.finalize(_taskSeed(taskId), index); // the window passed: release the no-shows, draw again
            return;
        }
        uint8 needed = market.seatsAt(p.quorum, u.level);
        for (uint256 i; i < ACTORS; ++i) _ensureFree(actors[i], uint256(needed) * p.voteBond);
        if (u.seats < needed) this.draw(_taskSeed(taskId), index);
        u = market.getUnit(taskId, round, index);
        if (u.seats < needed) {
            if (vm.getBlockTimestamp() <= u.deadline) vm.warp(u.deadline + 1);
            this.finalize(_taskSeed(taskId), index);
            return;
        }
        for (uint256 seat; seat < u.seats; ++seat) this.commit(seat, _taskSeed(taskId), index, true);
        for (uint256 seat; seat < u.seats; ++seat) this.reveal(seat, _taskSeed(taskId), index);
    }

    // ---------------------------------------------------------------------------------------------- internals

    function _taskSeed(uint256 taskId) internal view returns (uint256) {
        for (uint256 i; i < taskIds.length; ++i) {
            if (taskIds[i] == taskId) return i;
        }
        revert("unknown task");
    }

    function _salt(address a, uint32 epoch) internal pure returns (bytes32) {
        return keccak256(abi.encode(a, epoch));
    }

    function _ensureFree(address a, uint256 amount) internal {
        ITaskMarket.StakeInfo memory s = market.stakeOf(a);
        if (s.free >= amount) return;
        // Locked and unbonding stake may overlap, so free can be clipped at zero: top up what is really missing.
        uint256 deposit = uint256(s.locked) + s.unbonding + amount - s.total;
        vm.prank(a);
        market.stake{value: deposit}();
        ghostDeposited += deposit;
    }

    function _pickUnit(uint256 taskSeed, uint256 indexSeed)
        internal
        view
        returns (uint256 taskId, uint32 round, uint32 index, ITaskMarket.UnitInfo memory u, bool found)
    {
        if (taskIds.length == 0) return (0, 0, 0, u, false);
        taskId = taskIds[taskSeed % taskIds.length];
        (ITaskMarket.TaskParams memory p, ITaskMarket.TaskState memory s) = market.getTask(taskId);
        round = s.currentRound;
        index = uint32(indexSeed % (p.unitsPerRound + 1));
        u = market.getUnit(taskId, round, index);
        found = true;
    }

    /// @dev Runs a call as `caller`, attributing the change of credits and stakes it causes to `taskId`.
    function _tracked(uint256 taskId, address caller, bytes memory data) internal {
        (, ITaskMarket.TaskState memory before) = market.getTask(taskId);
        uint256 creditsBefore = _sumActorCredits();
        uint256 stakeBefore = _sumActorStake();
        uint256 ownerCreditBefore = market.creditOf(before.owner);
        if (caller != address(this)) vm.prank(caller);
        (bool ok, bytes memory err) = address(market).call(data);
        if (!ok) {
            assembly {
                revert(add(err, 32), mload(err))
            }
        }
        ghostPaid[taskId] += _sumActorCredits() - creditsBefore;
        ghostSlashedIn[taskId] += stakeBefore - _sumActorStake();
        ghostRefunded[taskId] += market.creditOf(before.owner) - ownerCreditBefore;
        (, ITaskMarket.TaskState memory afterwards) = market.getTask(taskId);
        if (before.status != ITaskMarket.TaskStatus.Active && afterwards.status != before.status) {
            ghostTerminalBroken++;
        }
    }

    function _afterVerdict(uint256 taskId, uint32 round, uint32 index, ITaskMarket.UnitInfo memory before)
        internal
    {
        ITaskMarket.UnitInfo memory u = market.getUnit(taskId, round, index);
        if (u.status == ITaskMarket.UnitStatus.Accepted && before.status != ITaskMarket.UnitStatus.Accepted) {
            ghostAcceptances[keccak256(abi.encode(taskId, round, index))]++;
        }
        if (before.status == ITaskMarket.UnitStatus.Accepted && u.status != ITaskMarket.UnitStatus.Accepted) {
            ghostTerminalBroken++;
        }
    }

    function _sumActorCredits() internal view returns (uint256 sum) {
        for (uint256 i; i < ACTORS; ++i) sum += market.creditOf(actors[i]);
    }

    function _sumActorStake() internal view returns (uint256 sum) {
        for (uint256 i; i < ACTORS; ++i) sum += market.stakeOf(actors[i]).total;
    }

    function acceptances(uint256 taskId, uint32 round, uint32 index) external view returns (uint256) {
        return ghostAcceptances[keccak256(abi.encode(taskId, round, index))];
    }
}
