"""`task submit --watch` across a reorganisation that undid the task's creation (client.task_view)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from client import task_view
from node.chain.reverts import TaskMarketUnknownTask


@dataclass
class _Signer:
    tracked: int = 1
    reconciled: int = 0

    def reconcile(self) -> list[tuple[str, int]]:
        self.reconciled += 1
        return [("resent", 7)] if self.reconciled == 1 else []


@dataclass
class _Market:
    signer: _Signer = field(default_factory=_Signer)
    sends: bool = True


@dataclass
class _Session:
    market: _Market = field(default_factory=_Market)


class _Reader:
    """Unknown task until the creation sent again is mined (``gone`` reads)."""

    def __init__(self, gone: int) -> None:
        self.gone = gone

    def read(self) -> str:
        if self.gone > 0:
            self.gone -= 1
            raise TaskMarketUnknownTask({"taskId": 3})
        return "progress"


def test_a_task_whose_creation_a_reorganisation_undid_is_waited_for_while_it_is_sent_again(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(task_view.time, "sleep", lambda _s: None)
    session: Any = _Session()
    assert task_view._read(session, _Reader(gone=2), 3) == "progress"  # type: ignore[arg-type]
    assert session.market.signer.reconciled == 3, "our transactions checked (and resent) before each read"
    assert capsys.readouterr().out.count("is not on chain any more") == 1, "said once"


def test_an_unknown_task_with_nothing_of_ours_in_flight_is_the_error_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(task_view.time, "sleep", lambda _s: None)
    session: Any = _Session(_Market(_Signer(tracked=0)))
    with pytest.raises(TaskMarketUnknownTask):
        task_view._read(session, _Reader(gone=1), 3)  # type: ignore[arg-type]
    read_only: Any = _Session(_Market(sends=False))
    with pytest.raises(TaskMarketUnknownTask):
        task_view._read(read_only, _Reader(gone=1), 3)  # type: ignore[arg-type]
