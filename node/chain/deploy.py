"""Deploying TaskMarket; the result is a :class:`~node.chain.deployment.Deployment` (its file)."""

from __future__ import annotations

from web3 import Web3

from node.chain.build import Artifact
from node.chain.deployment import Deployment
from node.chain.tx import Call, Signer
from node.chain.types import DEFAULT_UNBONDING_DELAY_S
from node.errors import ConfigError


def deploy_market(signer: Signer, artifact: Artifact, unbonding_delay_s: int = DEFAULT_UNBONDING_DELAY_S) -> Deployment:
    w3 = signer.w3
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    data = factory.constructor(unbonding_delay_s).data_in_transaction
    sent = signer.send(Call(to=None, data=data, label="deploy TaskMarket"))
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
    )
