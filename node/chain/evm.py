"""Which of the contracts' builds a chain can run: its EVM version, as far as our bytecode cares.

The contracts are built for Cancun (transient storage: TLOAD, TSTORE; MCOPY) and for Shanghai (without them:
Ganache 7's newest hardfork). A chain is asked, not trusted by name: a creation call whose init code runs the
build's newest opcode succeeds on a chain that has it and fails with an invalid opcode on one that does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from web3.exceptions import ContractLogicError, Web3RPCError

from node.chain.build import CANCUN, EVM_VERSIONS, SHANGHAI
from node.chain.rpc import with_retries
from node.errors import ChainIncompatible, ConfigError

if TYPE_CHECKING:
    from web3 import Web3

# Init code that runs each build's newest opcodes and stops: PUSH0 TLOAD POP (Cancun); PUSH0 POP (Shanghai).
PROBES: dict[str, str] = {CANCUN: "0x5f5c50", SHANGHAI: "0x5f50"}
# What a chain that fails a build's probe lacks, as a refusal names it.
NEEDS: dict[str, str] = {
    CANCUN: "transient storage (EIP-1153: TLOAD, TSTORE)",
    SHANGHAI: "PUSH0 (EIP-3855)",
}
AUTO = "auto"


def runs(w3: Web3, evm_version: str) -> bool:
    """Whether the chain executes ``evm_version``'s opcodes (a transport failure is raised, not answered)."""
    probe = PROBES[evm_version]

    def ask() -> bool:
        try:
            w3.eth.call({"data": probe}, "latest")  # type: ignore[typeddict-item]
        except (ContractLogicError, Web3RPCError, ValueError):
            # An invalid opcode is an answer; so is any other refusal of this one call (whatever the chain's words).
            return False
        return True

    return with_retries(ask, what=f"{evm_version} probe")


def choose(w3: Web3, requested: str = AUTO) -> str:
    """The build to deploy: the newest one the chain runs (``auto``), or the one asked for if the chain runs it."""
    if requested == AUTO:
        for evm_version in EVM_VERSIONS:
            if runs(w3, evm_version):
                return evm_version
        oldest = EVM_VERSIONS[-1]
        raise ChainIncompatible(oldest, NEEDS[oldest])
    if requested not in EVM_VERSIONS:
        raise ConfigError(f"--evm-version {requested!r}: give one of {AUTO}, {', '.join(EVM_VERSIONS)}")
    require(w3, requested)
    return requested


def require(w3: Web3, evm_version: str) -> None:
    """Refuses a chain that cannot run ``evm_version``'s build, naming what it lacks."""
    if not runs(w3, evm_version):
        raise ChainIncompatible(evm_version, NEEDS[evm_version])
