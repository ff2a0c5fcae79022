"""Split training's arithmetic: the cut, its refusals, and a U-shaped step equal to the whole model's step."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from node.errors import SpecError
from node.ml import spec as sp
from node.ml.defaults import digits_cnn_model, lm_model
from node.ml.model import build_module
from node.ml.optim import apply, initial_state
from node.ml.split import MiddleSide, OwnerSide, part, part_state, plan_split
from node.ml.train import loss_of

CNN = digits_cnn_model()
MLP = sp.ModelSpec.model_validate(
    {
        "input_shape": [1, 8, 8],
        "layers": [
            {"type": "flatten"},
            {"type": "linear", "in_features": 64, "out_features": 64},
            {"type": "relu"},
            {"type": "linear", "in_features": 64, "out_features": 10},
        ],
    }
)


def split(prefix: int, suffix: int) -> sp.PrivacySpec:
    return sp.PrivacySpec(mode="split", private_prefix=prefix, private_suffix=suffix)


def test_the_cut_keeps_each_private_layers_activation_and_pooling_with_the_owner() -> None:
    plan = plan_split(CNN, split(1, 1))
    assert plan.stem == range(0, 3), "conv, relu and pool"
    assert plan.middle == range(3, 9)
    assert plan.head == range(9, 10)
    assert plan.cut_in == (16, 4, 4)
    assert plan.cut_out == (64,)
    assert 0.0 < plan.owner_share < 0.2  # the first conv and the last linear are a small part of the compute
    head_only = plan_split(CNN, split(0, 1))
    assert head_only.stem == range(0)
    assert head_only.cut_in == (1, 8, 8), "no stem: the middle takes the input itself"


@pytest.mark.parametrize(
    ("model", "privacy", "words"),
    [
        (CNN, split(2, 2), "leave no public middle"),
        (MLP, split(1, 1), "leave no public middle"),
        (MLP, split(1, 0), "privacy.private_prefix: the owner's side would carry"),
    ],
)
def test_a_cut_that_makes_no_sense_is_refused_naming_the_field(
    model: sp.ModelSpec, privacy: sp.PrivacySpec, words: str
) -> None:
    with pytest.raises(SpecError, match=words):
        plan_split(model, privacy)


def test_the_privacy_spec_refuses_counts_that_do_not_fit_its_mode() -> None:
    with pytest.raises(ValidationError, match="need mode"):
        sp.PrivacySpec(mode="none", private_prefix=1)
    with pytest.raises(ValidationError, match="at least one layer private"):
        sp.PrivacySpec(mode="split")


@pytest.mark.parametrize(
    "optimizer",
    [{"type": "sgd", "lr": 0.05, "momentum": 0.9}, {"type": "adam", "lr": 0.01}],
    ids=["sgd", "adam"],
)
@pytest.mark.parametrize("cut", [(1, 1), (0, 1), (1, 0)], ids=["stem+head", "head", "stem"])
def test_u_shaped_steps_equal_the_whole_models_steps(optimizer: dict[str, object], cut: tuple[int, int]) -> None:
    training = sp.TrainingSpec.model_validate(
        {"loss": "cross_entropy", "optimizer": optimizer, "batch_size": 16, "local_steps": 5, "checkpoint_every": 5}
    )
    plan = plan_split(CNN, split(*cut))
    whole, split_model = build_module(CNN, seed=3), build_module(CNN, seed=3)
    owner = OwnerSide(split_model, plan, training)
    middle = MiddleSide(part(split_model, plan.middle), training)
    params = dict(whole.named_parameters())
    state = initial_state(training.optimizer, params)
    generator = torch.Generator().manual_seed(7)
    for _ in range(5):
        x, y = torch.randn(16, 1, 8, 8, generator=generator), torch.randint(0, 10, (16,), generator=generator)
        for p in params.values():
            p.grad = None
        expected = loss_of(training.loss, whole(x), y)
        expected.backward()
        apply(training.optimizer, params, {n: p.grad for n, p in params.items() if p.grad is not None}, state)

        grad_out, got = owner.head_backward(middle.forward(owner.stem_forward(x)), y)
        owner.finish(middle.backward(grad_out))
        assert got == pytest.approx(float(expected.detach()), rel=1e-6)
    for name, tensor in whole.state_dict().items():
        torch.testing.assert_close(split_model.state_dict()[name], tensor, rtol=1e-5, atol=1e-6, msg=name)


def test_the_owners_state_is_only_its_layers_and_the_middle_refuses_a_gradient_of_another_shape() -> None:
    training = sp.TrainingSpec.model_validate(
        {"loss": "cross_entropy", "optimizer": {"type": "sgd", "lr": 0.1}, "batch_size": 4, "local_steps": 1,
         "checkpoint_every": 1}
    )  # fmt: skip
    plan = plan_split(CNN, split(1, 1))
    module = build_module(CNN, seed=0)
    assert set(part_state(module, plan.stem)) == {"0.weight", "0.bias"}
    assert set(part_state(module, plan.head)) == {"9.weight", "9.bias"}
    assert not set(part_state(module, plan.middle)) & (set(part_state(module, plan.stem)) | {"9.weight"})
    middle = MiddleSide(part(module, plan.middle), training)
    with pytest.raises(SpecError, match="out of order"):
        middle.backward(torch.zeros(4, 64))
    middle.forward(torch.zeros(4, 16, 4, 4))
    with pytest.raises(SpecError, match="gradient of shape"):
        middle.backward(torch.zeros(4, 63))


@pytest.mark.parametrize("optimizer", [{"type": "sgd", "lr": 0.05, "momentum": 0.9}, {"type": "adam", "lr": 0.003}])
def test_split_steps_on_a_transformer_equal_the_whole_language_models(optimizer: dict[str, object]) -> None:
    """The owner keeps the embeddings and the first block (the stem) and the final norm and head; the network trains
    the middle blocks; the labels (next tokens at every position) never leave the owner."""
    model = lm_model(context=16, dim=32, blocks=4, heads=2)
    training = sp.TrainingSpec.model_validate(
        {"loss": "cross_entropy", "optimizer": optimizer, "batch_size": 8, "local_steps": 3, "checkpoint_every": 3}
    )
    plan = plan_split(model, split(3, 2))
    assert plan.cut_in == (16, 32)
    whole, split_model = build_module(model, seed=3), build_module(model, seed=3)
    owner = OwnerSide(split_model, plan, training)
    middle = MiddleSide(part(split_model, plan.middle), training)
    params = dict(whole.named_parameters())
    state = initial_state(training.optimizer, params)
    generator = torch.Generator().manual_seed(7)
    for _ in range(3):
        x = torch.randint(0, 256, (8, 16), generator=generator)
        y = torch.randint(0, 256, (8, 16), generator=generator)
        for p in params.values():
            p.grad = None
        expected = loss_of(training.loss, whole(x), y)
        expected.backward()
        apply(training.optimizer, params, {n: p.grad for n, p in params.items() if p.grad is not None}, state)
        grad_out, got = owner.head_backward(middle.forward(owner.stem_forward(x)), y)
        owner.finish(middle.backward(grad_out))
        assert got == pytest.approx(float(expected.detach()), rel=1e-5)
    for name, tensor in whole.state_dict().items():
        torch.testing.assert_close(split_model.state_dict()[name], tensor, rtol=1e-4, atol=1e-5, msg=name)
