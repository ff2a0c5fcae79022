"""The owner's node for split training (``dml node run --roles owner``): serves the step protocol of its own split
tasks to each unit's claimant, keeps the private layers on its own disk, and combines them after each round.

Each unit starts from the round's private layers (the spec's initialisation in round 0) and the network's public
middle. When a unit's last step is answered, the unit's private layers are written to disk before the traffic
is signed, so a result the network accepts always has its private half here. When a round has moved on, the
private layers of the round's accepted units (the chain's ``UnitAccepted`` events name them) are combined by the
task's aggregation rule, as the network combines the middles: the next round starts from them, and the last
round's, with the final public middle, is the owner's model (``dml task download --owner-dir``). Nothing here is
ever uploaded: the store and the other nodes only see the middle and the recorded traffic.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from pathlib import Path

from node.chain.hashing import unit_seed
from node.chain.types import Task, TaskStatus, UnitStatus
from node.errors import ConfigError, NodeError
from node.http_server import BackgroundServer, serve_in_thread
from node.ml.aggregate import Contribution, aggregate
from node.ml.material import TaskMaterial
from node.ml.model import State, build_module, state_from_bytes, state_of, state_to_bytes, tensor_specs
from node.ml.split import SplitPlan, private_part
from node.ml.split_unit import OwnerUnit
from node.protocol.owner_service import Commitment, create_owner_app
from node.protocol.step_auth import TrafficCommitment, sign_commitment
from node.protocol.unit import binding_of
from node.roles.context import CycleView, Services

log = logging.getLogger(__name__)


def _task_dir(data_dir: Path, chain: str, task_id: int) -> Path:
    # Bound to the chain (its identity: chain id, genesis, contract): a devnet restarted with the same contract
    # address numbers its tasks from 1 again, and must not meet an earlier chain's private layers.
    return data_dir / "owner" / hashlib.sha256(chain.encode()).hexdigest()[:16] / f"task-{task_id}"


def private_path(data_dir: Path, chain: str, task_id: int, round_: int) -> Path:
    """Where the owner's node keeps the private layers a round starts from (``round_`` = rounds: the final ones);
    ``chain``: the deployment's identity (:meth:`node.chain.deployment.Deployment.identity`)."""
    return _task_dir(data_dir, chain, task_id) / f"private-round-{round_}.safetensors"


def _unit_path(data_dir: Path, chain: str, task_id: int, round_: int, unit: int, miner: str) -> Path:
    return _task_dir(data_dir, chain, task_id) / f"round-{round_}" / f"unit-{unit}-{miner.lower()}.safetensors"


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


class OwnerRole:
    name = "owner"

    def __init__(self, services: Services) -> None:
        self.s = services
        settings = services.settings
        if settings.owner_port is None:
            raise ConfigError("the owner role serves split training: give it a port (--owner-port)")
        self._dir = settings.data_dir
        chain = services.state.get_meta("chain")
        if chain is None:  # pragma: no cover - open_state binds every node's state to its chain
            raise ConfigError("the node's state is not bound to a chain")
        self._chain = chain
        self._lock = threading.Lock()  # the HTTP thread and the node's loop share the services
        self._binding = binding_of(services.market)
        self._reader = services.market.events()
        app = create_owner_app(self._binding, self._open_unit, self._finish_unit)
        self._server: BackgroundServer = serve_in_thread(app, settings.owner_host, settings.owner_port, name="owner")
        if not self._server.wait_started():
            raise ConfigError(f"the owner's service could not listen on {settings.owner_host}:{settings.owner_port}")
        log.info("owner service listening", extra={"host": settings.owner_host, "port": settings.owner_port})

    def close(self) -> None:
        self._server.stop()

    # ---------------------------------------------------------------------------------------------- serving

    def _own_split_task(self, task_id: int) -> tuple[Task, TaskMaterial, SplitPlan] | None:
        task = self.s.market.get_task(task_id)
        if task.state.owner.lower() != self.s.address.lower():
            return None
        material = self.s.materials.of(task)
        if material is None or material.plan is None:  # not a task in split mode: nothing to serve
            return None
        return task, material, material.plan

    def _open_unit(self, task_id: int, round_: int, unit: int, claimant: str) -> OwnerUnit | None:
        with self._lock:
            found = self._own_split_task(task_id)
            if found is None:
                return None
            task, material, plan = found
            if task.state.status is not TaskStatus.ACTIVE or round_ != task.state.current_round:
                return None
            if not 0 <= unit < task.params.units_per_round:
                return None
            info = self.s.market.get_unit(task_id, round_, unit)
            if info.status is not UnitStatus.CLAIMED or info.miner.lower() != claimant.lower():
                return None
            middle, _ = self.s.materials.round_model(task, round_, material)
            private = self._private(task, material, plan, round_)
            log.info("serving a unit", extra={"task": task_id, "round": round_, "unit": unit, "miner": claimant})
            return OwnerUnit(
                material.spec,
                plan,
                {**private, **middle},
                material.shard(unit),
                unit_seed(task_id, round_, unit, claimant),
            )

    def _finish_unit(self, task_id: int, round_: int, unit: int, claimant: str, owner: OwnerUnit) -> Commitment:
        # On disk before the signature goes out: a result the network accepts has its private half here.
        _write_atomic(
            _unit_path(self._dir, self._chain, task_id, round_, unit, claimant), state_to_bytes(owner.private_state())
        )
        heads = owner.checkpoint_heads()
        commitment = TrafficCommitment(
            self._binding.chain_id, self._binding.contract, task_id, round_, unit, claimant, heads
        )
        log.info("unit's traffic signed", extra={"task": task_id, "round": round_, "unit": unit, "miner": claimant})
        return Commitment(
            heads=[h.hex() for h in heads],
            segment_losses=owner.segment_losses(),
            signature=sign_commitment(self.s.market.signer.account, commitment),
        )

    # ---------------------------------------------------------------------------------------------- rounds

    def _private_specs(self, material: TaskMaterial, plan: SplitPlan) -> State:
        return private_part(state_of(build_module(material.spec.model)), plan)

    def _private(self, task: Task, material: TaskMaterial, plan: SplitPlan, round_: int) -> State:
        """The private layers round ``round_`` starts from."""
        if round_ == 0:
            return self._private_specs(material, plan)  # the spec's initialisation, as the public middle's
        path = private_path(self._dir, self._chain, task.task_id, round_)
        if not path.exists():
            self._combine(task, material, plan, round_ - 1)
        specs = tensor_specs(build_module(material.spec.model))
        return state_from_bytes(path.read_bytes(), {k: specs[k] for k in self._private_specs(material, plan)})

    def _combine(self, task: Task, material: TaskMaterial, plan: SplitPlan, round_: int) -> None:
        """Combines the private layers of round ``round_``'s accepted units into those round ``round_`` + 1 starts
        from, by the task's rule (weighted by the units' samples, as the network's middles are)."""
        accepted: dict[int, str] = {}
        for event in self._reader.iter(self.s.state.task_block(task.task_id), self._reader.head()):
            args = event.args
            if (
                event.name == "UnitAccepted"
                and int(args["taskId"]) == task.task_id
                and int(args["round"]) == round_
                and int(args["index"]) < task.params.units_per_round
            ):
                accepted[int(args["index"])] = str(args["miner"])
        if len(accepted) != task.params.units_per_round:
            raise NodeError(f"round {round_} of task {task.task_id} has {len(accepted)} accepted units on chain")
        specs = tensor_specs(build_module(material.spec.model))
        private_specs = {k: specs[k] for k in self._private_specs(material, plan)}
        contributions = []
        for index, miner in sorted(accepted.items()):
            path = _unit_path(self._dir, self._chain, task.task_id, round_, index, miner)
            if not path.exists():
                raise NodeError(f"the private layers of unit {index} of round {round_} ({miner}) are not on disk")
            state = state_from_bytes(path.read_bytes(), private_specs)
            contributions.append(Contribution(index, state, material.shard_size(index)))
        parameters = {k for k, _ in build_module(material.spec.model).named_parameters() if k in private_specs}
        combined = aggregate(material.spec, contributions, parameters, task_id=task.task_id, round_=round_)
        _write_atomic(private_path(self._dir, self._chain, task.task_id, round_ + 1), state_to_bytes(combined))
        log.info("private layers combined", extra={"task": task.task_id, "round": round_, "units": len(contributions)})

    def tick(self, view: CycleView) -> None:
        """Combines each finished round's private layers as soon as the round has moved on (the last one when the
        task completes), so that the owner's model is on disk without waiting for a unit to ask."""
        for task_id in self.s.state.tasks():
            with self._lock:
                found = self._own_split_task(task_id)
                if found is None:
                    continue
                task, material, plan = found
                done = task.params.rounds if task.state.status is TaskStatus.COMPLETED else task.state.current_round
                for round_ in range(1, done + 1):
                    if not private_path(self._dir, self._chain, task_id, round_).exists():
                        self._combine(task, material, plan, round_ - 1)


def owner_model(
    data_dir: Path, chain: str, task_id: int, rounds: int, public: State, material: TaskMaterial
) -> State | None:
    """The owner's whole model of a completed split task: the final private layers from the owner node's
    ``data_dir`` and the final public middle; None when they are not there."""
    plan = material.plan
    path = private_path(data_dir, chain, task_id, rounds)
    if plan is None or not path.exists():
        return None
    specs = tensor_specs(build_module(material.spec.model))
    private = state_from_bytes(path.read_bytes(), {k: v for k, v in specs.items() if k not in material.model_specs})
    return {**private, **public}
