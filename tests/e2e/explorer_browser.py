"""A running explorer over a test chain, and a headless Debian Chromium driven by Playwright to look at it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from explorer.service import ExplorerService, Target
from node.chain.devnet import free_port
from testkit.chain import Chain


@dataclass(frozen=True, slots=True)
class RunningExplorer:
    url: str
    service: ExplorerService


@contextmanager
def running_explorer(chain: Chain, data_dir: Path, store_url: str, *, poll_ms: int = 400) -> Iterator[RunningExplorer]:
    service = ExplorerService(
        lambda: Target(chain.rpc_url, chain.deployment, (store_url,)), data_dir, poll_interval_s=0.2
    )
    with service.serving("127.0.0.1", free_port(), poll_ms=poll_ms) as url:
        yield RunningExplorer(url, service)


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
