"""Fixtures shared by every test: a real Anvil chain per session, a TaskMarket deployed once, and a snapshot
reverted after each test so tests never see each other's state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from node.chain.build import Artifact, ensure_artifact
from node.chain.deploy import deploy_market
from node.chain.devnet import Devnet, dev_accounts
from node.chain.rpc import connect
from node.chain.tx import Signer
from testkit.chain import UNBONDING_DELAY_S, Chain, reverted


@pytest.fixture(scope="session")
def artifact() -> Artifact:
    return ensure_artifact()


@pytest.fixture(scope="session")
def devnet() -> Iterator[Devnet]:
    with Devnet(accounts=30) as chain:
        yield chain


@pytest.fixture(scope="session")
def chain_session(devnet: Devnet, artifact: Artifact) -> Chain:
    w3 = connect(devnet.rpc_url)
    accounts = dev_accounts(30)
    deployer = Signer(w3, accounts[0])
    deployment = deploy_market(deployer, artifact, unbonding_delay_s=UNBONDING_DELAY_S)
    return Chain(devnet.rpc_url, w3, artifact, deployment, accounts)


@pytest.fixture
def chain(chain_session: Chain) -> Iterator[Chain]:
    """The session chain, rolled back to a snapshot after the test."""
    with reverted(chain_session) as chain:
        yield chain
