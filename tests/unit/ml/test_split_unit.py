"""A unit of split training through its messages: the combined model is plain training's; order is enforced."""

from __future__ import annotations

import pytest
import torch

from client.datasets import load_dataset
from node.errors import SpecError
from node.ml import spec as sp
from node.ml.defaults import lm_spec
from node.ml.model import build_module, state_of
from node.ml.split import combine, plan_split
from node.ml.split_unit import OwnerUnit, middle_of, train_middle
from node.ml.split_wire import Kind, encode, replay
from node.ml.train import train_unit
from node.store.errors import ArtifactError
from tests.unit.ml.split_fixtures import PLAN, SEED, SPEC, shard


def test_a_split_unit_trains_the_model_plain_training_would() -> None:
    data, initial = shard(), state_of(build_module(SPEC.model, seed=2))
    owner = OwnerUnit(SPEC, PLAN, initial, data, SEED)
    trail = train_middle(SPEC, PLAN, middle_of(SPEC, PLAN, initial), owner, SEED, len(data))
    assert [c.step for c in trail.checkpoints] == [0, 4, 8, 12]
    assert len(trail.messages) == 4 * 12
    assert trail.traffic_head == owner.chain.head == replay(SEED, trail.messages), "both sides chained the same"

    plain = train_unit(SPEC, initial, data, SEED).final_model
    combined = combine(owner.private_state(), trail.checkpoints[-1].model, PLAN)
    assert set(combined) == set(plain)
    for name, tensor in plain.items():
        torch.testing.assert_close(combined[name], tensor, rtol=1e-5, atol=1e-6, msg=name)
    assert not set(owner.private_state()) & {f"{i}.weight" for i in PLAN.middle}, "no private layer in the middle"


def test_the_owner_answers_only_the_next_message_of_the_expected_shape() -> None:
    owner = OwnerUnit(SPEC, PLAN, state_of(build_module(SPEC.model, seed=2)), shard(), SEED)
    with pytest.raises(SpecError, match="expected the activations of step 0"):
        owner.output(0, encode(Kind.OUTPUT, 0, torch.zeros(16, 64)))
    owner.activations(0)
    with pytest.raises(SpecError, match="expected the output of step 0, got the activations of 1"):
        owner.activations(1)
    with pytest.raises(ArtifactError, match="shape"):
        owner.output(0, encode(Kind.OUTPUT, 0, torch.zeros(16, 63)))
    owner.output(0, encode(Kind.OUTPUT, 0, torch.zeros(16, 64)))
    with pytest.raises(ArtifactError, match="NaN"):
        owner.gradient(0, encode(Kind.GRADIENT_IN, 0, torch.full((16, 128), float("nan"))))
    owner.gradient(0, encode(Kind.GRADIENT_IN, 0, torch.zeros(16, 128)))
    assert owner.step == 1


def test_a_split_unit_of_a_language_model_trains_what_plain_training_would() -> None:
    """Through the messages, on token sequences: the stem turns ids into vectors, the labels stay with the owner."""
    spec = lm_spec(dataset_digest="00" * 32, shards=1, local_steps=6, checkpoint_every=3, dim=32, blocks=4)
    spec = spec.model_copy(update={"training": spec.training.model_copy(update={"batch_size": 4})})
    plan = plan_split(spec.model, sp.PrivacySpec(mode="split", private_prefix=3, private_suffix=2))
    stream = load_dataset("fortunes").train
    data = stream.subset(torch.arange(40))
    initial = state_of(build_module(spec.model, seed=2))
    owner = OwnerUnit(spec, plan, initial, data, SEED)
    trail = train_middle(spec, plan, middle_of(spec, plan, initial), owner, SEED, len(data))
    plain = train_unit(spec, initial, data, SEED).final_model
    combined = combine(owner.private_state(), trail.checkpoints[-1].model, plan)
    for name, tensor in plain.items():
        torch.testing.assert_close(combined[name], tensor, rtol=1e-4, atol=1e-5, msg=name)
