"""How a trail's segments are re-executed: the part of a unit's verification that depends on its task's mode. A
plain trail is re-run from its checkpoints alone (:class:`PlainReplay`); a split trail through its recorded traffic
(:class:`node.ml.split_replay.SplitReplay`). :func:`node.ml.verify.verify_unit` does every other check the same
way for both."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import torch
from torch import nn

from node.ml import spec as sp
from node.ml.data import Dataset
from node.ml.manifest import TrailManifest, UnitContext
from node.ml.train import Checkpoint, run_segment
from node.store.tensors import TensorSpec

Fetch = Callable[[str], bytes]


class Check(StrEnum):
    """Which check a verdict turned on: what a rejection is explained by."""

    MANIFEST = "manifest"  # the trail's document: identity, steps, first checkpoint, losses, samples
    OPTIMIZER_START = "optimizer start"  # the first checkpoint's optimizer state is not a fresh one
    TENSORS = "tensors"  # a checkpoint that does not load: size, names, shapes, dtypes, NaN/Inf
    TRAFFIC = "split traffic"  # a split unit's recorded traffic or the owner's signature over it
    REEXECUTION = "re-execution"  # a segment re-executed from its checkpoint does not reach the next one
    AVAILABILITY = "availability"  # the bytes could not be fetched
    AGGREGATE = "aggregate"  # an aggregate's manifest or its recomputation


class Invalid(Exception):
    """The trail is wrong: the miner's fault, with the reason and the check it failed."""

    def __init__(self, reason: str, check: Check = Check.MANIFEST) -> None:
        super().__init__(reason)
        self.reason = reason
        self.check = check


@dataclass(frozen=True, slots=True)
class TrailUnderCheck:
    """The trail being verified, as its segments are re-executed: its manifest, the module they run on (what
    :meth:`Replay.prepare` returned), where its objects are fetched, the unit's context and its shard."""

    manifest: TrailManifest
    module: nn.Sequential
    fetch: Fetch
    ctx: UnitContext
    shard: Dataset


class Replay(Protocol):
    def prepare(
        self, manifest: TrailManifest, ctx: UnitContext, module: nn.Sequential, specs: dict[str, TensorSpec]
    ) -> tuple[nn.Sequential, dict[str, TensorSpec]]:
        """Checks what the mode adds to a trail (raises :class:`Invalid`); returns the module whose segments are
        re-executed and the layout of its checkpoints."""
        ...

    def segment(
        self, j: int, start: Checkpoint, end_step: int, trail: TrailUnderCheck, device: torch.device
    ) -> Checkpoint:
        """Segment ``j`` of ``trail`` re-executed from ``start`` to ``end_step`` on ``device`` (raises
        :class:`Invalid` for a step that cannot be what was claimed)."""
        ...


class PlainReplay:
    """A plain trail: the whole model, re-run from a checkpoint with the unit's seed."""

    def __init__(self, spec: sp.TaskSpec) -> None:
        self._spec = spec

    def prepare(
        self, manifest: TrailManifest, ctx: UnitContext, module: nn.Sequential, specs: dict[str, TensorSpec]
    ) -> tuple[nn.Sequential, dict[str, TensorSpec]]:
        if manifest.traffic is not None:
            raise Invalid("recorded traffic in a trail of a task in plain mode", Check.TRAFFIC)
        return module, specs

    def segment(
        self, j: int, start: Checkpoint, end_step: int, trail: TrailUnderCheck, device: torch.device
    ) -> Checkpoint:
        reached, _ = run_segment(
            self._spec, start, end_step, trail.shard, trail.ctx.unit_seed, module=trail.module, device=device
        )
        return reached
