"""The one source of a task's material for everything that follows a task on chain: its spec and dataset manifest
fetched by the digests the chain records, checked against the task (one shard per unit). Nodes cache it with a
backoff and set a task aside when it cannot be used (:class:`node.roles.materials.Materials`); the audit, the
explorer and the CLI read it once."""

from __future__ import annotations

from node.chain.types import Task
from node.ml.material import TaskMaterial, load_material
from node.ml.shards import Fetch
from node.store.cid import to_cid


def material_of(task: Task, fetch: Fetch) -> TaskMaterial:
    """``task``'s material (the spec and the dataset's manifest now, each shard when a unit needs it). Raises
    :class:`~node.errors.SpecError` when it cannot be used, the store's error when it cannot be fetched."""
    p = task.params
    return material_from(to_cid(p.spec_digest), to_cid(p.dataset_digest), p.units_per_round, fetch)


def material_from(spec_cid: str, dataset_cid: str, units_per_round: int, fetch: Fetch) -> TaskMaterial:
    """The material of a task whose spec, dataset and units are known by their CIDs (what the explorer's index
    and the audit's events record of a task)."""
    return load_material(
        fetch(spec_cid), fetch, spec_cid=spec_cid, dataset_cid=dataset_cid, units_per_round=units_per_round
    )
