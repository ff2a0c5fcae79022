from __future__ import annotations

from node.ml.verify import Outcome, Verdict
from node.roles.verifier import LAST_CHANCE_TICKS, UNAVAILABLE_TRIES, judge_unavailable

MISSING = Verdict(Outcome.UNAVAILABLE, "could not fetch the manifest: 404")


def test_unavailable_bytes_are_looked_for_again_while_the_window_has_time() -> None:
    judged = judge_unavailable(MISSING, tries=1, seconds_left=60, tick_step_s=1)
    assert judged.outcome is Outcome.UNAVAILABLE


def test_unavailable_bytes_are_invalid_after_the_last_try() -> None:
    judged = judge_unavailable(MISSING, tries=UNAVAILABLE_TRIES, seconds_left=60, tick_step_s=1)
    assert judged.outcome is Outcome.INVALID
    assert f"after {UNAVAILABLE_TRIES} tries" in judged.reason
    assert "404" in judged.reason


def test_unavailable_bytes_are_invalid_when_the_next_look_may_come_after_the_window() -> None:
    # The chain moves 4 s between two looks and the window has 8 s left: waiting would let the verdict stand.
    judged = judge_unavailable(MISSING, tries=1, seconds_left=LAST_CHANCE_TICKS * 4, tick_step_s=4)
    assert judged.outcome is Outcome.INVALID
    assert judge_unavailable(MISSING, tries=1, seconds_left=LAST_CHANCE_TICKS * 4 + 1, tick_step_s=4).outcome is (
        Outcome.UNAVAILABLE
    )
