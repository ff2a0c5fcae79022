"""Who sent a step message of split training: the unit's claimant signs each request (EIP-191), over what it
asks for and the digest of what it sends, bound to the chain and contract; the owner's side recovers the signer
and asks the chain whether it holds the unit."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

SIGNATURE_HEADER = "X-Dmlnet-Signature"


@dataclass(frozen=True, slots=True)
class Binding:
    """What every signature is bound to: a request for one contract on one chain is worthless on another."""

    chain_id: int
    contract: str


@dataclass(frozen=True, slots=True)
class StepRequest:
    chain_id: int
    contract: str
    task_id: int
    round: int
    unit: int
    step: int
    kind: str

    def text(self, body: bytes) -> str:
        return (
            f"dmlnet split step\nchain {self.chain_id}\ncontract {self.contract.lower()}\ntask {self.task_id}\n"
            f"round {self.round}\nunit {self.unit}\nstep {self.step}\nkind {self.kind}\n"
            f"body {hashlib.sha256(body).hexdigest()}"
        )


def sign_step(account: LocalAccount, request: StepRequest, body: bytes) -> str:
    return _sign(account, request.text(body))


def _sign(account: LocalAccount, text: str) -> str:
    return "0x" + bytes(account.sign_message(encode_defunct(text=text)).signature).hex()


def _signer(text: str, signature: str) -> str | None:
    if not (signature.startswith("0x") and len(signature) == 132):
        return None  # 65 bytes, hex: anything else is not a signature (and would not reach the recovery)
    try:
        return str(Account.recover_message(encode_defunct(text=text), signature=signature))
    except (ValueError, TypeError, IndexError):
        return None


def signer_of(request: StepRequest, body: bytes, signature: str) -> str | None:
    """The address that signed this request and body; None for a signature that does not parse."""
    return _signer(request.text(body), signature)


@dataclass(frozen=True, slots=True)
class TrafficCommitment:
    """What the owner's side signs at the end of a unit: the traffic chain's head at each checkpoint after the
    first, for this unit and claimant. A verifier holding it knows the recorded traffic is what crossed the cut."""

    chain_id: int
    contract: str
    task_id: int
    round: int
    unit: int
    miner: str
    heads: tuple[bytes, ...]

    def text(self) -> str:
        return (
            f"dmlnet split traffic\nchain {self.chain_id}\ncontract {self.contract.lower()}\ntask {self.task_id}\n"
            f"round {self.round}\nunit {self.unit}\nminer {self.miner.lower()}\n"
            f"heads {','.join(h.hex() for h in self.heads)}"
        )


def sign_commitment(account: LocalAccount, commitment: TrafficCommitment) -> str:
    return _sign(account, commitment.text())


def commitment_signer(commitment: TrafficCommitment, signature: str) -> str | None:
    """The address that signed the commitment; None for a signature that does not parse."""
    return _signer(commitment.text(), signature)


def traffic_signer(
    binding: Binding, task_id: int, round_: int, unit: int, miner: str
) -> Callable[[list[bytes], str], str | None]:
    """Who signed a unit's traffic heads, as :func:`node.ml.verify.verify_unit` asks (it never touches keys)."""

    def signer(heads: list[bytes], signature: str) -> str | None:
        signed = TrafficCommitment(binding.chain_id, binding.contract, task_id, round_, unit, miner, tuple(heads))
        return commitment_signer(signed, signature)

    return signer
