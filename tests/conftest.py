"""Fixtures shared by every test: a real Anvil chain per session, a TaskMarket deployed once, and a snapshot
reverted after each test so tests never see each other's state. A test parametrized indirectly on ``chain``
(``@pytest.mark.parametrize("chain", EVMS, indirect=True)``) runs on each EVM named: Ganache 7.9.2 is started
once per test module that asks for it, with the contracts' Shanghai build deployed; Hardhat 3's node once
per session, the first time a test asks for it, with the Cancun build."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from node.chain.build import Artifact, ensure_artifact
from node.chain.deploy import deploy_market
from node.chain.devnet import Devnet, dev_accounts
from node.chain.rpc import connect
from node.chain.tx import Signer
from testkit.chain import UNBONDING_DELAY_S, Chain, reverted
from testkit.evms import ANVIL, deployed_chain, ganache, hardhat


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


# Module-scoped, not session-scoped: Ganache mines a block a second and its work per block grows with the chain;
# kept up for a whole CI run it used about two thirds of a core until the end (one of this machine's two), which
# slowed every later test (bench_workloads hit its timeout). A module that needs it starts a fresh one.
@pytest.fixture(scope="module")
def ganache_chain(artifact: Artifact, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    with ganache(tmp_path_factory.mktemp("ganache") / "ganache.log", accounts=30) as rpc_url:
        yield deployed_chain(rpc_url, artifact, accounts=30)


@pytest.fixture(scope="session")
def hardhat_chain(artifact: Artifact, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    with hardhat(tmp_path_factory.mktemp("hardhat") / "hardhat.log", accounts=30) as rpc_url:
        yield deployed_chain(rpc_url, artifact, accounts=30)


@pytest.fixture
def chain(request: pytest.FixtureRequest, chain_session: Chain) -> Iterator[Chain]:
    """The session chain (Anvil, or the EVM the test is parametrized with), rolled back after the test."""
    evm = getattr(request, "param", ANVIL)
    base = chain_session if evm == ANVIL else request.getfixturevalue(f"{evm}_chain")
    with reverted(base) as chain:
        yield chain
