from __future__ import annotations

from node.protocol.timing import SAFETY_FACTOR, SAFETY_S, JobTimer


def test_would_outlast_is_false_for_deadlines_beyond_the_estimate_and_true_within() -> None:
    timer = JobTimer()
    assert not timer.timed
    timer.record(10.0)
    timer.record(4.0)
    assert timer.longest_s == 10.0
    estimate = SAFETY_FACTOR * 10.0 + SAFETY_S
    assert timer.estimate_s() == estimate
    assert not timer.would_outlast([int(100 + estimate) + 1], now=100.0)
    assert timer.would_outlast([int(100 + estimate) - 1, 10_000], now=100.0)
    assert not timer.would_outlast([], now=100.0)
