"""The deployment file: which chain and address hold TaskMarket, from which block, speaking which ABI.

Read by every node and command; importing it costs no web3 (short commands read it too).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from node.errors import ConfigError, DeploymentNotFound, WrongChain

if TYPE_CHECKING:
    from web3 import Web3

    from node.chain.build import Artifact


@dataclass(frozen=True, slots=True)
class Deployment:
    chain_id: int
    address: str
    block_number: int
    abi_digest: str
    tx_hash: str
    unbonding_delay_s: int
    # The build deployed (node.chain.build.EVM_VERSIONS): a node refuses a chain that cannot run it.
    evm_version: str = "cancun"
    # The chain's block 0: a deployment file is bound to its chain as node state is, not by chain id and address
    # alone (every local devnet is chain 31337 and puts the first contract at the same address). Empty in a file
    # written before it was recorded: such a file is checked by chain id and code only.
    genesis_hash: str = ""

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        tmp.replace(path)

    @classmethod
    def read(cls, path: Path) -> Deployment:
        from eth_utils.address import to_checksum_address  # here: importing this module stays instant (CLI help)

        try:
            document = json.loads(path.read_text())
        except FileNotFoundError as err:
            raise DeploymentNotFound(f"no deployment file at {path}: run `dml devnet up` or `dml deploy`") from err
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path} is not valid JSON: {err}") from err
        try:
            return cls(
                chain_id=int(document["chain_id"]),
                address=to_checksum_address(document["address"]),
                block_number=int(document["block_number"]),
                abi_digest=str(document["abi_digest"]),
                tx_hash=str(document["tx_hash"]),
                unbonding_delay_s=int(document["unbonding_delay_s"]),
                evm_version=str(document.get("evm_version", "cancun")),
                genesis_hash=str(document.get("genesis_hash", "")),
            )
        except (KeyError, ValueError, TypeError) as err:
            raise ConfigError(f"{path} is not a dmlnet deployment file: {err}") from err

    def identity(self, w3: Web3) -> str:
        """What state kept about this deployment is bound to (a node's, the explorer's index): a devnet restarted
        with the same chain id and contract address still has another genesis block (its timestamp differs)."""
        return f"{self.chain_id}:{genesis_hash(w3)}:{self.address.lower()}:{self.block_number}"

    def check(self, w3: Web3, artifact: Artifact) -> None:
        """Refuses a deployment on another chain, one whose ABI differs from ours, one this chain does not hold,
        or one whose build this chain cannot run (a Cancun build on a Shanghai chain), naming what is missing."""
        from node.chain.evm import require

        self.check_answers(
            int(w3.eth.chain_id),
            bytes(w3.eth.get_code(self.address)),  # type: ignore[arg-type]
            artifact,
            genesis=genesis_hash(w3),
        )
        require(w3, self.evm_version)

    def check_answers(self, chain_id: int, code: bytes, artifact: Artifact, *, genesis: str | None = None) -> None:
        """:meth:`check` on the chain's answers (its id, the code at our address, its genesis hash when read),
        however they were read; the build is not probed here."""
        if chain_id != self.chain_id:
            raise WrongChain(self.chain_id, chain_id)
        if artifact.abi_digest != self.abi_digest:
            raise ConfigError(
                f"the deployment at {self.address} speaks ABI {self.abi_digest[:12]}…, "
                f"this node {artifact.abi_digest[:12]}…"
            )
        if genesis is not None and self.genesis_hash and genesis != self.genesis_hash:
            # Same chain id, maybe the same address, another chain: a devnet restarted, another EVM's local node.
            raise DeploymentNotFound(
                f"the deployment file describes another chain: its genesis block is {self.genesis_hash[:16]}…, this "
                f"one's {genesis[:16]}… (restarted, or another chain with id {chain_id}); run `dml devnet up` or "
                "`dml deploy` again"
            )
        if not code:
            # A deployment file outliving its chain: a devnet restarted without deploying, another chain's file.
            raise DeploymentNotFound(
                f"no contract at {self.address} on chain {chain_id}: the deployment file describes another chain "
                "(restarted?); run `dml devnet up` or `dml deploy` again"
            )


def genesis_hash(w3: Web3) -> str:
    """The hash of the chain's block 0, hex without 0x."""
    from node.chain.rpc import with_retries

    return bytes(with_retries(lambda: w3.eth.get_block(0), what="genesis block")["hash"]).hex()
