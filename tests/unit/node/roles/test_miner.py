from __future__ import annotations


def test_vote_due_within_the_time_a_unit_trains() -> None:
    from node.roles.miner import vote_due_within

    assert vote_due_within([1_000, 1_050], now=1_000.0, busy_s=30)  # due now
    assert vote_due_within([2_000, 1_020], now=1_000.0, busy_s=30)
    assert not vote_due_within([1_031, 5_000], now=1_000.0, busy_s=30)  # later than the training would take
    assert not vote_due_within([999], now=1_000.0, busy_s=30)  # already passed: nothing to protect
    assert not vote_due_within([], now=1_000.0, busy_s=30)
