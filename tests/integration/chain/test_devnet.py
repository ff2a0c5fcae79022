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
