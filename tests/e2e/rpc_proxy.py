"""A JSON-RPC proxy in front of Anvil that injects faults: random delays, requests that fail before reaching
the chain, answers lost after the chain acted on the request (a sent transaction whose reply never comes back),
and outages during which every request vanishes."""

from __future__ import annotations

import random
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

from testkit.servers import serve_in_thread


class RpcProxy:
    def __init__(
        self,
        upstream: str,
        *,
        delay_probability: float = 0.0,
        max_delay_s: float = 0.0,
        error_probability: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.upstream = upstream
        self.delay_probability = delay_probability
        self.max_delay_s = max_delay_s
        self.error_probability = error_probability
        self._rng = random.Random(seed)
        self._down_until = 0.0
        self.dropped = 0
        self.forwarded = 0
        self.delayed = 0
        self.failed_before = 0
        self.lost_after = 0
        self._lock = threading.Lock()
        self.closed = threading.Event()  # set when the proxy stops: a request held back by a delay ends at once

    def _draw(self) -> tuple[float, str | None]:
        """A delay, and whether to fail the request before forwarding it, after, or not at all."""
        with self._lock:
            delay = 0.0
            if self._rng.random() < self.delay_probability:
                delay = self._rng.uniform(0.0, self.max_delay_s)
                self.delayed += 1
            roll = self._rng.random()
            if roll < self.error_probability / 2:
                self.failed_before += 1
                return delay, "before"
            if roll < self.error_probability:
                self.lost_after += 1
                return delay, "after"
            return delay, None

    def outage(self, seconds: float) -> None:
        with self._lock:
            self._down_until = time.monotonic() + seconds

    @property
    def down(self) -> bool:
        return time.monotonic() < self._down_until

    def handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if proxy.down:
                    with proxy._lock:
                        proxy.dropped += 1
                    self.close_connection = True  # the request vanishes: no answer at all
                    self.connection.shutdown(2)
                    return
                delay, fault = proxy._draw()
                # The injected latency is the fault under test (not a wait for readiness); a stopping proxy cuts it.
                if delay and proxy.closed.wait(delay):
                    self._unavailable()
                    return
                if fault == "before":
                    self._unavailable()
                    return
                request = urllib.request.Request(
                    proxy.upstream, data=body, headers={"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(request, timeout=30) as response:
                    payload = response.read()
                with proxy._lock:
                    proxy.forwarded += 1
                if fault == "after":  # the chain acted; the caller never learns it
                    self._unavailable()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _unavailable(self) -> None:
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@contextmanager
def rpc_proxy(upstream: str, **faults: float) -> Iterator[tuple[str, RpcProxy]]:
    proxy = RpcProxy(upstream, **faults)  # type: ignore[arg-type]
    with serve_in_thread(proxy.handler()) as url:
        try:
            yield url, proxy
        finally:
            proxy.closed.set()
