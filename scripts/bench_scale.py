"""Throughput as the network grows, every node its own process: accepted units per minute with 1, 2, 5, 10 and 20
miners, and beside it the figures that do not depend on this machine's two cores.

For each miner count, that many miner processes (``dml node run --roles miner,aggregator``) and ``--verifiers``
verifier processes (``verifier,keeper``) start on one Anvil chain and one store server; once every node
cycles, the benchmark measures them idle (one block mined a second for ``--idle-blocks`` blocks, no
task), then runs a fresh task of ``--units`` training units (one round, plus its aggregation) with a light model
(so the figure measures the protocol: claims, uploads, votes, settlement) at quorum 1:

- ``units_per_minute``: accepted units / wall time from task creation to completion × 60;
- ``protocol_cpu_s_per_unit``: CPU seconds of every process of the network (the nodes, Anvil, the store server)
  over the task per accepted unit (the light model's training, a few ms a unit, included);
- ``rpc_per_node_per_block_idle`` / ``_busy``: HTTP requests a node sent its RPC endpoint (``dml_rpc_requests``
  of its /metrics) per block, idle and during the task; ``rpc_per_node_per_second_*`` the same per second.

On this 2-core machine the processes share two cores, so units per minute shows where that saturates, not what
20 machines would do; the CPU and RPC figures are what each node costs wherever it runs.

    python -m scripts.bench_scale [--miners 1,2,5,10,20] [--units 40] [--verifiers 5] [--poll-interval 0.5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests

from client.tasks import Economics, create_task, prepare_task
from node.chain.devnet import free_port
from node.chain.types import TaskStatus
from node.ml.data import digits
from node.ml.defaults import digits_spec
from node.ml.spec import TaskSpec
from scripts.benchlib import emit, print_table
from scripts.benchnet import local_chain
from testkit.chain import Chain
from testkit.network import Network, NodeProcess
from testkit.polling import wait_until
from testkit.servers import store_server


@dataclass(frozen=True, slots=True)
class Sample:
    """The network at one instant: its block, every node's RPC requests so far, CPU seconds of every process."""

    at: float
    block: int
    rpc: int
    cpu_s: float
    training_s: float


def _metric(port: int, name: str) -> float:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(f"{name} ") or line.startswith(f"{name}_total "):
            return float(line.split()[-1])
    raise SystemExit(f"the node on port {port} has no metric {name}")


def _cpu_of_network() -> float:
    """User + system seconds of every process this benchmark started (the nodes, Anvil, the store server)."""
    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _sample(chain: Chain, ports: dict[str, int]) -> Sample:
    return Sample(
        at=time.monotonic(),
        block=chain.w3.eth.block_number,
        rpc=sum(int(_metric(p, "dml_rpc_requests")) for p in ports.values()),
        cpu_s=_cpu_of_network(),
        training_s=sum(_metric(p, "dml_training_seconds") for p in ports.values()),
    )


def _ready(port: int) -> bool:
    """The node answers and has cycled twice (it stakes when a task's bond needs it, not before)."""
    try:
        status = requests.get(f"http://127.0.0.1:{port}/status", timeout=5).json()
    except requests.RequestException:
        return False
    return bool(status["cycles"] >= 2)


def _per(before: Sample, after: Sample, nodes: int) -> tuple[float, float]:
    """RPC requests per node per block and per node per second between two samples."""
    requests_ = (after.rpc - before.rpc) / nodes
    return requests_ / max(after.block - before.block, 1), requests_ / (after.at - before.at)


def _run(
    chain: Chain, net: Network, spec_units: int, miners: int, args: argparse.Namespace, run: int
) -> dict[str, float]:
    ports: dict[str, int] = {}
    started: list[NodeProcess] = []
    poll = args.poll_interval
    for i in range(miners):
        name, port = f"r{run}-miner-{i}", free_port()
        started.append(net.node(name, "miner,aggregator", 2 + i, "--api-port", str(port), poll_interval_s=poll))
        ports[name] = port
    for i in range(args.verifiers):
        name, port = f"r{run}-verifier-{i}", free_port()
        account = 2 + args.max_miners + i
        started.append(net.node(name, "verifier,keeper", account, "--api-port", str(port), poll_interval_s=poll))
        ports[name] = port
    try:
        for node in started:
            node.start()
        wait_until(lambda: all(_ready(p) for p in ports.values()), timeout_s=600, what=f"{len(ports)} nodes to start")
        nodes = len(ports)
        before = _sample(chain, ports)
        for _ in range(args.idle_blocks):
            chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            time.sleep(1.0)  # pacing: one block a second, as a chain with 1 s blocks
        idle = _sample(chain, ports)
        owner = chain.market(chain.accounts[1])
        prepared = prepare_task(net.store(), digits_spec_for(spec_units), digits(), Economics(rounds=1, quorum=1))
        start = _sample(chain, ports)
        task_id = create_task(owner, prepared)
        wait_until(
            lambda: owner.get_task(task_id).state.status is TaskStatus.COMPLETED,
            timeout_s=1800,
            what=f"the task with {miners} miners",
            interval_s=0.2,
        )
        end = _sample(chain, ports)
    finally:
        for node in started:
            node.stop()
    accepted = spec_units + 1
    idle_block, idle_second = _per(before, idle, nodes)
    busy_block, busy_second = _per(start, end, nodes)
    wall = end.at - start.at
    return {
        "wall_s": wall,
        "units_per_minute": accepted / wall * 60,
        # Training is not subtracted: the miners' metric counts its wall seconds, which on a loaded machine exceed
        # its CPU seconds; the light model's training is a few milliseconds of CPU a unit.
        "protocol_cpu_s_per_unit": (end.cpu_s - start.cpu_s) / accepted,
        "training_wall_s_per_unit": (end.training_s - start.training_s) / accepted,
        "rpc_per_node_per_block_idle": idle_block,
        "rpc_per_node_per_second_idle": idle_second,
        "rpc_per_node_per_block_busy": busy_block,
        "rpc_per_node_per_second_busy": busy_second,
        "blocks_busy": end.block - start.block,
    }


def digits_spec_for(units: int) -> TaskSpec:
    """The light model of every run: an MLP of hidden width 8, 8 steps a unit, one shard per unit."""
    return digits_spec(dataset_digest="0x" + "00" * 32, shards=units, local_steps=8, checkpoint_every=4, hidden=8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--miners", default="1,2,5,10,20")
    parser.add_argument("--units", type=int, default=40)
    parser.add_argument("--verifiers", type=int, default=5)
    parser.add_argument("--poll-interval", type=float, default=0.5, help="seconds between a node's cycles")
    parser.add_argument("--idle-blocks", type=int, default=10, help="blocks of the idle measurement, one a second")
    args = parser.parse_args()
    counts = [int(x) for x in args.miners.split(",")]
    args.max_miners = max(counts)
    figures: dict[int, dict[str, float]] = {}
    with (
        local_chain(accounts=2 + args.max_miners + args.verifiers) as chain,
        tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp,
        store_server(Path(tmp) / "store", max_bytes=1 << 30) as (store_url, _),
    ):
        deployment = Path(tmp) / "deployment.json"
        chain.deployment.write(deployment)
        net = Network(chain, Path(tmp), store_url, deployment, chain.rpc_url)
        for run, miners in enumerate(counts):
            figures[miners] = _run(chain, net, args.units, miners, args, run)
    rows = [
        (m, args.verifiers, args.units + 1, f["wall_s"], f["units_per_minute"], f["protocol_cpu_s_per_unit"],
         f["rpc_per_node_per_block_idle"], f["rpc_per_node_per_block_busy"])
        for m, f in figures.items()
    ]  # fmt: skip
    print_table(
        ["miners", "verifiers", "units accepted", "wall (s)", "units/min", "protocol CPU-s/unit",
         "RPC/node/block idle", "RPC/node/block busy"],
        rows,
    )  # fmt: skip

    def by_count(key: str, digits_: int = 3) -> dict[str, float]:
        return {str(m): round(f[key], digits_) for m, f in figures.items()}

    per_minute = by_count("units_per_minute", 2)
    emit(
        "scale",
        {
            "units_per_minute": per_minute,
            "protocol_cpu_s_per_unit": by_count("protocol_cpu_s_per_unit"),
            "rpc_per_node_per_block_idle": by_count("rpc_per_node_per_block_idle"),
            "rpc_per_node_per_block_busy": by_count("rpc_per_node_per_block_busy"),
            "rpc_per_node_per_second_idle": by_count("rpc_per_node_per_second_idle"),
            "rpc_per_node_per_second_busy": by_count("rpc_per_node_per_second_busy"),
            "units": args.units + 1,
            "verifiers": args.verifiers,
            "poll_interval_s": args.poll_interval,
            "idle_blocks": args.idle_blocks,
            "nodes": "one process each",
            f"speedup_{counts[-1]}_vs_{counts[0]}": round(per_minute[str(counts[-1])] / per_minute[str(counts[0])], 3),
        },
    )


if __name__ == "__main__":
    main()
