"""A real Anvil chain with TaskMarket deployed, as the tests and the benchmarks drive it: its accounts, a market
client per account, its clock moved forward, a snapshot reverted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3 import Web3

from node.chain.build import Artifact
from node.chain.contract import TaskMarket
from node.chain.deployment import Deployment

UNBONDING_DELAY_S = 4 * 3600  # longer than any test task can still slash (claim + 3 levels of votes)


@dataclass(frozen=True, slots=True)
class Chain:
    rpc_url: str
    w3: Web3
    artifact: Artifact
    deployment: Deployment
    accounts: list[LocalAccount]

    def market(self, account: LocalAccount | None = None, **signer_options: object) -> TaskMarket:
        if account is None:
            return TaskMarket(self.w3, self.deployment.address, self.artifact)
        return TaskMarket.for_account(
            self.w3,
            self.deployment.address,
            self.artifact,
            account,
            **signer_options,
        )

    def advance(self, seconds: int) -> None:
        """Moves chain time forward and mines a block (Anvil's evm_increaseTime + evm_mine)."""
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def timestamp(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])


@contextmanager
def reverted(chain: Chain) -> Iterator[Chain]:
    """The chain as it is, rolled back to a snapshot on leaving (per test, or per module for a shared network)."""
    w3 = chain.w3
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    yield chain
    reverted = w3.provider.make_request("evm_revert", [snapshot])["result"]  # type: ignore[arg-type]
    assert reverted, "could not revert the chain snapshot"
    # Anvil's revert also winds its clock back to the snapshot's time: without this, chain time would trail the
    # wall clock by the duration of every test so far.
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    lag = int(time.time() - w3.eth.get_block("latest")["timestamp"])
    if lag > 0:
        w3.provider.make_request("evm_increaseTime", [lag])  # type: ignore[arg-type]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
