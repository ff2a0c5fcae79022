"""Byzantine miners, FOR TESTS AND DEMONSTRATIONS ONLY: they exist so that tests and ``dml demo --byzantine``
can show cheats being caught. A cheating miner claims and submits like an honest one, but publishes:

- ``noise``: random tensors where the trail's checkpoints should be;
- ``copy``: another miner's trail of this round, relabelled as its own (its seed does not re-execute it);
- ``replay``: a trail trained from an earlier round's input (or a random model in round 0).
"""

from __future__ import annotations

import logging

import torch

from node.chain.hashing import unit_seed
from node.chain.types import Task, UnitStatus
from node.ml.manifest import parse_trail, publish_trail
from node.ml.model import State, build_module, state_of
from node.ml.train import Checkpoint, Trail, train_unit
from node.roles.context import Services, TaskMaterial
from node.roles.miner import MinerRole
from node.state import Work
from node.store.canonical import canonical_bytes
from node.store.cid import to_cid

log = logging.getLogger(__name__)

CHEATS = ("noise", "copy", "replay")


class CheatingMinerRole(MinerRole):
    name = "miner"

    def __init__(self, services: Services, cheat: str) -> None:
        if cheat not in CHEATS:
            raise ValueError(f"unknown cheat {cheat!r}: one of {', '.join(CHEATS)}")
        super().__init__(services, train=True, aggregate=False)
        self.cheat = cheat

    def _train(self, task: Task, work: Work, material: TaskMaterial) -> tuple[str, str]:
        log.warning(
            "cheating", extra={"task": task.task_id, "round": work.round, "unit": work.unit, "cheat": self.cheat}
        )
        if self.cheat == "copy":
            copied = self._copy(task, work)
            if copied is not None:
                return copied
        model, input_cid = self.s.round_model(task, work.round, material)
        seed = unit_seed(task.task_id, work.round, work.unit, self.s.address)
        shard = material.split.shards[work.unit]
        if self.cheat == "replay":
            old = state_of(build_module(material.spec.model, seed=work.round + 99))
            if work.round > 0:
                old, _ = self.s.round_model(task, work.round - 1, material)
            trail = train_unit(material.spec, old, shard, seed)
        else:
            trail = _noise(train_unit(material.spec, model, shard, seed))
        manifest, cid = publish_trail(
            trail, self.s.store.put, task_id=task.task_id, round_=work.round, index=work.unit, miner=self.s.address,
            spec_cid=material.spec_cid, dataset_cid=material.dataset_cid, input_model_cid=input_cid,
        )  # fmt: skip
        return cid, manifest.final_model

    def _copy(self, task: Task, work: Work) -> tuple[str, str] | None:
        for index in range(task.params.units_per_round):
            unit = self.s.market.get_unit(task.task_id, work.round, index)
            if unit.miner != self.s.address and unit.status in (
                UnitStatus.SUBMITTED,
                UnitStatus.REVEALING,
                UnitStatus.ACCEPTED,
            ):
                theirs = parse_trail(self.s.fetch(to_cid(unit.result_digest)))
                mine = theirs.model_copy(update={"miner": self.s.address, "index": work.unit})
                return self.s.store.put(canonical_bytes(mine)), mine.final_model
        return None


def _noise(trail: Trail) -> Trail:
    g = torch.Generator().manual_seed(7)

    def noisy(state: State) -> State:
        return {k: (torch.randn(v.shape, generator=g) if v.is_floating_point() else v) for k, v in state.items()}

    fakes = [Checkpoint(c.step, noisy(c.model), noisy(c.optimizer)) for c in trail.checkpoints[1:]]
    return Trail([trail.checkpoints[0], *fakes], trail.segment_losses, trail.samples)
