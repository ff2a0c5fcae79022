"""Deploying TaskMarket; the result is a :class:`~node.chain.deployment.Deployment` (its file)."""

from __future__ import annotations

from web3 import Web3

from node.chain.build import Artifact
from node.chain.deployment import Deployment, genesis_hash
from node.chain.evm import AUTO, choose
from node.chain.tx import Call, Signer
from node.chain.types import DEFAULT_UNBONDING_DELAY_S
from node.errors import ConfigError


def deploy_market(
    signer: Signer,
    artifact: Artifact,
    unbonding_delay_s: int = DEFAULT_UNBONDING_DELAY_S,
    *,
    evm_version: str = AUTO,
) -> Deployment:
    """Deploys the build the chain runs (``auto``: the newest; or the one named, refused if the chain cannot run
    it), and describes it."""
    w3 = signer.w3
    build = choose(w3, evm_version)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode_for(build))
    data = factory.constructor(unbonding_delay_s).data_in_transaction
    sent = signer.send(Call(to=None, data=data, label=f"deploy TaskMarket ({build})"))
    address = sent.receipt["contractAddress"]
    if address is None:  # pragma: no cover - a creation receipt always has one
        raise ConfigError("deployment receipt has no contract address")
    return Deployment(
        chain_id=int(w3.eth.chain_id),
        address=Web3.to_checksum_address(address),
        block_number=sent.block_number,
        abi_digest=artifact.abi_digest,
        tx_hash=sent.tx_hash,
        unbonding_delay_s=unbonding_delay_s,
        evm_version=build,
        genesis_hash=genesis_hash(w3),
    )
