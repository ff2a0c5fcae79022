"""A unit of work as the chain fixes it, built once: which task, round and index, whose result, from which input
model, under which seed, bound to which chain and contract. Everything that trains, publishes, checks or explains
a unit takes this reference instead of the identity's keyword bundle."""

from __future__ import annotations

from dataclasses import dataclass

from node.chain.hashing import unit_seed
from node.chain.types import Task
from node.ml.manifest import UnitContext
from node.ml.split_replay import TrafficSigner
from node.protocol.chain import MarketReader
from node.protocol.step_auth import Binding, traffic_signer
from node.store.cid import to_cid


@dataclass(frozen=True, slots=True)
class UnitRef:
    task: Task
    context: UnitContext
    binding: Binding

    @property
    def task_id(self) -> int:
        return self.context.task_id

    @property
    def round(self) -> int:
        return self.context.round

    @property
    def index(self) -> int:
        return self.context.index

    @property
    def miner(self) -> str:
        return self.context.miner

    @property
    def seed(self) -> bytes:
        return self.context.unit_seed

    @property
    def input_model_cid(self) -> str:
        return self.context.input_model_cid

    @property
    def is_aggregation(self) -> bool:
        return self.index == self.task.params.units_per_round

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.task_id, self.round, self.index)

    def traffic_signer(self) -> TrafficSigner:
        """Who signed a split unit's traffic heads, for this unit on this chain and contract."""
        return traffic_signer(self.binding, self.task_id, self.round, self.index, self.miner)


def binding_of(market: MarketReader) -> Binding:
    return Binding(market.chain_id, market.address)


def unit_ref(market: MarketReader, task: Task, round_: int, index: int, miner: str) -> UnitRef:
    """The reference of unit ``index`` of ``round_`` for ``miner``: the round's input read from the chain, the seed
    the contract derives, the owner that signs a split unit's traffic."""
    context = UnitContext(
        task_id=task.task_id,
        round=round_,
        index=index,
        miner=miner,
        spec_cid=to_cid(task.params.spec_digest),
        dataset_cid=to_cid(task.params.dataset_digest),
        input_model_cid=to_cid(market.round_input(task.task_id, round_)),
        unit_seed=unit_seed(task.task_id, round_, index, miner),
        owner=task.state.owner,
    )
    return UnitRef(task, context, binding_of(market))
