"""A whole network on this machine: wall time of a digits task, the miners' compute utilization, and the
accuracy of each round's model against centralized training, with and without adversaries.

Anvil, a store server, 2 miners (one also aggregating) and 3 verifiers as separate processes run a task of
R rounds × U units at quorum 3 with the default digits spec; ``--byzantine K`` adds K cheating miners (noise,
copy, replay, fake, wrong-start in turn). Utilization is the honest miners' time spent training or aggregating
over their wall time from task creation to completion. Accuracy is read by the auditor from the round models
the chain recorded, on the task's held-out split.

    python -m scripts.bench_network [--rounds 2] [--units 3] [--local-steps 800] [--byzantine 0]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

from node.audit.audit import audit_task
from node.chain.build import ensure_artifact
from node.chain.deploy import deploy_market
from node.chain.devnet import Devnet, dev_accounts
from node.chain.rpc import connect
from node.chain.tx import Signer
from node.chain.types import DEFAULT_UNBONDING_DELAY_S, TaskStatus
from node.ml.baseline import centralized
from node.ml.data import digits, split
from node.ml.evaluate import evaluate
from node.ml.model import build_module, state_of
from scripts.benchlib import emit, print_table
from testkit.adversaries import CHEATS as ALL_CHEATS
from testkit.chain import Chain
from testkit.network import network, small_digits_spec
from testkit.polling import wait_until

CHEATS = [c for c in ALL_CHEATS if c != "idle"]  # an idle claim only delays the round by a claim timeout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--units", type=int, default=3)
    parser.add_argument("--local-steps", type=int, default=800)
    parser.add_argument("--byzantine", type=int, default=0, help="cheating miners added to the honest ones")
    args = parser.parse_args()
    artifact = ensure_artifact()
    with Devnet(accounts=10 + args.byzantine) as devnet, tempfile.TemporaryDirectory(prefix="bench-network-") as tmp:
        w3 = connect(devnet.rpc_url)
        accounts = dev_accounts(10 + args.byzantine)
        deployment = deploy_market(Signer(w3, accounts[0]), artifact, unbonding_delay_s=DEFAULT_UNBONDING_DELAY_S)
        chain = Chain(devnet.rpc_url, w3, artifact, deployment, accounts)
        owner = chain.market(accounts[1])
        with network(chain, Path(tmp)) as net:
            for name, roles, account in [
                ("miner-a", "miner", 2), ("miner-b", "miner,aggregator", 3),
                ("verifier-0", "verifier,keeper", 4), ("verifier-1", "verifier,keeper", 5),
                ("verifier-2", "verifier,keeper", 6),
            ]:  # fmt: skip
                net.node(name, roles, account).start()
            for i in range(args.byzantine):
                cheat = CHEATS[i % len(CHEATS)]
                net.node(f"cheater-{i}-{cheat}", f"cheat-{cheat}", 7 + i, "--plugin", "testkit.adversaries").start()
            time.sleep(3)  # let the processes import torch before the clock starts (setup, not protocol)
            started = time.monotonic()
            task_id = net.submit_digits_task(
                owner, units=args.units, rounds=args.rounds, quorum=3, local_steps=args.local_steps
            )
            wait_until(
                lambda: owner.get_task(task_id).state.status is TaskStatus.COMPLETED, timeout_s=900, what="completion"
            )
            wall = time.monotonic() - started
            report = audit_task(owner, net.store(), task_id, from_block=deployment.block_number)
            events = net.events(deployment.block_number)
            training = {
                name: sum(float(x) for x in re.findall(r"work done .*?seconds=([0-9.]+)", net.nodes[name].log()))
                for name in ("miner-a", "miner-b")
            }
    units = args.rounds * (args.units + 1)
    utilization = sum(training.values()) / (len(training) * wall)
    rejected = sum(1 for name, _ in events if name in ("UnitRejected", "UnitExpired"))
    spec = small_digits_spec(args.units, args.local_steps)  # the spec submit_digits_task used
    parts = split(digits(), shards=args.units, seed=spec.dataset.shard_seed, holdout_fraction=0.2)
    central = centralized(
        spec, state_of(build_module(spec.model)), parts.shards, args.rounds * args.units * args.local_steps
    )
    central_accuracy = evaluate(spec.model, central, parts.test).accuracy
    per_round = [report.accuracy[r] for r in sorted(report.accuracy)]
    print_table(
        ["figure", "value"],
        [
            ("task", f"{args.rounds} rounds × {args.units} units + aggregation, quorum 3, {args.local_steps} steps"),
            ("wall time, creation to completion (s)", wall),
            ("units accepted", units),
            *((f"{name} training/aggregating (s)", t) for name, t in training.items()),
            ("miners' compute utilization", utilization),
            ("cheating miners", args.byzantine),
            ("bad units rejected or expired", rejected),
            *((f"accuracy after round {r + 1}", a) for r, a in enumerate(per_round)),
            ("accuracy, centralized, same total steps", central_accuracy),
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
            "byzantine": args.byzantine,
            "rejected_or_expired": rejected,
            "accuracy_per_round": [round(a, 4) for a in per_round],
            "accuracy_centralized": round(central_accuracy, 4),
        },
    )


if __name__ == "__main__":
    main()
