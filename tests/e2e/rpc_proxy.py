"""A JSON-RPC proxy in front of Anvil that can drop every request for a while (an RPC outage)."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class RpcProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self._down_until = 0.0
        self.dropped = 0
        self.forwarded = 0
        self._lock = threading.Lock()

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
                request = urllib.request.Request(
                    proxy.upstream, data=body, headers={"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(request, timeout=30) as response:
                    payload = response.read()
                with proxy._lock:
                    proxy.forwarded += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@contextmanager
def rpc_proxy(upstream: str) -> Iterator[tuple[str, RpcProxy]]:
    proxy = RpcProxy(upstream)
    server = ThreadingHTTPServer(("127.0.0.1", 0), proxy.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", proxy
    finally:
        server.shutdown()
        server.server_close()
