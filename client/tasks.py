"""Submitting a task: upload the dataset, the spec and the initial model, then create the task on chain with
its whole budget escrowed."""

from __future__ import annotations

from dataclasses import dataclass

from node.chain.contract import TaskMarket
from node.chain.reverts import (
    TaskMarketParamOutOfRange,
    TaskMarketQuorumEven,
    TaskMarketUnbondingTooShort,
    TaskMarketUnitBondTooSmall,
    TaskMarketVoteBondTooSmall,
    TaskMarketZeroAmount,
)
from node.chain.types import TaskParams
from node.errors import ConfigError, ContractRevert, StoreError
from node.ml import spec as sp
from node.ml.data import Corpus, Dataset
from node.ml.material import split_for
from node.ml.model import build_module, check_against_dataset, state_from_bytes, state_of, state_to_bytes, tensor_specs
from node.ml.shards import DatasetManifest, encode_split
from node.protocol.modes import mode_of
from node.store.canonical import canonical_bytes
from node.store.cid import cid_of, to_digest
from node.store.client import StoreClient

ETHER = 10**18


@dataclass(frozen=True, slots=True)
class Economics:
    """Rewards, bonds and timeouts of a task (wei and seconds)."""

    rounds: int = 2
    quorum: int = 3
    miner_reward: int = ETHER // 10
    aggregator_reward: int = ETHER // 20
    verifier_reward: int = ETHER // 100
    unit_bond: int = ETHER // 20
    # At least 4 × verifier_reward: an overturned verdict's slashed majority pays the appeal and its challenger.
    vote_bond: int = ETHER // 25
    claim_timeout_s: int = 600
    commit_timeout_s: int = 300
    reveal_timeout_s: int = 300
    # Seconds a verdict stays open to challenge before it pays (0: final at once, no appeals).
    challenge_window_s: int = 10


@dataclass(frozen=True, slots=True)
class PreparedTask:
    params: TaskParams
    spec_cid: str
    dataset_cid: str
    model_cid: str


@dataclass(frozen=True, slots=True)
class BuiltTask:
    """A task's parameters and the bytes behind their digests, nothing uploaded or sent yet."""

    prepared: PreparedTask
    objects: dict[str, bytes]  # CID → bytes: the dataset's shards and manifest, the spec, the initial model


@dataclass(frozen=True, slots=True)
class StoredDataset:
    """A dataset already in the store (``dml data add``): its manifest's CID and the manifest."""

    cid: str
    manifest: DatasetManifest


def dataset_objects(spec: sp.TaskSpec, dataset: Corpus | Dataset | StoredDataset) -> tuple[str, dict[str, bytes]]:
    """The dataset's manifest CID and the objects to upload for it: its shards, cut as the spec says (a dataset
    already stored is used as it was cut, when its shards are the task's units)."""
    if isinstance(dataset, StoredDataset):
        m = dataset.manifest
        check_against_dataset(
            spec.model, tuple(m.sample_shape), spec.training.loss, m.classes, tokens=m.dtype == "int32"
        )
        if len(m.shards) != spec.dataset.shards:
            raise ConfigError(
                f"dataset {dataset.cid} is stored in {len(m.shards)} shards, the task has {spec.dataset.shards} "
                f"units: --units {len(m.shards)}, or store it again with dml data add --shards {spec.dataset.shards}"
            )
        return dataset.cid, {}
    corpus = dataset if isinstance(dataset, Corpus) else Corpus(dataset)
    classes = max(corpus.train.num_classes, corpus.test.num_classes if corpus.test is not None else 0)
    check_against_dataset(
        spec.model, corpus.train.sample_shape, spec.training.loss, classes, tokens=corpus.train.tokens
    )
    d = spec.dataset
    holdout = None if corpus.test is not None else d.holdout_fraction
    manifest, objects = encode_split(split_for(spec, corpus), shard_seed=d.shard_seed, holdout_fraction=holdout)
    return cid_of(manifest), objects


def build_task(
    spec: sp.TaskSpec,
    dataset: Corpus | Dataset | StoredDataset,
    economics: Economics,
    *,
    model_seed: int = 0,
    initial_model: bytes | None = None,
) -> BuiltTask:
    """Checks the spec against the data and computes every CID and the on-chain parameters, locally. The initial
    model is the spec's module initialised from ``model_seed``, or ``initial_model`` (safetensors bytes, checked
    against the spec's layout: names, shapes, finite values)."""
    dataset_cid, data_objects = dataset_objects(spec, dataset)
    if to_digest(spec.dataset.digest) != to_digest(dataset_cid):
        spec = spec.model_copy(update={"dataset": spec.dataset.model_copy(update={"digest": dataset_cid})})
    spec_bytes = canonical_bytes(spec)
    module = build_module(spec.model, seed=model_seed)
    mode = mode_of(spec)
    if initial_model is None:
        start = state_of(module)
    elif mode.initial_model_refused is not None:
        # Split mode: the owner's node starts its private layers from the spec's initialisation (seed 0); a model
        # of the owner's own would have to reach it some other way than the public store.
        raise ConfigError(f"--initial-model: {mode.initial_model_refused}")
    else:  # re-encoded: the store holds the canonical bytes of exactly these tensors
        start = state_from_bytes(initial_model, tensor_specs(module))
    model_bytes = state_to_bytes(mode.network_model(start))  # split mode: the public middle alone
    spec_cid, model_cid = cid_of(spec_bytes), cid_of(model_bytes)
    params = TaskParams(
        spec_digest=to_digest(spec_cid),
        dataset_digest=to_digest(dataset_cid),
        initial_model_digest=to_digest(model_cid),
        rounds=economics.rounds,
        units_per_round=spec.dataset.shards,
        quorum=economics.quorum,
        claim_timeout=economics.claim_timeout_s,
        commit_timeout=economics.commit_timeout_s,
        reveal_timeout=economics.reveal_timeout_s,
        miner_reward=economics.miner_reward,
        aggregator_reward=economics.aggregator_reward,
        verifier_reward=economics.verifier_reward,
        unit_bond=economics.unit_bond,
        vote_bond=economics.vote_bond,
        challenge_window=economics.challenge_window_s,
        owner_in_loop=mode.owner_in_loop,
    )
    objects = {**data_objects, spec_cid: spec_bytes, model_cid: model_bytes}
    return BuiltTask(PreparedTask(params, spec_cid, dataset_cid, model_cid), objects)


def upload(store: StoreClient, built: BuiltTask) -> PreparedTask:
    for cid, data in built.objects.items():
        stored = store.put(data)
        if stored != cid:  # the store computes the same CID from the same bytes, or something is badly wrong
            raise StoreError(f"the store named {cid} {stored}")
    return built.prepared


def prepare_task(
    store: StoreClient,
    spec: sp.TaskSpec,
    dataset: Corpus | Dataset | StoredDataset,
    economics: Economics,
    *,
    model_seed: int = 0,
) -> PreparedTask:
    """Checks the spec against the data, uploads everything, and returns the on-chain parameters."""
    return upload(store, build_task(spec, dataset, economics, model_seed=model_seed))


def refuse_what_the_contract_would(market: TaskMarket, params: TaskParams) -> None:
    """Simulates ``createTask`` with exactly these parameters and budget: whatever the contract would refuse is
    refused here, in the words of the option that sets it, before anything is uploaded or sent."""
    try:
        market.simulate_create_task(params)
    except ContractRevert as err:
        raise ConfigError(_in_options(err)) from err


_OPTION = {
    "rounds": "--rounds", "unitsPerRound": "--units (the spec's dataset.shards)", "quorum": "--quorum",
    "claimTimeout": "the claim timeout", "commitTimeout": "the commit timeout", "revealTimeout": "the reveal timeout",
    "challengeWindow": "--challenge-window", "minerReward": "--miner-reward", "aggregatorReward": "--aggregator-reward",
    "verifierReward": "--verifier-reward", "unitBond": "--unit-bond", "voteBond": "--vote-bond",
}  # fmt: skip


def _in_options(err: ContractRevert) -> str:
    v = err.values
    if isinstance(err, TaskMarketParamOutOfRange):
        field = str(v["field"])
        return f"{_OPTION.get(field, field)} {v['value']} is out of range: {v['min']} to {v['max']}"
    if isinstance(err, TaskMarketQuorumEven):
        return f"--quorum {v['quorum']}: a quorum must be odd (a majority always exists)"
    if isinstance(err, TaskMarketVoteBondTooSmall):
        return f"--vote-bond {v['voteBond']} wei is below the minimum {v['minimum']} wei (4 × --verifier-reward)"
    if isinstance(err, TaskMarketUnitBondTooSmall):
        return f"--unit-bond {v['unitBond']} wei is below the minimum {v['minimum']} wei"
    if isinstance(err, TaskMarketZeroAmount):
        field = str(v["field"])
        return f"{_OPTION.get(field, field)} must not be zero"
    if isinstance(err, TaskMarketUnbondingTooShort):
        return (
            f"this deployment's unbonding delay ({v['delay']} s) is shorter than the task can still slash "
            f"({v['needed']} s): shorten --challenge-window or the timeouts"
        )
    return f"the contract would refuse this task: {err}"


def create_task(market: TaskMarket, prepared: PreparedTask) -> int:
    task_id, _ = market.create_task(prepared.params)
    return task_id
