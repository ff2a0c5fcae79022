"""Drive tasks to completion in-process with real roles (faster than node processes for CLI tests)."""

from __future__ import annotations

from pathlib import Path

from node.chain.types import TaskStatus
from node.daemon import Daemon
from node.roles.context import Services
from node.runner import build_roles, build_services
from testkit.chain import Chain
from testkit.nodes import dev_settings
from testkit.polling import wait_until


def node(
    chain: Chain, tmp_path: Path, store: str, name: str, account: int, roles: list[str], **settings: object
) -> tuple[Services, Daemon]:
    """An in-process node of dev account ``account`` (``settings``: more of its configuration, e.g. confirmations)."""
    deployment = tmp_path / "deployment.json"
    chain.deployment.write(deployment)
    services, dep = build_services(
        dev_settings(chain.rpc_url, deployment, store, tmp_path / name, account, roles, **settings)
    )
    return services, Daemon(services, build_roles(services), start_block=dep.block_number)


def folder_node(chain: Chain, tmp_path: Path, name: str, account: int, roles: list[str]) -> Daemon:
    """A node of dev account ``account`` on the store folder ``tmp_path/store``, the test adversaries loadable as
    roles (``cheat-noise``, ``lazy-reject``, …)."""
    deployment = tmp_path / "deployment.json"
    chain.deployment.write(deployment)
    settings = dev_settings(
        chain.rpc_url, deployment, str(tmp_path / "store"), tmp_path / name, account, roles,
        plugins=["testkit.adversaries"],
    )  # fmt: skip
    services, dep = build_services(settings)
    return Daemon(services, build_roles(services), start_block=dep.block_number)


def complete(chain: Chain, tmp_path: Path, store: str, task_id: int, *, verifiers: int = 1) -> None:
    daemons = [node(chain, tmp_path, store, "miner", 2, ["miner", "aggregator"])[1]]
    daemons += [node(chain, tmp_path, store, f"v{i}", 4 + i, ["verifier", "keeper"])[1] for i in range(verifiers)]
    market = chain.market()

    def step() -> bool:
        for d in daemons:
            d.cycle()
        return market.get_task(task_id).state.status is TaskStatus.COMPLETED

    wait_until(step, timeout_s=180, what=f"task {task_id} to complete", interval_s=0)
    for d in daemons:
        d.s.state.close()
