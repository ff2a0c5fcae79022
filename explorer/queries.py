"""What the explorer's pages and JSON endpoints show, read from the index (amounts in wei as decimal strings: they
outgrow JavaScript's numbers)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from explorer.index import Index
from node.errors import ChainError

UNIT_STATES = ("open", "claimed", "submitted", "revealing", "decided", "accepted")


def _row(r: sqlite3.Row) -> dict[str, Any]:
    return {k: r[k] for k in r.keys()}  # noqa: SIM118 (sqlite3.Row is not a mapping)


@dataclass(frozen=True, slots=True)
class Page:
    limit: int = 50
    offset: int = 0


class NotIndexed(ChainError):
    """No index open yet: the chain has not answered since the explorer started."""


class Queries:
    """Reads over the index in use; ``use`` swaps it (a new chain under the same folder)."""

    def __init__(self, index: Index | None) -> None:
        self._current = index

    def use(self, index: Index | None) -> None:
        self._current = index

    @property
    def index(self) -> Index | None:
        return self._current

    @property
    def _index(self) -> Index:
        if self._current is None:
            raise NotIndexed("the explorer has not reached the chain yet: nothing is indexed")
        return self._current

    # ---------------------------------------------------------------------------------------------- network

    def network(self, *, window_s: int = 3_600, bucket_s: int = 60) -> dict[str, Any]:
        """Tasks by status, nodes by role, and per ``bucket_s`` over the last ``window_s`` of chain time: units
        accepted and gas used."""
        q = self._index.query
        by_status = {r["status"]: r["n"] for r in q("SELECT status, COUNT(*) AS n FROM tasks GROUP BY status")}
        roles = q(
            "SELECT SUM(units_claimed > 0) AS miners, SUM(seats > 0 OR in_pool) AS verifiers, "
            "SUM(aggregates_accepted > 0) AS aggregators, SUM(tasks_created > 0) AS owners, COUNT(*) AS accounts "
            "FROM accounts"
        )[0]
        latest = q("SELECT MAX(timestamp) AS t FROM blocks")[0]["t"] or 0
        since = latest - window_s
        accepted = q(
            "SELECT (b.timestamp / ?) * ? AS t, COUNT(*) AS n FROM events e JOIN blocks b ON b.number = e.block "
            "WHERE e.name = 'UnitAccepted' AND b.timestamp >= ? GROUP BY t ORDER BY t",
            (bucket_s, bucket_s, since),
        )
        gas = q(
            "SELECT (b.timestamp / ?) * ? AS t, SUM(x.gas_used) AS gas, COUNT(*) AS txs FROM txs x "
            "JOIN blocks b ON b.number = x.block WHERE b.timestamp >= ? GROUP BY t ORDER BY t",
            (bucket_s, bucket_s, since),
        )
        totals = q("SELECT COUNT(*) AS txs, COALESCE(SUM(gas_used), 0) AS gas FROM txs")[0]
        units = q("SELECT COUNT(*) AS n FROM events WHERE name = 'UnitAccepted'")[0]["n"]
        return {
            "indexed_block": self._index.cursor,
            "tasks": {"total": sum(by_status.values()), **by_status},
            "nodes": {k: int(roles[k] or 0) for k in ("miners", "verifiers", "aggregators", "owners", "accounts")},
            "units_accepted": units,
            "transactions": totals["txs"],
            "gas_used": totals["gas"],
            "gas_per_accepted_unit": totals["gas"] // units if units else None,
            "units_per_minute": [{"t": r["t"], "units": r["n"] * 60 / bucket_s} for r in accepted],
            "gas_over_time": [{"t": r["t"], "gas": r["gas"], "txs": r["txs"]} for r in gas],
        }

    # ---------------------------------------------------------------------------------------------- tasks

    def tasks(self, *, status: str | None = None, page: Page = Page()) -> list[dict[str, Any]]:
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        rows = self._index.query(
            f"SELECT * FROM tasks {where} ORDER BY task_id DESC LIMIT ? OFFSET ?",
            (*args, page.limit, page.offset),
        )
        return [self._task_summary(r) for r in rows]

    def task(self, task_id: int) -> dict[str, Any] | None:
        rows = self._index.query("SELECT * FROM tasks WHERE task_id = ?", (task_id,))
        if not rows:
            return None
        task = self._task_summary(rows[0])
        task["params"] = _wei_strings(json.loads(rows[0]["params"]))
        task["rounds_grid"] = self.unit_grid(task_id, int(rows[0]["current_round"]), int(rows[0]["units_per_round"]))
        task["accuracy"] = [
            {"round": r["round"], "accuracy": r["accuracy"], "loss": r["loss"], "model": r["model"]}
            for r in self._index.query(
                "SELECT a.round, a.accuracy, a.loss, a.model FROM accuracy a JOIN units u ON u.task_id = a.task_id "
                "AND u.round = a.round AND u.idx = ? AND u.model_digest = a.model AND u.status = 'accepted' "
                "WHERE a.task_id = ? ORDER BY a.round",
                (int(rows[0]["units_per_round"]), task_id),
            )
        ]
        metric = self._index.query("SELECT metric FROM metrics WHERE task_id = ?", (task_id,))
        task["metric"] = metric[0]["metric"] if metric else "accuracy"
        baseline = self._index.query("SELECT accuracy, steps, note FROM baselines WHERE task_id = ?", (task_id,))
        task["baseline_accuracy"] = baseline[0]["accuracy"] if baseline else None
        task["baseline_note"] = (
            baseline[0]["note"] or f"{baseline[0]['steps']} steps on one node" if baseline else "not computed yet"
        )
        task["rejections"] = [
            _row(r)
            for r in self._index.query(
                "SELECT x.round, x.idx, x.block, x.result, x.outcome, x.check_name, x.reason, x.segment, x.distance, "
                "x.tolerance, e.actor AS miner FROM rejections x JOIN events e ON e.block = x.block AND "
                "e.name = 'UnitRejected' AND e.task_id = x.task_id AND e.round = x.round AND e.idx = x.idx "
                "WHERE x.task_id = ? ORDER BY x.block DESC",
                (task_id,),
            )
        ]
        unusable = self._index.query("SELECT reason FROM unusable_tasks WHERE task_id = ?", (task_id,))
        task["accuracy_unavailable"] = unusable[0]["reason"] if unusable else None
        task["money_by_account"] = [
            {"account": r["account"], "kind": r["kind"], "amount": str(r["total"])}
            for r in self._money_totals("task_id = ?", (task_id,), by="account")
        ]
        return task

    def unit_grid(self, task_id: int, current_round: int, units_per_round: int) -> list[list[dict[str, Any]]]:
        """Every unit of rounds 0..current (the aggregation unit last): the row the index holds, or open."""
        rows = self._index.query("SELECT * FROM units WHERE task_id = ? ORDER BY round, idx", (task_id,))
        held = {(r["round"], r["idx"]): _row(r) for r in rows}
        grid = []
        for rnd in range(current_round + 1):
            grid.append(
                [
                    _unit_view(held.get((rnd, i)) or {"task_id": task_id, "round": rnd, "idx": i, "status": "open"})
                    for i in range(units_per_round + 1)
                ]
            )
        return grid

    def unit(self, task_id: int, round_: int, index: int) -> dict[str, Any] | None:
        rows = self._index.query(
            "SELECT * FROM units WHERE task_id = ? AND round = ? AND idx = ?", (task_id, round_, index)
        )
        if not rows:
            return None
        unit = _unit_view(_row(rows[0]))
        unit["seats"] = [
            _row(r)
            for r in self._index.query(
                "SELECT epoch, level, verifier, drawn, released, committed, revealed, valid FROM seats "
                "WHERE task_id = ? AND round = ? AND idx = ? ORDER BY epoch, verifier",
                (task_id, round_, index),
            )
        ]
        unit["history"] = [
            {"block": r["block"], "at": r["timestamp"], "event": r["name"], "args": json.loads(r["args"])}
            for r in self._index.query(
                "SELECT e.block, b.timestamp, e.name, e.args FROM events e JOIN blocks b ON b.number = e.block "
                "WHERE e.task_id = ? AND e.round = ? AND e.idx = ? "
                "ORDER BY e.block, e.log_index",
                (task_id, round_, index),
            )
        ]
        return unit

    def _task_summary(self, r: sqlite3.Row) -> dict[str, Any]:
        budget, paid, slashed, refunded = (int(r[k]) for k in ("budget", "paid_out", "slashed_in", "refunded"))
        return {
            "task_id": r["task_id"],
            "owner": r["owner"],
            "status": r["status"],
            "rounds": r["rounds"],
            "units_per_round": r["units_per_round"],
            "quorum": r["quorum"],
            "current_round": r["current_round"],
            "accepted": r["accepted"],
            "rejected": r["rejected"],
            "challenges": r["challenges"],
            "budget": str(budget),
            "paid_out": str(paid),
            "slashed_in": str(slashed),
            "refunded": str(refunded),
            # What the contract holds for the task: the budget and what slashes put in, less payments and refunds.
            "escrow": str(budget + slashed - paid - refunded),
            "final_model": r["final_model"],
            "created_block": r["created_block"],
            "created_at": r["created_at"],
        }

    # ---------------------------------------------------------------------------------------------- accounts

    def accounts(self, *, page: Page = Page()) -> list[dict[str, Any]]:
        rows = self._index.query(
            "SELECT * FROM accounts ORDER BY last_block DESC LIMIT ? OFFSET ?", (page.limit, page.offset)
        )
        return [_account_view(r) for r in rows]

    def account(self, address: str) -> dict[str, Any] | None:
        rows = self._index.query("SELECT * FROM accounts WHERE lower(address) = lower(?)", (address,))
        if not rows:
            return None
        view = _account_view(rows[0])
        who = rows[0]["address"]
        view["money"] = [
            {**_row(r), "amount": str(r["amount"])}
            for r in self._index.query(
                "SELECT block, at, task_id, round, idx, kind, amount FROM money WHERE account = ? ORDER BY block, "
                "log_index",
                (who,),
            )
        ]
        # Units in flight now, then every result that was settled (accepted, rejected, expired), newest first.
        in_flight = [
            _unit_view(_row(r))
            for r in self._index.query(
                "SELECT * FROM units WHERE miner = ? AND status != 'accepted' ORDER BY updated_block DESC", (who,)
            )
        ]
        settled = [
            {
                "task_id": r["task_id"], "round": r["round"], "index": r["idx"], "block": r["block"],
                "status": {"UnitAccepted": "accepted", "UnitRejected": "rejected"}.get(r["name"], "expired"),
                "result_digest": json.loads(r["args"]).get("resultDigest"),
            }
            for r in self._index.query(
                "SELECT task_id, round, idx, block, name, args FROM events WHERE actor = ? "
                "AND name IN ('UnitAccepted', 'UnitRejected', 'UnitExpired') ORDER BY block DESC, log_index DESC "
                "LIMIT 100",
                (who,),
            )
        ]  # fmt: skip
        view["units"] = in_flight + settled
        view["votes"] = [
            _row(r)
            for r in self._index.query(
                "SELECT task_id, round, idx, epoch, level, drawn, released, committed, revealed, valid FROM seats "
                "WHERE verifier = ? ORDER BY task_id DESC, round DESC, idx, epoch LIMIT 100",
                (who,),
            )
        ]
        # Each named task's units per round: the unit of that index is its round's aggregation (shown as Σ).
        named = sorted({int(x["task_id"]) for part in ("money", "units", "votes") for x in view[part] if x["task_id"]})
        view["units_per_round"] = {
            str(r["task_id"]): r["units_per_round"]
            for r in self._index.query(
                f"SELECT task_id, units_per_round FROM tasks WHERE task_id IN ({','.join('?' * len(named))})",
                tuple(named),
            )
        }
        return view

    def _money_totals(self, where: str, args: tuple[object, ...], *, by: str) -> list[dict[str, Any]]:
        totals: dict[tuple[str, str], int] = {}
        for r in self._index.query(f"SELECT {by}, kind, amount FROM money WHERE {where}", args):
            key = (str(r[by]), str(r["kind"]))
            totals[key] = totals.get(key, 0) + int(r["amount"])
        return [{by: k[0], "kind": k[1], "total": v} for k, v in sorted(totals.items())]


def _unit_view(u: dict[str, Any]) -> dict[str, Any]:
    status = str(u["status"])
    verdict = u.get("verdict")
    return {
        "task_id": u["task_id"],
        "round": u["round"],
        "index": u["idx"],
        "status": status,
        "miner": u.get("miner"),
        "result_digest": u.get("result_digest"),
        "model_digest": u.get("model_digest"),
        "epoch": u.get("epoch", 0),
        "level": u.get("level", 0),
        "verdict": None if verdict is None else bool(verdict),
        "valid_votes": u.get("valid_votes", 0),
        "invalid_votes": u.get("invalid_votes", 0),
        "deadline": u.get("deadline", 0),
        "rejections": u.get("rejections", 0),
    }


def _account_view(r: sqlite3.Row) -> dict[str, Any]:
    view = _row(r)
    view["roles"] = [
        role
        for role, held in (
            ("owner", r["tasks_created"] > 0),
            ("miner", r["units_claimed"] > 0),
            ("aggregator", r["aggregates_accepted"] > 0),
            ("verifier", r["seats"] > 0 or bool(r["in_pool"])),
        )
        if held
    ]
    view["in_pool"] = bool(r["in_pool"])
    return view


def _wei_strings(params: dict[str, Any]) -> dict[str, Any]:
    """Task parameters with amounts as strings (the others are small integers or digests)."""
    amounts = {"minerReward", "aggregatorReward", "verifierReward", "unitBond", "voteBond"}
    return {k: str(v) if k in amounts else v for k, v in params.items()}
