"""Plain mode: the whole model is public; a unit is trained locally, its checkpoints published, and re-executed by
verifiers from those checkpoints alone."""

from __future__ import annotations

from dataclasses import dataclass

from node.ml import spec as sp
from node.ml.evaluate import Evaluation, evaluate
from node.ml.manifest import publish_trail
from node.ml.material import TaskMaterial
from node.ml.model import State
from node.ml.train import train_unit
from node.ml.verify import Verdict, verify_unit
from node.protocol.modes.base import TrailToJudge, TrainedUnit, UnitJob


@dataclass(frozen=True, slots=True)
class PlainMode:
    spec: sp.TaskSpec
    name: str = "plain"
    owner_in_loop: bool = False
    initial_model_refused: str | None = None

    def network_model(self, whole: State) -> State:
        return whole

    def train(self, job: UnitJob) -> TrainedUnit:
        trail = train_unit(self.spec, job.model, job.shard, job.ref.seed, hardware=job.hardware)
        manifest, cid = publish_trail(trail, job.put, job.ref.context)
        return TrainedUnit(cid, manifest.final_model, trail.segment_losses[-1])

    def verify(self, trail: TrailToJudge) -> Verdict:
        ctx, shard = trail.ref.context, trail.material.shard(trail.ref.index)
        return verify_unit(
            self.spec,
            trail.manifest,
            trail.fetch,
            trail.challenge,
            ctx,
            shard,
            segments=trail.segments,
            hardware=trail.hardware,
        )

    def evaluate(self, material: TaskMaterial, model: State) -> Evaluation | None:
        return evaluate(self.spec.model, model, material.test_set())
