"""Every TaskMarket view, typed, over any transport.

The arguments are encoded and the results decoded straight through eth_abi (a read is a few hundred microseconds
of Python instead of web3's contract-function machinery: nodes read every unit each cycle), into the frozen
dataclasses of :mod:`node.chain.types`; a revert surfaces as the :mod:`node.chain.reverts` class of the
contract's custom error. How a call reaches the chain is a subclass's: web3 for nodes and commands that send
(:class:`node.chain.contract.TaskMarket`), plain JSON-RPC for commands that only read and must answer at once
(:class:`RpcViews`). Importing this module costs no web3.
"""

from __future__ import annotations

import functools
from typing import Any

from eth_abi.abi import decode, encode
from eth_typing import HexStr
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address

from node.chain import reverts
from node.chain.jsonrpc import JsonRpc, JsonRpcError
from node.chain.types import BallotInfo, LevelInfo, StakeInfo, Task, TaskParams, TaskState, UnitInfo
from node.errors import ChainError, ChainUnreachable, ContractRevert, TransactionFailed
from node.retry import RetryPolicy, retry

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
    return str(to_checksum_address(address))


def _plain(abi_type: str, value: Any) -> Any:
    if abi_type == "address":
        return to_checksum_address(value)
    return bytes(value) if isinstance(value, bytes | bytearray) else value


class MarketViews:
    """The views of one deployed TaskMarket; subclasses say how an ``eth_call`` reaches the chain."""

    def __init__(self, address: str, abi: list[dict[str, Any]], *, read_policy: RetryPolicy | None = None) -> None:
        self.address = to_checksum_address(address)
        self._views = {
            item["name"]: _ViewCodec(item)
            for item in abi
            if item["type"] == "function" and item.get("stateMutability") in ("view", "pure")
        }
        self.decode_revert = RevertDecoder(abi)
        self._read_policy = read_policy or RetryPolicy()

    def _eth_call(self, data: HexStr, block: int | str, what: str) -> bytes:
        """The raw result of calling the contract with ``data`` at ``block``; transient faults retried per
        ``_read_policy``, a revert raised as the contract's error."""
        raise NotImplementedError

    def balance(self) -> int:
        """The contract's balance in wei."""
        raise NotImplementedError

    def _view(self, name: str, *args: Any, block: int | str = "latest") -> Any:
        codec = self._views[name]
        return codec.result(self._eth_call(codec.data(args), block, name))

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
        return BallotInfo.from_tuple(self._view("getBallot", task_id, round_, index, to_checksum_address(verifier)))

    def get_seats(self, task_id: int, round_: int, index: int) -> list[str]:
        """The verifiers seated in the unit's current epoch, one entry per seat drawn so far."""
        return [str(a) for a in self._view("getSeats", task_id, round_, index)]

    def get_level(self, task_id: int, round_: int, index: int, level: int) -> LevelInfo:
        return LevelInfo.from_tuple(self._view("getLevel", task_id, round_, index, level))

    def has_declined(self, task_id: int, account: str) -> bool:
        """Whether ``account`` declined the task (no draw of its quorums seats it)."""
        return bool(self._view("hasDeclined", task_id, to_checksum_address(account)))

    def can_fill_quorum(self, task_id: int) -> bool:
        """Whether the verifier pool can seat a quorum of the task now."""
        return bool(self._view("canFillQuorum", task_id))

    def is_claimable(self, task_id: int, round_: int, index: int) -> bool:
        return bool(self._view("isClaimable", task_id, round_, index))

    def round_input(self, task_id: int, round_: int) -> bytes:
        return bytes(self._view("roundInput", task_id, round_))

    def stake_of(self, account: str) -> StakeInfo:
        return StakeInfo.from_tuple(self._view("stakeOf", to_checksum_address(account)))

    def credit_of(self, account: str) -> int:
        return int(self._view("creditOf", to_checksum_address(account)))

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
        return bytes(self._view("commitmentOf", task_id, round_, index, to_checksum_address(verifier), valid, salt))


class RpcViews(MarketViews):
    """The views over plain JSON-RPC (the standard library's HTTP): for commands that only read."""

    def __init__(
        self, rpc: JsonRpc, address: str, abi: list[dict[str, Any]], *, read_policy: RetryPolicy | None = None
    ) -> None:
        super().__init__(address, abi, read_policy=read_policy)
        self._rpc = rpc

    def _eth_call(self, data: HexStr, block: int | str, what: str) -> bytes:
        at = hex(block) if isinstance(block, int) else block
        try:
            result = retry(
                lambda: self._rpc.request("eth_call", {"to": self.address, "data": data}, at),
                retry_if=lambda err: isinstance(err, ChainUnreachable),
                policy=self._read_policy,
            )
        except JsonRpcError as err:
            if err.data is None:
                raise TransactionFailed(f"{what}: {err}") from err
            raise self.decode_revert(err.data) from err
        return bytes.fromhex(str(result).removeprefix("0x"))

    def balance(self) -> int:
        return int(self._rpc.request("eth_getBalance", self.address, "latest"), 16)
