"""Dishonest trails, built the way a cheating miner would (used by the ML tests and the benchmarks)."""

from __future__ import annotations

import torch

from node.ml.model import State
from node.ml.train import Checkpoint, Trail, first_checkpoint, run_segment
from testkit.world import World, unit_seed


def noise_trail(world: World, *, index: int = 0, miner: str, seed: int = 0) -> Trail:
    """Random tensors where checkpoints should be (the first one honest, or it fails a cheaper check)."""
    honest = world.train(index=index, miner=miner)
    g = torch.Generator().manual_seed(seed)

    def noisy(state: State) -> State:
        return {k: (torch.randn(v.shape, generator=g) if v.is_floating_point() else v) for k, v in state.items()}

    fakes = [Checkpoint(c.step, noisy(c.model), noisy(c.optimizer)) for c in honest.checkpoints[1:]]
    return Trail([honest.checkpoints[0], *fakes], honest.segment_losses, honest.samples)


def perturbed(state: State, scale: float, seed: int) -> State:
    g = torch.Generator().manual_seed(seed)
    return {
        k: (v + scale * torch.randn(v.shape, generator=g) if v.is_floating_point() else v) for k, v in state.items()
    }


def partly_faked_trail(world: World, faked: set[int], *, index: int = 0, miner: str) -> Trail:
    """Trains honestly except on the segments in ``faked``, where the next checkpoint is the previous one
    nudged (no training done); later segments are trained honestly from the fake, as a cheater would."""
    spec = world.spec
    seed = unit_seed(index, miner)
    current = first_checkpoint(spec, world.initial)
    checkpoints = [current]
    steps = spec.training.checkpoint_steps
    for j, end in enumerate(steps[1:]):
        if j in faked:
            current = Checkpoint(end, perturbed(current.model, 1e-2, j), current.optimizer)
        else:
            current, _ = run_segment(spec, current, end, world.shards[index], seed)
        checkpoints.append(current)
    return Trail(checkpoints, [1.0] * (len(steps) - 1), len(world.shards[index]))
