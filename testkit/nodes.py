"""Settings of a node of the devnet's well-known accounts, as tests and benchmarks start them."""

from __future__ import annotations

from pathlib import Path

from node.config import NodeSettings, load_settings


def dev_settings(
    rpc_url: str, deployment: Path, store: str, data_dir: Path, account: int, roles: list[str], **extra: object
) -> NodeSettings:
    """A node of the devnet's account ``account``; credit stays on chain (no withdrawals) unless ``extra`` says."""
    return load_settings(
        {
            "roles": roles,
            "dev_account": account,
            "rpc_url": rpc_url,
            "deployment": deployment,
            "store": [store],
            "data_dir": data_dir,
            "withdraw_threshold_wei": 10**30,
            **extra,
        }
    )
