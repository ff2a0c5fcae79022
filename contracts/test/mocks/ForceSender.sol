// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Forces ETH into a contract that has no receive function (selfdestruct still sends after Cancun).
contract ForceSender {
    constructor(address payable target) payable {
        selfdestruct(target);
    }
}
