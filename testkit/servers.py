"""Real HTTP servers for store tests: the store server as a subprocess, and a replica that lies."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from node.chain.devnet import free_port
from node.children import stop_child
from testkit.polling import wait_until


def wait_healthy(url: str, deadline_s: float = 20.0, process: subprocess.Popen[bytes] | None = None) -> None:
    def healthy() -> bool:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"store server exited with {process.returncode}")
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(healthy, timeout_s=deadline_s, what=f"{url} to be healthy", interval_s=0.05)


@contextmanager
def store_server(
    directory: Path, *, max_bytes: int | None = None, token: str | None = None, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = port or free_port()
    cmd = [sys.executable, "-m", "client.cli", "store", "serve", "--dir", str(directory), "--port", str(port)]
    env = None
    if max_bytes is not None:
        cmd += ["--max-bytes", str(max_bytes)]
    if token is not None:
        import os

        env = {**os.environ, "STORE_TOKEN": token}
        cmd += ["--token-env", "STORE_TOKEN"]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process=process)
        yield url, process
    finally:
        stop_child(process)


@contextmanager
def lying_replica(objects: dict[str, bytes], mode: str) -> Iterator[str]:
    """Serves GET /ipfs/{cid} with the object's bytes altered: ``flip`` one bit, ``truncate`` the tail
    (announcing the true length and closing early), ``short`` (announcing the short length), or ``error``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            cid = self.path.split("?", 1)[0].rsplit("/", 1)[-1]
            data = objects.get(cid)
            if data is None:
                self.send_response(404)
                self.end_headers()
                return
            if mode == "error":
                self.send_response(500)
                self.end_headers()
                return
            body = data
            length = len(data)
            if mode == "flip":
                body = bytes([data[0] ^ 0x01]) + data[1:]
            elif mode == "truncate":
                body = data[: len(data) // 2]
            elif mode == "short":
                body = data[: len(data) // 2]
                length = len(body)
            self.send_response(200)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)
            if mode == "truncate":
                self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    with serve_in_thread(Handler) as url:
        yield url


@contextmanager
def serve_in_thread(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """An HTTP server on a free loopback port, served by a background thread; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
