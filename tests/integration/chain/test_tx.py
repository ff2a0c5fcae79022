"""The signer against a real chain: local nonces, pending receipts, idempotent re-sends."""

from __future__ import annotations

import pytest
from eth_account import Account

from node.chain.tx import Call, Signer
from node.errors import TransactionFailed, TransactionPending
from testkit.chain import Chain
from testkit.polling import wait_until
from tests.integration.chain.helpers import ETHER

pytestmark = pytest.mark.chain


class MemoryJournal:
    def __init__(self) -> None:
        self.entries: list[tuple[int, str, str]] = []

    def record(self, *, nonce: int, tx_hash: str, label: str) -> None:
        self.entries.append((nonce, tx_hash, label))


def test_local_nonce_counter_sends_a_burst_in_order(chain: Chain) -> None:
    journal = MemoryJournal()
    market = chain.market(chain.accounts[12], journal=journal)
    start = chain.w3.eth.get_transaction_count(market.signer.address)
    for _ in range(10):
        market.stake(1)
    assert [n for n, _, _ in journal.entries] == list(range(start, start + 10))
    assert all(label == "stake" for _, _, label in journal.entries)
    assert market.stake_of(market.signer.address).total == 10


def test_a_receipt_timeout_is_pending_not_failed_and_reconciles(chain: Chain) -> None:
    market = chain.market(chain.accounts[13], receipt_timeout_s=0.5)
    w3 = chain.w3
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        with pytest.raises(TransactionPending) as info:
            market.stake(ETHER)
        pending = info.value
        assert market.stake_of(market.signer.address).total == 0
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    receipt = market.signer.wait_for_receipt(pending.tx_hash, pending.nonce, timeout_s=10)
    assert receipt["status"] == 1
    assert market.stake_of(market.signer.address).total == ETHER
    # The counter moved past the pending nonce: the next send does not collide with it.
    market.stake(1)
    assert market.stake_of(market.signer.address).total == ETHER + 1


def test_resending_the_same_signed_bytes_is_harmless(chain: Chain) -> None:
    account = chain.accounts[14]
    market = chain.market(account)
    signer = market.signer
    call = market._call("stake", value=ETHER)
    sent = signer.send(call)
    tx = chain.w3.eth.get_transaction(sent.tx_hash)
    # Rebuild the exact bytes and broadcast them again, as after a lost HTTP response.
    raw = Account.sign_transaction(
        {
            "to": tx["to"],
            "data": tx["input"],
            "value": tx["value"],
            "gas": tx["gas"],
            "maxFeePerGas": tx["maxFeePerGas"],
            "maxPriorityFeePerGas": tx["maxPriorityFeePerGas"],
            "nonce": tx["nonce"],
            "chainId": tx["chainId"],
        },
        account.key,
    ).raw_transaction
    signer._broadcast(bytes(raw), sent.tx_hash, sent.nonce)  # "nonce too low" + known hash: accepted
    assert market.stake_of(account.address).total == ETHER


def test_a_nonce_used_elsewhere_is_reported_not_resigned(chain: Chain) -> None:
    account = chain.accounts[15]
    market = chain.market(account)
    market.stake(1)  # the signer's counter is now initialised
    other = Signer(chain.w3, account)  # a second process with the same key
    # value 2, so that its bytes differ from ours (identical bytes would rightly count as our own transaction)
    other.send(Call(to=market.address, data=market._call("stake").data, value=2, label="stake"))
    with pytest.raises(TransactionFailed, match="already used"):
        market.stake(1)
    market.signer.resync_nonce()
    market.stake(1)
    assert market.stake_of(account.address).total == 4


def test_reconcile_sends_again_what_a_reorganisation_dropped(chain: Chain) -> None:
    market = chain.market(chain.accounts[16])
    signer = market.signer
    w3 = chain.w3
    market.stake(ETHER)  # mined alone in its block (automine)
    assert signer.reconcile() == []  # mined and on the chain: nothing to do
    w3.provider.make_request("anvil_reorg", [1, []])  # type: ignore[arg-type]
    assert market.stake_of(signer.address).total == 0  # the chain forgot it
    dropped = w3.eth.get_transaction_count(signer.address)
    assert signer.reconcile(8 * 1000 + 1) == [], "ones mined RECHECK_EVERY deep: checked every RECHECK_EVERY blocks"
    # Mined in the last RECHECK_EVERY blocks (a short reorganisation drops those first): checked every cycle.
    assert signer.reconcile(w3.eth.block_number) == [("resent", dropped)]
    # Sent, not waited for (a node's cycle goes on): Anvil mines it as it arrives, but not before the answer.
    wait_until(lambda: market.stake_of(signer.address).total == ETHER, timeout_s=30, what="the resent stake mined")
    market.stake(1)  # the next nonce follows: nothing queued behind a gap
    assert market.stake_of(signer.address).total == ETHER + 1
    assert signer.reconcile() == []


def test_reconcile_replaces_a_stuck_transaction_at_its_nonce(chain: Chain) -> None:
    market = chain.market(chain.accounts[17])
    signer = market.signer
    w3 = chain.w3
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        sent = signer.send(market._call("stake", value=ETHER), wait=False)
        offered = int(w3.eth.get_transaction(sent.tx_hash)["maxFeePerGas"])
        assert signer.reconcile(stuck_after_s=3600) == []  # pending, not stuck yet
        assert signer.reconcile(stuck_after_s=0) == [("replaced", sent.nonce)]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    mined = w3.eth.get_transaction_by_block(w3.eth.block_number, 0)
    assert mined["nonce"] == sent.nonce
    assert "0x" + bytes(mined["hash"]).hex() != sent.tx_hash
    assert int(mined["maxFeePerGas"]) > offered
    assert market.stake_of(signer.address).total == ETHER  # once, by the replacement
    market.stake(1)
    assert market.stake_of(signer.address).total == ETHER + 1
