"""``dml demo --privacy split``: the owner's side of the demo's split task — what its model scores each round."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from node.chain.contract import TaskMarket
from node.errors import NodeError
from node.ml.evaluate import evaluate
from node.ml.model import state_from_bytes
from node.protocol.material import material_of
from node.roles.owner import owner_model, private_path
from node.store.cid import to_cid
from node.store.client import StoreClient


@dataclass(frozen=True, slots=True)
class SplitRun:
    """The demo's task in split mode, after the same task in plain mode."""

    task_id: int
    split_task_s: float  # from submission to completion
    plain_task_s: float
    owner_accuracy: dict[int, float]  # per round: the owner's private layers with the round's public middle

    @property
    def overhead(self) -> float:
        """Task wall time, split / plain."""
        return self.split_task_s / self.plain_task_s


def owner_accuracy(
    market: TaskMarket, store: StoreClient, chain: str, owner_dir: Path, task_id: int, timeout_s: float
) -> dict[int, float]:
    """The owner's model after each round of a split task: the private layers its node combined (waited for: the
    node combines the last round's once it sees the task complete) with the round's public middle."""
    task = market.get_task(task_id)
    rounds = task.params.rounds
    deadline = time.monotonic() + timeout_s
    while not private_path(owner_dir, chain, task_id, rounds).exists():
        if time.monotonic() > deadline:
            raise NodeError(f"the owner's node did not combine the last round of task {task_id} in {timeout_s:.0f}s")
        time.sleep(0.2)  # polling a file the owner's node writes, under the deadline above
    material = material_of(task, store.get)
    out = {}
    for r in range(rounds):
        digest = task.state.final_model_digest if r == rounds - 1 else market.round_input(task_id, r + 1)
        public = state_from_bytes(store.get(to_cid(digest)), material.model_specs)
        whole = owner_model(owner_dir, chain, task_id, r + 1, public, material)
        if whole is None:  # pragma: no cover - every round's file is written before the next round's
            raise NodeError(f"the owner's layers of round {r + 1} of task {task_id} are missing from {owner_dir}")
        out[r] = evaluate(material.spec.model, whole, material.test_set()).accuracy
    return out
