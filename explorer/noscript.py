"""The first render of a page without JavaScript: the page's key figures as plain HTML in a ``<noscript>`` block of
the shell, from the same queries as the JSON API (a reader, a crawler or a terminal browser sees them; a browser
with JavaScript renders the live page in place of it)."""

from __future__ import annotations

import html
import time
from typing import Any

from node.money import eth

__all__ = ["account", "eth", "missing", "network", "task", "unit", "when"]


def when(ts: object) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(str(ts)))) if ts else "–"


def _table(rows: list[tuple[str, object]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f'<table class="noscript">{body}</table>'


def _block(title: str, rows: list[tuple[str, object]], note: str = "") -> str:
    extra = f"<p>{html.escape(note)}</p>" if note else ""
    return f"<h1>{html.escape(title)}</h1>{_table(rows)}{extra}"


def network(body: dict[str, Any]) -> str:
    tasks, nodes = body.get("tasks", {}), body.get("nodes", {})
    return _block(
        "dmlnet network",
        [
            ("tasks", f"{tasks.get('total', 0)} ({', '.join(f'{k} {v}' for k, v in tasks.items() if k != 'total')})"),
            ("nodes", ", ".join(f"{k} {v}" for k, v in nodes.items())),
            ("units accepted", body.get("units_accepted", 0)),
            ("transactions", body.get("transactions", 0)),
            ("gas per accepted unit", body.get("gas_per_accepted_unit") or "–"),
            ("indexed block", body.get("indexed_block")),
        ],
        "The live page, its charts and tables need JavaScript; the JSON API is at /api/network and /openapi.json.",
    )


def task(t: dict[str, Any]) -> str:
    rows: list[tuple[str, object]] = [
        ("status", t["status"]),
        ("round", f"{min(int(t['current_round']) + 1, int(t['rounds']))} / {t['rounds']}"),
        ("units per round", t["units_per_round"]),
        ("quorum", t["quorum"]),
        ("accepted / rejected", f"{t['accepted']} / {t['rejected']}"),
        ("budget", eth(t["budget"])),
        ("paid out", eth(t["paid_out"])),
        ("escrow left", eth(t["escrow"])),
        ("owner", t["owner"]),
        ("final model", t.get("final_model") or "not yet"),
    ]
    for point in t.get("accuracy") or []:
        figure = point["loss"] if t.get("metric") == "validation loss" else point["accuracy"]
        if figure is not None:
            rows.append((f"round {int(point['round']) + 1} {t.get('metric', 'accuracy')}", f"{float(figure):.4f}"))
    return _block(f"Task #{t['task_id']}", rows, f"The JSON: /api/tasks/{t['task_id']}.")


def unit(task_id: int, round_: int, index: int, u: dict[str, Any] | None, units_per_round: int | None) -> str:
    name = "Σ (the aggregation)" if index == units_per_round else str(index)
    title = f"Task #{task_id}, round {round_ + 1}, unit {name}"
    if u is None:
        return _block(title, [("status", "open: nothing happened yet")])
    rows: list[tuple[str, object]] = [
        ("status", u["status"]),
        ("miner", u.get("miner") or "–"),
        ("result", u.get("result_digest") or "–"),
        ("votes", f"{u.get('valid_votes', 0)} valid / {u.get('invalid_votes', 0)} invalid"),
    ]
    rows += [(f"block {h['block']} ({when(h.get('at'))})", h["event"]) for h in u.get("history", [])]
    return _block(title, rows, f"The JSON: /api/tasks/{task_id}/rounds/{round_}/units/{index}.")


def account(a: dict[str, Any]) -> str:
    stake = a.get("stake") or {}
    rows: list[tuple[str, object]] = [
        ("roles", ", ".join(a.get("roles", [])) or "–"),
        ("earned", eth(a.get("credited", 0))),
        ("slashed", eth(a.get("slashed", 0))),
        ("withdrawn", eth(a.get("withdrawn", 0))),
        ("units accepted", int(a.get("units_accepted", 0)) + int(a.get("aggregates_accepted", 0))),
        ("units rejected", a.get("units_rejected", 0)),
        ("seats", a.get("seats", 0)),
    ]
    if "total" in stake:
        rows.insert(1, ("stake", eth(stake["total"])))
    return _block(a["address"], rows, f"The JSON: /api/accounts/{a['address']}.")


def missing(what: str) -> str:
    return f"<p>{html.escape(what)}</p>"
