"""What the demo says while a task does not move (client.progress): the least advanced units and what they wait for."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from client.progress import Progress, progress_signature, waiting_on
from node.chain.events import ChainEvent
from node.chain.types import UnitStatus
from tests.unit.node.fakes import task_of, unit_of

CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


def _progress(*units: UnitStatus, round_: int = 0) -> Progress:
    task = task_of(1, spec_cid=CID, dataset_cid=CID, input_cid=CID, units=len(units) - 1)
    task = replace(task, state=replace(task.state, current_round=round_))
    return Progress(task, list(units))


def test_waiting_on_names_the_least_advanced_units_and_their_stage() -> None:
    s = UnitStatus
    assert waiting_on(_progress(s.ACCEPTED, s.CLAIMED, s.CLAIMED, s.OPEN, round_=2)) == (
        "round 3: unit Σ waits for a miner to claim it"
    )
    assert waiting_on(_progress(s.ACCEPTED, s.CLAIMED, s.SUBMITTED, s.OPEN)) == (
        "round 1: unit Σ waits for a miner to claim it"
    )
    assert waiting_on(_progress(s.SUBMITTED, s.CLAIMED, s.DECIDED)) == "round 1: unit 1 waits for its miner's training"
    assert (
        waiting_on(_progress(s.DECIDED, s.REVEALING, s.ACCEPTED)) == "round 1: unit 1 waits for its verifiers' reveals"
    )
    assert waiting_on(_progress(s.ACCEPTED, s.ACCEPTED)).endswith("every unit accepted, the next round not open yet")


def test_the_signature_moves_with_any_unit_or_round_and_not_otherwise() -> None:
    s = UnitStatus
    before = _progress(s.CLAIMED, s.OPEN)
    assert progress_signature(before) == progress_signature(_progress(s.CLAIMED, s.OPEN))
    assert progress_signature(before) != progress_signature(_progress(s.SUBMITTED, s.OPEN))
    assert progress_signature(before) != progress_signature(_progress(s.CLAIMED, s.OPEN, round_=1))


class _Reader:
    def __init__(self) -> None:
        self.events: list[ChainEvent] = []
        self.number = 0

    def head(self) -> int:
        return self.number

    def iter(self, first: int, last: int) -> Iterator[ChainEvent]:
        return iter([e for e in self.events if first <= e.block_number <= last])


class _Market:
    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self.task = task_of(1, spec_cid=CID, dataset_cid=CID, input_cid=CID, units=1)

    def events(self) -> _Reader:
        return self.reader

    def get_task(self, task_id: int) -> object:
        return self.task

    def get_unit(self, task_id: int, round_: int, index: int) -> object:
        return unit_of()


def test_outcomes_survive_a_reorganisation_counted_once() -> None:
    """`task watch` reads events as they come: a reorganisation that mined an acceptance again (its transaction
    sent again, in another block) counts it once, and one it dropped for good is forgotten."""
    from client.progress import ProgressReader

    reader = _Reader()
    accepted = ChainEvent("UnitAccepted", {"taskId": 1, "index": 0}, 5, 0, "0xaa")
    doomed = ChainEvent("UnitRejected", {"taskId": 1, "index": 1}, 6, 0, "0xbb")
    reader.events, reader.number = [accepted, doomed], 6
    progress = ProgressReader(_Market(reader), None, 1, 0)  # type: ignore[arg-type]
    assert (progress.read(evaluate_models=False).accepted, progress.read(evaluate_models=False).rejected) == (1, 1)
    # Blocks 5-6 replaced: the acceptance mined again at 7, the rejection gone.
    reader.events, reader.number = [replace(accepted, block_number=7)], 8
    now = progress.read(evaluate_models=False)
    assert (now.accepted, now.rejected) == (1, 0)
