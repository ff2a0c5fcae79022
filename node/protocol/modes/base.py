"""What a mode is: the way a task's units are trained, published, verified and evaluated. Roles, the audit, the
explorer and the client ask the task's mode (:func:`node.protocol.modes.mode_of`) instead of branching on the
spec's privacy setting; a new mode (or workload) is one more module, not one more branch in each of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from eth_account.signers.local import LocalAccount

from node.ml.data import Dataset
from node.ml.device import CPU, Hardware
from node.ml.evaluate import Evaluation
from node.ml.material import TaskMaterial
from node.ml.model import State
from node.ml.verify import Fetch, Verdict
from node.protocol.unit import UnitRef

Put = Callable[[bytes], str]


@dataclass(frozen=True, slots=True)
class UnitJob:
    """One training unit to carry out: its reference, the task's material, the round's input model (as the network
    holds it), the unit's shard, where to publish, who signs the miner's requests, and the hardware it trains on."""

    ref: UnitRef
    material: TaskMaterial
    model: State
    shard: Dataset
    put: Put
    account: LocalAccount
    hardware: Hardware


@dataclass(frozen=True, slots=True)
class TrailToJudge:
    """A training unit's trail to judge: its reference, its manifest's bytes, the task's material, where its objects
    are fetched, the challenge that draws the segments re-executed, how many besides the anchor (None: the
    spec's), and the hardware the verifier re-executes on."""

    ref: UnitRef
    manifest: bytes
    material: TaskMaterial
    fetch: Fetch
    challenge: bytes
    segments: int | None = None
    hardware: Hardware = CPU


@dataclass(frozen=True, slots=True)
class TrainedUnit:
    """A unit trained and published: its trail's CID, its final model's CID, its last segment's loss."""

    result_cid: str
    model_cid: str
    loss: float


class Mode(Protocol):
    """A task's mode, bound to its spec (:func:`~node.protocol.modes.mode_of`). ``owner_in_loop``: the owner's node
    carries every step (the contract's ``ownerInLoop``); ``initial_model_refused``: why an owner's own starting
    model cannot be used (None: it can)."""

    @property
    def name(self) -> str: ...

    @property
    def owner_in_loop(self) -> bool: ...

    @property
    def initial_model_refused(self) -> str | None: ...

    def network_model(self, whole: State) -> State:
        """What of a whole model the network (the store, the miners) holds."""
        ...

    def train(self, job: UnitJob) -> TrainedUnit:
        """Trains, records and publishes one unit; raises :class:`~node.errors.StepRefused` when it cannot be
        carried now (it is tried again from its start)."""
        ...

    def verify(self, trail: TrailToJudge) -> Verdict:
        """The verdict on a training unit's trail, re-executing the segments its challenge draws."""
        ...

    def evaluate(self, material: TaskMaterial, model: State) -> Evaluation | None:
        """The network's model evaluated on the task's held-out part; None when the network's model is not the
        whole model (only the owner's node can evaluate it)."""
        ...
