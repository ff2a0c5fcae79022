"""The honesty matrix: every optimizer, layer kind, aggregation rule, global-model option and example spec that a
user can bring, each as a small task whose honest work must always be accepted.

The cases are derived from the spec's own unions wherever that is possible, so that a new option joins the
matrix by existing: every example file documented in ``examples/README.md`` is a case; every aggregation rule
and optimizer of the spec is a case; every layer kind must appear in a case for each optimizer type, and
:func:`missing_coverage` names what a new layer, optimizer variant or spec field has no case for yet (a fast test
fails on it). The same cases run in process (train, publish, verify, aggregate: seconds) and through a real
network of node processes (tests/e2e/test_matrix.py).
"""

from __future__ import annotations

import re
import shlex
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.spec_cmds import load_spec
from node.ml import spec as sp
from node.ml.defaults import fashion_mnist_spec
from node.ml.spec_check import spec_from

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DIGITS_DIGEST = "0x" + "00" * 32  # replaced by the dataset's CID at submission, as the CLI does


@dataclass(frozen=True, slots=True)
class MatrixCase:
    """One task of the matrix: its spec, where its data comes from (``dml task submit --dataset``'s form), and
    the example file it was read from (None for a generated case)."""

    name: str
    spec: sp.TaskSpec
    dataset: str
    example: Path | None = None


# Small models on the 8×8 digits (input [1, 8, 8]) that together hold every layer kind. ``bias`` is off before a
# batch norm so that each model is also valid under Adam (the spec refuses a redundant bias there).
_MLP: list[dict[str, Any]] = [
    {"type": "flatten"},
    {"type": "linear", "in_features": 64, "out_features": 16},
    {"type": "relu"},
    {"type": "linear", "in_features": 16, "out_features": 10},
]
_LAYER_MODELS: dict[str, list[dict[str, Any]]] = {
    "activations": [
        {"type": "flatten"},
        {"type": "linear", "in_features": 64, "out_features": 24},
        {"type": "gelu"},
        {"type": "dropout", "p": 0.2},
        {"type": "linear", "in_features": 24, "out_features": 16},
        {"type": "tanh"},
        {"type": "linear", "in_features": 16, "out_features": 16},
        {"type": "sigmoid"},
        {"type": "linear", "in_features": 16, "out_features": 10},
    ],
    "conv": [
        {"type": "conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 3, "padding": 1, "bias": False},
        {"type": "batchnorm2d", "num_features": 4},
        {"type": "relu"},
        {"type": "maxpool2d", "kernel_size": 2},
        {"type": "conv2d", "in_channels": 4, "out_channels": 8, "kernel_size": 3, "padding": 1},
        {"type": "relu"},
        {"type": "avgpool2d", "kernel_size": 2},
        {"type": "flatten"},
        {"type": "linear", "in_features": 32, "out_features": 10},
    ],
    "residual": [
        {"type": "flatten"},
        {"type": "linear", "in_features": 64, "out_features": 24},
        {
            "type": "residual",
            "layers": [
                {"type": "layernorm", "normalized_shape": [24]},
                {"type": "linear", "in_features": 24, "out_features": 24},
                {"type": "gelu"},
                {"type": "dropout", "p": 0.1},
                {"type": "linear", "in_features": 24, "out_features": 24},
            ],
        },
        {"type": "relu"},
        {"type": "linear", "in_features": 24, "out_features": 10},
    ],
    "norms": [
        {"type": "flatten"},
        {"type": "linear", "in_features": 64, "out_features": 16},
        {"type": "layernorm", "normalized_shape": [16]},
        {"type": "relu"},
        {"type": "linear", "in_features": 16, "out_features": 16, "bias": False},
        {"type": "batchnorm1d", "num_features": 16},
        {"type": "relu"},
        {"type": "linear", "in_features": 16, "out_features": 10},
    ],
}
# A small language model on byte-level text (``--dataset fortunes``: sequences of 64 bytes) holding every sequence
# layer: the embeddings, attention inside a residual block, the transformer block, the softmax head.
_SEQUENCE_MODEL: list[dict[str, Any]] = [
    {"type": "embedding", "num_embeddings": 256, "embedding_dim": 32},
    {"type": "positional_embedding", "max_length": 64, "dim": 32},
    {
        "type": "residual",
        "layers": [
            {"type": "layernorm", "normalized_shape": [32]},
            {"type": "causal_self_attention", "dim": 32, "heads": 2, "dropout": 0.1},
        ],
    },
    {"type": "transformer_block", "dim": 32, "heads": 2, "mlp_hidden": 64, "dropout": 0.1},
    {"type": "layernorm", "normalized_shape": [32]},
    {"type": "linear", "in_features": 32, "out_features": 256},
]
# Every optimizer a spec can name, each variant that takes another code path.
_OPTIMIZERS: dict[str, dict[str, Any]] = {
    "sgd": {"type": "sgd", "lr": 0.1},
    "sgd-momentum": {"type": "sgd", "lr": 0.05, "momentum": 0.9},
    "sgd-nesterov": {"type": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
    "sgd-weight-decay": {"type": "sgd", "lr": 0.1, "weight_decay": 0.01},
    "adam": {"type": "adam", "lr": 0.005},
    "adam-weight-decay": {"type": "adam", "lr": 0.005, "weight_decay": 0.01},
}
# The layer models run under one optimizer of each type.
_LAYER_OPTIMIZERS = ("sgd-momentum", "adam")
# Every aggregation rule, with parameters that make it do its work on 5 units (trim one each side, keep 2 of 5).
_RULES: dict[str, dict[str, Any]] = {
    "fedavg": {"rule": "fedavg"},
    "median": {"rule": "median"},
    "trimmed_mean": {"rule": "trimmed_mean", "beta": 0.2},
    "multikrum": {"rule": "multikrum", "f": 1, "m": 2},
}
_GLOBAL_MODELS: dict[str, dict[str, Any]] = {
    "clip": {"clip_norm": 5.0},
    "noise": {"noise_std": 0.001},
    "clip-noise": {"clip_norm": 5.0, "noise_std": 0.001},
}


def _spec(
    layers: list[dict[str, Any]],
    optimizer: dict[str, Any],
    *,
    shards: int = 3,
    rule: dict[str, Any] | None = None,
    global_model: dict[str, Any] | None = None,
    input_shape: list[int] | None = None,
) -> sp.TaskSpec:
    return spec_from(
        {
            "model": {"input_shape": input_shape or [1, 8, 8], "layers": layers},
            "training": {
                "loss": "cross_entropy",
                "optimizer": optimizer,
                "batch_size": 32,
                "local_steps": 12,
                "checkpoint_every": 4,
            },
            "verification": {"segments": 2},
            "aggregation": rule or {"rule": "fedavg"},
            "global_model": global_model or {},
            "dataset": {"digest": DIGITS_DIGEST, "shards": shards, "shard_seed": 3, "holdout_fraction": 0.2},
        }
    )


def example_cases(folder: Path = EXAMPLES) -> list[MatrixCase]:
    """Every spec file in ``folder``, with the dataset its README checks it against (``dml spec check FILE
    --dataset D``). A spec file the README has no such line for is an error: a user could not know its data."""
    readme = (folder / "README.md").read_text()
    datasets: dict[str, str] = {}
    for line in readme.splitlines():
        words = shlex.split(line) if "spec check" in line else []
        if "--dataset" in words and len(words) > words.index("--dataset") + 1:
            target = next((w for w in words if w.startswith("examples/")), None)
            if target is not None:
                datasets[Path(target).name] = words[words.index("--dataset") + 1]
    cases = []
    for path in sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml", ".json")):
        if path.name not in datasets:
            raise ValueError(f"{path}: examples/README.md has no `dml spec check examples/{path.name} --dataset …`")
        cases.append(MatrixCase(f"example-{path.stem}", load_spec(path), datasets[path.name], path))
    return cases


def generated_cases() -> list[MatrixCase]:
    cases = [MatrixCase(f"optimizer-{name}", _spec(_MLP, opt), "digits") for name, opt in _OPTIMIZERS.items()]
    cases += [
        MatrixCase(f"layers-{model}-{opt}", _spec(layers, _OPTIMIZERS[opt]), "digits")
        for model, layers in _LAYER_MODELS.items()
        for opt in _LAYER_OPTIMIZERS
    ]
    cases += [
        MatrixCase(f"rule-{name}", _spec(_MLP, _OPTIMIZERS["sgd-momentum"], shards=5, rule=rule), "digits")
        for name, rule in _RULES.items()
    ]
    cases += [
        MatrixCase(f"global-{name}", _spec(_MLP, _OPTIMIZERS["adam"], global_model=gm), "digits")
        for name, gm in _GLOBAL_MODELS.items()
    ]
    cases += [
        MatrixCase(f"layers-sequence-{opt}", _spec(_SEQUENCE_MODEL, _OPTIMIZERS[opt], input_shape=[64]), "fortunes")
        for opt in ("sgd-momentum", "adam")
    ]
    # The built-in workloads other than the digits MLP (whose spec is the optimizer cases' base), as dml demo
    # --workload submits them, with fewer steps.
    cases.append(MatrixCase("builtin-fashion-mnist", fashion_mnist_spec(dataset_digest=DIGITS_DIGEST, local_steps=40),
                            "fashion-mnist"))  # fmt: skip
    return cases


def all_cases() -> list[MatrixCase]:
    return generated_cases() + example_cases()


def _members(union: Any) -> list[type]:
    """The classes of a discriminated union (``Annotated[A | B, Field(...)]``)."""
    inner = typing.get_args(union)[0] if typing.get_origin(union) is typing.Annotated else union
    return list(typing.get_args(inner))


def _tag(cls: type) -> str:
    field = "type" if "type" in cls.model_fields else "rule"  # type: ignore[attr-defined]
    return str(typing.get_args(cls.model_fields[field].annotation)[0])  # type: ignore[attr-defined]


def _switches(cls: Any) -> list[str]:
    """The fields of a spec class that are off by default (0, False, None): each turns a code path on."""
    return [name for name, info in cls.model_fields.items() if name not in ("type", "rule") and not info.default]


def _switched_on(model: Any) -> Iterator[str]:
    """The switches a spec object turns on."""
    return (name for name in _switches(type(model)) if getattr(model, name))


def missing_coverage(cases: list[MatrixCase]) -> list[str]:
    """What the spec offers that no case trains: a layer kind under an optimizer type, an optimizer switch (a field
    off by default), a rule, a global-model switch. Empty when the matrix covers the spec."""
    missing: list[str] = []
    optimizer_types = [_tag(c) for c in _members(sp.Optimizer)]
    seen_layers = {
        (_tag(type(layer)), _tag(type(c.spec.training.optimizer)))
        for c in cases
        for outer in c.spec.model.layers
        for layer in [outer, *(outer.layers if isinstance(outer, sp.Residual) else [])]
    }
    for layer in _members(sp.Layer):
        for opt in optimizer_types:
            if (_tag(layer), opt) not in seen_layers:
                missing.append(f"layer {_tag(layer)} under {opt}")
    optimizers = [c.spec.training.optimizer for c in cases]
    seen_switches = {(_tag(type(o)), name) for o in optimizers for name in _switched_on(o)}
    for cls in _members(sp.Optimizer):
        missing += [f"optimizer {_tag(cls)}.{n}" for n in _switches(cls) if (_tag(cls), n) not in seen_switches]
    rules = {_tag(type(c.spec.aggregation)) for c in cases}
    missing += [f"aggregation rule {_tag(r)}" for r in _members(sp.AggregationRule) if _tag(r) not in rules]
    global_switches = {name for c in cases for name in _switched_on(c.spec.global_model)}
    missing += [f"global_model.{n}" for n in _switches(sp.GlobalModelSpec) if n not in global_switches]
    return missing


def case_ids(cases: list[MatrixCase]) -> list[str]:
    return [re.sub(r"[^a-z0-9_-]", "-", c.name.lower()) for c in cases]
