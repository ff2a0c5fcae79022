from __future__ import annotations

import sqlite3
from pathlib import Path

from node.state import NodeState, Vote, VoteStatus, Work, WorkStatus, open_state


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
    assert [v.status for v in state.open_votes()] == [VoteStatus.REVEALED], "followed until its vote is over"
    state.set_vote_status(first, VoteStatus.SETTLED)
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


def test_state_of_another_chain_is_moved_aside_never_mixed(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    first = open_state(path, "31337:aaaa:0xmarket:1")
    first.set_cursor(42)
    first.close()
    again = open_state(path, "31337:aaaa:0xmarket:1")
    assert again.cursor == 42, "the same chain keeps its state"
    again.close()

    restarted = open_state(path, "31337:bbbb:0xmarket:1")  # same id and address, another genesis: a new devnet
    assert restarted.cursor is None, "a fresh state for the new chain"
    assert restarted.get_meta("chain") == "31337:bbbb:0xmarket:1"
    restarted.close()
    (aside,) = tmp_path.glob("state.other-chain-*.sqlite")
    old = NodeState(aside)
    assert (old.cursor, old.get_meta("chain")) == (42, "31337:aaaa:0xmarket:1"), "nothing lost, only moved"
    old.close()


def test_a_used_state_of_unknown_chain_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    legacy = NodeState(path)  # written before states named their chain
    legacy.set_cursor(7)
    legacy.close()
    state = open_state(path, "31337:cccc:0xmarket:1")
    assert state.cursor is None, "it cannot be told apart from another chain's"
    state.close()
    assert len(list(tmp_path.glob("state.other-chain-*.sqlite"))) == 1


def test_a_vote_let_go_before_its_commit_is_stored_again_with_its_salt(tmp_path: Path) -> None:
    state = NodeState(tmp_path / "s.sqlite")
    first = state.store_vote(Vote(1, 0, 0, 1, True, b"\x01" * 32, VoteStatus.STORED, result=b"r" * 32))
    state.set_vote_status(first, VoteStatus.ABANDONED)  # its seat was released before it committed
    again = state.store_vote(Vote(1, 0, 0, 1, True, b"\x02" * 32, VoteStatus.STORED, result=b"r" * 32))
    assert again.salt == first.salt
    assert again.status is VoteStatus.STORED
    assert state.open_votes() == [again]


def test_a_vote_on_another_result_under_the_same_epoch_gets_a_new_salt(tmp_path: Path) -> None:
    """A reorganisation replaced the submission: the old salt is never used for another commitment."""
    state = NodeState(tmp_path / "s.sqlite")
    first = state.store_vote(Vote(1, 0, 0, 1, True, b"\x01" * 32, VoteStatus.COMMITTED, result=b"a" * 32))
    assert first.judged(b"a" * 32)
    assert not first.judged(b"b" * 32)
    other = state.store_vote(Vote(1, 0, 0, 1, False, b"\x02" * 32, VoteStatus.STORED, result=b"b" * 32))
    assert other.salt == b"\x02" * 32
    assert state.get_vote(1, 0, 0, 1) == other


def test_a_state_from_before_votes_kept_their_result_opens_and_keeps_its_votes(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE votes (task_id INTEGER NOT NULL, round INTEGER NOT NULL, unit INTEGER NOT NULL, "
        "epoch INTEGER NOT NULL, valid INTEGER NOT NULL, salt BLOB NOT NULL, status TEXT NOT NULL, reason TEXT, "
        "updated_at REAL NOT NULL, PRIMARY KEY (task_id, round, unit, epoch))"
    )
    old.execute("INSERT INTO votes VALUES (3, 0, 1, 2, 1, ?, 'committed', NULL, 0)", (b"\x07" * 32,))
    old.commit()
    old.close()
    state = NodeState(path)
    (vote,) = state.open_votes()
    assert vote.salt == b"\x07" * 32
    assert vote.result == b""
    assert vote.judged(b"x" * 32), "a vote from before is taken to be on the unit's result"
