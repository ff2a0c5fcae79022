// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITaskMarket} from "../../src/interfaces/ITaskMarket.sol";

/// @notice Stakes, earns credit through an unstake, and tries to re-enter `withdraw` from its receive hook.
contract ReentrantReceiver {
    ITaskMarket public immutable market;
    uint256 public reentryAttempts;
    bool public reentrySucceeded;
    bytes public reentryError;

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

    function attack() external {
        market.withdraw();
    }

    receive() external payable {
        if (reentryAttempts == 0) {
            reentryAttempts = 1;
            try market.withdraw() {
                reentrySucceeded = true;
            } catch (bytes memory err) {
                reentryError = err;
            }
        }
    }
}
