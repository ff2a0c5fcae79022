// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TaskMarketFixture} from "../utils/TaskMarketFixture.sol";
import {ITaskMarket} from "../../src/interfaces/ITaskMarket.sol";
import {Batch} from "../utils/Batch.sol";

/// @notice What each step of a unit's life costs, one call per test: each contract brings the market to the step
/// in `setUp` (not measured), and its tests make exactly the call they are named after. `forge snapshot` over
/// this folder writes `.gas-snapshot`; `make gas-check` fails when a figure grows by more than 2% without the
/// snapshot being updated (`make gas-snapshot`). Quorum 1 and quorum 3, first round and a later one.
abstract contract GasFixture is TaskMarketFixture {
    uint256 internal q1;
    uint256 internal q3;

    function setUp() public virtual override {
        super.setUp();
        q1 = _create(_params(3, 2, 1));
        q3 = _create(_params(3, 2, 3));
    }

    /// @dev A fixed seed: the draw, and so its gas, is the same on every run.
    function _seed(uint256 taskId, uint32 round, uint32 index) internal {
        uint64 seedBlock = _unit(taskId, round, index).seedBlock;
        vm.roll(seedBlock + 1);
        vm.setBlockhash(seedBlock, keccak256(abi.encode("gas", taskId, round, index)));
    }

    /// @dev Unit 0 of both tasks submitted and its quorum drawn (distinct verifiers): the vote's starting point.
    function _drawBoth() internal returns (address[] memory seats1, address[] memory seats3) {
        _claimAndSubmit(q1, 0, 0, miners[0]);
        _claimAndSubmit(q3, 0, 0, miners[0]);
        seats1 = _draw(q1, 0, 0);
        seats3 = _draw(q3, 0, 0);
    }

    /// @dev A quorum-1 task whose round 0 is accepted: its units' slots are written, as on a running network.
    function _laterTask() internal returns (uint256 taskId) {
        taskId = _create(_params(3, 2, 1));
        _acceptRound(taskId, 0);
    }

    function _submitted(uint256 taskId, uint32 round, uint32 index) internal {
        _claimAndSubmit(taskId, round, index, miners[index % miners.length]);
        _seed(taskId, round, index);
    }
}

contract CreateTaskGasTest is GasFixture {
    function test_createTask_q1_gas() public {
        _create(_params(3, 2, 1));
    }

    function test_createTask_q3_gas() public {
        _create(_params(3, 2, 3));
    }
}

contract ClaimGasTest is GasFixture {
    uint256 internal later;

    function setUp() public override {
        super.setUp();
        later = _create(_params(3, 2, 1));
        _acceptRound(later, 0);
    }

    function test_claimUnits_firstRound_gas() public {
        _claim(q1, 0, 0, miners[0]);
    }

    /// @dev The same unit one round on: what a round costs once the first has written its slots.
    function test_claimUnits_laterRound_gas() public {
        _claim(later, 1, 0, miners[0]);
    }
}

contract SubmitGasTest is GasFixture {
    function setUp() public override {
        super.setUp();
        _claim(q1, 0, 0, miners[0]);
    }

    function test_submitResults_gas() public {
        vm.prank(miners[0]);
        market.submitResults(q1, 0, Batch.one(0), Batch.word(_result(q1, 0, 0, miners[0])), Batch.word(_model(q1, 0, 0)));
    }
}

contract DrawGasTest is GasFixture {
    function setUp() public override {
        super.setUp();
        _submitted(q1, 0, 0);
        _submitted(q3, 0, 0);
    }

    function test_drawVerifiers_q1_gas() public {
        market.drawVerifiers(q1, 0, Batch.one(0));
    }

    function test_drawVerifiers_q3_gas() public {
        market.drawVerifiers(q3, 0, Batch.one(0));
    }
}

contract VoteGasTest is GasFixture {
    address[] internal seats1;
    address[] internal seats3;

    function setUp() public override {
        super.setUp();
        (seats1, seats3) = _drawBoth();
        _commit(q3, 0, 0, seats3[0], true);
        _commit(q3, 0, 0, seats3[1], true);
    }

    /// @dev The only commit opens the reveals.
    function test_commitVotes_q1_gas() public {
        _commit(q1, 0, 0, seats1[0], true);
    }

    /// @dev The last of three commits opens the reveals.
    function test_commitVotes_q3Last_gas() public {
        _commit(q3, 0, 0, seats3[2], true);
    }
}

contract RevealGasTest is GasFixture {
    address[] internal seats1;
    address[] internal seats3;

    function setUp() public override {
        super.setUp();
        (seats1, seats3) = _drawBoth();
        _commit(q1, 0, 0, seats1[0], true);
        for (uint256 i; i < 3; ++i) {
            _commit(q3, 0, 0, seats3[i], true);
        }
        _reveal(q3, 0, 0, seats3[0], true);
        _reveal(q3, 0, 0, seats3[1], true);
    }

    /// @dev The only reveal decides and settles the unit: the miner and the seat are paid.
    function test_revealVotes_q1Settles_gas() public {
        _reveal(q1, 0, 0, seats1[0], true);
    }

    /// @dev The last of three reveals decides and settles the unit.
    function test_revealVotes_q3LastSettles_gas() public {
        _reveal(q3, 0, 0, seats3[2], true);
    }
}

contract WithdrawGasTest is GasFixture {
    function setUp() public override {
        super.setUp();
        _acceptUnit(q1, 0, 0, miners[0]);
    }

    function test_withdraw_gas() public {
        vm.prank(miners[0]);
        market.withdraw();
    }
}

/// @dev Round 1 of a quorum-1 task, each step in its own contract: the steady state of a running network, where a
/// unit's slots (and its miner's and verifiers' credit) were written by the round before.
abstract contract LaterRoundGasFixture is GasFixture {
    uint256 internal later;
    address internal seat;

    function setUp() public virtual override {
        super.setUp();
        later = _laterTask();
    }
}

contract LaterSubmitGasTest is LaterRoundGasFixture {
    function setUp() public override {
        super.setUp();
        _claim(later, 1, 0, miners[0]);
    }

    function test_submitResults_laterRound_gas() public {
        vm.prank(miners[0]);
        market.submitResults(later, 1, Batch.one(0), Batch.word(_result(later, 1, 0, miners[0])), Batch.word(_model(later, 1, 0)));
    }
}

contract LaterDrawGasTest is LaterRoundGasFixture {
    function setUp() public override {
        super.setUp();
        _submitted(later, 1, 0);
    }

    function test_drawVerifiers_q1LaterRound_gas() public {
        market.drawVerifiers(later, 1, Batch.one(0));
    }
}

contract LaterCommitGasTest is LaterRoundGasFixture {
    function setUp() public override {
        super.setUp();
        _claimAndSubmit(later, 1, 0, miners[0]);
        seat = _draw(later, 1, 0)[0];
    }

    function test_commitVotes_q1LaterRound_gas() public {
        _commit(later, 1, 0, seat, true);
    }
}

contract LaterRevealGasTest is LaterRoundGasFixture {
    function setUp() public override {
        super.setUp();
        _claimAndSubmit(later, 1, 0, miners[0]);
        seat = _draw(later, 1, 0)[0];
        _commit(later, 1, 0, seat, true);
    }

    /// @dev The only reveal decides and settles the unit.
    function test_revealVotes_q1SettlesLaterRound_gas() public {
        _reveal(later, 1, 0, seat, true);
    }
}

/// @dev Round 1's aggregation unit, once its training units are accepted: claimed and submitted in one call.
contract LaterAggregateGasTest is LaterRoundGasFixture {
    function setUp() public override {
        super.setUp();
        _acceptUnit(later, 1, 0, miners[0]);
        _acceptUnit(later, 1, 1, miners[1]);
    }

    function test_claimAndSubmit_aggregationLaterRound_gas() public {
        vm.prank(miners[2]);
        market.claimAndSubmit(later, 1, 2, _result(later, 1, 2, miners[2]), _model(later, 1, 2));
    }
}

/// @dev Round 1 of a quorum-1 task of four units: a whole round's training units in one call per phase.
abstract contract LaterBatchGasFixture is GasFixture {
    uint256 internal later4;
    uint32[] internal four;

    function setUp() public virtual override {
        super.setUp();
        later4 = _create(_params(3, 4, 1));
        _acceptRound(later4, 0);
        four = [uint32(0), 1, 2, 3];
    }

    function _digests(string memory kind) internal view returns (bytes32[] memory d) {
        d = new bytes32[](4);
        for (uint256 i; i < 4; ++i) d[i] = keccak256(abi.encode(kind, later4, i));
    }
}

contract LaterBatchClaimGasTest is LaterBatchGasFixture {
    function test_claimUnits_fourLaterRound_gas() public {
        vm.prank(miners[0]);
        market.claimUnits(later4, 1, four);
    }
}

contract LaterBatchSubmitGasTest is LaterBatchGasFixture {
    function setUp() public override {
        super.setUp();
        vm.prank(miners[0]);
        market.claimUnits(later4, 1, four);
    }

    function test_submitResults_fourLaterRound_gas() public {
        vm.prank(miners[0]);
        market.submitResults(later4, 1, four, _digests("result"), _digests("model"));
    }
}

contract LaterBatchDrawGasTest is LaterBatchGasFixture {
    function setUp() public override {
        super.setUp();
        vm.startPrank(miners[0]);
        market.claimUnits(later4, 1, four);
        market.submitResults(later4, 1, four, _digests("result"), _digests("model"));
        vm.stopPrank();
        _seed(later4, 1, 0); // the batch shares unit 0's seed block
    }

    function test_drawVerifiers_fourQ1LaterRound_gas() public {
        market.drawVerifiers(later4, 1, four);
    }
}
