"""The sequence layers and the residual block: whitelisted, shape-checked before anything is sent, bounded."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from pydantic import ValidationError

from node.errors import SpecError
from node.ml import spec as sp
from node.ml.defaults import lm_model, lm_spec
from node.ml.layers import CausalSelfAttention, Dropout
from node.ml.model import build_module, check_activations, check_against_dataset, footprint
from node.ml.spec_check import spec_from
from node.ml.split import plan_split

NONE = "0x" + "00" * 32


def _model(layers: list[dict[str, Any]], input_shape: list[int]) -> sp.ModelSpec:
    return sp.ModelSpec.model_validate({"input_shape": input_shape, "layers": layers})


def test_attention_is_causal_a_position_never_sees_the_ones_after_it() -> None:
    torch.manual_seed(0)
    attention = CausalSelfAttention(16, 4).eval()
    x = torch.randn(1, 10, 16)
    changed = x.clone()
    changed[0, 6:] += 5.0  # the future of position 5
    a, b = attention(x), attention(changed)
    assert torch.allclose(a[0, :6], b[0, :6], atol=1e-6)
    assert not torch.allclose(a[0, 6:], b[0, 6:])


def test_a_residual_body_that_changes_the_shape_is_refused_naming_the_layer() -> None:
    model = _model(
        [
            {"type": "flatten"},
            {"type": "residual", "layers": [{"type": "linear", "in_features": 64, "out_features": 32}]},
        ],
        [1, 8, 8],
    )
    with pytest.raises(SpecError, match=r"model\.layers\.1 \(residual\): .*turns \(64,\) into \(32,\)"):
        footprint(model)


def test_an_embedding_is_only_the_first_layer_and_takes_a_sequence() -> None:
    with pytest.raises(ValidationError, match="only the first layer"):
        _model([{"type": "flatten"}, {"type": "embedding", "num_embeddings": 10, "embedding_dim": 4}], [8])
    with pytest.raises(ValidationError, match=r"input_shape: a model that starts with an embedding"):
        _model([{"type": "embedding", "num_embeddings": 10, "embedding_dim": 4}], [1, 8])
    with pytest.raises(ValidationError, match="not a multiple of heads"):
        _model([{"type": "transformer_block", "dim": 10, "heads": 3}], [4, 10])


def test_the_language_model_fits_token_data_and_refuses_numbers() -> None:
    model = lm_model(context=32, dim=32, blocks=1, heads=2)
    assert model.takes_tokens
    assert model.family == "transformer"
    assert footprint(model).output_shape == (32, 256)
    check_against_dataset(model, (32,), "cross_entropy", 200, tokens=True)
    with pytest.raises(SpecError, match=r"model\.layers\.0: an embedding takes token ids"):
        check_against_dataset(model, (32,), "cross_entropy", 200, tokens=False)
    with pytest.raises(SpecError, match="vocabulary of at least 300"):
        check_against_dataset(model, (32,), "cross_entropy", 300, tokens=True)
    with pytest.raises(SpecError, match=r"model\.input_shape"):
        check_against_dataset(model, (64,), "cross_entropy", 200, tokens=True)


def test_parameters_and_activation_memory_are_bounded_before_anything_is_sent() -> None:
    model = lm_model(context=256, dim=64, blocks=2, heads=4)
    size = footprint(model)
    assert size.parameters == sum(p.numel() for p in build_module(model).parameters())
    # Attention holds heads × length² scores and their softmax per block: the estimate counts them.
    assert size.activation_bytes > 2 * 2 * 4 * 256 * 256 * 4
    small = model.model_copy(update={"max_activation_bytes": 64 << 20})
    with pytest.raises(
        SpecError, match=r"training\.batch_size: a batch of 512 holds about .* model\.max_activation_bytes = 64 MiB"
    ):
        check_activations(small, 512)
    document = lm_spec(dataset_digest=NONE).model_dump()
    document["model"]["max_parameters"] = 1000
    with pytest.raises(SpecError, match=r"above model\.max_parameters = 1000"):
        spec_from(document)


def test_dropout_masks_come_from_the_cpu_generator_on_any_device() -> None:
    drop = Dropout(0.5).train()
    x = torch.ones(1000)
    torch.manual_seed(7)
    a = drop(x)
    torch.manual_seed(7)
    b = drop(x)
    assert torch.equal(a, b)
    assert 400 < int((a == 0).sum()) < 600
    assert torch.equal(drop.eval()(x), x)


def test_split_mode_works_on_a_transformer_and_refuses_an_embedding_alone_as_its_stem() -> None:
    model = lm_model(context=32, dim=32, blocks=4, heads=2)
    plan = plan_split(model, sp.PrivacySpec(mode="split", private_prefix=3, private_suffix=1, owner_url="http://o:1"))
    assert plan.cut_in == (32, 32)
    assert plan.cut_out == (32, 32)
    assert 0 < plan.owner_share <= 0.5
    with pytest.raises(SpecError, match=r"privacy\.private_prefix: an embedding alone does not hide the tokens"):
        plan_split(model, sp.PrivacySpec(mode="split", private_prefix=2, private_suffix=1, owner_url="http://o:1"))
