"""The hashes the contract and the nodes must agree on (DESIGN.md §4), computed off-chain.

Each one has a shared test vector checked both here and in the forge tests.
"""

from __future__ import annotations

import secrets

from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

SALT_BYTES = 32


def vote_commitment(task_id: int, round_: int, index: int, verifier: str, valid: bool, salt: bytes) -> bytes:
    """``keccak256(abi.encode(taskId, round, index, verifier, valid, salt))``."""
    if len(salt) != SALT_BYTES:
        raise ValueError(f"a vote salt is {SALT_BYTES} bytes, got {len(salt)}")
    return keccak(
        encode(
            ["uint256", "uint32", "uint32", "address", "bool", "bytes32"],
            [task_id, round_, index, to_checksum_address(verifier), valid, salt],
        )
    )


def unit_seed(task_id: int, round_: int, index: int, miner: str) -> bytes:
    """``keccak256(abi.encode(taskId, round, index, miner))``: seeds a unit's batch order and dropout."""
    return keccak(
        encode(["uint256", "uint32", "uint32", "address"], [task_id, round_, index, to_checksum_address(miner)])
    )


def challenge_seed(submission_block_hash: bytes, verifier: str) -> bytes:
    """``keccak256(blockhash(submission block), verifier)``: which segments a verifier re-executes."""
    if len(submission_block_hash) != 32:
        raise ValueError("a block hash is 32 bytes")
    return keccak(encode(["bytes32", "address"], [submission_block_hash, to_checksum_address(verifier)]))


def new_salt() -> bytes:
    """A fresh 32-byte vote salt from the OS's CSPRNG."""
    return secrets.token_bytes(SALT_BYTES)
