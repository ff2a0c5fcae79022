"""Verifying a split unit by re-execution against its recorded traffic (``verify_unit`` on a split task): honest
work passes without the private layers; each cheat is refused with its reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
import torch
from eth_account import Account

from node.ml import spec as sp
from node.ml.manifest import UnitContext, parse_trail
from node.ml.model import build_module, state_of, state_to_bytes
from node.ml.split import public_part
from node.ml.split_replay import SplitReplay
from node.ml.split_unit import MiddleTrail, OwnerUnit, middle_of, publish_middle_trail, train_middle
from node.ml.verify import Outcome, Verdict, verify_unit
from node.protocol.step_auth import Binding, TrafficCommitment, sign_commitment, traffic_signer
from node.store.canonical import canonical_bytes
from node.store.cid import cid_of
from testkit.world import MemoryStore
from tests.unit.ml.split_fixtures import PLAN, SEED, shard
from tests.unit.ml.split_fixtures import SPEC as PLAIN

SPEC = sp.TaskSpec.model_validate(
    {
        **PLAIN.model_dump(),
        "privacy": {"mode": "split", "private_prefix": 1, "private_suffix": 1, "owner_url": "http://owner:8790"},
        "verification": {"segments": 3, "tolerance": 1e-4},  # every segment: a cheat anywhere is caught
    }
)
OWNER = Account.from_key("0x" + "33" * 32)
STRANGER = Account.from_key("0x" + "44" * 32)
MINER = "0x" + "12" * 20
BINDING = Binding(31337, "0x" + "ab" * 20)
INITIAL = state_of(build_module(SPEC.model, seed=0))


Store = MemoryStore


class Skewed(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 1.05 + 0.01


def _unit(
    store: Store,
    *,
    skew: bool = False,
    signer: object = OWNER,
    edit: Callable[[MiddleTrail], MiddleTrail] | None = None,
) -> tuple[bytes, UnitContext]:
    owner = OwnerUnit(SPEC, PLAN, INITIAL, shard(), SEED)
    middle = middle_of(SPEC, PLAN, INITIAL)
    trail = train_middle(SPEC, PLAN, torch.nn.Sequential(*middle, Skewed()) if skew else middle, owner, SEED, 100)
    assert trail.heads == owner.checkpoint_heads(), "both sides chained the same traffic"
    signed = TrafficCommitment(BINDING.chain_id, BINDING.contract, 1, 0, 0, MINER, owner.checkpoint_heads())
    signature = sign_commitment(signer, signed)  # type: ignore[arg-type]
    if edit is not None:
        trail = edit(trail)
    input_cid = store.put(state_to_bytes(public_part(INITIAL, PLAN)))
    ctx = UnitContext(1, 0, 0, MINER, cid_of(b"spec"), cid_of(b"dataset"), input_cid, SEED, owner=OWNER.address)
    _, cid = publish_middle_trail(
        SPEC, PLAN, trail, store.put, ctx, owner_signature=signature, segment_losses=owner.segment_losses(), samples=100
    )
    return store.get(cid), ctx


def _verify(store: Store, manifest: bytes, ctx: UnitContext) -> Verdict:
    signer = traffic_signer(BINDING, 1, 0, 0, MINER)
    replay = SplitReplay(SPEC, PLAN, signer)
    return verify_unit(SPEC, manifest, store.get, b"challenge", ctx, shard(), replay=replay)


def test_an_honest_split_unit_is_valid_without_the_private_layers() -> None:
    store = Store()
    manifest, ctx = _unit(store)
    verdict = _verify(store, manifest, ctx)
    assert verdict.outcome is Outcome.VALID, verdict.reason
    assert [c.segment for c in verdict.segments] == [0, 1, 2]
    private = [v.numpy().tobytes() for k, v in INITIAL.items() if k.startswith(("0.", "7."))]
    assert not any(p in blob for p in private for blob in store.objects.values()), "no private layer was published"


def _noisy(trail: MiddleTrail) -> MiddleTrail:
    g = torch.Generator().manual_seed(3)
    fakes = [replace(c, model={k: torch.randn(v.shape, generator=g) for k, v in c.model.items()})
             for c in trail.checkpoints[1:]]  # fmt: skip
    return replace(trail, checkpoints=[trail.checkpoints[0], *fakes])


def _partly_faked(trail: MiddleTrail) -> MiddleTrail:
    """Segment 1 not trained: its end is its start nudged (later segments trained on from there, as a cheater
    saving work would, here kept as they were)."""
    start = trail.checkpoints[1]
    g = torch.Generator().manual_seed(5)
    nudged = replace(trail.checkpoints[2], model={k: v + 1e-2 * torch.randn(v.shape, generator=g)
                                                  for k, v in start.model.items()})  # fmt: skip
    return replace(trail, checkpoints=[*trail.checkpoints[:2], nudged, *trail.checkpoints[3:]])


def _swapped_traffic(trail: MiddleTrail) -> MiddleTrail:
    n = len(trail.messages) // 3  # segment 1's messages replaced by segment 0's
    messages = [*trail.messages[:n], *trail.messages[:n], *trail.messages[2 * n :]]
    return replace(trail, messages=messages)


@pytest.mark.parametrize(
    ("cheat", "reason"),
    [
        ({"skew": True}, "segment 0: the middle's output at step 2 is not what its weights compute"),
        ({"signer": STRANGER}, "not signed by the task's owner"),
        ({"edit": _swapped_traffic}, "segment 1: the recorded traffic is not the traffic the owner signed"),
        ({"edit": _noisy}, "segment 0 (steps 0→4) does not re-execute"),
        ({"edit": _partly_faked}, "segment 1 (steps 4→8) does not re-execute"),
    ],
    ids=["faked-output", "not-the-owners-signature", "replayed-traffic", "noise-checkpoints", "partly-faked"],
)
def test_a_cheating_split_unit_is_invalid(cheat: dict[str, object], reason: str) -> None:
    store = Store()
    manifest, ctx = _unit(store, **cheat)  # type: ignore[arg-type]
    verdict = _verify(store, manifest, ctx)
    assert verdict.outcome is Outcome.INVALID
    assert reason in verdict.reason


def test_a_split_trail_without_its_traffic_or_another_miners_is_invalid() -> None:
    store = Store()
    manifest, ctx = _unit(store)
    stripped = parse_trail(manifest).model_copy(update={"traffic": None})
    assert "without its recorded traffic" in _verify(store, canonical_bytes(stripped), ctx).reason
    assert _verify(store, manifest, replace(ctx, miner="0x" + "99" * 20)).outcome is Outcome.INVALID
