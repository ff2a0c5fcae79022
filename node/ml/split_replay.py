"""Re-executing a split trail's segments without the owner's private layers: the trail must carry the traffic of
every segment under the owner's signature; each segment's messages must chain to the signed head; the middle fed
the recorded activations must answer what the miner sent, and, given the recorded gradients, reach the next
checkpoint (:mod:`node.ml.split_verify`)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from node.ml import spec as sp
from node.ml.data import Dataset
from node.ml.manifest import SplitTraffic, TrailManifest, UnitContext
from node.ml.replay import Check, Fetch, Invalid, TrailUnderCheck
from node.ml.split import SplitPlan, is_public, part, to_middle_names, to_whole_names
from node.ml.split_unit import MESSAGES_PER_STEP
from node.ml.split_verify import RecordedStep, replay_middle
from node.ml.split_wire import Kind, TrafficChain, decode, unpack
from node.ml.split_wire import replay as replay_traffic
from node.ml.train import Checkpoint, step_seed
from node.store.tensors import TensorSpec

# Who signed a split unit's traffic heads (the owner's signature in the manifest); None when it does not parse.
TrafficSigner = Callable[[list[bytes], str], str | None]


class SplitReplay:
    """``signer``: who signed the traffic heads (the verifier's node checks signatures; this module never touches
    keys or the chain)."""

    def __init__(self, spec: sp.TaskSpec, plan: SplitPlan, signer: TrafficSigner | None) -> None:
        self._spec = spec
        self._plan = plan
        self._signer = signer

    def prepare(
        self, manifest: TrailManifest, ctx: UnitContext, module: nn.Sequential, specs: dict[str, TensorSpec]
    ) -> tuple[nn.Sequential, dict[str, TensorSpec]]:
        if manifest.traffic is None:
            raise Invalid("a split task's trail without its recorded traffic", Check.TRAFFIC)
        _owner_signed(manifest.traffic, ctx, self._signer, len(manifest.checkpoints) - 1)
        public = {k: v for k, v in specs.items() if is_public(k, self._plan)}
        return part(module, self._plan.middle), public  # the trail is the public middle's, its optimizer state too

    def segment(
        self, j: int, start: Checkpoint, end_step: int, trail: TrailUnderCheck, device: torch.device
    ) -> Checkpoint:
        # The middle's replay runs on the CPU whatever ``device``: it is a handful of recorded steps of the
        # middle alone, against recorded tensors that are CPU tensors.
        spec, plan = self._spec, self._plan
        traffic = trail.manifest.traffic
        if traffic is None:  # pragma: no cover - prepare refused it
            raise Invalid("a split task's trail without its recorded traffic", Check.TRAFFIC)
        recorded = _recorded_segment(traffic, j, start.step, end_step, trail.fetch, trail.ctx, spec, plan, trail.shard)
        trail.module.load_state_dict(to_middle_names(start.model, plan), strict=True)
        replay = replay_middle(trail.module, start.optimizer, spec.training, recorded)
        if replay.worst_output_distance > spec.tolerance:
            raise Invalid(
                f"segment {j}: the middle's output at step {start.step + replay.worst_step} is not what its "
                f"weights compute (relative distance {replay.worst_output_distance:.3g})",
                Check.REEXECUTION,
            )
        return Checkpoint(end_step, to_whole_names(replay.state, plan), replay.opt_state)


def _owner_signed(traffic: SplitTraffic, ctx: UnitContext, signer: TrafficSigner | None, segments: int) -> None:
    if len(traffic.segments) != segments or len(traffic.heads) != segments:
        raise Invalid(f"recorded traffic for {len(traffic.segments)} segments, the trail has {segments}", Check.TRAFFIC)
    if signer is None or ctx.owner is None:
        raise Invalid("a split trail cannot be checked without the owner's address", Check.TRAFFIC)
    who = signer([bytes.fromhex(h) for h in traffic.heads], traffic.owner_signature)
    if who is None or who.lower() != ctx.owner.lower():
        raise Invalid(f"the recorded traffic is not signed by the task's owner (signed by {who})", Check.TRAFFIC)


def _recorded_segment(
    traffic: SplitTraffic,
    j: int,
    start: int,
    end: int,
    fetch: Fetch,
    ctx: UnitContext,
    spec: sp.TaskSpec,
    plan: SplitPlan,
    shard: Dataset,
) -> list[RecordedStep]:
    """Segment ``j``'s recorded steps, once its messages chain from the previous head to the signed one."""
    data = fetch(traffic.segments[j])
    messages = unpack(data, MESSAGES_PER_STEP * (end - start))
    first = TrafficChain.start(ctx.unit_seed).head if j == 0 else bytes.fromhex(traffic.heads[j - 1])
    if replay_traffic(ctx.unit_seed, messages, start=first) != bytes.fromhex(traffic.heads[j]):
        raise Invalid(f"segment {j}: the recorded traffic is not the traffic the owner signed", Check.TRAFFIC)
    rows = min(spec.training.batch_size, len(shard))
    steps = []
    for k, step in enumerate(range(start, end)):
        activations, output, gradient_out, _ = messages[MESSAGES_PER_STEP * k : MESSAGES_PER_STEP * (k + 1)]
        steps.append(
            RecordedStep(
                decode(activations, Kind.ACTIVATIONS, step, (rows, *plan.cut_in)),
                decode(output, Kind.OUTPUT, step, (rows, *plan.cut_out)),
                decode(gradient_out, Kind.GRADIENT_OUT, step, (rows, *plan.cut_out)),
                step_seed(ctx.unit_seed, step, b"dropout"),
            )
        )
    return steps
