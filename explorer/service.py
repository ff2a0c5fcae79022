"""The explorer as a process: an indexing loop on a thread and the web app on uvicorn.

Where the chain is, is asked again (``resolve``) each time the loop connects: a devnet restarted under the same
folder writes a new deployment file, and a new chain is detected by its identity, its index moved aside.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.app import ExplorerStatus, LiveFigures
from explorer.audits import AuditRunner
from explorer.index import Index
from explorer.indexer import Indexer, IndexerMetrics
from explorer.queries import Queries
from node.chain.confirmations import check_setting, for_chain
from node.chain.deployment import Deployment
from node.errors import ChainReplaced, ConfigError, DmlnetError
from node.retry import RetryPolicy

if TYPE_CHECKING:
    from fastapi import FastAPI

    from explorer.accuracy import AccuracyTracker
    from explorer.rejections import RejectionExplainer
    from node.audit.audit import AuditReport
    from node.chain.contract import TaskMarket
    from node.chain.views import MarketViews
    from node.store.client import StoreClient

log = logging.getLogger(__name__)

# Between failed passes (chain away, store away): from half a second, doubling, up to ten.
SYNC_RETRY = RetryPolicy(attempts=None, base_delay_s=0.5, max_delay_s=10.0)
INDEX_FILE = "explorer.sqlite"


@dataclass(frozen=True, slots=True)
class Target:
    """Where the explorer reads: the chain, the deployment on it, and the store holding the tasks' artifacts (none:
    no accuracy figures)."""

    rpc_url: str
    deployment: Deployment
    store: tuple[str, ...] = ()


class ExplorerService:
    def __init__(
        self,
        resolve: Callable[[], Target],
        data_dir: Path,
        *,
        poll_interval_s: float = 1.0,
        confirmations: str = "auto",
        batch_blocks: int = 2_000,
    ) -> None:
        self._resolve = resolve
        self.db_path = data_dir / INDEX_FILE
        self._poll = poll_interval_s
        self._confirmations = check_setting(confirmations)  # resolved against each chain it connects to
        self._batch = batch_blocks
        self.metrics = IndexerMetrics()
        self.status = ExplorerStatus(started_at=time.time())
        self.queries = Queries(None)
        self.live = LiveFigures(stake_of=self._stake_of, solvency=self._solvency)
        self.audits = AuditRunner(data_dir / "audits")
        self._indexer: Indexer | None = None
        self._accuracy: AccuracyTracker | None = None
        self._rejections: RejectionExplainer | None = None
        self._store_url: str | None = None
        self._views: MarketViews | None = None
        self._rng = random.Random()

    # ---------------------------------------------------------------------------------------------- the loop

    def run(self, stop: threading.Event) -> None:
        """Indexes until ``stop`` is set; a pass that fails is retried with backoff, said once per outage."""
        failures = 0
        while not stop.is_set():
            try:
                caught_up = self.sync_once()
            except ChainReplaced as err:
                log.warning("the chain was replaced: indexing the new one", extra={"reason": str(err)})
                self._indexer = None
                continue
            except Exception as err:  # the loop's boundary: a pass failed, the next one tries again
                failures += 1
                self._indexer = None
                self.status.last_error = f"{type(err).__name__}: {err}"
                self.metrics.sync_errors.inc()
                if failures == 1:
                    log.warning("indexing paused, retrying", extra={"error": self.status.last_error})
                stop.wait(SYNC_RETRY.delay(failures, self._rng))
                continue
            if failures:
                log.info("indexing again", extra={"after_failures": failures})
            failures = 0
            self.status.last_error = None
            if caught_up:
                stop.wait(self._poll)

    def sync_once(self) -> bool:
        """One pass; returns whether the index reached the head."""
        if self._indexer is None:
            self._connect()
        assert self._indexer is not None
        result = self._indexer.sync()
        self.status.last_sync_at = time.time()
        self.status.head = result.head
        return result.caught_up

    def evaluate(self, stop: threading.Event) -> None:
        """Accuracy figures and why rejected results were rejected, on their own thread: an evaluation (a task's
        baseline trains for seconds, an explanation re-executes a unit) never holds the index back, and the pages
        stay live meanwhile."""
        while not stop.is_set():
            tracker, explainer = self._accuracy, self._rejections
            done = 0
            if tracker is not None and explainer is not None:
                try:
                    done = tracker.evaluate_pending() + explainer.explain_pending()
                except Exception as err:  # the loop's boundary (an index swapped under it, a store fault)
                    log.warning("accuracy evaluation failed, retrying", extra={"error": f"{type(err).__name__}: {err}"})
            if not done:
                stop.wait(self._poll)

    def close(self) -> None:
        self.queries.use(None)

    def app(self, *, poll_ms: int = 2_000) -> FastAPI:
        from explorer.app import create_app

        return create_app(
            self.queries, self.metrics, self.status, self.live, self.audits, lambda: self._store_url, poll_ms=poll_ms
        )

    @contextmanager
    def serving(self, host: str, port: int, *, poll_ms: int = 2_000) -> Iterator[str]:
        """Serves the app and runs the indexing loop on threads until the block exits; yields the URL."""
        from node.http_server import serve_in_thread

        server = serve_in_thread(self.app(poll_ms=poll_ms), host, port, name="explorer")
        stop = threading.Event()
        threads = [
            threading.Thread(target=self.run, args=(stop,), name="explorer-indexer", daemon=True),
            threading.Thread(target=self.evaluate, args=(stop,), name="explorer-accuracy", daemon=True),
        ]
        try:
            if not server.wait_started():
                raise ConfigError(f"the explorer could not serve on {host}:{port}: is the port taken? (--port)")
            for thread in threads:
                thread.start()
            yield f"http://{host}:{port}"
        finally:
            stop.set()
            for thread in threads:
                if thread.ident is not None:
                    thread.join(60)
            server.stop()
            self.close()

    def _connect(self) -> None:
        from node.chain.build import load_artifact
        from node.chain.jsonrpc import JsonRpc
        from node.chain.rpc import connect
        from node.chain.views import RpcViews

        target = self._resolve()
        rpc_url, deployment = target.rpc_url, target.deployment
        artifact = load_artifact()
        w3 = connect(rpc_url, expected_chain_id=deployment.chain_id)
        deployment.check(w3, artifact)
        identity = deployment.identity(w3)
        current = self.queries.index
        if current is None or current.get_meta("chain") != identity:
            self.queries.use(None)
            if current is not None:
                current.close()
            self.queries.use(Index.open(self.db_path, identity))
        index = self.queries.index
        assert index is not None
        self._views = RpcViews(JsonRpc(rpc_url), deployment.address, artifact.abi)
        self._indexer = Indexer(
            w3,
            deployment.address,
            artifact.abi,
            index,
            start_block=deployment.block_number,
            identity=lambda: deployment.identity(w3),
            confirmations=for_chain(w3, self._confirmations),
            batch_blocks=self._batch,
            metrics=self.metrics,
        )
        self._accuracy = None
        self._rejections = None
        self.audits.use(None)
        self._store_url = next((s for s in target.store if s.startswith(("http://", "https://"))), None)
        if target.store:
            from explorer.accuracy import AccuracyTracker
            from explorer.rejections import RejectionExplainer
            from node.audit.rejections import explain_rejections
            from node.chain.contract import TaskMarket
            from node.store.client import StoreClient

            store = StoreClient.from_endpoints(list(target.store))
            self._accuracy = AccuracyTracker(index, store.get)
            market = TaskMarket(w3, deployment.address, artifact)
            self._rejections = RejectionExplainer(
                index,
                lambda task_id, known: explain_rejections(
                    market, store, task_id, from_block=deployment.block_number, skip=known
                ),
            )
            self.audits.use(lambda task_id: _audit(market, store, task_id, deployment.block_number))
        log.info("indexing", extra={"rpc": rpc_url, "contract": deployment.address, "from": index.cursor})

    # ---------------------------------------------------------------------------------------------- live figures

    def _connected_views(self) -> MarketViews:
        if self._views is None:
            raise DmlnetError("not connected to the chain yet")
        return self._views

    def _stake_of(self, address: str) -> dict[str, str]:
        views = self._connected_views()
        stake = views.stake_of(address)
        return {
            "total": str(stake.total),
            "locked": str(stake.locked),
            "unbonding": str(stake.unbonding),
            "free": str(stake.free),
            "pool_weight": str(stake.pool_weight),
            "verifying": str(stake.verifying).lower(),
            "credit": str(views.credit_of(address)),
        }

    def _solvency(self) -> dict[str, str]:
        views = self._connected_views()
        balance, owed = views.balance(), views.total_owed()
        return {"balance": str(balance), "total_owed": str(owed), "surplus": str(balance - owed)}


def _audit(market: TaskMarket, store: StoreClient, task_id: int, from_block: int) -> AuditReport:
    from node.audit.audit import audit_task

    return audit_task(market, store, task_id, from_block=from_block)
