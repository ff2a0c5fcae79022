"""Submitting a task: upload the dataset, the spec and the initial model, then create the task on chain with
its whole budget escrowed."""

from __future__ import annotations

from dataclasses import dataclass

from node.chain.contract import TaskMarket
from node.chain.types import TaskParams
from node.ml import spec as sp
from node.ml.data import Dataset, to_bytes
from node.ml.model import build_module, check_against_dataset, state_of, state_to_bytes
from node.store.canonical import canonical_bytes
from node.store.cid import to_digest
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


def prepare_task(
    store: StoreClient, spec: sp.TaskSpec, dataset: Dataset, economics: Economics, *, model_seed: int = 0
) -> PreparedTask:
    """Checks the spec against the data, uploads everything, and returns the on-chain parameters."""
    check_against_dataset(spec.model, dataset.sample_shape, spec.training.loss, dataset.num_classes)
    dataset_cid = store.put(to_bytes(dataset))
    if to_digest(spec.dataset.digest) != to_digest(dataset_cid):
        spec = spec.model_copy(update={"dataset": spec.dataset.model_copy(update={"digest": dataset_cid})})
    spec_cid = store.put(canonical_bytes(spec))
    model_cid = store.put(state_to_bytes(state_of(build_module(spec.model, seed=model_seed))))
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
    )
    return PreparedTask(params, spec_cid, dataset_cid, model_cid)


def create_task(market: TaskMarket, prepared: PreparedTask) -> int:
    task_id, _ = market.create_task(prepared.params)
    return task_id
