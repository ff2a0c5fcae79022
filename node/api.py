"""A node's HTTP API: ``/health``, ``/status``, ``/metrics`` (Prometheus); OpenAPI schema at ``/openapi.json``.
Off unless a port is configured; served from a background thread (async stays inside the HTTP layer)."""

from __future__ import annotations

import time

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from node.daemon import Daemon
from node.http_server import BackgroundServer, serve_in_thread
from node.state import VoteStatus, WorkStatus


class Health(BaseModel):
    # ok; retrying (the last cycle failed, the loop goes on); stalled (HTTP 503: no cycle completed within
    # health_stall_s, e.g. the chain has been gone that long, or a step hangs).
    status: str
    last_cycle_error: str | None
    seconds_since_cycle: float  # since the last good cycle's pulse
    last_good_block: int  # the block the last good cycle read the chain at
    last_cycle_s: float  # how long that cycle took
    cycle_budget_s: float
    cycles_cut: int  # cycles whose budget ran out before every role was reached


class Status(BaseModel):
    health: str  # as /health says: ok, retrying, stalled
    last_cycle_error: str | None
    seconds_since_cycle: float
    roles: list[str]
    address: str
    stake_wei: int
    locked_wei: int
    credit_wei: int
    work_in_flight: int
    votes_open: int
    last_block: int  # the head at the last cycle
    view_block: int  # the block the roles acted on (under the head with --confirmations)
    confirmations: str  # how that block is chosen, e.g. "0 blocks under the head (local devnet)"
    cycles: int
    uptime_s: float
    # Tasks this node will not work on, with why (a bad spec, a model that does not fit the data).
    tasks_set_aside: dict[int, str]
    # Tasks whose spec or data the store has not served yet, with the last fault; tried again with backoff.
    tasks_waiting_for_store: dict[int, str]
    # Tasks this miner does not claim on: one of its results was rejected and fails its own check too.
    tasks_not_claimed: dict[int, str]


def create_app(daemon: Daemon) -> FastAPI:
    app = FastAPI(title="dmlnet node", version="1", docs_url=None, redoc_url=None)  # schema: /openapi.json

    def pulse() -> tuple[str, float]:
        """How the node is (ok, retrying, stalled) and the seconds since its last good cycle."""
        st = daemon.status
        age = time.time() - (st.last_cycle_at or st.started_at)
        if age > daemon.s.settings.health_stall_s:
            return "stalled", age
        return ("ok" if st.last_error is None else "retrying"), age

    @app.get("/health", response_model=Health, responses={503: {"model": Health}})
    def health(response: Response) -> Health:
        st = daemon.status
        said, age = pulse()
        if said == "stalled":
            response.status_code = 503
        return Health(
            status=said,
            last_cycle_error=st.last_error,
            seconds_since_cycle=age,
            last_good_block=st.last_block,
            last_cycle_s=st.last_cycle_s,
            cycle_budget_s=daemon.s.settings.cycle_budget_s,
            cycles_cut=st.cycles_cut,
        )

    @app.get("/status", response_model=Status)
    def status() -> Status:
        s = daemon.s
        stake = s.market.stake_of(s.address)
        said, age = pulse()
        return Status(
            health=said,
            last_cycle_error=daemon.status.last_error,
            seconds_since_cycle=age,
            roles=daemon.status.roles,
            address=s.address,
            stake_wei=stake.total,
            locked_wei=stake.locked,
            credit_wei=s.market.credit_of(s.address),
            work_in_flight=s.state.count_work(WorkStatus.CLAIMED) + s.state.count_work(WorkStatus.PUBLISHED),
            votes_open=s.state.count_votes(VoteStatus.STORED) + s.state.count_votes(VoteStatus.COMMITTED),
            last_block=daemon.status.last_block,
            view_block=daemon.status.view_block,
            confirmations=s.confirmations.describe(),
            cycles=daemon.status.cycles,
            uptime_s=time.time() - daemon.status.started_at,
            tasks_set_aside=dict(s.materials.unusable),
            tasks_waiting_for_store={task: fault.error for task, fault in s.materials.deferred.items()},
            tasks_not_claimed=dict(s.claims_paused),
        )

    @app.get("/metrics", response_class=Response)
    def metrics() -> Response:
        return Response(generate_latest(daemon.s.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def serve_in_background(daemon: Daemon, host: str, port: int) -> BackgroundServer:
    return serve_in_thread(create_app(daemon), host, port, name="node-api")
