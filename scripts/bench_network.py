"""A whole network on this machine: wall time of a digits task and the miners' compute utilization.

Anvil, a store server, 2 miners (one also aggregating) and 3 verifiers as separate processes run a task of
R rounds × U units at quorum 3 with the default digits spec. Utilization is the miners' time spent training or
aggregating over their wall time from task creation to completion.

    python -m scripts.bench_network [--rounds 2] [--units 3] [--local-steps 800]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

from node.chain.build import ensure_artifact
from node.chain.deploy import deploy_market
from node.chain.devnet import Devnet, dev_accounts
from node.chain.rpc import connect
from node.chain.tx import Signer
from node.chain.types import TaskStatus
from scripts.benchlib import emit, print_table
from tests.conftest import Chain
from tests.e2e.network import network, wait_until


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--units", type=int, default=3)
    parser.add_argument("--local-steps", type=int, default=800)
    args = parser.parse_args()
    artifact = ensure_artifact()
    with Devnet(accounts=10) as devnet, tempfile.TemporaryDirectory(prefix="bench-network-") as tmp:
        w3 = connect(devnet.rpc_url)
        accounts = dev_accounts(10)
        deployment = deploy_market(Signer(w3, accounts[0]), artifact, unbonding_delay_s=600)
        chain = Chain(devnet.rpc_url, w3, artifact, deployment, accounts)
        owner = chain.market(accounts[1])
        with network(chain, Path(tmp)) as net:
            for name, roles, account in [
                ("miner-a", "miner", 2), ("miner-b", "miner,aggregator", 3),
                ("verifier-0", "verifier,keeper", 4), ("verifier-1", "verifier,keeper", 5),
                ("verifier-2", "verifier,keeper", 6),
            ]:  # fmt: skip
                net.node(name, roles, account).start()
            time.sleep(3)  # let the processes import torch before the clock starts (setup, not protocol)
            started = time.monotonic()
            task_id = net.submit_digits_task(
                owner, units=args.units, rounds=args.rounds, quorum=3, local_steps=args.local_steps
            )
            wait_until(
                lambda: owner.get_task(task_id).state.status is TaskStatus.COMPLETED, timeout_s=900, what="completion"
            )
            wall = time.monotonic() - started
            training = {
                name: sum(float(x) for x in re.findall(r"work done .*?seconds=([0-9.]+)", net.nodes[name].log()))
                for name in ("miner-a", "miner-b")
            }
    units = args.rounds * (args.units + 1)
    utilization = sum(training.values()) / (len(training) * wall)
    print_table(
        ["figure", "value"],
        [
            ("task", f"{args.rounds} rounds × {args.units} units + aggregation, quorum 3, {args.local_steps} steps"),
            ("wall time, creation to completion (s)", wall),
            ("units accepted", units),
            *((f"{name} training/aggregating (s)", t) for name, t in training.items()),
            ("miners' compute utilization", utilization),
        ],
    )
    emit(
        "network",
        {
            "wall_time_s": round(wall, 2),
            "compute_utilization": round(utilization, 4),
            "units": units,
            "rounds": args.rounds,
            "units_per_round": args.units,
            "local_steps": args.local_steps,
        },
    )


if __name__ == "__main__":
    main()
