from __future__ import annotations

import pytest

from node.chain.hashing import challenge_seed, new_salt, unit_seed, vote_commitment

# The same vectors are asserted by contracts/test/TaskMarket.t.sol (test_commitmentOf_matchesTheSharedVector).
VERIFIER = "0x00000000000000000000000000000000000000a1"
SALT = bytes.fromhex("11" * 32)
COMMITMENT = "ff1635fcd83a365b4d05d5964d77a1ff36966c1396b2a459eae19802d4b3f21b"
SEED = "d6e7a5c2b51cb209b4c3909024f022caead86140730929ee9aa46b18109b910b"


def test_vote_commitment_matches_the_shared_vector() -> None:
    assert vote_commitment(7, 1, 2, VERIFIER, True, SALT).hex() == COMMITMENT


def test_vote_commitment_binds_every_field() -> None:
    base = vote_commitment(7, 1, 2, VERIFIER, True, SALT)
    variants = [
        vote_commitment(8, 1, 2, VERIFIER, True, SALT),
        vote_commitment(7, 2, 2, VERIFIER, True, SALT),
        vote_commitment(7, 1, 3, VERIFIER, True, SALT),
        vote_commitment(7, 1, 2, "0x00000000000000000000000000000000000000a2", True, SALT),
        vote_commitment(7, 1, 2, VERIFIER, False, SALT),
        vote_commitment(7, 1, 2, VERIFIER, True, bytes.fromhex("12" * 32)),
    ]
    assert len({base, *variants}) == 7


def test_vote_commitment_refuses_a_short_salt() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        vote_commitment(7, 1, 2, VERIFIER, True, b"\x11" * 31)


def test_unit_seed_matches_the_shared_vector() -> None:
    assert unit_seed(7, 1, 2, VERIFIER).hex() == SEED


def test_challenge_seed_differs_per_verifier() -> None:
    block_hash = bytes(range(32))
    a = challenge_seed(block_hash, VERIFIER)
    b = challenge_seed(block_hash, "0x00000000000000000000000000000000000000a2")
    assert a != b
    assert len(a) == 32


def test_new_salt_is_fresh() -> None:
    salts = {new_salt() for _ in range(100)}
    assert len(salts) == 100
    assert all(len(s) == 32 for s in salts)
