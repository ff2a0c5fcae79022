from __future__ import annotations

import pytest

from node.errors import SpecError
from node.ml.manifest import AggregateInput, parse_aggregate, parse_trail, publish_aggregate
from node.store.canonical import canonical_bytes
from testkit.world import MINER, make_world


def test_trail_manifest_is_canonical_and_names_every_checkpoint() -> None:
    world = make_world()
    trail = world.train()
    data, cid = world.publish(trail)
    manifest = parse_trail(data)
    assert canonical_bytes(manifest) == data
    assert [c.step for c in manifest.checkpoints] == world.spec.training.checkpoint_steps
    assert manifest.checkpoints[0].model == world.input_cid
    assert all(c.model in world.store.objects and c.optimizer in world.store.objects for c in manifest.checkpoints)
    assert manifest.samples == len(world.shards[0])
    _again, cid_again = world.publish(world.train())
    assert cid_again == cid, "the same work always has the same digest"
    with pytest.raises(SpecError, match="canonical"):
        parse_trail(data.replace(b'{"checkpoints"', b'{ "checkpoints"'))


def test_aggregate_manifest_round_trip() -> None:
    world = make_world()
    inputs = [AggregateInput(index=1, result=world.input_cid, model=world.input_cid, samples=3),
              AggregateInput(index=0, result=world.spec_cid, model=world.input_cid, samples=2)]  # fmt: skip
    manifest, cid, model_cid = publish_aggregate(
        world.initial, inputs, world.store.put, task_id=1, round_=0, index=4, aggregator=MINER,
        spec_cid=world.spec_cid, rule="fedavg",
    )  # fmt: skip
    assert model_cid == world.input_cid, "same state, same bytes"
    parsed = parse_aggregate(world.store.get(cid))
    assert parsed == manifest
    assert [i.index for i in parsed.inputs] == [0, 1]
