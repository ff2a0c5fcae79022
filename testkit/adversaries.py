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
from dataclasses import dataclass, replace

import torch

from node.chain.types import UnitStatus
from node.errors import StepRefused
from node.ml import spec as sp
from node.ml.data import Dataset
from node.ml.evaluate import Evaluation
from node.ml.manifest import parse_trail, publish_trail
from node.ml.material import TaskMaterial
from node.ml.model import State, build_module, state_of, state_to_bytes
from node.ml.train import Checkpoint, Trail, first_checkpoint, run_segment, train_unit
from node.ml.verify import Fetch, Outcome, Verdict
from node.protocol.chain import MarketReader
from node.protocol.judge import Judge
from node.protocol.modes import Mode, SplitMode, TrailToJudge, TrainedUnit, UnitJob, mode_of
from node.protocol.unit import UnitRef
from node.roles.ballots import Ballots
from node.roles.context import Services
from node.roles.miner import MinerRole
from node.roles.registry import register_role
from node.roles.verifier import VerifierRole
from node.state import Vote, VoteStatus
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


@dataclass(frozen=True)
class CheatingMode:
    """A task's honest mode that cheats at training: it verifies and evaluates as the honest one does."""

    honest: Mode
    cheat: str
    services: Services
    fake_fraction: float

    @property
    def name(self) -> str:
        return f"cheat-{self.cheat}"

    @property
    def owner_in_loop(self) -> bool:
        return self.honest.owner_in_loop

    @property
    def initial_model_refused(self) -> str | None:
        return self.honest.initial_model_refused

    def network_model(self, whole: State) -> State:
        return self.honest.network_model(whole)

    def verify(self, trail: TrailToJudge) -> Verdict:
        return self.honest.verify(trail)

    def evaluate(self, material: TaskMaterial, model: State) -> Evaluation | None:
        return self.honest.evaluate(material, model)

    def train(self, job: UnitJob) -> TrainedUnit:
        ref, s = job.ref, self.services
        log.warning("cheating", extra={"task": ref.task_id, "round": ref.round, "unit": ref.index, "cheat": self.cheat})
        if self.cheat == "idle":  # holds the claim until the keeper expires it, and claims nothing more here
            s.claims_paused[ref.task_id] = "idle: holds its claim, never submits"
            raise StepRefused("idle: not training")
        if self.cheat == "fake-output":  # the honest split path, through a middle whose outputs are skewed
            if not isinstance(self.honest, SplitMode):
                raise StepRefused("fake-output cheats in split mode only")
            skewed = replace(self.honest, middle=lambda middle: torch.nn.Sequential(*middle, _Skewed()))
            return skewed.train(job)  # _Skewed has no parameters: the checkpoints keep the middle's names
        if self.cheat == "copy":
            copied = self._copy(ref)
            if copied is not None:
                return copied
        spec, seed, shard, model = job.material.spec, ref.seed, job.shard, job.model
        if self.cheat == "replay":
            old = state_of(build_module(spec.model, seed=ref.round + 99))
            if ref.round > 0:
                old, _ = s.materials.round_model(ref.task, ref.round - 1, job.material)
            trail = train_unit(spec, old, shard, seed)
        elif self.cheat == "fake":
            n = len(spec.training.checkpoint_steps) - 1
            faked = set(random.Random(ref.index).sample(range(n), max(1, round(self.fake_fraction * n))))
            trail = partly_faked_trail(spec, model, shard, seed, faked)
        elif self.cheat == "wrong-start":
            other = state_of(build_module(spec.model, seed=12345))
            trail = train_unit(spec, other, shard, seed)
        else:
            trail = noise_trail(train_unit(spec, model, shard, seed))
        manifest, cid = publish_trail(trail, job.put, ref.context)
        if self.cheat == "wrong-start":
            first = manifest.checkpoints[0].model_copy(
                update={"model": job.put(state_to_bytes(trail.checkpoints[0].model))}
            )
            manifest = manifest.model_copy(update={"checkpoints": [first, *manifest.checkpoints[1:]]})
            cid = job.put(canonical_bytes(manifest))
        return TrainedUnit(cid, manifest.final_model, trail.segment_losses[-1])

    def _copy(self, ref: UnitRef) -> TrainedUnit | None:
        s = self.services
        for index in range(ref.task.params.units_per_round):
            unit = s.market.get_unit(ref.task_id, ref.round, index)
            if unit.miner != s.address and unit.status in (
                UnitStatus.SUBMITTED,
                UnitStatus.REVEALING,
                UnitStatus.DECIDED,
                UnitStatus.ACCEPTED,
            ):
                theirs = parse_trail(s.fetch(to_cid(unit.result_digest)))
                mine = theirs.model_copy(update={"miner": s.address, "index": ref.index})
                return TrainedUnit(s.store.put(canonical_bytes(mine)), mine.final_model, 1.0)
        return None


class CheatingMinerRole(MinerRole):
    """An honest miner's role training through :class:`CheatingMode`; ``idle`` claims and never trains."""

    name = "miner"

    def __init__(self, services: Services, cheat: str, *, fake_fraction: float = 0.5) -> None:
        if cheat not in CHEATS:
            raise ValueError(f"unknown cheat {cheat!r}: one of {', '.join(CHEATS)}")

        def cheating(spec: sp.TaskSpec) -> Mode:
            return CheatingMode(mode_of(spec), cheat, services, fake_fraction)

        super().__init__(services, train=True, aggregate=False, modes=cheating)
        self.cheat = cheat


def _lazy_judge(lazy: str) -> Judge:
    """A judge that looks at nothing: every unit invalid (``reject``) or valid (the others)."""

    def judged(market: MarketReader, fetch: Fetch, ref: UnitRef, **_: object) -> Verdict:
        if lazy == "reject":
            return Verdict(Outcome.INVALID, "votes against everything")
        return Verdict(Outcome.VALID, "approves without checking")

    return judged


class LazyBallots(Ballots):
    """An honest verifier's ballots, except: ``copy`` commits another verifier's commitment, ``silent`` and ``copy``
    never reveal."""

    def __init__(self, services: Services, lazy: str) -> None:
        super().__init__(services)
        self.lazy = lazy

    def commitment_of(self, vote: Vote) -> bytes | None:
        if self.lazy != "copy":
            return super().commitment_of(vote)
        copied = self._someone_elses_commitment(vote)
        if copied is None:
            return None  # wait for an honest verifier to commit first
        log.warning("copying a commitment", extra={"task": vote.task_id, "round": vote.round, "unit": vote.unit})
        return copied

    def follow_up(self, vote: Vote) -> bool:
        if self.lazy in ("silent", "copy") and vote.status is VoteStatus.COMMITTED:
            # Never reveal (a copier cannot: the commitment it copied binds another verifier and salt): the bond
            # is slashed when the reveal window closes.
            return False
        return super().follow_up(vote)

    def _someone_elses_commitment(self, vote: Vote) -> bytes | None:
        reader = self.s.market.events()
        for e in reader.iter(max(0, reader.head() - 500), reader.head()):
            a = e.args
            same_ballot_box = (a.get("taskId"), a.get("round"), a.get("index"), a.get("epoch")) == (
                vote.task_id, vote.round, vote.unit, vote.epoch,
            )  # fmt: skip
            if e.name == "VoteCommitted" and same_ballot_box and a["verifier"] != self.s.address:
                return bytes(a["commitment"])
        return None


class LazyVerifierRole(VerifierRole):
    """An honest verifier's role with a judge that looks at nothing, no watching, and :class:`LazyBallots`."""

    name = "verifier"

    def __init__(self, services: Services, lazy: str) -> None:
        if lazy not in LAZY:
            raise ValueError(f"unknown lazy verifier {lazy!r}: one of {', '.join(LAZY)}")
        super().__init__(services, judge=_lazy_judge(lazy), watch=False, ballots=LazyBallots(services, lazy))
        self.lazy = lazy


def _register() -> None:
    for cheat in CHEATS:
        register_role(f"cheat-{cheat}", functools.partial(CheatingMinerRole, cheat=cheat))
    for lazy in LAZY:
        register_role(f"lazy-{lazy}", functools.partial(LazyVerifierRole, lazy=lazy))


_register()
