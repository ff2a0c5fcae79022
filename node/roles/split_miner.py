"""A miner's unit of split training: the public middle trained step by step against the owner's node, the
traffic recorded and signed by the owner, and the trail published as in plain mode (the middle's checkpoints,
plus the recorded traffic of every segment) so that verifiers can re-execute it without the private layers."""

from __future__ import annotations

import logging
from collections.abc import Callable

from torch import nn

from node.chain.types import Task
from node.errors import StepRefused
from node.ml.material import TaskMaterial
from node.ml.split import SplitPlan, middle_module
from node.ml.split_unit import publish_middle_trail, train_middle
from node.protocol.owner_client import HttpTransport
from node.protocol.unit import unit_ref
from node.roles.context import Services
from node.state import Work

log = logging.getLogger(__name__)

# What a miner trains: the middle as given (the honest case); a test adversary's hook can wrap it.
MiddleHook = Callable[[nn.Sequential], nn.Sequential]


def train_split_unit(
    s: Services, task: Task, work: Work, material: TaskMaterial, plan: SplitPlan, hook: MiddleHook
) -> tuple[str, str, float]:
    """Trains, records and publishes one unit in split mode; returns the trail's CID, the final middle's CID and
    the last segment's loss (as the owner computed it)."""
    spec = material.spec
    owner_url = spec.privacy.owner_url
    if owner_url is None:  # pragma: no cover - the spec's validation requires it in split mode
        raise StepRefused("the task is in split mode without the owner's URL")
    ref = unit_ref(s.market, task, work.round, work.unit, s.address)
    model, _ = s.round_model(task, work.round, material)
    shard = material.shard(work.unit)
    transport = HttpTransport(owner_url, s.market.signer.account, ref.binding, ref.key)
    trail = train_middle(
        spec, plan, hook(middle_module(spec, plan, model)), transport, ref.seed, len(shard), threads=s.settings.threads
    )
    commitment = transport.commitment(spec.training.local_steps)
    if commitment.heads != [h.hex() for h in trail.heads]:
        raise StepRefused("the owner signed other traffic than this unit's: not publishing it")
    manifest, cid = publish_middle_trail(
        spec,
        plan,
        trail,
        s.store.put,
        ref.context,
        owner_signature=commitment.signature,
        segment_losses=commitment.segment_losses,
        samples=len(shard),
    )
    return cid, manifest.final_model, commitment.segment_losses[-1]
