"""Deploying TaskMarket and the deployment file that tells every node and the CLI where it lives."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from web3 import Web3

from node.chain.build import Artifact
from node.chain.tx import Call, Signer
from node.chain.types import DEFAULT_UNBONDING_DELAY_S
from node.errors import ConfigError, DeploymentNotFound, WrongChain


@dataclass(frozen=True, slots=True)
class Deployment:
    chain_id: int
    address: str
    block_number: int
    abi_digest: str
    tx_hash: str
    unbonding_delay_s: int

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        tmp.replace(path)

    @classmethod
    def read(cls, path: Path) -> Deployment:
        try:
            document = json.loads(path.read_text())
        except FileNotFoundError as err:
            raise DeploymentNotFound(f"no deployment file at {path}: run `dml devnet up` or `dml deploy`") from err
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path} is not valid JSON: {err}") from err
        try:
            return cls(
                chain_id=int(document["chain_id"]),
                address=Web3.to_checksum_address(document["address"]),
                block_number=int(document["block_number"]),
                abi_digest=str(document["abi_digest"]),
                tx_hash=str(document["tx_hash"]),
                unbonding_delay_s=int(document["unbonding_delay_s"]),
            )
        except (KeyError, ValueError, TypeError) as err:
            raise ConfigError(f"{path} is not a dmlnet deployment file: {err}") from err

    def check(self, w3: Web3, artifact: Artifact) -> None:
        """Refuses a deployment on another chain, one whose ABI differs from ours, or one this chain does not hold."""
        chain_id = int(w3.eth.chain_id)
        if chain_id != self.chain_id:
            raise WrongChain(self.chain_id, chain_id)
        if artifact.abi_digest != self.abi_digest:
            raise ConfigError(
                f"the deployment at {self.address} speaks ABI {self.abi_digest[:12]}…, "
                f"this node {artifact.abi_digest[:12]}…"
            )
        if not w3.eth.get_code(Web3.to_checksum_address(self.address)):
            # A deployment file outliving its chain: a devnet restarted without deploying, another chain's file.
            raise DeploymentNotFound(
                f"no contract at {self.address} on chain {chain_id}: the deployment file describes another chain "
                "(restarted?); run `dml devnet up` or `dml deploy` again"
            )


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
