"""One unit of split training, message by message: the owner's side of a unit and the miner's loop over it.

The owner's side (:class:`OwnerUnit`) holds a private copy of the stem and head for the unit, chooses each step's
batch from the unit seed exactly as plain training does, and answers the step's messages in order. The miner's
loop (:func:`train_middle`) drives the steps through a :class:`Transport` (in process here and in tests; over
HTTP between machines), keeps the middle's checkpoints, and records every message for the verifiers. With the
same seeds, the combined model equals plain training's when dropout sits in the middle only.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Protocol

import torch

from node.errors import SpecError
from node.ml import spec as sp
from node.ml.data import Dataset
from node.ml.device import CPU, Hardware
from node.ml.manifest import Put, SplitTraffic, TrailManifest, UnitContext, publish_trail
from node.ml.model import State, build_module
from node.ml.optim import OptState
from node.ml.split import MiddleSide, OwnerSide, SplitPlan, part, part_state, to_whole_names
from node.ml.split_wire import Kind, TrafficChain, decode, encode, pack
from node.ml.train import Checkpoint, Trail, batch_indices, deterministic, step_seed


class Transport(Protocol):
    """The miner's view of the owner's side: one call per message it sends or asks for."""

    def activations(self, step: int) -> bytes: ...

    def output(self, step: int, message: bytes) -> bytes: ...

    def gradient(self, step: int, message: bytes) -> None: ...


class OwnerUnit:
    """The owner's side of one unit; refuses messages out of order, of another step, shape or kind."""

    def __init__(
        self, spec: sp.TaskSpec, plan: SplitPlan, input_model: State, shard: Dataset, unit_seed: bytes
    ) -> None:
        self._spec, self._plan, self._shard, self._seed = spec, plan, shard, unit_seed
        self._module = build_module(spec.model, check=False)
        self._module.load_state_dict(input_model, strict=True)
        self._side = OwnerSide(self._module, plan, spec.training)
        self.step = 0  # the step whose messages come next
        self._phase = Kind.ACTIVATIONS
        self.chain = TrafficChain.start(unit_seed)
        self._batch = 0  # rows of the current step's batch, and its labels (which never leave the owner)
        self._y = torch.zeros(0, dtype=torch.long)
        self._losses: list[float] = []  # each step's loss, which only the owner computes

    def _expect(self, step: int, phase: Kind) -> None:
        if step != self.step or phase is not self._phase:
            raise SpecError(f"expected the {self._phase.value} of step {self.step}, got the {phase.value} of {step}")
        if step >= self._spec.training.local_steps:
            raise SpecError(f"the unit has {self._spec.training.local_steps} steps: no step {step}")

    def activations(self, step: int) -> bytes:
        self._expect(step, Kind.ACTIVATIONS)
        index = batch_indices(len(self._shard), self._spec.training.batch_size, self._seed, step)
        self._batch = len(index)
        self._y = self._shard.y[index]
        self._module.train()
        with deterministic():  # the owner's messages are reproducible too (a dispute can recompute them)
            message = encode(Kind.ACTIVATIONS, step, self._side.stem_forward(self._shard.features(index)))
        self.chain.add(message)
        self._phase = Kind.OUTPUT
        return message

    def output(self, step: int, message: bytes) -> bytes:
        self._expect(step, Kind.OUTPUT)
        middle_out = decode(message, Kind.OUTPUT, step, (self._batch, *self._plan.cut_out))
        self.chain.add(message)
        with deterministic():
            gradient, loss = self._side.head_backward(middle_out, self._y)
        self._losses.append(loss)
        reply = encode(Kind.GRADIENT_OUT, step, gradient)
        self.chain.add(reply)
        self._phase = Kind.GRADIENT_IN
        return reply

    def gradient(self, step: int, message: bytes) -> None:
        self._expect(step, Kind.GRADIENT_IN)
        grad_in = decode(message, Kind.GRADIENT_IN, step, (self._batch, *self._plan.cut_in))
        self.chain.add(message)
        with deterministic():
            self._side.finish(grad_in)
        self.step += 1
        self._phase = Kind.ACTIVATIONS

    @property
    def done(self) -> bool:
        """Every step of the unit answered."""
        return self.step == self._spec.training.local_steps

    def checkpoint_heads(self) -> tuple[bytes, ...]:
        """The traffic's head at each checkpoint after the first: what the owner signs once the unit is done."""
        return checkpoint_heads(self.chain, self._spec)

    def segment_losses(self) -> list[float]:
        """The mean loss of each segment's steps (the owner's head computes the loss)."""
        steps = self._spec.training.checkpoint_steps
        return [sum(self._losses[a:b]) / (b - a) for a, b in itertools.pairwise(steps)]

    def private_state(self) -> State:
        """The stem and head after the unit, under the whole model's names: what the owner keeps."""
        return {**part_state(self._module, self._plan.stem), **part_state(self._module, self._plan.head)}


MESSAGES_PER_STEP = 4


def checkpoint_heads(chain: TrafficChain, spec: sp.TaskSpec) -> tuple[bytes, ...]:
    """The head of a unit's traffic at each checkpoint after the first (both sides compute them alike)."""
    return tuple(chain.head_after(MESSAGES_PER_STEP * s) for s in spec.training.checkpoint_steps[1:])


@dataclass(frozen=True, slots=True)
class MiddleCheckpoint:
    step: int
    model: State  # the middle's weights, under the middle's own layer numbering
    optimizer: OptState


@dataclass(frozen=True, slots=True)
class MiddleTrail:
    checkpoints: list[MiddleCheckpoint]
    messages: list[bytes]  # every message of every step, in order (four per step)
    traffic_head: bytes
    heads: tuple[bytes, ...]  # the traffic's head at each checkpoint after the first
    # What the middle's steps ran on: its intra-op threads (the middle trains on the CPU, where the recorded
    # traffic is decoded, whatever the node's device).
    hardware: Hardware = CPU

    def segment_messages(self, spec: sp.TaskSpec) -> list[list[bytes]]:
        """The recorded messages of each segment (between two checkpoints), in order."""
        steps = spec.training.checkpoint_steps
        n = MESSAGES_PER_STEP
        return [self.messages[n * a : n * b] for a, b in itertools.pairwise(steps)]


def middle_of(spec: sp.TaskSpec, plan: SplitPlan, input_model: State) -> torch.nn.Sequential:
    """The public middle of the round's input model: what a miner or verifier is given."""
    module = build_module(spec.model, check=False)
    module.load_state_dict(input_model, strict=True)
    return part(module, plan.middle)


def train_middle(
    spec: sp.TaskSpec,
    plan: SplitPlan,
    middle: torch.nn.Sequential,
    owner: Transport,
    unit_seed: bytes,
    samples: int,
    *,
    hardware: Hardware = CPU,
) -> MiddleTrail:
    """The miner's side of a unit: every step through ``owner``, a checkpoint at every ``checkpoint_every``.
    ``samples``: the shard's size (a batch is ``min(batch_size, samples)`` rows, as in plain training)."""
    rows = min(spec.training.batch_size, samples)
    with deterministic(hardware.threads):
        return _train_middle(spec, plan, middle, owner, unit_seed, rows, Hardware(threads=hardware.threads))


def _train_middle(
    spec: sp.TaskSpec,
    plan: SplitPlan,
    middle: torch.nn.Sequential,
    owner: Transport,
    unit_seed: bytes,
    rows: int,
    hardware: Hardware,
) -> MiddleTrail:
    side = MiddleSide(middle, spec.training)
    checkpoints = [MiddleCheckpoint(0, side.state(), copy.deepcopy(side.opt_state))]
    messages: list[bytes] = []
    chain = TrafficChain.start(unit_seed)
    marks = set(spec.training.checkpoint_steps[1:])
    for step in range(spec.training.local_steps):
        activations = owner.activations(step)
        received = decode(activations, Kind.ACTIVATIONS, step, (rows, *plan.cut_in))
        output = encode(Kind.OUTPUT, step, side.forward(received, step_seed(unit_seed, step, b"dropout")))
        gradient_out = owner.output(step, output)
        gradient = decode(gradient_out, Kind.GRADIENT_OUT, step, (rows, *plan.cut_out))
        gradient_in = encode(Kind.GRADIENT_IN, step, side.backward(gradient))
        owner.gradient(step, gradient_in)
        for message in (activations, output, gradient_out, gradient_in):
            messages.append(message)
            chain.add(message)
        if step + 1 in marks:
            checkpoints.append(MiddleCheckpoint(step + 1, side.state(), copy.deepcopy(side.opt_state)))
    return MiddleTrail(checkpoints, messages, chain.head, checkpoint_heads(chain, spec), hardware)


def publish_middle_trail(
    spec: sp.TaskSpec,
    plan: SplitPlan,
    trail: MiddleTrail,
    put: Put,
    ctx: UnitContext,
    *,
    owner_signature: str,
    segment_losses: list[float],
    samples: int,
) -> tuple[TrailManifest, str]:
    """Uploads a split unit's trail: each segment's recorded messages, the middle's checkpoints (under the whole
    model's names, as the round's input is), then the manifest with the traffic heads and the owner's signature;
    returns the manifest and its CID."""
    segments = [put(pack(messages)) for messages in trail.segment_messages(spec)]
    checkpoints = [Checkpoint(c.step, to_whole_names(c.model, plan), c.optimizer) for c in trail.checkpoints]
    traffic = SplitTraffic(segments=segments, heads=[h.hex() for h in trail.heads], owner_signature=owner_signature)
    return publish_trail(
        Trail(checkpoints, segment_losses, samples, trail.hardware),
        put,
        ctx,
        traffic=traffic,
    )
