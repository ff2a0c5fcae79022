"""A task's material — its spec, its data split into shards and a held-out part, and its model's layout — built
from the stored bytes. The one loader every part of dmlnet uses: nodes, the audit, progress reports, the demo."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from node.errors import SpecError
from node.ml import spec as sp
from node.ml.data import Dataset, Split, from_bytes, split
from node.ml.model import build_module, check_against_dataset, tensor_specs
from node.ml.split import is_public, plan_of
from node.store.canonical import parse_document

if TYPE_CHECKING:
    from node.store.tensors import TensorSpec


@dataclass(frozen=True, slots=True)
class TaskMaterial:
    """A task's spec, data split and model layout, fetched and checked once."""

    spec: sp.TaskSpec
    spec_cid: str
    dataset_cid: str
    split: Split
    model_specs: dict[str, TensorSpec]
    parameter_keys: frozenset[str]


def split_for(spec: sp.TaskSpec, data: Dataset) -> Split:
    """The shards and held-out part the spec defines (the same on every machine: seeded)."""
    d = spec.dataset
    return split(data, shards=d.shards, seed=d.shard_seed, holdout_fraction=d.holdout_fraction)


def load_material(
    spec_bytes: bytes, data_bytes: bytes, *, spec_cid: str, dataset_cid: str, units_per_round: int | None = None
) -> TaskMaterial:
    """Parses and checks a task's spec and data. Raises :class:`SpecError` (or ``ValueError`` from the data) when
    they cannot be used: a spec that does not parse, shards that do not match the task, a model that does not fit."""
    spec = parse_document(spec_bytes, sp.TaskSpec)
    data = from_bytes(data_bytes)
    if units_per_round is not None and spec.dataset.shards != units_per_round:
        raise SpecError(f"the spec has {spec.dataset.shards} shards, the task {units_per_round} units")
    check_against_dataset(spec.model, data.sample_shape, spec.training.loss, data.num_classes)
    module = build_module(spec.model)
    specs, keys = tensor_specs(module), frozenset(k for k, _ in module.named_parameters())
    plan = plan_of(spec)
    if plan is not None:  # split mode: the network's model is the public middle alone
        specs = {k: v for k, v in specs.items() if is_public(k, plan)}
        keys = frozenset(k for k in keys if k in specs)
    return TaskMaterial(
        spec=spec,
        spec_cid=spec_cid,
        dataset_cid=dataset_cid,
        split=split_for(spec, data),
        model_specs=specs,
        parameter_keys=keys,
    )
