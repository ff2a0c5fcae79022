"""Checking a unit's result by re-executing sampled segments of its trail (DESIGN.md §6).

A verdict is ``valid``, ``invalid`` (the miner's fault, with the evidence) or ``unavailable`` (the bytes could
not be fetched from any replica: the verifier cannot tell, and decides later). Structure first: the manifest
must name this task, round, unit and miner, start from the round's input model with a fresh optimizer state,
and have one checkpoint per ``checkpoint_every`` steps; the final model must load with the right shapes and
finite values. Then segment 0 (the anchor: the step that ties the trail to the round's input, so a trail trained
from another model and relabelled cannot pass) and ``segments`` more chosen by the verifier's challenge seed are
re-executed from their starting checkpoint and compared with the next one by relative L2 distance.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import time
from dataclasses import dataclass
from enum import StrEnum

from node.errors import SpecError, StoreError
from node.ml import spec as sp
from node.ml.data import Dataset
from node.ml.device import CPU, Hardware
from node.ml.manifest import TrailManifest, UnitContext, parse_trail
from node.ml.model import (
    State,
    build_module,
    relative_distance,
    state_from_bytes,
    state_to_bytes,
    tensor_specs,
    tensor_specs_of,
)
from node.ml.optim import initial_state
from node.ml.replay import Check, Fetch, Invalid, PlainReplay, Replay, TrailUnderCheck
from node.ml.train import Checkpoint, deterministic
from node.store.cid import cid_of, same_object
from node.store.errors import ArtifactError, ContentNotFound, StoreUnavailable
from node.store.tensors import TensorSpec

log = logging.getLogger(__name__)

__all__ = ["Check", "Fetch", "Outcome", "SegmentCheck", "Verdict", "choose_segments", "verify_unit"]


class Outcome(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class SegmentCheck:
    segment: int
    start_step: int
    end_step: int
    distance: float

    def within(self, tolerance: float) -> bool:
        return self.distance <= tolerance


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    reason: str
    segments: tuple[SegmentCheck, ...] = ()
    seconds: float = 0.0
    check: Check | None = None  # the check that failed (None when valid)

    @property
    def valid(self) -> bool:
        return self.outcome is Outcome.VALID


def choose_segments(challenge_seed: bytes, n_segments: int, q: int) -> list[int]:
    """Segment 0 always, and ``q`` distinct others (all of them if fewer) drawn from the verifier's challenge seed.

    Segment 0 is checked on every unit because the manifest's first checkpoint *is* the round's input by
    construction: without re-executing the step that leaves it, a trail trained from any other start (a replayed
    round, a precomputed run) could be relabelled to begin at the input and escape with probability ~(1 − 1/n)^q.
    A miner faking a fraction f of the other segments escapes one verifier with probability ~(1 − f)^(q+1).
    """
    if n_segments <= 0:
        return []
    rng = random.Random(int.from_bytes(hashlib.sha256(challenge_seed).digest(), "big"))
    return [0, *sorted(rng.sample(range(1, n_segments), min(q, n_segments - 1)))]


def _structure(spec: sp.TaskSpec, m: TrailManifest, ctx: UnitContext, shard: Dataset) -> None:
    identity = {
        "task_id": (m.task_id, ctx.task_id),
        "round": (m.round, ctx.round),
        "index": (m.index, ctx.index),
        "miner": (m.miner.lower(), ctx.miner.lower()),
    }
    objects = {"spec": (m.spec, ctx.spec_cid), "dataset": (m.dataset, ctx.dataset_cid)}
    objects["input_model"] = (m.input_model, ctx.input_model_cid)
    for field, (claimed, expected) in identity.items():
        if claimed != expected:
            raise Invalid(f"manifest {field} is {claimed}, expected {expected}")
    for field, (named, recorded) in objects.items():  # one object, whichever text names it
        if not same_object(named, recorded):
            raise Invalid(f"manifest {field} is {named}, expected {recorded}")
    steps = [c.step for c in m.checkpoints]
    if steps != spec.training.checkpoint_steps:
        raise Invalid(
            f"checkpoint steps {steps[:5]}… do not follow the spec ({len(spec.training.checkpoint_steps)} expected)"
        )
    if not same_object(m.checkpoints[0].model, ctx.input_model_cid):
        raise Invalid("the first checkpoint is not the round's input model")
    if len(m.segment_losses) != len(m.checkpoints) - 1 or not all(math.isfinite(x) for x in m.segment_losses):
        raise Invalid("segment losses are missing or not finite")
    if m.samples != len(shard):
        raise Invalid(f"manifest claims {m.samples} samples, the shard has {len(shard)}")


def verify_unit(
    spec: sp.TaskSpec,
    manifest_bytes: bytes,
    fetch: Fetch,
    challenge_seed: bytes,
    ctx: UnitContext,
    shard: Dataset,
    *,
    replay: Replay | None = None,
    segments: int | None = None,
    hardware: Hardware = CPU,
    match_threads: bool = True,
) -> Verdict:
    """``replay``: how the task's mode re-executes a segment (default: a plain trail's; a split trail's checks the
    owner's signature and the recorded traffic: :class:`node.ml.split_replay.SplitReplay`). Segments are
    re-executed on ``hardware``, the verifier's own; on the CPU with the thread count the trail declares when
    ``match_threads`` (the miner's: torch splits a reduction by thread count, so this reproduces the miner's
    arithmetic bit for bit on the same kind of CPU, whatever cores the verifier has). On other hardware (another
    device, another CPU, or ``match_threads`` off) an honest segment lands within the spec's calibrated tolerance
    (:mod:`node.ml.calibrate`). ``segments``: how many segments
    besides the anchor to re-execute (default: the spec's; an explanation of a rejection re-executes them all)."""
    started = time.process_time()
    checks: list[SegmentCheck] = []

    def verdict(outcome: Outcome, reason: str, check: Check | None = None) -> Verdict:
        return Verdict(outcome, reason, tuple(checks), time.process_time() - started, check)

    try:
        try:
            manifest = parse_trail(manifest_bytes)
        except SpecError as err:
            raise Invalid(f"malformed manifest: {err}") from err
        _structure(spec, manifest, ctx, shard)
        mode = replay or PlainReplay(spec)
        whole = build_module(spec.model)
        module, model_specs = mode.prepare(manifest, ctx, whole, tensor_specs(whole))
        params = {k: v.detach() for k, v in module.named_parameters()}
        fresh = initial_state(spec.training.optimizer, params)
        if not same_object(manifest.checkpoints[0].optimizer, cid_of(state_to_bytes(dict(sorted(fresh.items()))))):
            raise Invalid("the first checkpoint's optimizer state is not fresh", Check.OPTIMIZER_START)
        opt_specs = tensor_specs_of(fresh)

        def load(cid: str, expected: dict[str, TensorSpec], what: str) -> State:
            data = fetch(cid)
            if len(data) > spec.max_checkpoint_bytes:
                raise Invalid(f"{what} {cid} is {len(data)} bytes, above max_checkpoint_bytes", Check.TENSORS)
            try:
                return state_from_bytes(data, expected)
            except (ArtifactError, SpecError) as err:
                raise Invalid(f"{what} {cid}: {err}", Check.TENSORS) from err

        load(manifest.final_model, model_specs, "final model")  # what gets aggregated must be sound
        n_segments = len(manifest.checkpoints) - 1
        trail = TrailUnderCheck(manifest, module, fetch, ctx, shard)
        same_kind = match_threads and hardware.device == manifest.device == "cpu"
        with deterministic(manifest.threads if same_kind else hardware.threads):
            q = spec.verification.segments if segments is None else segments
            for j in choose_segments(challenge_seed, n_segments, q):
                a, b = manifest.checkpoints[j], manifest.checkpoints[j + 1]
                start = Checkpoint(
                    a.step, load(a.model, model_specs, "model"), load(a.optimizer, opt_specs, "optimizer")
                )
                claimed_model = load(b.model, model_specs, "model")
                claimed_opt = load(b.optimizer, opt_specs, "optimizer")
                reached = mode.segment(j, start, b.step, trail, hardware.torch_device)
                distance = relative_distance(
                    _joined(reached.model, reached.optimizer), _joined(claimed_model, claimed_opt)
                )
                checks.append(SegmentCheck(j, a.step, b.step, distance))
                if not distance <= spec.tolerance:
                    raise Invalid(
                        f"segment {j} (steps {a.step}→{b.step}) does not re-execute: "
                        f"relative distance {distance:.3g} > tolerance {spec.tolerance:g}",
                        Check.REEXECUTION,
                    )
    except Invalid as err:
        return verdict(Outcome.INVALID, err.reason, err.check)
    except ArtifactError as err:  # recorded traffic that does not decode: shapes, NaN, framing
        return verdict(Outcome.INVALID, f"recorded traffic refused: {err}", Check.TRAFFIC)
    except (ContentNotFound, StoreUnavailable) as err:
        return verdict(Outcome.UNAVAILABLE, f"could not fetch the trail: {err}", Check.AVAILABILITY)
    except StoreError as err:
        return verdict(Outcome.UNAVAILABLE, f"store failure: {err}", Check.AVAILABILITY)
    worst = max((c.distance for c in checks), default=0.0)
    return verdict(Outcome.VALID, f"{len(checks)} segment(s) re-executed, worst relative distance {worst:.3g}")


def _joined(model: State, optimizer: State) -> State:
    return {**{f"model/{k}": v for k, v in model.items()}, **{f"optim/{k}": v for k, v in optimizer.items()}}
