from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from explorer.app import ExplorerStatus, LiveFigures, create_app
from explorer.index import Index
from explorer.indexer import IndexerMetrics
from explorer.queries import Queries
from node.errors import ChainUnreachable
from node.store.cid import to_cid
from tests.unit.explorer.events import MINER, as_chain, lifecycle


def _client(queries: Queries, *, live: LiveFigures | None = None, synced: bool = True) -> TestClient:
    status = ExplorerStatus(started_at=time.time(), last_sync_at=time.time() if synced else None)
    return TestClient(create_app(queries, IndexerMetrics(), status, live))


def _indexed(tmp_path: Path) -> Queries:
    events, blocks = as_chain(lifecycle())
    index = Index.open(tmp_path / "x.sqlite", "31337:g:0xm:1")
    index.append(events, blocks, [], blocks[max(blocks)])
    return Queries(index)


def test_before_the_chain_answered_the_api_says_so_with_503(tmp_path: Path) -> None:
    client = _client(Queries(None), synced=False)
    refused = client.get("/api/tasks")
    assert refused.status_code == 503
    assert "not reached the chain" in refused.json()["detail"]
    health = client.get("/health")
    assert health.status_code == 503
    assert health.json()["status"] == "behind"
    assert client.get("/").status_code == 200, "the page itself loads, and says what is missing"


def test_the_json_api_answers_from_the_index(tmp_path: Path) -> None:
    client = _client(_indexed(tmp_path))
    task = client.get("/api/tasks/1").json()
    assert (task["status"], task["escrow"]) == ("completed", "0")
    assert client.get("/api/tasks/2").status_code == 404
    assert client.get("/api/tasks", params={"status": "nonsense"}).status_code == 422
    assert [t["task_id"] for t in client.get("/api/tasks", params={"status": "completed"}).json()] == [1]
    unit = client.get("/api/tasks/1/rounds/0/units/0").json()
    assert unit["status"] == "accepted"
    assert client.get("/api/tasks/1/rounds/5/units/0").status_code == 404
    account = client.get(f"/api/accounts/{MINER.upper().replace('0X', '0x')}").json()
    assert account["address"] == MINER
    assert account["stake"] is None, "no chain to ask: said, not invented"
    assert "/api/tasks/{task_id}" in client.get("/openapi.json").json()["paths"]


def test_figures_only_the_chain_knows_say_why_they_are_missing(tmp_path: Path) -> None:
    def away(*_: object) -> dict[str, str]:
        raise ChainUnreachable("http://127.0.0.1:1", "connection refused")

    client = _client(_indexed(tmp_path), live=LiveFigures(stake_of=away, solvency=away))
    assert "did not answer" in client.get("/api/network").json()["solvency"]["error"]
    assert "did not answer" in client.get(f"/api/accounts/{MINER}").json()["stake"]["error"]


def test_pages_assets_and_metrics_are_served(tmp_path: Path) -> None:
    client = _client(_indexed(tmp_path))
    for path in ("/", "/tasks/1", f"/accounts/{MINER}"):
        page = client.get(path)
        assert page.status_code == 200
        assert '<script src="/static/explorer.js">' in page.text
    script = client.get("/static/explorer.js")
    assert script.status_code == 200
    assert script.headers["cache-control"] == "public, max-age=60"
    vendor = client.get("/static/vendor/uPlot.iife.min.js")
    assert vendor.status_code == 200, "uPlot from npm is served locally"
    assert vendor.headers["cache-control"] == "public, max-age=86400"
    assert "dmlnet_explorer_indexed_block" in client.get("/metrics").text


def test_artifacts_are_linked_to_the_store_by_cid(tmp_path: Path) -> None:
    queries = _indexed(tmp_path)
    status = ExplorerStatus(started_at=time.time(), last_sync_at=time.time())
    with_store = TestClient(
        create_app(queries, IndexerMetrics(), status, store_url=lambda: "http://store:8700"), follow_redirects=False
    )
    digest = "0x" + "ab" * 32
    found = with_store.get(f"/artifacts/{digest}")
    assert found.status_code == 307
    assert found.headers["location"] == f"http://store:8700/ipfs/{to_cid(bytes.fromhex('ab' * 32))}"
    assert with_store.get("/artifacts/not-a-cid").status_code == 400
    assert _client(queries).get(f"/artifacts/{digest}").status_code == 404, "no store known: said so"
