from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from node.ml.device import Hardware
from node.ml.model import relative_distance, state_to_bytes
from node.ml.train import deterministic, run_segment, train_unit
from testkit.world import MINER, OTHER_MINER, make_world, small_spec, unit_seed


def test_training_is_deterministic_to_the_byte() -> None:
    world = make_world()
    a, b = world.train(), world.train()
    assert [state_to_bytes(c.model) for c in a.checkpoints] == [state_to_bytes(c.model) for c in b.checkpoints]
    assert [state_to_bytes(c.optimizer) for c in a.checkpoints] == [state_to_bytes(c.optimizer) for c in b.checkpoints]
    assert a.segment_losses == b.segment_losses


def test_trail_has_a_checkpoint_every_k_steps_and_learns() -> None:
    world = make_world(small_spec(local_steps=25, checkpoint_every=10))
    trail = world.train()
    assert [c.step for c in trail.checkpoints] == [0, 10, 20, 25]
    assert trail.samples == len(world.shards[0])
    assert torch.equal(trail.checkpoints[0].model["1.weight"], world.initial["1.weight"])
    assert trail.segment_losses[-1] < trail.segment_losses[0]


def test_any_segment_re_executes_from_its_own_checkpoint() -> None:
    world = make_world()
    trail = world.train()
    seed = unit_seed(0, MINER)
    with deterministic(threads=1):  # the thread count the trail was trained with: bit-exact
        for start, end in zip(trail.checkpoints, trail.checkpoints[1:], strict=False):
            reached, _ = run_segment(world.spec, start, end.step, world.shards[0], seed)
            assert relative_distance(reached.model, end.model) == 0.0
            assert relative_distance(reached.optimizer, end.optimizer) == 0.0
    with deterministic(threads=2):  # another thread count: float reduction order may differ, barely
        reached, _ = run_segment(world.spec, trail.checkpoints[0], trail.checkpoints[1].step, world.shards[0], seed)
        assert relative_distance(reached.model, trail.checkpoints[1].model) < 1e-6


def test_the_seed_binds_batches_and_dropout() -> None:
    world = make_world()
    mine, theirs = world.train(miner=MINER), world.train(miner=OTHER_MINER)
    assert relative_distance(mine.final_model, theirs.final_model) > 1e-3


def test_adam_and_batchnorm_trails_are_deterministic() -> None:
    document = small_spec(optimizer={"type": "adam", "lr": 0.01}).model_dump(mode="json")
    document["model"]["layers"].insert(2, {"type": "batchnorm1d", "num_features": 32})
    with pytest.raises(ValidationError, match="set bias to false before a batch norm"):
        type(small_spec()).model_validate(document)
    document["model"]["layers"][1]["bias"] = False
    spec = type(small_spec()).model_validate(document)
    world = make_world(spec)
    a = train_unit(spec, world.initial, world.shards[1], b"s", hardware=Hardware(threads=1))
    b = train_unit(spec, world.initial, world.shards[1], b"s", hardware=Hardware(threads=2))
    assert relative_distance(a.final_model, b.final_model) < 1e-5
    assert a.final_model["2.num_batches_tracked"].item() == 20
    assert int(a.checkpoints[-1].optimizer["step"]) == 20
