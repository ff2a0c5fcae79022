"""A task's material — its spec, its dataset's manifest and shards, and its model's layout — built from the stored
bytes. The one loader every part of dmlnet uses: nodes, the audit, progress reports, the demo."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from node.errors import SpecError
from node.ml import spec as sp
from node.ml.data import Corpus, Dataset, Split, split
from node.ml.model import build_module, check_against_dataset, tensor_specs
from node.ml.shards import Fetch, ShardedData, parse_manifest
from node.ml.spec_check import parse_spec
from node.ml.split import SplitPlan, is_public, plan_of

if TYPE_CHECKING:
    from node.store.tensors import TensorSpec


@dataclass(frozen=True, slots=True)
class TaskMaterial:
    """A task's spec, model layout and dataset (its shards fetched one by one, when a unit needs one)."""

    spec: sp.TaskSpec
    spec_cid: str
    dataset_cid: str
    data: ShardedData
    model_specs: dict[str, TensorSpec]
    parameter_keys: frozenset[str]
    plan: SplitPlan | None = None  # split mode's cut (the network's model is the public middle alone)

    def shard(self, index: int) -> Dataset:
        """The training shard of unit ``index`` (fetched on first use: the store's error when it cannot be)."""
        return self.data.shard(index)

    def shard_size(self, index: int) -> int:
        return self.data.shard_size(index)

    def test_set(self) -> Dataset:
        """The owner's held-out part (fetched on first use)."""
        return self.data.test()


def split_for(spec: sp.TaskSpec, data: Corpus | Dataset) -> Split:
    """The shards and held-out part the spec defines (the same on every machine: seeded); a corpus with its own
    test split keeps it as the held-out part."""
    corpus = data if isinstance(data, Corpus) else Corpus(data)
    d = spec.dataset
    return split(
        corpus.train, shards=d.shards, seed=d.shard_seed, holdout_fraction=d.holdout_fraction, test=corpus.test
    )


def load_material(
    spec_bytes: bytes, fetch: Fetch, *, spec_cid: str, dataset_cid: str, units_per_round: int | None = None
) -> TaskMaterial:
    """Parses and checks a task's spec and its dataset's manifest (``fetch`` reads the manifest now and each shard
    when it is first used). Raises :class:`SpecError` when they cannot be used: a spec or manifest that does not
    parse, shards that do not match the task, a model that does not fit the samples; the store's error when the
    manifest cannot be fetched."""
    spec = parse_spec(spec_bytes)
    manifest = parse_manifest(fetch(dataset_cid))
    if len(manifest.shards) != spec.dataset.shards:
        raise SpecError(f"the spec has {spec.dataset.shards} shards, the dataset {len(manifest.shards)}")
    if units_per_round is not None and spec.dataset.shards != units_per_round:
        raise SpecError(f"the spec has {spec.dataset.shards} shards, the task {units_per_round} units")
    check_against_dataset(
        spec.model, tuple(manifest.sample_shape), spec.training.loss, manifest.classes, tokens=manifest.dtype == "int32"
    )
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
        data=ShardedData(manifest, fetch),
        model_specs=specs,
        parameter_keys=keys,
        plan=plan,
    )
