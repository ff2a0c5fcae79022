"""A node's durable state in SQLite under its data dir: event cursor, known tasks, work in flight, vote salts
and the transactions it sent. WAL with ``synchronous=FULL``: a row is on disk when its write returns, so a vote
salt is durable before the commit transaction that depends on it is sent, and a killed node resumes from here.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, TypeVar

from node.store.cid import same_object

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (task_id INTEGER PRIMARY KEY, seen_block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tasks_done (task_id INTEGER PRIMARY KEY, done_block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS work (
    task_id INTEGER NOT NULL, round INTEGER NOT NULL, unit INTEGER NOT NULL,
    status TEXT NOT NULL, result_cid TEXT, model_cid TEXT, note TEXT, updated_at REAL NOT NULL,
    PRIMARY KEY (task_id, round, unit)
);
CREATE TABLE IF NOT EXISTS votes (
    task_id INTEGER NOT NULL, round INTEGER NOT NULL, unit INTEGER NOT NULL, epoch INTEGER NOT NULL,
    valid INTEGER NOT NULL, salt BLOB NOT NULL, status TEXT NOT NULL, reason TEXT, updated_at REAL NOT NULL,
    result BLOB NOT NULL DEFAULT x'',
    PRIMARY KEY (task_id, round, unit, epoch)
);
CREATE TABLE IF NOT EXISTS txs (
    nonce INTEGER NOT NULL, tx_hash TEXT PRIMARY KEY, label TEXT NOT NULL, sent_at REAL NOT NULL
);
"""


class WorkStatus(StrEnum):
    CLAIMED = "claimed"  # the claim is on chain; training not published yet
    PUBLISHED = "published"  # the trail is in the store; the submission may or may not be on chain
    SUBMITTED = "submitted"  # the submission is on chain
    ABANDONED = "abandoned"  # lost the claim (expired, reclaimed) before submitting
    REJECTED = "rejected"  # the submission was rejected: the miner re-checks it before claiming on the task again
    REVIEWED = "reviewed"  # a rejected submission re-checked by its miner: the note holds its own verdict


class VoteStatus(StrEnum):
    STORED = "stored"  # salt and vote on disk; the commit may or may not be on chain
    COMMITTED = "committed"
    REVEALED = "revealed"  # followed until its epoch's vote is over: a reorganisation may undo the reveal
    SETTLED = "settled"  # revealed, and its epoch's vote is over
    ABANDONED = "abandoned"  # the epoch ended without our reveal being possible


@dataclass(frozen=True, slots=True)
class Work:
    task_id: int
    round: int
    unit: int
    status: WorkStatus
    result_cid: str | None = None
    model_cid: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Vote:
    task_id: int
    round: int
    unit: int
    epoch: int
    valid: bool
    salt: bytes
    status: VoteStatus
    reason: str | None = None
    result: bytes = b""  # the result digest judged (empty in a state written before it was kept)

    def judged(self, result_digest: bytes) -> bool:
        """Whether this vote is on that result (a vote from before results were kept is taken to be)."""
        return not self.result or self.result == result_digest


class NodeState:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        columns = {str(r[1]) for r in self._db.execute("PRAGMA table_info(votes)").fetchall()}
        if "result" not in columns:  # a state written before votes kept the result they judged
            self._db.execute("ALTER TABLE votes ADD COLUMN result BLOB NOT NULL DEFAULT x''")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _exec(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # ---------------------------------------------------------------------------------------------- meta

    def get_meta(self, key: str) -> str | None:
        rows = self._exec("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._exec(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @property
    def cursor(self) -> int | None:
        value = self.get_meta("cursor")
        return int(value) if value is not None else None

    @property
    def cursor_hash(self) -> bytes | None:
        """The hash of the cursor's block when it was read (none in a state written before it was kept)."""
        value = self.get_meta("cursor_hash")
        return bytes.fromhex(value) if value else None

    def set_cursor(self, block: int, block_hash: bytes | None = None) -> None:
        """Events are read up to ``block``, whose hash was ``block_hash``: if the chain's block at that height
        has another hash later, a reorganisation replaced it and its events are read again."""
        self.set_meta("cursor", str(block))
        self.set_meta("cursor_hash", block_hash.hex() if block_hash is not None else "")

    # ---------------------------------------------------------------------------------------------- tasks

    def add_task(self, task_id: int, block: int) -> None:
        self._exec("INSERT OR IGNORE INTO tasks (task_id, seen_block) VALUES (?, ?)", (task_id, block))

    def tasks(self) -> list[int]:
        return [int(r[0]) for r in self._exec("SELECT task_id FROM tasks ORDER BY task_id")]

    def mark_task_done(self, task_id: int, block: int) -> None:
        """The task was read completed (or cancelled with nothing in flight) at ``block``; the first such block
        is kept."""
        self._exec("INSERT OR IGNORE INTO tasks_done (task_id, done_block) VALUES (?, ?)", (task_id, block))

    def unmark_task_done(self, task_id: int) -> None:
        """The task is active again (a reorganisation undid its completion)."""
        self._exec("DELETE FROM tasks_done WHERE task_id = ?", (task_id,))

    def tasks_done(self) -> dict[int, int]:
        """Each task read done, with the first block it was read so."""
        return {int(r[0]): int(r[1]) for r in self._exec("SELECT task_id, done_block FROM tasks_done")}

    def task_block(self, task_id: int) -> int:
        """The block the task was created in (0 for a task added without it)."""
        rows = self._exec("SELECT seen_block FROM tasks WHERE task_id = ?", (task_id,))
        return int(rows[0][0]) if rows else 0

    # ---------------------------------------------------------------------------------------------- work

    def put_work(self, work: Work) -> None:
        self._exec(
            "INSERT INTO work (task_id, round, unit, status, result_cid, model_cid, note, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(task_id, round, unit) DO UPDATE SET "
            "status = excluded.status, result_cid = excluded.result_cid, model_cid = excluded.model_cid, "
            "note = excluded.note, updated_at = excluded.updated_at",
            (
                work.task_id,
                work.round,
                work.unit,
                work.status.value,
                work.result_cid,
                work.model_cid,
                work.note,
                time.time(),
            ),
        )

    def work_in_flight(self) -> list[Work]:
        rows = self._exec(
            "SELECT task_id, round, unit, status, result_cid, model_cid, note FROM work "
            "WHERE status IN (?, ?) ORDER BY task_id, round, unit",
            (WorkStatus.CLAIMED.value, WorkStatus.PUBLISHED.value),
        )
        return [Work(int(r[0]), int(r[1]), int(r[2]), WorkStatus(r[3]), r[4], r[5], r[6]) for r in rows]

    def get_work(self, task_id: int, round_: int, unit: int) -> Work | None:
        rows = self._exec(
            "SELECT task_id, round, unit, status, result_cid, model_cid, note FROM work "
            "WHERE task_id = ? AND round = ? AND unit = ?",
            (task_id, round_, unit),
        )
        if not rows:
            return None
        r = rows[0]
        return Work(int(r[0]), int(r[1]), int(r[2]), WorkStatus(r[3]), r[4], r[5], r[6])

    def mark_rejected(self, task_id: int, round_: int, unit: int, result_cid: str) -> None:
        """Our submission of ``result_cid`` was rejected (its model's CID kept when this node published it)."""
        known = self.get_work(task_id, round_, unit)
        mine = known is not None and known.result_cid is not None and same_object(known.result_cid, result_cid)
        model_cid = known.model_cid if mine and known is not None else None
        self.put_work(Work(task_id, round_, unit, WorkStatus.REJECTED, result_cid, model_cid, "rejected on chain"))

    def rejected_work(self, task_id: int) -> list[Work]:
        """Our rejected submissions on a task, re-checked or not."""
        rows = self._exec(
            "SELECT task_id, round, unit, status, result_cid, model_cid, note FROM work "
            "WHERE task_id = ? AND status IN (?, ?) ORDER BY round, unit",
            (task_id, WorkStatus.REJECTED.value, WorkStatus.REVIEWED.value),
        )
        return [Work(int(r[0]), int(r[1]), int(r[2]), WorkStatus(r[3]), r[4], r[5], r[6]) for r in rows]

    def count_work(self, status: WorkStatus) -> int:
        return int(self._exec("SELECT COUNT(*) FROM work WHERE status = ?", (status.value,))[0][0])

    # ---------------------------------------------------------------------------------------------- votes

    def store_vote(self, vote: Vote) -> Vote:
        """Writes salt and vote durably. If this epoch already has one for the same result, returns it unchanged (a
        restart must reuse the salt its commitment was made with), or stores it again with its salt when it was let
        go before its reveal (a seat released before its commit: drawn again). One for another result under the
        same epoch number (a reorganisation replaced the submission) is replaced, new salt and all: a salt is never
        used for another commitment."""
        existing = self.get_vote(vote.task_id, vote.round, vote.unit, vote.epoch)
        if existing is None:
            self._exec(
                "INSERT INTO votes (task_id, round, unit, epoch, valid, salt, status, reason, result, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (vote.task_id, vote.round, vote.unit, vote.epoch, int(vote.valid), vote.salt, vote.status.value,
                 vote.reason, vote.result, time.time()),
            )  # fmt: skip
            return vote
        same_result = not existing.result or not vote.result or existing.result == vote.result
        if same_result and existing.status is not VoteStatus.ABANDONED:
            return existing
        stored = (
            replace(existing, valid=vote.valid, status=VoteStatus.STORED, reason=vote.reason, result=vote.result)
            if same_result
            else vote
        )
        self._exec(
            "UPDATE votes SET valid = ?, salt = ?, status = ?, reason = ?, result = ?, updated_at = ? "
            "WHERE task_id = ? AND round = ? AND unit = ? AND epoch = ?",
            (int(stored.valid), stored.salt, stored.status.value, stored.reason, stored.result, time.time(),
             vote.task_id, vote.round, vote.unit, vote.epoch),
        )  # fmt: skip
        return stored

    def set_vote_status(self, vote: Vote, status: VoteStatus) -> None:
        self._exec(
            "UPDATE votes SET status = ?, updated_at = ? WHERE task_id = ? AND round = ? AND unit = ? AND epoch = ?",
            (status.value, time.time(), vote.task_id, vote.round, vote.unit, vote.epoch),
        )

    def get_vote(self, task_id: int, round_: int, unit: int, epoch: int) -> Vote | None:
        rows = self._exec(
            "SELECT task_id, round, unit, epoch, valid, salt, status, reason, result FROM votes "
            "WHERE task_id = ? AND round = ? AND unit = ? AND epoch = ?",
            (task_id, round_, unit, epoch),
        )
        return _vote(rows[0]) if rows else None

    def open_votes(self) -> list[Vote]:
        rows = self._exec(
            "SELECT task_id, round, unit, epoch, valid, salt, status, reason, result FROM votes "
            "WHERE status IN (?, ?, ?) ORDER BY task_id, round, unit, epoch",
            (VoteStatus.STORED.value, VoteStatus.COMMITTED.value, VoteStatus.REVEALED.value),
        )
        return [_vote(r) for r in rows]

    def count_votes(self, status: VoteStatus) -> int:
        return int(self._exec("SELECT COUNT(*) FROM votes WHERE status = ?", (status.value,))[0][0])

    # ---------------------------------------------------------------------------------------------- transactions

    def record(self, *, nonce: int, tx_hash: str, label: str) -> None:
        """The signer's journal: called before the signed bytes are sent."""
        self._exec(
            "INSERT OR IGNORE INTO txs (nonce, tx_hash, label, sent_at) VALUES (?, ?, ?, ?)",
            (nonce, tx_hash, label, time.time()),
        )

    def count_txs(self) -> int:
        return int(self._exec("SELECT COUNT(*) FROM txs")[0][0])


def move_aside(path: Path) -> Path:
    """Renames an SQLite database (and its WAL files) that belongs to another chain, named after the time; returns
    its new path. Nothing is deleted: what another chain's run wrote can still be read."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.stem}.other-chain-{stamp}{path.suffix}")
    for suffix in ("", "-wal", "-shm"):
        old = Path(f"{path}{suffix}")
        if old.exists():
            old.rename(f"{aside}{suffix}")
    return aside


class ChainBound(Protocol):
    """A database bound to one chain by a ``chain`` meta value: a node's state, the explorer's index."""

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    @property
    def cursor(self) -> int | None: ...

    def close(self) -> None: ...


DB = TypeVar("DB", bound=ChainBound)


def open_bound(path: Path, chain: str, opener: Callable[[Path], DB], *, what: str) -> DB:
    """The database at ``path`` (opened by ``opener``) bound to ``chain`` (chain id, genesis hash, contract,
    deployment block). One written against another chain (a devnet restarted under the same folder) is never mixed
    with this one: its files are moved aside, named after the time, and a fresh one starts. Nothing is deleted."""
    db = opener(path)
    bound = db.get_meta("chain")
    if bound == chain:
        return db
    if bound is None and db.cursor is None:
        db.set_meta("chain", chain)  # a new database: this chain's from now on
        return db
    bound = bound or "unknown (written before it was bound to its chain)"
    db.close()
    aside = move_aside(path)
    log.warning(
        f"{what} belonged to another chain: moved aside, starting fresh",
        extra={"moved_to": str(aside), "was": bound, "now": chain},
    )
    db = opener(path)
    db.set_meta("chain", chain)
    return db


def open_state(path: Path, chain: str) -> NodeState:
    """The node's state at ``path``, bound to ``chain`` (see :func:`open_bound`)."""
    return open_bound(path, chain, NodeState, what="this data dir's state")


def _vote(r: tuple[Any, ...]) -> Vote:
    task_id, round_, unit, epoch = (int(x) for x in r[:4])
    return Vote(task_id, round_, unit, epoch, bool(r[4]), bytes(r[5]), VoteStatus(r[6]), r[7], bytes(r[8]))
