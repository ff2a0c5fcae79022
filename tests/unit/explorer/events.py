"""Synthetic TaskMarket events for the explorer's unit tests: one task of one unit and its aggregate, with a
rejection on the way, as the contract would emit them."""

from __future__ import annotations

from typing import Any

from explorer.index import IndexedBlock
from node.chain.events import ChainEvent

OWNER, MINER, CHEAT = "0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20
VERIFIERS = ["0x" + f"{i:02x}" * 20 for i in (0x44, 0x55, 0x66)]
HUGE = 50 * 10**18  # beyond SQLite's 64-bit integers
PARAMS = {
    "specDigest": b"\x01" * 32, "datasetDigest": b"\x02" * 32, "initialModelDigest": b"\x03" * 32, "rounds": 1,
    "unitsPerRound": 1, "quorum": 3, "claimTimeout": 60, "commitTimeout": 60, "revealTimeout": 60,
    "minerReward": HUGE, "aggregatorReward": 10**18, "verifierReward": 10**17, "unitBond": 10**18,
    "voteBond": 4 * 10**17, "challengeWindow": 0,
}  # fmt: skip


def _unit(r: int, i: int) -> dict[str, Any]:
    return {"taskId": 1, "round": r, "index": i}


def _vote(index: int, epoch: int, miner: str, result: bytes, valid: bool) -> list[tuple[str, dict[str, Any]]]:
    u = _unit(0, index)
    out: list[tuple[str, dict[str, Any]]] = [
        ("ResultSubmitted", {**u, "miner": miner, "resultDigest": result, "modelDigest": b"\x09" * 32, "epoch": epoch,
                             "commitDeadline": 100}),
    ]  # fmt: skip
    out += [("VerifierDrawn", {**u, "verifier": v, "epoch": epoch, "seat": s}) for s, v in enumerate(VERIFIERS)]
    out += [("QuorumDrawn", {**u, "epoch": epoch, "level": 0, "commitDeadline": 200})]
    out += [
        ("VoteCommitted", {**u, "verifier": v, "epoch": epoch, "commitment": b"\x07" * 32, "seats": 1})
        for v in VERIFIERS
    ]
    out += [("RevealOpened", {**u, "epoch": epoch, "revealDeadline": 300})]
    out += [("VoteRevealed", {**u, "verifier": v, "epoch": epoch, "valid": valid, "seats": 1}) for v in VERIFIERS]
    votes = {"validVotes": 3 if valid else 0, "invalidVotes": 0 if valid else 3}
    out += [("VerdictReached", {**u, "level": 0, "valid": valid, **votes, "challengeDeadline": 300})]
    out += [("Credited", {"account": v, "taskId": 1, "amount": 10**17}) for v in VERIFIERS]
    if valid:
        out += [("Credited", {"account": miner, "taskId": 1, "amount": HUGE if index == 0 else 10**18})]
        out += [("UnitAccepted", {**u, "miner": miner, "resultDigest": result, **votes})]
    else:
        out += [("StakeSlashed", {"account": miner, "taskId": 1, "round": 0, "index": index, "amount": 10**18,
                                  "unbonding": 0})]  # fmt: skip
        out += [("UnitRejected", {**u, "miner": miner, "resultDigest": result, **votes})]
    return out


def lifecycle() -> list[tuple[str, dict[str, Any]]]:
    """(name, args) in chain order."""
    out: list[tuple[str, dict[str, Any]]] = [
        ("StakeDeposited", {"account": MINER, "amount": 5 * 10**18, "total": 5 * 10**18}),
        ("TaskCreated", {"taskId": 1, "owner": OWNER, "params": PARAMS, "budget": HUGE + 10**18 + 6 * 10**17}),
        ("UnitClaimed", {**_unit(0, 0), "miner": CHEAT, "deadline": 90, "bond": 10**18}),
    ]
    out += _vote(0, 1, CHEAT, b"\xbb" * 32, valid=False)
    out += [("UnitClaimed", {**_unit(0, 0), "miner": MINER, "deadline": 400, "bond": 10**18})]
    out += _vote(0, 2, MINER, b"\xaa" * 32, valid=True)
    out += [("UnitClaimed", {**_unit(0, 1), "miner": MINER, "deadline": 500, "bond": 10**18})]
    out += _vote(1, 1, MINER, b"\xcc" * 32, valid=True)
    out += [
        ("TaskCompleted", {"taskId": 1, "finalModelDigest": b"\x09" * 32}),
        ("EscrowRefunded", {"taskId": 1, "owner": OWNER, "amount": 7 * 10**17}),
        ("Credited", {"account": OWNER, "taskId": 1, "amount": 7 * 10**17}),
    ]
    return out


def as_chain(
    events: list[tuple[str, dict[str, Any]]], *, per_block: int = 3
) -> tuple[list[ChainEvent], dict[int, IndexedBlock]]:
    """The events spread over blocks from 10 on, ``per_block`` to a block, and those blocks."""
    chain_events, blocks = [], {}
    for n, (name, args) in enumerate(events):
        block = 10 + n // per_block
        blocks[block] = IndexedBlock(block, "0x" + f"{block:064x}", 1_000 + block)
        chain_events.append(ChainEvent(name, args, block, n % per_block, "0x" + f"{n:064x}"))
    return chain_events, blocks
