"""Many nodes in one process, one thread each (a light model keeps the load on the protocol, not on torch):
the load test and the throughput benchmark run 20 miners and 5 verifiers this way."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from node.daemon import Daemon
from node.runner import build_roles, build_services
from testkit.nodes import dev_settings


@dataclass
class Swarm:
    daemons: list[Daemon] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cycle_errors(self) -> int:
        return sum(int(d.s.metrics.cycle_errors._value.get()) for d in self.daemons)


@contextmanager
def swarm(
    rpc_url: str,
    deployment: Path,
    store: str,
    workdir: Path,
    nodes: list[tuple[str, int, list[str]]],
    *,
    poll_interval_s: float = 0.1,
) -> Iterator[Swarm]:
    """Starts one daemon thread per (name, dev account, roles); stops and joins them all on exit."""
    out = Swarm()
    stop = threading.Event()
    ready = threading.Barrier(len(nodes) + 1)

    def run(name: str, account: int, roles: list[str]) -> None:
        try:
            settings = dev_settings(
                rpc_url, deployment, store, workdir / name, account, roles, poll_interval_s=poll_interval_s
            )
            services, dep = build_services(settings)
            daemon = Daemon(services, build_roles(services), start_block=dep.block_number, stop=stop)
            with out._lock:
                out.daemons.append(daemon)
        except BaseException as err:
            out.errors.append(err)
            ready.abort()
            raise
        ready.wait()
        try:
            daemon.run()
        finally:
            services.state.close()

    threads = [threading.Thread(target=run, args=node, name=node[0], daemon=True) for node in nodes]
    for t in threads:
        t.start()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        stop.set()
        raise RuntimeError(f"a node of the swarm failed to start: {out.errors}") from None
    try:
        yield out
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
