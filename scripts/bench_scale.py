"""Throughput as the network grows: accepted units per minute with 1, 2, 5, 10 and 20 miners.

For each miner count, a fresh task of ``--units`` training units (one round, plus its aggregation) with a light
model (so the figure measures the protocol: claims, uploads, votes, settlement) is run by that many miners and
``--verifiers`` verifiers at quorum 1, every node a thread of this process on one Anvil chain and one store
server. ``units_per_minute`` = accepted units / wall time from task creation to completion × 60.

On this 2-core machine all nodes share one Python process (one GIL) with Anvil and the store server on the
other core, so the figure shows where the per-node polling and per-unit protocol work saturate a CPU, not
what 20 machines would do.

    python -m scripts.bench_scale [--miners 1,2,5,10,20] [--units 40] [--verifiers 5] [--poll-interval 0.5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from client.tasks import Economics, create_task, prepare_task
from node.chain.types import TaskStatus
from node.ml.data import digits
from node.ml.defaults import digits_spec
from node.store.client import StoreClient
from scripts.benchlib import emit, print_table
from scripts.benchnet import local_chain
from testkit.polling import wait_until
from testkit.servers import store_server
from testkit.swarm import swarm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--miners", default="1,2,5,10,20")
    parser.add_argument("--units", type=int, default=40)
    parser.add_argument("--verifiers", type=int, default=5)
    parser.add_argument("--poll-interval", type=float, default=0.5, help="seconds between a node's cycles")
    args = parser.parse_args()
    counts = [int(x) for x in args.miners.split(",")]
    rows = []
    per_minute: dict[str, float] = {}
    spec = digits_spec(dataset_digest="0x" + "00" * 32, shards=args.units, local_steps=8, checkpoint_every=4, hidden=8)
    with (
        local_chain(accounts=2 + max(counts) + args.verifiers) as chain,
        tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp,
        store_server(Path(tmp) / "store", max_bytes=1 << 30) as (store_url, _),
    ):
        deployment = Path(tmp) / "deployment.json"
        chain.deployment.write(deployment)
        owner = chain.market(chain.accounts[1])
        store = StoreClient.from_endpoints([store_url])
        for run, miners in enumerate(counts):
            nodes = [(f"r{run}-miner-{i}", 2 + i, ["miner", "aggregator"]) for i in range(miners)]
            nodes += [
                (f"r{run}-verifier-{i}", 2 + max(counts) + i, ["verifier", "keeper"]) for i in range(args.verifiers)
            ]
            prepared = prepare_task(store, spec, digits(), Economics(rounds=1, quorum=1))
            poll = args.poll_interval
            with swarm(chain.rpc_url, deployment, store_url, Path(tmp), nodes, poll_interval_s=poll) as running:
                started = time.monotonic()
                task_id = create_task(owner, prepared)

                def completed(task_id: int = task_id) -> bool:
                    return owner.get_task(task_id).state.status is TaskStatus.COMPLETED

                wait_until(
                    completed,
                    timeout_s=1800,
                    what=f"the task with {miners} miners",
                    interval_s=0.1,
                )
                wall = time.monotonic() - started
                errors = running.cycle_errors()
            accepted = args.units + 1
            rate = accepted / wall * 60
            per_minute[str(miners)] = round(rate, 2)
            rows.append((miners, args.verifiers, accepted, wall, rate, errors))
    print_table(["miners", "verifiers", "units accepted", "wall (s)", "units/min", "cycle errors"], rows)
    emit(
        "scale",
        {
            "units_per_minute": per_minute,
            "units": args.units + 1,
            "verifiers": args.verifiers,
            "poll_interval_s": args.poll_interval,
            f"speedup_{counts[-1]}_vs_{counts[0]}": round(per_minute[str(counts[-1])] / per_minute[str(counts[0])], 3),
        },
    )


if __name__ == "__main__":
    main()
