"""A node's services over the fake market and an in-memory store, with real material (a small digits task), a real
SQLite state and a mode that publishes stand-in trails: what the roles' state-machine tests drive."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.chain.types import UnitStatus
from node.config import NodeSettings
from node.metrics import NodeMetrics
from node.ml.evaluate import Evaluation
from node.ml.material import TaskMaterial
from node.ml.model import State
from node.ml.verify import Outcome, Verdict
from node.protocol.modes import TrailToJudge, TrainedUnit, UnitJob
from node.roles.context import Services
from node.state import open_state
from node.store.cid import to_digest
from testkit.world import World, make_world
from tests.unit.node.fakes import FakeMarket, task_of, unit_of

TASK = 1


@dataclass
class StubMode:
    """Publishes a stand-in trail per unit (what a unit's training produces is not what these tests are about) and
    counts each training; ``fails`` makes the next trainings raise (the owner's node not answering, a crash)."""

    name: str = "stub"
    owner_in_loop: bool = False
    initial_model_refused: str | None = None
    trained: list[tuple[int, int]] = field(default_factory=list)
    fails: list[BaseException] = field(default_factory=list)

    def network_model(self, whole: State) -> State:
        return whole

    def train(self, job: UnitJob) -> TrainedUnit:
        if self.fails:
            raise self.fails.pop(0)
        self.trained.append((job.ref.round, job.ref.index))
        trail = job.put(f"trail {job.ref.key} {job.ref.miner}".encode())
        return TrainedUnit(trail, job.put(f"model {job.ref.key}".encode()), 0.5)

    def verify(self, trail: TrailToJudge) -> Verdict:
        return Verdict(Outcome.VALID, "stub")

    def evaluate(self, material: TaskMaterial, model: State) -> Evaluation | None:
        return None


@dataclass
class Node:
    world: World
    market: FakeMarket
    services: Services

    def restarted(self, tmp_path: Path, **settings: Any) -> Services:
        """The same account's node started again on the same data dir (its in-memory caches gone)."""
        self.services.state.close()
        return services_of(self.world, self.market, tmp_path, **settings)


def services_of(world: World, market: FakeMarket, tmp_path: Path, **settings: Any) -> Services:
    s = NodeSettings(**{"roles": ["miner"], "data_dir": tmp_path, "dev_account": 0, **settings})
    state = open_state(tmp_path / "state.sqlite", "fake-chain")
    state.add_task(TASK, 0)
    return Services(settings=s, market=market, store=world.store, state=state, metrics=NodeMetrics())  # type: ignore[arg-type]


def node(tmp_path: Path, *, units: int = 4, **settings: Any) -> Node:
    world = make_world()
    market = FakeMarket()
    task = task_of(TASK, spec_cid=world.spec_cid, dataset_cid=world.dataset_cid, input_cid=world.input_cid, units=units)
    market.tasks[TASK] = task
    market.inputs[(TASK, 0)] = to_digest(world.input_cid)
    market.units[(TASK, 0)] = [unit_of() for _ in range(units + 1)]
    market.stakes[market.me] = 10**18
    return Node(world, market, services_of(world, market, tmp_path, **settings))


def statuses(market: FakeMarket) -> list[UnitStatus]:
    return [u.status for u in market.units[(TASK, 0)]]
