"""Byzantine miners and verifiers, FOR TESTS AND DEMONSTRATIONS ONLY: they exist so that tests and
``dml demo --byzantine`` can show cheats being caught and slashed. Each one takes part in the protocol like an
honest node and cheats at one step.

They plug into a node through the role registry: ``dml node run --plugin testkit.adversaries --roles cheat-noise``
(or ``lazy-approve,keeper``). Miners (``cheat-…``): ``noise`` (random tensors for checkpoints), ``copy`` (another
miner's trail of this round, relabelled), ``replay`` (a trail trained from an earlier round's input), ``fake`` (a
fraction of segments not trained), ``wrong-start`` (a trail whose first checkpoint is not the round's input),
``idle`` (claims, never submits), ``fake-output`` (split mode: answers the owner's node with outputs its middle did
not compute, and records them as sent). Verifiers (``lazy-…``): ``approve`` (votes valid without checking), ``reject``
(votes invalid on everything), ``copy`` (commits another verifier's commitment), ``silent`` (commits, never
reveals).
"""

from __future__ import annotations

import functools
import logging
import random

import torch

from node.chain.events import EventReader
from node.chain.types import Task, UnitInfo, UnitStatus
from node.ml import spec as sp
from node.ml.data import Dataset
from node.ml.manifest import parse_trail, publish_trail
from node.ml.material import TaskMaterial
from node.ml.model import State, build_module, state_of, state_to_bytes
from node.ml.train import Checkpoint, Trail, first_checkpoint, run_segment, train_unit
from node.ml.verify import Outcome, Verdict
from node.protocol.unit import unit_ref
from node.roles.context import Services
from node.roles.miner import MinerRole
from node.roles.registry import register_role
from node.roles.verifier import VerifierRole
from node.state import Vote, VoteStatus, Work
from node.store.canonical import canonical_bytes
from node.store.cid import to_cid

log = logging.getLogger(__name__)

CHEATS = ("noise", "copy", "replay", "fake", "wrong-start", "idle", "fake-output")
LAZY = ("approve", "reject", "copy", "silent")


def noise_trail(trail: Trail, seed: int = 7) -> Trail:
    """The honest first checkpoint, then random tensors."""
    g = torch.Generator().manual_seed(seed)

    def noisy(state: State) -> State:
        return {k: (torch.randn(v.shape, generator=g) if v.is_floating_point() else v) for k, v in state.items()}

    fakes = [Checkpoint(c.step, noisy(c.model), noisy(c.optimizer)) for c in trail.checkpoints[1:]]
    return Trail([trail.checkpoints[0], *fakes], trail.segment_losses, trail.samples)


def partly_faked_trail(
    spec: sp.TaskSpec, start_model: State, shard: Dataset, seed: bytes, faked: set[int], nudge: float = 1e-2
) -> Trail:
    """Trains honestly except on the segments in ``faked``, whose end is the start nudged (no work done); later
    segments are trained honestly from the fake, as a cheater saving compute would."""
    current = first_checkpoint(spec, start_model)
    checkpoints = [current]
    steps = spec.training.checkpoint_steps
    g = torch.Generator().manual_seed(len(faked))
    for j, end in enumerate(steps[1:]):
        if j in faked:
            model = {k: (v + nudge * torch.randn(v.shape, generator=g) if v.is_floating_point() else v)
                     for k, v in current.model.items()}  # fmt: skip
            current = Checkpoint(end, model, current.optimizer)
        else:
            current, _ = run_segment(spec, current, end, shard, seed)
        checkpoints.append(current)
    return Trail(checkpoints, [1.0] * (len(steps) - 1), len(shard))


class _Skewed(torch.nn.Module):
    """What a faking miner puts after its middle: outputs a little off what the weights compute (a cheaper or
    tampered computation), recorded as sent."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 1.05 + 0.01


class CheatingMinerRole(MinerRole):
    name = "miner"

    def __init__(self, services: Services, cheat: str, *, fake_fraction: float = 0.5) -> None:
        if cheat not in CHEATS:
            raise ValueError(f"unknown cheat {cheat!r}: one of {', '.join(CHEATS)}")
        super().__init__(services, train=True, aggregate=False)
        self.cheat = cheat
        self.fake_fraction = fake_fraction

    def _advance(self, work: Work) -> None:
        if self.cheat == "idle":
            return  # hold the claim until it expires and the keeper slashes it
        super()._advance(work)

    def _middle_to_train(self, middle: torch.nn.Sequential) -> torch.nn.Sequential:
        if self.cheat != "fake-output":
            return middle
        return torch.nn.Sequential(*middle, _Skewed())  # no parameters: the checkpoints keep the middle's names

    def _train(self, task: Task, work: Work, material: TaskMaterial) -> tuple[str, str]:
        log.warning(
            "cheating", extra={"task": task.task_id, "round": work.round, "unit": work.unit, "cheat": self.cheat}
        )
        if self.cheat == "fake-output":  # the honest split path, through the faked middle above
            return super()._train(task, work, material)
        if self.cheat == "copy":
            copied = self._copy(task, work)
            if copied is not None:
                return copied
        ref = unit_ref(self.s.market, task, work.round, work.unit, self.s.address)
        model, _ = self.s.round_model(task, work.round, material)
        seed = ref.seed
        shard = material.shard(work.unit)
        spec = material.spec
        if self.cheat == "replay":
            old = state_of(build_module(spec.model, seed=work.round + 99))
            if work.round > 0:
                old, _ = self.s.round_model(task, work.round - 1, material)
            trail = train_unit(spec, old, shard, seed)
        elif self.cheat == "fake":
            n = len(spec.training.checkpoint_steps) - 1
            faked = set(random.Random(work.unit).sample(range(n), max(1, round(self.fake_fraction * n))))
            trail = partly_faked_trail(spec, model, shard, seed, faked)
        elif self.cheat == "wrong-start":
            other = state_of(build_module(spec.model, seed=12345))
            trail = train_unit(spec, other, shard, seed)
        else:
            trail = noise_trail(train_unit(spec, model, shard, seed))
        manifest, cid = publish_trail(trail, self.s.store.put, ref.context)
        if self.cheat == "wrong-start":
            first = manifest.checkpoints[0].model_copy(
                update={"model": self.s.store.put(state_to_bytes(trail.checkpoints[0].model))}
            )
            manifest = manifest.model_copy(update={"checkpoints": [first, *manifest.checkpoints[1:]]})
            cid = self.s.store.put(canonical_bytes(manifest))
        return cid, manifest.final_model

    def _copy(self, task: Task, work: Work) -> tuple[str, str] | None:
        for index in range(task.params.units_per_round):
            unit = self.s.market.get_unit(task.task_id, work.round, index)
            if unit.miner != self.s.address and unit.status in (
                UnitStatus.SUBMITTED,
                UnitStatus.REVEALING,
                UnitStatus.DECIDED,
                UnitStatus.ACCEPTED,
            ):
                theirs = parse_trail(self.s.fetch(to_cid(unit.result_digest)))
                mine = theirs.model_copy(update={"miner": self.s.address, "index": work.unit})
                return self.s.store.put(canonical_bytes(mine)), mine.final_model
        return None


class LazyVerifierRole(VerifierRole):
    name = "verifier"

    def __init__(self, services: Services, lazy: str) -> None:
        if lazy not in LAZY:
            raise ValueError(f"unknown lazy verifier {lazy!r}: one of {', '.join(LAZY)}")
        super().__init__(services)
        self.lazy = lazy

    def _verdict(self, task: Task, unit: UnitInfo, round_: int, index: int, material: TaskMaterial) -> Verdict:
        if self.lazy == "reject":
            return Verdict(Outcome.INVALID, "votes against everything")
        if self.lazy in ("approve", "copy", "silent"):
            return Verdict(Outcome.VALID, "approves without checking")
        return super()._verdict(task, unit, round_, index, material)  # pragma: no cover

    def _commitment_of(self, vote: Vote) -> bytes | None:
        if self.lazy != "copy":
            return super()._commitment_of(vote)
        copied = self._someone_elses_commitment(vote)
        if copied is None:
            return None  # wait for an honest verifier to commit first
        log.warning("copying a commitment", extra={"task": vote.task_id, "round": vote.round, "unit": vote.unit})
        return copied

    def _should_watch(self, task: Task, unit: UnitInfo, round_: int, index: int) -> bool:
        return False  # a lazy verifier spends nothing on re-checking others

    def _follow_up(self, vote: Vote) -> bool:
        if self.lazy in ("silent", "copy") and vote.status is VoteStatus.COMMITTED:
            # Never reveal (a copier cannot: the commitment it copied binds another verifier and salt): the bond
            # is slashed when the reveal window closes.
            return False
        return super()._follow_up(vote)

    def _someone_elses_commitment(self, vote: Vote) -> bytes | None:
        reader = EventReader(self.s.market.w3, self.s.market.address, self.s.market.contract.abi)  # type: ignore[arg-type]
        for e in reader.iter(max(0, reader.head() - 500), reader.head()):
            a = e.args
            same_ballot_box = (a.get("taskId"), a.get("round"), a.get("index"), a.get("epoch")) == (
                vote.task_id, vote.round, vote.unit, vote.epoch,
            )  # fmt: skip
            if e.name == "VoteCommitted" and same_ballot_box and a["verifier"] != self.s.address:
                return bytes(a["commitment"])
        return None


def _register() -> None:
    for cheat in CHEATS:
        register_role(f"cheat-{cheat}", functools.partial(CheatingMinerRole, cheat=cheat))
    for lazy in LAZY:
        register_role(f"lazy-{lazy}", functools.partial(LazyVerifierRole, lazy=lazy))


_register()
