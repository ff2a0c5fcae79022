"""Plain centralized training of the same model for the same number of steps: the yardstick of a task."""

from __future__ import annotations

from collections.abc import Callable

import torch

from node.ml import spec as sp
from node.ml.aggregate import Contribution, aggregate
from node.ml.data import Dataset
from node.ml.device import CPU, Hardware
from node.ml.model import State, build_module
from node.ml.train import train_unit


def centralized(
    spec: sp.TaskSpec, initial: State, shards: list[Dataset], total_steps: int, *, hardware: Hardware = CPU
) -> State:
    """Trains on the union of the shards for ``total_steps`` steps (same optimizer, batch size, seeds scheme)."""
    union = Dataset(torch.cat([s.x for s in shards]), torch.cat([s.y for s in shards]))
    training = spec.training.model_copy(update={"local_steps": total_steps, "checkpoint_every": total_steps})
    trail = train_unit(
        spec.model_copy(update={"training": training}), initial, union, b"centralized", hardware=hardware
    )
    return trail.final_model


def federated(
    spec: sp.TaskSpec,
    initial: State,
    shards: list[Dataset],
    rounds: int,
    seed_of: Callable[[int, int], bytes],
    *,
    task_id: int,
    hardware: Hardware = CPU,
) -> list[State]:
    """The task's rounds computed by one honest party with no network: every unit trained from the round's
    input with the seed ``seed_of(round, unit)``, then aggregated by the spec's rule. Returns each round's
    global model: what the network should reach when no adversary interferes."""
    parameter_keys = {k for k, _ in build_module(spec.model).named_parameters()}
    model, models = initial, []
    for r in range(rounds):
        contributions = [
            Contribution(i, train_unit(spec, model, shard, seed_of(r, i), hardware=hardware).final_model, len(shard))
            for i, shard in enumerate(shards)
        ]
        model = aggregate(spec, contributions, parameter_keys, task_id=task_id, round_=r)
        models.append(model)
    return models
