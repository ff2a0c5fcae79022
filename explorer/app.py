"""The explorer's HTTP side: JSON endpoints under ``/api`` (their schema at ``/openapi.json``), ``/health`` and the
indexer's Prometheus ``/metrics``. Every answer comes from the index, except the figures only the chain knows now
(an account's stake, the contract's balance against what it owes), read through ``live``."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from explorer import noscript
from explorer.audits import AuditRunner
from explorer.indexer import IndexerMetrics
from explorer.queries import NotIndexed, Page, Queries
from node.chain.rpc import TRANSPORT
from node.errors import DmlnetError
from node.store.cid import normalize
from node.store.errors import InvalidCid


@dataclass(frozen=True, slots=True)
class LiveFigures:
    """Reads of the chain's current state; each may raise when the chain is away (answered 503)."""

    stake_of: Callable[[str], dict[str, str]]
    solvency: Callable[[], dict[str, str]]


@dataclass
class ExplorerStatus:
    started_at: float
    last_sync_at: float | None = None
    last_error: str | None = None
    head: int | None = None


class Health(BaseModel):
    status: str  # ok; behind (no sync for stall_s); error (the last sync failed)
    indexed_block: int | None
    head: int | None
    seconds_since_sync: float | None
    last_error: str | None


HERE = Path(__file__).parent
# uPlot, installed by npm (package.json): beside the package, in the checkout it runs from, or in the working
# directory (the container image installs the package and keeps node_modules in its WORKDIR).
VENDOR_IN = (HERE / "static" / "vendor", HERE.parent / "node_modules" / "uplot" / "dist")


def vendor_dir() -> Path | None:
    candidates = (*VENDOR_IN, Path.cwd() / "node_modules" / "uplot" / "dist")
    return next((d for d in candidates if (d / "uPlot.iife.min.js").is_file()), None)


def create_app(
    queries: Queries,
    metrics: IndexerMetrics,
    status: ExplorerStatus,
    live: LiveFigures | None = None,
    audits: AuditRunner | None = None,
    store_url: Callable[[], str | None] = lambda: None,
    *,
    stall_s: float = 60.0,
    poll_ms: int = 2_000,
) -> FastAPI:
    # No /docs: FastAPI's Swagger page loads its script from a CDN; the schema itself is at /openapi.json.
    app = FastAPI(
        title="dmlnet explorer",
        version="1",
        description="Tasks, units, votes, nodes and money.",
        docs_url=None,
        redoc_url=None,
    )
    shell = (HERE / "pages" / "shell.html").read_text().replace("{poll_ms}", str(poll_ms))

    @app.middleware("http")
    async def cache_static(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Static assets are cached by the browser: a page load then costs its JSON only. A pinned library for a
        day, our own scripts for a minute (a new version shows up soon after an upgrade)."""
        response = await call_next(request)
        path = request.url.path
        if path.startswith("/static/vendor/"):
            response.headers["Cache-Control"] = "public, max-age=86400"
        elif path.startswith("/static/"):
            response.headers["Cache-Control"] = "public, max-age=60"
        return response

    if audits is not None:
        audits.directory.mkdir(parents=True, exist_ok=True)
        app.mount("/audits", StaticFiles(directory=audits.directory), name="audits")
    vendor = vendor_dir()
    if vendor is not None:
        app.mount("/static/vendor", StaticFiles(directory=vendor), name="vendor")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def page(summary: str) -> HTMLResponse:
        """Every page is the same shell: its script reads the path and renders from the JSON API; without
        JavaScript, the page's key figures show (``summary``, rendered here from the same queries)."""
        return HTMLResponse(shell.replace("{noscript}", summary))

    def first_render(render: Callable[[], str]) -> str:
        try:
            return render()
        except NotIndexed as err:
            return noscript.missing(f"not indexed yet: {err}")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def network_page() -> HTMLResponse:
        return page(first_render(lambda: noscript.network(queries.network(window_s=3_600))))

    @app.get("/tasks/{task_id}", response_class=HTMLResponse, include_in_schema=False)
    def task_page(task_id: int) -> HTMLResponse:
        def render() -> str:
            found = queries.task(task_id)
            return noscript.missing(f"no task {task_id} indexed") if found is None else noscript.task(found)

        return page(first_render(render))

    @app.get("/tasks/{task_id}/rounds/{round_}/units/{index}", response_class=HTMLResponse, include_in_schema=False)
    def unit_page(task_id: int, round_: int, index: int) -> HTMLResponse:
        """A unit's own page (a link to it): the task page with the unit's details open."""

        def render() -> str:
            found = queries.task(task_id)
            units = None if found is None else int(found["units_per_round"])
            return noscript.unit(task_id, round_, index, queries.unit(task_id, round_, index), units)

        return page(first_render(render))

    @app.get("/accounts/{address}", response_class=HTMLResponse, include_in_schema=False)
    def account_page(address: str) -> HTMLResponse:
        def render() -> str:
            found = queries.account(address)
            return noscript.missing(f"no account {address} indexed") if found is None else noscript.account(found)

        return page(first_render(render))

    @app.exception_handler(NotIndexed)
    def not_indexed(_: Request, err: NotIndexed) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=503)

    @app.get("/health", response_model=Health, responses={503: {"model": Health}})
    def health(response: Response) -> Health:
        age = None if status.last_sync_at is None else time.time() - status.last_sync_at
        state = "ok"
        if status.last_error is not None:
            state = "error"
        if age is None or age > stall_s:
            state = "behind"
            response.status_code = 503
        index = queries.index
        return Health(
            status=state,
            indexed_block=None if index is None else index.cursor,
            head=status.head,
            seconds_since_sync=age,
            last_error=status.last_error,
        )

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/network")
    def network(window_s: int = Query(3_600, ge=60, le=30 * 86_400)) -> dict[str, Any]:
        """Tasks by status, nodes by role, throughput and gas over time; the contract's solvency when the chain
        answers."""
        body = queries.network(window_s=window_s)
        body["solvency"] = _live(live.solvency) if live is not None else None
        return body

    @app.get("/api/tasks")
    def tasks(
        status_: str | None = Query(None, alias="status", pattern="^(active|completed|cancelled)$"),
        limit: int = Query(50, ge=1, le=500),
        offset: int = Query(0, ge=0),
    ) -> list[dict[str, Any]]:
        return queries.tasks(status=status_, page=Page(limit, offset))

    @app.get("/api/tasks/{task_id}")
    def task(task_id: int) -> dict[str, Any]:
        found = queries.task(task_id)
        if found is None:
            raise HTTPException(404, f"no task {task_id} indexed")
        return found

    @app.get("/api/tasks/{task_id}/rounds/{round_}/units/{index}")
    def unit(task_id: int, round_: int, index: int) -> dict[str, Any]:
        found = queries.unit(task_id, round_, index)
        if found is None:
            raise HTTPException(404, f"task {task_id} round {round_} unit {index} has no event indexed")
        return found

    @app.get("/api/tasks/{task_id}/audit")
    def audit_state(task_id: int) -> dict[str, Any]:
        """The task's last audit from this explorer: running, passed, failed (with findings), or none yet."""
        found = audits.state(task_id) if audits is not None else None
        return {"task_id": task_id, "state": "none"} if found is None else asdict(found)

    @app.post("/api/tasks/{task_id}/audit", status_code=202)
    def audit_start(task_id: int) -> dict[str, Any]:
        """Runs `dml audit` on the task (events, artifacts, a sample of units re-executed, the money summed)."""
        if queries.task(task_id) is None:
            raise HTTPException(404, f"no task {task_id} indexed")
        if audits is None:
            raise HTTPException(501, "this explorer runs no audits (no store to read artifacts from)")
        try:
            return asdict(audits.start(task_id))
        except RuntimeError as err:
            raise HTTPException(503, str(err)) from err

    @app.get("/artifacts/{ref}", include_in_schema=False)
    def artifact(ref: str) -> RedirectResponse:
        """An artifact by CID (or hex digest): the store's copy, which whoever reads it re-hashes."""
        try:
            cid = normalize(ref)
        except InvalidCid as err:
            raise HTTPException(400, str(err)) from err
        store = store_url()
        if store is None:
            raise HTTPException(404, "this explorer knows no store to fetch artifacts from (--store)")
        return RedirectResponse(f"{store.rstrip('/')}/ipfs/{cid}", status_code=307)

    @app.get("/api/accounts")
    def accounts(limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0)) -> list[dict[str, Any]]:
        return queries.accounts(page=Page(limit, offset))

    @app.get("/api/accounts/{address}")
    def account(address: str) -> dict[str, Any]:
        found = queries.account(address)
        if found is None:
            raise HTTPException(404, f"no account {address} indexed")
        found["stake"] = _live(lambda: live.stake_of(found["address"])) if live is not None else None
        return found

    return app


def _live(read: Callable[[], dict[str, str]]) -> dict[str, str]:
    """A figure only the chain knows now; when it does not answer, the indexed figures still do and this one
    says why it is missing."""
    try:
        return read()
    except (DmlnetError, *TRANSPORT) as err:
        return {"error": f"the chain did not answer: {err}"}
