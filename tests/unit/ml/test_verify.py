"""Verification by re-execution: honest work passes on any thread count; each cheat is refused."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from node.ml.manifest import parse_trail
from node.ml.model import state_to_bytes
from node.ml.train import Checkpoint, Trail, deterministic
from node.ml.verify import Outcome, choose_segments, verify_unit
from node.store.canonical import canonical_bytes
from node.store.cid import cid_of
from testkit.cheats import noise_trail, partly_faked_trail
from testkit.world import MINER, OTHER_MINER, make_world, small_spec


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return make_world()


def test_honest_work_is_valid_with_its_evidence(world) -> None:  # type: ignore[no-untyped-def]
    data, _ = world.publish(world.train())
    verdict = verify_unit(world.spec, data, world.store.get, b"challenge", world.context(), world.shards[0])
    assert verdict.outcome is Outcome.VALID, verdict.reason
    assert next(s.segment for s in verdict.segments) == 0, "the anchor segment comes first"
    assert len(verdict.segments) == 1 + world.spec.verification.segments
    assert all(s.distance <= 1e-4 for s in verdict.segments)


def test_honest_units_are_never_refused_whatever_thread_count_they_were_trained_on(world) -> None:  # type: ignore[no-untyped-def]
    """200 honest units (4 shards × 2 thread counts × 25 miners): each is re-executed with the threads its trail
    declares, whatever the verifier's own setting, and so reproduces exactly."""
    refused = []
    worst = 0.0
    for n in range(25):
        miner = "0x" + f"{n + 1:040x}"
        for index in range(4):
            for threads in (1, 2):
                data, _ = world.publish(
                    world.train(index=index, miner=miner, threads=threads), index=index, miner=miner
                )
                assert parse_trail(data).threads == threads
                with deterministic(3 - threads):  # the verifier's own setting does not leak into the re-execution
                    verdict = verify_unit(
                        world.spec,
                        data,
                        world.store.get,
                        f"challenge/{n}/{index}/{threads}".encode(),
                        world.context(index=index, miner=miner),
                        world.shards[index],
                    )
                worst = max([worst, *(s.distance for s in verdict.segments)])
                if not verdict.valid:
                    refused.append(verdict.reason)
    assert refused == []
    assert worst == 0.0, f"worst honest distance {worst}: re-execution on the declared threads is exact"


def test_noise_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    for seed in range(5):
        data, _ = world.publish(noise_trail(world, miner=MINER, seed=seed))
        verdict = verify_unit(world.spec, data, world.store.get, f"c{seed}".encode(), world.context(), world.shards[0])
        assert verdict.outcome is Outcome.INVALID
        assert "does not re-execute" in verdict.reason


def test_a_trail_copied_from_another_miner_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    theirs = world.train(miner=OTHER_MINER)
    data, _ = world.publish(theirs, miner=MINER)  # the copier signs it as its own
    verdict = verify_unit(world.spec, data, world.store.get, b"c", world.context(miner=MINER), world.shards[0])
    assert verdict.outcome is Outcome.INVALID
    assert "does not re-execute" in verdict.reason


def test_a_replay_of_the_previous_round_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    data, _ = world.publish(world.train(), round_=0)
    # Round 1's input is a different model: the round-0 trail starts from the wrong place and names round 0.
    context = world.context(round_=1)
    context = replace(context, input_model_cid=world.store.put(b"round-1 input"))
    verdict = verify_unit(world.spec, data, world.store.get, b"c", context, world.shards[0])
    assert verdict.outcome is Outcome.INVALID
    relabelled = parse_trail(data).model_copy(update={"round": 1})
    verdict = verify_unit(world.spec, canonical_bytes(relabelled), world.store.get, b"c", context, world.shards[0])
    assert verdict.outcome is Outcome.INVALID
    assert "input_model" in verdict.reason


def test_a_trail_not_starting_from_the_input_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    trail = world.train()
    manifest = parse_trail(world.publish(trail)[0])
    other_start = world.store.put(state_to_bytes(trail.checkpoints[1].model))
    forged = manifest.model_copy(
        update={
            "checkpoints": [
                manifest.checkpoints[0].model_copy(update={"model": other_start}),
                *manifest.checkpoints[1:],
            ]
        }
    )
    verdict = verify_unit(world.spec, canonical_bytes(forged), world.store.get, b"c", world.context(), world.shards[0])
    assert verdict.outcome is Outcome.INVALID
    assert "first checkpoint is not the round's input" in verdict.reason


def test_structure_checks(world) -> None:  # type: ignore[no-untyped-def]
    trail = world.train()
    manifest = parse_trail(world.publish(trail)[0])
    short = manifest.model_copy(
        update={"checkpoints": manifest.checkpoints[:-1], "segment_losses": manifest.segment_losses[:-1]}
    )
    verdict = verify_unit(world.spec, canonical_bytes(short), world.store.get, b"c", world.context(), world.shards[0])
    assert "do not follow the spec" in verdict.reason
    nan_final = Trail(
        [
            *trail.checkpoints[:-1],
            Checkpoint(
                20, {k: v * float("nan") for k, v in trail.final_model.items()}, trail.checkpoints[-1].optimizer
            ),
        ],
        trail.segment_losses,
        trail.samples,
    )
    verdict = verify_unit(
        world.spec, world.publish(nan_final)[0], world.store.get, b"c", world.context(), world.shards[0]
    )
    assert verdict.outcome is Outcome.INVALID
    assert "NaN" in verdict.reason
    assert (
        verify_unit(world.spec, b"not json", world.store.get, b"c", world.context(), world.shards[0]).outcome
        is Outcome.INVALID
    )


def test_missing_bytes_are_unavailable_not_invalid(world) -> None:  # type: ignore[no-untyped-def]
    data, _ = world.publish(world.train(index=2), index=2)
    manifest = parse_trail(data)
    objects = dict(world.store.objects)
    del objects[manifest.final_model]

    def fetch(cid: str) -> bytes:
        return world.store.get(cid) if cid in objects else world.store.get(cid_of(b"never stored"))

    verdict = verify_unit(world.spec, data, fetch, b"c", world.context(index=2), world.shards[2])
    assert verdict.outcome is Outcome.UNAVAILABLE


def test_choose_segments_is_a_function_of_the_challenge() -> None:
    assert choose_segments(b"a", 10, 3) == choose_segments(b"a", 10, 3)
    assert len(set(choose_segments(b"a", 10, 3))) == 4, "the anchor and three drawn segments"
    assert choose_segments(b"a", 2, 5) == [0, 1]
    assert choose_segments(b"a", 1, 2) == [0]
    draws = {tuple(choose_segments(bytes([i]), 10, 2)) for i in range(200)}
    assert all(d[0] == 0 for d in draws), "segment 0 (the link to the round's input) is always re-executed"
    assert len(draws) > 30


@pytest.mark.parametrize("fraction", [0.1, 0.3])
def test_partial_fakes_are_caught_at_the_predicted_rate(fraction: float) -> None:
    """≥ 200 trials: a trail with F = f·n of its n = 10 segments faked is caught unless the anchor (segment 0) is
    honest and none of the q drawn from the other n − 1 is faked: 1 − (1 − F/n)·C(n−1−F,q)/C(n−1,q) (sampling
    without replacement), which is (1 − (1 − f)^(q+1)) up to that correction."""
    world = make_world(small_spec(local_steps=20, checkpoint_every=2))
    n, q = 10, world.spec.verification.segments
    faked_count = round(fraction * n)
    rng = random.Random(42)
    trials, caught = 200, 0
    published: dict[frozenset[int], bytes] = {}  # a faked set's trail is the same bytes each time it is drawn
    for t in range(trials):
        faked = frozenset(rng.sample(range(n), faked_count))
        if faked not in published:
            published[faked], _ = world.publish(partly_faked_trail(world, set(faked), miner=MINER))
        data = published[faked]
        verdict = verify_unit(
            world.spec, data, world.store.get, f"trial-{t}".encode(), world.context(), world.shards[0]
        )
        chosen = set(choose_segments(f"trial-{t}".encode(), n, q))
        assert (verdict.outcome is Outcome.INVALID) == bool(chosen & faked), "caught exactly when a fake is sampled"
        caught += verdict.outcome is Outcome.INVALID
    exact = 1 - (1 - faked_count / n) * math.comb(n - 1 - faked_count, q) / math.comb(n - 1, q)
    formula = 1 - (1 - fraction) ** (q + 1)
    stderr = math.sqrt(exact * (1 - exact) / trials)
    rate = caught / trials
    assert abs(rate - exact) <= 3 * stderr, (rate, exact)
    assert abs(rate - formula) <= 3 * stderr + abs(exact - formula)
