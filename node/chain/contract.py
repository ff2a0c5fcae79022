"""A typed wrapper over every TaskMarket function and view.

Views return the frozen dataclasses of :mod:`node.chain.types` and retry transient faults; state-changing calls
go through a :class:`~node.chain.tx.Signer`, and a revert surfaces as the :mod:`node.chain.reverts` class of
the Solidity custom error with its arguments.
"""

from __future__ import annotations

import functools
from typing import Any

from eth_abi.abi import decode, encode
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from eth_utils.abi import function_signature_to_4byte_selector
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.types import BlockIdentifier, TxParams

from node.chain import reverts
from node.chain.build import Artifact
from node.chain.hashing import vote_commitment
from node.chain.rpc import with_retries
from node.chain.tx import Call, SentTransaction, Signer, revert_data
from node.chain.types import BallotInfo, LevelInfo, StakeInfo, Task, TaskParams, TaskState, UnitInfo
from node.errors import ChainError, ConfigError, ContractRevert, TransactionFailed
from node.retry import RetryPolicy

_PANIC = bytes.fromhex("4e487b71")
_ERROR_STRING = bytes.fromhex("08c379a0")


class RevertDecoder:
    """Maps revert data to the Python twin of the contract's custom error."""

    def __init__(self, abi: list[dict[str, Any]]) -> None:
        self._by_selector: dict[bytes, tuple[str, list[str], list[str]]] = {}
        for item in abi:
            if item["type"] != "error":
                continue
            types = [_canonical_type(i) for i in item["inputs"]]
            selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
            self._by_selector[selector] = (item["name"], types, [i["name"] for i in item["inputs"]])

    def __call__(self, data: str) -> ChainError:
        raw = bytes.fromhex(data.removeprefix("0x"))
        selector, body = raw[:4], raw[4:]
        if selector in self._by_selector:
            name, types, names = self._by_selector[selector]
            values = decode(types, body)
            cls = reverts.ALL.get(name, ContractRevert)
            plain = (_plain(t, v) for t, v in zip(types, values, strict=True))
            return cls(dict(zip(names, plain, strict=True)), raw=data)
        if selector == _ERROR_STRING:
            return TransactionFailed(f"reverted: {decode(['string'], body)[0]}")
        if selector == _PANIC:
            return TransactionFailed(f"panic 0x{decode(['uint256'], body)[0]:02x}")
        return TransactionFailed(f"reverted with unknown data {data}")


def _canonical_type(item: dict[str, Any]) -> str:
    if item["type"].startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in item["components"])
        return f"({inner}){item['type'][5:]}"
    return str(item["type"])


class _ViewCodec:
    """Encodes a view's arguments and decodes its result straight through eth_abi: a read is a few hundred
    microseconds of Python instead of web3's contract-function machinery (nodes read every unit each cycle)."""

    def __init__(self, item: dict[str, Any]) -> None:
        types = [_canonical_type(i) for i in item["inputs"]]
        self.selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
        self.inputs = types
        self.outputs: list[dict[str, Any]] = list(item["outputs"])
        self.output_types = [_canonical_type(o) for o in self.outputs]

    def data(self, args: tuple[Any, ...]) -> HexStr:
        return HexStr("0x" + (self.selector + encode(self.inputs, list(args))).hex())

    def result(self, raw: bytes) -> Any:
        values = decode(self.output_types, raw)
        normalized = [_normalized(o, v) for o, v in zip(self.outputs, values, strict=True)]
        return normalized[0] if len(normalized) == 1 else tuple(normalized)


def _normalized(item: dict[str, Any], value: Any) -> Any:
    """What web3 would return: checksummed addresses, tuples for structs, lists for arrays."""
    abi_type = str(item["type"])
    if abi_type.endswith("]"):
        inner = {**item, "type": abi_type[: abi_type.rindex("[")]}
        return [_normalized(inner, v) for v in value]
    if abi_type == "tuple":
        return tuple(_normalized(c, v) for c, v in zip(item["components"], value, strict=True))
    if abi_type == "address":
        return _checksummed(value)
    return value


@functools.lru_cache(maxsize=4096)
def _checksummed(address: str) -> str:
    """Checksumming hashes the address: a node sees the same few addresses in every read."""
    return str(Web3.to_checksum_address(address))


def _plain(abi_type: str, value: Any) -> Any:
    if abi_type == "address":
        return Web3.to_checksum_address(value)
    return bytes(value) if isinstance(value, bytes | bytearray) else value


class TaskMarket:
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
        self._w3 = w3
        self.address = Web3.to_checksum_address(address)
        self._contract: Contract = w3.eth.contract(address=self.address, abi=artifact.abi)
        self._views = {
            item["name"]: _ViewCodec(item)
            for item in artifact.abi
            if item["type"] == "function" and item.get("stateMutability") in ("view", "pure")
        }
        self.decode_revert = RevertDecoder(artifact.abi)
        self._signer = signer
        self._read_policy = read_policy or RetryPolicy()

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

    def with_signer(self, signer: Signer) -> TaskMarket:
        clone = TaskMarket.__new__(TaskMarket)
        clone.__dict__.update(self.__dict__)
        clone._signer = signer
        return clone

    # ---------------------------------------------------------------------------------------------- views

    def _view(self, name: str, *args: Any, block: int | str = "latest") -> Any:
        codec = self._views[name]
        call: TxParams = {"to": self.address, "data": codec.data(args)}
        at: BlockIdentifier = block  # type: ignore[assignment]  # "latest" or a block number
        try:
            raw = with_retries(lambda: self._w3.eth.call(call, at), policy=self._read_policy, what=name)
        except ContractLogicError as err:
            raise self.decode_revert(revert_data(err)) from err
        return codec.result(bytes(raw))

    def task_count(self) -> int:
        return int(self._view("taskCount"))

    def get_task(self, task_id: int, *, block: int | str = "latest") -> Task:
        params, state = self._view("getTask", task_id, block=block)
        return Task(task_id=task_id, params=TaskParams.from_tuple(params), state=TaskState.from_tuple(state))

    def get_unit(self, task_id: int, round_: int, index: int, *, block: int | str = "latest") -> UnitInfo:
        return UnitInfo.from_tuple(self._view("getUnit", task_id, round_, index, block=block))

    def get_units(self, task_id: int, round_: int, *, block: int | str = "latest") -> list[UnitInfo]:
        """Every unit of a round, the aggregation unit last, in one call."""
        return [UnitInfo.from_tuple(u) for u in self._view("getUnits", task_id, round_, block=block)]

    def get_ballot(self, task_id: int, round_: int, index: int, verifier: str) -> BallotInfo:
        return BallotInfo.from_tuple(
            self._view("getBallot", task_id, round_, index, Web3.to_checksum_address(verifier))
        )

    def get_seats(self, task_id: int, round_: int, index: int) -> list[str]:
        """The verifiers seated in the unit's current epoch, one entry per seat drawn so far."""
        return [str(a) for a in self._view("getSeats", task_id, round_, index)]

    def get_level(self, task_id: int, round_: int, index: int, level: int) -> LevelInfo:
        return LevelInfo.from_tuple(self._view("getLevel", task_id, round_, index, level))

    def can_fill_quorum(self, task_id: int) -> bool:
        """Whether the verifier pool can seat a quorum of the task now."""
        return bool(self._view("canFillQuorum", task_id))

    def is_claimable(self, task_id: int, round_: int, index: int) -> bool:
        return bool(self._view("isClaimable", task_id, round_, index))

    def round_input(self, task_id: int, round_: int) -> bytes:
        return bytes(self._view("roundInput", task_id, round_))

    def stake_of(self, account: str) -> StakeInfo:
        return StakeInfo.from_tuple(self._view("stakeOf", Web3.to_checksum_address(account)))

    def credit_of(self, account: str) -> int:
        return int(self._view("creditOf", Web3.to_checksum_address(account)))

    def total_owed(self) -> int:
        return int(self._view("totalOwed"))

    def unbonding_delay(self) -> int:
        return int(self._view("unbondingDelay"))

    def verifier_pool(self) -> str:
        """The address of the stake-weighted pool that quorums are drawn from."""
        return str(self._view("verifierPool"))

    def budget_of(self, params: TaskParams) -> int:
        return int(self._view("budgetOf", params.as_tuple()))

    def commitment_of(self, task_id: int, round_: int, index: int, verifier: str, valid: bool, salt: bytes) -> bytes:
        return bytes(
            self._view("commitmentOf", task_id, round_, index, Web3.to_checksum_address(verifier), valid, salt)
        )

    def unit_seed(self, task_id: int, round_: int, index: int, miner: str) -> bytes:
        return bytes(self._view("unitSeed", task_id, round_, index, Web3.to_checksum_address(miner)))

    def balance(self) -> int:
        return int(with_retries(lambda: self._w3.eth.get_balance(self.address), what="balance"))

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

    def claim_unit(self, task_id: int, round_: int, index: int) -> SentTransaction:
        return self._send("claimUnit", task_id, round_, index)

    def submit_result(
        self, task_id: int, round_: int, index: int, result_digest: bytes, model_digest: bytes
    ) -> SentTransaction:
        return self._send("submitResult", task_id, round_, index, result_digest, model_digest)

    def reclaim_expired(self, task_id: int, round_: int, index: int) -> SentTransaction:
        return self._send("reclaimExpired", task_id, round_, index)

    def draw_verifiers(self, task_id: int, round_: int, index: int) -> SentTransaction:
        """Draws the unit's quorum; it can be mined in any block after the seed block, the next one included."""
        return self._send("drawVerifiers", task_id, round_, index)

    def challenge_verdict(self, task_id: int, round_: int, index: int) -> SentTransaction:
        return self._send("challengeVerdict", task_id, round_, index)

    def commit_vote(self, task_id: int, round_: int, index: int, commitment: bytes) -> SentTransaction:
        return self._send("commitVote", task_id, round_, index, commitment)

    def commit_vote_for(self, task_id: int, round_: int, index: int, valid: bool, salt: bytes) -> SentTransaction:
        """Commits ``valid`` under ``salt`` for this signer (the salt must already be stored by the caller)."""
        commitment = vote_commitment(task_id, round_, index, self.signer.address, valid, salt)
        return self.commit_vote(task_id, round_, index, commitment)

    def reveal_vote(self, task_id: int, round_: int, index: int, valid: bool, salt: bytes) -> SentTransaction:
        return self._send("revealVote", task_id, round_, index, valid, salt)

    def finalize_unit(self, task_id: int, round_: int, index: int) -> SentTransaction:
        return self._send("finalizeUnit", task_id, round_, index)
