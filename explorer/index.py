"""The explorer's index: TaskMarket's events in SQLite, and the tables derived from them (tasks, units, seats,
money, accounts) that the pages read.

Events are the source of truth; every derived table is a fold over them in chain order. Undoing a reorganised
tail therefore deletes its events and folds again from the start: rare, simple, and never wrong. The database is
bound to one chain (chain id, genesis, contract, deployment block): another chain under the same folder moves it
aside, like a node's state.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from explorer.fold import fold_event
from node.chain.events import ChainEvent, jsonable
from node.state import open_bound

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- Every block that holds an indexed event, and the last block indexed: their hashes detect a reorganisation.
CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL, timestamp INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    block INTEGER NOT NULL, log_index INTEGER NOT NULL, tx_hash TEXT NOT NULL, name TEXT NOT NULL,
    args TEXT NOT NULL, task_id INTEGER, round INTEGER, idx INTEGER, actor TEXT, PRIMARY KEY (block, log_index));
CREATE INDEX IF NOT EXISTS events_unit ON events (task_id, round, idx);
CREATE INDEX IF NOT EXISTS events_actor ON events (actor, block);
CREATE INDEX IF NOT EXISTS events_name ON events (name, block);
CREATE TABLE IF NOT EXISTS txs (
    hash TEXT PRIMARY KEY, block INTEGER NOT NULL, sender TEXT NOT NULL, gas_used INTEGER NOT NULL,
    fee_wei TEXT NOT NULL, event TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS txs_block ON txs (block);
-- Evaluations of accepted aggregates (explorer.accuracy): costly to redo, so kept across a reorganisation; a row
-- counts only while its model is still the round's accepted aggregate.
CREATE TABLE IF NOT EXISTS accuracy (
    task_id INTEGER NOT NULL, round INTEGER NOT NULL, model TEXT NOT NULL, accuracy REAL NOT NULL,
    loss REAL NOT NULL, PRIMARY KEY (task_id, round));
CREATE TABLE IF NOT EXISTS unusable_tasks (task_id INTEGER PRIMARY KEY, reason TEXT NOT NULL);
-- What a task's rounds are judged by (node.ml.evaluate.metric_name): "accuracy", or "validation loss" for a language
-- model, whose baseline is then a loss too.
CREATE TABLE IF NOT EXISTS metrics (task_id INTEGER PRIMARY KEY, metric TEXT NOT NULL);
-- The same steps trained centrally on the union of the shards (NULL, with why, when too costly to compute here).
CREATE TABLE IF NOT EXISTS baselines (
    task_id INTEGER PRIMARY KEY, accuracy REAL, steps INTEGER NOT NULL, note TEXT);
-- Why each rejected result was rejected (explorer.rejections: re-judged, a whole unit each): kept across a
-- reorganisation, and shown only while its UnitRejected event is still in the index.
CREATE TABLE IF NOT EXISTS rejections (
    task_id INTEGER NOT NULL, round INTEGER NOT NULL, idx INTEGER NOT NULL, block INTEGER NOT NULL,
    result TEXT NOT NULL, outcome TEXT NOT NULL, check_name TEXT, reason TEXT NOT NULL, segment INTEGER,
    distance REAL, tolerance REAL, PRIMARY KEY (task_id, round, idx, block));
"""

# Derived tables: dropped and folded again from the events after a reorganisation. Amounts in wei are TEXT (they
# outgrow SQLite's 64-bit integers); sums are taken in Python.
DERIVED = """
CREATE TABLE IF NOT EXISTS tasks (
    task_id INTEGER PRIMARY KEY, owner TEXT NOT NULL, status TEXT NOT NULL, params TEXT NOT NULL,
    budget TEXT NOT NULL, rounds INTEGER NOT NULL, units_per_round INTEGER NOT NULL, quorum INTEGER NOT NULL,
    current_round INTEGER NOT NULL, accepted INTEGER NOT NULL, rejected INTEGER NOT NULL, challenges INTEGER NOT NULL,
    paid_out TEXT NOT NULL, slashed_in TEXT NOT NULL, refunded TEXT NOT NULL, final_model TEXT,
    created_block INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_block INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tasks_status ON tasks (status);
CREATE TABLE IF NOT EXISTS units (
    task_id INTEGER NOT NULL, round INTEGER NOT NULL, idx INTEGER NOT NULL, status TEXT NOT NULL, miner TEXT,
    result_digest TEXT, model_digest TEXT, epoch INTEGER NOT NULL, level INTEGER NOT NULL, verdict INTEGER,
    valid_votes INTEGER NOT NULL, invalid_votes INTEGER NOT NULL, deadline INTEGER NOT NULL,
    rejections INTEGER NOT NULL, updated_block INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    PRIMARY KEY (task_id, round, idx));
CREATE INDEX IF NOT EXISTS units_miner ON units (miner);
CREATE TABLE IF NOT EXISTS seats (
    task_id INTEGER NOT NULL, round INTEGER NOT NULL, idx INTEGER NOT NULL, epoch INTEGER NOT NULL,
    verifier TEXT NOT NULL, level INTEGER NOT NULL, drawn INTEGER NOT NULL, released INTEGER NOT NULL,
    committed INTEGER NOT NULL, revealed INTEGER NOT NULL, valid INTEGER,
    PRIMARY KEY (task_id, round, idx, epoch, verifier));
CREATE INDEX IF NOT EXISTS seats_verifier ON seats (verifier);
CREATE TABLE IF NOT EXISTS money (
    block INTEGER NOT NULL, log_index INTEGER NOT NULL, at INTEGER NOT NULL, account TEXT NOT NULL,
    task_id INTEGER, round INTEGER, idx INTEGER, kind TEXT NOT NULL, amount TEXT NOT NULL,
    PRIMARY KEY (block, log_index));
CREATE INDEX IF NOT EXISTS money_account ON money (account, block);
CREATE INDEX IF NOT EXISTS money_task ON money (task_id);
CREATE TABLE IF NOT EXISTS accounts (
    address TEXT PRIMARY KEY, first_block INTEGER NOT NULL, last_block INTEGER NOT NULL, last_at INTEGER NOT NULL,
    tasks_created INTEGER NOT NULL DEFAULT 0, units_claimed INTEGER NOT NULL DEFAULT 0,
    units_accepted INTEGER NOT NULL DEFAULT 0, units_rejected INTEGER NOT NULL DEFAULT 0,
    aggregates_accepted INTEGER NOT NULL DEFAULT 0, seats INTEGER NOT NULL DEFAULT 0,
    votes_revealed INTEGER NOT NULL DEFAULT 0, challenges INTEGER NOT NULL DEFAULT 0,
    in_pool INTEGER NOT NULL DEFAULT 0, credited TEXT NOT NULL DEFAULT '0', slashed TEXT NOT NULL DEFAULT '0',
    withdrawn TEXT NOT NULL DEFAULT '0', staked TEXT NOT NULL DEFAULT '0');
"""
DERIVED_TABLES = ("tasks", "units", "seats", "money", "accounts")


@dataclass(frozen=True, slots=True)
class IndexedBlock:
    number: int
    hash: str
    timestamp: int


class Index:
    """One SQLite database; every write happens in a transaction, so a kill leaves the last whole batch."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA + DERIVED)

    @classmethod
    def open(cls, path: Path, chain: str) -> Index:
        """The index at ``path`` bound to ``chain``; one written for another chain is moved aside first."""
        return open_bound(path, chain, cls, what="the explorer's index")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, args: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, args).fetchall())

    # ---------------------------------------------------------------------------------------------- meta, cursor

    def get_meta(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            _set_meta(db, key, value)

    @property
    def cursor(self) -> int | None:
        """The last block whose events are all indexed."""
        value = self.get_meta("cursor")
        return int(value) if value is not None else None

    def block(self, number: int) -> IndexedBlock | None:
        rows = self.query("SELECT number, hash, timestamp FROM blocks WHERE number = ?", (number,))
        return IndexedBlock(rows[0][0], rows[0][1], rows[0][2]) if rows else None

    def blocks_from(self, number: int) -> list[IndexedBlock]:
        """Indexed blocks at or below ``number``, newest first (where to look for a common ancestor)."""
        rows = self.query(
            "SELECT number, hash, timestamp FROM blocks WHERE number <= ? ORDER BY number DESC", (number,)
        )
        return [IndexedBlock(r[0], r[1], r[2]) for r in rows]

    # ---------------------------------------------------------------------------------------------- writes

    def append(
        self,
        events: Iterable[ChainEvent],
        blocks: Mapping[int, IndexedBlock],
        txs: Iterable[tuple[str, int, str, int, str, str]],
        cursor: IndexedBlock,
    ) -> int:
        """Adds the events of blocks (cursor, ``cursor.number``], their blocks and transactions, folds them into
        the derived tables and moves the cursor, all in one transaction. Returns the events added."""
        added = 0
        with self.transaction() as db:
            previous = db.execute("SELECT value FROM meta WHERE key = 'cursor'").fetchone()
            if previous is not None:  # the last cursor's row is kept only if events live in its block
                db.execute(
                    "DELETE FROM blocks WHERE number = ? AND NOT EXISTS (SELECT 1 FROM events WHERE block = ?)",
                    (int(previous[0]), int(previous[0])),
                )
            for number, b in blocks.items():
                db.execute("INSERT OR REPLACE INTO blocks VALUES (?, ?, ?)", (number, b.hash, b.timestamp))
            db.execute("INSERT OR REPLACE INTO blocks VALUES (?, ?, ?)", (cursor.number, cursor.hash, cursor.timestamp))
            for tx in txs:
                db.execute("INSERT OR REPLACE INTO txs VALUES (?, ?, ?, ?, ?, ?)", tx)
            for e in events:
                args = json.dumps(jsonable(dict(e.args)), sort_keys=True)
                inserted = db.execute(
                    "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (e.block_number, e.log_index, e.tx_hash, e.name, args, e.args.get("taskId"), e.args.get("round"),
                     e.args.get("index"), _actor(e.args)),
                ).rowcount  # fmt: skip
                if inserted:
                    added += 1
                    fold_event(
                        db, e.name, json.loads(args), e.block_number, e.log_index, blocks[e.block_number].timestamp
                    )
            _set_meta(db, "cursor", str(cursor.number))
        return added

    def rewind(self, to_block: int) -> int:
        """Forgets everything after ``to_block`` (a reorganised tail) and folds the rest again; returns the number
        of events dropped."""
        with self.transaction() as db:
            dropped = db.execute("DELETE FROM events WHERE block > ?", (to_block,)).rowcount
            db.execute("DELETE FROM blocks WHERE number > ?", (to_block,))
            db.execute("DELETE FROM txs WHERE block > ?", (to_block,))
            for table in DERIVED_TABLES:
                db.execute(f"DELETE FROM {table}")
            stamps = dict(db.execute("SELECT number, timestamp FROM blocks").fetchall())
            rows = db.execute("SELECT block, log_index, name, args FROM events ORDER BY block, log_index").fetchall()
            for block, log_index, name, args in rows:
                fold_event(db, name, json.loads(args), block, log_index, stamps.get(block, 0))
            _set_meta(db, "cursor", str(to_block))
        return int(dropped)


def _actor(args: Mapping[str, Any]) -> str | None:
    """The account an event is about, for an account's history."""
    for key in ("miner", "verifier", "challenger", "account", "owner"):
        if key in args:
            return str(args[key])
    return None


def _set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
