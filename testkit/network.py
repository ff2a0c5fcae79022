"""A local network for end-to-end tests: the session's Anvil, a real store server, node processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from client.tasks import Economics, create_task, prepare_task
from node.chain.contract import TaskMarket
from node.chain.events import EventReader
from node.ml import spec as sp
from node.ml.data import digits
from node.ml.defaults import digits_spec
from node.store.client import HttpReplica, StoreClient
from testkit.chain import Chain
from testkit.servers import store_server


def small_digits_spec(units: int, local_steps: int, checkpoint_every: int = 4) -> sp.TaskSpec:
    """The digits spec of the network tests and benchmarks: an MLP of hidden width 32, one shard per unit."""
    return digits_spec(
        dataset_digest="0x" + "00" * 32,
        shards=units,
        local_steps=local_steps,
        checkpoint_every=checkpoint_every,
        hidden=32,
    )


@dataclass
class NodeProcess:
    name: str
    args: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "client.cli", "node", "run", *self.args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Network:
    chain: Chain
    workdir: Path
    store_url: str
    deployment_path: Path
    rpc_url: str
    nodes: dict[str, NodeProcess] = field(default_factory=dict)

    def node(
        self,
        name: str,
        roles: str,
        account: int,
        *extra: str,
        rpc_url: str | None = None,
        poll_interval_s: float = 0.2,
    ) -> NodeProcess:
        args = [
            "--roles", roles, "--dev-account", str(account), "--rpc", rpc_url or self.rpc_url,
            "--deployment", str(self.deployment_path), "--store", self.store_url,
            "--data-dir", str(self.workdir / name), "--poll-interval", str(poll_interval_s),
            "--withdraw-threshold", f"{10**30} wei", *extra,
        ]  # fmt: skip
        node = NodeProcess(name, args, self.workdir / f"{name}.log")
        self.nodes[name] = node
        return node

    def store(self) -> StoreClient:
        return StoreClient([HttpReplica(self.store_url)])

    def submit_digits_task(
        self,
        owner: TaskMarket,
        *,
        units: int = 3,
        rounds: int = 2,
        quorum: int = 3,
        local_steps: int = 40,
        checkpoint_every: int = 4,
        **economics: int,
    ) -> int:
        spec = small_digits_spec(units, local_steps, checkpoint_every)
        values: dict[str, int] = {"rounds": rounds, "quorum": quorum, "claim_timeout_s": 120}
        values.update(economics)
        prepared = prepare_task(self.store(), spec, digits(), Economics(**values))
        return create_task(owner, prepared)

    def events(self, from_block: int = 0) -> list[tuple[str, dict[str, object]]]:
        reader = EventReader(self.chain.w3, self.chain.deployment.address, self.chain.artifact.abi)
        return [(e.name, dict(e.args)) for e in reader.read(from_block, reader.head())]

    def logs(self) -> str:
        return "\n".join(f"===== {n}\n{p.log()[-4000:]}" for n, p in self.nodes.items())


@contextmanager
def network(chain: Chain, workdir: Path, *, rpc_url: str | None = None) -> Iterator[Network]:
    deployment_path = workdir / "deployment.json"
    chain.deployment.write(deployment_path)
    with ExitStack() as stack:
        url, _ = stack.enter_context(store_server(workdir / "store", max_bytes=1 << 30))
        net = Network(chain, workdir, url, deployment_path, rpc_url or chain.rpc_url)
        try:
            yield net
        except BaseException:
            print(net.logs())  # shown by pytest on failure: what every node was doing
            raise
        finally:
            for node in net.nodes.values():
                node.stop()
