"""A fresh local chain for a benchmark: Anvil, TaskMarket deployed, the test harness's Chain handle."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from node.chain.build import ensure_artifact
from node.chain.deploy import deploy_market
from node.chain.devnet import Devnet, dev_accounts
from node.chain.rpc import connect
from node.chain.tx import Signer
from node.chain.types import DEFAULT_UNBONDING_DELAY_S
from testkit.chain import Chain


@contextmanager
def local_chain(accounts: int = 10) -> Iterator[Chain]:
    artifact = ensure_artifact()
    with Devnet(accounts=accounts) as devnet:
        w3 = connect(devnet.rpc_url)
        keys = dev_accounts(accounts)
        deployment = deploy_market(
            # Longer than any task can still slash (claim + five levels of commit, reveal and challenge window):
            # 600 s was refused by createTask once quorums had appeal levels (issue 26).
            Signer(w3, keys[0]),
            artifact,
            unbonding_delay_s=DEFAULT_UNBONDING_DELAY_S,
        )
        yield Chain(devnet.rpc_url, w3, artifact, deployment, keys)
