"""The ML engine's figures: verification cost, detection of cheats, and quality against centralized training.

- verification cost ratio: a verifier's CPU time to check a unit over the miner's CPU time to produce it
  (training + serializing the trail), at the default digits spec, averaged over units.
- detection: how often a noise trail, a trail copied from another miner, a replay of the previous round, and a
  replay relabelled to start at the round's input are refused (each with fresh challenge seeds).
- quality: digits trained the federated way (U shards, R rounds, FedAvg) against plain centralized training of
  the same total steps, both evaluated on the same held-out split.

    python -m scripts.bench_ml [--rounds 5] [--units 4] [--trials 20]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from node.ml.aggregate import Contribution, aggregate
from node.ml.baseline import centralized
from node.ml.data import digits, split
from node.ml.defaults import digits_spec
from node.ml.evaluate import evaluate
from node.ml.manifest import UnitContext, publish_trail
from node.ml.model import build_module, state_of, state_to_bytes
from node.ml.shards import encode_split
from node.ml.train import Trail, train_unit
from node.ml.verify import Outcome, verify_unit
from node.store.canonical import canonical_bytes
from node.store.cid import cid_of
from scripts.benchlib import emit, print_table
from testkit.cheats import noise_trail
from testkit.world import MemoryStore, World


def seed_for(round_: int, index: int, miner: str) -> bytes:
    return cid_of(f"seed/{round_}/{index}/{miner}".encode()).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--units", type=int, default=4)
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()

    data = digits()
    store = MemoryStore()
    spec = digits_spec(dataset_digest="0x" + "00" * 32, shards=args.units)
    parts = split(data, shards=args.units, seed=spec.dataset.shard_seed, holdout_fraction=spec.dataset.holdout_fraction)
    manifest, objects = encode_split(parts, shard_seed=spec.dataset.shard_seed, holdout_fraction=0.2)
    for blob in objects.values():
        store.put(blob)
    dataset_cid = store.put(manifest)
    spec = spec.model_copy(update={"dataset": spec.dataset.model_copy(update={"digest": dataset_cid})})
    initial = state_of(build_module(spec.model, seed=0))
    spec_cid = store.put(canonical_bytes(spec))
    parameter_keys = {k for k, _ in build_module(spec.model).named_parameters()}
    miners = [f"0x{i + 1:040x}" for i in range(args.units)]

    # Federated training, every unit verified as it would be on the network.
    model = initial
    miner_cpu = verifier_cpu = 0.0
    units = 0
    rounds = []
    for r in range(args.rounds):
        input_cid = store.put(state_to_bytes(model))
        contributions = []
        for i, miner in enumerate(miners):
            seed = seed_for(r, i, miner)
            start = time.process_time()
            trail = train_unit(spec, model, parts.shards[i], seed)
            ctx = UnitContext(1, r, i, miner, spec_cid, dataset_cid, input_cid, seed)
            _, manifest_cid = publish_trail(trail, store.put, ctx)
            miner_cpu += time.process_time() - start
            start = time.process_time()
            verdict = verify_unit(
                spec, store.get(manifest_cid), store.get, f"challenge/{r}/{i}".encode(), ctx, parts.shards[i]
            )
            verifier_cpu += time.process_time() - start
            assert verdict.outcome is Outcome.VALID, verdict.reason
            units += 1
            contributions.append(Contribution(i, trail.final_model, trail.samples))
        model = aggregate(spec, contributions, parameter_keys, task_id=1, round_=r)
        rounds.append(evaluate(spec.model, model, parts.test).accuracy)
    total_steps = args.rounds * args.units * spec.training.local_steps
    central = evaluate(spec.model, centralized(spec, initial, parts.shards, total_steps), parts.test).accuracy

    # Detection of cheats, on round 0 of unit 0.
    world = World(
        spec, store, parts.shards, parts.test, initial, spec_cid, dataset_cid, store.put(state_to_bytes(initial))
    )
    detected = {"noise": 0, "copy": 0, "replay": 0, "relabelled replay": 0}
    replay_input = store.put(
        state_to_bytes(aggregate(spec, [Contribution(0, initial, 1)], parameter_keys, task_id=1, round_=0))
    )
    elsewhere = state_of(build_module(spec.model, seed=99))  # a start that is not the round's input
    for t in range(args.trials):
        me, other = miners[0], miners[1]
        ctx = UnitContext(1, 0, 0, me, spec_cid, dataset_cid, world.input_cid, seed_for(0, 0, me))
        challenge = f"detect/{t}".encode()
        cheats = {
            "noise": _published(world, noise_trail(world, miner=me, seed=t), me, 0),
            "copy": _published(world, train_unit(spec, initial, parts.shards[0], seed_for(0, 0, other)), me, 0),
            "replay": _published(world, train_unit(spec, initial, parts.shards[0], seed_for(0, 0, me)), me, 0),
            # Trained from another model with round 1's seed, its first checkpoint relabelled as round 1's input:
            # every later segment re-executes; only the anchor segment (always re-executed) can tell.
            "relabelled replay": _published(
                world, train_unit(spec, elsewhere, parts.shards[0], seed_for(1, 0, me)), me, 1, replay_input
            ),
        }
        for name, manifest in cheats.items():
            context = (
                ctx
                if name not in ("replay", "relabelled replay")
                else replace(ctx, round=1, input_model_cid=replay_input, unit_seed=seed_for(1, 0, me))
            )
            verdict = verify_unit(spec, manifest, store.get, challenge, context, parts.shards[0])
            detected[name] += verdict.outcome is Outcome.INVALID

    ratio = verifier_cpu / miner_cpu
    print(f"verification: {units} units, miner CPU {miner_cpu:.2f}s, verifier CPU {verifier_cpu:.2f}s")
    print_table(["figure", "value"], [
        ("verification cost ratio (verifier / miner CPU)", ratio),
        *((f"detection of {k} ({args.trials} trials)", v / args.trials) for k, v in detected.items()),
        *((f"accuracy after round {r + 1} (federated)", a) for r, a in enumerate(rounds)),
        (f"accuracy centralized ({total_steps} steps)", central),
    ])  # fmt: skip
    emit(
        "ml",
        {
            "verification_cost_ratio": round(ratio, 4),
            "detection_noise": detected["noise"] / args.trials,
            "detection_copy": detected["copy"] / args.trials,
            "detection_replay": detected["replay"] / args.trials,
            "detection_relabelled_replay": detected["relabelled replay"] / args.trials,
            "accuracy_network": round(rounds[-1], 4),
            "accuracy_centralized": round(central, 4),
            "accuracy_per_round": [round(a, 4) for a in rounds],
            "rounds": args.rounds,
            "units_per_round": args.units,
            "local_steps": spec.training.local_steps,
            "checkpoint_every": spec.training.checkpoint_every,
            "segments_per_verifier": spec.verification.segments,
        },
    )


def _published(world: World, trail: Trail, miner: str, round_: int, input_cid: str | None = None) -> bytes:
    ctx = UnitContext(1, round_, 0, miner, world.spec_cid, world.dataset_cid, input_cid or world.input_cid, b"")
    _, cid = publish_trail(trail, world.store.put, ctx)
    return world.store.get(cid)


if __name__ == "__main__":
    main()
