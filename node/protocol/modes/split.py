"""Split mode: the owner keeps the first and last layers at home. A miner trains the public middle step by step
against the owner's node, which signs the traffic; the trail holds the middle's checkpoints and the recorded
traffic of every segment, so verifiers re-execute it without the private layers. Only the owner's node holds a
whole model, so only it can evaluate one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from node.errors import StepRefused
from node.ml import spec as sp
from node.ml.evaluate import Evaluation
from node.ml.material import TaskMaterial
from node.ml.model import State
from node.ml.split import SplitPlan, middle_module, public_part
from node.ml.split_replay import SplitReplay
from node.ml.split_unit import publish_middle_trail, train_middle
from node.ml.verify import Verdict, verify_unit
from node.protocol.modes.base import TrailToJudge, TrainedUnit, UnitJob
from node.protocol.owner_client import HttpTransport

# What a miner trains, given the public middle: the middle itself (an honest miner); a test adversary's differs.
MiddleHook = Callable[[nn.Sequential], nn.Sequential]


def _as_given(middle: nn.Sequential) -> nn.Sequential:
    return middle


@dataclass(frozen=True, slots=True)
class SplitMode:
    spec: sp.TaskSpec
    plan: SplitPlan
    middle: MiddleHook = field(default=_as_given)
    name: str = "split"
    owner_in_loop: bool = True
    initial_model_refused: str | None = "not in split mode (the owner's layers start from the spec's seed)"

    def network_model(self, whole: State) -> State:
        return public_part(whole, self.plan)  # the stem and head never reach the store

    def train(self, job: UnitJob) -> TrainedUnit:
        owner_url = self.spec.privacy.owner_url
        if owner_url is None:  # pragma: no cover - the spec's validation requires it in split mode
            raise StepRefused("the task is in split mode without the owner's URL")
        ref = job.ref
        transport = HttpTransport(owner_url, job.account, ref.binding, ref.key)
        module = self.middle(middle_module(self.spec, self.plan, job.model))
        trail = train_middle(self.spec, self.plan, module, transport, ref.seed, len(job.shard), hardware=job.hardware)
        commitment = transport.commitment(self.spec.training.local_steps)
        if commitment.heads != [h.hex() for h in trail.heads]:
            raise StepRefused("the owner signed other traffic than this unit's: not publishing it")
        manifest, cid = publish_middle_trail(
            self.spec,
            self.plan,
            trail,
            job.put,
            ref.context,
            owner_signature=commitment.signature,
            segment_losses=commitment.segment_losses,
            samples=len(job.shard),
        )
        return TrainedUnit(cid, manifest.final_model, commitment.segment_losses[-1])

    def verify(self, trail: TrailToJudge) -> Verdict:
        ref, shard = trail.ref, trail.material.shard(trail.ref.index)
        # The owner's signature on the traffic heads, bound to this unit, chain and contract.
        replay = SplitReplay(self.spec, self.plan, ref.traffic_signer())
        return verify_unit(
            self.spec, trail.manifest, trail.fetch, trail.challenge, ref.context, shard,
            replay=replay, segments=trail.segments, hardware=trail.hardware,
        )  # fmt: skip

    def evaluate(self, material: TaskMaterial, model: State) -> Evaluation | None:
        return None  # the network's model is the public middle alone
