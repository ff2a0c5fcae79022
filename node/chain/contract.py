"""A typed wrapper over every TaskMarket function and view, through web3.

Views (:class:`~node.chain.views.MarketViews`) retry transient faults; state-changing calls go through a
:class:`~node.chain.tx.Signer`, and a revert surfaces as the :mod:`node.chain.reverts` class of the Solidity custom
error with its arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.types import BlockIdentifier, TxParams

from node.chain.build import Artifact
from node.chain.events import EventReader
from node.chain.hashing import vote_commitment
from node.chain.rpc import with_retries
from node.chain.tx import Call, SentTransaction, Signer, revert_data
from node.chain.types import BlockHead, TaskParams
from node.chain.views import MarketViews, RevertDecoder
from node.errors import ConfigError
from node.retry import RetryPolicy


class TaskMarket(MarketViews):
    """One deployed TaskMarket, read through ``w3`` and written through ``signer`` (if any)."""

    def __init__(
        self,
        w3: Web3,
        address: str,
        artifact: Artifact,
        signer: Signer | None = None,
        *,
        read_policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__(address, artifact.abi, read_policy=read_policy)
        self._w3 = w3
        self._contract: Contract = w3.eth.contract(address=self.address, abi=artifact.abi)
        self._signer = signer

    @classmethod
    def for_account(
        cls, w3: Web3, address: str, artifact: Artifact, account: LocalAccount, **signer_options: Any
    ) -> TaskMarket:
        """A client that sends as ``account``, its reverts decoded into this contract's errors."""
        signer = Signer(w3, account, decode_revert=RevertDecoder(artifact.abi), **signer_options)
        return cls(w3, address, artifact, signer)

    @property
    def w3(self) -> Web3:
        return self._w3

    @property
    def contract(self) -> Contract:
        return self._contract

    @property
    def signer(self) -> Signer:
        if self._signer is None:
            raise ConfigError("this TaskMarket client is read-only: give it a signer to send transactions")
        return self._signer

    @property
    def sends(self) -> bool:
        """Whether this client has a signer (read-only clients, e.g. `dml task show`'s, have none)."""
        return self._signer is not None

    def with_signer(self, signer: Signer) -> TaskMarket:
        clone = TaskMarket.__new__(TaskMarket)
        clone.__dict__.update(self.__dict__)
        clone._signer = signer
        return clone

    # ---------------------------------------------------------------------------------------------- views

    def _eth_call(self, data: HexStr, block: int | str, what: str) -> bytes:
        call: TxParams = {"to": self.address, "data": data}
        at: BlockIdentifier = block  # type: ignore[assignment]  # "latest" or a block number
        try:
            raw = with_retries(lambda: self._w3.eth.call(call, at), policy=self._read_policy, what=what)
        except ContractLogicError as err:
            raise self.decode_revert(revert_data(err)) from err
        return bytes(raw)

    def balance(self) -> int:
        return int(with_retries(lambda: self._w3.eth.get_balance(self.address), what="balance"))

    def balance_of(self, account: str) -> int:
        """The ETH an account holds (what it pays gas and tops up stake from)."""
        who = self._w3.to_checksum_address(account)
        return int(with_retries(lambda: self._w3.eth.get_balance(who), what="balance"))

    @property
    def chain_id(self) -> int:
        """The chain's id, read once (a chain does not change its id; a replaced chain is a new client)."""
        cached = self.__dict__.get("_chain_id")
        if cached is None:
            cached = int(with_retries(lambda: self._w3.eth.chain_id, what="chain_id"))
            self.__dict__["_chain_id"] = cached
        return int(cached)

    def block_hash(self, number: int) -> bytes:
        """The hash of block ``number`` (a unit's challenge seeds come from its submission block's)."""
        block = with_retries(lambda: self._w3.eth.get_block(number), what="get_block")
        return bytes(block["hash"])

    def latest(self) -> BlockHead:
        """The latest block's number, timestamp and hash (what a node's cycle starts from)."""
        block = self._w3.eth.get_block("latest")  # not retried: the node's loop waits out an outage itself
        return BlockHead(int(block["number"]), int(block["timestamp"]), bytes(block["hash"]))

    def block(self, at: int | str) -> BlockHead:
        """Block ``at`` (a number, or a tag: ``safe``, ``finalized``), as a cycle's view reads it."""
        ident: BlockIdentifier = at  # type: ignore[assignment]  # a number or a tag
        block = self._w3.eth.get_block(ident)  # not retried: the node's loop waits out an outage itself
        return BlockHead(int(block["number"]), int(block["timestamp"]), bytes(block["hash"]))

    def events(self) -> EventReader:
        """A reader of this contract's events (one per client)."""
        reader: EventReader | None = self.__dict__.get("_events")
        if reader is None:
            reader = EventReader(self._w3, self.address, self._contract.abi)  # type: ignore[arg-type]
            self.__dict__["_events"] = reader
        return reader

    # ---------------------------------------------------------------------------------------------- transactions

    def _call(self, name: str, *args: Any, value: int = 0) -> Call:
        data = self._contract.encode_abi(name, args=list(args))
        return Call(to=self.address, data=data, value=value, label=name)

    def _send(self, name: str, *args: Any, value: int = 0) -> SentTransaction:
        return self.signer.send(self._call(name, *args, value=value))

    def stake(self, amount: int) -> SentTransaction:
        return self._send("stake", value=amount)

    def request_unstake(self, amount: int) -> SentTransaction:
        return self._send("requestUnstake", amount)

    def release_unstaked(self) -> SentTransaction:
        return self._send("releaseUnstaked")

    def withdraw(self) -> SentTransaction:
        return self._send("withdraw")

    def join_verifier_pool(self) -> SentTransaction:
        return self._send("joinVerifierPool")

    def leave_verifier_pool(self) -> SentTransaction:
        return self._send("leaveVerifierPool")

    def decline_task(self, task_id: int) -> SentTransaction:
        """Takes this account out of every later draw of the task's quorums."""
        return self._send("declineTask", task_id)

    def create_task(self, params: TaskParams) -> tuple[int, SentTransaction]:
        """Creates a task escrowing exactly its budget; returns the new task id (from the TaskCreated event)."""
        sent = self._send("createTask", params.as_tuple(), value=params.budget)
        events = self._contract.events.TaskCreated().process_receipt(sent.receipt)
        return int(events[0]["args"]["taskId"]), sent

    def simulate_create_task(self, params: TaskParams) -> None:
        """Raises the contract's error for these parameters and budget, if any; sends nothing."""
        self.signer.simulate(self._call("createTask", params.as_tuple(), value=params.budget))

    def cancel_task(self, task_id: int) -> SentTransaction:
        return self._send("cancelTask", task_id)

    # A unit's steps go through the contract's batch calls (a batch reverts whole, with the failing unit's error);
    # the single-unit methods are batches of one.

    def claim_unit(self, task_id: int, round_: int, index: int) -> SentTransaction:
        return self.claim_units(task_id, round_, [index])

    def claim_units(self, task_id: int, round_: int, indices: Sequence[int]) -> SentTransaction:
        return self._send("claimUnits", task_id, round_, list(indices))

    def submit_result(
        self, task_id: int, round_: int, index: int, result_digest: bytes, model_digest: bytes
    ) -> SentTransaction:
        return self.submit_results(task_id, round_, [(index, result_digest, model_digest)])

    def submit_results(self, task_id: int, round_: int, results: Sequence[tuple[int, bytes, bytes]]) -> SentTransaction:
        """Submits (index, result digest, model digest) for each unit, in one transaction."""
        indices = [index for index, _, _ in results]
        return self._send(
            "submitResults", task_id, round_, indices, [r for _, r, _ in results], [m for _, _, m in results]
        )

    def claim_and_submit(
        self, task_id: int, round_: int, index: int, result_digest: bytes, model_digest: bytes
    ) -> SentTransaction:
        """Claims an open unit and submits its result in one transaction (a result computed before the claim)."""
        return self._send("claimAndSubmit", task_id, round_, index, result_digest, model_digest)

    def reclaim_expired(self, task_id: int, round_: int, index: int) -> SentTransaction:
        return self._send("reclaimExpired", task_id, round_, index)

    def draw_verifiers(self, task_id: int, round_: int, index: int) -> SentTransaction:
        """Draws the unit's quorum; it can be mined in any block after the seed block, the next one included."""
        return self.draw_quorums(task_id, round_, [index])

    def draw_quorums(self, task_id: int, round_: int, indices: Sequence[int]) -> SentTransaction:
        return self._send("drawVerifiers", task_id, round_, list(indices))

    def challenge_verdict(self, task_id: int, round_: int, index: int) -> SentTransaction:
        return self._send("challengeVerdict", task_id, round_, index)

    def commit_vote(self, task_id: int, round_: int, index: int, commitment: bytes) -> SentTransaction:
        return self.commit_votes(task_id, round_, [(index, commitment)])

    def commit_votes(self, task_id: int, round_: int, commitments: Sequence[tuple[int, bytes]]) -> SentTransaction:
        """Sends (index, commitment) for each unit in one transaction."""
        return self._send("commitVotes", task_id, round_, [i for i, _ in commitments], [c for _, c in commitments])

    def commit_vote_for(self, task_id: int, round_: int, index: int, valid: bool, salt: bytes) -> SentTransaction:
        """Commits ``valid`` under ``salt`` for this signer (the salt must already be stored by the caller)."""
        return self.commit_votes_for(task_id, round_, [(index, valid, salt)])

    def commit_votes_for(self, task_id: int, round_: int, votes: Sequence[tuple[int, bool, bytes]]) -> SentTransaction:
        """Commits (index, valid, salt) for each unit, each under its own salt, in one transaction (the salts must
        already be stored by the caller)."""
        me = self.signer.address
        return self.commit_votes(
            task_id,
            round_,
            [(index, vote_commitment(task_id, round_, index, me, valid, salt)) for index, valid, salt in votes],
        )

    def reveal_vote(self, task_id: int, round_: int, index: int, valid: bool, salt: bytes) -> SentTransaction:
        return self.reveal_votes(task_id, round_, [(index, valid, salt)])

    def reveal_votes(self, task_id: int, round_: int, votes: Sequence[tuple[int, bool, bytes]]) -> SentTransaction:
        """Reveals (index, valid, salt) for each unit in one transaction; the votes travel as the bits of a word."""
        bits = sum(1 << i for i, (_, valid, _) in enumerate(votes) if valid)
        return self._send(
            "revealVotes", task_id, round_, [index for index, _, _ in votes], bits, [salt for _, _, salt in votes]
        )

    def finalize_unit(self, task_id: int, round_: int, index: int) -> SentTransaction:
        return self._send("finalizeUnit", task_id, round_, index)
