"""How fast the explorer answers with a busy network indexed: 50 tasks and 10,000 units (190,000 events folded
from the events a real task emits, 90 accounts), served by uvicorn over HTTP.

A page load is measured in Debian's Chromium (Playwright): from navigation until the page has rendered its data
(its first refresh), for the network page, task pages (a 10 × 20 unit grid each) and account pages. The JSON
calls behind them are timed alone too.

    python -m scripts.bench_explorer
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from explorer.app import ExplorerStatus, create_app
from explorer.index import Index, IndexedBlock
from explorer.indexer import IndexerMetrics
from explorer.queries import Queries
from node.chain.devnet import free_port
from node.chain.events import ChainEvent
from node.http_server import serve_in_thread
from scripts.benchlib import emit, print_table

TASKS, ROUNDS, UNITS = 50, 10, 19  # (19 training units + 1 aggregate) × 10 rounds × 50 tasks = 10,000 units
MINERS = [f"0x{i:040x}" for i in range(1, 31)]
VERIFIERS = [f"0x{i:040x}" for i in range(101, 161)]
OWNER = "0x" + "ee" * 20
LOADS = 30
ETH = 10**18


def _unit_events(task: int, r: int, i: int, rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    u = {"taskId": task, "round": r, "index": i}
    miner = rng.choice(MINERS)
    seats = rng.sample(VERIFIERS, 3)
    digest = rng.randbytes(32)
    out: list[tuple[str, dict[str, Any]]] = [
        ("UnitClaimed", {**u, "miner": miner, "deadline": 0, "bond": ETH}),
        ("ResultSubmitted", {**u, "miner": miner, "resultDigest": digest, "modelDigest": rng.randbytes(32), "epoch": 1,
                             "commitDeadline": 0}),
    ]  # fmt: skip
    out += [("VerifierDrawn", {**u, "verifier": v, "epoch": 1, "seat": s}) for s, v in enumerate(seats)]
    out += [("QuorumDrawn", {**u, "epoch": 1, "level": 0, "commitDeadline": 0})]
    out += [("VoteCommitted", {**u, "verifier": v, "epoch": 1, "commitment": digest, "seats": 1}) for v in seats]
    out += [("RevealOpened", {**u, "epoch": 1, "revealDeadline": 0})]
    out += [("VoteRevealed", {**u, "verifier": v, "epoch": 1, "valid": True, "seats": 1}) for v in seats]
    out += [("VerdictReached", {**u, "level": 0, "valid": True, "validVotes": 3, "invalidVotes": 0,
                                "challengeDeadline": 0})]  # fmt: skip
    out += [("Credited", {"account": v, "taskId": task, "amount": ETH // 10}) for v in seats]
    out += [("Credited", {"account": miner, "taskId": task, "amount": ETH})]
    out += [("UnitAccepted", {**u, "miner": miner, "resultDigest": digest, "validVotes": 3, "invalidVotes": 0})]
    return out


def build_index(path: Path, tasks: int = TASKS) -> tuple[Index, int, float]:
    """The synthetic network, one transaction per task; returns the index, its events and seconds spent."""
    rng = random.Random(7)
    index = Index.open(path, "bench:chain")
    block, count, started = 1, 0, time.perf_counter()
    for task in range(1, tasks + 1):
        named: list[tuple[str, dict[str, Any]]] = [
            ("TaskCreated", {"taskId": task, "owner": OWNER, "budget": 300 * ETH, "params": {
                "specDigest": b"\1" * 32, "datasetDigest": b"\2" * 32, "initialModelDigest": b"\3" * 32,
                "rounds": ROUNDS, "unitsPerRound": UNITS, "quorum": 3, "claimTimeout": 60, "commitTimeout": 60,
                "revealTimeout": 60, "minerReward": ETH, "aggregatorReward": ETH, "verifierReward": ETH // 10,
                "unitBond": ETH, "voteBond": ETH // 2, "challengeWindow": 10}}),
        ]  # fmt: skip
        for r in range(ROUNDS):
            for i in range(UNITS + 1):
                named += _unit_events(task, r, i, rng)
            named.append(("RoundAdvanced", {"taskId": task, "round": r + 1, "inputModelDigest": rng.randbytes(32)}))
        events, blocks = [], {}
        for n, (name, args) in enumerate(named):
            number = block + n // 20  # 20 events to a block, 12 s apart
            blocks[number] = IndexedBlock(number, f"0x{number:064x}", 1_700_000_000 + 12 * number)
            events.append(ChainEvent(name, args, number, n % 20, f"0x{task:032x}{n:032x}"))
        block = max(blocks) + 1
        count += index.append(events, blocks, [], blocks[max(blocks)])
    return index, count, time.perf_counter() - started


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 20 else max(samples)


def _timed(action: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=TASKS, help=f"tasks indexed, 200 units each (default {TASKS})")
    parser.add_argument("--loads", type=int, default=LOADS, help=f"loads of each page (default {LOADS})")
    args = parser.parse_args()
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        index, events, index_s = build_index(Path(tmp) / "explorer.sqlite", args.tasks)
        units = index.query("SELECT COUNT(*) FROM units")[0][0]
        status = ExplorerStatus(started_at=time.time(), last_sync_at=time.time())
        port = free_port()
        server = serve_in_thread(
            create_app(Queries(index), IndexerMetrics(), status), "127.0.0.1", port, name="bench-explorer"
        )
        assert server.wait_started(), "the explorer did not start"
        base = f"http://127.0.0.1:{port}"
        pages = {
            "network": (lambda: "/", ["/api/network", "/api/tasks?limit=50", "/api/accounts?limit=50"]),
            "task": (lambda: f"/tasks/{rng.randint(1, args.tasks)}", None),
            "account": (lambda: f"/accounts/{rng.choice(MINERS + VERIFIERS)}", None),
        }
        rows, figures = [], {}
        try:
            with httpx.Client(base_url=base, timeout=30) as http:
                api = {
                    "network": lambda: [http.get(p).raise_for_status() for p in pages["network"][1] or []],
                    "task": lambda: http.get(f"/api/tasks/{rng.randint(1, args.tasks)}").raise_for_status(),
                    "account": lambda: http.get(f"/api/accounts/{rng.choice(MINERS + VERIFIERS)}").raise_for_status(),
                }
                api_ms = {name: _timed(call, args.loads) for name, call in api.items()}
            browser_ms = _browser_loads(base, {name: p[0] for name, p in pages.items()}, args.loads)
        finally:
            server.stop()
            index.close()
    for name in pages:
        row = [name, statistics.median(api_ms[name]), _p95(api_ms[name])]
        row += [statistics.median(browser_ms[name]), _p95(browser_ms[name])] if browser_ms else ["–", "–"]
        rows.append(row)
    print(f"indexed {events:,} events ({units:,} units, {args.tasks} tasks) in {index_s:.1f} s "
          f"({events / index_s:,.0f} events/s)")  # fmt: skip
    print_table(["page", "API median ms", "API p95 ms", "page load median ms", "page load p95 ms"], rows)
    all_api = [v for samples in api_ms.values() for v in samples]
    figures = {
        "tasks": args.tasks,
        "units": units,
        "events": events,
        "index_events_per_s": round(events / index_s),
        "api_ms_p95": round(_p95(all_api), 2),
        "page_load_ms_p95": round(_p95([v for s in browser_ms.values() for v in s]), 2) if browser_ms else None,
        "page_load_ms_p95_by_page": {k: round(_p95(v), 2) for k, v in browser_ms.items()},
        "loads_per_page": args.loads,
    }
    emit("bench_explorer", figures)


def _browser_loads(base: str, paths: dict[str, Callable[[], str]], loads: int) -> dict[str, list[float]]:
    """Per page, milliseconds from navigation until the page rendered its data, in headless Chromium."""
    import shutil

    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        print("no chromium installed (`make test` installs it): page loads not measured")
        return {}
    out: dict[str, list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(base + "/")  # warm: the browser's own start is not a page load
        page.wait_for_function("() => Number(document.body.dataset.refreshed || 0) >= 1")
        for name, path in paths.items():
            samples = []
            for _ in range(loads):
                start = time.perf_counter()
                page.goto(base + path())
                page.wait_for_function("() => Number(document.body.dataset.refreshed || 0) >= 1")
                samples.append((time.perf_counter() - start) * 1000)
            out[name] = samples
        browser.close()
    return out


if __name__ == "__main__":
    main()
