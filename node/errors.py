"""The one root of every error dmlnet raises on purpose, with a distinct process exit code per class.

Every layer raises a subclass of :class:`DmlnetError`; the CLI maps ``exit_code`` to the process exit status
and prints ``str(err)`` as one line. Codes are grouped by failure class so scripts can branch on them.
"""

from __future__ import annotations


class DmlnetError(Exception):
    """Root of all dmlnet errors."""

    exit_code: int = 1


class ConfigError(DmlnetError):
    """A setting, flag or file given by the user is invalid."""

    exit_code = 2


class ChainError(DmlnetError):
    """Something went wrong talking to the chain."""

    exit_code = 10


class ChainUnreachable(ChainError):
    """The JSON-RPC endpoint does not answer."""

    exit_code = 11

    def __init__(self, rpc_url: str, detail: str) -> None:
        super().__init__(f"cannot reach the chain at {rpc_url} ({detail}); start a local one with `dml devnet up`")
        self.rpc_url = rpc_url


class WrongChain(ChainError):
    """The endpoint serves a different chain than the deployment file names."""

    exit_code = 12

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"the RPC endpoint serves chain id {actual}, the deployment is on chain id {expected}")
        self.expected = expected
        self.actual = actual


class ChainReplaced(ChainError):
    """The chain under a running node is another one now (a devnet restarted): its state belongs to the old one."""

    exit_code = 17


class ChainIncompatible(ChainError):
    """The chain cannot run the contracts' build: it lacks an opcode that build uses."""

    exit_code = 18

    def __init__(self, evm_version: str, missing: str) -> None:
        super().__init__(
            f"this chain cannot run the contracts' {evm_version} build: it lacks {missing}; "
            "deploy the build it runs (`dml deploy --evm-version auto` picks it)"
        )
        self.evm_version = evm_version


class DeploymentNotFound(ChainError):
    """No deployment file where one was expected."""

    exit_code = 13


class TransactionPending(ChainError):
    """A receipt did not arrive in time. The transaction may still be mined: this is not a failure."""

    exit_code = 14

    def __init__(self, tx_hash: str, nonce: int, waited_s: float) -> None:
        super().__init__(f"transaction {tx_hash} (nonce {nonce}) not mined after {waited_s:.0f}s; still pending")
        self.tx_hash = tx_hash
        self.nonce = nonce


class TransactionFailed(ChainError):
    """A transaction was mined but reverted without a decodable reason, or could not be sent."""

    exit_code = 15


class ContractRevert(ChainError):
    """A TaskMarket call reverted with one of the contract's custom errors.

    Subclasses in :mod:`node.chain.reverts` mirror the Solidity errors one for one; ``error_name`` is the
    Solidity name and ``values`` its arguments by name.
    """

    exit_code = 16
    error_name: str = "unknown"
    fields: tuple[str, ...] = ()

    def __init__(self, values: dict[str, object] | None = None, *, raw: str = "") -> None:
        self.values: dict[str, object] = dict(values or {})
        self.raw = raw
        args = ", ".join(f"{k}={_show(v)}" for k, v in self.values.items())
        super().__init__(f"{self.error_name}({args})")


class ToolchainError(DmlnetError):
    """A build tool (solc, anvil, forge) is missing or failed."""

    exit_code = 20


class StoreError(DmlnetError):
    """Content-addressed store failures."""

    exit_code = 30


class SpecError(DmlnetError):
    """A task spec or an artifact document is malformed."""

    exit_code = 40


def _show(value: object) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


class NodeError(DmlnetError):
    """A node met a state it cannot act on (it logs it and tries again next cycle)."""

    exit_code = 50


class AuditFailed(DmlnetError):
    """An audit found a tampered artifact, a wrong acceptance, or money that does not add up."""

    exit_code = 60


class NotFound(DmlnetError):
    """The task, unit or object named does not exist."""

    exit_code = 3


class InsufficientFunds(DmlnetError):
    """The account cannot pay for what was asked (the message says how much is missing)."""

    exit_code = 4


class StepRefused(NodeError):
    """The owner's side of a split unit refused a step message (not the claimant, out of order, malformed), or
    did not answer within the retry policy."""

    exit_code = 51
