"""A task's progress as the owner sees it: unit states per round, outcomes from events, and each round's model
evaluated as its task's kind measures it (accuracy, or a language model's validation loss)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from node.chain.contract import TaskMarket
from node.chain.events import ChainEvent
from node.chain.types import Task, TaskStatus, UnitStatus
from node.daemon import REREAD_BLOCKS  # how far back a reorganisation is looked for, as a node does
from node.ml.evaluate import Evaluation, metric_name
from node.ml.material import TaskMaterial
from node.ml.model import state_from_bytes
from node.protocol.material import material_of
from node.protocol.modes import mode_of
from node.store.cid import to_cid
from node.store.client import StoreClient


@dataclass
class Progress:
    task: Task
    units: list[UnitStatus]
    accepted: int = 0
    rejected: int = 0
    expired: int = 0
    slashed_wei: int = 0
    # Each evaluated round's headline figure (``metric``: accuracy, validation loss or mse) and whole evaluation.
    figures: dict[int, float] = field(default_factory=dict)
    metric: str = "accuracy"
    evaluations: dict[int, Evaluation] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        s = self.task.state
        return s.status is TaskStatus.COMPLETED or (s.status is TaskStatus.CANCELLED and s.in_flight == 0)


class ProgressReader:
    """Reads progress incrementally (events from a cursor) and evaluates each new global model once."""

    def __init__(self, market: TaskMarket, store: StoreClient, task_id: int, from_block: int) -> None:
        self.market = market
        self.store = store
        self.task_id = task_id
        self.from_block = from_block
        self.cursor = from_block
        # The task's events read so far, by (transaction, log index): the last REREAD_BLOCKS are read again each time,
        # so an event a reorganisation dropped is forgotten and one it mined again is counted once.
        self.events: dict[tuple[str, int], ChainEvent] = {}
        self.reader = market.events()
        self.counts: Counter[str] = Counter()
        self.slashed = 0
        self.evaluations: dict[int, Evaluation] = {}
        self._material_cache: TaskMaterial | None = None
        self._evaluable = True  # False once the task's mode has said only the owner's node can evaluate its model

    def _material(self, task: Task) -> TaskMaterial:
        if self._material_cache is None:
            self._material_cache = material_of(task, self.store.get)
        return self._material_cache

    def read(self, *, evaluate_models: bool = True) -> Progress:
        task = self.market.get_task(self.task_id)
        head = self.reader.head()
        if head >= self.cursor:
            start = max(self.from_block, self.cursor - REREAD_BLOCKS)
            fresh = {
                (e.tx_hash, e.log_index): e
                for e in self.reader.iter(start, head)
                if e.args.get("taskId") == self.task_id
            }
            kept = {k: e for k, e in self.events.items() if e.block_number < start}
            self.events = {**kept, **fresh}
            self.counts = Counter(e.name for e in self.events.values())
            self.slashed = sum(int(e.args["amount"]) for e in self.events.values() if e.name == "StakeSlashed")
            self.cursor = head + 1
        r = task.state.current_round
        units = [self.market.get_unit(self.task_id, r, i).status for i in range(task.params.units_per_round + 1)]
        if evaluate_models:
            self._evaluate(task)
        return Progress(
            task=task,
            units=units,
            accepted=self.counts["UnitAccepted"],
            rejected=self.counts["UnitRejected"],
            expired=self.counts["UnitExpired"],
            slashed_wei=self.slashed,
            figures={r: e.headline[1] for r, e in self.evaluations.items()},
            metric=next((metric_name(e) for e in self.evaluations.values()), "accuracy"),
            evaluations=dict(self.evaluations),
        )

    def _evaluate(self, task: Task) -> None:
        if not self._evaluable:
            return
        material = self._material(task)
        specs = material.model_specs
        mode = mode_of(material.spec)
        done_rounds = task.state.current_round + (1 if task.state.final_model_digest != b"\0" * 32 else 0)
        for r in range(done_rounds):
            if r in self.evaluations:
                continue
            digest = (
                task.state.final_model_digest
                if r == task.params.rounds - 1
                else self.market.round_input(self.task_id, r + 1)
            )
            figure = mode.evaluate(material, state_from_bytes(self.store.get(to_cid(digest)), specs))
            if figure is None:
                self._evaluable = False
                return  # split mode: the network's model is the public middle; only the owner's node can evaluate
            self.evaluations[r] = figure


def progress_signature(p: Progress) -> tuple[object, ...]:
    """What changes when a task moves: its round, each unit's status, the outcomes counted."""
    return (p.task.state.current_round, tuple(p.units), p.accepted, p.rejected, p.expired)


# What a unit in each status waits for, most advanced last (the slowest stage is the least advanced unit's).
_WAITS = (
    (UnitStatus.OPEN, "a miner to claim it"),
    (UnitStatus.CLAIMED, "its miner's training"),
    (UnitStatus.SUBMITTED, "its verifiers to be drawn, re-execute and commit"),
    (UnitStatus.REVEALING, "its verifiers' reveals"),
    (UnitStatus.DECIDED, "its challenge window to close"),
)


def waiting_on(p: Progress) -> str:
    """Round and units of a task that has not moved, and what its least advanced units wait for."""
    for status, what in _WAITS:
        stuck = [i for i, u in enumerate(p.units) if u is status]
        if stuck:
            names = ", ".join("Σ" if i == len(p.units) - 1 else str(i) for i in stuck)
            return f"round {p.task.state.current_round + 1}: unit {names} waits for {what}"
    return f"round {p.task.state.current_round + 1}: every unit accepted, the next round not open yet"
