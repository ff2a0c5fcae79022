"""A store replica that serves tampered bytes: it forwards every request to a real store server, then flips a
byte of every object it returns. Readers must notice (the digest does not match) and fall through to the next
replica."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

import httpx

from testkit.servers import serve_in_thread


@contextmanager
def tampering_replica(upstream: str) -> Iterator[tuple[str, dict[str, int]]]:
    counts = {"tampered": 0, "forwarded": 0}
    lock = threading.Lock()
    client = httpx.Client(timeout=60)  # shared: thread-safe, and keeps connections to the upstream open

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            response = client.request(self.command, f"{upstream}{self.path}", content=body, headers=headers)
            payload = response.content
            tamper = self.command == "GET" and self.path.startswith("/ipfs/") and response.status_code == 200
            if tamper and payload:
                payload = bytes([payload[0] ^ 0x01]) + payload[1:]
            with lock:
                counts["tampered" if tamper else "forwarded"] += 1
            self.send_response(response.status_code)
            for key, value in response.headers.items():
                if key.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                    self.send_header(key, value)
            head_length = response.headers.get("content-length", "0")
            self.send_header("Content-Length", head_length if self.command == "HEAD" else str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def do_GET(self) -> None:
            self._forward()

        def do_PUT(self) -> None:
            self._forward()

        def do_POST(self) -> None:
            self._forward()

        def do_HEAD(self) -> None:
            self._forward()

        def log_message(self, *args: object) -> None:
            pass

    try:
        with serve_in_thread(Handler) as url:
            yield url, counts
    finally:
        client.close()
