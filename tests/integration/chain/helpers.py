"""Drivers for integration tests: walk units through their life with real transactions."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from node.chain.contract import TaskMarket
from node.chain.hashing import new_salt
from node.chain.types import TaskParams, seats_at

ETHER = 10**18


def digest(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def params(rounds: int = 2, units: int = 2, quorum: int = 3, **overrides: int) -> TaskParams:
    values: dict[str, object] = {
        "spec_digest": digest("spec"),
        "dataset_digest": digest("dataset"),
        "initial_model_digest": digest("model-0"),
        "rounds": rounds,
        "units_per_round": units,
        "quorum": quorum,
        "claim_timeout": 600,
        "commit_timeout": 600,
        "reveal_timeout": 600,
        "miner_reward": ETHER,
        "aggregator_reward": ETHER // 2,
        "verifier_reward": ETHER // 10,
        "unit_bond": ETHER // 2,
        "vote_bond": ETHER * 2 // 5,
        "challenge_window": 0,
    }
    values.update(overrides)
    return TaskParams(**values)  # type: ignore[arg-type]


@dataclass(eq=False)
class Voter:
    market: TaskMarket
    salts: dict[tuple[int, int, int, int], bytes]

    @property
    def address(self) -> str:
        return self.market.signer.address

    def commit(self, task_id: int, round_: int, index: int, valid: bool) -> None:
        epoch = self.market.get_unit(task_id, round_, index).epoch
        # Stored before the commit is sent, and never replaced: a refused second commit must not lose the salt
        # of the first one.
        salt = self.salts.setdefault((task_id, round_, index, epoch), new_salt())
        self.market.commit_vote_for(task_id, round_, index, valid, salt)

    def reveal(self, task_id: int, round_: int, index: int, valid: bool) -> None:
        epoch = self.market.get_unit(task_id, round_, index).epoch
        self.market.reveal_vote(task_id, round_, index, valid, self.salts[(task_id, round_, index, epoch)])


def submit(miner: TaskMarket, task_id: int, round_: int, index: int) -> tuple[bytes, bytes]:
    result = digest(f"result/{task_id}/{round_}/{index}/{miner.signer.address}")
    model = digest(f"model/{task_id}/{round_}/{index}")
    miner.submit_result(task_id, round_, index, result, model)
    return result, model


def seated(voters: list[Voter], task_id: int, round_: int, index: int) -> list[Voter]:
    """Draws the unit's quorum (any account may) and returns the voters it seated, each once, in seat order."""
    market = voters[0].market
    unit = market.get_unit(task_id, round_, index)
    if unit.seats < seats_at(market.get_task(task_id).params.quorum, unit.level):
        market.draw_verifiers(task_id, round_, index)
    by_address = {v.address.lower(): v for v in voters}
    out: list[Voter] = []
    for address in market.get_seats(task_id, round_, index):
        voter = by_address[address.lower()]
        if voter not in out:
            out.append(voter)
    return out


def vote(voters: list[Voter], task_id: int, round_: int, index: int, valid: bool) -> list[Voter]:
    """Draws the quorum from ``voters`` (all in the pool); every seated voter commits then reveals ``valid`` once
    for all of its seats. Returns the seated voters."""
    judges = seated(voters, task_id, round_, index)
    for voter in judges:
        voter.commit(task_id, round_, index, valid)
    for voter in judges:
        voter.reveal(task_id, round_, index, valid)
    return judges
