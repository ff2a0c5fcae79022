"""Sending transactions: one signer per key, a local nonce counter, simulation first, no blind re-sends.

A call is simulated with ``eth_call`` before it is signed, so a revert surfaces as the contract's custom error
without spending gas. The signed bytes are kept: re-sending them after a transport error is idempotent (same
hash), and a "nonce too low" is reconciled by looking the hash up rather than by signing again. A receipt that
does not arrive in time raises :class:`~node.errors.TransactionPending`, which is not a failure.

Every transaction stays tracked until it is ``KEEP_BLOCKS`` deep: :meth:`Signer.reconcile` (each node cycle) sends
again the bytes of one the chain forgot (a reorganisation dropped it, or a pool evicted it), so that no dropped
nonce blocks every later one, and replaces one stuck unmined past ``stuck_after_s`` by the same call at the same
nonce with higher fees.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError
from web3.types import BlockIdentifier, TxParams, TxReceipt

from node.chain.rpc import TRANSIENT, TRANSPORT, is_insufficient_funds, with_retries
from node.errors import ChainError, InsufficientFunds, TransactionFailed, TransactionPending
from node.money import eth
from node.retry import RetryPolicy, retry

log = logging.getLogger(__name__)

# Polling for a receipt: quickly at first (a devnet mines at once), then at most once a second.
RECEIPT_POLL = RetryPolicy(attempts=None, base_delay_s=0.02, max_delay_s=1.0)


# Simulations and gas estimates run in the next block, where the transaction will be mined. Not "latest": a quorum
# draw reads the latest block's hash, which only a later block can, and a write keyed by block number (the verifier
# pool's checkpoints) costs more in a new block than in the latest one.
SIMULATE_AT: BlockIdentifier = "pending"

# How deep a transaction's block must be before the signer stops checking that the chain still holds it.
KEEP_BLOCKS = 64
# Mined transactions are checked for a reorganisation every this many blocks (one request), unmined ones each time.
RECHECK_EVERY = 8
# A receipt not there after this long: the earlier nonces are checked for one the chain forgot (a gap that would
# keep this transaction unmined), and the wait is said in one line.
GAP_CHECK_AFTER_S = 5.0
# A replacement offers this much more than the transaction it replaces (nodes want at least +10% of both fees).
FEE_BUMP = 1.25


@dataclass(frozen=True, slots=True)
class Call:
    """What to send: ``to`` is None for a contract creation."""

    to: str | None
    data: str
    value: int = 0
    label: str = ""


class RevertDecoder(Protocol):
    def __call__(self, data: str) -> ChainError: ...


class TxJournal(Protocol):
    """Where a node records what it sent (SQLite in the node state); called before the bytes leave."""

    def record(self, *, nonce: int, tx_hash: str, label: str) -> None: ...


@dataclass(frozen=True, slots=True)
class SentTransaction:
    tx_hash: str
    nonce: int
    receipt: TxReceipt

    @property
    def gas_used(self) -> int:
        return int(self.receipt["gasUsed"])

    @property
    def block_number(self) -> int:
        return int(self.receipt["blockNumber"])


@dataclass(slots=True)
class _Tracked:
    """One of our transactions until it is KEEP_BLOCKS deep: the bytes to send again, what to re-sign."""

    unsigned: dict[str, Any]
    raw: bytes
    tx_hash: str
    label: str
    sent_at: float
    mined_block: int | None = None


def revert_data(err: ContractLogicError) -> str:
    data = err.data
    if isinstance(data, str):
        return data
    if isinstance(data, dict):  # some nodes nest it: {"data": "0x…"}; Ganache's estimateGas: {"result": "0x…", …}
        nested = data.get("data") or data.get("result") or ""
        return nested if isinstance(nested, str) else ""
    return ""


class Signer:
    """Signs and sends for one key. Thread-safe; keep one per key per process."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        *,
        decode_revert: RevertDecoder | None = None,
        receipt_timeout_s: float = 120.0,
        gas_headroom: float = 1.25,
        journal: TxJournal | None = None,
        read_policy: RetryPolicy | None = None,
        send_attempts: int = 5,
    ) -> None:
        self._w3 = w3
        self._account = account
        self._decode_revert = decode_revert
        self._receipt_timeout_s = receipt_timeout_s
        self._gas_headroom = gas_headroom
        self._journal = journal
        self._read_policy = read_policy or RetryPolicy()
        self._send_attempts = send_attempts
        self._lock = threading.Lock()
        self._next_nonce: int | None = None
        self._chain_id: int | None = None
        self._tracked: dict[int, _Tracked] = {}

    @property
    def address(self) -> str:
        return str(self._account.address)

    @property
    def account(self) -> LocalAccount:
        """The key itself, for what a node signs off chain (the owner's commitment to a unit's traffic)."""
        return self._account

    @property
    def w3(self) -> Web3:
        return self._w3

    @property
    def tracked(self) -> int:
        """How many of our transactions are still followed (mined under KEEP_BLOCKS deep, or not mined yet)."""
        with self._lock:
            return len(self._tracked)

    def resync_nonce(self) -> int:
        """Reads the account's pending nonce from the chain (after a restart or a reconciliation)."""
        nonce = self._read(lambda: self._w3.eth.get_transaction_count(self._account.address, "pending"))
        with self._lock:
            self._next_nonce = int(nonce)
        return int(nonce)

    def simulate(self, call: Call) -> bytes:
        """``eth_call`` of ``call`` from this account; a revert raises the decoded contract error."""
        tx = self._base_tx(call)
        try:
            return bytes(self._read(lambda: self._w3.eth.call(tx, SIMULATE_AT)))
        except ContractLogicError as err:
            raise self._decoded(err) from err
        except Web3RPCError as err:
            if is_insufficient_funds(err):
                balance = int(self._read(lambda: self._w3.eth.get_balance(self._account.address)))
                raise InsufficientFunds(
                    f"{self._account.address} holds {_eth(balance)}: not enough for {call.label} "
                    f"({_eth(call.value)} sent, plus gas)"
                ) from err
            raise

    def send(self, call: Call, *, wait: bool = True) -> SentTransaction:
        """Simulates, signs with the next nonce, sends, and (by default) waits for the receipt."""
        self.simulate(call)
        tx = self._base_tx(call)
        try:
            estimate = self._read(lambda: self._w3.eth.estimate_gas(tx, SIMULATE_AT))
        except ContractLogicError as err:
            raise self._decoded(err) from err
        unsigned: dict[str, Any] = {
            **tx,
            **self._fees(),
            "gas": int(estimate * self._gas_headroom) + 10_000,
            "chainId": self._chain(),
        }
        with self._lock:
            if self._next_nonce is None:
                self._next_nonce = int(
                    self._read(lambda: self._w3.eth.get_transaction_count(self._account.address, "pending"))
                )
            nonce = self._next_nonce
            unsigned["nonce"] = nonce
            signed = self._account.sign_transaction(unsigned)
            tx_hash = "0x" + bytes(signed.hash).hex()
            if self._journal is not None:
                self._journal.record(nonce=nonce, tx_hash=tx_hash, label=call.label)
            self._broadcast(bytes(signed.raw_transaction), tx_hash, nonce)
            self._next_nonce = nonce + 1
            self._tracked[nonce] = _Tracked(
                unsigned, bytes(signed.raw_transaction), tx_hash, call.label, time.monotonic()
            )
        log.debug("transaction sent", extra={"label": call.label, "tx_hash": tx_hash, "nonce": nonce})
        if not wait:
            return SentTransaction(tx_hash=tx_hash, nonce=nonce, receipt=TxReceipt({}))  # type: ignore[typeddict-item]
        receipt = self.wait_for_receipt(tx_hash, nonce)
        with self._lock:
            tracked = self._tracked.get(nonce)
            if tracked is not None and tracked.tx_hash == tx_hash:
                tracked.mined_block = int(receipt["blockNumber"])
        if int(receipt["status"]) != 1:
            raise self._mined_revert(call, receipt, tx_hash)
        return SentTransaction(tx_hash=tx_hash, nonce=nonce, receipt=receipt)

    def wait_for_receipt(self, tx_hash: str, nonce: int, timeout_s: float | None = None) -> TxReceipt:
        """Polls for the receipt until the deadline; a timeout means pending, not failed."""
        limit = self._receipt_timeout_s if timeout_s is None else timeout_s

        def log_fault(_attempt: int, err: Exception) -> None:
            if not isinstance(err, TransactionNotFound):  # not mined yet is the normal case, not worth a line
                log.warning("receipt poll failed", extra={"tx_hash": tx_hash, "error": str(err)})

        def poll(deadline_s: float) -> TxReceipt:
            found: TxReceipt = retry(
                lambda: self._w3.eth.get_transaction_receipt(HexBytes(tx_hash)),
                retry_if=lambda err: isinstance(err, (TransactionNotFound, *TRANSIENT)),
                policy=RECEIPT_POLL,
                deadline_s=deadline_s,
                on_retry=log_fault,
            )
            return found

        began = time.monotonic()
        try:
            try:
                return poll(min(limit, GAP_CHECK_AFTER_S))
            except (TransactionNotFound, *TRANSIENT):
                if limit <= GAP_CHECK_AFTER_S:
                    raise
            # Not mined yet: maybe an earlier nonce of ours was forgotten (a reorganisation since the cycle began)
            # and this one waits behind the gap. What the chain forgot goes out again; then wait the rest.
            self.reconcile(force=True)
            log.info(
                "waiting for a transaction to be mined",
                extra={"tx_hash": tx_hash, "nonce": nonce, "for_up_to_s": round(limit)},
            )
            return poll(max(0.0, limit - (time.monotonic() - began)))
        except (TransactionNotFound, *TRANSIENT) as err:
            raise TransactionPending(tx_hash, nonce, limit) from err

    def reconcile(
        self, head: int | None = None, *, stuck_after_s: float | None = None, force: bool = False
    ) -> list[tuple[str, int]]:
        """Checks our recent transactions against the chain at block ``head`` (read when None): one it forgot
        (dropped by a reorganisation, evicted) goes out again as the same bytes, one unmined for longer than
        ``stuck_after_s`` is replaced at the same nonce with higher fees; one mined KEEP_BLOCKS deep is forgotten.
        Returns what it did, as (action, nonce). No request while nothing is tracked, and none at a given head
        while all of it was mined RECHECK_EVERY blocks deep, but every RECHECK_EVERY blocks, or when ``force``d (a
        reorganisation seen)."""
        with self._lock:
            if not self._tracked:
                return []
            # Until each is RECHECK_EVERY blocks deep it is checked every cycle (a short reorganisation drops the
            # newest blocks: ours, just sent), then every RECHECK_EVERY blocks.
            settled = head is not None and all(
                t.mined_block is not None and t.mined_block <= head - RECHECK_EVERY for t in self._tracked.values()
            )
            if settled and not force and head is not None and head % RECHECK_EVERY != 0:
                return []
            if head is None:
                head = int(self._read(lambda: self._w3.eth.block_number))
            mined = int(self._read(lambda: self._w3.eth.get_transaction_count(self._account.address, "latest")))
            done: list[tuple[str, int]] = []
            for nonce in sorted(self._tracked):
                tracked = self._tracked[nonce]
                if nonce < mined:
                    if tracked.mined_block is not None and tracked.mined_block <= head - KEEP_BLOCKS:
                        del self._tracked[nonce]
                    continue
                # Not mined (any more): our nonce is still open on the chain.
                tracked.mined_block = None
                if not self._known(tracked.tx_hash):
                    log.warning(
                        "the chain forgot a transaction of ours: sending the same bytes again",
                        extra={"label": tracked.label, "tx_hash": tracked.tx_hash, "nonce": nonce},
                    )
                    if not self._resend(nonce, tracked):
                        continue
                    tracked.sent_at = time.monotonic()
                    done.append(("resent", nonce))
                elif stuck_after_s is not None and time.monotonic() - tracked.sent_at > stuck_after_s:
                    self._replace(nonce, tracked)
                    done.append(("replaced", nonce))
            return done

    def _resend(self, nonce: int, tracked: _Tracked) -> bool:
        """Broadcasts a tracked transaction's bytes again; False (and forgotten) when its nonce went to another."""
        try:
            self._broadcast(tracked.raw, tracked.tx_hash, nonce)
        except TransactionFailed as err:
            log.warning(
                "a transaction of ours can no longer be sent: the counter is read from the chain again",
                extra={"label": tracked.label, "nonce": nonce, "error": str(err)},
            )
            del self._tracked[nonce]
            self._next_nonce = None
            return False
        return True

    def _replace(self, nonce: int, tracked: _Tracked) -> None:
        """Re-signs a stuck transaction at its nonce with fees FEE_BUMP higher (and at least today's)."""
        fees = self._fees()
        unsigned = dict(tracked.unsigned)
        for key in ("maxFeePerGas", "maxPriorityFeePerGas"):
            unsigned[key] = max(int(int(unsigned[key]) * FEE_BUMP) + 1, fees[key])
        signed = self._account.sign_transaction(unsigned)
        tx_hash = "0x" + bytes(signed.hash).hex()
        log.warning(
            "a transaction of ours is stuck: replacing it at the same nonce with higher fees",
            extra={"label": tracked.label, "old_tx": tracked.tx_hash, "tx_hash": tx_hash, "nonce": nonce,
                   "max_fee": unsigned["maxFeePerGas"]},
        )  # fmt: skip
        if self._journal is not None:
            self._journal.record(nonce=nonce, tx_hash=tx_hash, label=tracked.label)
        replacement = _Tracked(unsigned, bytes(signed.raw_transaction), tx_hash, tracked.label, time.monotonic())
        self._tracked[nonce] = replacement
        if not self._resend(nonce, replacement):
            return

    # ---------------------------------------------------------------------------------------------- internals

    def _broadcast(self, raw: bytes, tx_hash: str, nonce: int) -> None:
        """Sends the signed bytes; after a transport error sends the same bytes again (idempotent by hash)."""

        def send_once() -> None:
            try:
                self._w3.eth.send_raw_transaction(raw)
            except Web3RPCError as err:
                message = str(err).lower()
                if "already known" in message or "already imported" in message:
                    return
                if "nonce too low" in message and self._known(tx_hash):
                    return  # an earlier attempt of ours got through
                if "nonce too low" in message:
                    # Another sender used this key's nonce: these bytes can never be mined. Resync, don't re-sign.
                    self._next_nonce = None
                    raise TransactionFailed(f"nonce {nonce} was already used by another transaction") from err
                raise TransactionFailed(f"the node refused the transaction: {err}") from err
            except TRANSPORT:
                if self._known(tx_hash):
                    return
                raise

        def log_resend(_attempt: int, err: Exception) -> None:
            log.warning("send failed, re-sending the same bytes", extra={"tx_hash": tx_hash, "error": str(err)})

        try:
            retry(
                send_once,
                retry_if=lambda err: isinstance(err, TRANSPORT),
                policy=RetryPolicy(attempts=self._send_attempts, base_delay_s=0.2, max_delay_s=5.0),
                on_retry=log_resend,
            )
        except TRANSPORT as err:
            # The bytes may still have reached the node: forget the local counter, the next send reads the pending
            # nonce from the chain rather than guessing.
            self._next_nonce = None
            raise TransactionFailed(f"could not send transaction {tx_hash}: {err}") from err

    def _known(self, tx_hash: str) -> bool:
        try:
            self._w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            return False
        except TRANSIENT:
            return False
        return True

    def _mined_revert(self, call: Call, receipt: TxReceipt, tx_hash: str) -> ChainError:
        """Replays a transaction that reverted on chain to learn why."""
        tx = self._base_tx(call)
        block = int(receipt["blockNumber"])
        try:
            self._w3.eth.call(tx, block - 1 if block > 0 else block)
        except ContractLogicError as err:
            return self._decoded(err)
        except TRANSIENT:
            pass
        return TransactionFailed(f"transaction {tx_hash} reverted in block {block}")

    def _decoded(self, err: ContractLogicError) -> ChainError:
        data = revert_data(err)
        if self._decode_revert is not None and data:
            return self._decode_revert(data)
        return TransactionFailed(f"reverted: {err}")

    def _base_tx(self, call: Call) -> TxParams:
        tx: TxParams = {"from": self._account.address, "data": call.data, "value": call.value}  # type: ignore[typeddict-item]
        if call.to is not None:
            tx["to"] = Web3.to_checksum_address(call.to)
        return tx

    def _fees(self) -> dict[str, int]:
        block = self._read(lambda: self._w3.eth.get_block("latest"))
        base_fee = int(block.get("baseFeePerGas", 0) or 0)
        try:
            tip = int(self._read(lambda: self._w3.eth.max_priority_fee))
        except Web3RPCError:
            tip = 1_000_000_000
        return {"maxFeePerGas": 2 * base_fee + tip, "maxPriorityFeePerGas": tip}

    def _chain(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self._read(lambda: self._w3.eth.chain_id))
        return self._chain_id

    def _read(self, fn: Callable[[], Any]) -> Any:
        return with_retries(fn, policy=self._read_policy, what="signer")


def _eth(wei: int) -> str:
    """An amount as ETH to 6 places, with its exact wei beside it."""
    return f"{eth(wei)} ({wei} wei)"
