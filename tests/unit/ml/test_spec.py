from __future__ import annotations

from typing import Any

import pytest

from node.errors import SpecError
from node.ml import spec as sp
from node.ml.model import build_module, check_against_dataset
from node.ml.spec_check import parse_spec
from node.store.canonical import canonical_bytes, parse_document
from testkit.world import small_spec


def _raw() -> dict[str, Any]:
    return small_spec().model_dump(mode="json")


def _parse(document: dict[str, Any]) -> sp.TaskSpec:
    return parse_spec(canonical_bytes(document))


def test_a_valid_spec_round_trips_canonically() -> None:
    spec = small_spec()
    data = canonical_bytes(spec)
    assert parse_document(data, sp.TaskSpec, require_canonical=True) == spec
    assert spec.training.checkpoint_steps == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20]


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["model"]["layers"][1].update(in_features=0), r"model\.layers\.1\.linear\.in_features"),
        (lambda d: d["training"]["optimizer"].update(lr=-1), r"training\.optimizer\.sgd\.lr"),
        (lambda d: d["training"].update(batch_size=10**6), r"training\.batch_size"),
        (lambda d: d["model"]["layers"].append({"type": "lambda", "code": "import os"}), r"model\.layers\.5"),
        (lambda d: d["model"]["layers"][0].update(code="print(1)"), r"model\.layers\.0\.flatten\.code"),
        (lambda d: d.update(extra=1), r"extra"),
        (lambda d: d["training"].update(checkpoint_every=21), r"checkpoint_every cannot exceed local_steps"),
        (lambda d: d["verification"].update(tolerance=0), r"verification\.tolerance"),
        (lambda d: d["dataset"].update(digest="not-a-digest"), r"dataset\.digest"),
        (lambda d: d["training"].update(loss="hinge"), r"training\.loss"),
        (lambda d: d.update(aggregation={"rule": "multikrum", "f": 5, "m": 1}), r"multikrum needs"),
    ],
)
def test_a_malformed_spec_names_the_field(mutate: Any, path: str) -> None:
    document = _raw()
    mutate(document)
    with pytest.raises(SpecError, match=path):
        _parse(document)


def test_layer_shapes_are_checked_end_to_end_naming_the_layer() -> None:
    document = _raw()
    document["model"]["layers"][1]["in_features"] = 65
    with pytest.raises(SpecError, match=r"model\.layers\.1 \(linear\): does not fit input of shape \(64,\)"):
        _parse(document)  # refused as the spec comes in, before any weight exists


def test_parameter_count_is_bounded() -> None:
    document = _raw()
    document["model"]["max_parameters"] = 1000
    with pytest.raises(SpecError, match=r"above model\.max_parameters"):
        _parse(document)


def test_the_model_must_fit_the_dataset() -> None:
    spec = small_spec()
    check_against_dataset(spec.model, (1, 8, 8), "cross_entropy", 10)
    with pytest.raises(SpecError, match=r"model\.input_shape"):
        check_against_dataset(spec.model, (64,), "cross_entropy", 10)
    with pytest.raises(SpecError, match="cross_entropy needs"):
        check_against_dataset(spec.model, (1, 8, 8), "cross_entropy", 3)


def test_every_whitelisted_layer_builds() -> None:
    model = sp.ModelSpec.model_validate(
        {
            "input_shape": [1, 8, 8],
            "layers": [
                {"type": "conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 3, "padding": 1},
                {"type": "batchnorm2d", "num_features": 4},
                {"type": "gelu"},
                {"type": "maxpool2d", "kernel_size": 2},
                {"type": "avgpool2d", "kernel_size": 2},
                {"type": "flatten"},
                {"type": "layernorm", "normalized_shape": [16]},
                {"type": "linear", "in_features": 16, "out_features": 8},
                {"type": "batchnorm1d", "num_features": 8},
                {"type": "tanh"},
                {"type": "sigmoid"},
                {"type": "dropout", "p": 0.5},
                {"type": "relu"},
                {"type": "linear", "in_features": 8, "out_features": 10},
            ],
        }
    )
    module = build_module(model)
    assert len(module) == 14


def _split(privacy: dict[str, Any], layers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    from node.ml.defaults import digits_cnn_model

    raw = _raw()
    raw["model"] = digits_cnn_model().model_dump(mode="json") if layers is None else {**raw["model"], "layers": layers}
    raw["privacy"] = privacy
    return raw


URL = "http://127.0.0.1:8790"


def test_a_split_spec_parses_and_names_its_owner() -> None:
    spec = _parse(_split({"mode": "split", "private_prefix": 1, "private_suffix": 1, "owner_url": URL}))
    assert (spec.privacy.mode, spec.privacy.owner_url) == ("split", URL)
    assert _parse(_raw()).privacy.mode == "none", "plain mode by default"


@pytest.mark.parametrize(
    ("privacy", "words"),
    [
        ({"mode": "split", "private_prefix": 1}, r"privacy\.owner_url: split mode needs the URL"),
        ({"mode": "split", "private_prefix": 2, "private_suffix": 2, "owner_url": URL}, r"leave no public middle"),
        ({"mode": "none", "owner_url": URL}, r"need mode \"split\""),
        ({"mode": "split", "private_suffix": 1, "owner_url": "ftp://x"}, r"privacy\.owner_url"),
        ({"mode": "split", "owner_url": URL}, r"at least one layer private"),
    ],
)
def test_a_split_that_makes_no_sense_is_refused_naming_the_field(privacy: dict[str, Any], words: str) -> None:
    with pytest.raises(SpecError, match=words):
        _parse(_split(privacy))


def test_a_split_leaving_the_owner_most_of_the_compute_is_refused() -> None:
    # The small MLP: its first linear is most of a forward pass.
    with pytest.raises(SpecError, match=r"privacy\.private_prefix: the owner's side would carry \d+% of the compute"):
        _parse(_split({"mode": "split", "private_prefix": 1, "owner_url": URL}, _raw()["model"]["layers"]))
