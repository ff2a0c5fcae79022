"""Plain centralized training of the same model for the same number of steps: the yardstick of a task."""

from __future__ import annotations

import torch

from node.ml import spec as sp
from node.ml.data import Dataset
from node.ml.model import State
from node.ml.train import DEFAULT_THREADS, train_unit


def centralized(
    spec: sp.TaskSpec, initial: State, shards: list[Dataset], total_steps: int, *, threads: int = DEFAULT_THREADS
) -> State:
    """Trains on the union of the shards for ``total_steps`` steps (same optimizer, batch size, seeds scheme)."""
    union = Dataset(torch.cat([s.x for s in shards]), torch.cat([s.y for s in shards]))
    training = spec.training.model_copy(update={"local_steps": total_steps, "checkpoint_every": total_steps})
    trail = train_unit(spec.model_copy(update={"training": training}), initial, union, b"centralized", threads=threads)
    return trail.final_model
