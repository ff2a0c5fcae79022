"""Trail and aggregate manifests: canonical JSON documents whose digests go on chain (DESIGN.md §5)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from node.ml.model import State, state_to_bytes
from node.ml.train import Checkpoint, Trail
from node.store.canonical import CidText, canonical_bytes, parse_document

Cid = CidText
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]
Put = Callable[[bytes], str]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CheckpointRef(_Doc):
    step: Annotated[int, Field(ge=0)]
    model: Cid
    optimizer: Cid


Hash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Signature = Annotated[str, Field(pattern=r"^0x[0-9a-f]{130}$")]


class SplitTraffic(_Doc):
    """A split unit's recorded traffic: one object per segment (its messages, packed), the traffic's head at each
    checkpoint after the first, and the owner's signature over those heads (see node.protocol.step_auth)."""

    segments: Annotated[list[Cid], Field(min_length=1, max_length=1000)]
    heads: Annotated[list[Hash], Field(min_length=1, max_length=1000)]
    owner_signature: Signature


class TrailManifest(_Doc):
    kind: Literal["trail"] = "trail"
    version: Literal[1] = 1
    task_id: Annotated[int, Field(ge=1)]
    round: Annotated[int, Field(ge=0)]
    index: Annotated[int, Field(ge=0)]
    miner: Address
    spec: Cid
    dataset: Cid
    input_model: Cid
    checkpoints: Annotated[list[CheckpointRef], Field(min_length=2, max_length=1001)]
    segment_losses: list[float]
    samples: Annotated[int, Field(ge=1)]
    # What the miner trained on, for the record (a verifier re-executes on its own hardware, within the
    # calibrated tolerance: see node.ml.calibrate).
    threads: Annotated[int, Field(ge=1, le=256)] = 1
    device: Literal["cpu", "cuda", "mps"] = "cpu"
    traffic: SplitTraffic | None = None  # split mode only: the checkpoints are the public middle's

    @property
    def final_model(self) -> str:
        return self.checkpoints[-1].model


class AggregateInput(_Doc):
    index: Annotated[int, Field(ge=0)]
    result: Cid
    model: Cid
    samples: Annotated[int, Field(ge=1)]


class AggregateManifest(_Doc):
    kind: Literal["aggregate"] = "aggregate"
    version: Literal[1] = 1
    task_id: Annotated[int, Field(ge=1)]
    round: Annotated[int, Field(ge=0)]
    index: Annotated[int, Field(ge=0)]
    aggregator: Address
    spec: Cid
    rule: str
    inputs: Annotated[list[AggregateInput], Field(min_length=1)]
    model: Cid


@dataclass(frozen=True, slots=True)
class UnitContext:
    """What the verifier knows independently of the miner (from the chain and the task)."""

    task_id: int
    round: int
    index: int
    miner: str
    spec_cid: str
    dataset_cid: str
    input_model_cid: str
    unit_seed: bytes
    owner: str | None = None  # the task's owner: who signs a split unit's traffic


def publish_checkpoint(checkpoint: Checkpoint, put: Put) -> CheckpointRef:
    return CheckpointRef(
        step=checkpoint.step,
        model=put(state_to_bytes(checkpoint.model)),
        optimizer=put(state_to_bytes(checkpoint.optimizer)),
    )


def publish_trail(
    trail: Trail,
    put: Put,
    ctx: UnitContext,
    *,
    traffic: SplitTraffic | None = None,
) -> tuple[TrailManifest, str]:
    """Uploads every checkpoint, then the manifest of unit ``ctx``; returns it and its CID (what goes on chain).
    ``traffic``: a split unit's recorded traffic, already uploaded."""
    manifest = TrailManifest(
        task_id=ctx.task_id,
        round=ctx.round,
        index=ctx.index,
        miner=ctx.miner,
        spec=ctx.spec_cid,
        dataset=ctx.dataset_cid,
        input_model=ctx.input_model_cid,
        # Step 0 is the round's input model itself: its CID is reused, so the check "first checkpoint = input"
        # compares the very bytes the task recorded.
        checkpoints=[
            CheckpointRef(
                step=0, model=ctx.input_model_cid, optimizer=put(state_to_bytes(trail.checkpoints[0].optimizer))
            ),
            *(publish_checkpoint(c, put) for c in trail.checkpoints[1:]),
        ],
        segment_losses=trail.segment_losses,
        samples=trail.samples,
        threads=trail.hardware.threads,
        device=trail.hardware.device,
        traffic=traffic,
    )
    return manifest, put(canonical_bytes(manifest))


def publish_aggregate(
    model: State,
    inputs: list[AggregateInput],
    put: Put,
    *,
    task_id: int,
    round_: int,
    index: int,
    aggregator: str,
    spec_cid: str,
    rule: str,
) -> tuple[AggregateManifest, str, str]:
    """Uploads the new global model and its manifest; returns the manifest, its CID and the model's CID."""
    model_cid = put(state_to_bytes(model))
    manifest = AggregateManifest(
        task_id=task_id,
        round=round_,
        index=index,
        aggregator=aggregator,
        spec=spec_cid,
        rule=rule,
        inputs=sorted(inputs, key=lambda i: i.index),
        model=model_cid,
    )
    return manifest, put(canonical_bytes(manifest)), model_cid


def parse_trail(data: bytes) -> TrailManifest:
    return parse_document(data, TrailManifest, require_canonical=True)


def parse_aggregate(data: bytes) -> AggregateManifest:
    return parse_document(data, AggregateManifest, require_canonical=True)
