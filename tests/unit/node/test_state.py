from __future__ import annotations

import sqlite3
from pathlib import Path

from node.state import NodeState, Vote, VoteStatus, Work, WorkStatus


def test_cursor_tasks_and_work_survive_a_reopen(tmp_path: Path) -> None:
    state = NodeState(tmp_path / "s.sqlite")
    assert state.cursor is None
    state.set_cursor(42)
    state.add_task(3, 10)
    state.add_task(1, 12)
    state.add_task(3, 99)
    state.put_work(Work(1, 0, 2, WorkStatus.CLAIMED))
    state.put_work(Work(1, 0, 2, WorkStatus.PUBLISHED, "bafkreia", "bafkreib"))
    state.put_work(Work(1, 0, 3, WorkStatus.SUBMITTED, "x", "y"))
    state.close()
    again = NodeState(tmp_path / "s.sqlite")
    assert again.cursor == 42
    assert again.tasks() == [1, 3]
    assert again.work_in_flight() == [Work(1, 0, 2, WorkStatus.PUBLISHED, "bafkreia", "bafkreib")]
    assert again.get_work(1, 0, 3) == Work(1, 0, 3, WorkStatus.SUBMITTED, "x", "y")
    assert again.count_work(WorkStatus.SUBMITTED) == 1


def test_a_stored_salt_is_never_replaced(tmp_path: Path) -> None:
    state = NodeState(tmp_path / "s.sqlite")
    first = state.store_vote(Vote(1, 0, 0, 1, True, b"\x01" * 32, VoteStatus.STORED))
    second = state.store_vote(Vote(1, 0, 0, 1, False, b"\x02" * 32, VoteStatus.STORED))
    assert second == first, "a restart must reuse the salt its commitment was made with"
    state.set_vote_status(first, VoteStatus.COMMITTED)
    assert [v.status for v in state.open_votes()] == [VoteStatus.COMMITTED]
    state.set_vote_status(first, VoteStatus.REVEALED)
    assert state.open_votes() == []


def test_writes_are_durable_at_once(tmp_path: Path) -> None:
    """Another connection (as a restarted process would) sees a salt as soon as store_vote returns."""
    path = tmp_path / "s.sqlite"
    state = NodeState(path)
    assert state._exec("PRAGMA synchronous")[0][0] == 2  # FULL: fsync at every commit
    state.store_vote(Vote(7, 1, 2, 3, True, b"\x05" * 32, VoteStatus.STORED))
    other = sqlite3.connect(path)
    assert other.execute("SELECT salt FROM votes").fetchall() == [(b"\x05" * 32,)]


def test_the_transaction_journal(tmp_path: Path) -> None:
    state = NodeState(tmp_path / "s.sqlite")
    state.record(nonce=0, tx_hash="0xaa", label="claimUnit")
    state.record(nonce=0, tx_hash="0xaa", label="claimUnit")
    state.record(nonce=1, tx_hash="0xbb", label="submitResult")
    assert state.count_txs() == 2
