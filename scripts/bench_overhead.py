"""Protocol overhead: a task run by the network against plain training of the same steps, in the same run.

A miner and a verifier (separate processes, one torch thread each, as on a 2-core machine) run a task of
R rounds × U units at quorum 1, each unit sized to at least ``--unit-seconds`` of compute (calibrated first).
Then the same total number of steps is trained plainly, in this process, with nothing else running.

- ``overhead_ratio``: task wall time (creation to completion) / plain training time. Goal ≤ 1.3.
- ``compute_utilization``: the miner's time spent in training steps / the task's wall time. Goal ≥ 0.9.

    python -m scripts.bench_overhead [--rounds 2] [--units 4] [--unit-seconds 2.5]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

from client.tasks import Economics, create_task, prepare_task
from node.chain.types import TaskStatus
from node.ml.baseline import centralized
from node.ml.data import digits, split
from node.ml.defaults import digits_spec
from node.ml.device import CPU
from node.ml.model import build_module, state_of
from node.ml.train import train_unit
from scripts.benchlib import emit, print_table
from scripts.benchnet import local_chain
from testkit.network import NodeProcess, network
from testkit.polling import wait_until

HIDDEN = 512
SEGMENTS_PER_UNIT = 20


def calibrate(unit_seconds: float, units: int) -> int:
    """Local steps that make one unit take about ``unit_seconds`` here."""
    probe = 200
    spec = digits_spec(dataset_digest="0x" + "00" * 32, shards=units, local_steps=probe, checkpoint_every=probe,
                       hidden=HIDDEN)  # fmt: skip
    parts = split(digits(), shards=units, seed=1, holdout_fraction=0.2)
    initial = state_of(build_module(spec.model))
    train_unit(spec, initial, parts.shards[0], b"warm-up", hardware=CPU)
    started = time.perf_counter()
    train_unit(spec, initial, parts.shards[0], b"probe", hardware=CPU)
    per_step = (time.perf_counter() - started) / probe
    steps = int(unit_seconds / per_step)
    return max(SEGMENTS_PER_UNIT, steps - steps % SEGMENTS_PER_UNIT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--units", type=int, default=4)
    parser.add_argument("--unit-seconds", type=float, default=2.5)
    args = parser.parse_args()
    steps = calibrate(args.unit_seconds, args.units)
    spec = digits_spec(dataset_digest="0x" + "00" * 32, shards=args.units, local_steps=steps,
                       checkpoint_every=steps // SEGMENTS_PER_UNIT, hidden=HIDDEN)  # fmt: skip

    with local_chain() as chain, tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        owner = chain.market(chain.accounts[1])
        with network(chain, Path(tmp)) as net:
            miner = net.node("miner", "miner,aggregator", 2, "--poll-interval", "0.05")
            verifier = net.node("verifier", "verifier,keeper", 3, "--poll-interval", "0.05")
            for n in (miner, verifier):
                n.start()
            for n in (miner, verifier):  # process start-up (importing torch) is not the protocol's cost

                def started_up(n: NodeProcess = n) -> bool:
                    return "node started" in n.log()

                wait_until(started_up, timeout_s=120, what=f"{n.name} to start")
            economics = Economics(rounds=args.rounds, quorum=1)
            prepared = prepare_task(net.store(), spec, digits(), economics)
            started = time.monotonic()
            task_id = create_task(owner, prepared)
            wait_until(
                lambda: owner.get_task(task_id).state.status is TaskStatus.COMPLETED,
                timeout_s=1800,
                what="completion",
                interval_s=0.05,
            )
            wall = time.monotonic() - started
            log = miner.log()
            trained = sum(float(x) for x in re.findall(r" trained .*?training_s=([0-9.]+)", log))
            worked = sum(float(x) for x in re.findall(r"work done .*?seconds=([0-9.]+)", log))

    # Plain training of the same total steps, now that nothing else runs.
    parts = split(digits(), shards=args.units, seed=spec.dataset.shard_seed, holdout_fraction=0.2)
    initial = state_of(build_module(spec.model))
    total_steps = steps * args.units * args.rounds
    began = time.perf_counter()
    centralized(spec, initial, parts.shards, total_steps, hardware=CPU)
    plain = time.perf_counter() - began

    overhead = wall / plain
    utilization = trained / wall
    print_table(
        ["figure", "value"],
        [
            ("task", f"{args.rounds} rounds × {args.units} units, quorum 1, 1 miner + 1 verifier (processes)"),
            ("local steps per unit (calibrated)", steps),
            ("total training steps", total_steps),
            ("task wall time, creation to completion (s)", wall),
            ("plain training of the same steps (s)", plain),
            ("overhead ratio (goal ≤ 1.3)", overhead),
            ("miner training, torch steps only (s)", trained),
            ("miner unit work incl. fetch, checkpoints, upload, aggregation (s)", worked),
            ("compute utilization (goal ≥ 0.9)", utilization),
        ],
    )
    emit(
        "overhead",
        {
            "overhead_ratio": round(overhead, 4),
            "compute_utilization": round(utilization, 4),
            "task_wall_s": round(wall, 2),
            "plain_training_s": round(plain, 2),
            "local_steps": steps,
            "rounds": args.rounds,
            "units_per_round": args.units,
        },
    )


if __name__ == "__main__":
    main()
