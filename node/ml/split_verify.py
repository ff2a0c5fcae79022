"""Verifying split training by re-execution, without the owner's private layers.

A verifier holds the middle's checkpoints and the recorded traffic of a segment (the activations the owner sent,
the outputs the miner returned, the gradients the owner sent back). From the segment's first checkpoint it feeds
each step's recorded activations through the middle and compares the output with the one the miner sent (a
miner answering with anything but what its weights compute is caught at the first such step), applies the
recorded gradient, and at the end compares the weights reached with the segment's last checkpoint (a trail of
noise or of another unit's weights is caught there), both by relative L2 against the spec's tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from node.ml import spec as sp
from node.ml.model import State, relative_distance
from node.ml.optim import OptState
from node.ml.split import MiddleSide


@dataclass(frozen=True, slots=True)
class RecordedStep:
    activations: torch.Tensor
    output: torch.Tensor
    gradient_out: torch.Tensor
    dropout_seed: int | None = None


@dataclass(frozen=True, slots=True)
class MiddleReplay:
    worst_output_distance: float  # relative L2 of recomputed against recorded outputs, at the worst step
    worst_step: int  # index into the segment's steps
    state: State  # the middle's weights after the segment
    opt_state: OptState


def replay_middle(
    middle: nn.Sequential, opt_state: OptState, training: sp.TrainingSpec, steps: Sequence[RecordedStep]
) -> MiddleReplay:
    """Re-executes a segment of the middle from ``middle`` (loaded with the segment's first checkpoint) and
    ``opt_state``, against the recorded traffic."""
    side = MiddleSide(middle, training, opt_state)
    worst, worst_step = 0.0, 0
    for i, step in enumerate(steps):
        output = side.forward(step.activations, step.dropout_seed)
        distance = relative_distance({"out": output}, {"out": step.output})
        if distance > worst:
            worst, worst_step = distance, i
        side.backward(step.gradient_out)
    return MiddleReplay(worst, worst_step, side.state(), side.opt_state)


def check_segment(replay: MiddleReplay, next_checkpoint: State, tolerance: float) -> tuple[bool, str]:
    """The verdict on a replayed segment, with the reason a verifier logs."""
    if replay.worst_output_distance > tolerance:
        return False, (
            f"the middle's output at step {replay.worst_step} of the segment is not what its weights compute "
            f"(relative distance {replay.worst_output_distance:.3g})"
        )
    distance = relative_distance(replay.state, next_checkpoint)
    if distance > tolerance:
        return False, f"the segment does not reach its next checkpoint (relative distance {distance:.3g})"
    return True, f"segment re-executed, output distance {replay.worst_output_distance:.3g}, end {distance:.3g}"
