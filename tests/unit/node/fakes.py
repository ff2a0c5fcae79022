"""A small in-process chain reader for unit tests of the unit protocol's logic (the judge, the audit's checks): tasks
and units as the contract would report them, held in dictionaries. The chain itself is tested against Anvil."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from node.chain.types import Task, TaskParams, TaskState, TaskStatus, UnitInfo, UnitStatus
from node.store.cid import to_digest

OWNER = "0x" + "0a" * 20
CONTRACT = "0x" + "c0" * 20


def task_of(task_id: int, *, spec_cid: str, dataset_cid: str, input_cid: str, units: int, quorum: int = 1) -> Task:
    params = TaskParams(
        spec_digest=to_digest(spec_cid), dataset_digest=to_digest(dataset_cid),
        initial_model_digest=to_digest(input_cid), rounds=1, units_per_round=units, quorum=quorum,
        claim_timeout=600, commit_timeout=60, reveal_timeout=60, miner_reward=10, aggregator_reward=10,
        verifier_reward=1, unit_bond=10, vote_bond=4, challenge_window=60,
    )  # fmt: skip
    state = TaskState(OWNER, TaskStatus.ACTIVE, 0, 0, units, 0, params.budget, b"\0" * 32)
    return Task(task_id, params, state)


def unit_of(status: UnitStatus = UnitStatus.OPEN, miner: str = "0x" + "00" * 20, **fields: object) -> UnitInfo:
    base = UnitInfo(status, miner, 0, 0, 0, 0, 0, 0, 0, b"\0" * 32, b"\0" * 32)
    return replace(base, **fields)  # type: ignore[arg-type]


@dataclass
class FakeChain:
    """Tasks, their units by (task, round) and each round's input digest; reads as :class:`MarketReader` asks."""

    tasks: dict[int, Task] = field(default_factory=dict)
    units: dict[tuple[int, int], list[UnitInfo]] = field(default_factory=dict)
    inputs: dict[tuple[int, int], bytes] = field(default_factory=dict)
    address: str = CONTRACT
    chain_id: int = 31337

    def get_task(self, task_id: int, *, block: int | str = "latest") -> Task:
        return self.tasks[task_id]

    def get_unit(self, task_id: int, round_: int, index: int, *, block: int | str = "latest") -> UnitInfo:
        return self.units[(task_id, round_)][index]

    def get_units(self, task_id: int, round_: int, *, block: int | str = "latest") -> list[UnitInfo]:
        return list(self.units[(task_id, round_)])

    def round_input(self, task_id: int, round_: int) -> bytes:
        return self.inputs[(task_id, round_)]

    def block_hash(self, number: int) -> bytes:
        return number.to_bytes(32, "big")
