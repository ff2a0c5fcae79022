"""What the demo says while a task does not move (client.progress): the least advanced units and what they wait for."""

from __future__ import annotations

from dataclasses import replace

from client.progress import Progress, progress_signature, waiting_on
from node.chain.types import UnitStatus
from tests.unit.node.fakes import task_of

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
