// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITaskMarket} from "../../src/interfaces/ITaskMarket.sol";

/// @notice Holds credit but refuses every payment: its own withdraw fails, nobody else's may.
contract RevertingReceiver {
    ITaskMarket public immutable market;

    constructor(ITaskMarket market_) {
        market = market_;
    }

    function stakeAndUnstake(uint256 amount) external payable {
        market.stake{value: amount}();
        market.requestUnstake(amount);
    }

    function release() external {
        market.releaseUnstaked();
    }

    function withdraw() external {
        market.withdraw();
    }

    receive() external payable {
        revert("no thanks");
    }
}
