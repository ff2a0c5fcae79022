"""A running explorer over a test chain, and a headless Debian Chromium driven by Playwright to look at it."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from explorer.app import create_app
from explorer.service import ExplorerService, Target
from node.chain.devnet import free_port
from node.http_server import serve_in_thread
from tests.conftest import Chain


@dataclass(frozen=True, slots=True)
class RunningExplorer:
    url: str
    service: ExplorerService


@contextmanager
def running_explorer(chain: Chain, data_dir: Path, store_url: str, *, poll_ms: int = 400) -> Iterator[RunningExplorer]:
    service = ExplorerService(
        lambda: Target(chain.rpc_url, chain.deployment, (store_url,)), data_dir, poll_interval_s=0.2
    )
    port = free_port()
    server = serve_in_thread(
        create_app(service.queries, service.metrics, service.status, service.live, poll_ms=poll_ms),
        "127.0.0.1",
        port,
        name="explorer",
    )
    stop = threading.Event()
    indexing = threading.Thread(target=service.run, args=(stop,), name="explorer-indexer", daemon=True)
    try:
        assert server.wait_started(), "the explorer did not start serving"
        indexing.start()
        yield RunningExplorer(f"http://127.0.0.1:{port}", service)
    finally:
        stop.set()
        if indexing.ident is not None:
            indexing.join(30)
        server.stop()
        service.close()


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Debian's chromium is not installed (`make test` installs it)"
    return found


@contextmanager
def headless_chromium() -> Iterator[Browser]:
    """Debian's Chromium (Playwright's own download fails here), sandboxless as root in CI."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
