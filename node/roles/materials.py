"""Where a node's roles get a task's material (its spec, dataset and model layout) and each round's input model: the
one cache in front of :func:`node.protocol.material.material_of`, with its policy for store faults (retried with
backoff) and for material that cannot be used (the task set aside, for good, said once)."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass

from node.chain.types import Task
from node.errors import SpecError, StoreError
from node.ml.material import TaskMaterial
from node.ml.model import State, state_from_bytes
from node.ml.verify import Fetch
from node.protocol.chain import MarketReader
from node.protocol.material import material_of
from node.protocol.modes import mode_of
from node.retry import RetryPolicy
from node.store.cid import to_cid

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MaterialFault:
    """Why a task's material could not be fetched yet, how many times, and when to try again (monotonic)."""

    error: str
    attempts: int
    retry_at: float


# A store outage while fetching a task's material: retried from 1 s, doubling, up to a minute between tries.
MATERIAL_RETRY = RetryPolicy(attempts=None, base_delay_s=1.0, max_delay_s=60.0)


class Materials:
    """``unusable``: tasks set aside because their material is wrong (a bad spec, shapes that do not fit), with
    the reason; ``deferred``: tasks whose material the store has not served yet, with the fault and when to try
    again. Both are shown in the node's ``/status``."""

    def __init__(self, market: MarketReader, fetch: Fetch) -> None:
        self._market = market
        self._fetch = fetch
        self._cache: dict[int, TaskMaterial] = {}
        self._models: dict[tuple[int, int], State] = {}
        self.unusable: dict[int, str] = {}
        self.deferred: dict[int, MaterialFault] = {}
        self._shard_faults_said: set[tuple[int, int, int]] = set()  # (task, round, unit): said once
        self._rng = random.Random()

    def of(self, task: Task) -> TaskMaterial | None:
        """The task's spec and data; None while they cannot be fetched (a store fault: tried again with backoff)
        or when they cannot be used (the task is set aside). Each change is logged once."""
        if task.task_id in self._cache:
            return self._cache[task.task_id]
        if task.task_id in self.unusable:
            return None
        fault = self.deferred.get(task.task_id)
        if fault is not None and time.monotonic() < fault.retry_at:
            return None
        try:
            material = material_of(task, self._fetch)  # each shard is fetched when a unit needs it
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
        self._cache[task.task_id] = material
        return material

    def set_aside(self, task_id: int, reason: str) -> None:
        """A task whose material cannot be used (a bad spec, a model that does not fit, a malformed shard): no role
        of this node works on it again, and it is never fetched again. Said once; shown in ``/status``."""
        self.deferred.pop(task_id, None)
        self._cache.pop(task_id, None)
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
        cid = to_cid(self._market.round_input(task.task_id, round_))
        key = (task.task_id, round_)
        if key not in self._models:
            self._models = {k: v for k, v in self._models.items() if k[0] != task.task_id or k[1] >= round_ - 1}
            self._models[key] = state_from_bytes(self._fetch(cid), material.model_specs)
        return self._models[key], cid
