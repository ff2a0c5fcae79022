"""What the unit protocol reads from the chain, as a protocol: :class:`node.chain.contract.TaskMarket` in a node,
the audit and the explorer; a small in-process fake in the judge's unit tests (``tests/unit/node/fakes.py``)."""

from __future__ import annotations

from typing import Protocol

from node.chain.types import Task, UnitInfo


class MarketReader(Protocol):
    """The reads the unit protocol makes."""

    @property
    def address(self) -> str: ...

    @property
    def chain_id(self) -> int: ...

    def get_task(self, task_id: int, *, block: int | str = "latest") -> Task: ...

    def get_unit(self, task_id: int, round_: int, index: int, *, block: int | str = "latest") -> UnitInfo: ...

    def get_units(self, task_id: int, round_: int, *, block: int | str = "latest") -> list[UnitInfo]: ...

    def round_input(self, task_id: int, round_: int) -> bytes: ...

    def block_hash(self, number: int) -> bytes: ...
