"""Folds one TaskMarket event into the explorer's derived tables (see :mod:`explorer.index`).

Each handler mirrors the contract's transition that emitted the event, so that a unit's row is what
``getUnit`` says at that block; what the views cannot say any more (a rejected result, a released seat, who was
paid what and when) stays in the events and the ``money`` table.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

Args = dict[str, Any]
Handler = Callable[[sqlite3.Connection, Args, int, int, int], None]

PARAM_NAMES = (
    "specDigest", "datasetDigest", "initialModelDigest", "rounds", "unitsPerRound", "quorum", "claimTimeout",
    "commitTimeout", "revealTimeout", "minerReward", "aggregatorReward", "verifierReward", "unitBond", "voteBond",
    "challengeWindow",
)  # fmt: skip


def fold_event(db: sqlite3.Connection, name: str, args: Args, block: int, log_index: int, at: int) -> None:
    """Applies the event ``name`` with decoded ``args``, mined in ``block`` at time ``at``."""
    for account in _accounts_of(args):
        _touch_account(db, account, block, at)
    handler = HANDLERS.get(name)
    if handler is not None:
        handler(db, args, block, log_index, at)


def _accounts_of(args: Args) -> list[str]:
    return [str(args[k]) for k in ("owner", "miner", "verifier", "challenger", "account") if k in args]


def _touch_account(db: sqlite3.Connection, address: str, block: int, at: int) -> None:
    db.execute(
        "INSERT INTO accounts (address, first_block, last_block, last_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(address) DO UPDATE SET last_block = excluded.last_block, last_at = excluded.last_at",
        (address, block, block, at),
    )


def _bump(db: sqlite3.Connection, address: str, column: str, by: int = 1) -> None:
    db.execute(f"UPDATE accounts SET {column} = {column} + ? WHERE address = ?", (by, address))


def _add_wei(db: sqlite3.Connection, table: str, column: str, key: str, value: object, amount: int) -> None:
    """Adds ``amount`` to a TEXT column of wei (exact, beyond 64 bits)."""
    row = db.execute(f"SELECT {column} FROM {table} WHERE {key} = ?", (value,)).fetchone()
    if row is not None:
        db.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (str(int(row[0]) + amount), value))


def _money(db: sqlite3.Connection, args: Args, block: int, log_index: int, at: int, kind: str, amount: int) -> None:
    db.execute(
        "INSERT OR REPLACE INTO money VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (block, log_index, at, str(args.get("account") or args.get("owner")), args.get("taskId"), args.get("round"),
         args.get("index"), kind, str(amount)),
    )  # fmt: skip


def _unit(db: sqlite3.Connection, a: Args, block: int, at: int, **fields: object) -> None:
    """Creates or updates a unit's row: ``fields`` are the columns the transition sets."""
    key = (a["taskId"], a["round"], a["index"])
    if db.execute("SELECT 1 FROM units WHERE task_id = ? AND round = ? AND idx = ?", key).fetchone() is None:
        db.execute(
            "INSERT INTO units (task_id, round, idx, status, epoch, level, valid_votes, invalid_votes, deadline, "
            "rejections, updated_block, updated_at) VALUES (?, ?, ?, 'open', 0, 0, 0, 0, 0, 0, ?, ?)",
            (*key, block, at),
        )
    columns = {**fields, "updated_block": block, "updated_at": at}
    assignments = ", ".join(f"{c} = ?" for c in columns)
    db.execute(
        f"UPDATE units SET {assignments} WHERE task_id = ? AND round = ? AND idx = ?",
        (*columns.values(), *key),
    )


def _level_of(db: sqlite3.Connection, a: Args) -> int:
    row = db.execute(
        "SELECT level FROM units WHERE task_id = ? AND round = ? AND idx = ?", (a["taskId"], a["round"], a["index"])
    ).fetchone()
    return int(row[0]) if row is not None else 0


# ---------------------------------------------------------------------------------------------- tasks


def _task_created(db: sqlite3.Connection, a: Args, block: int, _: int, at: int) -> None:
    raw = a["params"]
    params = dict(zip(PARAM_NAMES, raw, strict=True)) if isinstance(raw, list) else dict(raw)
    db.execute(
        "INSERT OR REPLACE INTO tasks VALUES (?, ?, 'active', ?, ?, ?, ?, ?, 0, 0, 0, 0, '0', '0', '0', NULL, ?, ?, ?)",
        (a["taskId"], a["owner"], json.dumps(params, sort_keys=True), str(a["budget"]), params["rounds"],
         params["unitsPerRound"], params["quorum"], block, at, block),
    )  # fmt: skip
    _bump(db, a["owner"], "tasks_created")


def _task_status(status: str) -> Handler:
    def handle(db: sqlite3.Connection, a: Args, block: int, _: int, __: int) -> None:
        db.execute("UPDATE tasks SET status = ?, updated_block = ? WHERE task_id = ?", (status, block, a["taskId"]))
        if "finalModelDigest" in a:
            db.execute("UPDATE tasks SET final_model = ? WHERE task_id = ?", (a["finalModelDigest"], a["taskId"]))

    return handle


def _round_advanced(db: sqlite3.Connection, a: Args, block: int, _: int, __: int) -> None:
    db.execute(
        "UPDATE tasks SET current_round = ?, updated_block = ? WHERE task_id = ?", (a["round"], block, a["taskId"])
    )


def _escrow_refunded(db: sqlite3.Connection, a: Args, block: int, log_index: int, at: int) -> None:
    _add_wei(db, "tasks", "refunded", "task_id", a["taskId"], int(a["amount"]))
    # The refund is also Credited to the owner (its own event): recorded here as what it is, not as earnings.


# ---------------------------------------------------------------------------------------------- units


def _claimed(db: sqlite3.Connection, a: Args, block: int, _: int, at: int) -> None:
    _unit(db, a, block, at, status="claimed", miner=a["miner"], deadline=a["deadline"], verdict=None, level=0)
    _bump(db, a["miner"], "units_claimed")


def _submitted(db: sqlite3.Connection, a: Args, block: int, _: int, at: int) -> None:
    _unit(
        db, a, block, at, status="submitted", miner=a["miner"], result_digest=a["resultDigest"],
        model_digest=a["modelDigest"], epoch=a["epoch"], level=0, verdict=None, valid_votes=0, invalid_votes=0,
        deadline=a["commitDeadline"],
    )  # fmt: skip


def _expired(db: sqlite3.Connection, a: Args, block: int, _: int, at: int) -> None:
    _unit(db, a, block, at, status="open", miner=None, deadline=0)


def _quorum_drawn(db: sqlite3.Connection, a: Args, block: int, _: int, at: int) -> None:
    _unit(db, a, block, at, deadline=a["commitDeadline"])


def _drawn(db: sqlite3.Connection, a: Args, block: int, _: int, at: int) -> None:
    db.execute(
        "INSERT INTO seats VALUES (?, ?, ?, ?, ?, ?, 1, 0, 0, 0, NULL) ON CONFLICT DO UPDATE SET drawn = drawn + 1",
        (a["taskId"], a["round"], a["index"], a["epoch"], a["verifier"], _level_of(db, a)),
    )
    _bump(db, a["verifier"], "seats")


def _seat_update(column: str) -> Handler:
    def handle(db: sqlite3.Connection, a: Args, block: int, _: int, at: int) -> None:
        by = int(a.get("seats", 1))
        valid = a.get("valid")
        db.execute(
            f"UPDATE seats SET {column} = {column} + ?, valid = COALESCE(?, valid) "
            "WHERE task_id = ? AND round = ? AND idx = ? AND epoch = ? AND verifier = ?",
            (by, None if valid is None else int(valid), a["taskId"], a["round"], a["index"], a["epoch"], a["verifier"]),
        )
        if column == "revealed":
            _bump(db, a["verifier"], "votes_revealed", by)

    return handle


def _reveal_opened(db: sqlite3.Connection, a: Args, block: int, _: int, at: int) -> None:
    _unit(db, a, block, at, status="revealing", deadline=a["revealDeadline"])


def _verdict(db: sqlite3.Connection, a: Args, block: int, _: int, at: int) -> None:
    _unit(
        db, a, block, at, status="decided", level=a["level"], verdict=int(a["valid"]), valid_votes=a["validVotes"],
        invalid_votes=a["invalidVotes"], deadline=a["challengeDeadline"],
    )  # fmt: skip


def _challenged(db: sqlite3.Connection, a: Args, block: int, _: int, at: int) -> None:
    _unit(db, a, block, at, status="submitted", level=a["level"], epoch=a["epoch"], valid_votes=0, invalid_votes=0)
    db.execute("UPDATE tasks SET challenges = challenges + 1 WHERE task_id = ?", (a["taskId"],))
    _bump(db, a["challenger"], "challenges")


def _reopened(db: sqlite3.Connection, a: Args, block: int, _: int, at: int) -> None:
    _unit(
        db, a, block, at, status="submitted", epoch=a["epoch"], valid_votes=0, invalid_votes=0,
        deadline=a["commitDeadline"],
    )  # fmt: skip


def _accepted(db: sqlite3.Connection, a: Args, block: int, _: int, at: int) -> None:
    _unit(
        db, a, block, at, status="accepted", miner=a["miner"], result_digest=a["resultDigest"],
        valid_votes=a["validVotes"], invalid_votes=a["invalidVotes"], verdict=1, deadline=0,
    )  # fmt: skip
    task = db.execute("SELECT units_per_round FROM tasks WHERE task_id = ?", (a["taskId"],)).fetchone()
    aggregate = task is not None and int(a["index"]) == int(task[0])
    _bump(db, a["miner"], "aggregates_accepted" if aggregate else "units_accepted")
    db.execute("UPDATE tasks SET accepted = accepted + 1, updated_block = ? WHERE task_id = ?", (block, a["taskId"]))


def _rejected(db: sqlite3.Connection, a: Args, block: int, _: int, at: int) -> None:
    row = db.execute(
        "SELECT rejections FROM units WHERE task_id = ? AND round = ? AND idx = ?",
        (a["taskId"], a["round"], a["index"]),
    ).fetchone()
    rejections = (int(row[0]) if row is not None else 0) + 1
    _unit(db, a, block, at, status="open", miner=None, verdict=None, deadline=0, rejections=rejections)
    _bump(db, a["miner"], "units_rejected")
    db.execute("UPDATE tasks SET rejected = rejected + 1, updated_block = ? WHERE task_id = ?", (block, a["taskId"]))


# ---------------------------------------------------------------------------------------------- money and pool


def _credited(db: sqlite3.Connection, a: Args, block: int, log_index: int, at: int) -> None:
    amount = int(a["amount"])
    owner = db.execute("SELECT owner FROM tasks WHERE task_id = ?", (a["taskId"],)).fetchone()
    refund = db.execute(
        "SELECT 1 FROM events WHERE block = ? AND log_index = ? AND name = 'EscrowRefunded'", (block, log_index - 1)
    ).fetchone()
    if owner is not None and owner[0] == a["account"] and refund is not None:
        _money(db, a, block, log_index, at, "refund", amount)
        return
    _money(db, a, block, log_index, at, "credit", amount)
    _add_wei(db, "accounts", "credited", "address", a["account"], amount)
    _add_wei(db, "tasks", "paid_out", "task_id", a["taskId"], amount)


def _slashed(db: sqlite3.Connection, a: Args, block: int, log_index: int, at: int) -> None:
    amount = int(a["amount"])
    _money(db, a, block, log_index, at, "slash", amount)
    _add_wei(db, "accounts", "slashed", "address", a["account"], amount)
    _add_wei(db, "accounts", "staked", "address", a["account"], -amount)  # a slashed bond leaves the stake
    _add_wei(db, "tasks", "slashed_in", "task_id", a["taskId"], amount)


def _released(db: sqlite3.Connection, a: Args, block: int, log_index: int, at: int) -> None:
    """Unbonded stake moved to the account's credit."""
    _money(db, a, block, log_index, at, "release", int(a["amount"]))
    _add_wei(db, "accounts", "staked", "address", a["account"], -int(a["amount"]))


def _withdrawn(db: sqlite3.Connection, a: Args, block: int, log_index: int, at: int) -> None:
    _money(db, a, block, log_index, at, "withdraw", int(a["amount"]))
    _add_wei(db, "accounts", "withdrawn", "address", a["account"], int(a["amount"]))


def _deposited(db: sqlite3.Connection, a: Args, block: int, log_index: int, at: int) -> None:
    _money(db, a, block, log_index, at, "stake", int(a["amount"]))
    # The event carries the stake's new total: exact from here on (slashes and releases subtract).
    db.execute("UPDATE accounts SET staked = ? WHERE address = ?", (str(a["total"]), a["account"]))


def _pool(joined: bool) -> Handler:
    def handle(db: sqlite3.Connection, a: Args, block: int, _: int, __: int) -> None:
        db.execute("UPDATE accounts SET in_pool = ? WHERE address = ?", (int(joined), a["account"]))

    return handle


HANDLERS: dict[str, Handler] = {
    "TaskCreated": _task_created,
    "TaskCancelled": _task_status("cancelled"),
    "TaskCompleted": _task_status("completed"),
    "RoundAdvanced": _round_advanced,
    "EscrowRefunded": _escrow_refunded,
    "UnitClaimed": _claimed,
    "ResultSubmitted": _submitted,
    "UnitExpired": _expired,
    "QuorumDrawn": _quorum_drawn,
    "VerifierDrawn": _drawn,
    "VerifierReplaced": _seat_update("released"),
    "VoteCommitted": _seat_update("committed"),
    "RevealOpened": _reveal_opened,
    "VoteRevealed": _seat_update("revealed"),
    "VerdictReached": _verdict,
    "VerdictChallenged": _challenged,
    "VoteReopened": _reopened,
    "UnitAccepted": _accepted,
    "UnitRejected": _rejected,
    "Credited": _credited,
    "StakeSlashed": _slashed,
    "Withdrawn": _withdrawn,
    "StakeDeposited": _deposited,
    "StakeReleased": _released,
    "VerifierJoined": _pool(True),
    "VerifierLeft": _pool(False),
}
