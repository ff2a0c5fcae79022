"""Starting and stopping Anvil; what a user sees when no chain answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.chain.devnet import Devnet, dev_accounts, free_port, wait_for_rpc
from node.chain.jsonrpc import JsonRpc
from node.chain.rpc import connect
from node.errors import ChainUnreachable, ToolchainError, WrongChain

pytestmark = pytest.mark.chain


def test_devnet_starts_answers_and_stops(tmp_path: Path) -> None:
    devnet = Devnet(chain_id=4242, log_path=tmp_path / "anvil.log")
    info = devnet.start()
    try:
        assert info.chain_id == 4242
        assert JsonRpc(info.rpc_url).chain_id() == 4242
        w3 = connect(info.rpc_url, expected_chain_id=4242)
        assert w3.eth.get_balance(dev_accounts(1)[0].address) == 10_000 * 10**18
        with pytest.raises(WrongChain, match="4242"):
            connect(info.rpc_url, expected_chain_id=1)
    finally:
        devnet.stop()
    with pytest.raises(ChainUnreachable):
        wait_for_rpc(info.rpc_url, deadline_s=0.5)
    assert (tmp_path / "anvil.log").exists()


def test_unreachable_chain_says_how_to_start_one() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ChainUnreachable, match="dml devnet up") as info:
        connect(url, timeout_s=1)
    assert info.value.exit_code == 11


def test_missing_anvil_binary_is_a_toolchain_error(tmp_path: Path) -> None:
    with pytest.raises((ToolchainError, FileNotFoundError)):
        Devnet(anvil=tmp_path / "no-such-anvil").start(deadline_s=1)


def test_dev_accounts_are_anvils_well_known_ones() -> None:
    first = dev_accounts(2)
    assert first[0].address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert first[1].address == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def test_a_deployment_file_of_a_restarted_chain_is_refused(tmp_path: Path) -> None:
    from node.chain.build import load_artifact
    from node.chain.deploy import deploy_market
    from node.chain.tx import Signer
    from node.errors import DeploymentNotFound

    port = free_port()
    with Devnet(port=port) as first:
        deployment = deploy_market(Signer(connect(first.rpc_url), dev_accounts(1)[0]), load_artifact())
        deployment.check(connect(first.rpc_url), load_artifact())  # its own chain: accepted
    with Devnet(port=port) as second, pytest.raises(DeploymentNotFound, match="describes another chain"):
        deployment.check(connect(second.rpc_url), load_artifact())  # same port and chain id, nothing deployed


def test_a_deployment_file_is_bound_to_its_chains_genesis_not_its_id_and_address(tmp_path: Path) -> None:
    """Two local chains with the same id and the same contract address (every devnet's first deployment): the
    file of the first is refused on the second, whose code at that address is another deployment's."""
    from node.chain.build import load_artifact
    from node.chain.deploy import deploy_market
    from node.chain.tx import Signer
    from node.errors import DeploymentNotFound

    with Devnet() as first, Devnet() as second:
        mine = deploy_market(Signer(connect(first.rpc_url), dev_accounts(1)[0]), load_artifact())
        theirs = deploy_market(Signer(connect(second.rpc_url), dev_accounts(1)[0]), load_artifact())
        assert (mine.chain_id, mine.address) == (theirs.chain_id, theirs.address)
        assert mine.genesis_hash != theirs.genesis_hash
        with pytest.raises(DeploymentNotFound, match="genesis block is"):
            mine.check(connect(second.rpc_url), load_artifact())
        theirs.check(connect(second.rpc_url), load_artifact())


def test_a_chain_before_cancun_gets_the_shanghai_build_and_refuses_the_cancun_one(tmp_path: Path) -> None:
    """Anvil at Shanghai has no transient storage: `auto` deploys the Shanghai build (which runs: a stake joins
    the pool and a withdrawal passes its reentrancy guard), `cancun` is refused before anything is sent, and a
    deployment said to be the Cancun build is refused by the nodes' check, naming what the chain lacks."""
    import dataclasses

    from web3.logs import DISCARD

    from node.chain.build import load_artifact
    from node.chain.contract import TaskMarket
    from node.chain.deploy import deploy_market
    from node.chain.tx import Signer
    from node.errors import ChainIncompatible

    artifact = load_artifact()
    with Devnet(hardfork="shanghai") as old, Devnet() as new:
        w3 = connect(old.rpc_url)
        keys = dev_accounts(3)
        nonce = w3.eth.get_transaction_count(keys[0].address)
        with pytest.raises(ChainIncompatible, match="transient storage") as refused:
            deploy_market(Signer(w3, keys[0]), artifact, evm_version="cancun")
        assert refused.value.exit_code == 18
        assert w3.eth.get_transaction_count(keys[0].address) == nonce, "a refused deployment sends nothing"
        deployment = deploy_market(Signer(w3, keys[0]), artifact)
        assert deployment.evm_version == "shanghai"
        deployment.check(w3, artifact)
        market = TaskMarket.for_account(w3, deployment.address, artifact, keys[1])
        market.stake(10**18)
        joined = market.join_verifier_pool()
        assert market.stake_of(keys[1].address).verifying
        # The pool's events decode with the ABI the artifact carries for it.
        pool = w3.eth.contract(address=market.verifier_pool(), abi=artifact.pool_abi)
        receipt = w3.eth.get_transaction_receipt(joined.tx_hash)
        [changed] = pool.events.PoolWeightChanged().process_receipt(receipt, errors=DISCARD)  # the market's: not ours
        assert changed["args"]["account"] == keys[1].address
        assert changed["args"]["weight"] == changed["args"]["total"] > 0
        with pytest.raises(ChainIncompatible, match="cancun build"):
            dataclasses.replace(deployment, evm_version="cancun").check(w3, artifact)
        assert deploy_market(Signer(connect(new.rpc_url), keys[0]), artifact).evm_version == "cancun"
