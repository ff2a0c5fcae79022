"""What every role needs: the market, the store, the node's state, and a cache of task material."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from node.chain.types import Task, TaskStatus, UnitInfo
from node.config import NodeSettings
from node.errors import SpecError, StoreError
from node.metrics import NodeMetrics
from node.ml.material import TaskMaterial
from node.ml.model import State, state_from_bytes
from node.protocol.chain import Market
from node.protocol.material import material_of
from node.protocol.modes import mode_of
from node.retry import RetryPolicy
from node.state import NodeState
from node.store.cid import to_cid
from node.store.client import StoreClient

log = logging.getLogger(__name__)


class ChainClock:
    """The chain's notion of now, which is what deadlines are measured in.

    It is not the wall clock: a block's timestamp can trail it (a slow chain, an idle devnet whose next block is
    not mined yet) or be shifted from it (a devnet reverted to a snapshot, or fast-forwarded). Each time a new
    block is seen, the offset between its timestamp and the wall clock is kept; now = wall clock + offset.
    """

    def __init__(self) -> None:
        self._offset = 0.0
        self._block = -1

    def observe(self, block_number: int, block_timestamp: int) -> None:
        if block_number != self._block:
            self._block = block_number
            self._offset = block_timestamp - time.time()

    def now(self) -> float:
        return time.time() + self._offset


@dataclass(frozen=True, slots=True)
class CycleView:
    """What one cycle acts on: the block every role reads the chain at (pinned: the cycle's scans agree with each
    other), that block's chain time, and when the cycle's time budget ends (monotonic seconds). A role asks
    :meth:`over_budget` before each job it would start; what it leaves waits for the next cycle."""

    block: int
    timestamp: int
    budget_ends: float = math.inf
    clock: Callable[[], float] = time.monotonic

    def over_budget(self) -> bool:
        return self.clock() >= self.budget_ends


@dataclass(frozen=True, slots=True)
class MaterialFault:
    """Why a task's material could not be fetched yet, how many times, and when to try again (monotonic)."""

    error: str
    attempts: int
    retry_at: float


# A store outage while fetching a task's material: retried from 1 s, doubling, up to a minute between tries.
MATERIAL_RETRY = RetryPolicy(attempts=None, base_delay_s=1.0, max_delay_s=60.0)


@dataclass
class Services:
    settings: NodeSettings
    market: Market
    store: StoreClient
    state: NodeState
    metrics: NodeMetrics
    materials: dict[int, TaskMaterial] = field(default_factory=dict)
    models: dict[tuple[int, int], State] = field(default_factory=dict)
    # Tasks set aside because their material is wrong (bad spec, shapes that do not fit), with the reason; and
    # tasks whose material could not be fetched yet (a store fault), with the fault and when to try again.
    unusable: dict[int, str] = field(default_factory=dict)
    deferred: dict[int, MaterialFault] = field(default_factory=dict)
    # Tasks this miner does not claim on (its own rejected result fails its own check too), with why.
    claims_paused: dict[int, str] = field(default_factory=dict)
    _shard_faults_said: set[tuple[int, int, int]] = field(default_factory=set)  # (task, round, unit) said once
    clock: ChainClock = field(default_factory=ChainClock)
    _rng: random.Random = field(default_factory=random.Random)
    # One cycle's view of the chain, read at the block the cycle started from and shared by every role: scans
    # of a round's units cost one read per unit per cycle instead of one per role. Decisions taken from it are
    # re-checked by the transaction's simulation (a unit taken meanwhile is a lost race, never a failure).
    _cycle_block: int | None = None
    _cycle_tasks: list[Task] | None = None
    _cycle_units: dict[tuple[int, int], list[UnitInfo]] = field(default_factory=dict)

    def begin_cycle(self, block_number: int, timestamp: int, *, budget_s: float = math.inf) -> CycleView:
        """Pins the chain reads of a cycle to ``block_number`` and returns the cycle's view."""
        self.clock.observe(block_number, timestamp)
        self._cycle_block = block_number
        self._cycle_tasks = None
        self._cycle_units = {}
        return CycleView(block_number, timestamp, time.monotonic() + budget_s)

    def cycle_at_head(self, *, budget_s: float = math.inf) -> CycleView:
        """A cycle at the chain's latest block (what the node's loop does at each cycle; tests drive roles so)."""
        number, timestamp = self.market.latest()
        return self.begin_cycle(number, timestamp, budget_s=budget_s)

    @property
    def address(self) -> str:
        return self.market.signer.address

    def fetch(self, cid: str) -> bytes:
        return self.store.get(cid)

    def material(self, task: Task) -> TaskMaterial | None:
        """The task's spec and data; None while they cannot be fetched (a store fault: tried again with backoff)
        or when they cannot be used (the task is set aside). Each change is logged once."""
        if task.task_id in self.materials:
            return self.materials[task.task_id]
        if task.task_id in self.unusable:
            return None
        fault = self.deferred.get(task.task_id)
        if fault is not None and time.monotonic() < fault.retry_at:
            return None
        try:
            material = material_of(task, self.fetch)  # each shard is fetched when a unit needs it
        except StoreError as err:  # unreachable, or not there yet: the store's fault, not the task's
            attempts = 1 if fault is None else fault.attempts + 1
            # Never sooner than the base delay: full jitter alone may draw ~0 s and fetch again at once.
            delay = MATERIAL_RETRY.base_delay_s + MATERIAL_RETRY.delay(attempts, self._rng)
            self.deferred[task.task_id] = MaterialFault(str(err), attempts, time.monotonic() + delay)
            if fault is None:
                log.warning(
                    "task material not fetched, retrying with backoff",
                    extra={"task": task.task_id, "error": str(err)},
                )
            return None
        except (SpecError, ValueError) as err:
            self.set_aside(task.task_id, str(err))
            return None
        if self.deferred.pop(task.task_id, None) is not None:
            log.info("task material fetched after a store fault", extra={"task": task.task_id})
        if mode_of(material.spec).owner_in_loop and not task.params.owner_in_loop:
            # A miner of a split task depends on the owner's node for every step: without the contract's promise
            # that an expiry then costs it nothing, an owner that goes silent would have its miners slashed.
            reason = "split mode without ownerInLoop on chain: an owner's silence would slash its miners"
            self.set_aside(task.task_id, reason)
            return None
        self.materials[task.task_id] = material
        return material

    def set_aside(self, task_id: int, reason: str) -> None:
        """A task whose material cannot be used (a bad spec, a model that does not fit, a malformed shard): no role
        of this node works on it again, and it is never fetched again. Said once; shown in ``/status``."""
        self.deferred.pop(task_id, None)
        self.materials.pop(task_id, None)
        if task_id not in self.unusable:
            log.error("task unusable: set aside", extra={"task": task_id, "error": reason})
        self.unusable[task_id] = reason

    def shards_at_hand(self, task: Task, material: TaskMaterial, indices: list[int]) -> bool:
        """Fetches the shards of the training units among ``indices`` (each checked against the dataset's manifest
        and kept, so the work that follows reads them from memory). A shard the store cannot serve now: False, said
        once per unit, tried again next cycle; a malformed one sets the task aside (the owner's fault). A miner asks
        before it claims, a verifier before it judges: either way the owner's missing data costs nobody a bond."""
        try:
            for index in indices:
                if index < task.params.units_per_round:
                    material.shard(index)
        except SpecError as err:
            self.set_aside(task.task_id, str(err))
            return False
        except StoreError as err:
            key = (task.task_id, task.state.current_round, min(indices))
            if key not in self._shard_faults_said:
                self._shard_faults_said.add(key)
                log.warning("shard not fetched: waiting for the store", extra={"task": task.task_id, "error": str(err)})
            return False
        return True

    def round_model(self, task: Task, round_: int, material: TaskMaterial) -> tuple[State, str]:
        """The input model of a round and its CID."""
        cid = to_cid(self.market.round_input(task.task_id, round_))
        key = (task.task_id, round_)
        if key not in self.models:
            self.models = {k: v for k, v in self.models.items() if k[0] != task.task_id or k[1] >= round_ - 1}
            self.models[key] = state_from_bytes(self.fetch(cid), material.model_specs)
        return self.models[key], cid

    def ensure_free_stake(self, needed: int, purpose: str, *, for_seats: bool = False) -> bool:
        """Stakes what is missing for a bond of ``needed`` wei, within the stake cap; False when the cap forbids.
        ``for_seats``: what a draw weighs instead (stake at risk beyond the bonds this node took itself: seats lock
        their bonds whether or not stake is free)."""
        stake = self.market.stake_of(self.address)
        have = stake.seatable if for_seats else stake.free
        if have >= needed:
            return True
        # Locked and unbonding stake may overlap, so free can be clipped at zero: top up what is really missing.
        overlap = 0 if for_seats else max(0, stake.locked + stake.unbonding - stake.total)
        top_up = needed - have + overlap
        if stake.total + top_up > self.settings.stake_cap_wei:
            log.warning(
                "stake cap reached", extra={"purpose": purpose, "needed": needed, "cap": self.settings.stake_cap_wei}
            )
            return False
        self.market.stake(top_up)
        self.metrics.tx_sent.labels("stake").inc()
        log.info("staked", extra={"purpose": purpose, "amount_wei": top_up})
        return True

    def round_units(self, task: Task) -> list[UnitInfo]:
        """Every unit of the task's current round, the aggregation unit last, as of this cycle's block."""
        r = task.state.current_round
        key = (task.task_id, r)
        if key not in self._cycle_units:
            block: int | str = "latest" if self._cycle_block is None else self._cycle_block
            units = self.market.get_units(task.task_id, r, block=block)
            if self._cycle_block is None:
                return units
            self._cycle_units[key] = units
        return self._cycle_units[key]

    def live_tasks(self) -> list[Task]:
        """Tasks this node should look at: active ones, and cancelled ones with units still in flight."""
        if self._cycle_tasks is not None:
            return self._cycle_tasks
        out = []
        wanted = self.settings.tasks
        block: int | str = "latest" if self._cycle_block is None else self._cycle_block
        for task_id in self.state.tasks():
            if wanted is not None and task_id not in wanted:
                continue
            task = self.market.get_task(task_id, block=block)
            if task.state.status is TaskStatus.ACTIVE or (
                task.state.status is TaskStatus.CANCELLED and task.state.in_flight > 0
            ):
                out.append(task)
        if self._cycle_block is not None:
            self._cycle_tasks = out
        return out
